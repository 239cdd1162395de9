/*
 * elmo_ext.h - shared declarations of the SQLite extension's files (ext/).
 *
 * Every .c file of ext/ except sqlite_elmo.c starts with
 *     #include "elmo_ext.h"
 *     SQLITE_EXTENSION_INIT3
 * so that the sqlite3_* calls go through the API table SQLite hands to sqlite3_elmo_init.
 *
 * Error convention: a helper that can fail returns an SQLite result code (SQLITE_OK,
 * SQLITE_ERROR, SQLITE_TOOBIG for a limit, SQLITE_NOMEM) and, on failure, stores a message
 * allocated with sqlite3_mprintf() in *msg (NULL when even that allocation failed). The
 * message starts with the SQL function's name, says what was wrong and what to do.
 */
#ifndef ELMO_EXT_H
#define ELMO_EXT_H

#include <sqlite3ext.h>
#include <stddef.h>

#include "elmo.h"

/* Our SQLite 3.40 headers predate this flag; older SQLite ignores unknown flag bits. */
#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif

/* Vectors are BLOBs of little-endian float32 with this subtype (sqlite-vec's float32). */
#define EXT_VECTOR_SUBTYPE 223
/* The subtype SQLite's JSON functions give JSON text ('J'). */
#define EXT_JSON_SUBTYPE 74

/* ---------------------------------------------------------------------------------------
 * Per-connection state (ext/conn.c): the limits of elmo_limit(). It is the user data
 * of the functions and modules that need it; each registration holds one reference.
 * ------------------------------------------------------------------------------------- */

#define EXT_DEFAULT_MAX_TEXT_BYTES 1000000
#define EXT_DEFAULT_MAX_TOKENS 4096

typedef struct ext_limits {
    sqlite3_int64 max_text_bytes; /* bytes of one text argument */
    sqlite3_int64 max_tokens;     /* tokens of one text argument */
} ext_limits;

typedef struct ext_conn {
    int refs; /* registrations using it; changed under the connection's mutex */
    ext_limits limits;
} ext_conn;

ext_conn *ext_conn_new(void); /* one reference; NULL when out of memory */
ext_conn *ext_conn_ref(ext_conn *conn);
void ext_conn_unref(void *conn); /* an xDestroy for sqlite3_create_function_v2 */

/* Reads or sets a limit by its SQL name ('max_text_bytes', 'max_tokens'). */
sqlite3_int64 *ext_limit_slot(ext_limits *limits, const char *name);

/* ---------------------------------------------------------------------------------------
 * The process-wide model registry (ext/registry.c)
 * ------------------------------------------------------------------------------------- */

/* A counted reference to a loaded model; the model lives while any reference does. */
typedef struct ext_handle ext_handle;

#define EXT_DEFAULT_MODEL "default"

/*
 * Registers the model in options_path + weights_path under `name` (options_path NULL:
 * weights_path is a model path, see elmo_model_load_path), loading it unless the same
 * files (by real path, size and modification time) are already in memory at the same
 * requested precision. Loading the same files again under the same name is a no-op; other
 * files under a used name are an error. `fn` names the SQL function for messages; params
 * may be NULL for the defaults.
 */
int ext_registry_load(const char *fn, const char *name, const char *options_path,
                      const char *weights_path, const elmo_load_params *params, char **msg);

/* Removes `name`; the model is freed when its last reference goes. */
int ext_registry_unload(const char *fn, const char *name, char **msg);

/*
 * Takes a reference to the model registered as `name`. For EXT_DEFAULT_MODEL, when none
 * is registered, first loads the one the environment names (ext/default_model.c).
 * Release it with ext_registry_release().
 */
int ext_registry_acquire(const char *fn, const char *name, ext_handle **out, char **msg);
void ext_registry_release(ext_handle *handle);
const elmo_model *ext_handle_model(const ext_handle *handle);

/* One row of elmo_models. */
typedef struct ext_registry_row {
    char *name;
    char *options_path; /* real (absolute) paths; options NULL for a model path */
    char *weights_path;
    elmo_model_info info;
    sqlite3_int64 model_id; /* names sharing one in-memory copy share this id */
} ext_registry_row;

