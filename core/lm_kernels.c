/* lm_kernels.c - reductions over logits; see lm_kernels.h. */
#include "lm_kernels.h"

#include "fastmath.h"
#include "multiversion.h"

#include <string.h>

#define LANES 16

/* Lanes folded pairwise: ((0+8) + (4+12)) + ... always in the same order. */
static double fold_sum(double *lane) {
    for (int w = LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) lane[l] += lane[l + w];
    return lane[0];
}

/* 16 lanes as one vector (GCC's vector extension: the compiler keeps them in registers in
 * every clone, which it did not for a float[16] whose max has a NaN-ordered select). */
typedef float lanes_f __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t lanes_i __attribute__((vector_size(LANES * sizeof(float))));

MULTIVERSION
float elmo_lm_add_max(float *x, const float *b, size_t n) {
    if (b)
        for (size_t i = 0; i < n; i++) x[i] += b[i];
    lanes_f lane = {0};
    for (int l = 0; l < LANES; l++) lane[l] = x[0];
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        lanes_f v;
        lanes_i gt, vi, li;
        memcpy(&v, x + i, sizeof v);
        gt = v > lane; /* lane = v > lane ? v : lane, lane by lane */
        memcpy(&vi, &v, sizeof vi);
        memcpy(&li, &lane, sizeof li);
        li = (vi & gt) | (li & ~gt);
        memcpy(&lane, &li, sizeof lane);
    }
    for (; i < n; i++) lane[i % LANES] = x[i] > lane[i % LANES] ? x[i] : lane[i % LANES];
    float m = lane[0];
    for (int l = 1; l < LANES; l++) m = lane[l] > m ? lane[l] : m;
    return m;
}

MULTIVERSION
double elmo_lm_sum_exp(const float *x, size_t n, float m) {
    double lane[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) lane[l] += (double)exp_fast(x[i + l] - m);
    for (; i < n; i++) lane[i % LANES] += (double)exp_fast(x[i] - m);
    return fold_sum(lane);
}

MULTIVERSION
int64_t elmo_lm_count_above(const float *x, size_t n, float t) {
    int32_t lane[LANES] = {0}; /* n <= 2^31 per call: a block of the head */
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) lane[l] += x[i + l] > t;
    int64_t count = 0;
    for (; i < n; i++) count += x[i] > t;
    for (int l = 0; l < LANES; l++) count += lane[l];
    return count;
}
