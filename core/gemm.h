/* gemm.h - matrix products with weights packed once at load (placeholder: portable). */
#ifndef ELMO_CORE_GEMM_H
#define ELMO_CORE_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

typedef struct elmo_packed {
    int64_t K, N;      /* the logical weight matrix W [K, N] */
    int precision;     /* ELMO_PRECISION_FP32 or ELMO_PRECISION_BF16 */
    void *data;        /* packed panels, 64-byte aligned; layout private to gemm.c */
    size_t bytes;      /* bytes of data */
} elmo_packed;

int elmo_pack(const float *w, size_t ldw, int64_t K, int64_t N, int precision, elmo_packed *out);
void elmo_packed_free(elmo_packed *p);
void elmo_gemm(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
               size_t ldc, int accumulate);

/* The kernel elmo_gemm runs on this CPU, e.g. "avx512" (for elmo_version). */
const char *elmo_gemm_kernel_name(void);

#endif