/* A snapshot of the registered names in load order; free with ext_registry_rows_free. */
int ext_registry_list(ext_registry_row **rows, int *n);
void ext_registry_rows_free(ext_registry_row *rows, int n);

/*
 * The files of the default model named by the environment (ext/default_model.c):
 * ELMO_MODEL (a directory, or any model path) or ELMO_OPTIONS + ELMO_WEIGHTS. Returns
 * SQLITE_OK with both paths (sqlite3_malloc'd) set, with only *weights_path set for a model
 * path that carries its options, with both NULL when the environment names no model, or
 * an error when it names one badly.
 */
int ext_default_model_files(const char *fn, char **options_path, char **weights_path, char **msg);

/* ---------------------------------------------------------------------------------------
 * The `options` argument (ext/call_options.c)
 * ------------------------------------------------------------------------------------- */

#define EXT_MAX_MIX_WEIGHTS 64 /* more than any model's L + 1 */

typedef struct ext_call_options {
    char *model; /* sqlite3_malloc'd; NULL means "default" */
    /* The mix as given: 'word' and 'lstmK' are ELMO_MIX_LAYER, a JSON array of weights is
     * ELMO_MIX_WEIGHTS with n_weights as given (it may exceed the array) and weights NULL
     * (ext_options_mix points it at `weights`: the options may be copied). */
    elmo_mix mix;
    int hub;                            /* output 'hub': the model's trained mix */
    float weights[EXT_MAX_MIX_WEIGHTS]; /* [min(mix.n_weights, max)] */
    elmo_tokenizer tokenizer;
    elmo_pooling pooling;
    int on_error_skip; /* elmo_batch's on_error 'skip': a bad row is returned, not raised */
} ext_call_options;

/* Parses an options argument (NULL value or SQL NULL: the defaults). */
int ext_options_parse(const char *fn, sqlite3_value *value, ext_call_options *opts, char **msg);
/* The same, also taking elmo_batch's own key, on_error. */
int ext_options_parse_batch(const char *fn, sqlite3_value *value, ext_call_options *opts,
                            char **msg);

/* The model name the options select. */
const char *ext_options_model(const ext_call_options *opts);

/* Checks the output against a model and builds the elmo_mix (which points into opts). */
int ext_options_mix(const char *fn, const ext_call_options *opts, const elmo_model *model,
                    elmo_mix *mix, char **msg);

void ext_options_free(ext_call_options *opts);

/* ---------------------------------------------------------------------------------------
 * Text arguments (ext/text_input.c)
 * ------------------------------------------------------------------------------------- */

typedef struct ext_text {
    int is_null;            /* the argument was SQL NULL: no sentence */
    elmo_span *spans;       /* [sentence.n_tokens], sqlite3_malloc'd */
    elmo_sentence sentence; /* text points into the sqlite3_value (valid for the call) */
    size_t len;             /* bytes of text */
} ext_text;

/*
 * Reads a text argument: TEXT is tokenized as stored (invalid UTF-8 stays raw bytes),
 * NULL sets is_null, other types are an error; the byte and token limits apply.
 */
int ext_text_read(const char *fn, sqlite3_value *value, const ext_limits *limits,
                  elmo_tokenizer tokenizer, ext_text *text, char **msg);
void ext_text_free(ext_text *text);

/* SQLITE_OK when the TEXT value s [len] (len from sqlite3_value_bytes) has no NUL
 * character; else SQLITE_ERROR and "FN: WHAT contains a NUL character (at byte i of n)...":
 * names, paths and options are C strings, and a NUL would silently cut them short. */
int ext_check_no_nul(const char *fn, const char *what, const char *s, size_t len, char **msg);

/* "INTEGER", "REAL", "TEXT", "BLOB" or "NULL". */
const char *ext_type_name(int sqlite_type);

/* ---------------------------------------------------------------------------------------
 * Vectors (ext/vectors.c)
 * ------------------------------------------------------------------------------------- */

