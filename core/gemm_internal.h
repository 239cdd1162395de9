/* gemm_internal.h - the packed layout shared by gemm.c and the AVX-512 and AVX2 kernels.
 *
 * Columns are cut into panels of PANEL (64) columns; the last panel may be narrower and
 * is padded with zero columns to a multiple of 16 (its padded width wp). Panel p starts
 * at column 64 p, so every panel before it is full:
 *   fp32: panel p at data + 64 p K floats; element (k, j) at [k wp + j]      ([K][wp])
 *   bf16: K2 = ceil(K / 2) pairs; panel p at data + 64 p K2 2 bf16; element (k, j) at
 *         [((k / 2) wp + j) 2 + k % 2]                                        ([K2][wp][2])
 *         (for odd K the pair element K is zero). */
#ifndef ELMO_CORE_GEMM_INTERNAL_H
#define ELMO_CORE_GEMM_INTERNAL_H

#include "gemm.h"

#define GEMM_PANEL 64

/* Padded width of the panel starting at column n0. */
static inline size_t gemm_panel_width(size_t N, size_t n0) {
    size_t w = N - n0 < GEMM_PANEL ? N - n0 : GEMM_PANEL;
    return (w + 15) & ~(size_t)15;
}

/* Load masks of the first and second 16 of 32 floats when `left` of them remain (bf16
 * conversion of A rows: masked loads read nothing past the row). */
static inline uint16_t gemm_mask_lo(size_t left) {
    return (uint16_t)(left >= 16 ? 0xffff : (1u << left) - 1);
}
static inline uint16_t gemm_mask_hi(size_t left) {
    return (uint16_t)(left >= 32 ? 0xffff : left <= 16 ? 0 : (1u << (left - 16)) - 1);
}

/* 1 when the AVX-512 kernels are compiled in and this CPU runs them. */
int elmo_gemm_avx512_usable(void);

void elmo_gemm_f32_avx512(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                          size_t ldc, int accumulate);
/* 1 when the AVX2+FMA kernel is compiled in and this CPU runs it. */
int elmo_gemm_avx2_usable(void);
void elmo_gemm_f32_avx2(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                        size_t ldc, int accumulate);

void elmo_gemm_bf16_avx512(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                           size_t ldc, int accumulate);

/* The AMX kernel (gemm_amx.c): 1 when this CPU has AMX-BF16 and the OS lets the process
 * use the tile state; else 0 with the reason in *reason (when reason is not NULL). */
int elmo_gemm_amx_usable(const char **reason);
/* Bytes of W [K, N] in the AMX layout (0 when they overflow); packs it into out. */
size_t elmo_amx_packed_bytes(size_t K, size_t N);
void elmo_amx_pack(const float *w, size_t ldw, size_t K, size_t N, uint16_t *out);
void elmo_gemm_bf16_amx(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                        size_t ldc, int accumulate);

#endif
