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
 *         time each row of A is rounded to bfloat16 the same way. Two kernels, each with
 *         its own rounding (so bf16 bits are the same within one kernel, not across):
 *         avx512-bf16: K is consumed in pairs (2p, 2p+1) by vdpbf16ps into an fp32
 *           accumulator that starts at (accumulate ? C[m][n] : 0); for odd K the last
 *           pair's second element is zero in both A and W. vdpbf16ps adds the odd
 *           element's exact product, then the even one's, each with one rounding,
 *           treating denormal inputs (the accumulator's too) as zero and flushing
 *           denormal results to zero.
 *         amx-bf16: K is padded with zeros to a multiple of 32 and consumed in k-tiles of
 *           32 by tdpbf16ps, in ascending order, into an fp32 accumulator that starts at
 *           (accumulate ? C[m][n] : 0); within a k-tile the hardware sums the 32 products
 *           its own way (no scalar emulation is known), the same way for every row.
 *
 * elmo_gemm never fails, never allocates on the heap (bf16 converts A into a 96 KiB
 * (avx512-bf16) or 64 KiB (amx-bf16) stack buffer; fp32 needs little stack) and is
 * reentrant: many threads may share one packed W.
 *
 * Speed (one Zen 5 core, quiet machine): at M = 64..256 fp32 reaches about 85-95 % of the
 * 512-bit FMA peak and bf16 80-95 % of the vdpbf16ps peak (M = 16: about 65 %); M = 1
 * streams W at memory bandwidth. bf16 takes the AMX kernel where the CPU and the OS allow
 * it (Intel Sapphire Rapids and later), else AVX512-BF16; where neither is present bf16
 * is refused at pack time. fp32 takes AVX-512, else AVX2+FMA, else a portable loop. */
#ifndef ELMO_CORE_GEMM_H
#define ELMO_CORE_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h" /* elmo_precision: ELMO_PRECISION_FP32 = 1, ELMO_PRECISION_BF16 = 2 */

/* The kernels, in the order ELMO_KERNEL caps them (a cap allows its kernel and the ones
 * below it). fp32 kernels share one packed layout and give the same bits; the two bf16
 * kernels each have their own layout and round differently from each other. */
typedef enum elmo_kernel {
    ELMO_KERNEL_NONE = 0,
    ELMO_KERNEL_PORTABLE = 1,    /* fp32: the fmaf loop */
    ELMO_KERNEL_AVX2_FP32 = 2,   /* fp32: AVX2 + FMA, 6 x 16 register tile */
    ELMO_KERNEL_AVX512_FP32 = 3, /* fp32: AVX-512, 6 x 64 register tile */
    ELMO_KERNEL_AVX512_BF16 = 4, /* bf16: AVX512-BF16 vdpbf16ps */
    ELMO_KERNEL_AMX_BF16 = 5     /* bf16: AMX tiles, tdpbf16ps */
} elmo_kernel;

typedef struct elmo_packed {
    int64_t K, N;  /* the logical weight matrix W [K, N] */
    int precision; /* ELMO_PRECISION_FP32 or ELMO_PRECISION_BF16 */
    int kernel;    /* the elmo_kernel the layout is for (fp32: the one chosen at pack time) */
    void *data;    /* packed panels, 64-byte aligned; layout private to the kernels */
    size_t bytes;  /* bytes of data */
} elmo_packed;

/* Packs W [K, N] (row-major float32, row stride ldw >= N) for the kernel that
 * elmo_gemm_kernel(precision) names. Returns ELMO_OK, ELMO_ERR_NOMEM (out of memory) or
 * ELMO_ERR_ARG (bf16 on a CPU without a bf16 kernel, or bad sizes); *out is zeroed on
 * failure. */
int elmo_pack(const float *w, size_t ldw, int64_t K, int64_t N, int precision, elmo_packed *out);

/* Frees the panels; safe on a zeroed struct; zeroes it. */
void elmo_packed_free(elmo_packed *p);

/* C [M, N] (row stride ldc) = (accumulate ? C : 0) + A [M, K] (row stride lda) . W.
 * C must not overlap A; only C's [M, N] elements are written (not the gaps of ldc > N).
 * M = 0 does nothing. */
void elmo_gemm(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C, size_t ldc,
               int accumulate);

/* The kernel that products of `precision` get on this CPU, after ELMO_KERNEL and the
 * test cap; ELMO_KERNEL_NONE when the precision cannot run here. */
elmo_kernel elmo_gemm_kernel(int precision);

/* "amx-bf16", "avx512-bf16", "avx512-fp32", "avx2-fp32", "portable"; "none" for NONE. */
const char *elmo_kernel_name(int kernel);

/* Why `precision` does not get a faster kernel that this CPU has, or runs slower than
 * the other precision (AMX refused by the OS, a cap in ELMO_KERNEL, bf16 dot products at
 * half the fp32 rate), as a sentence; NULL when nothing is worth saying. */
const char *elmo_gemm_notice(int precision);

/* 1 when bf16 products are faster than fp32 ones here (AMX, or AVX512-BF16 on a CPU whose
 * vdpbf16ps runs at twice the fp32 FMA rate). */
int elmo_gemm_bf16_faster(void);

/* Test and benchmark hook (process-wide): caps the kernel as ELMO_KERNEL does, on top of
 * it; ELMO_KERNEL_NONE removes the cap. fp32 products take the capped kernel at run time;
 * bf16 matrices keep the kernel they were packed for. */
void elmo_gemm_cap(elmo_kernel cap);

/* How many times the default scratch budgets a kernel's callers should use for sentence
 * groups and batches (1, or 4 for amx-bf16): its per-step products run several times
 * faster, so they need more rows each to stay compute-bound rather than stream the
 * weights from memory at every step (measured: Original batch bf16 on AMX, 2 threads,
 * ~6,000 tok/s at 1x, ~7,900 at 4x). Memory stays bounded: 4x a constant. */
int elmo_gemm_batch_scale(int kernel);

/* 1 when bf16 products can run: a bf16 kernel present and not capped by ELMO_KERNEL. */
int elmo_gemm_bf16_usable(void);

/* bf16 rounding of one float as elmo_pack does it and as vcvtne2ps2bf16 does (round to
 * nearest even, NaN stays a quiet NaN, denormals become signed zeros), returned as the
 * bf16's 16 bits. For tests. */
uint16_t elmo_bf16_round(float x);

#endif
