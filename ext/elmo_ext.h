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
#define ELMO_VECTOR_SUBTYPE 223
/* The subtype SQLite's JSON functions give JSON text ('J'). */
#define ELMO_JSON_SUBTYPE 74

/* ---------------------------------------------------------------------------------------
 * Per-connection state (ext/text_input.c): the limits of elmo_limit(). It is the user data
 * of the functions and modules that need it; each registration holds one reference.
 * ------------------------------------------------------------------------------------- */

#define ELMO_DEFAULT_MAX_TEXT_BYTES 1000000
#define ELMO_DEFAULT_MAX_TOKENS 4096

typedef struct elmo_limits {
    sqlite3_int64 max_text_bytes;  /* bytes of one text argument */
    sqlite3_int64 max_tokens;      /* tokens of one text argument */
} elmo_limits;

typedef struct elmo_conn {
    int refs;           /* registrations using it; changed under the connection's mutex */
    elmo_limits limits;
} elmo_conn;

elmo_conn *elmo_conn_new(void);       /* one reference; NULL when out of memory */
elmo_conn *elmo_conn_ref(elmo_conn *conn);
void elmo_conn_unref(void *conn);     /* an xDestroy for sqlite3_create_function_v2 */

/* Reads or sets a limit by its SQL name ('max_text_bytes', 'max_tokens'). */
sqlite3_int64 *elmo_limit_slot(elmo_limits *limits, const char *name);

/* ---------------------------------------------------------------------------------------
 * The process-wide model registry (ext/registry.c)
 * ------------------------------------------------------------------------------------- */

/* A counted reference to a loaded model; the model lives while any reference does. */
typedef struct elmo_handle elmo_handle;

#define ELMO_DEFAULT_MODEL "default"

/*
 * Registers the model in options_path + weights_path under `name` (options_path NULL:
 * weights_path is a model path, see elmo_model_load_path), loading it unless the same
 * files (by real path, size and modification time) are already in memory at the same
 * requested precision. Loading the same files again under the same name is a no-op; other
 * files under a used name are an error. `fn` names the SQL function for messages; params
 * may be NULL for the defaults.
 */
int elmo_registry_load(const char *fn, const char *name, const char *options_path,
                       const char *weights_path, const elmo_load_params *params, char **msg);

/* Removes `name`; the model is freed when its last reference goes. */
int elmo_registry_unload(const char *fn, const char *name, char **msg);

/*
 * Takes a reference to the model registered as `name`. For ELMO_DEFAULT_MODEL, when none
 * is registered, first loads the one the environment names (ext/default_model.c).
 * Release it with elmo_registry_release().
 */
int elmo_registry_acquire(const char *fn, const char *name, elmo_handle **out, char **msg);
void elmo_registry_release(elmo_handle *handle);
const elmo_model *elmo_handle_model(const elmo_handle *handle);

/* One row of elmo_models. */
typedef struct elmo_registry_row {
    char *name;
    char *options_path;          /* real (absolute) paths; options NULL for a model path */
    char *weights_path;
    elmo_model_info info;
    sqlite3_int64 model_id;      /* names sharing one in-memory copy share this id */
} elmo_registry_row;

/* A snapshot of the registered names in load order; free with elmo_registry_rows_free. */
int elmo_registry_list(elmo_registry_row **rows, int *n);
void elmo_registry_rows_free(elmo_registry_row *rows, int n);

/*
 * The files of the default model named by the environment (ext/default_model.c):
 * ELMO_MODEL (a directory, or any model path) or ELMO_OPTIONS + ELMO_WEIGHTS. Returns
 * SQLITE_OK with both paths (sqlite3_malloc'd) set, with only *weights_path set for a model
 * path that carries its options, with both NULL when the environment names no model, or
 * an error when it names one badly.
 */
int elmo_default_model_files(const char *fn, char **options_path, char **weights_path,
                             char **msg);

/* ---------------------------------------------------------------------------------------
 * The `options` argument (ext/call_options.c)
 * ------------------------------------------------------------------------------------- */

#define ELMO_MAX_MIX_WEIGHTS 64   /* more than any model's L + 1 */

typedef enum elmo_output_kind {
    ELMO_OUTPUT_AVERAGE,
    ELMO_OUTPUT_TOP,
    ELMO_OUTPUT_LAYER,    /* 'word' (layer 0) or 'lstmK' (layer K) */
    ELMO_OUTPUT_ALL,
    ELMO_OUTPUT_WEIGHTS,  /* a JSON array of L + 1 pre-softmax mix weights */
    ELMO_OUTPUT_HUB       /* the model's trained mix (TF-Hub's "elmo" output) */
} elmo_output_kind;

typedef struct elmo_call_options {
    char *model;                            /* sqlite3_malloc'd; NULL means "default" */
    elmo_output_kind output;
    int layer;                              /* ELMO_OUTPUT_LAYER */
    float weights[ELMO_MAX_MIX_WEIGHTS];    /* ELMO_OUTPUT_WEIGHTS: [min(n_weights, max)] */
    size_t n_weights;                       /* as given (may exceed the array) */
    float gamma;
    int layer_norm;
    elmo_tokenizer tokenizer;
    elmo_pooling pooling;
} elmo_call_options;

/* Parses an options argument (NULL value or SQL NULL: the defaults). */
int elmo_options_parse(const char *fn, sqlite3_value *value, elmo_call_options *opts,
                       char **msg);

/* The model name the options select. */
const char *elmo_options_model(const elmo_call_options *opts);

/* Checks the output against a model and builds the elmo_mix (which points into opts). */
int elmo_options_mix(const char *fn, const elmo_call_options *opts, const elmo_model *model,
                     elmo_mix *mix, char **msg);

