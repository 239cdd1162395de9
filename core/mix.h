/* mix.h - the internal pieces of a mix of the L+1 layers, shared by elmo_result_mix
 * (mix.c) and the folding batch (batch.c) so that both add layers in the same order. */
#ifndef ELMO_CORE_MIX_H
#define ELMO_CORE_MIX_H

#include <stddef.h>

#include "elmo.h"

/* Per-layer weights a_k [n_layers] of a (checked) mix: uniform, one-hot or softmax; all 1
 * for ALL. */
void elmo_mix_coefficients(int n_layers, const elmo_mix *mix, double *a);

/* The factor layer k is multiplied by: gamma * a_k * inv_std (1 without layer norm). */
double elmo_mix_scale(float gamma, double a, double inv_std);

/* y[j, d] += (float)(scale * (x[j, d] - mean)) for j < n, d in [from, to); x [n, D],
 * y [n, ldy]. The one place a layer is added into a mix, so every path rounds alike. */
void elmo_mix_add_layer(const float *x, size_t n, size_t D, size_t from, size_t to, double scale,
                        double mean, float *y, size_t ldy);

/* ELMO_ERR_ARG with a message when any of y [count] is not finite (gamma too large). */
int elmo_mix_check_finite(const float *y, size_t count, const elmo_mix *mix, elmo_error *err);

#endif
