/* kernels.c - vectorizable elementwise loops; see kernels.h. */
#include "kernels.h"

#include "fastmath.h"
#include "multiversion.h"

#define CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))

/* One sentence's gates; restrict lets the compiler vectorize across units. Products of a
 * sigmoid and a tanh share one division (divisions cost more than the rest):
 *   sigmoid(a) tanh(b) = (e^2b - 1) / ((1 + e^-a) (e^2b + 1)),  sigmoid(f) c = c / (1 + e^-f)
 * (exp_tanh keeps e^2b small enough that the product overflows only where the result is
 * ~0 anyway). */
static inline void gates_row(const float *restrict z, const float *restrict bias, float *restrict c,
                             float *restrict m, size_t H, float lim) {
    for (size_t u = 0; u < H; u++) {
        float ei = exp_fast(-(z[u] + bias[u]));
        float ej = exp_tanh(z[H + u] + bias[H + u]);
        float ef = exp_fast(-(z[2 * H + u] + bias[2 * H + u]));
        float eo = exp_fast(-(z[3 * H + u] + bias[3 * H + u]));
        float cn = c[u] / (1.0f + ef) + (ej - 1.0f) / ((1.0f + ei) * (ej + 1.0f));
        cn = CLAMP(cn, -lim, lim);
        c[u] = cn;
        float ec = exp_tanh(cn);
        m[u] = (ec - 1.0f) / ((1.0f + eo) * (ec + 1.0f));
    }
}

MULTIVERSION
void elmo_lstm_gates(const float *z, const float *bias, float *c, float *m, size_t rows, size_t H,
                     float clip) {
    const float lim = clip > 0 ? clip : 3.0e38f;
    for (size_t r = 0; r < rows; r++) gates_row(z + r * 4 * H, bias, c + r * H, m + r * H, H, lim);
}

MULTIVERSION
void elmo_clip(float *x, size_t n, float clip) {
    if (clip <= 0) return;
    for (size_t i = 0; i < n; i++) x[i] = CLAMP(x[i], -clip, clip);
}

MULTIVERSION
void elmo_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

MULTIVERSION
void elmo_highway_combine(float *x, const float *gate, const float *b_gate, const float *transform,
                          const float *b_transform, size_t rows, size_t F) {
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * F;
        const float *gr = gate + r * F, *tr = transform + r * F;
        for (size_t f = 0; f < F; f++) {
            float g = sigmoid_fast(gr[f] + b_gate[f]);
            float t = tr[f] + b_transform[f];
            t = t > 0 ? t : 0;
            xr[f] = g * t + (1.0f - g) * xr[f];
        }
    }
}

MULTIVERSION
void elmo_conv_max(const float *s, size_t positions, size_t n, const float *bias, int relu,
                   float *out) {
    for (size_t f = 0; f < n; f++) out[f] = s[f];
    for (size_t p = 1; p < positions; p++) {
        const float *row = s + p * n;
        for (size_t f = 0; f < n; f++) out[f] = row[f] > out[f] ? row[f] : out[f];
    }
    /* Both activations are monotone, so act(max) == max(act) (docs/model.md §5 step 3). */
    if (relu) {
        for (size_t f = 0; f < n; f++) {
            float v = out[f] + bias[f];
            out[f] = v > 0 ? v : 0;
        }
    } else {
        for (size_t f = 0; f < n; f++) out[f] = tanh_fast(out[f] + bias[f]);
    }
}

MULTIVERSION
void elmo_max_rows(const float *s, size_t rows, size_t n, float *acc) {
    for (size_t p = 0; p < rows; p++) {
        const float *row = s + p * n;
        for (size_t f = 0; f < n; f++) acc[f] = row[f] > acc[f] ? row[f] : acc[f];
    }
}

MULTIVERSION
void elmo_add_bias_rows(float *y, const float *bias, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < n; i++) y[r * n + i] += bias[i];
}
