/* gemm_avx512.c - AVX-512 kernels of elmo_gemm (fp32 FMA and AVX512-BF16), compiled for
 * that target here and chosen at run time, so the rest of the build needs no -march.
 *
 * Register tile: MR (<= 6) rows x NV (<= 4) vectors of 16 columns, 24 accumulators; each
 * step of k loads NV panel vectors once and broadcasts one A value (fp32) or one A pair
 * (bf16) per row. Every accumulator lane is one (m, n) and sees k in ascending order,
 * which is the rounding contract of gemm.h. Loops: K blocks (so a panel block stays in
 * L2 while every row tile of the block reuses it), row blocks, panels, row tiles. */
#include "gemm_internal.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma,avx2")
#include <immintrin.h>

#define MR_MAX 6
#define F32_KC 512   /* k per block when several row tiles share a panel block */
#define F32_MB 192   /* rows per block: A [MB, KC] stays in L2 */
#define BF_BUF 24576 /* bf16 pairs of A converted per block (96 KiB of stack) */
#define BF_KCP 256   /* pairs per block when several row tiles share a panel block */
#define BF_MB 96     /* rows per block */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The next panel block to fetch into L2 while this one is in use: one line every `every`
 * k-steps of the row tiles, so that it arrives evenly over this block's work instead of
 * in a burst of misses at the first row tile of the next (prefetchers stop at pages). */
typedef struct ahead {
    const char *p, *end;
    size_t every, countdown;
} ahead;

/* C tile [MR, NV*16] (row stride ldc; last vector masked by tail) += A [MR, kn] . panel
 * block [kn][NV*16]; starts from 0 unless load. */
ALWAYS_INLINE void tile_f32(const int MR, const int NV, size_t kn, const float *a, size_t lda,
                            const float *b, float *c, size_t ldc, int load, __mmask16 tail,
                            ahead *f) {
    __m512 acc[MR_MAX][4];
    for (int m = 0; m < MR; m++)
        for (int v = 0; v < NV; v++)
            acc[m][v] =
                load ? _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, c + m * ldc + v * 16)
                     : _mm512_setzero_ps();
    const float *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda,
                *a5 = a + 5 * lda;
    const float *ar[MR_MAX] = {a, a1, a2, a3, a4, a5};
    const char *pf = f->p, *pf_end = f->end;
    size_t countdown = f->countdown;
#pragma GCC unroll 2
    for (size_t k = 0; k < kn; k++) {
        if (pf < pf_end && --countdown == 0) {
            _mm_prefetch(pf, _MM_HINT_T1);
            pf += 64;
            countdown = f->every;
        }
        __m512 bv[4];
        for (int v = 0; v < NV; v++) bv[v] = _mm512_load_ps(b + k * NV * 16 + v * 16);
        for (int m = 0; m < MR; m++) {
            __m512 av = _mm512_set1_ps(ar[m][k]);
            for (int v = 0; v < NV; v++) acc[m][v] = _mm512_fmadd_ps(av, bv[v], acc[m][v]);
        }
    }
    for (int m = 0; m < MR; m++)
        for (int v = 0; v < NV; v++)
            _mm512_mask_storeu_ps(c + m * ldc + v * 16, v == NV - 1 ? tail : 0xffff, acc[m][v]);
    f->p = pf;
    f->countdown = countdown;
}

/* The same for bf16: A pairs [MR, kp] (row stride ldp, as 32-bit words), panel block
 * [kp][NV*16][2]. */
ALWAYS_INLINE void tile_bf16(const int MR, const int NV, size_t kp, const uint32_t *a, size_t ldp,
                             const uint16_t *b, float *c, size_t ldc, int load, __mmask16 tail) {
    __m512 acc[MR_MAX][4];
    for (int m = 0; m < MR; m++)
        for (int v = 0; v < NV; v++)
            acc[m][v] =
                load ? _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, c + m * ldc + v * 16)
                     : _mm512_setzero_ps();
