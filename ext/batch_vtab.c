/*
 * batch_vtab.c - elmo_batch(sql [, options]): embeds a whole column at batch speed.
 *
 *   INSERT INTO doc_vec SELECT id, vector FROM elmo_batch('SELECT id, body FROM docs');
 *
 * The inner query returns (id, text) rows. They are read a window at a time, the window's
 * texts are embedded by elmo_embed_batch (which sorts them by length into GEMM-sized
 * batches), and the rows come out in input order as (id, vector), the vector being what
 * elmo_embed(text, options) returns. Memory is bounded by the window, not the column.
 *
 * With the output 'perplexity' the window is scored by elmo_lm_perplexity instead and the
 * hidden column perplexity holds what elmo_perplexity(text, options) returns (vector is
 * NULL): SELECT id, perplexity FROM elmo_batch(sql, '{"output":"perplexity"}').
 *
 * A bad row (not text, over a limit) fails the statement, or with the option on_error
 * 'skip' comes out with a NULL vector (or perplexity) and its message in the hidden column
 * `error`, so a long job keeps its work and learns which rows failed and why.
 */
#include <math.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

enum { COL_ID, COL_VECTOR, COL_SQL, COL_OPTIONS, COL_PERPLEXITY, COL_ERROR };

/* A window ends at this many rows or token positions, whichever comes first: large enough
 * for the core to form full batches of similar lengths, small enough to keep memory and
 * the wait for the first row modest. */
#define WINDOW_ROWS 4096
#define WINDOW_POSITIONS 32768

typedef struct batch_vtab {
    sqlite3_vtab base;
    sqlite3 *db;
    ext_conn *conn;
} batch_vtab;

/* The rows of one window. */
typedef struct window {
    size_t n; /* rows read */
    sqlite3_value *id[WINDOW_ROWS];
    sqlite3_value *text[WINDOW_ROWS]; /* copies of the text values (NULL: no vector) */
    char *error[WINDOW_ROWS];         /* on_error 'skip': why the row has no vector */
    elmo_span *spans[WINDOW_ROWS];
    elmo_sentence sentence[WINDOW_ROWS];
    float *vectors; /* [WINDOW_ROWS, width] */
    double *ppl;    /* [WINDOW_ROWS] with the output 'perplexity' */
} window;

typedef struct batch_cursor {
    sqlite3_vtab_cursor base;
    sqlite3_stmt *query;     /* the caller's SELECT, NULL once exhausted */
    sqlite3_int64 query_row; /* rows read from it so far */
    ext_interrupt interrupt;
    ext_call_options opts;
    int have_opts;
    int lm;                 /* the output 'perplexity' (lm_opts instead of opts) */
    ext_lm_options lm_opts; /* valid when lm */
    elmo_tokenizer tokenizer;
    int on_error_skip; /* on_error 'skip', from either options */
    ext_handle *handle;
    elmo_mix mix;
    size_t width;
    sqlite3_value *sql_arg, *options_arg;
    window *win;
    size_t at; /* current row of the window */
    sqlite3_int64 rowid;
} batch_cursor;

static int batch_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **err) {
    (void)argc;
    (void)argv;
    int rc = ext_declare_vtab(db,
                              "CREATE TABLE x(id, vector BLOB, sql HIDDEN, "
                              "options HIDDEN, perplexity REAL HIDDEN, error TEXT HIDDEN)",
                              err);
    /* It runs the SQL it is given as top-level SQL: never from a view or trigger of a
     * database, which could otherwise reach functions SQLite keeps from schema SQL. */
    if (rc == SQLITE_OK) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    if (rc != SQLITE_OK) return rc;
    batch_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
    if (!vtab) return SQLITE_NOMEM;
    memset(vtab, 0, sizeof *vtab);
    vtab->db = db;
    vtab->conn = aux;
    *out = &vtab->base;
    return SQLITE_OK;
}

static int batch_disconnect(sqlite3_vtab *vtab) {
    sqlite3_free(vtab);
    return SQLITE_OK;
}

static int batch_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
    static const char *const missing[] = {
        "elmo_batch: the sql argument is missing; call it as "
        "elmo_batch(sql [, options]), e.g. SELECT id, vector FROM "
        "elmo_batch('SELECT id, body FROM docs')"};
    int rc = ext_plan_argument_list(vtab, info, COL_SQL, 2, 1, missing);
    info->estimatedCost = 1e9; /* runs the model over a whole query */
    info->estimatedRows = 100000;
    return rc;
}

static int batch_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
    (void)vtab;
    batch_cursor *cur = sqlite3_malloc64(sizeof *cur);
    if (!cur) return SQLITE_NOMEM;
    memset(cur, 0, sizeof *cur);
    *out = &cur->base;
    return SQLITE_OK;
}

