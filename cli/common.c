/* common.c - helpers shared by the subcommands: messages, flags, opening the database and
 * loading the model. */
#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
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

/* Runs `sql` (one row expected, the result ignored); on failure prints the message. */
static int probe(sqlite3 *db, const char *sql, const char *a, const char *b, const char *c,
                 const char *d) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        const char *args[] = {a, b, c, d};
        for (int k = 0; k < 4 && k < sqlite3_bind_parameter_count(st); k++)
            sqlite3_bind_text(st, k + 1, args[k], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) cli_error("%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

/* The load options JSON: precision, and the language-model head's files when given. */
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
    if (m->model) {
        /* Any model elmo_load reads: a .safetensors file, an AllenNLP directory, a TF-Hub
         * module or checkpoint; the load options carry the precision and the head. */
        char *load = load_options(m->precision, m->softmax, m->vocab);
        int rc = load ? probe(db, "SELECT elmo_load('default', ?1, ?2)", m->model, load, NULL, NULL)
                      : SQLITE_NOMEM;
        cJSON_free(load);
        if (rc != SQLITE_OK) return EXIT_MODEL;
    } else if (m->precision && strcmp(m->precision, "fp32") != 0) {
        cli_error("--precision %s needs --model PATH (the ELMO_MODEL default loads in fp32)",
                  m->precision);
        return EXIT_USAGE;
    } else if (m->softmax || m->vocab) {
        cli_error("--softmax and --vocab need --model PATH (they are loaded with it)");
        return EXIT_USAGE;
    }
    /* Loads the environment's default model if needed and checks the options. */
    if (probe(db, probe_sql, options, NULL, NULL, NULL) != SQLITE_OK) return EXIT_MODEL;
    return EXIT_DONE;
}