#pragma GCC unroll 2
    for (size_t q = 0; q < kp; q++) {
        __m512bh bv[4];
        for (int v = 0; v < NV; v++)
            bv[v] = (__m512bh)_mm512_load_si512((const void *)(b + (q * NV * 16 + v * 16) * 2));
        for (int m = 0; m < MR; m++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[m * ldp + q]);
            for (int v = 0; v < NV; v++) acc[m][v] = _mm512_dpbf16_ps(acc[m][v], av, bv[v]);
        }
    }
    for (int m = 0; m < MR; m++)
        for (int v = 0; v < NV; v++)
            _mm512_mask_storeu_ps(c + m * ldc + v * 16, v == NV - 1 ? tail : 0xffff, acc[m][v]);
}

typedef void (*f32_fn)(size_t, const float *, size_t, const float *, float *, size_t, int,
                       __mmask16, ahead *);
typedef void (*bf16_fn)(size_t, const uint32_t *, size_t, const uint16_t *, float *, size_t, int,
                        __mmask16);

#define DEF(MR, NV)                                                                                \
    static void f32_##MR##_##NV(size_t kn, const float *a, size_t lda, const float *b, float *c,   \
                                size_t ldc, int load, __mmask16 tail, ahead *f) {                  \
        tile_f32(MR, NV, kn, a, lda, b, c, ldc, load, tail, f);                                    \
    }                                                                                              \
    static void bf16_##MR##_##NV(size_t kp, const uint32_t *a, size_t ldp, const uint16_t *b,      \
                                 float *c, size_t ldc, int load, __mmask16 tail) {                 \
        tile_bf16(MR, NV, kp, a, ldp, b, c, ldc, load, tail);                                      \
    }
#define DEF_ROW(MR) DEF(MR, 1) DEF(MR, 2) DEF(MR, 3) DEF(MR, 4)
DEF_ROW(1)
DEF_ROW(2)
DEF_ROW(3)
DEF_ROW(4)
DEF_ROW(5)
DEF_ROW(6)

