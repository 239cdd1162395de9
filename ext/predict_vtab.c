/*
 * predict_vtab.c - elmo_predict(text, k [, options]): the k likeliest words for a slot, as
 * an eponymous table-valued function with the columns rank, word, logprob,
 * logprob_forward, logprob_backward.
 *
 * With one mask token in the text (default "[MASK]", option "mask") the slot is the mask:
 * words are ranked by the mean of the forward model's log-probability given the words
 * before it and the backward model's given the words after (LAMA's masked-word score).
 * Without one, the slot is the word after the text (forward model only; logprob_backward
 * is NULL). <S>, </S> and <UNK> are never returned unless the option "exclude" replaces
 * that list ({"exclude":[]} keeps every word).
 */
#include <math.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

enum {
    COL_RANK,
    COL_WORD,
    COL_LOGPROB,
    COL_LOGPROB_FORWARD,
    COL_LOGPROB_BACKWARD,
    COL_TEXT,
    COL_K,
    COL_OPTIONS
};

typedef struct predict_vtab {
    sqlite3_vtab base;
    sqlite3 *db;
    ext_conn *conn;
} predict_vtab;

typedef struct predict_cursor {
    sqlite3_vtab_cursor base;
    ext_handle *handle; /* keeps the words alive */
    const elmo_model *model;
    elmo_lm_prediction *top; /* [k] */
    size_t n;                /* candidates found (<= k) */
    sqlite3_value *args[3];  /* copies of text, k, options */
    size_t row;
} predict_cursor;

static int predict_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                           sqlite3_vtab **out, char **err) {
    (void)argc;
    (void)argv;
    int rc = ext_declare_vtab(db,
                              "CREATE TABLE x(rank INTEGER, word TEXT, logprob REAL, "
                              "logprob_forward REAL, logprob_backward REAL, text HIDDEN, "
                              "k HIDDEN, options HIDDEN)",
                              err);
    if (rc != SQLITE_OK) return rc;
    predict_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
    if (!vtab) return SQLITE_NOMEM;
    memset(vtab, 0, sizeof *vtab);
    vtab->db = db;
    vtab->conn = aux;
    *out = &vtab->base;
    return SQLITE_OK;
}

static int predict_disconnect(sqlite3_vtab *vtab) {
    sqlite3_free(vtab);
    return SQLITE_OK;
}

static int predict_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
    static const char *const missing[] = {
        "elmo_predict: the text argument is missing; call it as elmo_predict(text, k [, "
        "options]), e.g. SELECT word, logprob FROM elmo_predict('Let''s hang [MASK] tonight .', "
        "5)",
        "elmo_predict: the k argument is missing; call it as elmo_predict(text, k [, options]) "
        "with k the number of words to return, e.g. SELECT word, logprob FROM "
        "elmo_predict('Let''s hang [MASK] tonight .', 5)"};
    int rc = ext_plan_argument_list(vtab, info, COL_TEXT, 3, 2, missing);
    info->estimatedCost = 10000.0; /* a run of the model and of its head */
    info->estimatedRows = 10;
    return rc;
}

static int predict_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
    (void)vtab;
    predict_cursor *cur = sqlite3_malloc64(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    *out = &cur->base;
    return SQLITE_OK;
}

static void cursor_reset(predict_cursor *cur) {
    ext_registry_release(cur->handle);
    sqlite3_free(cur->top);
    for (int i = 0; i < 3; i++) sqlite3_value_free(cur->args[i]);
    memset((char *)cur + sizeof cur->base, 0, sizeof *cur - sizeof cur->base);
}

static int predict_close(sqlite3_vtab_cursor *base) {
    cursor_reset((predict_cursor *)base);
    sqlite3_free(base);
    return SQLITE_OK;
}

/* k: an INTEGER from 1 to the words scored (vocab_limit, or the vocabulary). */
static int read_k(const char *fn, sqlite3_value *v, const elmo_model *model,
                  const ext_lm_options *o, size_t *k, char **msg) {
    elmo_model_info info;
    elmo_model_get_info(model, &info);
    sqlite3_int64 most = o->lm.vocab_limit ? o->lm.vocab_limit : info.vocab_size;
    int type = sqlite3_value_type(v);
    sqlite3_int64 x = sqlite3_value_int64(v);
    if (type == SQLITE_INTEGER && x >= 1 && x <= most) {
        *k = (size_t)x;
        return SQLITE_OK;
    }
    char *got = type == SQLITE_INTEGER ? sqlite3_mprintf("%lld", (long long)x)
                                       : sqlite3_mprintf("%s", ext_type_name(type));
    *msg = got ? sqlite3_mprintf("%s: k must be an integer from 1 to %lld (%s), got %s", fn,
                                 (long long)most,
                                 o->lm.vocab_limit ? "vocab_limit" : "the words of the model", got)
               : NULL;
    sqlite3_free(got);
    return SQLITE_ERROR;
}

