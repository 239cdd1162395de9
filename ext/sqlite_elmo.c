/*
 * sqlite_elmo.c - the extension's entry point: registers the SQL functions and virtual
 * tables on a connection. sqlite3_elmo_init is the only symbol the library exports
 * (ext/elmo.map); everything else has hidden visibility.
 */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#include <dlfcn.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT1

#define VECTOR_FLAGS (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define EMBED_FLAGS (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_RESULT_SUBTYPE)

/* Scalar functions. `conn`: the function gets the per-connection state as user data. */
static const struct {
    const char *name;
    int n_arg;
    int flags;
    int conn;
    void (*func)(sqlite3_context *, int, sqlite3_value **);
} functions[] = {
    /* reads files: only from top-level SQL, never from triggers, views or schema */
    {"elmo_load", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, 0, ext_load_func},
    {"elmo_load", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, 0, ext_load_func},
    {"elmo_load", 4, SQLITE_UTF8 | SQLITE_DIRECTONLY, 0, ext_load_func},
    {"elmo_unload", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, 0, ext_unload_func},
    /* Deterministic: the engine gives a text the same bytes on every path, and a name
     * means one model while it is loaded (reloading other weights under it is the user's
     * schema change: recompute stored columns, REINDEX). Not innocuous: it may load the
     * default model from files the environment names, and its cost is large. */
    {"elmo_embed", 1, EMBED_FLAGS, 1, ext_embed_func},
    {"elmo_embed", 2, EMBED_FLAGS, 1, ext_embed_func},
    /* Deterministic for the same reasons as elmo_embed (same text, same bytes). */
    {"elmo_perplexity", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, 1, ext_perplexity_func},
    {"elmo_perplexity", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, 1, ext_perplexity_func},
    {"elmo_cosine", 2, VECTOR_FLAGS, 0, ext_cosine_func},
    {"elmo_json", 1, VECTOR_FLAGS | SQLITE_RESULT_SUBTYPE, 0, ext_json_func},
    {"elmo_version", 0, VECTOR_FLAGS, 0, ext_version_func},
    {"elmo_limit", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, 1, ext_limit_func},
    {"elmo_limit", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, 1, ext_limit_func},
};

/* Virtual tables. `conn`: the module gets the per-connection state as client data. */
static const struct {
    const char *name;
    const sqlite3_module *module;
    int conn;
} modules[] = {
    {"elmo_tokens", &ext_tokens_module, 1},   {"elmo_batch", &ext_batch_module, 1},
    {"elmo_models", &ext_models_module, 0},   {"elmo_lm", &ext_lm_module, 1},
    {"elmo_predict", &ext_predict_module, 1},
};

/*
 * SQLite unloads an extension's library when the connection that loaded it closes. The
 * model registry is process-wide and must outlive any one connection, so the library pins
 * itself in memory (as linking with -z nodelete would).
 */
static void pin_library(void) {
    static int anchor;
    Dl_info info;
    if (dladdr(&anchor, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    /* the handle is deliberately never closed; failure only means no pinning */
}

__attribute__((visibility("default"))) int sqlite3_elmo_init(sqlite3 *db, char **err,
                                                             const sqlite3_api_routines *api) {
    SQLITE_EXTENSION_INIT2(api);
    pin_library();
    ext_conn *conn = ext_conn_new();
    if (!conn) return SQLITE_NOMEM;
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof functions / sizeof functions[0]; i++) {
        void *data = functions[i].conn ? ext_conn_ref(conn) : NULL;
        /* on failure SQLite calls the destructor itself */
        rc = sqlite3_create_function_v2(db, functions[i].name, functions[i].n_arg,
                                        functions[i].flags, data, functions[i].func, NULL, NULL,
                                        data ? ext_conn_unref : NULL);
    }
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof modules / sizeof modules[0]; i++) {
        void *data = modules[i].conn ? ext_conn_ref(conn) : NULL;
        /* on failure SQLite calls the destructor itself */
        rc = sqlite3_create_module_v2(db, modules[i].name, modules[i].module, data,
                                      data ? ext_conn_unref : NULL);
    }
    ext_conn_unref(conn); /* the registrations hold their own references */
    if (rc != SQLITE_OK && err)
        *err = sqlite3_mprintf("elmo: cannot register the SQL functions: %s", sqlite3_errstr(rc));
    return rc;
}
