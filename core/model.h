/* model.h - the in-memory model: configuration (from options.json) and weights (from the
 * weight file). Internal to core/. Matrices are [in, out]: y = x W. */
#ifndef ELMO_CORE_MODEL_H
#define ELMO_CORE_MODEL_H

#include <stdint.h>

#include "elmo.h"
#include "gemm.h"

#define ELMO_CHAR_VOCAB 261 /* rows of char_embed: byte values 0..255 + 5 markers */
#define ELMO_MAX_FILTER_BANKS 64
#define ELMO_MAX_HIGHWAY 64
#define ELMO_MAX_LSTM_LAYERS 16

/* Hyperparameters read from the options JSON (docs/model.md §2). */
typedef struct elmo_config {
    int char_embed_dim;                    /* d_c */
    int n_banks;                           /* number of CNN filter banks */
    int bank_width[ELMO_MAX_FILTER_BANKS]; /* w_i */
    int bank_count[ELMO_MAX_FILTER_BANKS]; /* n_i */
    int n_filters;                         /* F = sum of n_i */
    int n_highway;
    int max_chars;       /* C, character slots per token */
    int relu_activation; /* CNN activation: 1 relu, 0 tanh */
    int lstm_dim;        /* H */
    int projection_dim;  /* P */
    int n_layers;        /* L */
    float cell_clip;     /* 0: no clipping */
    float proj_clip;     /* 0: no clipping */
    int skip_connections;
} elmo_config;

/* One LSTM cell (one layer of one direction). The products' weights are packed for
 * elmo_gemm (gemm.h); a packed matrix with data == NULL is absent. */
typedef struct elmo_cell {
    elmo_packed w_in;   /* [P, 4H] rows 0..P-1 of W_0: multiplies the layer input */
    elmo_packed w_rec;  /* [P, 4H] rows P..2P-1 of W_0: multiplies h_{t-1} */
    const float *bias;  /* [4H] gates i, j, f, o; +1.0 already added to f at load */
    elmo_packed w_proj; /* [H, P] W_P_0; absent when P == H and the file has none */
} elmo_cell;

typedef struct elmo_highway {
    elmo_packed w_carry;      /* [F, F] gate g = sigmoid(x W_carry + b_carry) */
    const float *b_carry;     /* [F] */
    elmo_packed w_transform;  /* [F, F] t = relu(x W_transform + b_transform) */
    const float *b_transform; /* [F] */
} elmo_highway;

typedef struct elmo_weights {
    float *arena;                               /* the small tensors, one allocation */
    const float *char_embed;                    /* [261, d_c], row u = unshifted id u */
    elmo_packed conv_w[ELMO_MAX_FILTER_BANKS];  /* [w_i * d_c, n_i], row k*d_c + q */
    const float *conv_b[ELMO_MAX_FILTER_BANKS]; /* [n_i] */
    elmo_highway highway[ELMO_MAX_HIGHWAY];
    elmo_packed proj_w;                       /* [F, P]; absent when F == P */
    const float *proj_b;                      /* [P], or NULL with proj_w */
    elmo_cell cells[2][ELMO_MAX_LSTM_LAYERS]; /* [direction 0 fwd / 1 bwd][layer] */
    const float *mix_weights;                 /* [L+1] trained scalar mix, or NULL */
    const float *mix_scaling;                 /* [1] its gamma, or NULL */
} elmo_weights;

typedef struct elmo_token_cache elmo_token_cache;
typedef struct elmo_lm_head elmo_lm_head;

struct elmo_model {
    elmo_config cfg;
    elmo_weights w;
    int64_t n_params;
    int precision;           /* ELMO_PRECISION_FP32 or ELMO_PRECISION_BF16 */
    int kernel;              /* the elmo_kernel (gemm.h) its products were packed for */
    int64_t weight_bytes;    /* bytes of weights in memory (packed + small tensors) */
    uint64_t fingerprint;    /* hash of config, weight values, precision and (bf16) kernel */
    float *boundary;         /* [2, P]: e(<S>), e(</S>) computed at load */
    char format[16];         /* the weights' file format: "hdf5", "safetensors", ... */
    char *source;            /* the weights' path as given, for messages (malloc'd) */
    elmo_token_cache *cache; /* char-CNN cache (internally locked), or NULL */
    elmo_lm_head *head;      /* the language-model head (lm_head.h), or NULL */
};

/* Parses and validates an options JSON file. */
int elmo_options_load(const char *path, elmo_config *cfg, elmo_error *err);
/* The same for options JSON text (`len` bytes, text[len] == '\0'); `path` names it in
 * messages. */
int elmo_options_parse_text(const char *text, size_t len, const char *path, elmo_config *cfg,
                            elmo_error *err);
/* The whole options file (at most 1 MiB) as a malloc'd string. */
int elmo_options_read_text(const char *path, char **text, elmo_error *err);

/* Reads and validates every tensor of `src` against cfg into w (which owns its memory
 * afterwards; free with elmo_weights_free), packing the products' weights for `precision`
 * (ELMO_PRECISION_AUTO: bf16 when the source stores bf16). Sets the model's n_params,
 * precision, weight_bytes and fingerprint. */
struct elmo_tensor_source;
int elmo_weights_build(struct elmo_tensor_source *src, elmo_model *m, int precision,
                       elmo_error *err);
void elmo_weights_free(elmo_weights *w);

/* One tensor the options imply, by its AllenNLP name. */
typedef struct elmo_tensor_desc {
    char name[96];
    int rank;
    int64_t dims[4];
    int optional; /* 1: may be absent */
} elmo_tensor_desc;

/* The tensors the options imply, in file order, into out[cap]; returns their count. */
int elmo_weights_list(const elmo_config *cfg, elmo_tensor_desc *out, int cap);

#endif