static void window_clear(window *w) {
    for (size_t i = 0; i < w->n; i++) {
        sqlite3_value_free(w->id[i]);
        sqlite3_value_free(w->text[i]);
        sqlite3_free(w->spans[i]);
        sqlite3_free(w->error[i]);
    }
    w->n = 0;
}

static void cursor_reset(batch_cursor *cur) {
    if (cur->win) {
        window_clear(cur->win);
        sqlite3_free(cur->win->vectors);
        sqlite3_free(cur->win->ppl);
        sqlite3_free(cur->win);
    }
    sqlite3_finalize(cur->query);
    ext_interrupt_close(&cur->interrupt);
    if (cur->have_opts) ext_options_free(&cur->opts);
    if (cur->lm) ext_lm_options_free(&cur->lm_opts);
    ext_registry_release(cur->handle);
    sqlite3_value_free(cur->sql_arg);
    sqlite3_value_free(cur->options_arg);
    memset((char *)cur + sizeof cur->base, 0, sizeof *cur - sizeof cur->base);
}

static int batch_close(sqlite3_vtab_cursor *base) {
    cursor_reset((batch_cursor *)base);
    sqlite3_free(base);
    return SQLITE_OK;
}

static int fail(batch_cursor *cur, int rc, char *msg) {
    return ext_vtab_fail(cur->base.pVtab, rc, msg);
}

/* Prepares the caller's query and checks that it is one read-only (id, text) SELECT. */
static int prepare_query(batch_cursor *cur, sqlite3 *db, sqlite3_value *sql_value, char **msg) {
    static const char fn[] = "elmo_batch";
    if (sqlite3_value_type(sql_value) != SQLITE_TEXT) {
        *msg = sqlite3_mprintf("%s: sql must be TEXT (a SELECT returning id, text), got %s", fn,
                               ext_type_name(sqlite3_value_type(sql_value)));
        return SQLITE_ERROR;
    }
    const char *sql = (const char *)sqlite3_value_text(sql_value), *tail = NULL;
    if (!sql) return SQLITE_NOMEM;
    if (ext_check_no_nul(fn, "sql", sql, (size_t)sqlite3_value_bytes(sql_value), msg))
        return SQLITE_ERROR;
    int rc = sqlite3_prepare_v2(db, sql, -1, &cur->query, &tail);
    if (rc == SQLITE_INTERRUPT) {
        *msg = sqlite3_mprintf("interrupted");
        return rc;
    }
    if (rc != SQLITE_OK) {
        *msg = sqlite3_mprintf("%s: cannot prepare the query: %s", fn, sqlite3_errmsg(db));
        return SQLITE_ERROR;
    }
    while (tail &&
           (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';'))
        tail++;
    char shown[EXT_SHOWN_MAX + 1];
    if (!cur->query) {
        *msg = sqlite3_mprintf("%s: the query is empty; give a SELECT returning id, text", fn);
    } else if (tail && *tail) {
        *msg = sqlite3_mprintf("%s: give one SELECT statement; found more after it: '%s'", fn,
                               ext_shown(tail, shown));
    } else if (!sqlite3_stmt_readonly(cur->query)) {
        *msg = sqlite3_mprintf("%s: the query must be a read-only SELECT returning id, text", fn);
    } else if (sqlite3_column_count(cur->query) != 2) {
        *msg = sqlite3_mprintf("%s: the query must return 2 columns (id, text); it returns %d", fn,
                               sqlite3_column_count(cur->query));
    } else {
        return SQLITE_OK;
    }
    return SQLITE_ERROR;
}

/* Prefixes a row error with where it happened: "elmo_batch: row 7 (id 42): ...". */
static char *row_message(batch_cursor *cur, sqlite3_value *id, char *inner) {
    static const char prefix[] = "elmo_batch: ";
    const char *rest = inner && strncmp(inner, prefix, sizeof prefix - 1) == 0
                           ? inner + sizeof prefix - 1
                           : (inner ? inner : "out of memory");
    char shown[EXT_SHOWN_MAX + 1];
    const char *id_text = sqlite3_value_type(id) == SQLITE_NULL ? "NULL"
                          : sqlite3_value_type(id) == SQLITE_BLOB
                              ? "a BLOB"
                              : (const char *)sqlite3_value_text(id);
    char *msg =
        sqlite3_mprintf("%srow %lld of the query (id %s): %s", prefix, (long long)cur->query_row,
                        id_text ? ext_shown(id_text, shown) : "?", rest);
    sqlite3_free(inner);
    return msg;
}

