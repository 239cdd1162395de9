/*
 * lm_vtab.c - elmo_lm(text [, options]): an eponymous table-valued function scoring every
 * token of `text` with the model's language-model head. One row per token (i, token,
 * start, "end" as elmo_tokens gives them), after a row for <S> (i = -1, empty span at 0: a
 * target of the backward model only) and before a row for </S> (i = n, empty span at the
 * end: a target of the forward model only). Columns vocab_id (NULL when the token is
 * scored as <UNK>), logprob_forward, logprob_backward, rank_forward, rank_backward (NULL
 * where the direction does not apply). The text is scored once, in xFilter.
 */
#include <math.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

enum {
    COL_I,
    COL_TOKEN,
    COL_START,
    COL_END,
    COL_VOCAB_ID,
    COL_LOGPROB_FORWARD,
    COL_LOGPROB_BACKWARD,
    COL_RANK_FORWARD,
    COL_RANK_BACKWARD,
    COL_TEXT,
    COL_OPTIONS
};

typedef struct lm_vtab {
    sqlite3_vtab base;
    sqlite3 *db;
    ext_conn *conn;
} lm_vtab;

typedef struct lm_cursor {
    sqlite3_vtab_cursor base;
    char *text; /* copy of the text argument [len + 1] */
    size_t len;
    elmo_span *spans;      /* [n] */
    size_t n;              /* tokens; the rows are n + 2 */
    elmo_lm_token *scores; /* [n + 2] */
    sqlite3_value *options;
    size_t row;
} lm_cursor;

static int lm_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                      char **err) {
    (void)argc;
    (void)argv;
    int rc = ext_declare_vtab(db,
                              "CREATE TABLE x(i INTEGER, token TEXT, start INTEGER, "
                              "\"end\" INTEGER, vocab_id INTEGER, logprob_forward REAL, "
                              "logprob_backward REAL, rank_forward INTEGER, "
                              "rank_backward INTEGER, text HIDDEN, options HIDDEN)",
                              err);
    if (rc != SQLITE_OK) return rc;
    lm_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
    if (!vtab) return SQLITE_NOMEM;
    memset(vtab, 0, sizeof *vtab);
    vtab->db = db;
    vtab->conn = aux;
    *out = &vtab->base;
    return SQLITE_OK;
}

static int lm_disconnect(sqlite3_vtab *vtab) {
    sqlite3_free(vtab);
    return SQLITE_OK;
}

static int lm_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
    static const char *const missing[] = {
        "elmo_lm: the text argument is missing; call it as elmo_lm(text [, options]), e.g. "
        "SELECT token, logprob_forward FROM elmo_lm('The bank raised rates.')"};
    int rc = ext_plan_argument_list(vtab, info, COL_TEXT, 2, 1, missing);
    info->estimatedCost = 10000.0; /* a run of the model and of its head */
    info->estimatedRows = 20;
    return rc;
}

static int lm_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
    (void)vtab;
    lm_cursor *cur = sqlite3_malloc64(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    *out = &cur->base;
    return SQLITE_OK;
}

static void cursor_reset(lm_cursor *cur) {
    sqlite3_free(cur->text);
    sqlite3_free(cur->spans);
    sqlite3_free(cur->scores);
    sqlite3_value_free(cur->options);
    memset((char *)cur + sizeof cur->base, 0, sizeof *cur - sizeof cur->base);
}

static int lm_close(sqlite3_vtab_cursor *base) {
    cursor_reset((lm_cursor *)base);
    sqlite3_free(base);
    return SQLITE_OK;
}

/* Scores the text into the cursor (which takes over its spans). */
static int score(lm_cursor *cur, sqlite3 *db, const ext_lm_options *opts, ext_text *text,
                 sqlite3_value *options_arg, char **msg) {
    static const char fn[] = "elmo_lm";
    size_t n = text->sentence.n_tokens;
    ext_lm_call call;
    int rc = ext_lm_begin(fn, db, opts, 1, &call, msg);
    if (rc) return rc;
    elmo_error err;
    cur->scores = sqlite3_malloc64((n + 2) * sizeof *cur->scores);
    cur->text = sqlite3_malloc64(text->len + 1); /* the argument outlives xFilter */
    if (options_arg) cur->options = sqlite3_value_dup(options_arg);
    if (!cur->scores || !cur->text || (options_arg && !cur->options)) rc = SQLITE_NOMEM;
    else if (elmo_lm_score(call.model, &call.run, &call.lm, &text->sentence, 1, cur->scores, &err))
        rc = ext_core_failure(fn, &err, msg);
    ext_lm_end(&call);
    if (rc) return rc;
    memcpy(cur->text, text->sentence.text, text->len);
    cur->text[text->len] = '\0';
    cur->len = text->len;
    cur->n = n;
    cur->spans = text->spans;
    text->spans = NULL;
    return SQLITE_OK;
}

