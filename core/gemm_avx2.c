/* gemm_avx2.c - the fp32 product for CPUs with AVX2 and FMA but no AVX-512, compiled for
 * that target here and chosen at run time. Same packed layout and rounding contract as
 * the AVX-512 kernel (every lane is one (m, n), k ascending): only the register tile
 * differs, 6 rows x 16 columns (12 ymm accumulators) walking each panel in strips of 16
 * columns. */
#include "gemm_internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#define MR_MAX 6
#define KC 256 /* k per block: a panel block of 64 KiB stays in L2 over every row tile */
#define MB 192 /* rows per block */

/* C tile [MR, 16] (row stride ldc; `cols` of the 16 are real) (+)= A [MR, kn] . strip
 * [kn][16] of a panel of padded width wp. */
static inline __attribute__((always_inline)) void tile(const int MR, size_t kn, const float *a,
                                                       size_t lda, const float *b, size_t wp,
                                                       float *c, size_t ldc, int load,
                                                       size_t cols) {
    __m256 lo[MR_MAX], hi[MR_MAX]; /* columns 0-7 and 8-15 */
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols), lane);
    __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols - 8), lane);
    int full = cols == 16; /* masked moves are slow on some CPUs: only for the tail */
    for (int m = 0; m < MR; m++) {
        if (!load) lo[m] = hi[m] = _mm256_setzero_ps();
        else if (full)
            lo[m] = _mm256_loadu_ps(c + m * ldc), hi[m] = _mm256_loadu_ps(c + m * ldc + 8);
        else
            lo[m] = _mm256_maskload_ps(c + m * ldc, m0),
            hi[m] = _mm256_maskload_ps(c + m * ldc + 8, m1);
    }
#pragma GCC unroll 2
    for (size_t k = 0; k < kn; k++) {
        __m256 b0 = _mm256_load_ps(b + k * wp), b1 = _mm256_load_ps(b + k * wp + 8);
        for (int m = 0; m < MR; m++) {
            __m256 av = _mm256_set1_ps(a[m * lda + k]);
            lo[m] = _mm256_fmadd_ps(av, b0, lo[m]);
            hi[m] = _mm256_fmadd_ps(av, b1, hi[m]);
        }
    }
    for (int m = 0; m < MR; m++) {
        if (full) {
            _mm256_storeu_ps(c + m * ldc, lo[m]);
            _mm256_storeu_ps(c + m * ldc + 8, hi[m]);
        } else {
            _mm256_maskstore_ps(c + m * ldc, m0, lo[m]);
            _mm256_maskstore_ps(c + m * ldc + 8, m1, hi[m]);
        }
    }
}

/* One row across the whole panel: C row [wp] (`cols` real) (+)= A row [kn] . panel block
 * [kn][NV*8]. Up to 8 accumulators, and the panel is read in address order, which is
 * what a single row (bound by memory) needs. */
static inline __attribute__((always_inline)) void row_wide(const int NV, size_t kn, const float *a,
                                                           const float *b, float *c, int load,
                                                           size_t cols) {
    __m256 acc[8];
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int v = 0; v < NV; v++) {
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols - 8 * v), lane);
        acc[v] = !load                         ? _mm256_setzero_ps()
                 : (size_t)(v + 1) * 8 <= cols ? _mm256_loadu_ps(c + 8 * v)
                                               : _mm256_maskload_ps(c + 8 * v, mask);
    }
    for (size_t k = 0; k < kn; k++) {
        __m256 av = _mm256_set1_ps(a[k]);
        for (int v = 0; v < NV; v++)
            acc[v] = _mm256_fmadd_ps(av, _mm256_load_ps(b + k * NV * 8 + v * 8), acc[v]);
    }
    for (int v = 0; v < NV; v++) {
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cols - 8 * v), lane);
        if ((size_t)(v + 1) * 8 <= cols) _mm256_storeu_ps(c + 8 * v, acc[v]);
        else _mm256_maskstore_ps(c + 8 * v, mask, acc[v]);
    }
}

typedef void (*wide_fn)(size_t, const float *, const float *, float *, int, size_t);
#define DEF_WIDE(NV)                                                                               \
    static void wide_##NV(size_t kn, const float *a, const float *b, float *c, int load,           \
                          size_t cols) {                                                           \
        row_wide(NV, kn, a, b, c, load, cols);                                                     \
    }
DEF_WIDE(2)
DEF_WIDE(4)
DEF_WIDE(6)
DEF_WIDE(8)
static const wide_fn wides[4] = {wide_2, wide_4, wide_6, wide_8}; /* by wp / 16 - 1 */

typedef void (*tile_fn)(size_t, const float *, size_t, const float *, size_t, float *, size_t, int,
                        size_t);
#define DEF(MR)                                                                                    \
    static void tile_##MR(size_t kn, const float *a, size_t lda, const float *b, size_t wp,        \
                          float *c, size_t ldc, int load, size_t cols) {                           \
        tile(MR, kn, a, lda, b, wp, c, ldc, load, cols);                                           \
    }
DEF(1)
DEF(2)
DEF(3)
DEF(4)
DEF(5)
DEF(6)
static const tile_fn tiles[MR_MAX] = {tile_1, tile_2, tile_3, tile_4, tile_5, tile_6};

static inline size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
}

void elmo_gemm_f32_avx2(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                        size_t ldc, int accumulate) {
    size_t K = (size_t)W->K, N = (size_t)W->N;
    const float *data = W->data;
    size_t kc = M <= MR_MAX ? K : KC;
    for (size_t k0 = 0; k0 < K; k0 += kc) {
        size_t kn = min_size(kc, K - k0);
        int load = accumulate || k0 > 0;
        for (size_t r0 = 0; r0 < M; r0 += MB) {
            size_t mb = min_size(MB, M - r0);
            for (size_t n0 = 0; n0 < N; n0 += GEMM_PANEL) {
                size_t wp = gemm_panel_width(N, n0);
                const float *panel = data + n0 * K + k0 * wp;
                /* tiles of 2..6 rows walk the panel in strips of 16 columns; a last
                 * single row takes the whole panel width at once */
                size_t tiled = mb % MR_MAX == 1 ? mb - 1 : mb;
                for (size_t j0 = 0; j0 < wp && tiled; j0 += 16) {
                    size_t cols = min_size(N - n0 - j0, 16);
                    for (size_t i = 0; i < tiled; i += MR_MAX) {
                        size_t mr = min_size(MR_MAX, tiled - i);
                        tiles[mr - 1](kn, A + (r0 + i) * lda + k0, lda, panel + j0, wp,
                                      C + (r0 + i) * ldc + n0 + j0, ldc, load, cols);
                    }
                }
                if (tiled < mb)
                    wides[wp / 16 - 1](kn, A + (r0 + tiled) * lda + k0, panel,
                                       C + (r0 + tiled) * ldc + n0, load, N - n0);
            }
        }
    }
}

#pragma GCC pop_options

int elmo_gemm_avx2_usable(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#else /* no AVX2 kernel in this build */

int elmo_gemm_avx2_usable(void) {
    return 0;
}

void elmo_gemm_f32_avx2(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                        size_t ldc, int accumulate) {
    (void)A, (void)lda, (void)M, (void)W, (void)C, (void)ldc, (void)accumulate;
}

#endif
