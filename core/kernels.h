/* kernels.h - the elementwise loops of the forward pass (everything that is not a GEMM).
 * Built for several x86 levels at once (target_clones) so they vectorize wherever run. */
#ifndef ELMO_CORE_KERNELS_H
#define ELMO_CORE_KERNELS_H

#include <stddef.h>

/*
 * One LSTM step's gate math for `rows` sentences (docs/model.md §6.1), TF gate order i,j,f,o:
 *   c = clip(sigmoid(f) * c + sigmoid(i) * tanh(j)),  m = sigmoid(o) * tanh(c)
 * z [rows, 4H] pre-activations without bias, bias [4H] (forget +1 folded in),
 * c [rows, H] in/out, m [rows, H] out. clip <= 0 means no clipping.
 */
void elmo_lstm_gates(const float *z, const float *bias, float *c, float *m, size_t rows, size_t H,
                     float clip);

/* x[i] = clamp(x[i], -clip, clip) for n values; clip <= 0 leaves x alone. */
void elmo_clip(float *x, size_t n, float clip);

/* y[i] += x[i] for n values. */
void elmo_add(float *y, const float *x, size_t n);

/*
 * Highway combine for rows x F values (docs/model.md §5 step 5), in place on x:
 *   g = sigmoid(gate + b_gate), t = relu(transform + b_transform), x = g*t + (1-g)*x
 * gate, transform [rows, F] pre-activations; b_gate, b_transform [F].
 */
void elmo_highway_combine(float *x, const float *gate, const float *b_gate, const float *transform,
                          const float *b_transform, size_t rows, size_t F);

/* out[f] = act(max over p of s[p, f] + bias[f]) for s [positions, n]; act relu or tanh. */
void elmo_conv_max(const float *s, size_t positions, size_t n, const float *bias, int relu,
                   float *out);

/* acc[f] = max(acc[f], s[p, f]) for p = 0..rows-1 in order, s [rows, n]: a max over
 * positions taken in blocks (the same comparisons, in the same order, as elmo_conv_max). */
void elmo_max_rows(const float *s, size_t rows, size_t n, float *acc);

/* y [rows, n] += bias [n] broadcast over rows. */
void elmo_add_bias_rows(float *y, const float *bias, size_t rows, size_t n);

#endif
