/* functions.c - the model-facing SQL functions: elmo_embed, elmo_load, elmo_unload,
 * elmo_version, elmo_limit. */
#include <limits.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* elmo_embed(text [, options]) -> float32 BLOB: the pooled mix over the text's tokens. */
void elmo_embed_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_embed";
    elmo_conn *conn = sqlite3_user_data(ctx);
    elmo_call_options opts;
    elmo_text text = {0};
    float *rows = NULL, *pooled = NULL; /* [n, width], [width] */
    size_t width = 0;
    char *msg = NULL;
    int rc = elmo_options_parse(fn, argc > 1 ? argv[1] : NULL, &opts, &msg);
    if (rc) {
        elmo_result_failure(ctx, rc, msg);
        return;
    }
    rc = elmo_text_read(fn, argv[0], &conn->limits, opts.tokenizer, &text, &msg);
    if (rc == SQLITE_OK && !text.is_null && text.sentence.n_tokens > 0) {
        size_t n = text.sentence.n_tokens;
        rc = elmo_embed_tokens(sqlite3_context_db_handle(ctx), fn, &opts, &text, &rows, &width,
                               &msg);
        if (rc == SQLITE_OK && !(pooled = sqlite3_malloc64(width * sizeof *pooled)))
            rc = SQLITE_NOMEM;
        if (rc == SQLITE_OK) {
            elmo_pool(rows, n, width, opts.pooling, pooled);
            elmo_result_vector(ctx, pooled, width);
        }
    } /* else NULL text or no tokens: the result stays NULL */
    if (rc) elmo_result_failure(ctx, rc, msg);
    sqlite3_free(rows);
    sqlite3_free(pooled);
    elmo_text_free(&text);
    elmo_options_free(&opts);
}

/* The text of argument i, or an error naming it when it is not TEXT or has a NUL. */
static const char *text_arg(sqlite3_context *ctx, const char *fn, sqlite3_value **argv, int i,
                            const char *what) {
    int type = sqlite3_value_type(argv[i]);
    if (type != SQLITE_TEXT) {
        char *msg = sqlite3_mprintf("%s: %s must be TEXT, got %s", fn, what, elmo_type_name(type));
        elmo_result_failure(ctx, SQLITE_ERROR, msg);
        return NULL;
    }
    const char *s = (const char *)sqlite3_value_text(argv[i]);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    char *msg = NULL;
    if (elmo_check_no_nul(fn, what, s, (size_t)sqlite3_value_bytes(argv[i]), &msg)) {
        elmo_result_failure(ctx, SQLITE_ERROR, msg);
        return NULL;
    }
    return s;
}

/* elmo_load(name, options_path, weights_path) -> name */
void elmo_load_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_load";
    (void)argc;
    const char *name = text_arg(ctx, fn, argv, 0, "the model name");
    if (!name) return;
    if (!*name) {
        sqlite3_result_error(ctx, "elmo_load: the model name is empty; name it, e.g. 'default'",
                             -1);
        return;
    }
    const char *options = text_arg(ctx, fn, argv, 1, "the options path");
    if (!options) return;
    const char *weights = text_arg(ctx, fn, argv, 2, "the weights path");
    if (!weights) return;
    char *msg = NULL;
    int rc = elmo_registry_load(fn, name, options, weights, &msg);
    if (rc) elmo_result_failure(ctx, rc, msg);
    else sqlite3_result_value(ctx, argv[0]);
}

/* elmo_unload(name) -> 1 */
void elmo_unload_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_unload";
    (void)argc;
    const char *name = text_arg(ctx, fn, argv, 0, "the model name");
    if (!name) return;
    char *msg = NULL;
    int rc = elmo_registry_unload(fn, name, &msg);
    if (rc) elmo_result_failure(ctx, rc, msg);
    else sqlite3_result_int(ctx, 1);
}

void elmo_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, elmo_version(), -1, SQLITE_STATIC);
}

/* elmo_limit(name [, value]) -> the value before the call (like sqlite3_limit). */
void elmo_limit_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_limit";
    elmo_conn *conn = sqlite3_user_data(ctx);
    const char *name = text_arg(ctx, fn, argv, 0, "the limit name ('max_text_bytes' or "
                                                  "'max_tokens')");
    if (!name) return;
    sqlite3_int64 *slot = elmo_limit_slot(&conn->limits, name);
    if (!slot) {
        char shown[ELMO_SHOWN_MAX + 1];
        char *msg = sqlite3_mprintf("%s: unknown limit '%s'; valid limits: max_text_bytes, "
                                    "max_tokens",
                                    fn, elmo_shown(name, shown));
        elmo_result_failure(ctx, SQLITE_ERROR, msg);
        return;
    }
    sqlite3_int64 previous = *slot;
    if (argc > 1) {
        int type = sqlite3_value_type(argv[1]);
        sqlite3_int64 v = sqlite3_value_int64(argv[1]);
        if (type != SQLITE_INTEGER || v < 1 || v > INT_MAX) {
            char *shown = type == SQLITE_INTEGER ? sqlite3_mprintf("%lld", (long long)v)
                                                 : sqlite3_mprintf("%s", elmo_type_name(type));
            char *msg = shown ? sqlite3_mprintf("%s: %s must be an integer from 1 to %d, got %s",
                                                fn, name, INT_MAX, shown)
                              : NULL;
            sqlite3_free(shown);
            elmo_result_failure(ctx, SQLITE_ERROR, msg);
            return;
        }
        *slot = v;
    }
    sqlite3_result_int64(ctx, previous);
}
