/*
 * tokens_vtab.c - elmo_tokens(text [, options]): an eponymous table-valued function with one
 * row per token of `text`: i, token, start, "end" (byte offsets into text), vector (the
 * mixed output of that token as a float32 BLOB). The whole text is run once, in xFilter.
 * Built like SQLite's ext/misc/series.c: the arguments are hidden columns.
 */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

enum { COL_I, COL_TOKEN, COL_START, COL_END, COL_VECTOR, COL_TEXT, COL_OPTIONS };

typedef struct tokens_vtab {
    sqlite3_vtab base;
    sqlite3 *db;
    ext_conn *conn;
} tokens_vtab;

typedef struct tokens_cursor {
    sqlite3_vtab_cursor base;
    char *text; /* copy of the text argument [len + 1] */
    size_t len;
    elmo_span *spans; /* [n] */
    size_t n;
    float *vectors; /* [n, width] */
    size_t width;
    sqlite3_value *options; /* copy of the options argument, or NULL */
    size_t row;
} tokens_cursor;

static int tokens_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                          sqlite3_vtab **out, char **err) {
    (void)argc;
    (void)argv;
    int rc = ext_declare_vtab(db,
                              "CREATE TABLE x(i INTEGER, token TEXT, start INTEGER, "
                              "\"end\" INTEGER, vector BLOB, text HIDDEN, options HIDDEN)",
                              err);
    if (rc != SQLITE_OK) return rc;
    tokens_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
    if (!vtab) return SQLITE_NOMEM;
    memset(vtab, 0, sizeof *vtab);
    vtab->db = db;
    vtab->conn = aux;
    *out = &vtab->base;
    return SQLITE_OK;
}

static int tokens_disconnect(sqlite3_vtab *vtab) {
    sqlite3_free(vtab);
    return SQLITE_OK;
}

static int tokens_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
    static const char *const missing[] = {"elmo_tokens: the text argument is missing; call it as "
                                          "elmo_tokens(text [, options]), e.g. SELECT * FROM "
                                          "elmo_tokens('The bank raised rates.')"};
    int rc = ext_plan_argument_list(vtab, info, COL_TEXT, 2, 1, missing);
    info->estimatedCost = 1000.0; /* one run of the model */
    info->estimatedRows = 20;
    return rc;
}

static int tokens_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
    (void)vtab;
    tokens_cursor *cur = sqlite3_malloc64(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    *out = &cur->base;
    return SQLITE_OK;
}

static void cursor_reset(tokens_cursor *cur) {
    sqlite3_free(cur->text);
    sqlite3_free(cur->spans);
    sqlite3_free(cur->vectors);
    sqlite3_value_free(cur->options);
    memset((char *)cur + sizeof cur->base, 0, sizeof *cur - sizeof cur->base);
}

static int tokens_close(sqlite3_vtab_cursor *base) {
    cursor_reset((tokens_cursor *)base);
    sqlite3_free(base);
    return SQLITE_OK;
}

static int fail(tokens_cursor *cur, int rc, char *msg) {
    return ext_vtab_fail(cur->base.pVtab, rc, msg);
}

static int tokens_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                         sqlite3_value **argv) {
    static const char fn[] = "elmo_tokens";
    (void)idxStr;
    tokens_cursor *cur = (tokens_cursor *)base;
    tokens_vtab *vtab = (tokens_vtab *)base->pVtab;
    cursor_reset(cur);
    if (!(idxNum & EXT_ARG_FIRST) || argc < 1) return SQLITE_OK; /* not reached */
    sqlite3_value *options_arg = idxNum & EXT_ARG_SECOND && argc > 1 ? argv[1] : NULL;
    ext_call_options opts;
    ext_text text = {0};
    char *msg = NULL;
    int rc = ext_options_parse(fn, options_arg, &opts, &msg);
    if (rc) return fail(cur, rc, msg);
    rc = ext_text_read(fn, argv[0], &vtab->conn->limits, opts.tokenizer, &text, &msg);
    if (rc == SQLITE_OK && !text.is_null && text.sentence.n_tokens > 0) {
        rc = ext_embed_tokens(vtab->db, fn, &opts, &text, &cur->vectors, &cur->width, &msg);
        if (rc == SQLITE_OK) {
            cur->text = sqlite3_malloc64(text.len + 1); /* the argument outlives xFilter */
            if (options_arg) cur->options = sqlite3_value_dup(options_arg);
            if (!cur->text || (options_arg && !cur->options)) rc = SQLITE_NOMEM;
        }
        if (rc == SQLITE_OK) {
            memcpy(cur->text, text.sentence.text, text.len);
            cur->text[text.len] = '\0';
            cur->len = text.len;
            cur->n = text.sentence.n_tokens;
            cur->spans = text.spans; /* the cursor owns them now */
            text.spans = NULL;
        }
    }
    ext_text_free(&text);
    ext_options_free(&opts);
    if (rc) {
        cursor_reset(cur);
        return fail(cur, rc, msg);
    }
    return SQLITE_OK;
}

static int tokens_next(sqlite3_vtab_cursor *base) {
    ((tokens_cursor *)base)->row++;
    return SQLITE_OK;
}

static int tokens_eof(sqlite3_vtab_cursor *base) {
    tokens_cursor *cur = (tokens_cursor *)base;
    return cur->row >= cur->n;
}

static int tokens_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col) {
    tokens_cursor *cur = (tokens_cursor *)base;
    const elmo_span *span = &cur->spans[cur->row];
    switch (col) {
    case COL_I: sqlite3_result_int64(ctx, (sqlite3_int64)cur->row); break;
    case COL_TOKEN:
        sqlite3_result_text64(ctx, cur->text + span->start, span->end - span->start,
                              SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    case COL_START: sqlite3_result_int64(ctx, (sqlite3_int64)span->start); break;
    case COL_END: sqlite3_result_int64(ctx, (sqlite3_int64)span->end); break;
    case COL_VECTOR:
        ext_result_vector(ctx, cur->vectors + cur->row * cur->width, cur->width);
        break;
    case COL_TEXT:
        sqlite3_result_text64(ctx, cur->text, cur->len, SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    case COL_OPTIONS:
        if (cur->options) sqlite3_result_value(ctx, cur->options);
        break;
    }
    return SQLITE_OK;
}

static int tokens_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid) {
    *rowid = (sqlite3_int64)((tokens_cursor *)base)->row;
    return SQLITE_OK;
}

const sqlite3_module ext_tokens_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = tokens_connect,
    .xBestIndex = tokens_best_index,
    .xDisconnect = tokens_disconnect,
    .xDestroy = NULL,
    .xOpen = tokens_open,
    .xClose = tokens_close,
    .xFilter = tokens_filter,
    .xNext = tokens_next,
    .xEof = tokens_eof,
    .xColumn = tokens_column,
    .xRowid = tokens_rowid,
};