#define ROW(P, MR)                                                                                 \
    { P##_##MR##_1, P##_##MR##_2, P##_##MR##_3, P##_##MR##_4 }
static const f32_fn f32_tiles[MR_MAX][4] = {ROW(f32, 1), ROW(f32, 2), ROW(f32, 3),
                                            ROW(f32, 4), ROW(f32, 5), ROW(f32, 6)};
static const bf16_fn bf16_tiles[MR_MAX][4] = {ROW(bf16, 1), ROW(bf16, 2), ROW(bf16, 3),
                                              ROW(bf16, 4), ROW(bf16, 5), ROW(bf16, 6)};

static inline size_t min_size(size_t a, size_t b) {
    return a < b ? a : b;
}

/* Columns [n0, n0 + wp) of the panel: vectors and the mask of the last one. */
static inline __mmask16 tail_mask(size_t N, size_t n0, size_t wp) {
    size_t w = min_size(N - n0, wp), last = w - (wp - 16);
    return (__mmask16)(last >= 16 ? 0xffff : (1u << last) - 1);
}

void elmo_gemm_f32_avx512(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                          size_t ldc, int accumulate) {
    size_t K = (size_t)W->K, N = (size_t)W->N;
    const float *data = W->data;
    /* one row tile: no panel reuse, so no K blocking (C is touched once) */
    size_t kc = M <= MR_MAX ? K : F32_KC;
    for (size_t k0 = 0; k0 < K; k0 += kc) {
        size_t kn = min_size(kc, K - k0);
        int load = accumulate || k0 > 0;
        for (size_t r0 = 0; r0 < M; r0 += F32_MB) {
            size_t mb = min_size(F32_MB, M - r0);
            for (size_t n0 = 0; n0 < N; n0 += GEMM_PANEL) {
                size_t wp = gemm_panel_width(N, n0), nv = wp / 16;
                __mmask16 tail = tail_mask(N, n0, wp);
                const float *b = data + n0 * K + k0 * wp;
                /* the next panel's block [kn][wp'] follows in memory at n0 + 64 */
                size_t next_bytes = n0 + GEMM_PANEL < N
                                        ? kn * gemm_panel_width(N, n0 + GEMM_PANEL) * sizeof(float)
                                        : 0;
                const char *next = (const char *)(data + (n0 + GEMM_PANEL) * K + k0 * GEMM_PANEL);
                size_t steps = (mb + MR_MAX - 1) / MR_MAX * kn, lines = next_bytes / 64;
                size_t every = lines ? (steps / lines > 0 ? steps / lines : 1) : 1;
                ahead f = {next, next + next_bytes, every, every};
                for (size_t i = 0; i < mb; i += MR_MAX) {
                    size_t mr = min_size(MR_MAX, mb - i);
                    f32_tiles[mr - 1][nv - 1](kn, A + (r0 + i) * lda + k0, lda, b,
                                              C + (r0 + i) * ldc + n0, ldc, load, tail, &f);
                }
            }
        }
    }
}

/* Rounds A [mb, kn] (row stride lda) to bf16 pairs [mb, kp] (row stride kp words);
 * the pair of an odd kn's last element is zero. */
static void convert_rows(const float *A, size_t lda, size_t mb, size_t kn, uint32_t *out,
                         size_t kp) {
    for (size_t m = 0; m < mb; m++) {
        const float *a = A + m * lda;
        uint32_t *o = out + m * kp;
        for (size_t k = 0; k < kn; k += 32) {
            size_t left = kn - k;
            __m512 x0 = _mm512_maskz_loadu_ps(gemm_mask_lo(left), a + k);
            __m512 x1 = _mm512_maskz_loadu_ps(gemm_mask_hi(left), a + k + 16);
            __m512i p = (__m512i)_mm512_cvtne2ps_pbh(x1, x0); /* words: x0 then x1 */
            size_t words = min_size((left + 1) / 2, 16);
            _mm512_mask_storeu_epi32(o + k / 2, (__mmask16)((1u << words) - 1), p);
        }
    }
}

void elmo_gemm_bf16_avx512(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                           size_t ldc, int accumulate) {
    uint32_t abuf[BF_BUF] __attribute__((aligned(64))); /* A pairs [mb, kp] */
    size_t K = (size_t)W->K, N = (size_t)W->N, K2 = (K + 1) / 2;
    const uint16_t *data = W->data;
    size_t mb_max = min_size(M, BF_MB);
    size_t kcp = min_size(K2, BF_BUF / mb_max);
    if (M > MR_MAX) kcp = min_size(kcp, BF_KCP);
    for (size_t q0 = 0; q0 < K2; q0 += kcp) {
        size_t kp = min_size(kcp, K2 - q0), k0 = 2 * q0, kn = min_size(2 * kp, K - k0);
        int load = accumulate || q0 > 0;
        for (size_t r0 = 0; r0 < M; r0 += mb_max) {
            size_t mb = min_size(mb_max, M - r0);
            convert_rows(A + r0 * lda + k0, lda, mb, kn, abuf, kp);
            for (size_t n0 = 0; n0 < N; n0 += GEMM_PANEL) {
                size_t wp = gemm_panel_width(N, n0), nv = wp / 16;
                __mmask16 tail = tail_mask(N, n0, wp);
                const uint16_t *b = data + n0 * 2 * K2 + q0 * wp * 2;
                for (size_t i = 0; i < mb; i += MR_MAX) {
                    size_t mr = min_size(MR_MAX, mb - i);
                    bf16_tiles[mr - 1][nv - 1](kp, abuf + i * kp, kp, b, C + (r0 + i) * ldc + n0,
                                               ldc, load, tail);
                }
            }
        }
    }
}

#pragma GCC pop_options

int elmo_gemm_avx512_usable(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

#else /* no AVX-512 kernels in this build */

int elmo_gemm_avx512_usable(void) {
    return 0;
}

void elmo_gemm_f32_avx512(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                          size_t ldc, int accumulate) {
    (void)A, (void)lda, (void)M, (void)W, (void)C, (void)ldc, (void)accumulate;
}

void elmo_gemm_bf16_avx512(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                           size_t ldc, int accumulate) {
    (void)A, (void)lda, (void)M, (void)W, (void)C, (void)ldc, (void)accumulate;
}

#endif
