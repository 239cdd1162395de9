/*
 * models_vtab.c - elmo_models: an eponymous virtual table listing the registered models of
 * the process, one row per name, from a snapshot of the registry taken in xFilter.
 */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

enum {
    COL_NAME,
    COL_OPTIONS_PATH,
    COL_WEIGHTS_PATH,
    COL_DIM,
    COL_LAYERS,
    COL_PARAMS,
    COL_BYTES,
    COL_LSTM_LAYERS,
    COL_PROJECTION_DIM,
    COL_LSTM_DIM,
    COL_MODEL_ID,
    COL_FORMAT,
    COL_PRECISION,
    COL_FINGERPRINT,
    COL_KERNEL,
    COL_NOTICE,
    COL_VOCAB_SIZE,
    COL_HEAD_BYTES,
    COL_HEAD_FINGERPRINT
};

typedef struct models_cursor {
    sqlite3_vtab_cursor base;
    ext_registry_row *rows; /* [n] */
    int n;
    int row;
} models_cursor;

static int models_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                          sqlite3_vtab **out, char **err) {
    (void)aux;
    (void)argc;
    (void)argv;
    int rc = ext_declare_vtab(db,
                              "CREATE TABLE x(name TEXT, options_path TEXT, "
                              "weights_path TEXT, dim INTEGER, layers INTEGER, "
                              "params INTEGER, bytes INTEGER, lstm_layers INTEGER, "
                              "projection_dim INTEGER, lstm_dim INTEGER, "
                              "model_id INTEGER, format TEXT, precision TEXT, "
                              "fingerprint TEXT, kernel TEXT, notice TEXT, "
                              "vocab_size INTEGER, head_bytes INTEGER, head_fingerprint TEXT)",
                              err);
    if (rc != SQLITE_OK) return rc;
    sqlite3_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
    if (!vtab) return SQLITE_NOMEM;
    memset(vtab, 0, sizeof *vtab);
    *out = vtab;
    return SQLITE_OK;
}

static int models_disconnect(sqlite3_vtab *vtab) {
    sqlite3_free(vtab);
    return SQLITE_OK;
}

static int models_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
    (void)vtab;
    info->estimatedCost = 10.0;
    info->estimatedRows = 4;
    return SQLITE_OK;
}

static int models_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
    (void)vtab;
    models_cursor *cur = sqlite3_malloc64(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    *out = &cur->base;
    return SQLITE_OK;
}

static int models_close(sqlite3_vtab_cursor *base) {
    models_cursor *cur = (models_cursor *)base;
    ext_registry_rows_free(cur->rows, cur->n);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int models_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                         sqlite3_value **argv) {
    (void)idxNum;
    (void)idxStr;
    (void)argc;
    (void)argv;
    models_cursor *cur = (models_cursor *)base;
    ext_registry_rows_free(cur->rows, cur->n);
    cur->rows = NULL;
    cur->n = cur->row = 0;
    return ext_registry_list(&cur->rows, &cur->n);
}

static int models_next(sqlite3_vtab_cursor *base) {
    ((models_cursor *)base)->row++;
    return SQLITE_OK;
}

static int models_eof(sqlite3_vtab_cursor *base) {
    models_cursor *cur = (models_cursor *)base;
    return cur->row >= cur->n;
}

static int models_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col) {
    models_cursor *cur = (models_cursor *)base;
    const ext_registry_row *r = &cur->rows[cur->row];
    switch (col) {
    case COL_NAME: sqlite3_result_text(ctx, r->name, -1, SQLITE_TRANSIENT); break;
    case COL_OPTIONS_PATH: sqlite3_result_text(ctx, r->options_path, -1, SQLITE_TRANSIENT); break;
    case COL_WEIGHTS_PATH: sqlite3_result_text(ctx, r->weights_path, -1, SQLITE_TRANSIENT); break;
    case COL_DIM: sqlite3_result_int(ctx, r->info.output_dim); break;
    case COL_LAYERS: sqlite3_result_int(ctx, r->info.n_output_layers); break;
    case COL_PARAMS: sqlite3_result_int64(ctx, r->info.n_params); break;
    case COL_BYTES: sqlite3_result_int64(ctx, r->info.weight_bytes); break;
    case COL_LSTM_LAYERS: sqlite3_result_int(ctx, r->info.n_lstm_layers); break;
    case COL_PROJECTION_DIM: sqlite3_result_int(ctx, r->info.projection_dim); break;
    case COL_LSTM_DIM: sqlite3_result_int(ctx, r->info.lstm_dim); break;
    case COL_MODEL_ID: sqlite3_result_int64(ctx, r->model_id); break;
    case COL_FORMAT: sqlite3_result_text(ctx, r->info.format, -1, SQLITE_TRANSIENT); break;
    case COL_PRECISION:
        sqlite3_result_text(ctx, elmo_precision_name(r->info.precision), -1, SQLITE_STATIC);
        break;
    case COL_FINGERPRINT:
        sqlite3_result_text(ctx, r->info.fingerprint, -1, SQLITE_TRANSIENT);
        break;
    case COL_KERNEL: sqlite3_result_text(ctx, r->info.kernel, -1, SQLITE_TRANSIENT); break;
    case COL_NOTICE:
        if (r->info.notice[0]) sqlite3_result_text(ctx, r->info.notice, -1, SQLITE_TRANSIENT);
        else sqlite3_result_null(ctx);
        break;
    case COL_VOCAB_SIZE: /* the language-model head: NULL without one */
        if (r->info.vocab_size) sqlite3_result_int64(ctx, r->info.vocab_size);
        break;
    case COL_HEAD_BYTES:
        if (r->info.vocab_size) sqlite3_result_int64(ctx, r->info.head_bytes);
        break;
    case COL_HEAD_FINGERPRINT:
        if (r->info.vocab_size)
            sqlite3_result_text(ctx, r->info.head_fingerprint, -1, SQLITE_TRANSIENT);
        break;
    }
    return SQLITE_OK;
}

static int models_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid) {
    *rowid = ((models_cursor *)base)->row + 1;
    return SQLITE_OK;
}

const sqlite3_module ext_models_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = models_connect,
    .xBestIndex = models_best_index,
    .xDisconnect = models_disconnect,
    .xDestroy = NULL,
    .xOpen = models_open,
    .xClose = models_close,
    .xFilter = models_filter,
    .xNext = models_next,
    .xEof = models_eof,
    .xColumn = models_column,
    .xRowid = models_rowid,
};
