/* mix.c - combining the L+1 layers (AllenNLP's ScalarMix) and pooling over tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mix.h"
#include "model.h"
#include "result.h"

#define LAYER_NORM_EPS 1e-13 /* AllenNLP ScalarMix */

elmo_mix elmo_mix_default(void) {
    return (elmo_mix){.kind = ELMO_MIX_AVERAGE,
                      .layer = 0,
                      .weights = NULL,
                      .n_weights = 0,
                      .gamma = 1.0f,
                      .layer_norm = 0};
}

static size_t dim_for(int n_layers, int D, const elmo_mix *mix) {
    if (!mix || mix->kind < ELMO_MIX_AVERAGE || mix->kind > ELMO_MIX_ALL) return 0;
    return mix->kind == ELMO_MIX_ALL ? (size_t)n_layers * (size_t)D : (size_t)D;
}

size_t elmo_mix_dim(const elmo_model *m, const elmo_mix *mix) {
    if (!m) return 0;
    return dim_for(m->cfg.n_layers + 1, 2 * m->cfg.projection_dim, mix);
}

static int check_mix(int n_layers, const elmo_mix *mix, elmo_error *err) {
    if (!mix) return elmo_fail(err, ELMO_ERR_ARG, "mix is NULL");
    if (mix->kind < ELMO_MIX_AVERAGE || mix->kind > ELMO_MIX_ALL)
        return elmo_fail(err, ELMO_ERR_ARG, "unknown mix kind %d", (int)mix->kind);
    if (!isfinite(mix->gamma)) return elmo_fail(err, ELMO_ERR_ARG, "gamma must be a finite number");
    if (mix->kind == ELMO_MIX_LAYER && (mix->layer < 0 || mix->layer >= n_layers))
        return elmo_fail(err, ELMO_ERR_ARG,
                         "layer %d does not exist; this model has layers 0 to %d", mix->layer,
                         n_layers - 1);
    if (mix->kind == ELMO_MIX_WEIGHTS) {
        if (!mix->weights || mix->n_weights != (size_t)n_layers)
            return elmo_fail(err, ELMO_ERR_ARG,
                             "a weighted mix needs %d weights (one per layer), got %zu", n_layers,
                             mix->weights ? mix->n_weights : 0);
        for (size_t k = 0; k < mix->n_weights; k++)
            if (!isfinite(mix->weights[k]))
                return elmo_fail(err, ELMO_ERR_ARG, "mix weight %zu is not a finite number", k);
    }
    return ELMO_OK;
}

int elmo_mix_check(const elmo_model *m, const elmo_mix *mix, elmo_error *err) {
    if (!m) return elmo_fail(err, ELMO_ERR_ARG, "model is NULL");
    return check_mix(m->cfg.n_layers + 1, mix, err);
}

/* Per-layer coefficients a_k (softmax for caller weights, one-hot or uniform otherwise). */
void elmo_mix_coefficients(int n_layers, const elmo_mix *mix, double *a) {
    for (int k = 0; k < n_layers; k++) a[k] = 0;
    switch (mix->kind) {
    case ELMO_MIX_AVERAGE:
    case ELMO_MIX_ALL:
        for (int k = 0; k < n_layers; k++) a[k] = mix->kind == ELMO_MIX_ALL ? 1.0 : 1.0 / n_layers;
        break;
    case ELMO_MIX_TOP: a[n_layers - 1] = 1; break;
    case ELMO_MIX_LAYER: a[mix->layer] = 1; break;
    case ELMO_MIX_WEIGHTS: {
        double top = mix->weights[0], sum = 0;
        for (int k = 1; k < n_layers; k++) top = mix->weights[k] > top ? mix->weights[k] : top;
        for (int k = 0; k < n_layers; k++) sum += a[k] = exp((double)mix->weights[k] - top);
        for (int k = 0; k < n_layers; k++) a[k] /= sum;
        break;
    }
    }
}

/* Mean and 1/sqrt(var + eps) of all values of rows [count] (population variance). */
static void layer_stats(const float *rows, size_t count, double *mean, double *inv_std) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < count; i++) sum += rows[i];
    double mu = sum / (double)count;
    for (size_t i = 0; i < count; i++) sq += ((double)rows[i] - mu) * ((double)rows[i] - mu);
    *mean = mu;
    *inv_std = 1.0 / sqrt(sq / (double)count + LAYER_NORM_EPS);
}

double elmo_mix_scale(float gamma, double a, double inv_std) {
    return (double)gamma * a * inv_std;
}

void elmo_mix_add_layer(const float *x, size_t n, size_t D, size_t from, size_t to, double scale,
                        double mean, float *y, size_t ldy) {
    for (size_t j = 0; j < n; j++)
        for (size_t d = from; d < to; d++)
            y[j * ldy + d] += (float)(scale * ((double)x[j * D + d] - mean));
}

int elmo_mix_check_finite(const float *y, size_t count, const elmo_mix *mix, elmo_error *err) {
    for (size_t i = 0; i < count; i++)
        if (!isfinite(y[i]))
            return elmo_fail(err, ELMO_ERR_ARG,
                             "the mixed vector overflows float32 (gamma %g%s); use a smaller "
                             "gamma or smaller mix weights",
                             (double)mix->gamma, mix->layer_norm ? ", with layer norm" : "");
    return ELMO_OK;
}

int elmo_result_mix(const elmo_result *r, size_t i, const elmo_mix *mix, float *out,
                    elmo_error *err) {
    if (!r || i >= r->n || !out)
        return elmo_fail(err, ELMO_ERR_ARG, "elmo_result_mix: no sentence %zu in this result", i);
    int rc = check_mix(r->n_layers, mix, err);
    if (rc) return rc;
    if (r->slots < r->n_layers)
        return elmo_fail(err, ELMO_ERR_ARG, "elmo_result_mix: this result kept only some layers");
    size_t n = r->n_tokens[i], D = (size_t)r->dim, width = dim_for(r->n_layers, r->dim, mix);
    double a[ELMO_MAX_LSTM_LAYERS + 1];
    elmo_mix_coefficients(r->n_layers, mix, a);
    memset(out, 0, n * width * sizeof(float));
    for (int k = 0; k < r->n_layers; k++) {
        if (a[k] == 0) continue;
        const float *rows = elmo_result_rows(r, i, k); /* [n + 2, D], boundaries included */
        double mean = 0, inv_std = 1;
        if (mix->layer_norm) layer_stats(rows, (n + 2) * D, &mean, &inv_std);
        size_t col = mix->kind == ELMO_MIX_ALL ? (size_t)k * D : 0;
        elmo_mix_add_layer(rows + D, n, D, 0, D, elmo_mix_scale(mix->gamma, a[k], inv_std), mean,
                           out + col, width);
    }
    if ((rc = elmo_mix_check_finite(out, n * width, mix, err))) return rc;
    return elmo_ok(err);
}

void elmo_pool(const float *x, size_t n, size_t dim, elmo_pooling pooling, float *out) {
    if (!out) return;
    if (n == 0 || !x) {
        memset(out, 0, dim * sizeof(float));
        return;
    }
    for (size_t d = 0; d < dim; d++) {
        if (pooling == ELMO_POOL_MAX) {
            float best = x[d];
            for (size_t j = 1; j < n; j++) best = x[j * dim + d] > best ? x[j * dim + d] : best;
            out[d] = best;
        } else {
            double sum = 0;
            for (size_t j = 0; j < n; j++) sum += x[j * dim + d];
            out[d] = (float)(sum / (double)n);
        }
    }
}
