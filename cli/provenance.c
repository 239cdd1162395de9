/* provenance.c - see provenance.h. */
#include <string.h>

#include "cli.h"
#include "elmo.h"
#include "provenance.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

void provenance_free(provenance *p) {
    char **text[] = {&p->source_table, &p->source_column, &p->source_id,       &p->source_where,
                     &p->source_query, &p->options,       &p->model,           &p->fingerprint,
                     &p->precision,    &p->kernel,        &p->created,         &p->updated,
                     &p->version,      &p->output,        &p->head_fingerprint};
    for (size_t k = 0; k < sizeof text / sizeof text[0]; k++) sqlite3_free(*text[k]);
    memset(p, 0, sizeof *p);
}

/* The columns added since the table was first made, with what older rows hold. */
static const char *const added[][2] = {
    {"output", "output TEXT NOT NULL DEFAULT 'vector'"},
    {"head_fingerprint", "head_fingerprint TEXT"},
};

int provenance_create_table(sqlite3 *db) {
    int rc = sqlite3_exec(db,
                          "CREATE TABLE IF NOT EXISTS " PROVENANCE_TABLE "("
                          "output_table TEXT PRIMARY KEY, errors_table TEXT NOT NULL, "
                          "source_table TEXT, source_column TEXT, source_id TEXT, "
                          "source_where TEXT, source_query TEXT, options TEXT, model TEXT, "
                          "fingerprint TEXT NOT NULL, precision TEXT NOT NULL, "
                          "kernel TEXT NOT NULL, dim INTEGER NOT NULL, "
                          "created TEXT NOT NULL, updated TEXT NOT NULL, "
                          "elmo_version TEXT NOT NULL, output TEXT NOT NULL DEFAULT 'vector', "
                          "head_fingerprint TEXT)",
                          NULL, NULL, NULL);
    for (size_t k = 0; rc == SQLITE_OK && k < sizeof added / sizeof added[0]; k++) {
        if (sqlite3_table_column_metadata(db, "main", PROVENANCE_TABLE, added[k][0], NULL, NULL,
                                          NULL, NULL, NULL) == SQLITE_OK)
            continue;
        char *sql =
            sqlite3_mprintf("ALTER TABLE main." PROVENANCE_TABLE " ADD COLUMN %s", added[k][1]);
        rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
    }
    return rc;
}

/* Whether the table has the columns added since it was first made (a database a run
 * before them wrote, not yet opened for writing since). */
static int has_added_columns(sqlite3 *db) {
    for (size_t k = 0; k < sizeof added / sizeof added[0]; k++)
        if (sqlite3_table_column_metadata(db, "main", PROVENANCE_TABLE, added[k][0], NULL, NULL,
                                          NULL, NULL, NULL) != SQLITE_OK)
            return 0;
    return 1;
}

static char *column_text(sqlite3_stmt *st, int k) {
    const unsigned char *t = sqlite3_column_text(st, k);
    return t ? sqlite3_mprintf("%s", t) : NULL;
}