static int lm_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                     sqlite3_value **argv) {
    static const char fn[] = "elmo_lm";
    (void)idxStr;
    lm_cursor *cur = (lm_cursor *)base;
    lm_vtab *vtab = (lm_vtab *)base->pVtab;
    cursor_reset(cur);
    if (!(idxNum & EXT_ARG_FIRST) || argc < 1) return SQLITE_OK; /* not reached */
    sqlite3_value *options_arg = idxNum & EXT_ARG_SECOND && argc > 1 ? argv[1] : NULL;
    ext_lm_options opts;
    ext_text text = {0};
    char *msg = NULL;
    int rc = ext_lm_options_parse(fn, EXT_LM_SCORE, options_arg, &opts, &msg);
    if (rc) return ext_vtab_fail(base->pVtab, rc, msg);
    rc = ext_text_read(fn, argv[0], &vtab->conn->limits, opts.tokenizer, &text, &msg);
    if (rc == SQLITE_OK && !text.is_null && text.sentence.n_tokens > 0)
        rc = score(cur, vtab->db, &opts, &text, options_arg, &msg);
    ext_text_free(&text);
    ext_lm_options_free(&opts);
    if (rc) {
        cursor_reset(cur);
        return ext_vtab_fail(base->pVtab, rc, msg);
    }
    return SQLITE_OK;
}

static int lm_next(sqlite3_vtab_cursor *base) {
    ((lm_cursor *)base)->row++;
    return SQLITE_OK;
}

static int lm_eof(sqlite3_vtab_cursor *base) {
    lm_cursor *cur = (lm_cursor *)base;
    return cur->scores == NULL || cur->row >= cur->n + 2;
}

static void result_maybe_double(sqlite3_context *ctx, double x) {
    if (!isnan(x)) sqlite3_result_double(ctx, x);
}

static int lm_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col) {
    lm_cursor *cur = (lm_cursor *)base;
    size_t row = cur->row, n = cur->n;
    const elmo_lm_token *s = &cur->scores[row];
    /* row 0 is <S>, rows 1..n the tokens, row n + 1 </S> */
    size_t start = row == 0 ? 0 : row > n ? cur->len : cur->spans[row - 1].start;
    size_t end = row == 0 ? 0 : row > n ? cur->len : cur->spans[row - 1].end;
    switch (col) {
    case COL_I: sqlite3_result_int64(ctx, (sqlite3_int64)row - 1); break;
    case COL_TOKEN:
        if (row == 0 || row > n) sqlite3_result_text(ctx, row ? "</S>" : "<S>", -1, SQLITE_STATIC);
        else
            sqlite3_result_text64(ctx, cur->text + start, end - start, SQLITE_TRANSIENT,
                                  SQLITE_UTF8);
        break;
    case COL_START: sqlite3_result_int64(ctx, (sqlite3_int64)start); break;
    case COL_END: sqlite3_result_int64(ctx, (sqlite3_int64)end); break;
    case COL_VOCAB_ID:
        if (s->vocab_id >= 0) sqlite3_result_int64(ctx, s->vocab_id);
        break;
    case COL_LOGPROB_FORWARD: result_maybe_double(ctx, s->logprob_forward); break;
    case COL_LOGPROB_BACKWARD: result_maybe_double(ctx, s->logprob_backward); break;
    case COL_RANK_FORWARD:
        if (s->rank_forward) sqlite3_result_int64(ctx, s->rank_forward);
        break;
    case COL_RANK_BACKWARD:
        if (s->rank_backward) sqlite3_result_int64(ctx, s->rank_backward);
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

static int lm_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid) {
    *rowid = (sqlite3_int64)((lm_cursor *)base)->row;
    return SQLITE_OK;
}

const sqlite3_module ext_lm_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = lm_connect,
    .xBestIndex = lm_best_index,
    .xDisconnect = lm_disconnect,
    .xDestroy = NULL,
    .xOpen = lm_open,
    .xClose = lm_close,
    .xFilter = lm_filter,
    .xNext = lm_next,
    .xEof = lm_eof,
    .xColumn = lm_column,
    .xRowid = lm_rowid,
};