/* Adds the query's current row to the window; *positions grows by its token positions. */
static int take_row(batch_cursor *cur, const ext_limits *limits, size_t *positions, char **msg) {
    window *w = cur->win;
    size_t k = w->n;
    ext_text text = {0};
    /* Column values live until the next step and are unprotected: keep protected copies
     * (the sentence points into the text copy's bytes). */
    sqlite3_value *id = sqlite3_value_dup(sqlite3_column_value(cur->query, 0));
    sqlite3_value *body = sqlite3_value_dup(sqlite3_column_value(cur->query, 1));
    w->id[k] = id;
    w->text[k] = body;
    w->spans[k] = NULL;
    w->error[k] = NULL;
    w->sentence[k] = (elmo_sentence){0};
    w->n++;
    if (!id || !body) return SQLITE_NOMEM;
    int rc = ext_text_read("elmo_batch", body, limits, cur->tokenizer, &text, msg);
    if (rc && rc != SQLITE_NOMEM && *msg && cur->on_error_skip) { /* the row's fault */
        ext_message_clean(*msg);
        w->error[k] = *msg;
        *msg = NULL;
        sqlite3_value_free(body);
        w->text[k] = NULL;
        return SQLITE_OK;
    }
    if (rc) {
        *msg = row_message(cur, id, *msg);
        return rc;
    }
    if (!text.is_null && text.sentence.n_tokens > 0) {
        w->spans[k] = text.spans;
        w->sentence[k] = text.sentence;
        *positions += text.sentence.n_tokens + 2;
        text.spans = NULL;
    } else {
        sqlite3_value_free(body); /* NULL or no tokens: no vector */
        w->text[k] = NULL;
    }
    ext_text_free(&text);
    return SQLITE_OK;
}

/* Reads the next window of rows and embeds it. An empty window means the end. */
static int fill_window(batch_cursor *cur) {
    batch_vtab *vtab = (batch_vtab *)cur->base.pVtab;
    window *w = cur->win;
    char *msg = NULL;
    int rc = SQLITE_OK;
    window_clear(w);
    cur->at = 0;
    size_t positions = 0;
    while (cur->query && w->n < WINDOW_ROWS && positions < WINDOW_POSITIONS) {
        int step = sqlite3_step(cur->query);
        if (step == SQLITE_DONE) {
            sqlite3_finalize(cur->query);
            cur->query = NULL;
            break;
        }
        if (step != SQLITE_ROW) {
            if (step == SQLITE_INTERRUPT)
                return fail(cur, SQLITE_INTERRUPT, sqlite3_mprintf("interrupted"));
            return fail(cur, step,
                        sqlite3_mprintf("elmo_batch: the query failed at row %lld: %s",
                                        (long long)cur->query_row + 1, sqlite3_errmsg(vtab->db)));
        }
        cur->query_row++;
        if ((rc = take_row(cur, &vtab->conn->limits, &positions, &msg)) != SQLITE_OK)
            return fail(cur, rc, msg);
    }
    if (positions == 0) return SQLITE_OK; /* nothing to embed (all NULL or no tokens) */

    elmo_run_params run = elmo_run_default_params();
    run.interrupt = ext_interrupt_poll;
    run.interrupt_arg = &cur->interrupt;
    elmo_embed_params params = elmo_embed_default_params();
    params.mix = cur->mix;
    params.pooling = cur->opts.pooling;
    elmo_error err;
    const elmo_model *model = ext_handle_model(cur->handle);
    if (cur->lm ? elmo_lm_perplexity(model, &run, &cur->lm_opts.lm, w->sentence, w->n, w->ppl, &err)
                : elmo_embed_batch(model, &run, &params, w->sentence, w->n, w->vectors, &err)) {
        rc = ext_core_failure("elmo_batch", &err, &msg);
        return fail(cur, rc, msg);
    }
    return SQLITE_OK;
}

/* Parses the options (embedding, or the output 'perplexity') and takes the model. */
static int prepare_model(batch_cursor *cur, sqlite3_value *options, char **msg) {
    static const char fn[] = "elmo_batch";
    int rc;
    cur->lm = ext_lm_options_wanted(options);
    if (cur->lm) {
        if ((rc = ext_lm_options_parse(fn, EXT_LM_BATCH, options, &cur->lm_opts, msg))) {
            cur->lm = 0; /* nothing to free */
            return rc;
        }
        cur->tokenizer = cur->lm_opts.tokenizer;
        cur->on_error_skip = cur->lm_opts.on_error_skip;
        const char *name = cur->lm_opts.model ? cur->lm_opts.model : EXT_DEFAULT_MODEL;
        if ((rc = ext_registry_acquire(fn, name, &cur->handle, msg))) return rc;
        return ext_lm_check_model(fn, &cur->lm_opts, ext_handle_model(cur->handle), 1, msg);
    }
    if ((rc = ext_options_parse_batch(fn, options, &cur->opts, msg))) return rc;
    cur->have_opts = 1;
    cur->tokenizer = cur->opts.tokenizer;
    cur->on_error_skip = cur->opts.on_error_skip;
    if ((rc = ext_registry_acquire(fn, ext_options_model(&cur->opts), &cur->handle, msg)))
        return rc;
    const elmo_model *model = ext_handle_model(cur->handle);
    if ((rc = ext_options_mix(fn, &cur->opts, model, &cur->mix, msg))) return rc;
    cur->width = elmo_mix_dim(model, &cur->mix);
    return SQLITE_OK;
}

