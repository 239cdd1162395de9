/*
 * embed.c - `elmo embed DB --table T --column C` (or --query): embeds a source into an
 * output table in chunks, each chunk its own transaction, so a rerun resumes and a killed
 * run loses at most the chunk in flight. With --output perplexity the table holds each
 * row's perplexity instead of its vector (embed_kind.c); everything else is the same.
 *
 * One chunk:
 *   1. select the next source rows without a current vector (keyset order on the key) into
 *      temp.elmo_cli_chunk, with a hash of the text and its token count;
 *   2. embed them with the extension's elmo_batch, on_error 'skip': a bad row comes back
 *      with its message instead of failing the others;
 *   3. BEGIN IMMEDIATE, check that the output table is still made as this run makes it,
 *      write vectors and errors, COMMIT.
 * Only step 3 holds the database's write lock, so other writers wait milliseconds, not the
 * length of an embedding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "embed.h"
#include "progress.h"

/* ---- SQL functions of the job's connection ------------------------------------------ */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

/* elmo_cli_hash(x): 64-bit FNV-1a of x's type and bytes: whether a text changed since its
 * vector was made (what made the vectors is the table's provenance). */
static void hash_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    unsigned char type = (unsigned char)sqlite3_value_type(argv[0]);
    uint64_t h = fnv(FNV_OFFSET, &type, 1);
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

/* elmo_cli_message(msg): the extension's message as the program's user reads it. */
static void message_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const job *j = sqlite3_user_data(ctx);
    char *msg = cli_message((const char *)sqlite3_value_text(argv[0]), j->cast_hint);
    if (msg) sqlite3_result_text(ctx, msg, -1, sqlite3_free);
    else sqlite3_result_error_nomem(ctx);
}

/* ---- SQL helpers --------------------------------------------------------------------- */

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

