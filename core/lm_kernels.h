/* lm_kernels.h - the reductions over a block of logits that the language-model head needs
 * (log-sum-exp, ranks). Each is a fixed-order reduction over 16 lanes (element i goes to
 * lane i % 16, lanes are combined in a fixed tree), so a row's result depends only on its
 * values, never on the CPU level the loop was compiled for or on where the row sits. */
#ifndef ELMO_CORE_LM_KERNELS_H
#define ELMO_CORE_LM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* x[i] += b[i] for i < n (b NULL: unchanged); returns the largest x[i] (n >= 1). */
float elmo_lm_add_max(float *x, const float *b, size_t n);

/* The sum over i < n of exp(x[i] - m), exp as exp_fast (fastmath.h), summed in double. */
double elmo_lm_sum_exp(const float *x, size_t n, float m);

/* How many x[i] (i < n) are strictly greater than t. */
int64_t elmo_lm_count_above(const float *x, size_t n, float t);

#endif
