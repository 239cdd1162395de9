/* embed_source.c - what `elmo embed` reads: a table's or a view's column (--table,
 * --column, --id, --where) or the rows of a query (--query), checked up front, and the SQL
 * that reads them: a common table expression elmo_src(id, body) that every statement of the
 * job starts with. SQLite flattens it into each statement, so "the next chunk after key k"
 * reads only that chunk's rows through the key's index. */
#include <string.h>

#include "embed.h"

/* The first column of the first row of `sql` (with ?1, ?2 bound to a, b) as a new string,
 * or NULL when there is no row. *rc gets the SQLite code. */
static char *lookup(sqlite3 *db, const char *sql, const char *a, const char *b, int *rc) {
    sqlite3_stmt *st;
    char *out = NULL;
    *rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (*rc != SQLITE_OK) return NULL;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    *rc = step == SQLITE_ROW || step == SQLITE_DONE ? SQLITE_OK : step;
    sqlite3_finalize(st);
    return out;
}

/* The column's name as the schema spells it, or NULL (after a message naming the flag). */
static char *find_column(job *j, const char *kind, const char *name, const char *flag) {
    int rc;
    char *found = lookup(j->db,
                         "SELECT name FROM pragma_table_xinfo(?1, 'main') WHERE name = ?2 "
                         "COLLATE NOCASE",
                         j->made.source_table, name, &rc);
    if (!found && rc == SQLITE_OK)
        cli_error("%s '%s' has no column '%s'; check %s", kind, j->made.source_table, name, flag);
    else if (!found) embed_sql_fail(j, rc, "cannot read the columns of the source");
    return found;
}

/* Whether `sql` (with ?1, ?2 bound to the table and `column`) returns a row. */
static int has_row(job *j, const char *sql, const char *column) {
    int rc;
    char *hit = lookup(j->db, sql, j->made.source_table, column, &rc);
    int found = hit != NULL;
    sqlite3_free(hit);
    return found;
}

/* Whether `column` alone is the table's primary key or has a unique index (not a partial
 * one): then its values need no check for repeats. */
static int declared_unique(job *j, const char *column) {
    return has_row(j,
                   "SELECT il.name FROM pragma_index_list(?1, 'main') AS il "
                   "WHERE il.\"unique\" AND NOT il.partial "
                   "AND (SELECT count(*) FROM pragma_index_info(il.name, 'main')) = 1 "
                   "AND (SELECT name FROM pragma_index_info(il.name, 'main')) = ?2 "
                   "COLLATE NOCASE",
                   column);
}

/* Whether `column` is the table's INTEGER PRIMARY KEY, i.e. its rowid. */
static int is_rowid_alias(job *j, const char *column) {
    return has_row(j,
                   "SELECT name FROM pragma_table_info(?1, 'main') WHERE pk = 1 AND "
                   "upper(type) = 'INTEGER' AND name = ?2 COLLATE NOCASE AND (SELECT "
                   "count(*) FROM pragma_table_info(?1, 'main') WHERE pk > 0) = 1",
                   column) &&
           sqlite3_table_column_metadata(j->db, "main", j->made.source_table, "rowid", NULL, NULL,
                                         NULL, NULL, NULL) == SQLITE_OK;
}

/* Refuses a source whose key repeats: the output has one row per key, so a repeated key
 * would have one row's vector overwrite another's. */
static int check_unique_key(job *j) {
    char *sql = sqlite3_mprintf("%s SELECT quote(id), count(*) FROM elmo_src GROUP BY id HAVING "
                                "count(*) > 1 LIMIT 1",
                                j->src);
    sqlite3_stmt *st;
    int rc = sql ? sqlite3_prepare_v2(j->db, sql, -1, &st, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return embed_sql_fail(j, rc, "cannot read the source");
    int code = EXIT_DONE;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        char n[32];
        if (j->query)
            cli_error("the --query returns id %s on %s rows; its first column must be a unique "
                      "key (the output has one row per key)",
                      (const char *)sqlite3_column_text(st, 0),
                      cli_count(n, sqlite3_column_int64(st, 1)));
        else
            cli_error("key %s is on %s rows of %s; --id must name a unique column (the output "
                      "has one row per key)",
                      (const char *)sqlite3_column_text(st, 0),
                      cli_count(n, sqlite3_column_int64(st, 1)), j->made.source_table);
        code = EXIT_INPUT;
    } else if (rc != SQLITE_DONE) {
        code = embed_sql_fail(j, rc, "cannot read the source");
    }
    sqlite3_finalize(st);
    return code;
}

