/* fastmath.h - exp, sigmoid and tanh written so that loops over arrays vectorize.
 *
 * libm's expf is scalar; the LSTM evaluates ~5 of them per cell unit per step, which would
 * cost more than the matrix products it follows. exp_fast is a range reduction
 * x = n*ln2 + r (|r| <= ln2/2) plus a degree-7 polynomial: relative error below 2e-7 over
 * the clamped range, no branches, no table lookups. Defined for every float: -Inf and
 * huge inputs clamp (exp_fast(-Inf) = e^-87, exp_fast(+Inf) = e^88), NaN gives NaN.
 *
 * The steps are fmaf: one rounding each, the same bits on every CPU (a fused instruction
 * where the code is built for FMA, libm's exact fmaf elsewhere), and half the operations
 * of separate multiplies and adds (the build does not contract a * b + c by itself).
 */
#ifndef ELMO_CORE_FASTMATH_H
#define ELMO_CORE_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float exp_fast(float x) {
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float shifted = fmaf(x, 1.44269504088896341f, round_magic);
    float n = shifted - round_magic;                              /* round(x / ln2) */
    float r = fmaf(n, 2.12194440e-4f, fmaf(n, -0.693359375f, x)); /* x - n ln2, two-part */
    float p = 1.0f / 5040;
    p = fmaf(p, r, 1.0f / 720);
    p = fmaf(p, r, 1.0f / 120);
    p = fmaf(p, r, 1.0f / 24);
    p = fmaf(p, r, 1.0f / 6);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    /* 2^n as float bits. Unsigned, so that a NaN input (whose pattern the clamps above let
     * through) wraps instead of overflowing a signed shift: the result is then p * (some
     * finite scale) = NaN, and every other input has n in [-126, 127]. */
    uint32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    bits = (bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sigmoid_fast(float x) {
    return 1.0f / (1.0f + exp_fast(-x));
}

/* tanh(x) = 1 - 2 / (1 + e^{2x}): absolute error below 3e-7. */
static inline float tanh_fast(float x) {
    return 1.0f - 2.0f / (1.0f + exp_fast(2.0f * x));
}

/* e^{2x} for a tanh written as (e - 1) / (e + 1): 2x clamped to [-20, 20], where tanh is
 * already +-1 in float (1 - 2 / (e^20 + 1) rounds to 1), so that e stays below 5e8 and a
 * product with another gate's 1 + e^y cannot overflow where the result is not ~0. */
static inline float exp_tanh(float x) {
    float y = 2.0f * x;
    y = y < -20.0f ? -20.0f : y;
    y = y > 20.0f ? 20.0f : y;
    return exp_fast(y);
}

#endif
