/* run.h - internal pieces of a forward run: the two stages (the result layout is in result.h). */
#ifndef ELMO_CORE_RUN_H
#define ELMO_CORE_RUN_H

#include <stddef.h>

#include "elmo.h"
#include "model.h"
#include "parallel.h"
#include "result.h"

/* Told by the LSTM stage that layer k (1..L) of direction dir (0 forward, 1 backward) of
 * sentence i is complete. Called from worker threads; calls for the two directions of a
 * sentence may run at the same time (each reads only its own half of the rows). */
typedef struct elmo_layer_sink {
    void (*layer_done)(void *arg, const elmo_result *r, size_t i, int k, int dir);
    void *arg;
} elmo_layer_sink;

/* Carried LSTM state of one stream. */
struct elmo_stream {
    const elmo_model *model;
    float *h;   /* [L, 2, P] final projected output per layer and direction */
    float *c;   /* [L, 2, H] final memory cell per layer and direction */
};

/* Stage 1: fills layer 0 (char-CNN token embeddings, [e ; e]) of every position. */
int elmo_fill_token_layer(const elmo_model *m, const elmo_sentence *s, elmo_result *r,
                          int use_cache, int n_threads, elmo_cancel *cancel, elmo_error *err);

/* Stage 2: fills layers 1..L by running both LSTM directions over every sentence. */
int elmo_fill_lstm_layers(const elmo_model *m, elmo_result *r, elmo_stream *const *streams,
                          const elmo_layer_sink *sink, int n_threads, elmo_cancel *cancel,
                          elmo_error *err);

/* Per-layer weights a_k of a (checked) mix: uniform, one-hot or softmax; all 1 for ALL. */
/* The factor layer k is multiplied by: gamma * a_k * inv_std (1 without layer norm). */
double elmo_mix_scale(float gamma, double a, double inv_std);

/* y[j, d] += (float)(scale * (x[j, d] - mean)) for j < n, d in [from, to); x [n, D],
 * y [n, ldy]. The one place a layer is added into a mix, so every path rounds alike. */
void elmo_mix_add_layer(const float *x, size_t n, size_t D, size_t from, size_t to,
                        double scale, double mean, float *y, size_t ldy);

/* ELMO_ERR_ARG with a message when any of y [count] is not finite (gamma too large). */
int elmo_mix_check_finite(const float *y, size_t count, const elmo_mix *mix, elmo_error *err);

void elmo_mix_coefficients(int n_layers, const elmo_mix *mix, double *a);

/* Embeds tokens one chunk at a time without the cache: ids [n, C] -> out [n, P]. Used at
 * load for the boundary tokens. */
int elmo_embed_ids(const elmo_model *m, const uint16_t *ids, size_t n, float *out,
                   elmo_error *err);

#endif