/* Prepares `sql` to check a piece of SQL the user gave: one read-only statement. */
static int check_user_sql(job *j, const char *flag, const char *sql, int want_columns) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(j->db, sql, -1, &st, &tail);
    int code = EXIT_DONE;
    if (rc != SQLITE_OK) {
        cli_error("%s: %s", flag, sqlite3_errmsg(j->db));
        code = EXIT_INPUT;
    } else if (!st || (tail && tail[strspn(tail, " \t\r\n;")])) {
        cli_error("%s must be one %s", flag,
                  want_columns ? "SELECT statement returning id, text" : "condition");
        code = EXIT_INPUT;
    } else if (!sqlite3_stmt_readonly(st)) {
        cli_error("%s must only read the database", flag);
        code = EXIT_INPUT;
    } else if (want_columns && sqlite3_column_count(st) != want_columns) {
        cli_error("%s must return 2 columns, a unique id and the text; it returns %d", flag,
                  sqlite3_column_count(st));
        code = EXIT_INPUT;
    }
    sqlite3_finalize(st);
    return code;
}

static int open_query(job *j) {
    size_t n = strlen(j->query);
    while (n > 0 && strchr(" \t\r\n;", j->query[n - 1])) n--;
    j->made.source_query = sqlite3_mprintf("%.*s", (int)n, j->query);
    int code = check_user_sql(j, "--query", j->made.source_query, 2);
    if (code != EXIT_DONE) return code;
    j->src = sqlite3_mprintf("WITH elmo_query(id, body) AS (%s), elmo_src(id, body) AS "
                             "(SELECT id, body FROM elmo_query WHERE id IS NOT NULL)",
                             j->made.source_query);
    j->cast_hint = sqlite3_mprintf("CAST the text column AS TEXT in the --query");
    return check_unique_key(j);
}

/* The table's name as the schema spells it and whether it is a view; NULL after a
 * message when there is none. */
static char *find_table(job *j, int *is_view) {
    int rc;
    char *type = lookup(j->db,
                        "SELECT type || ' ' || name FROM main.sqlite_schema WHERE type IN "
                        "('table', 'view') AND name = ?1 COLLATE NOCASE",
                        j->table, NULL, &rc);
    if (!type) {
        if (rc != SQLITE_OK) embed_sql_fail(j, rc, "cannot read the schema");
        else
            cli_error("no table or view '%s' in '%s'; check --table (list them with: sqlite3 %s "
                      ".tables)",
                      j->table, j->db_path, j->db_path);
        return NULL;
    }
    *is_view = strncmp(type, "view ", 5) == 0;
    char *name = sqlite3_mprintf("%s", strchr(type, ' ') + 1);
    sqlite3_free(type);
    return name;
}

static int open_table(job *j) {
    provenance *m = &j->made;
    int is_view = 0;
    if (!(m->source_table = find_table(j, &is_view))) return EXIT_INPUT;
    const char *kind = is_view ? "view" : "table";
    if (!(m->source_column = find_column(j, kind, j->column, "--column"))) return EXIT_INPUT;
    int unique = 0;
    if (j->id) {
        if (!(m->source_id = find_column(j, kind, j->id, "--id"))) return EXIT_INPUT;
        j->int_key = !is_view && is_rowid_alias(j, m->source_id);
        unique = j->int_key || (!is_view && declared_unique(j, m->source_id));
    } else if (is_view) {
        cli_error("'%s' is a view, which has no rowid; name its key column with --id",
                  m->source_table);
        return EXIT_INPUT;
    } else if (sqlite3_table_column_metadata(j->db, "main", m->source_table, "rowid", NULL, NULL,
                                             NULL, NULL, NULL) != SQLITE_OK) {
        cli_error("table '%s' has no rowid (it is WITHOUT ROWID); name its key column with --id",
                  m->source_table);
        return EXIT_INPUT;
    } else {
        m->source_id = sqlite3_mprintf("rowid");
        j->int_key = unique = 1;
    }
    char *key = strcmp(m->source_id, "rowid") == 0 ? sqlite3_mprintf("rowid")
                                                   : sqlite3_mprintf("\"%w\"", m->source_id);
    if (j->where) {
        size_t n = strlen(j->where);
        while (n > 0 && strchr(" \t\r\n;", j->where[n - 1])) n--;
        m->source_where = sqlite3_mprintf("%.*s", (int)n, j->where);
        char *check = sqlite3_mprintf("SELECT 1 FROM main.\"%w\" WHERE (%s)", m->source_table,
                                      m->source_where);
        int code = check_user_sql(j, "--where", check, 0);
        sqlite3_free(check);
        if (code != EXIT_DONE) {
            sqlite3_free(key);
            return code;
        }
    }
    j->src = sqlite3_mprintf("WITH elmo_src(id, body) AS (SELECT %s, \"%w\" FROM main.\"%w\" "
                             "WHERE %s IS NOT NULL%s%s%s)",
                             key, m->source_column, m->source_table, key,
                             m->source_where ? " AND (" : "",
                             m->source_where ? m->source_where : "", m->source_where ? ")" : "");
    if (!strchr(m->source_table, '\'') && !strchr(m->source_column, '\''))
        j->cast_hint = sqlite3_mprintf("--query 'SELECT %s, CAST(%s AS TEXT) FROM %s' with "
                                       "another --into",
                                       m->source_id, m->source_column, m->source_table);
    sqlite3_free(key);
    return unique ? EXIT_DONE : check_unique_key(j);
}

int embed_source_open(job *j) {
    return j->query ? open_query(j) : open_table(j);
}