/* Sets a float32 vector [n] as the result: a little-endian BLOB with subtype 223. */
void ext_result_vector(sqlite3_context *ctx, const float *x, size_t n);

/* Encodes x [n] as little-endian float32 bytes into out [4n]. */
void ext_vector_encode(const float *x, size_t n, unsigned char *out);

/* ---------------------------------------------------------------------------------------
 * Running one text (ext/run_text.c)
 * ------------------------------------------------------------------------------------- */

/*
 * Runs the model selected by opts over one tokenized text and mixes the layers:
 * *out [n_tokens, *width] (sqlite3_malloc'd). The text must have at least one token.
 */
int ext_embed_tokens(sqlite3 *db, const char *fn, const ext_call_options *opts,
                     const ext_text *text, float **out, size_t *width, char **msg);

/* The SQL result code and message for a failed core call. */
int ext_core_failure(const char *fn, const elmo_error *err, char **msg);

/* ---------------------------------------------------------------------------------------
 * Interrupts (ext/run_text.c): an elmo_interrupt_fn that notices sqlite3_interrupt()
 * ------------------------------------------------------------------------------------- */

typedef struct ext_interrupt {
    sqlite3_stmt *probe; /* "SELECT 1" on the connection */
} ext_interrupt;

/* Prepares the probe; on failure an SQL code and *msg ("interrupted" when the connection
 * is already interrupted). */
int ext_interrupt_open(const char *fn, sqlite3 *db, ext_interrupt *it, char **msg);
int ext_interrupt_poll(void *it); /* nonzero once the connection is interrupted */
void ext_interrupt_close(ext_interrupt *it);

/* ---------------------------------------------------------------------------------------
 * Table-valued functions (ext/vtab_args.c)
 * ------------------------------------------------------------------------------------- */

/* sqlite3_declare_vtab for an xConnect: on failure *err says why (e.g. "interrupted"). */
int ext_declare_vtab(sqlite3 *db, const char *schema, char **err);

/* idxNum bits of ext_plan_arguments: which arguments xFilter receives, in this order. */
#define EXT_ARG_FIRST 1
#define EXT_ARG_SECOND 2

/* xBestIndex for a function whose hidden column required_col is its required argument and
 * optional_col its optional one: SQLITE_OK with argvIndex/idxNum set, SQLITE_CONSTRAINT
 * for a plan that cannot supply them, or an error with missing_message. */
int ext_plan_arguments(sqlite3_vtab *vtab, sqlite3_index_info *info, int required_col,
                       int optional_col, const char *missing_message);

/* Sets the vtab's error message (cleaned, owned) and returns rc (SQLITE_NOMEM if NULL). */
int ext_vtab_fail(sqlite3_vtab *vtab, int rc, char *msg);

/* ---------------------------------------------------------------------------------------
 * Error messages (ext/messages.c)
 * ------------------------------------------------------------------------------------- */

/* Reports a failure from the helpers above as the SQL function's error; frees msg. */
void ext_result_failure(sqlite3_context *ctx, int rc, char *msg);

/* Replaces the bytes of msg that are not valid UTF-8 (echoed user input) with '?', so that
 * every client can decode the message. */
void ext_message_clean(char *msg);

/* User text as shown in a message: s itself, or its first bytes and "..." in buf when it
 * is longer than EXT_SHOWN_MAX bytes. */
#define EXT_SHOWN_MAX 40
const char *ext_shown(const char *s, char buf[EXT_SHOWN_MAX + 1]);

/* ---------------------------------------------------------------------------------------
 * Registered on each connection by sqlite3_elmo_init (ext/sqlite_elmo.c)
 * ------------------------------------------------------------------------------------- */

/* Virtual tables (ext/tokens_vtab.c, ext/batch_vtab.c, ext/models_vtab.c) */
extern const sqlite3_module ext_tokens_module;
extern const sqlite3_module ext_batch_module;
extern const sqlite3_module ext_models_module;

/* SQL functions (ext/functions.c, ext/vectors.c) */
void ext_embed_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_load_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_unload_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_limit_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_cosine_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif /* ELMO_EXT_H */
