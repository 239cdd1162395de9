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

/* Shared by the options parsers (ext/call_options.c): the argument's text (NULL for SQL
 * NULL) after the type, NUL and empty checks; JSON that fills the whole text, without
 * \u0000 escapes; an option value error; the tokenizer option. `example` says what is
 * expected in messages. */
struct cJSON;
int ext_options_text(const char *fn, sqlite3_value *value, const char *example, const char **text,
                     size_t *len, char **msg);
int ext_json_options(const char *fn, const char *text, size_t len, const char *example,
                     struct cJSON **root, char **msg);
int ext_option_bad_value(const char *fn, const char *key, const char *valid,
                         const struct cJSON *item, char **msg);
int ext_option_tokenizer(const char *fn, const struct cJSON *item, elmo_tokenizer *out, char **msg);

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
 * The `options` argument of the language-model functions (ext/lm_options.c)
 * ------------------------------------------------------------------------------------- */

/* Which function the options are for: each accepts its own keys. */
typedef enum ext_lm_kind {
    EXT_LM_SCORE,      /* elmo_lm: model, tokenizer, vocab_limit, bias */
    EXT_LM_PERPLEXITY, /* elmo_perplexity: the same and direction */
    EXT_LM_PREDICT,    /* elmo_predict: model, tokenizer, vocab_limit, bias, exclude, mask */
    EXT_LM_BATCH       /* elmo_batch with output 'perplexity': elmo_perplexity's, output and
                          on_error */
} ext_lm_kind;

#define EXT_DEFAULT_MASK "[MASK]"

typedef struct ext_lm_options {
    char *model; /* sqlite3_malloc'd; NULL means "default" */
    elmo_tokenizer tokenizer;
    elmo_lm_params lm; /* vocab_limit (0: not given), use_bias, direction */
    int have_exclude;  /* 1: `exclude` was given (else <S>, </S>, <UNK>) */
    char **exclude;    /* [n_exclude] words, sqlite3_malloc'd */
    size_t n_exclude;
    char *mask;        /* the mask token, sqlite3_malloc'd; NULL: EXT_DEFAULT_MASK */
    int on_error_skip; /* elmo_batch's on_error 'skip': a bad row is returned, not raised */
} ext_lm_options;

/* Parses the options of a language-model function (NULL value or SQL NULL: defaults). */
int ext_lm_options_parse(const char *fn, ext_lm_kind kind, sqlite3_value *value,
                         ext_lm_options *opts, char **msg);
void ext_lm_options_free(ext_lm_options *opts);

/* 1 when an elmo_batch options argument asks for perplexities: the bare word 'perplexity'
 * or a JSON object whose "output" is "perplexity". */
int ext_lm_options_wanted(sqlite3_value *value);

/* ---------------------------------------------------------------------------------------
 * Language-model calls (ext/lm_call.c)
 * ------------------------------------------------------------------------------------- */

typedef struct ext_lm_call {
    ext_handle *handle;
    const elmo_model *model;
    ext_interrupt interrupt;
    elmo_run_params run; /* polls the interrupt */
    elmo_lm_params lm;   /* the options' parameters, exclusions as rows */
    int64_t *exclude;    /* [n] rows of the excluded words in the vocabulary */
} ext_lm_call;

/* Takes the model the options name, checks that it has a head and that the options fit
 * it (vocab_limit; with needs_targets, scoring's: the limit keeps <S>, </S> and <UNK>),
 * and prepares the run parameters (interrupts from db). */
int ext_lm_begin(const char *fn, sqlite3 *db, const ext_lm_options *opts, int needs_targets,
                 ext_lm_call *call, char **msg);
void ext_lm_end(ext_lm_call *call);

/* The head's checks of ext_lm_begin for a model already acquired (elmo_batch keeps its
 * own handle). */
int ext_lm_check_model(const char *fn, const ext_lm_options *opts, const elmo_model *model,
                       int needs_targets, char **msg);

/* A text argument with at most one mask token (elmo_predict): tokenized around the mask,
 * which becomes one token of its own; *mask is its index, or ELMO_LM_NEXT_WORD. */
int ext_lm_text_read(const char *fn, sqlite3_value *value, const ext_limits *limits,
                     const ext_lm_options *opts, ext_text *text, int64_t *mask, char **msg);

/* ---------------------------------------------------------------------------------------
 * Table-valued functions (ext/vtab_args.c)
 * ------------------------------------------------------------------------------------- */

/* sqlite3_declare_vtab for an xConnect: on failure *err says why (e.g. "interrupted"). */
int ext_declare_vtab(sqlite3 *db, const char *schema, char **err);

/* idxNum bits of ext_plan_arguments: which arguments xFilter receives, in this order. */
#define EXT_ARG_FIRST 1
#define EXT_ARG_SECOND 2
#define EXT_ARG_THIRD 4

/* xBestIndex for a function whose n_args arguments are the hidden columns first_col ..
 * first_col + n_args - 1, the first n_required of them required: SQLITE_OK with
 * argvIndex/idxNum set (bit EXT_ARG_FIRST << i: argument i is passed), SQLITE_CONSTRAINT
 * for a plan that cannot supply them, or an error with missing[i] for a missing required
 * argument i. */
int ext_plan_argument_list(sqlite3_vtab *vtab, sqlite3_index_info *info, int first_col, int n_args,
                           int n_required, const char *const *missing);

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

/* Virtual tables (ext/tokens_vtab.c, ext/batch_vtab.c, ext/models_vtab.c, ext/lm_vtab.c,
 * ext/predict_vtab.c) */
extern const sqlite3_module ext_tokens_module;
extern const sqlite3_module ext_batch_module;
extern const sqlite3_module ext_models_module;
extern const sqlite3_module ext_lm_module;
extern const sqlite3_module ext_predict_module;

/* SQL functions (ext/functions.c, ext/vectors.c) */
void ext_embed_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_load_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_unload_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_limit_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_cosine_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void ext_perplexity_func(sqlite3_context *ctx, int argc, sqlite3_value **argv); /* lm_call.c */

#endif /* ELMO_EXT_H */
