/* gemm.h - the engine's matrix products C = A . W with W packed once.
 *
 * Rounding contract: a row of C depends only on that row of A, on W and on the row's
 * initial C (when accumulating), never on M, the row's position in A, the thread or the
 * call. So one sentence gives the same bytes whatever batch it runs in.
 *
 *   fp32: every output element is
 *           acc = accumulate ? C[m][n] : 0;
 *           for k = 0 .. K-1 ascending: acc = fmaf(A[m][k], W[k][n], acc);
 *           C[m][n] = acc;
 *         one rounding per FMA, strictly sequential in k. The kernels vectorize across
 *         columns and rows, never across k; K-blocking round-trips acc through C, which
 *         is exact. The AVX-512 kernel, the AVX2 kernel and the portable fmaf loop give
 *         the same bits.
 *   bf16: W is rounded to bfloat16 at pack time (round to nearest even; NaN stays NaN;
 *         float32 denormals become signed zeros, as vcvtne2ps2bf16 makes them); at run
 *         time each row of A is rounded to bfloat16 the same way, and K is
 *         consumed in pairs (2p, 2p+1) by vdpbf16ps into an fp32 accumulator that starts
 *         at (accumulate ? C[m][n] : 0); for odd K the last pair's second element is zero
 *         in both A and W. vdpbf16ps adds the odd element's exact product, then the even
 *         one's, each with one rounding, treating denormal inputs (the accumulator's
 *         too) as zero and flushing denormal results to zero. Only on CPUs with
 *         AVX512-BF16.
 *
 * elmo_gemm never fails, never allocates on the heap (bf16 converts A into a 96 KiB stack
 * buffer; fp32 needs little stack) and is reentrant: many threads may share one packed W.
 *
 * Speed (one Zen 5 core, quiet machine): at M = 64..256 fp32 reaches about 85-95 % of the
 * 512-bit FMA peak and bf16 80-95 % of the vdpbf16ps peak (M = 16: about 65 %); M = 1
 * streams W at memory bandwidth. Where
 * AVX-512 is missing, fp32 takes the AVX2+FMA kernel, else a portable loop; bf16 is
 * refused at pack time. */
#ifndef ELMO_CORE_GEMM_H
#define ELMO_CORE_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h" /* elmo_precision: ELMO_PRECISION_FP32 = 1, ELMO_PRECISION_BF16 = 2 */

typedef struct elmo_packed {
    int64_t K, N;  /* the logical weight matrix W [K, N] */
    int precision; /* ELMO_PRECISION_FP32 or ELMO_PRECISION_BF16 */
    void *data;    /* packed panels, 64-byte aligned; layout private to gemm.c */
    size_t bytes;  /* bytes of data */
} elmo_packed;

/* Packs W [K, N] (row-major float32, row stride ldw >= N). Returns ELMO_OK, ELMO_ERR_NOMEM
 * (out of memory) or ELMO_ERR_ARG (bf16 on a CPU without AVX512-BF16, or bad sizes);
 * *out is zeroed on failure. */
int elmo_pack(const float *w, size_t ldw, int64_t K, int64_t N, int precision, elmo_packed *out);

/* Frees the panels; safe on a zeroed struct; zeroes it. */
void elmo_packed_free(elmo_packed *p);

/* C [M, N] (row stride ldc) = (accumulate ? C : 0) + A [M, K] (row stride lda) . W.
 * C must not overlap A; only C's [M, N] elements are written (not the gaps of ldc > N).
 * M = 0 does nothing. */
void elmo_gemm(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C, size_t ldc,
               int accumulate);

/* Test hook for fp32 products (process-wide; for tests and benchmarks only): 0 takes the
 * best kernel of this CPU, 1 the portable fmaf loop, 2 the AVX2 kernel (where the CPU has
 * AVX2 and FMA, else the portable loop). */
void elmo_gemm_force_portable(int level);

/* 1 when bf16 products can run: AVX512-BF16 present and not capped by ELMO_KERNEL. */
int elmo_gemm_bf16_usable(void);

/* The fp32 kernel elmo_gemm runs here: "avx512", "avx2" or "portable" (ELMO_KERNEL=avx2 or
 * ELMO_KERNEL=portable in the environment caps it, for comparisons and tests). */
const char *elmo_gemm_kernel_name(void);

/* bf16 rounding of one float as elmo_pack does it and as vcvtne2ps2bf16 does (round to
 * nearest even, NaN stays a quiet NaN, denormals become signed zeros), returned as the
 * bf16's 16 bits. For tests. */
uint16_t elmo_bf16_round(float x);

#endif