/* Up to three integers from the first row of `sql` (owned, freed here). */
static int row_of(job *j, char *sql, sqlite3_int64 *a, sqlite3_int64 *b, sqlite3_int64 *c) {
    sqlite3_stmt *st = NULL;
    int rc = sql ? sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 *out[] = {a, b, c};
        for (int k = 0; k < 3; k++)
            if (out[k]) *out[k] = sqlite3_column_int64(st, k);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- counts -------------------------------------------------------------------------- */

typedef struct counts {
    sqlite3_int64 total;   /* source rows */
    sqlite3_int64 missing; /* without a vector (never embedded, or failed) */
    sqlite3_int64 changed; /* whose text changed since their vector was made */
} counts;

static int count_rows(job *j, counts *c) {
    return row_of(j,
                  sqlite3_mprintf("%s SELECT count(*), coalesce(sum(e.id IS NULL), 0), "
                                  "coalesce(sum(e.id IS NOT NULL AND e.text_hash IS NOT "
                                  "elmo_cli_hash(s.body)), 0) FROM elmo_src AS s LEFT JOIN "
                                  "main.\"%w\" AS e ON e.id = s.id",
                                  j->src, j->into),
                  &c->total, &c->missing, &c->changed);
}

/* --prune: deletes output and error rows whose source row is gone. */
static int prune(job *j, sqlite3_int64 *pruned) {
    cli_busy_reset(&j->busy);
    int rc = exec(j, "BEGIN IMMEDIATE");
    for (int k = 0; k < 2 && rc == SQLITE_OK; k++) {
        char *sql = sqlite3_mprintf("%s DELETE FROM main.\"%w\" WHERE id NOT IN (SELECT id FROM "
                                    "elmo_src)",
                                    j->src, k == 0 ? j->into : j->errors);
        rc = sql ? exec(j, sql) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (k == 0) *pruned = sqlite3_changes(j->db);
    }
    if (rc == SQLITE_OK) rc = exec(j, "COMMIT");
    if (rc != SQLITE_OK) {
        rollback(j);
        return embed_sql_fail(j, rc, "cannot prune");
    }
    return EXIT_DONE;
}

/* ---- the chunk loop ------------------------------------------------------------------ */

typedef struct stmts {
    sqlite3_stmt *clear, *clear_result, *first, *next, *last, *batch, *stats;
    sqlite3_stmt *w_vec, *w_clear_err, *w_drop_vec, *w_err, *first_err;
} stmts;

static int prep(job *j, sqlite3_stmt **st, char *sql) {
    int rc = sql ? sqlite3_prepare_v2(j->db, sql, -1, st, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}

static int prepare_all(job *j, stmts *s) {
    const char *stale =
        j->refresh ? "(e.id IS NULL OR e.text_hash IS NOT elmo_cli_hash(s.body))" : "e.id IS NULL";
    const char *sel = "%s INSERT INTO temp.elmo_cli_chunk(id, body, h, ntok) "
                      "SELECT s.id, s.body, elmo_cli_hash(s.body), elmo_cli_ntokens(s.body) "
                      "FROM elmo_src AS s LEFT JOIN main.\"%w\" AS e ON e.id = s.id "
                      "WHERE %s%s ORDER BY s.id LIMIT ?1";
    const char *ok = "FROM temp.elmo_cli_chunk c JOIN temp.elmo_cli_result r ON r.seq = c.seq "
                     "WHERE r.error IS NULL";
    const char *bad = "FROM temp.elmo_cli_chunk c JOIN temp.elmo_cli_result r ON r.seq = c.seq "
                      "WHERE r.error IS NOT NULL";
    int rc = SQLITE_OK;
#define P(field, sql)                                                                              \
    if (rc == SQLITE_OK) rc = prep(j, &s->field, sql)
    P(clear, sqlite3_mprintf("DELETE FROM temp.elmo_cli_chunk"));
    P(clear_result, sqlite3_mprintf("DELETE FROM temp.elmo_cli_result"));
    P(first, sqlite3_mprintf(sel, j->src, j->into, stale, ""));
    P(next, sqlite3_mprintf(sel, j->src, j->into, stale, " AND s.id > ?2"));
    P(last, sqlite3_mprintf("SELECT id, (SELECT count(*) FROM temp.elmo_cli_chunk) "
                            "FROM temp.elmo_cli_chunk ORDER BY seq DESC LIMIT 1"));
    P(batch, sqlite3_mprintf("INSERT INTO temp.elmo_cli_result(seq, value, error) "
                             "SELECT id, \"%w\", error FROM elmo_batch('SELECT seq, body FROM "
                             "temp.elmo_cli_chunk ORDER BY seq', ?1)",
                             j->kind->column));
    /* rows failed, and tokens of the rows embedded */
    P(stats, sqlite3_mprintf("SELECT coalesce(sum(r.error IS NOT NULL), 0), "
                             "coalesce(sum(CASE WHEN r.error IS NULL THEN c.ntok END), 0) "
                             "FROM temp.elmo_cli_chunk c JOIN temp.elmo_cli_result r "
                             "ON r.seq = c.seq"));
    P(w_vec, sqlite3_mprintf("INSERT OR REPLACE INTO main.\"%w\"(id, \"%w\", text_hash) "
                             "SELECT c.id, r.value, c.h %s",
                             j->into, j->kind->column, ok));
    P(w_clear_err,
      sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE id IN (SELECT c.id %s)", j->errors, ok));
    P(w_drop_vec,
      sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE id IN (SELECT c.id %s)", j->into, bad));
    P(w_err, sqlite3_mprintf("INSERT OR REPLACE INTO main.\"%w\"(id, message, text_hash) "
                             "SELECT c.id, elmo_cli_message(r.error), c.h %s",
                             j->errors, bad));
    P(first_err, sqlite3_mprintf("SELECT quote(c.id), elmo_cli_message(r.error) %s "
                                 "ORDER BY c.seq LIMIT 1",
                                 bad));
#undef P
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot prepare the job's statements");
    return EXIT_DONE;
}

static void finalize_all(stmts *s) {
    sqlite3_stmt **all = (sqlite3_stmt **)s;
    for (size_t k = 0; k < sizeof *s / sizeof(sqlite3_stmt *); k++) sqlite3_finalize(all[k]);
}

/* Writes the chunk's vectors and errors in one transaction, if the output table is still
 * made as this run makes it (*ours). On failure the transaction is left open: the caller
 * reads the message, then rolls back. */
static int write_chunk(job *j, stmts *s, int *ours) {
    cli_busy_reset(&j->busy);
    int rc = exec(j, "BEGIN IMMEDIATE");
    *ours = 1;
    if (rc == SQLITE_OK) rc = embed_output_still_ours(j, ours);
    sqlite3_stmt *order[] = {s->w_vec, s->w_clear_err, s->w_drop_vec, s->w_err};
    for (size_t k = 0; rc == SQLITE_OK && *ours && k < 4; k++) rc = step_all(order[k]);
    if (rc == SQLITE_OK && *ours) rc = exec(j, "COMMIT");
    return rc; /* on failure the caller reports, then rolls back */
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

/* What the run did, for the summary. */
typedef struct outcome {
    counts at_start;
    sqlite3_int64 embedded, failed, pruned;
    double seconds;
    int64_t tokens;
} outcome;

/* The summary line, and what to do about changed rows and vectors without a source row. */
static void print_summary(job *j, const outcome *o) {
    sqlite3_int64 have = -1, orphans = 0, total = o->at_start.total;
    row_of(j, sqlite3_mprintf("SELECT count(*) FROM main.\"%w\"", j->into), &have, NULL, NULL);
    row_of(j,
           sqlite3_mprintf("%s SELECT count(*), (SELECT count(*) FROM main.\"%w\" WHERE id NOT "
                           "IN (SELECT id FROM elmo_src)) FROM elmo_src",
                           j->src, j->into),
           &total, &orphans, NULL);
    sqlite3_int64 current = o->at_start.total - o->at_start.missing - o->at_start.changed;
    char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32];
    double per_s = o->seconds > 0 ? 1 / o->seconds : 0;
    fprintf(stderr,
            "elmo embed: %s rows embedded, %s already current, %s errors%s%s%s, %.1f s (%s "
            "rows/s, %s tokens/s)",
            cli_count(a, o->embedded), cli_count(b, current), cli_count(c, o->failed),
            o->failed ? " (see table " : "", o->failed ? j->errors : "", o->failed ? ")" : "",
            o->seconds, cli_count(h, (long long)(o->embedded * per_s + 0.5)),
            cli_count(d, (long long)(o->tokens * per_s)));
    if (j->prune) fprintf(stderr, ", %s pruned", cli_count(e, o->pruned));
    const char *plural = j->kind->plural;
    fprintf(stderr, "; %s has %s %s for %s source rows\n", j->into, cli_count(f, have), plural,
            cli_count(g, total));
    if (!j->refresh && o->at_start.changed > 0)
        fprintf(stderr,
                "elmo embed: %s rows changed since they were embedded and keep their old "
                "%s; rerun with --refresh to re-embed them\n",
                cli_count(a, o->at_start.changed), plural);
    if (orphans > 0)
        fprintf(stderr,
                "elmo embed: %s %s are of source rows that are gone; rerun with --prune to "
                "delete them\n",
                cli_count(a, orphans), plural);
}

/* The first failed row, with --on-error=fail. */
static void report_first_error(job *j, stmts *s) {
    if (sqlite3_step(s->first_err) == SQLITE_ROW)
        cli_error("row with id %s failed: %s (recorded in %s); fix the row, or rerun with "
                  "--on-error=skip to skip such rows",
                  (const char *)sqlite3_column_text(s->first_err, 0),
                  (const char *)sqlite3_column_text(s->first_err, 1), j->errors);
    sqlite3_reset(s->first_err);
}

static int run(job *j) {
    outcome o;
    memset(&o, 0, sizeof o);
    int code = EXIT_DONE;
    if (j->prune && (code = prune(j, &o.pruned)) != EXIT_DONE) return code;
    int rc = count_rows(j, &o.at_start);
    if (rc != SQLITE_OK && cli_signal_received()) {
        fprintf(stderr, "elmo embed: stopped by %s before any row was embedded\n",
                cli_signal_received() == SIGTERM ? "SIGTERM" : "SIGINT");
        print_resume(j);
        return cli_signal_exit_code(cli_signal_received());
    }
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot count the rows to embed");
    stmts s;
    memset(&s, 0, sizeof s);
    if ((code = prepare_all(j, &s)) != EXIT_DONE) {
        finalize_all(&s);
        return code;
    }
    const counts *c = &o.at_start;
    sqlite3_int64 todo = c->missing + (j->refresh ? c->changed : 0);
    progress p;
    progress_start(&p, j->quiet, j->interval, c->total - c->missing - c->changed, todo);
    sqlite3_value *last = NULL;
    const char *failed_step = NULL;
    int ours = 1, row_failed = 0;
    while (!cli_signal_received()) {
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
        sqlite3_int64 n = 0, bad = 0, tokens = 0;
        if ((rc = sqlite3_step(s.last)) == SQLITE_ROW) {
            sqlite3_value_free(last);
            last = sqlite3_value_dup(sqlite3_column_value(s.last, 0));
            n = sqlite3_column_int64(s.last, 1);
        }
        sqlite3_reset(s.last);
        if (n == 0) break;
        /* 2. embed (a bad row comes back with its error) */
        sqlite3_bind_text(s.batch, 1, j->batch_options, -1, SQLITE_STATIC);
        rc = step_all(s.batch);
        if (cli_signal_received()) break;
        if (rc != SQLITE_OK) {
            failed_step = "cannot embed the chunk";
            break;
        }
        if (sqlite3_step(s.stats) == SQLITE_ROW) {
            bad = sqlite3_column_int64(s.stats, 0);
            tokens = sqlite3_column_int64(s.stats, 1);
        }
        sqlite3_reset(s.stats);
        /* 3. write */
        if ((rc = write_chunk(j, &s, &ours)) != SQLITE_OK || !ours) {
            if (rc != SQLITE_OK && cli_signal_received()) break;
            failed_step = "cannot write the chunk";
            break;
        }
        o.embedded += n - bad;
        o.failed += bad;
        o.tokens += tokens;
        progress_add(&p, n - bad, bad, tokens);
        if (bad && j->fail) {
            row_failed = 1;
            break;
        }
    }
    progress_stop(&p);
    o.seconds = progress_now() - p.start;
    if (failed_step && ours && !row_failed) code = embed_sql_fail(j, rc, failed_step);
    /* The chunk in flight (if any) is rolled back: its writes are one transaction. */
    rollback(j);
    if (row_failed) {
        report_first_error(j, &s);
        code = EXIT_ROW_FAILED;
    } else if (!ours) {
        cli_error("another run of elmo embed changed what %s is made from while this one ran "
                  "(with --refresh, or another --model, --precision or --options); this run "
                  "stopped: see elmo embed %s --info %s",
                  j->into, j->db_path, j->into);
        code = EXIT_MISMATCH;
    }
    sqlite3_value_free(last);
    finalize_all(&s);
    int sig = cli_signal_received();
    if (!row_failed && (!j->quiet || sig)) print_summary(j, &o);
    if (sig) {
        char n[32];
        fprintf(stderr,
                "elmo embed: stopped by %s; the unfinished chunk was rolled back, the "
                "%s rows embedded are committed\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", cli_count(n, o.embedded));
        print_resume(j);
        return cli_signal_exit_code(sig);
    }
    return code;
}

static void free_job(job *j) {
    sqlite3_close(j->db);
    sqlite3_free(j->default_into);
    sqlite3_free(j->errors);
    sqlite3_free(j->src);
    sqlite3_free(j->cast_hint);
    sqlite3_free(j->batch_options);
    provenance_free(&j->made);
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
    int code = embed_parse_flags(&j, argc, argv);
    if (code != EXIT_DONE) {
        fputs("usage: elmo embed DB --table TABLE --column COLUMN [options]; see elmo embed "
              "--help\n",
              stderr);
        return code;
    }
    cli_signals_install(NULL);
    code = cli_open(j.db_path, j.busy_ms, &j.db);
    if (code == EXIT_DONE) cli_busy_install(j.db, &j.busy, j.busy_ms);
    if (code == EXIT_DONE && j.info) {
        code = provenance_print(j.db, j.info, stdout);
        free_job(&j);
        return code;
    }
    if (!j.into) j.into = j.default_into = sqlite3_mprintf("%s%s", j.table, j.kind->suffix);
    j.errors = sqlite3_mprintf("%s_errors", j.into);
    if (code == EXIT_DONE) code = embed_source_open(&j);
    cli_model model = {j.model, j.precision, j.softmax, j.vocab};
    char *probe = sqlite3_mprintf("SELECT %s('probe', ?1)", j.kind->function);
    if (code == EXIT_DONE)
        code = probe ? cli_load_model(j.db, &model, probe, j.options) : EXIT_ERROR;
    sqlite3_free(probe);
    if (code == EXIT_DONE) code = cli_set_limits(j.db, j.max_tokens, j.max_text_bytes);
    if (code == EXIT_DONE) {
        sqlite3_create_function(j.db, "elmo_cli_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                hash_func, NULL, NULL);
        sqlite3_create_function(j.db, "elmo_cli_ntokens", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                NULL, ntokens_func, NULL, NULL);
        sqlite3_create_function(j.db, "elmo_cli_message", 1, SQLITE_UTF8, &j, message_func, NULL,
                                NULL);
        code = embed_output_open(&j);
    }
    if (code == EXIT_DONE) {
        cli_signals_db(j.db);
        code = run(&j);
        cli_signals_db(NULL);
    }
    if (code != EXIT_DONE && cli_signal_received() && code < EXIT_SIGINT)
        code = cli_signal_exit_code(cli_signal_received());
    free_job(&j);
    return code;
}