/* Runs the prediction; on success the cursor holds the model and the k candidates. */
static int predict(predict_cursor *cur, predict_vtab *vtab, sqlite3_value **args, char **msg) {
    static const char fn[] = "elmo_predict";
    ext_lm_options opts;
    ext_text text = {0};
    ext_lm_call call = {0};
    size_t k = 0;
    int64_t mask = ELMO_LM_NEXT_WORD;
    int rc = ext_lm_options_parse(fn, EXT_LM_PREDICT, args[2], &opts, msg);
    if (rc) return rc;
    if (!(rc = ext_lm_text_read(fn, args[0], &vtab->conn->limits, &opts, &text, &mask, msg)) &&
        !text.is_null && !(rc = ext_lm_begin(fn, vtab->db, &opts, 0, &call, msg)) &&
        !(rc = read_k(fn, args[1], call.model, &opts, &k, msg))) {
        elmo_error err;
        cur->top = sqlite3_malloc64(k * sizeof *cur->top);
        if (!cur->top) rc = SQLITE_NOMEM;
        else if (elmo_lm_predict(call.model, &call.run, &call.lm, &text.sentence, &mask, 1, k,
                                 cur->top, &err))
            rc = ext_core_failure(fn, &err, msg);
        while (!rc && cur->n < k && cur->top[cur->n].vocab_id >= 0) cur->n++;
        if (!rc) { /* the words stay valid while the cursor holds the model */
            cur->handle = call.handle;
            cur->model = call.model;
            call.handle = NULL;
        }
    }
    ext_lm_end(&call);
    ext_text_free(&text);
    ext_lm_options_free(&opts);
    return rc;
}

static int predict_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                          sqlite3_value **argv) {
    (void)idxStr;
    predict_cursor *cur = (predict_cursor *)base;
    cursor_reset(cur);
    sqlite3_value *args[3] = {NULL, NULL, NULL};
    for (int a = 0, at = 0; a < 3; a++)
        if (idxNum & EXT_ARG_FIRST << a && at < argc) args[a] = argv[at++];
    if (!args[0] || !args[1]) return SQLITE_OK; /* not reached */
    char *msg = NULL;
    int rc = predict(cur, (predict_vtab *)base->pVtab, args, &msg);
    for (int a = 0; !rc && a < 3; a++)
        if (args[a] && !(cur->args[a] = sqlite3_value_dup(args[a]))) rc = SQLITE_NOMEM;
    if (rc) {
        cursor_reset(cur);
        return ext_vtab_fail(base->pVtab, rc, msg);
    }
    return SQLITE_OK;
}

static int predict_next(sqlite3_vtab_cursor *base) {
    ((predict_cursor *)base)->row++;
    return SQLITE_OK;
}

static int predict_eof(sqlite3_vtab_cursor *base) {
    predict_cursor *cur = (predict_cursor *)base;
    return cur->row >= cur->n;
}

static int predict_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col) {
    predict_cursor *cur = (predict_cursor *)base;
    const elmo_lm_prediction *p = &cur->top[cur->row];
    size_t len = 0;
    const char *word;
    switch (col) {
    case COL_RANK: sqlite3_result_int64(ctx, (sqlite3_int64)cur->row + 1); break;
    case COL_WORD:
        word = elmo_vocab_word(cur->model, p->vocab_id, &len);
        sqlite3_result_text64(ctx, word, len, SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    case COL_LOGPROB: sqlite3_result_double(ctx, p->logprob); break;
    case COL_LOGPROB_FORWARD: sqlite3_result_double(ctx, p->logprob_forward); break;
    case COL_LOGPROB_BACKWARD:
        if (!isnan(p->logprob_backward)) sqlite3_result_double(ctx, p->logprob_backward);
        break;
    case COL_TEXT:
    case COL_K:
    case COL_OPTIONS:
        if (cur->args[col - COL_TEXT]) sqlite3_result_value(ctx, cur->args[col - COL_TEXT]);
        break;
    }
    return SQLITE_OK;
}

static int predict_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid) {
    *rowid = (sqlite3_int64)((predict_cursor *)base)->row + 1;
    return SQLITE_OK;
}

const sqlite3_module ext_predict_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = predict_connect,
    .xBestIndex = predict_best_index,
    .xDisconnect = predict_disconnect,
    .xDestroy = NULL,
    .xOpen = predict_open,
    .xClose = predict_close,
    .xFilter = predict_filter,
    .xNext = predict_next,
    .xEof = predict_eof,
    .xColumn = predict_column,
    .xRowid = predict_rowid,
};
