/*
 * elmo.h - ELMo contextual word embeddings in C.
 *
 * Loads a pretrained AllenNLP / bilm-tf ELMo model (options JSON + HDF5 weights,
 * safetensors, TensorFlow checkpoints and TF-Hub modules) and runs the bidirectional
 * language model over batches of tokenized sentences with its own matrix kernels, chosen
 * for the CPU at load: AMX tiles or AVX512-BF16 for bf16, AVX-512, AVX2 or portable C for
 * fp32. fp32 gives the same bytes on every x86-64 CPU; bf16 the same bytes within one
 * kernel (elmo_model_info.kernel).
 *
 * Conventions (whisper.h style):
 *   - Every fallible function returns an elmo_status (ELMO_OK == 0) and, when `err` is not
 *     NULL, fills it with the same code and a message that says what was wrong and what to
 *     do. The library never prints, aborts or exits.
 *   - Objects are opaque. A loaded elmo_model is immutable and may be shared by any number
 *     of threads; every call allocates its own scratch.
 *   - Matrices are row-major float32. Shapes are written [rows, cols].
 *
 * Sizes used below: P = projection_dim, L = number of LSTM layers, D = 2P (output width of
 * one layer), n = tokens in a sentence.
 */
#ifndef ELMO_H
#define ELMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function declared here is exported from the shared library libelmo.so, which is
 * built with hidden visibility by default: only this API is visible (the Makefile's version
 * script for libelmo.so is generated from the elmo_*( names in this file). */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(default)
#endif

#define ELMO_VERSION "0.1.0"

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

typedef enum elmo_status {
    ELMO_OK = 0,
    ELMO_ERR_ARG = 1,         /* the caller passed an invalid argument */
    ELMO_ERR_IO = 2,          /* a file could not be opened or read */
    ELMO_ERR_FORMAT = 3,      /* a file's content is malformed or inconsistent */
    ELMO_ERR_NOMEM = 4,       /* an allocation failed */
    ELMO_ERR_LIMIT = 5,       /* the input exceeds a limit */
    ELMO_ERR_INTERRUPTED = 6, /* the caller's interrupt callback asked to stop */
    ELMO_ERR_INTERNAL = 7     /* a system resource failed (e.g. thread creation) */
} elmo_status;

#define ELMO_ERROR_MAX 512

typedef struct elmo_error {
    int code;                     /* an elmo_status */
    char message[ELMO_ERROR_MAX]; /* NUL-terminated; empty when code == ELMO_OK */
} elmo_error;

/* A short constant name for a status code, e.g. "ELMO_ERR_FORMAT". */
const char *elmo_status_name(int code);

/* The library version string (ELMO_VERSION) and the OpenBLAS/HDF5 it runs on. */
const char *elmo_version(void);

/* ---------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------- */

/* A token as a byte range [start, end) of the text it came from. */
typedef struct elmo_span {
    size_t start;
    size_t end;
} elmo_span;

typedef enum elmo_tokenizer {
    /* Raw text: splits on whitespace, then separates punctuation the way the 1B Word
     * Benchmark training corpus was tokenized ("Don't!" -> Don 't !, keeps U.S., 6-3,
     * Ms., 1,000). Idempotent on already-tokenized text. */
    ELMO_TOKENIZER_DEFAULT = 0,
    /* Splits on whitespace only (ASCII and Unicode spaces). */
    ELMO_TOKENIZER_WHITESPACE = 1,
    /* Splits on U+0020 only, as the TF-Hub module's "default" signature does (tabs and
     * newlines stay inside tokens; runs of spaces make no empty tokens). */
    ELMO_TOKENIZER_SPACE = 2
} elmo_tokenizer;

/*
 * Tokenizes `text` (`len` bytes, need not be NUL-terminated, need not be valid UTF-8:
 * invalid bytes are kept as ordinary word bytes). Writes the first min(count, cap) token
 * spans to `spans` (which may be NULL when cap == 0) and returns the total token count.
 * Never allocates and never fails.
 */
size_t elmo_tokenize(elmo_tokenizer kind, const char *text, size_t len, elmo_span *spans,
                     size_t cap);

/* Number of character slots per token used by every published model. */
#define ELMO_DEFAULT_CHARS_PER_TOKEN 50

/*
 * Character ids of one token, as AllenNLP's ELMoCharacterMapper makes them: shifted ids
 * 1..261 (byte b -> b+1, begin-of-word 259, end-of-word 260, padding 261). The token's
 * bytes are truncated to n_chars-2 bytes (byte truncation, may cut a UTF-8 sequence).
 * The literal tokens "<S>" and "</S>" get the sentence-boundary ids. Writes n_chars ids
 * (n_chars >= 3).
 */
void elmo_char_ids(const char *token, size_t len, size_t n_chars, uint16_t *ids);

/* Ids of the sentence-boundary tokens: <S> when `end` is 0, </S> otherwise. */
void elmo_boundary_char_ids(int end, size_t n_chars, uint16_t *ids);

/* ---------------------------------------------------------------------------------------
 * Model
 * ------------------------------------------------------------------------------------- */

typedef struct elmo_model elmo_model;

/* Arithmetic of the matrix products. Both keep activations, gates and accumulation in
 * float32; bf16 stores the weights as bfloat16 (half the memory) and rounds each
 * product's input rows to bfloat16. Which is faster depends on the CPU: bf16 on AMX
 * (Intel Xeon, Sapphire Rapids and later) and on AMD Zen 4/5 (AVX512-BF16 at twice the
 * fp32 rate); on an Intel CPU without usable AMX, bf16 dot products run at half the fp32
 * rate (elmo_precision_fastest tells, elmo_model_info.notice says why). */
typedef enum elmo_precision {
    ELMO_PRECISION_AUTO = 0, /* fp32, or bf16 when the model file stores bf16 weights */
    ELMO_PRECISION_FP32 = 1, /* exact: float32 weights; the same bytes on every x86-64 CPU */
    ELMO_PRECISION_BF16 = 2  /* needs AMX-BF16 or AVX512-BF16 */
} elmo_precision;

/* "auto", "fp32" or "bf16"; NULL for an unknown value. */
const char *elmo_precision_name(int precision);

/* 1 if this CPU can run the given precision (AUTO and FP32 always can). */
int elmo_precision_supported(int precision);

/* The matrix kernel a model loaded now with `precision` runs on: "amx-bf16",
 * "avx512-bf16", "avx512-fp32", "avx2-fp32" or "portable"; NULL when the precision cannot
 * run here. ELMO_KERNEL in the environment (read once per process) caps the choice, in
 * that order: e.g. ELMO_KERNEL=avx512-bf16 keeps bf16 off AMX. bf16 bytes are the same
 * only between models on the same bf16 kernel. */
const char *elmo_precision_kernel(int precision);

/* The precision whose products run fastest on this CPU: ELMO_PRECISION_BF16 where its
 * kernel beats fp32 (AMX, or AVX512-BF16 at twice the fp32 rate), else FP32. */
elmo_precision elmo_precision_fastest(void);

typedef struct elmo_load_params {
    /* Bytes of memory for the cache of char-CNN token embeddings (keyed by token bytes;
     * results are identical with and without it). 0 disables the cache.
     * ELMO_CACHE_AUTO picks weight bytes / 16, clamped to [1 MiB, 16 MiB]. */
    int64_t cache_bytes;
    elmo_precision precision; /* default ELMO_PRECISION_AUTO */
    /* The language-model head (see "Language model" below); all optional:
     *   softmax_path: its weights, softmax/W [V, P] and softmax/b [V] (the published
     *                 *_softmax_weights.hdf5, or a .safetensors file holding them);
     *   vocab_path:   the vocabulary text file, line v naming row v (needed with
     *                 softmax_path unless that file stores one);
     *   skip_head:    1 to leave out the head that the model's own file holds (a bilm-tf
     *                 checkpoint's lm/softmax/..., a file written by `elmo convert
     *                 --softmax`), saving its memory.
     * With neither path, the head in the model's own file is loaded when the file also
     * stores its vocabulary (or vocab_path is given). */
    const char *softmax_path;
    const char *vocab_path;
    int skip_head;
} elmo_load_params;

#define ELMO_CACHE_AUTO ((int64_t)-1)

elmo_load_params elmo_load_default_params(void);

/*
 * Loads a model from an AllenNLP options JSON and its weights file: HDF5, or any weights
 * format elmo_model_load_path reads (safetensors, TF checkpoint prefix), told from the
 * content. Every dataset is checked (presence, rank, shape, type) against the options
 * before anything is trusted.
 * `params` may be NULL for the defaults. On success *out owns the model; free it with
 * elmo_model_free().
 */
int elmo_model_load(const char *options_path, const char *weights_path,
                    const elmo_load_params *params, elmo_model **out, elmo_error *err);

/*
 * Loads the model at `path`, telling its format from the content (not the name):
 *   - a .safetensors file written by `elmo convert` (options in its metadata);
 *   - a directory with options.json + weights.hdf5, or with exactly one *options*.json and
 *     one *weights*.hdf5 (the official AllenNLP file names);
 *   - a TF-Hub ELMo module directory (variables/variables.index + .data-*): options are
 *     derived from the tensor shapes and the module's published architecture;
 *   - a TensorFlow V2 checkpoint (its prefix, its .index file, or a directory with one
 *     .index file): a bilm-tf training checkpoint needs an options.json next to it.
 * HDF5 is parsed by libhdf5, which is not safe against hostile files: load HDF5 only from
 * sources you trust (convert anything else first). The other formats are parsed by the
 * library itself with every bound and checksum checked.
 */
int elmo_model_load_path(const char *path, const elmo_load_params *params, elmo_model **out,
                         elmo_error *err);

void elmo_model_free(elmo_model *model);

/* The model's trained scalar mix (TF-Hub modules carry one: aggregation/weights and
 * aggregation/scaling): 1 with its L+1 pre-softmax weights and its scaling, or 0 when the
 * model has none. */
int elmo_model_trained_mix(const elmo_model *model, const float **weights, size_t *n,
                           float *scaling);

typedef struct elmo_model_info {
    int output_dim;      /* D = 2P, width of every output layer */
    int n_output_layers; /* L + 1 (layer 0 = char-CNN token embedding) */
    int n_lstm_layers;   /* L */
    int projection_dim;  /* P */
    int lstm_dim;        /* H, LSTM memory cell size */
    int char_embed_dim;  /* d_c */
    int n_filters;       /* F, total CNN filters */
    int n_highway;
    int max_chars_per_token;    /* C */
    int use_skip_connections;   /* 0 or 1 */
    int relu_activation;        /* 1: relu, 0: tanh */
    float cell_clip;            /* 0 when absent */
    float proj_clip;            /* 0 when absent */
    int64_t n_params;           /* float values in the weight file that the model uses */
    int64_t weight_bytes;       /* bytes of weights held in memory (4 * n_params) */
    int64_t cache_bytes;        /* memory reserved for the char-CNN cache (0: no cache) */
    int64_t flops_per_position; /* 2 x multiply-adds of one token position, all stages
                                  (204,263,424 for the Original model) */
    elmo_precision precision;   /* ELMO_PRECISION_FP32 or ELMO_PRECISION_BF16 */
    /* 16 hex digits identifying the loaded model: a hash of its hyperparameters, every
     * weight value, the precision and, for bf16, the kernel (bf16 bytes differ between
     * amx-bf16 and avx512-bf16), whatever file format it came from. Vectors made with
     * equal fingerprints are equal. */
    char fingerprint[17];
    /* The weights' file format: "hdf5", "safetensors", "tf-checkpoint" or "tf-hub". */
    char format[16];
    /* The matrix kernel the products were packed for (elmo_precision_kernel). */
    char kernel[16];
    /* Empty, or why the model does not run on a faster kernel this CPU has, or runs
     * slower in its precision than in the other (e.g. AMX refused by the OS). */
    char notice[ELMO_ERROR_MAX];
    int64_t vocab_size; /* V: rows of the language-model head, 0 without a head */
    int64_t head_bytes; /* memory held by the head (packed W, b, vocabulary), 0 without */
    /* 16 hex digits identifying the head (its words, b, W and the precision), "" without:
     * scores made with equal model and head fingerprints are equal. */
    char head_fingerprint[17];
} elmo_model_info;

void elmo_model_get_info(const elmo_model *model, elmo_model_info *info);

/* ---------------------------------------------------------------------------------------
 * Running the biLM
 * ------------------------------------------------------------------------------------- */

/* One tokenized sentence: token byte ranges into `text`. */
typedef struct elmo_sentence {
    const char *text;
    const elmo_span *tokens; /* [n_tokens] */
    size_t n_tokens;
} elmo_sentence;

/* Called from the thread that called elmo_run between LSTM steps; return nonzero to stop
 * the run with ELMO_ERR_INTERRUPTED. */
typedef int (*elmo_interrupt_fn)(void *arg);

typedef struct elmo_run_params {
    int n_threads;               /* 0: ELMO_THREADS from the environment, else all cores */
    int use_cache;               /* 1: use the model's char-CNN cache (default) */
    elmo_interrupt_fn interrupt; /* optional */
    void *interrupt_arg;
} elmo_run_params;

elmo_run_params elmo_run_default_params(void);

/*
 * Carried LSTM state for streaming mode: the final (h, c) of every layer and direction of
 * the previous sentence run through this stream. A new stream starts from zeros.
 */
typedef struct elmo_stream elmo_stream;

int elmo_stream_new(const elmo_model *model, elmo_stream **out, elmo_error *err);
void elmo_stream_reset(elmo_stream *stream); /* back to the zero state */
void elmo_stream_free(elmo_stream *stream);

/* All output layers of a run. */
typedef struct elmo_result elmo_result;

/*
 * Runs the biLM over `n` sentences in one batch. Each sentence is independent of the
 * others (results do not depend on what else is in the batch).
 *
 * `streams` is NULL for stateless mode (zero initial state for every sentence, the
 * default), or an array of n stream pointers: sentence i starts from the state in
 * streams[i] (NULL entries are stateless) and leaves its final state there. A stream may
 * appear at most once per call. A run that fails (or is interrupted) leaves every stream
 * as it was.
 */
int elmo_run(const elmo_model *model, const elmo_run_params *params, const elmo_sentence *sentences,
             size_t n, elmo_stream *const *streams, elmo_result **out, elmo_error *err);

void elmo_result_free(elmo_result *result);

size_t elmo_result_count(const elmo_result *result);            /* sentences */
size_t elmo_result_tokens(const elmo_result *result, size_t i); /* n of sentence i */
int elmo_result_dim(const elmo_result *result);                 /* D */
int elmo_result_layers(const elmo_result *result);              /* L + 1 */

/*
 * Layer k (0..L) of sentence i: [n, D], boundaries removed. Layer 0 is the token
 * embedding duplicated to [e ; e]; layer l >= 1 is [forward_l ; backward_l].
 * Returns NULL for an out-of-range i or k.
 */
const float *elmo_result_layer(const elmo_result *result, size_t i, int k);

/* ---------------------------------------------------------------------------------------
 * Reductions
 * ------------------------------------------------------------------------------------- */

typedef enum elmo_mix_kind {
    ELMO_MIX_AVERAGE = 0, /* mean of the L+1 layers */
    ELMO_MIX_TOP = 1,     /* layer L */
    ELMO_MIX_LAYER = 2,   /* one chosen layer */
    ELMO_MIX_WEIGHTS = 3, /* AllenNLP ScalarMix: softmax of L+1 caller-given scalars */
    ELMO_MIX_ALL = 4      /* the L+1 layers concatenated: width (L+1)*D */
} elmo_mix_kind;

typedef struct elmo_mix {
    elmo_mix_kind kind;
    int layer;            /* ELMO_MIX_LAYER: 0..L */
    const float *weights; /* ELMO_MIX_WEIGHTS: [L+1] pre-softmax scalars */
    size_t n_weights;     /* ELMO_MIX_WEIGHTS: must be L+1 */
    float gamma;          /* the result is multiplied by gamma (default 1) */
    int layer_norm;       /* normalise each layer before mixing (see README) */
} elmo_mix;

elmo_mix elmo_mix_default(void); /* average, gamma 1, no layer norm */

/* Width of the mixed output: D, or (L+1)*D for ELMO_MIX_ALL; 0 for an invalid kind. */
size_t elmo_mix_dim(const elmo_model *model, const elmo_mix *mix);

/* Checks a mix against a model (layer range, weight count, finite values). */
int elmo_mix_check(const elmo_model *model, const elmo_mix *mix, elmo_error *err);

/*
 * Mixes the layers of sentence i into out [n, elmo_mix_dim()].
 * Layer norm (AllenNLP ScalarMix do_layer_norm) uses, for each layer, the mean and
 * population variance over all 2P features of all n+2 positions of the sentence
 * (boundaries included, as AllenNLP does for a batch of one), eps 1e-13.
 */
int elmo_result_mix(const elmo_result *result, size_t i, const elmo_mix *mix, float *out,
                    elmo_error *err);

typedef enum elmo_pooling { ELMO_POOL_MEAN = 0, ELMO_POOL_MAX = 1 } elmo_pooling;

/* Pools x [n, dim] over its n rows into out [dim]. n == 0 writes zeros. */
void elmo_pool(const float *x, size_t n, size_t dim, elmo_pooling pooling, float *out);

/* ---------------------------------------------------------------------------------------
 * Batch embedding
 * ------------------------------------------------------------------------------------- */

typedef struct elmo_embed_params {
    elmo_mix mix;
    elmo_pooling pooling;
    /* Token positions (tokens + 2 boundaries per sentence) per internal batch; bounds the
     * scratch memory. 0 picks a size from the model (about 24 MiB of activations). */
    size_t batch_positions;
} elmo_embed_params;

elmo_embed_params elmo_embed_default_params(void);

/*
 * Embeds n sentences into out [n, elmo_mix_dim()]: the pooled mix of each sentence. The
 * sentences are sorted by length and run in bounded batches, so memory does not grow with
 * n. A sentence with no tokens gets a zero vector. Identical (<= 1e-6) to running each
 * sentence alone through elmo_run + elmo_result_mix + elmo_pool.
 */
int elmo_embed_batch(const elmo_model *model, const elmo_run_params *run,
                     const elmo_embed_params *params, const elmo_sentence *sentences, size_t n,
                     float *out, elmo_error *err);

/* ---------------------------------------------------------------------------------------
 * Language model: word probabilities from the softmax head bilm-tf trained
 *
 * ELMo's biLM is two language models. With a head loaded (elmo_load_params.softmax_path +
 * vocab_path), the top layer's forward half f[t] at position t gives
 * log p(word at t+1 | words 1..t) = log_softmax(W f[t] + b), and its backward half g[t]
 * gives log p(word at t-1 | words t..n), over the V words of the vocabulary. Positions of
 * a sentence of n tokens: 0 = <S>, 1..n = its tokens, n+1 = </S>; so the forward targets
 * are the tokens and </S>, the backward targets are the tokens and <S>. A token that is not
 * in the vocabulary (matched exactly, case-sensitive) is scored as <UNK>.
 *
 * The logits are one product [positions, P] x [P, V] per batch with the log-sum-exp and the
 * top k reduced block by block in a fixed order: no [positions, V] matrix is held, and a
 * sentence gets the same bytes whatever else is in the call.
 * ------------------------------------------------------------------------------------- */

typedef enum elmo_lm_direction {
    ELMO_LM_BOTH = 0,    /* bilm-tf: exp(0.5 (forward loss + backward loss)) */
    ELMO_LM_FORWARD = 1, /* the forward language model only */
    ELMO_LM_BACKWARD = 2 /* the backward language model only */
} elmo_lm_direction;

typedef struct elmo_lm_params {
    /* 0: every row of the head. N in 1..V: only the first N rows (the most frequent words
     * in the published vocabulary) are scored and the softmax is normalised over them, a
     * truncated distribution (about V/N times less work); words beyond them count as out
     * of the vocabulary. */
    int64_t vocab_limit;
    int use_bias;                /* 1 (default): logits W h + b; 0: W h */
    elmo_lm_direction direction; /* elmo_lm_perplexity */
    /* elmo_lm_predict: rows never predicted. NULL (default): <S>, </S> and <UNK>;
     * otherwise exactly these n_exclude rows (0 keeps every row). */
    const int64_t *exclude;
    size_t n_exclude;
} elmo_lm_params;

elmo_lm_params elmo_lm_default_params(void);

/* One scored token. */
typedef struct elmo_lm_token {
    int64_t vocab_id;        /* the row scored as the token, or -1: scored as <UNK> */
    double logprob_forward;  /* log p(token | the words before it); NAN on <S> */
    double logprob_backward; /* log p(token | the words after it); NAN on </S> */
    int64_t rank_forward;    /* 1 + rows the forward model scores strictly higher; 0 on <S> */
    int64_t rank_backward;   /* the same for the backward model; 0 on </S> */
} elmo_lm_token;

/*
 * Scores every token of n sentences. out has sum over sentences of (n_tokens + 2) entries:
 * for each sentence in order, <S> (a backward target only), its tokens, </S> (a forward
 * target only). Fails with ELMO_ERR_ARG when the model has no head.
 */
int elmo_lm_score(const elmo_model *model, const elmo_run_params *run, const elmo_lm_params *params,
                  const elmo_sentence *sentences, size_t n, elmo_lm_token *out, elmo_error *err);

/*
 * Perplexity of each of n sentences into out [n], as bilm-tf defines it: per direction the
 * mean of -log p over its n+1 targets (forward: the tokens and </S>; backward: the tokens
 * and <S>), then exp(0.5 (forward + backward)); or exp of one direction's mean
 * (params->direction). NAN for a sentence without tokens.
 */
int elmo_lm_perplexity(const elmo_model *model, const elmo_run_params *run,
                       const elmo_lm_params *params, const elmo_sentence *sentences, size_t n,
                       double *out, elmo_error *err);

/* masks[i] of elmo_lm_predict: predict the word after the sentence. */
#define ELMO_LM_NEXT_WORD ((int64_t)-1)

typedef struct elmo_lm_prediction {
    int64_t vocab_id;        /* the word's row; -1 past the last candidate */
    double logprob;          /* masked: 0.5 (forward + backward); next word: forward */
    double logprob_forward;  /* log p_fwd(word | the words before the slot) */
    double logprob_backward; /* log p_bwd(word | the words after the slot); NAN: next word */
} elmo_lm_prediction;

/*
 * The k likeliest words for one slot of each of n sentences, best first, into out [n, k].
 * masks[i] is the index of sentence i's masked token (its own characters do not matter): its
 * words are ranked by the mean of the forward model's log-probability given the words
 * before and the backward model's given the words after (LAMA's masked-word score); or
 * ELMO_LM_NEXT_WORD to rank the words that may follow the sentence (forward model only).
 * Ties go to the lower row. k is 1 .. vocab_limit (or V); when exclusions leave fewer
 * than k words, the rest of the sentence's entries have vocab_id -1.
 */
int elmo_lm_predict(const elmo_model *model, const elmo_run_params *run,
                    const elmo_lm_params *params, const elmo_sentence *sentences,
                    const int64_t *masks, size_t n, size_t k, elmo_lm_prediction *out,
                    elmo_error *err);

/* The head's row of `word` (`len` bytes, exact match), or -1 (also without a head). */
int64_t elmo_vocab_id(const elmo_model *model, const char *word, size_t len);

/* The word of row `id` (NUL-terminated, valid while the model is) and its length, or NULL
 * for a row out of range or a model without a head. */
const char *elmo_vocab_word(const elmo_model *model, int64_t id, size_t *len);

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* ELMO_H */