int provenance_read(sqlite3 *db, const char *into, provenance *p, int *found) {
    memset(p, 0, sizeof *p);
    *found = 0;
    if (sqlite3_table_column_metadata(db, "main", PROVENANCE_TABLE, NULL, NULL, NULL, NULL, NULL,
                                      NULL) != SQLITE_OK)
        return SQLITE_OK; /* no table: no record */
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db,
        has_added_columns(db)
            ? "SELECT source_table, source_column, source_id, "
              "source_where, source_query, options, model, fingerprint, "
              "precision, kernel, created, updated, elmo_version, "
              "output, head_fingerprint, dim FROM main." PROVENANCE_TABLE " WHERE output_table = ?1"
            : "SELECT source_table, source_column, source_id, "
              "source_where, source_query, options, model, fingerprint, "
              "precision, kernel, created, updated, elmo_version, "
              "'vector', NULL, dim FROM main." PROVENANCE_TABLE " WHERE output_table = ?1",
        -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, into, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char **text[] = {&p->source_table, &p->source_column, &p->source_id,       &p->source_where,
                         &p->source_query, &p->options,       &p->model,           &p->fingerprint,
                         &p->precision,    &p->kernel,        &p->created,         &p->updated,
                         &p->version,      &p->output,        &p->head_fingerprint};
        int n = (int)(sizeof text / sizeof text[0]);
        for (int k = 0; k < n; k++) *text[k] = column_text(st, k);
        p->dim = sqlite3_column_int64(st, n);
        *found = 1;
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int provenance_write(sqlite3 *db, const char *into, const char *errors, const provenance *p) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT OR REPLACE INTO main." PROVENANCE_TABLE
                                "(output_table, errors_table, source_table, source_column, "
                                "source_id, source_where, source_query, options, model, "
                                "fingerprint, precision, kernel, output, head_fingerprint, dim, "
                                "created, updated, elmo_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, " NOW ", " NOW ", ?16)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    const char *text[] = {into,
                          errors,
                          p->source_table,
                          p->source_column,
                          p->source_id,
                          p->source_where,
                          p->source_query,
                          p->options,
                          p->model,
                          p->fingerprint,
                          p->precision,
                          p->kernel,
                          p->output ? p->output : "vector",
                          p->head_fingerprint};
    int n = (int)(sizeof text / sizeof text[0]);
    for (int k = 0; k < n; k++) sqlite3_bind_text(st, k + 1, text[k], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, n + 1, p->dim);
    sqlite3_bind_text(st, n + 2, ELMO_VERSION, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int provenance_touch(sqlite3 *db, const char *into) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db, "UPDATE main." PROVENANCE_TABLE " SET updated = " NOW " WHERE output_table = ?1", -1,
        &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, into, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* NULL-safe string equality. */
static int same(const char *a, const char *b) {
    return a && b ? strcmp(a, b) == 0 : a == b;
}

int provenance_same_source(const provenance *a, const provenance *b) {
    return same(a->source_table, b->source_table) && same(a->source_column, b->source_column) &&
           same(a->source_id, b->source_id) && same(a->source_where, b->source_where) &&
           same(a->source_query, b->source_query);
}

/* Appends "; " between reasons. */
static void reason(sqlite3_str *s, const char *fmt, const char *a, const char *b) {
    if (sqlite3_str_length(s) > 0) sqlite3_str_appendall(s, "; ");
    sqlite3_str_appendf(s, fmt, a, b);
}

const char *provenance_holds(const provenance *p) {
    return same(p->output, "perplexity") ? "perplexities" : "vectors";
}

char *provenance_changes(const provenance *was, const provenance *now) {
    sqlite3_str *s = sqlite3_str_new(NULL);
    if (!same(was->output, now->output))
        reason(s, "the output changed (%s -> %s)", provenance_holds(was), provenance_holds(now));
    if (!same(was->options, now->options))
        reason(s, "the options changed (%s -> %s)", was->options ? was->options : "the defaults",
               now->options ? now->options : "the defaults");
    if (!same(was->fingerprint, now->fingerprint))
        reason(s, "the model changed (fingerprint %s -> %s)", was->fingerprint, now->fingerprint);
    if (!same(was->head_fingerprint, now->head_fingerprint))
        reason(s, "the language-model head changed (fingerprint %s -> %s)",
               was->head_fingerprint ? was->head_fingerprint : "none",
               now->head_fingerprint ? now->head_fingerprint : "none");
    if (!same(was->precision, now->precision))
        reason(s, "the precision changed (%s -> %s)", was->precision, now->precision);
    /* fp32 gives the same bytes on every kernel; bf16 only on the same one. */
    else if (same(now->precision, "bf16") && !same(was->kernel, now->kernel))
        reason(s, "the bf16 kernel changed (%s -> %s: another CPU family rounds differently)",
               was->kernel, now->kernel);
    if (was->dim != now->dim) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%lld", was->dim);
        snprintf(b, sizeof b, "%lld", now->dim);
        reason(s, "the vector width changed (%s -> %s floats)", a, b);
    }
    if (sqlite3_str_length(s) == 0) {
        sqlite3_free(sqlite3_str_finish(s));
        return NULL;
    }
    return sqlite3_str_finish(s);
}

char *provenance_source_text(const provenance *p) {
    if (p->source_query) {
        char shown[64];
        size_t n = strlen(p->source_query);
        snprintf(shown, sizeof shown, "%.*s%s", n > 60 ? 57 : (int)n, p->source_query,
                 n > 60 ? "..." : "");
        return sqlite3_mprintf("the --query '%s'", shown);
    }
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendf(s, "%s.%s", p->source_table, p->source_column);
    if (p->source_id && strcmp(p->source_id, "rowid") != 0)
        sqlite3_str_appendf(s, " (key %s)", p->source_id);
    if (p->source_where) sqlite3_str_appendf(s, " where %s", p->source_where);
    return sqlite3_str_finish(s);
}

