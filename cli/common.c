/* common.c - helpers shared by the subcommands: messages, flags, opening the database and
 * loading the model. */
#include <cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("elmo embed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_flag_value(int argc, char **argv, int *i, const char *name, const char **value) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value (see elmo embed --help)", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_exit_for(int rc) {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return EXIT_LOCKED;
    case SQLITE_FULL: return EXIT_FULL;
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_READONLY: return EXIT_INPUT;
    default: return EXIT_ERROR;
    }
}

int cli_open(const char *path, int busy_ms, sqlite3 **db) {
    struct stat st;
    if (strcmp(path, ":memory:") != 0 && stat(path, &st) != 0) {
        cli_error("cannot open database '%s': no such file; give the path of an existing "
                  "SQLite database",
                  path);
        return EXIT_INPUT;
    }
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        cli_error("cannot open database '%s': %s", path,
                  *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        return EXIT_INPUT;
    }
    sqlite3_busy_timeout(*db, busy_ms);
    sqlite3_extended_result_codes(*db, 1);
    /* SQLite opens lazily: read the schema now, so that a file that is not a database is
     * reported as such rather than as a missing table. */
    rc = sqlite3_exec(*db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int code = cli_exit_for(rc);
        cli_error("cannot open database '%s': %s", path, sqlite3_errmsg(*db));
        return code == EXIT_ERROR ? EXIT_INPUT : code;
    }
    return EXIT_DONE;
}

/* Runs `sql` with up to two text parameters, stepping once; on failure prints the
 * extension's message, translated for the program's user, after `what`. */
static int probe(sqlite3 *db, const char *sql, const char *a, const char *b, const char *what) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        const char *args[] = {a, b};
        for (int k = 0; k < 2 && k < sqlite3_bind_parameter_count(st); k++)
            sqlite3_bind_text(st, k + 1, args[k], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        static const char cannot_load[] = "cannot load model 'default': ";
        char *msg = cli_message(sqlite3_errmsg(db), NULL);
        const char *shown = msg;
        if (shown && strncmp(shown, cannot_load, sizeof cannot_load - 1) == 0)
            shown += sizeof cannot_load - 1;
        cli_error("%s%s", what ? what : "", shown ? shown : "out of memory");
        sqlite3_free(msg);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Whether `path` exists; else prints why, naming the variable it came from. */
static int exists(const char *var, const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    cli_error("%s is '%s', which does not exist; set it to a model (a .safetensors file or a "
              "directory with options.json and weights.hdf5), or give --model PATH",
              var, path);
    return 0;
}

/* The load options JSON: the precision ("auto" in elmo_load: fp32, or bf16 for a bf16
 * file), and the language-model head's files when given (cJSON_free). */
static char *load_options(const char *precision, const char *softmax, const char *vocab) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "precision", precision ? precision : "auto") &&
             (!softmax || cJSON_AddStringToObject(o, "softmax", softmax)) &&
             (!vocab || cJSON_AddStringToObject(o, "vocab", vocab));
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

int cli_load_model(sqlite3 *db, const cli_model *m, const char *probe_sql, const char *options) {
    const char *env_model = getenv("ELMO_MODEL"), *env_options = getenv("ELMO_OPTIONS"),
               *env_weights = getenv("ELMO_WEIGHTS"), *precision = m->precision;
    if (precision && strcmp(precision, "auto") == 0) precision = cli_precision_auto();
    /* Any model elmo_load reads: a .safetensors file, an AllenNLP directory, a TF-Hub
     * module or checkpoint; the load options carry the precision and the head. */
    char *load = load_options(precision, m->softmax, m->vocab);
    char *what = NULL;
    int rc;
    if (!load) {
        cli_error("out of memory");
        rc = SQLITE_NOMEM;
    } else if (m->model) {
        what = sqlite3_mprintf("cannot load --model '%s': ", m->model);
        rc = probe(db, "SELECT elmo_load('default', ?1, ?2)", m->model, load, what);
    } else if (env_model && *env_model) {
        what = sqlite3_mprintf("cannot load ELMO_MODEL='%s': ", env_model);
        rc = exists("ELMO_MODEL", env_model)
                 ? probe(db, "SELECT elmo_load('default', ?1, ?2)", env_model, load, what)
                 : SQLITE_ERROR;
    } else if (env_options && *env_options && env_weights && *env_weights) {
        what = sqlite3_mprintf("cannot load ELMO_OPTIONS='%s' + ELMO_WEIGHTS='%s': ", env_options,
                               env_weights);
        char *sql = sqlite3_mprintf("SELECT elmo_load('default', ?1, %Q, %Q)", env_weights, load);
        rc = exists("ELMO_OPTIONS", env_options) && exists("ELMO_WEIGHTS", env_weights)
                 ? probe(db, sql, env_options, NULL, what)
                 : SQLITE_ERROR;
        sqlite3_free(sql);
    } else {
        cli_error("no model: give --model PATH (a .safetensors file, or a directory with "
                  "options.json and weights.hdf5), or set ELMO_MODEL to one");
        rc = SQLITE_ERROR;
    }
    cJSON_free(load);
    sqlite3_free(what);
    if (rc != SQLITE_OK) return EXIT_MODEL;
    /* Checks the model on a probe text (a perplexity needs a head), then the options. */
    if (probe(db, probe_sql, NULL, NULL, NULL) != SQLITE_OK ||
        (options && probe(db, probe_sql, options, NULL, "--options: ") != SQLITE_OK))
        return EXIT_MODEL;
    return EXIT_DONE;
}

int cli_parse_number(const char *flag, const char *value, long long lo, long long hi,
                     long long *out) {
    char *end;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (!*value || *end || errno || n < lo || n > hi) {
        cli_error("%s must be a whole number from %lld to %lld, got '%s'", flag, lo, hi, value);
        return 0;
    }
    *out = n;
    return 1;
}

int cli_set_limits(sqlite3 *db, long long max_tokens, long long max_text_bytes) {
    const char *names[] = {"max_tokens", "max_text_bytes"};
    long long values[] = {max_tokens, max_text_bytes};
    for (int k = 0; k < 2; k++) {
        if (values[k] <= 0) continue;
        char *sql = sqlite3_mprintf("SELECT elmo_limit('%s', %lld)", names[k], values[k]);
        int rc = probe(db, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK) return EXIT_USAGE;
    }
    return EXIT_DONE;
}
