/* model.h - the in-memory model: configuration (from options.json) and weights (from the
 * HDF5 file). Internal to core/. Every matrix keeps its HDF5 layout [in, out], row-major. */
#ifndef ELMO_CORE_MODEL_H
#define ELMO_CORE_MODEL_H

#include <stdint.h>

#include "elmo.h"

#define ELMO_CHAR_VOCAB 261    /* rows of char_embed: byte values 0..255 + 5 markers */
#define ELMO_MAX_FILTER_BANKS 64
#define ELMO_MAX_HIGHWAY 64
#define ELMO_MAX_LSTM_LAYERS 16

/* Hyperparameters read from the options JSON (spec section 2). */
typedef struct elmo_config {
    int char_embed_dim;                        /* d_c */
    int n_banks;                               /* number of CNN filter banks */
    int bank_width[ELMO_MAX_FILTER_BANKS];     /* w_i */
    int bank_count[ELMO_MAX_FILTER_BANKS];     /* n_i */
    int n_filters;                             /* F = sum of n_i */
    int n_highway;
    int max_chars;                             /* C, character slots per token */
    int relu;                                  /* CNN activation: 1 relu, 0 tanh */
    int cell_dim;                              /* H */
    int proj_dim;                              /* P */
    int n_layers;                              /* L */
    float cell_clip;                           /* 0: no clipping */
    float proj_clip;                           /* 0: no clipping */
    int skip_connections;
} elmo_config;

/* One LSTM cell (one layer of one direction). */
typedef struct elmo_cell {
    const float *w_in;    /* [P, 4H] rows 0..P-1 of W_0: multiplies the layer input */
    const float *w_rec;   /* [P, 4H] rows P..2P-1 of W_0: multiplies h_{t-1} */
    const float *bias;    /* [4H] gates i, j, f, o; +1.0 already added to f at load */
    const float *w_proj;  /* [H, P] W_P_0, or NULL when P == H and the file has none */
} elmo_cell;

typedef struct elmo_highway {
    const float *w_carry;      /* [F, F] gate g = sigmoid(x W_carry + b_carry) */
    const float *b_carry;      /* [F] */
    const float *w_transform;  /* [F, F] t = relu(x W_transform + b_transform) */
    const float *b_transform;  /* [F] */
} elmo_highway;

typedef struct elmo_weights {
    float *arena;                                 /* one allocation holding every tensor */
    const float *char_embed;                      /* [261, d_c], row u = unshifted id u */
    const float *conv_w[ELMO_MAX_FILTER_BANKS];   /* [w_i * d_c, n_i], row k*d_c + q */
    const float *conv_b[ELMO_MAX_FILTER_BANKS];   /* [n_i] */
    elmo_highway highway[ELMO_MAX_HIGHWAY];
    const float *proj_w;                          /* [F, P], or NULL when F == P and absent */
    const float *proj_b;                          /* [P] */
    elmo_cell cells[2][ELMO_MAX_LSTM_LAYERS];     /* [direction 0 fwd / 1 bwd][layer] */
} elmo_weights;

typedef struct elmo_token_cache elmo_token_cache;

struct elmo_model {
    elmo_config cfg;
    elmo_weights w;
    int64_t n_params;
    float *boundary;          /* [2, P]: e(<S>), e(</S>) computed at load */
    elmo_token_cache *cache;  /* char-CNN cache (internally locked), or NULL */
};

/* Parses and validates an options JSON file. */
int elmo_options_load(const char *path, elmo_config *cfg, elmo_error *err);

/* Reads and validates every dataset of the HDF5 weight file against cfg into w (which
 * owns w->arena afterwards); sets *n_params. */
int elmo_weights_load(const char *path, const elmo_config *cfg, elmo_weights *w,
                      int64_t *n_params, elmo_error *err);

#endif