/* One integer from `sql` (0 when it fails: the table may be gone). */
static long long count(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    long long n = 0;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

/* "all 32 floats wide", or the widths found when they differ. */
static void print_widths(sqlite3 *db, const char *into, FILE *f) {
    char *sql = sqlite3_mprintf("SELECT length(vector) / 4, count(*) FROM main.\"%w\" WHERE "
                                "vector IS NOT NULL GROUP BY 1 ORDER BY 1",
                                into);
    sqlite3_stmt *st;
    int n = 0;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            char c[32];
            fprintf(f, "%s%lld floats (%s)",
                    n++ ? ", " : "; widths: ", (long long)sqlite3_column_int64(st, 0),
                    cli_count(c, sqlite3_column_int64(st, 1)));
        }
        sqlite3_finalize(st);
    }
    sqlite3_free(sql);
    fputs(n > 1 ? " (mixed: rerun with --refresh to re-embed them all)\n" : "\n", f);
}

int provenance_print(sqlite3 *db, const char *into, FILE *f) {
    provenance p;
    int found = 0;
    int rc = provenance_read(db, into, &p, &found);
    if (rc != SQLITE_OK) {
        cli_error("cannot read what made '%s': %s", into, sqlite3_errmsg(db));
        return cli_exit_for(rc);
    }
    if (!found) {
        cli_error("'%s' has no record in %s: it was not made by elmo embed (or by a version "
                  "that kept none); check the name, or rerun elmo embed with --refresh to "
                  "re-embed it and record what made it",
                  into, PROVENANCE_TABLE);
        return EXIT_INPUT;
    }
    char *source = provenance_source_text(&p), *errors = NULL;
    char *sql = sqlite3_mprintf(
        "SELECT errors_table FROM main." PROVENANCE_TABLE " WHERE output_table = %Q", into);
    sqlite3_stmt *st;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) errors = column_text(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_free(sql);
    int vectors = !same(p.output, "perplexity");
    fprintf(f, "%s: %s of %s, made by elmo embed\n", into, provenance_holds(&p),
            source ? source : "?");
    if (p.source_query) fprintf(f, "  query        %s\n", p.source_query);
    else {
        fprintf(f, "  source       table %s, column %s, key %s\n", p.source_table, p.source_column,
                p.source_id);
        fprintf(f, "  filter       %s\n", p.source_where ? p.source_where : "none");
    }
    fprintf(f, "  options      %s\n", p.options ? p.options : "none (the defaults)");
    fprintf(f, "  model        %s\n", p.model ? p.model : "?");
    fprintf(f, "  fingerprint  %s\n", p.fingerprint);
    if (p.head_fingerprint) fprintf(f, "  head         fingerprint %s\n", p.head_fingerprint);
    fprintf(f, "  precision    %s (kernel %s)\n", p.precision, p.kernel);
    if (vectors) fprintf(f, "  dimension    %lld\n", p.dim);
    fprintf(f, "  created      %s by elmo %s\n", p.created, p.version);
    fprintf(f, "  updated      %s\n", p.updated);
    char a[32], b[32];
    char *q1 = sqlite3_mprintf("SELECT count(*) FROM main.\"%w\"", into);
    char *q2 = sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE \"%w\" IS NULL", into,
                               vectors ? "vector" : "perplexity");
    char *q3 = errors ? sqlite3_mprintf("SELECT count(*) FROM main.\"%w\"", errors) : NULL;
    fprintf(f, "  %-12s %s (%s NULL: no text or no tokens)", provenance_holds(&p),
            cli_count(a, count(db, q1)), cli_count(b, count(db, q2)));
    if (vectors) print_widths(db, into, f);
    else fputc('\n', f);
    fprintf(f, "  errors       %s in %s\n", cli_count(a, q3 ? count(db, q3) : 0),
            errors ? errors : "?");
    sqlite3_free(q1);
    sqlite3_free(q2);
    sqlite3_free(q3);
    sqlite3_free(source);
    sqlite3_free(errors);
    provenance_free(&p);
    return EXIT_DONE;
}
