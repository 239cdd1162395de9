/*
 * embed.c - `elmo embed DB --table T --column C`: embeds a column into an output table in
 * chunks, each chunk its own transaction, so a rerun resumes and a killed run loses at most
 * the chunk in flight.
 *
 * One chunk:
 *   1. select the next rows without a current vector (keyset order on the id) into
 *      temp.elmo_cli_chunk, with a hash of (options, model, text) and a token count;
 *   2. embed them with the extension's elmo_batch into temp.elmo_cli_result; if that
 *      fails, embed row by row with elmo_embed to isolate the bad rows and their messages;
 *   3. BEGIN IMMEDIATE, write vectors and errors, COMMIT.
 * Only step 3 holds the database's write lock, so other writers wait milliseconds, not the
 * length of an embedding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "elmo.h"
#include "progress.h"

typedef struct job {
    const char *db_path, *table, *column, *id, *into, *model, *options, *precision;
    const char *softmax, *vocab, *output_name;
    const embed_output *out; /* vectors or perplexities */
    char *batch_options;     /* what elmo_batch gets (out and --options) */
    int chunk, refresh, prune, fail, quiet, busy_ms;
    double interval;
    char *errors; /* the errors table's name */
    char *idx;    /* the id expression, quoted: "id" or rowid */
    int int_key;  /* the id is the rowid: the output key is INTEGER PRIMARY KEY */
    sqlite3 *db;
    uint64_t hash_seed; /* FNV-1a state after the options and the model fingerprint */
    int argc;
    char **argv;
} job;

/* ---- hashing and token counts (SQL functions of this connection) ------------------ */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

/* elmo_cli_hash(x): 64-bit FNV-1a of the job's options and model, x's type and bytes. */
static void hash_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const job *j = sqlite3_user_data(ctx);
    unsigned char type = (unsigned char)sqlite3_value_type(argv[0]);
    uint64_t h = fnv(j->hash_seed, &type, 1);
    if (type == SQLITE_BLOB)
        h = fnv(h, sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]));
    else if (type != SQLITE_NULL)
        h = fnv(h, sqlite3_value_text(argv[0]), (size_t)sqlite3_value_bytes(argv[0]));
    sqlite3_result_int64(ctx, (sqlite3_int64)h);
}

/* elmo_cli_ntokens(x): tokens of a TEXT as the default tokenizer counts them (progress). */
static void ntokens_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    sqlite3_result_int64(ctx, (sqlite3_int64)elmo_tokenize(ELMO_TOKENIZER_DEFAULT, t, n, NULL, 0));
}

/* ---- SQL helpers --------------------------------------------------------------------- */

/* Prints why a statement failed, with advice for a locked database or a full disk, and
 * returns the exit code. */
static int sql_fail(job *j, int rc, const char *what) {
    int code = cli_exit_for(rc);
    const char *msg = sqlite3_errmsg(j->db);
    if (code == EXIT_LOCKED)
        cli_error("%s: database '%s' is locked by another connection (waited %d ms): %s; rerun "
                  "when the other writer is done, or raise --busy-timeout",
                  what, j->db_path, j->busy_ms, msg);
    else if (code == EXIT_FULL)
        cli_error("%s: disk full writing '%s' (%s); free space and rerun the same command to "
                  "resume (finished chunks are kept)",
                  what, j->db_path, msg);
    else cli_error("%s: %s", what, msg);
    return code;
}

static int exec(job *j, const char *sql) {
    return sqlite3_exec(j->db, sql, NULL, NULL, NULL);
}

/* One statement with its parameters bound by the caller, stepped to the end. */
static int step_all(sqlite3_stmt *st) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
    int r = sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : r ? r : rc;
}

static void rollback(job *j) {
    /* A ROLLBACK can itself see a pending interrupt; the second one then runs. */
    for (int k = 0; k < 2 && !sqlite3_get_autocommit(j->db); k++) exec(j, "ROLLBACK");
}

/* ---- flags --------------------------------------------------------------------------- */