void elmo_options_free(elmo_call_options *opts);

/* ---------------------------------------------------------------------------------------
 * Text arguments (ext/text_input.c)
 * ------------------------------------------------------------------------------------- */

typedef struct elmo_text {
    int is_null;              /* the argument was SQL NULL: no sentence */
    elmo_span *spans;         /* [sentence.n_tokens], sqlite3_malloc'd */
    elmo_sentence sentence;   /* text points into the sqlite3_value (valid for the call) */
    size_t len;               /* bytes of text */
} elmo_text;

/*
 * Reads a text argument: TEXT is tokenized as stored (invalid UTF-8 stays raw bytes),
 * NULL sets is_null, other types are an error; the byte and token limits apply.
 */
int elmo_text_read(const char *fn, sqlite3_value *value, const elmo_limits *limits,
                   elmo_tokenizer tokenizer, elmo_text *text, char **msg);
void elmo_text_free(elmo_text *text);

/* SQLITE_OK when the TEXT value s [len] (len from sqlite3_value_bytes) has no NUL
 * character; else SQLITE_ERROR and "FN: WHAT contains a NUL character (at byte i of n)...":
 * names, paths and options are C strings, and a NUL would silently cut them short. */
int elmo_check_no_nul(const char *fn, const char *what, const char *s, size_t len, char **msg);

/* "INTEGER", "REAL", "TEXT", "BLOB" or "NULL". */
const char *elmo_type_name(int sqlite_type);

/* ---------------------------------------------------------------------------------------
 * Vectors (ext/vectors.c)
 * ------------------------------------------------------------------------------------- */

/* Sets a float32 vector [n] as the result: a little-endian BLOB with subtype 223. */
void elmo_result_vector(sqlite3_context *ctx, const float *x, size_t n);

/* Encodes x [n] as little-endian float32 bytes into out [4n]. */
void elmo_vector_encode(const float *x, size_t n, unsigned char *out);

/* ---------------------------------------------------------------------------------------
 * Running one text (ext/run_text.c)
 * ------------------------------------------------------------------------------------- */

/*
 * Runs the model selected by opts over one tokenized text and mixes the layers:
 * *out [n_tokens, *width] (sqlite3_malloc'd). The text must have at least one token.
 */
int elmo_embed_tokens(sqlite3 *db, const char *fn, const elmo_call_options *opts,
                      const elmo_text *text, float **out, size_t *width, char **msg);

/* The SQL result code and message for a failed core call. */
int elmo_core_failure(const char *fn, const elmo_error *err, char **msg);

/* ---------------------------------------------------------------------------------------
 * Interrupts (ext/interrupt.c): an elmo_interrupt_fn that notices sqlite3_interrupt()
 * ------------------------------------------------------------------------------------- */

typedef struct elmo_interrupt {
    sqlite3_stmt *probe;   /* "SELECT 1" on the connection */
} elmo_interrupt;

/* Prepares the probe; on failure an SQL code and *msg ("interrupted" when the connection
 * is already interrupted). */
int elmo_interrupt_open(const char *fn, sqlite3 *db, elmo_interrupt *it, char **msg);
int elmo_interrupt_poll(void *it);   /* nonzero once the connection is interrupted */
void elmo_interrupt_close(elmo_interrupt *it);

/* ---------------------------------------------------------------------------------------
 * Table-valued functions (ext/vtab_args.c)
 * ------------------------------------------------------------------------------------- */

/* idxNum bits of elmo_plan_arguments: which arguments xFilter receives, in this order. */
#define ELMO_ARG_FIRST 1
#define ELMO_ARG_SECOND 2

/* xBestIndex for a function whose hidden column required_col is its required argument and
 * optional_col its optional one: SQLITE_OK with argvIndex/idxNum set, SQLITE_CONSTRAINT
 * for a plan that cannot supply them, or an error with missing_message. */
int elmo_plan_arguments(sqlite3_vtab *vtab, sqlite3_index_info *info, int required_col,
                        int optional_col, const char *missing_message);

/* Sets the vtab's error message (cleaned, owned) and returns rc (SQLITE_NOMEM if NULL). */
int elmo_vtab_fail(sqlite3_vtab *vtab, int rc, char *msg);

/* ---------------------------------------------------------------------------------------
 * Error messages (ext/messages.c)
 * ------------------------------------------------------------------------------------- */

/* Reports a failure from the helpers above as the SQL function's error; frees msg. */
void elmo_result_failure(sqlite3_context *ctx, int rc, char *msg);

/* Replaces the bytes of msg that are not valid UTF-8 (echoed user input) with '?', so that
 * every client can decode the message. */
void elmo_message_clean(char *msg);

/* User text as shown in a message: s itself, or its first bytes and "..." in buf when it
 * is longer than ELMO_SHOWN_MAX bytes. */
#define ELMO_SHOWN_MAX 40
const char *elmo_shown(const char *s, char buf[ELMO_SHOWN_MAX + 1]);

/* ---------------------------------------------------------------------------------------
 * Registered on each connection by sqlite3_elmo_init (ext/sqlite_elmo.c)
 * ------------------------------------------------------------------------------------- */

/* Virtual tables (ext/tokens_vtab.c, ext/batch_vtab.c, ext/models_vtab.c) */
extern const sqlite3_module elmo_tokens_module;
extern const sqlite3_module elmo_batch_module;
extern const sqlite3_module elmo_models_module;

/* SQL functions (ext/functions.c, ext/vectors.c) */
void elmo_embed_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void elmo_load_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void elmo_unload_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void elmo_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void elmo_limit_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void elmo_cosine_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void elmo_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif /* ELMO_EXT_H */
