/* functions.c - the model-facing SQL functions: elmo_embed, elmo_load, elmo_unload,
 * elmo_version, elmo_limit. */
#include <cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* elmo_embed(text [, options]) -> float32 BLOB: the pooled mix over the text's tokens. */
void ext_embed_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_embed";
    ext_conn *conn = sqlite3_user_data(ctx);
    ext_call_options opts;
    ext_text text = {0};
    float *rows = NULL, *pooled = NULL; /* [n, width], [width] */
    size_t width = 0;
    char *msg = NULL;
    int rc = ext_options_parse(fn, argc > 1 ? argv[1] : NULL, &opts, &msg);
    if (rc) {
        ext_result_failure(ctx, rc, msg);
        return;
    }
    rc = ext_text_read(fn, argv[0], &conn->limits, opts.tokenizer, &text, &msg);
    if (rc == SQLITE_OK && !text.is_null && text.sentence.n_tokens > 0) {
        size_t n = text.sentence.n_tokens;
        rc =
            ext_embed_tokens(sqlite3_context_db_handle(ctx), fn, &opts, &text, &rows, &width, &msg);
        if (rc == SQLITE_OK && !(pooled = sqlite3_malloc64(width * sizeof *pooled)))
            rc = SQLITE_NOMEM;
        if (rc == SQLITE_OK) {
            elmo_pool(rows, n, width, opts.pooling, pooled);
            ext_result_vector(ctx, pooled, width);
        }
    } /* else NULL text or no tokens: the result stays NULL */
    if (rc) ext_result_failure(ctx, rc, msg);
    sqlite3_free(rows);
    sqlite3_free(pooled);
    ext_text_free(&text);
    ext_options_free(&opts);
}

/* The text of argument i, or an error naming it when it is not TEXT or has a NUL. */
static const char *text_arg(sqlite3_context *ctx, const char *fn, sqlite3_value **argv, int i,
                            const char *what) {
    int type = sqlite3_value_type(argv[i]);
    if (type != SQLITE_TEXT) {
        char *msg = sqlite3_mprintf("%s: %s must be TEXT, got %s", fn, what, ext_type_name(type));
        ext_result_failure(ctx, SQLITE_ERROR, msg);
        return NULL;
    }
    const char *s = (const char *)sqlite3_value_text(argv[i]);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return NULL;
    }
    char *msg = NULL;
    if (ext_check_no_nul(fn, what, s, (size_t)sqlite3_value_bytes(argv[i]), &msg)) {
        ext_result_failure(ctx, SQLITE_ERROR, msg);
        return NULL;
    }
    return s;
}

/* A path option's value: a non-empty string without NUL, copied into *out (freed by the
 * caller). */
static int path_option(const char *fn, const cJSON *it, const char *what, char **out, char **msg) {
    char shown[EXT_SHOWN_MAX + 1];
    if (!cJSON_IsString(it) || !it->valuestring[0]) {
        char *value = cJSON_PrintUnformatted(it);
        *msg = sqlite3_mprintf("%s: load option '%s' must be the path of %s (a non-empty "
                               "string), got %s",
                               fn, it->string, what, value ? ext_shown(value, shown) : "?");
        cJSON_free(value);
        return SQLITE_ERROR;
    }
    sqlite3_free(*out);
    return (*out = sqlite3_mprintf("%s", it->valuestring)) ? SQLITE_OK : SQLITE_NOMEM;
}

/* Parses elmo_load's load_options JSON object into p; the head's paths are copied into
 * paths[0] (softmax) and paths[1] (vocab). */
static int parse_load_options(const char *fn, const char *text, elmo_load_params *p, char *paths[2],
                              char **msg) {
    char shown[EXT_SHOWN_MAX + 1];
    cJSON *root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *msg = sqlite3_mprintf("%s: load options must be a JSON object such as "
                               "'{\"precision\":\"bf16\"}', got '%s'",
                               fn, ext_shown(text, shown));
        return SQLITE_ERROR;
    }
    int rc = SQLITE_OK;
    for (const cJSON *it = root->child; it && !rc; it = it->next) {
        char *value = cJSON_PrintUnformatted(it);
        const char *v = value ? ext_shown(value, shown) : "?";
        if (strcmp(it->string, "precision") == 0) {
            const char *s = cJSON_IsString(it) ? it->valuestring : "";
            if (strcmp(s, "auto") == 0) p->precision = ELMO_PRECISION_AUTO;
            else if (strcmp(s, "fp32") == 0) p->precision = ELMO_PRECISION_FP32;
            else if (strcmp(s, "bf16") == 0) p->precision = ELMO_PRECISION_BF16;
            else {
                *msg = sqlite3_mprintf("%s: load option 'precision' must be 'auto', 'fp32' or "
                                       "'bf16', got %s",
                                       fn, v);
                rc = SQLITE_ERROR;
            }
        } else if (strcmp(it->string, "cache_bytes") == 0) {
            double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
            if (d >= 0 && d <= 9007199254740992.0 && d == (double)(int64_t)d) {
                p->cache_bytes = (int64_t)d;
            } else {
                *msg = sqlite3_mprintf("%s: load option 'cache_bytes' must be an integer >= 0 "
                                       "(0 disables the cache), got %s",
                                       fn, v);
                rc = SQLITE_ERROR;
            }
        } else if (strcmp(it->string, "softmax") == 0 && cJSON_IsFalse(it)) {
            p->skip_head = 1; /* leave out the head that the model's own file holds */
        } else if (strcmp(it->string, "softmax") == 0) {
            rc = path_option(fn, it, "the softmax weights (or false: no head)", &paths[0], msg);
        } else if (strcmp(it->string, "vocab") == 0) {
            rc = path_option(fn, it, "the vocabulary text file", &paths[1], msg);
        } else {
            *msg = sqlite3_mprintf("%s: unknown load option '%s'; valid load options: "
                                   "precision, cache_bytes, softmax, vocab",
                                   fn, ext_shown(it->string, shown));
            rc = SQLITE_ERROR;
        }
        cJSON_free(value);
    }
    cJSON_Delete(root);
    if (!rc && p->skip_head && paths[1]) {
        *msg = sqlite3_mprintf("%s: load option 'softmax' is false (no language-model head) but "
                               "'vocab' is given; give either",
                               fn);
        rc = SQLITE_ERROR;
    }
    return rc;
}