static int batch_filter(sqlite3_vtab_cursor *base, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv) {
    static const char fn[] = "elmo_batch";
    (void)idxStr;
    batch_cursor *cur = (batch_cursor *)base;
    batch_vtab *vtab = (batch_vtab *)base->pVtab;
    cursor_reset(cur);
    if (!(idxNum & EXT_ARG_FIRST) || argc < 1) return SQLITE_OK; /* not reached */
    sqlite3_value *options = idxNum & EXT_ARG_SECOND && argc > 1 ? argv[1] : NULL;
    char *msg = NULL;
    int rc = prepare_model(cur, options, &msg);
    if (!rc) rc = prepare_query(cur, vtab->db, argv[0], &msg);
    if (rc) {
        cursor_reset(cur);
        return fail(cur, rc, msg);
    }
    cur->sql_arg = sqlite3_value_dup(argv[0]);
    cur->options_arg = options ? sqlite3_value_dup(options) : NULL;
    cur->win = sqlite3_malloc64(sizeof *cur->win);
    if (cur->win) {
        memset(cur->win, 0, sizeof *cur->win);
        cur->win->vectors = /* [WINDOW_ROWS, width] */
            sqlite3_malloc64((sqlite3_uint64)WINDOW_ROWS * (cur->width ? cur->width : 1) *
                             sizeof(float));
        cur->win->ppl = sqlite3_malloc64(WINDOW_ROWS * sizeof *cur->win->ppl);
    }
    if (!cur->sql_arg || (options && !cur->options_arg) || !cur->win || !cur->win->vectors ||
        !cur->win->ppl) {
        cursor_reset(cur);
        return SQLITE_NOMEM;
    }
    if ((rc = ext_interrupt_open(fn, vtab->db, &cur->interrupt, &msg)) != SQLITE_OK) {
        cursor_reset(cur);
        return fail(cur, rc, msg);
    }
    rc = fill_window(cur);
    if (rc) cursor_reset(cur);
    return rc;
}

static int batch_next(sqlite3_vtab_cursor *base) {
    batch_cursor *cur = (batch_cursor *)base;
    cur->rowid++;
    if (++cur->at < cur->win->n) return SQLITE_OK;
    int rc = fill_window(cur);
    if (rc) cursor_reset(cur);
    return rc;
}

static int batch_eof(sqlite3_vtab_cursor *base) {
    batch_cursor *cur = (batch_cursor *)base;
    return !cur->win || cur->at >= cur->win->n;
}

static int batch_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col) {
    batch_cursor *cur = (batch_cursor *)base;
    window *w = cur->win;
    switch (col) {
    case COL_ID: sqlite3_result_value(ctx, w->id[cur->at]); break;
    case COL_VECTOR: /* NULL text or no tokens: NULL, as elmo_embed */
        if (w->text[cur->at] && !cur->lm)
            ext_result_vector(ctx, w->vectors + cur->at * cur->width, cur->width);
        break;
    case COL_PERPLEXITY: /* likewise NULL, as elmo_perplexity */
        if (w->text[cur->at] && cur->lm && !isnan(w->ppl[cur->at]))
            sqlite3_result_double(ctx, w->ppl[cur->at]);
        break;
    case COL_SQL: sqlite3_result_value(ctx, cur->sql_arg); break;
    case COL_OPTIONS:
        if (cur->options_arg) sqlite3_result_value(ctx, cur->options_arg);
        break;
    case COL_ERROR:
        if (w->error[cur->at]) sqlite3_result_text(ctx, w->error[cur->at], -1, SQLITE_TRANSIENT);
        break;
    }
    return SQLITE_OK;
}

static int batch_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid) {
    *rowid = ((batch_cursor *)base)->rowid;
    return SQLITE_OK;
}

const sqlite3_module ext_batch_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = batch_connect,
    .xBestIndex = batch_best_index,
    .xDisconnect = batch_disconnect,
    .xDestroy = NULL,
    .xOpen = batch_open,
    .xClose = batch_close,
    .xFilter = batch_filter,
    .xNext = batch_next,
    .xEof = batch_eof,
    .xColumn = batch_column,
    .xRowid = batch_rowid,
};