static int parse(job *j, int argc, char **argv) {
    memset(j, 0, sizeof *j);
    j->chunk = 256;
    j->busy_ms = 30000;
    j->argc = argc;
    j->argv = argv;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int m;
#define FLAG(name, dest)                                                                           \
    if ((m = cli_flag_value(argc, argv, &i, name, &v)) != 0) {                                     \
        if (m < 0) return EXIT_USAGE;                                                              \
        dest = v;                                                                                  \
        continue;                                                                                  \
    }
        FLAG("--table", j->table)
        FLAG("--column", j->column)
        FLAG("--id", j->id)
        FLAG("--into", j->into)
        FLAG("--model", j->model)
        FLAG("--options", j->options)
        FLAG("--precision", j->precision)
        FLAG("--output", j->output_name)
        FLAG("--softmax", j->softmax)
        FLAG("--vocab", j->vocab)
#undef FLAG
        if ((m = cli_flag_value(argc, argv, &i, "--chunk", &v)) != 0) {
            char *end;
            long n = m > 0 ? strtol(v, &end, 10) : 0;
            if (m < 0 || *end || n < 1 || n > 1000000) {
                if (m > 0)
                    cli_error("--chunk must be a number of rows from 1 to 1000000, got '%s'", v);
                return EXIT_USAGE;
            }
            j->chunk = (int)n;
        } else if ((m = cli_flag_value(argc, argv, &i, "--busy-timeout", &v)) != 0) {
            char *end;
            long n = m > 0 ? strtol(v, &end, 10) : 0;
            if (m < 0 || *end || n < 0 || n > 86400000) {
                if (m > 0) cli_error("--busy-timeout must be milliseconds, got '%s'", v);
                return EXIT_USAGE;
            }
            j->busy_ms = (int)n;
        } else if ((m = cli_flag_value(argc, argv, &i, "--progress-interval", &v)) != 0) {
            char *end;
            double s = m > 0 ? strtod(v, &end) : 0;
            if (m < 0 || *end || !(s > 0) || s > 3600) {
                if (m > 0) cli_error("--progress-interval must be seconds, got '%s'", v);
                return EXIT_USAGE;
            }
            j->interval = s;
        } else if ((m = cli_flag_value(argc, argv, &i, "--on-error", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            if (!strcmp(v, "fail")) j->fail = 1;
            else if (!strcmp(v, "skip")) j->fail = 0;
            else {
                cli_error("--on-error must be 'skip' or 'fail', got '%s'", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--refresh")) j->refresh = 1;
        else if (!strcmp(a, "--prune")) j->prune = 1;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) j->quiet = 1;
        else if (a[0] == '-' && a[1] != '\0') {
            cli_error("unknown flag '%s'", a);
            return EXIT_USAGE;
        } else if (!j->db_path) j->db_path = a;
        else {
            cli_error("unexpected argument '%s' (the database is '%s')", a, j->db_path);
            return EXIT_USAGE;
        }
    }
    if (!j->db_path || !j->table || !j->column) {
        cli_error("give the database, --table and --column, e.g. elmo embed docs.db --table "
                  "docs --column body (see elmo embed --help)");
        return EXIT_USAGE;
    }
    if (!(j->out = embed_output_named(j->output_name))) {
        cli_error("--output must be vector or perplexity, got '%s'", j->output_name);
        return EXIT_USAGE;
    }
    if (j->precision && strcmp(j->precision, "fp32") && strcmp(j->precision, "bf16")) {
        cli_error("--precision must be fp32 or bf16, got '%s'", j->precision);
        return EXIT_USAGE;
    }
    return EXIT_DONE;
}

/* ---- setup --------------------------------------------------------------------------- */

static int is_integer_type(const char *type) {
    return type && sqlite3_stricmp(type, "INTEGER") == 0;
}

/* Checks the source table and columns; decides the id expression and the key type. */
static int check_source(job *j) {
    const char *type = NULL;
    int notnull, pk, autoinc;
    if (sqlite3_table_column_metadata(j->db, "main", j->table, NULL, NULL, NULL, NULL, NULL,
                                      NULL) != SQLITE_OK) {
        cli_error("no table '%s' in '%s'; check --table (list the tables with: sqlite3 %s "
                  ".tables)",
                  j->table, j->db_path, j->db_path);
        return EXIT_INPUT;
    }
    if (sqlite3_table_column_metadata(j->db, "main", j->table, j->column, &type, NULL, &notnull,
                                      &pk, &autoinc) != SQLITE_OK) {
        cli_error("table '%s' has no column '%s'; check --column", j->table, j->column);
        return EXIT_INPUT;
    }
    const char *id = j->id ? j->id : "rowid";
    if (sqlite3_table_column_metadata(j->db, "main", j->table, id, &type, NULL, &notnull, &pk,
                                      &autoinc) != SQLITE_OK) {
        if (j->id) cli_error("table '%s' has no column '%s'; check --id", j->table, j->id);
        else
            cli_error("table '%s' has no rowid (it is WITHOUT ROWID); name its key column "
                      "with --id",
                      j->table);
        return EXIT_INPUT;
    }
    /* The rowid, or an INTEGER PRIMARY KEY (the only key column): integer keys. */
    int ipk = !j->id;
    if (!ipk && pk && is_integer_type(type)) {
        sqlite3_stmt *st;
        char *sql =
            sqlite3_mprintf("SELECT count(*) FROM pragma_table_info(%Q) WHERE pk > 0", j->table);
        if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1) ipk = 1;
            sqlite3_finalize(st);
        }
        sqlite3_free(sql);
    }
    j->int_key = ipk;
    j->idx = j->id ? sqlite3_mprintf("\"%w\"", j->id) : sqlite3_mprintf("rowid");
    return EXIT_DONE;
}

/* Creates the output and errors tables if missing, or checks an existing one's columns. */
static int prepare_output(job *j) {
    int rc = exec(j, "PRAGMA journal_mode=WAL");
    if (rc != SQLITE_OK) return sql_fail(j, rc, "cannot switch the database to WAL mode");
    char *sql = sqlite3_mprintf(
        "CREATE TABLE IF NOT EXISTS \"%w\"(id %s PRIMARY KEY, %s %s, text_hash INTEGER);"
        "CREATE TABLE IF NOT EXISTS \"%w\"(id %s PRIMARY KEY, message TEXT NOT NULL, "
        "text_hash INTEGER);",
        j->into, j->int_key ? "INTEGER" : "", j->out->column, j->out->type, j->errors,
        j->int_key ? "INTEGER" : "");
    rc = exec(j, sql);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return sql_fail(j, rc, "cannot create the output tables");
    const char *const need[] = {"id", j->out->column, "text_hash"};
    for (int k = 0; k < 3; k++)
        if (sqlite3_table_column_metadata(j->db, "main", j->into, need[k], NULL, NULL, NULL, NULL,
                                          NULL) != SQLITE_OK) {
            cli_error("table '%s' exists but is not an output table of elmo embed (it has no "
                      "column '%s'); choose another --into",
                      j->into, need[k]);
            return EXIT_INPUT;
        }
    rc = exec(
        j, "CREATE TEMP TABLE elmo_cli_chunk(seq INTEGER PRIMARY KEY, id, body, h INTEGER, "
           "ntok INTEGER);"
           "CREATE TEMP TABLE elmo_cli_result(seq INTEGER PRIMARY KEY, vector BLOB, error TEXT);");
    return rc == SQLITE_OK ? EXIT_DONE : sql_fail(j, rc, "cannot create the temporary tables");
}

/* The hash seed: the options text and, when the extension reports one, the model's
 * fingerprint (and the head's, for perplexities), so that --refresh re-embeds rows made
 * with other options or weights. */
static void seed_hash(job *j) {
    uint64_t h = FNV_OFFSET;
    const char *o = j->batch_options ? j->batch_options : j->options ? j->options : "";
    h = fnv(h, o, strlen(o) + 1);
    sqlite3_stmt *st;
    /* perplexities depend on the language-model head too */
    if (sqlite3_prepare_v2(j->db,
                           j->batch_options ? "SELECT fingerprint || head_fingerprint FROM "
                                              "elmo_models WHERE name = 'default'"
                                            : "SELECT fingerprint FROM elmo_models WHERE name = "
                                              "'default'",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            h = fnv(h, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        sqlite3_finalize(st);
    }
    j->hash_seed = h;
}

/* The condition "the source row s has no current vector e". */
static char *stale_condition(const job *j) {
    return sqlite3_mprintf(j->refresh
                               ? "(e.id IS NULL OR e.text_hash IS NOT elmo_cli_hash(s.\"%w\"))"
                               : "e.id IS NULL",
                           j->column);
}

/* Counts the source rows and those to embed. */
static int count_rows(job *j, sqlite3_int64 *total, sqlite3_int64 *todo) {
    char *cond = stale_condition(j);
    char *sql = sqlite3_mprintf("SELECT count(*), coalesce(sum(%s), 0) FROM \"%w\" AS s LEFT JOIN "
                                "\"%w\" AS e ON e.id = s.%s WHERE s.%s IS NOT NULL",
                                cond, j->table, j->into, j->idx, j->idx);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(j->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *total = sqlite3_column_int64(st, 0);
        *todo = sqlite3_column_int64(st, 1);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    sqlite3_free(cond);
    return rc;
}

/* --prune: deletes output and error rows whose source row is gone. */
static int prune(job *j, sqlite3_int64 *pruned) {
    char *sql = sqlite3_mprintf(
        "BEGIN IMMEDIATE;"
        "DELETE FROM \"%w\" WHERE id NOT IN (SELECT %s FROM \"%w\" WHERE %s IS NOT NULL);",
        j->into, j->idx, j->table, j->idx);
    int rc = exec(j, sql);
    sqlite3_free(sql);
    if (rc == SQLITE_OK) {
        *pruned = sqlite3_changes(j->db);
        sql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE id NOT IN (SELECT %s FROM \"%w\" WHERE "
                              "%s IS NOT NULL); COMMIT;",
                              j->errors, j->idx, j->table, j->idx);
        rc = exec(j, sql);
        sqlite3_free(sql);
    }
    if (rc != SQLITE_OK) {
        rollback(j);
        return sql_fail(j, rc, "cannot prune");
    }
    return EXIT_DONE;
}

/* ---- the chunk loop ------------------------------------------------------------------ */

typedef struct stmts {
    sqlite3_stmt *clear, *clear_result, *first, *next, *last, *batch, *one, *one_err, *stats;
    sqlite3_stmt *w_vec, *w_clear_err, *w_drop_vec, *w_err, *first_err;
} stmts;

static int prep(job *j, sqlite3_stmt **st, char *sql) {
    int rc = sql ? sqlite3_prepare_v2(j->db, sql, -1, st, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}

static int prepare_all(job *j, stmts *s) {
    char *cond = stale_condition(j);
    const char *sel = "INSERT INTO temp.elmo_cli_chunk(id, body, h, ntok) "
                      "SELECT s.%s, s.\"%w\", elmo_cli_hash(s.\"%w\"), elmo_cli_ntokens(s.\"%w\") "
                      "FROM \"%w\" AS s LEFT JOIN \"%w\" AS e ON e.id = s.%s "
                      "WHERE s.%s IS NOT NULL AND %s%s ORDER BY s.%s LIMIT ?1";
    const char *ok = "FROM temp.elmo_cli_chunk c JOIN temp.elmo_cli_result r ON r.seq = c.seq "
                     "WHERE r.error IS NULL";
    const char *bad = "FROM temp.elmo_cli_chunk c JOIN temp.elmo_cli_result r ON r.seq = c.seq "
                      "WHERE r.error IS NOT NULL";
    int rc = SQLITE_OK;
#define P(field, sql)                                                                              \
    if (rc == SQLITE_OK) rc = prep(j, &s->field, sql)
    P(clear, sqlite3_mprintf("DELETE FROM temp.elmo_cli_chunk"));
    P(clear_result, sqlite3_mprintf("DELETE FROM temp.elmo_cli_result"));
    P(first, sqlite3_mprintf(sel, j->idx, j->column, j->column, j->column, j->table, j->into,
                             j->idx, j->idx, cond, "", j->idx));
    char *after = sqlite3_mprintf(" AND s.%s > ?2", j->idx);
    P(next, sqlite3_mprintf(sel, j->idx, j->column, j->column, j->column, j->table, j->into, j->idx,
                            j->idx, cond, after, j->idx));
    sqlite3_free(after);
    P(last, sqlite3_mprintf("SELECT id, (SELECT count(*) FROM temp.elmo_cli_chunk), "
                            "(SELECT coalesce(sum(ntok), 0) FROM temp.elmo_cli_chunk) "
                            "FROM temp.elmo_cli_chunk ORDER BY seq DESC LIMIT 1"));
    P(batch, sqlite3_mprintf("INSERT INTO temp.elmo_cli_result(seq, vector) SELECT id, %s "
                             "FROM elmo_batch('SELECT seq, body FROM temp.elmo_cli_chunk "
                             "ORDER BY seq', ?1)",
                             j->out->column));
    P(one, sqlite3_mprintf("INSERT OR REPLACE INTO temp.elmo_cli_result(seq, vector) "
                           "SELECT seq, %s(body, ?1) FROM temp.elmo_cli_chunk "
                           "WHERE seq = ?2",
                           j->out->function));
    P(one_err, sqlite3_mprintf("INSERT OR REPLACE INTO temp.elmo_cli_result(seq, error) "
                               "VALUES (?2, ?1)"));
    P(stats, sqlite3_mprintf("SELECT count(*) FROM temp.elmo_cli_result WHERE error IS NOT NULL"));
    P(w_vec, sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\"(id, %s, text_hash) "
                             "SELECT c.id, r.vector, c.h %s",
                             j->into, j->out->column, ok));
    P(w_clear_err,
      sqlite3_mprintf("DELETE FROM \"%w\" WHERE id IN (SELECT c.id %s)", j->errors, ok));
    P(w_drop_vec, sqlite3_mprintf("DELETE FROM \"%w\" WHERE id IN (SELECT c.id %s)", j->into, bad));
    P(w_err, sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\"(id, message, text_hash) "
                             "SELECT c.id, r.error, c.h %s",
                             j->errors, bad));
    P(first_err, sqlite3_mprintf("SELECT quote(c.id), r.error %s ORDER BY c.seq LIMIT 1", bad));
#undef P
    sqlite3_free(cond);
    if (rc != SQLITE_OK) return sql_fail(j, rc, "cannot prepare the job's statements");
    return EXIT_DONE;
}

static void finalize_all(stmts *s) {
    sqlite3_stmt **all = (sqlite3_stmt **)s;
    for (size_t k = 0; k < sizeof *s / sizeof(sqlite3_stmt *); k++) sqlite3_finalize(all[k]);
}

static void bind_options(job *j, sqlite3_stmt *st) {
    if (j->options) sqlite3_bind_text(st, 1, j->options, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 1);
}

/* Embeds the chunk row by row (after elmo_batch failed) so that only bad rows fail. */
static int embed_rows(job *j, stmts *s, sqlite3_int64 n) {
    for (sqlite3_int64 seq = 1; seq <= n; seq++) {
        if (cli_signal_received()) return SQLITE_INTERRUPT;
        bind_options(j, s->one);
        sqlite3_bind_int64(s->one, 2, seq);
        int rc = step_all(s->one);
        if (rc == SQLITE_OK) continue;
        if (cli_signal_received()) return SQLITE_INTERRUPT;
        char *msg = sqlite3_mprintf("%s", sqlite3_errmsg(j->db));
        sqlite3_bind_text(s->one_err, 1, msg ? msg : "out of memory", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s->one_err, 2, seq);
        sqlite3_free(msg);
        rc = step_all(s->one_err);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* Writes the chunk's vectors and errors in one transaction. */
static int write_chunk(job *j, stmts *s) {
    int rc = exec(j, "BEGIN IMMEDIATE");
    sqlite3_stmt *order[] = {s->w_vec, s->w_clear_err, s->w_drop_vec, s->w_err};
    for (size_t k = 0; rc == SQLITE_OK && k < 4; k++) rc = step_all(order[k]);
    if (rc == SQLITE_OK) rc = exec(j, "COMMIT");
    if (rc != SQLITE_OK) rollback(j);
    return rc;
}

/* Shell-quotes one argument when it needs it. */
static void print_arg(FILE *f, const char *a) {
    int plain = *a != '\0';
    for (const char *p = a; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-@%", *p))
            plain = 0;
    if (plain) {
        fputs(a, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = a; *p; p++) {
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    }
    fputc('\'', f);
}

static void print_resume(job *j) {
    fputs("elmo embed: resume with: ", stderr);
    print_arg(stderr, cli_program);
    for (int i = 0; i < j->argc; i++) {
        fputc(' ', stderr);
        print_arg(stderr, j->argv[i]);
    }
    fputc('\n', stderr);
}

static int run(job *j) {
    sqlite3_int64 total = 0, todo = 0, pruned = 0, embedded = 0, failed = 0;
    int code = EXIT_DONE;
    if (j->prune && (code = prune(j, &pruned)) != EXIT_DONE) return code;
    int rc = count_rows(j, &total, &todo);
    if (rc != SQLITE_OK && cli_signal_received()) {
        fprintf(stderr, "elmo embed: stopped by %s before any row was embedded\n",
                cli_signal_received() == SIGTERM ? "SIGTERM" : "SIGINT");
        print_resume(j);
        return cli_signal_exit_code(cli_signal_received());
    }
    if (rc != SQLITE_OK) return sql_fail(j, rc, "cannot count the rows to embed");
    stmts s;
    memset(&s, 0, sizeof s);
    if ((code = prepare_all(j, &s)) != EXIT_DONE) {
        finalize_all(&s);
        return code;
    }
    progress p;
    progress_start(&p, j->quiet, j->interval, todo);
    sqlite3_value *last = NULL;
    const char *failed_step = NULL;
    for (;;) {
        if (cli_signal_received()) break;
        /* 1. the next rows */
        if ((rc = step_all(s.clear)) != SQLITE_OK || (rc = step_all(s.clear_result)) != SQLITE_OK) {
            failed_step = "cannot clear the chunk";
            break;
        }
        sqlite3_stmt *sel = last ? s.next : s.first;
        sqlite3_bind_int(sel, 1, j->chunk);
        if (last) sqlite3_bind_value(sel, 2, last);
        if ((rc = step_all(sel)) != SQLITE_OK) {
            failed_step = "cannot read the next rows";
            break;
        }
        sqlite3_int64 n = 0, tokens = 0;
        if ((rc = sqlite3_step(s.last)) == SQLITE_ROW) {
            sqlite3_value_free(last);
            last = sqlite3_value_dup(sqlite3_column_value(s.last, 0));
            n = sqlite3_column_int64(s.last, 1);
            tokens = sqlite3_column_int64(s.last, 2);
        }
        sqlite3_reset(s.last);
        if (n == 0) break;
        /* 2. embed */
        if (j->batch_options) sqlite3_bind_text(s.batch, 1, j->batch_options, -1, SQLITE_STATIC);
        else bind_options(j, s.batch);
        rc = step_all(s.batch);
        if (rc != SQLITE_OK && !cli_signal_received()) {
            rc = step_all(s.clear_result); /* a failed statement wrote nothing, but be sure */
            if (rc == SQLITE_OK) rc = embed_rows(j, &s, n);
        }
        if (cli_signal_received()) break;
        if (rc != SQLITE_OK) {
            failed_step = "cannot embed the chunk";
            break;
        }
        /* 3. write */
        sqlite3_int64 bad = 0;
        if (sqlite3_step(s.stats) == SQLITE_ROW) bad = sqlite3_column_int64(s.stats, 0);
        sqlite3_reset(s.stats);
        if ((rc = write_chunk(j, &s)) != SQLITE_OK) {
            if (cli_signal_received()) break;
            failed_step = "cannot write the chunk";
            break;
        }
        embedded += n - bad;
        failed += bad;
        progress_add(&p, n - bad, bad, tokens);
        if (bad && j->fail) {
            progress_stop(&p);
            if (sqlite3_step(s.first_err) == SQLITE_ROW)
                cli_error("row with id %s failed: %s (recorded in %s); fix the row, or rerun "
                          "with --on-error=skip to skip such rows",
                          (const char *)sqlite3_column_text(s.first_err, 0),
                          (const char *)sqlite3_column_text(s.first_err, 1), j->errors);
            sqlite3_reset(s.first_err);
            sqlite3_value_free(last);
            finalize_all(&s);
            return EXIT_ROW_FAILED;
        }
    }
    /* The chunk in flight (if any) was rolled back: its writes are one transaction. */
    if (failed_step) {
        progress_stop(&p);
        code = sql_fail(j, rc, failed_step);
        rollback(j);
    } else {
        rollback(j);
        progress_stop(&p);
    }
    double secs = progress_now() - p.start;
    sqlite3_value_free(last);
    finalize_all(&s);
    int sig = cli_signal_received();
    if (!j->quiet || sig) {
        sqlite3_int64 have = -1;
        sqlite3_stmt *st;
        char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", j->into);
        if (sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) have = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        sqlite3_free(sql);
        fprintf(stderr,
                "elmo embed: %lld rows embedded, %lld skipped (already current), %lld "
                "errors%s%s%s, %.1f s (%.0f rows/s, %.0f tokens/s)",
                (long long)embedded, (long long)(total - todo), (long long)failed,
                failed ? " (see table " : "", failed ? j->errors : "", failed ? ")" : "", secs,
                secs > 0 ? embedded / secs : 0.0, secs > 0 ? p.tokens / secs : 0.0);
        if (j->prune) fprintf(stderr, ", %lld pruned", (long long)pruned);
        fprintf(stderr, "; %s has %lld %s for %lld source rows\n", j->into, (long long)have,
                j->out->plural, (long long)total);
    }
    if (sig) {
        fprintf(stderr,
                "elmo embed: stopped by %s; the unfinished chunk was rolled back, the "
                "%lld rows embedded are committed\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)embedded);
        print_resume(j);
        return cli_signal_exit_code(sig);
    }
    return code;
}

int cmd_embed(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            embed_usage(stdout);
            return EXIT_DONE;
        }
        if (!strcmp(argv[i], "--stream")) return cmd_stream(argc, argv);
    }
    job j;
    int code = parse(&j, argc, argv);
    if (code != EXIT_DONE) {
        if (code == EXIT_USAGE)
            fputs("usage: elmo embed DB --table TABLE --column COLUMN "
                  "[options]; see elmo embed --help\n",
                  stderr);
        return code;
    }
    char *into = j.into ? NULL : sqlite3_mprintf("%s%s", j.table, j.out->suffix);
    if (into) j.into = into;
    j.errors = sqlite3_mprintf("%s_errors", j.into);
    cli_signals_install(NULL);
    code = cli_open(j.db_path, j.busy_ms, &j.db);
    if (code == EXIT_DONE) code = check_source(&j);
    j.batch_options = embed_batch_options(j.out, j.options);
    if (!j.batch_options && strcmp(j.out->column, "vector") != 0) {
        cli_error("with --output perplexity, --options must be a JSON object such as "
                  "'{\"vocab_limit\":50000}' (without \"output\"), got '%s'",
                  j.options);
        code = EXIT_USAGE;
    }
    cli_model model = {j.model, j.precision, j.softmax, j.vocab};
    char *probe = sqlite3_mprintf("SELECT %s('probe', ?1)", j.out->function);
    if (code == EXIT_DONE) code = cli_load_model(j.db, &model, probe, j.options);
    sqlite3_free(probe);
    if (code == EXIT_DONE) {
        sqlite3_create_function(j.db, "elmo_cli_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, &j,
                                hash_func, NULL, NULL);
        sqlite3_create_function(j.db, "elmo_cli_ntokens", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                NULL, ntokens_func, NULL, NULL);
        seed_hash(&j);
        code = prepare_output(&j);
    }
    if (code == EXIT_DONE) {
        cli_signals_db(j.db);
        code = run(&j);
        cli_signals_db(NULL);
    }
    if (code != EXIT_DONE && cli_signal_received() && code < EXIT_SIGINT)
        code = cli_signal_exit_code(cli_signal_received());
    sqlite3_close(j.db);
    sqlite3_free(into);
    sqlite3_free(j.batch_options);
    sqlite3_free(j.errors);
    sqlite3_free(j.idx);
    return code;
}