/* A third argument that is JSON object text is load_options, not a weights path. */
static int is_json_object(sqlite3_value *v) {
    const char *s =
        sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
    return s && s[strspn(s, " \t\r\n")] == '{';
}

/* elmo_load(name, path [, load_options]) or
 * elmo_load(name, options_path, weights_path [, load_options]) -> name */
void ext_load_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_load";
    const char *name = text_arg(ctx, fn, argv, 0, "the model name");
    if (!name) return;
    if (!*name) {
        sqlite3_result_error(ctx, "elmo_load: the model name is empty; name it, e.g. 'default'",
                             -1);
        return;
    }
    int pair = argc == 4 || (argc == 3 && !is_json_object(argv[2]));
    const char *options = NULL, *weights;
    if (pair) {
        if (!(options = text_arg(ctx, fn, argv, 1, "the options path"))) return;
        if (!(weights = text_arg(ctx, fn, argv, 2, "the weights path"))) return;
    } else if (!(weights = text_arg(ctx, fn, argv, 1, "the model path"))) {
        return;
    }
    char *msg = NULL, *paths[2] = {NULL, NULL}; /* the head's softmax weights, vocabulary */
    elmo_load_params params = elmo_load_default_params();
    int opt_arg = pair ? 3 : 2, rc = SQLITE_OK;
    if (argc > opt_arg && sqlite3_value_type(argv[opt_arg]) != SQLITE_NULL) {
        const char *text = text_arg(ctx, fn, argv, opt_arg, "load_options");
        if (!text) return;
        rc = parse_load_options(fn, text, &params, paths, &msg);
    }
    params.softmax_path = paths[0];
    params.vocab_path = paths[1];
    if (!rc) rc = ext_registry_load(fn, name, options, weights, &params, &msg);
    sqlite3_free(paths[0]);
    sqlite3_free(paths[1]);
    if (rc) ext_result_failure(ctx, rc, msg);
    else sqlite3_result_value(ctx, argv[0]);
}

/* elmo_unload(name) -> 1 */
void ext_unload_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_unload";
    (void)argc;
    const char *name = text_arg(ctx, fn, argv, 0, "the model name");
    if (!name) return;
    char *msg = NULL;
    int rc = ext_registry_unload(fn, name, &msg);
    if (rc) ext_result_failure(ctx, rc, msg);
    else sqlite3_result_int(ctx, 1);
}

void ext_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, elmo_version(), -1, SQLITE_STATIC);
}

/* elmo_limit(name [, value]) -> the value before the call (like sqlite3_limit). */
void ext_limit_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_limit";
    ext_conn *conn = sqlite3_user_data(ctx);
    const char *name = text_arg(ctx, fn, argv, 0,
                                "the limit name ('max_text_bytes' or "
                                "'max_tokens')");
    if (!name) return;
    sqlite3_int64 *slot = ext_limit_slot(&conn->limits, name);
    if (!slot) {
        char shown[EXT_SHOWN_MAX + 1];
        char *msg = sqlite3_mprintf("%s: unknown limit '%s'; valid limits: max_text_bytes, "
                                    "max_tokens",
                                    fn, ext_shown(name, shown));
        ext_result_failure(ctx, SQLITE_ERROR, msg);
        return;
    }
    sqlite3_int64 previous = *slot;
    if (argc > 1) {
        int type = sqlite3_value_type(argv[1]);
        sqlite3_int64 v = sqlite3_value_int64(argv[1]);
        if (type != SQLITE_INTEGER || v < 1 || v > INT_MAX) {
            char *shown = type == SQLITE_INTEGER ? sqlite3_mprintf("%lld", (long long)v)
                                                 : sqlite3_mprintf("%s", ext_type_name(type));
            char *msg = shown ? sqlite3_mprintf("%s: %s must be an integer from 1 to %d, got %s",
                                                fn, name, INT_MAX, shown)
                              : NULL;
            sqlite3_free(shown);
            ext_result_failure(ctx, SQLITE_ERROR, msg);
            return;
        }
        *slot = v;
    }
    sqlite3_result_int64(ctx, previous);
}
