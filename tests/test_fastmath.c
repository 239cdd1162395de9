/* test_fastmath.c - exp_fast, sigmoid_fast and tanh_fast (core/fastmath.h) over special
 * values: NaN (either sign) gives NaN, the infinities and huge inputs clamp to finite limits,
 * and nothing is undefined behaviour (the sanitizer build aborts on a signed overflow);
 * plus accuracy against libm over the normal range. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastmath.h"
#include "harness.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Kept out of line so the compiler cannot fold the calls at compile time. */
static volatile float sink;
static float call_exp(float x) {
    return sink = exp_fast(x);
}
static float call_sigmoid(float x) {
    return sink = sigmoid_fast(x);
}
static float call_tanh(float x) {
    return sink = tanh_fast(x);
}

static void test_nan(void) {
    /* quiet and signalling NaNs, both signs, several payloads */
    const uint32_t nans[] = {0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFF800001u,
                             0x7FFFFFFFu, 0xFFFFFFFFu, 0x7FA00000u};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float x = from_bits(nans[i]);
        CHECK(isnan(call_exp(x)));
        CHECK(isnan(call_sigmoid(x)));
        CHECK(isnan(call_tanh(x)));
    }
}

static void test_limits(void) {
    float hi = call_exp(88.0f), lo = call_exp(-87.0f);
    CHECK(isfinite(hi) && hi > 1e38f);
    CHECK(lo > 0 && lo < 1e-37f);
    const float big[] = {INFINITY, FLT_MAX, 1e30f, 89.0f, 1000.0f};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        CHECK(call_exp(big[i]) == hi);
        CHECK(call_exp(-big[i]) == lo);
        CHECK(call_sigmoid(big[i]) == 1.0f);
        CHECK(call_sigmoid(-big[i]) >= 0.0f && call_sigmoid(-big[i]) < 1e-37f);
        CHECK(call_tanh(big[i]) == 1.0f);
        CHECK(call_tanh(-big[i]) == -1.0f);
    }
    /* zeros and subnormals */
    const float tiny[] = {0.0f, -0.0f, FLT_MIN, -FLT_MIN, from_bits(1), from_bits(0x80000001u)};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        CHECK(call_exp(tiny[i]) == 1.0f);
        CHECK(call_sigmoid(tiny[i]) == 0.5f);
        CHECK(fabsf(call_tanh(tiny[i])) < 1e-6f);
    }
}

static void test_accuracy(void) {
    double worst = 0;
    for (float x = -80.0f; x <= 80.0f; x += 0.013f) {
        double ref = exp((double)x), rel = fabs((double)call_exp(x) - ref) / ref;
        if (rel > worst) worst = rel;
    }
    CHECK(worst < 3e-7);
}

int main(void) {
    test_nan();
    test_limits();
    test_accuracy();
    return harness_report("test_fastmath");
}
