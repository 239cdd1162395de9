/* embed_output.c - the output side of `elmo embed`: WAL mode, the output and errors tables,
 * and their provenance (what made them). A run adds vectors (or perplexities) to a table
 * only when it makes them as the table's were made: same source, output, options, model,
 * language-model head, precision and width. */
#include <string.h>

#include "embed.h"

int embed_sql_fail(job *j, int rc, const char *what) {
    int code = cli_exit_for(rc);
    const char *msg = sqlite3_errmsg(j->db);
    if (code == EXIT_LOCKED)
        cli_error("%s: database '%s' is locked by another connection (waited %d ms of "
                  "--busy-timeout %d): %s; rerun when the other writer is done, or raise "
                  "--busy-timeout",
                  what, j->db_path, cli_busy_waited_ms(&j->busy), j->busy_ms, msg);
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

/* One integer from `sql` into *out. */
static int count(job *j, char *sql, sqlite3_int64 *out) {
    sqlite3_stmt *st;
    int rc = sql ? sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    rc = rc == SQLITE_ROW ? SQLITE_OK : rc;
    sqlite3_finalize(st);
    return rc;
}

/* The loaded model's identity, its language-model head's for perplexities, and the
 * width of the vectors the options make (1: a perplexity). */
static int model_identity(job *j) {
    provenance *m = &j->made;
    sqlite3_stmt *st;
    int vectors = embed_kind_is_vector(j->kind);
    int rc = sqlite3_prepare_v2(j->db,
                                vectors ? "SELECT coalesce(options_path || ' + ' || weights_path, "
                                          "weights_path), fingerprint, precision, kernel, "
                                          "length(elmo_embed('probe', ?1)) / 4, NULL "
                                          "FROM elmo_models WHERE name = 'default'"
                                        : "SELECT coalesce(options_path || ' + ' || weights_path, "
                                          "weights_path) || coalesce(' + softmax ' || ?2, ''), "
                                          "fingerprint, precision, kernel, 1, head_fingerprint "
                                          "FROM elmo_models WHERE name = 'default'",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot read the model's identity");
    if (j->options && vectors) sqlite3_bind_text(st, 1, j->options, -1, SQLITE_STATIC);
    if (j->softmax && !vectors) sqlite3_bind_text(st, 2, j->softmax, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char **text[] = {&m->model, &m->fingerprint, &m->precision, &m->kernel};
        for (int k = 0; k < 4; k++)
            *text[k] = sqlite3_mprintf(
                "%s", sqlite3_column_text(st, k) ? (const char *)sqlite3_column_text(st, k) : "");
        m->dim = sqlite3_column_int64(st, 4);
        if (sqlite3_column_text(st, 5))
            m->head_fingerprint = sqlite3_mprintf("%s", sqlite3_column_text(st, 5));
        m->output = sqlite3_mprintf("%s", j->kind->name);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot read the model's identity");
    return EXIT_DONE;
}

/* The options as the provenance records them, and as elmo_batch gets them. */
static int options_forms(job *j) {
    int rc = embed_kind_options(j->kind, j->options, &j->made.options, &j->batch_options);
    return rc == SQLITE_OK ? EXIT_DONE : embed_sql_fail(j, rc, "cannot read --options");
}

/* Creates the output and errors tables if missing (*existed says whether the output table
 * was there) and checks an existing one's columns. */
static int create_tables(job *j, int *existed) {
    *existed = sqlite3_table_column_metadata(j->db, "main", j->into, NULL, NULL, NULL, NULL, NULL,
                                             NULL) == SQLITE_OK;
    char *sql = sqlite3_mprintf(
        "CREATE TABLE IF NOT EXISTS main.\"%w\"(id %s PRIMARY KEY, \"%w\" %s, "
        "text_hash INTEGER);"
        "CREATE TABLE IF NOT EXISTS main.\"%w\"(id %s PRIMARY KEY, message TEXT NOT NULL, "
        "text_hash INTEGER);",
        j->into, j->int_key ? "INTEGER" : "", j->kind->column, j->kind->type, j->errors,
        j->int_key ? "INTEGER" : "");
    int rc = sql ? exec(j, sql) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot create the output tables");
    const char *const need[] = {"id", j->kind->column, "text_hash"};
    for (int k = 0; k < 3; k++)
        if (sqlite3_table_column_metadata(j->db, "main", j->into, need[k], NULL, NULL, NULL, NULL,
                                          NULL) != SQLITE_OK) {
            cli_error("table '%s' exists but is not an output table of elmo embed (it has no "
                      "column '%s'); choose another --into",
                      j->into, need[k]);
            return EXIT_INPUT;
        }
    return EXIT_DONE;
}

/* Empties the table for --refresh and records what makes it now. */
static int start_over(job *j, const char *why) {
    sqlite3_int64 rows = 0;
    char n[32];
    char *sql =
        sqlite3_mprintf("DELETE FROM main.\"%w\"; DELETE FROM main.\"%w\";", j->into, j->errors);
    int rc = sql ? exec(j, sql) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc == SQLITE_OK) rc = provenance_write(j->db, j->into, j->errors, &j->made);
    if (rc == SQLITE_OK)
        rc = count(j, sqlite3_mprintf("%s SELECT count(*) FROM elmo_src", j->src), &rows);
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot empty the output table");
    fprintf(stderr,
            "elmo embed: %s: re-embedding all %s rows (--refresh); its old %s and "
            "errors are deleted\n",
            why, cli_count(n, rows), j->kind->plural);
    return EXIT_DONE;
}

static int refuse_source(job *j, const provenance *was) {
    char *old = provenance_source_text(was), *now = provenance_source_text(&j->made);
    cli_error("%s holds %s of %s, not of %s; give another --into (--refresh re-embeds a "
              "table's own source, it does not change it)",
              j->into, provenance_holds(was), old ? old : "?", now ? now : "?");
    sqlite3_free(old);
    sqlite3_free(now);
    return EXIT_MISMATCH;
}

static int refuse_changes(job *j, const provenance *was, const char *changes) {
    sqlite3_int64 rows = 0;
    char n[32];
    count(j, sqlite3_mprintf("%s SELECT count(*) FROM elmo_src", j->src), &rows);
    int other_precision = strcmp(was->precision, j->made.precision) != 0;
    cli_error("%s was made with other settings: %s; its %s and this run's would not be "
              "comparable. Rerun with --refresh to re-embed all %s rows, or give another "
              "--into%s%s%s",
              j->into, changes, provenance_holds(was), cli_count(n, rows),
              other_precision ? " (or --precision " : "", other_precision ? was->precision : "",
              other_precision ? ", as it was made)" : "");
    return EXIT_MISMATCH;
}

static int refuse_unrecorded(job *j, sqlite3_int64 have) {
    char n[32], *now = provenance_source_text(&j->made);
    cli_error("%s has %s rows but no record of what made them (another program, or an elmo "
              "embed that kept none); rerun with --refresh to re-embed it from %s and record "
              "that, or give another --into",
              j->into, cli_count(n, have), now ? now : "?");
    sqlite3_free(now);
    return EXIT_MISMATCH;
}

/* What the run may do with the output table, given its record `was` (if found): an empty
 * table takes this run's settings (there is nothing to mix with); one with rows only from
 * the same source, and with the same settings unless --refresh starts it over. */
static int judge(job *j, const provenance *was, int found, int existed) {
    sqlite3_int64 have = 0;
    int rc = existed ? count(j,
                             sqlite3_mprintf("SELECT (SELECT count(*) FROM main.\"%w\") + "
                                             "(SELECT count(*) FROM main.\"%w\")",
                                             j->into, j->errors),
                             &have)
                     : SQLITE_OK;
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot read the output table");
    char *changes = found ? provenance_changes(was, &j->made) : NULL;
    int same_source = found && provenance_same_source(was, &j->made), code = EXIT_DONE;
    if (have == 0) {
        if (!found || changes || !same_source) {
            rc = provenance_write(j->db, j->into, j->errors, &j->made);
            if (rc != SQLITE_OK) code = embed_sql_fail(j, rc, "cannot record the provenance");
        }
    } else if (found && !same_source) {
        code = refuse_source(j, was);
    } else if (!found || changes) {
        char *why = found ? sqlite3_mprintf("%s was made with other settings: %s", j->into, changes)
                          : sqlite3_mprintf("%s has no record of what made it", j->into);
        if (!j->refresh)
            code = found ? refuse_changes(j, was, changes) : refuse_unrecorded(j, have);
        else code = why ? start_over(j, why) : embed_sql_fail(j, SQLITE_NOMEM, "out of memory");
        sqlite3_free(why);
    }
    sqlite3_free(changes);
    return code;
}

static void rollback(job *j) {
    for (int k = 0; k < 2 && !sqlite3_get_autocommit(j->db); k++) exec(j, "ROLLBACK");
}

int embed_output_open(job *j) {
    int code = model_identity(j);
    if (code == EXIT_DONE) code = options_forms(j);
    if (code != EXIT_DONE) return code;
    int rc = cli_switch_to_wal(j->db, &j->busy);
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot switch the database to WAL mode");
    /* One transaction: two runs starting at once see each other's tables and records. */
    cli_busy_reset(&j->busy);
    if ((rc = exec(j, "BEGIN IMMEDIATE")) != SQLITE_OK)
        return embed_sql_fail(j, rc, "cannot prepare the output tables");
    int existed = 0, found = 0;
    provenance was;
    memset(&was, 0, sizeof was);
    if ((rc = provenance_create_table(j->db)) != SQLITE_OK)
        code = embed_sql_fail(j, rc, "cannot create " PROVENANCE_TABLE);
    if (code == EXIT_DONE) code = create_tables(j, &existed);
    if (code == EXIT_DONE && (rc = provenance_read(j->db, j->into, &was, &found)) != SQLITE_OK)
        code = embed_sql_fail(j, rc, "cannot read " PROVENANCE_TABLE);
    if (code == EXIT_DONE) code = judge(j, &was, found, existed);
    provenance_free(&was);
    if (code == EXIT_DONE && (rc = exec(j, "COMMIT")) != SQLITE_OK)
        code = embed_sql_fail(j, rc, "cannot prepare the output tables");
    if (code != EXIT_DONE) {
        rollback(j);
        return code;
    }
    rc = exec(j, "CREATE TEMP TABLE elmo_cli_chunk(seq INTEGER PRIMARY KEY, id, body, "
                 "h INTEGER, ntok INTEGER);"
                 "CREATE TEMP TABLE elmo_cli_result(seq INTEGER PRIMARY KEY, value, "
                 "error TEXT);");
    return rc == SQLITE_OK ? EXIT_DONE
                           : embed_sql_fail(j, rc, "cannot create the temporary tables");
}

int embed_output_still_ours(job *j, int *ours) {
    provenance now;
    int found = 0;
    int rc = provenance_read(j->db, j->into, &now, &found);
    if (rc == SQLITE_OK) {
        char *changes = found ? provenance_changes(&now, &j->made) : NULL;
        *ours = found && !changes && provenance_same_source(&now, &j->made);
        sqlite3_free(changes);
        if (*ours) rc = provenance_touch(j->db, j->into);
    }
    provenance_free(&now);
    return rc;
}
