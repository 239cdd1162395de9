/* gemm.c - placeholder: W kept as [K, N] float32 (bf16 rounded), sequential fmaf over k. */
#include "gemm.h"

#include <math.h>
#include <string.h>

#include "bigbuf.h"

static float round_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

int elmo_pack(const float *w, size_t ldw, int64_t K, int64_t N, int precision, elmo_packed *out) {
    memset(out, 0, sizeof *out);
    if (K < 1 || N < 1 || ldw < (size_t)N) return ELMO_ERR_ARG;
    if (precision == ELMO_PRECISION_BF16 && !elmo_precision_supported(precision)) return ELMO_ERR_ARG;
    size_t bytes = (size_t)K * (size_t)N * sizeof(float);
    float *d = elmo_big_alloc(bytes);
    if (!d) return ELMO_ERR_NOMEM;
    for (int64_t k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++) {
            float v = w[(size_t)k * ldw + (size_t)n];
            d[k * N + n] = precision == ELMO_PRECISION_BF16 ? round_bf16(v) : v;
        }
    *out = (elmo_packed){.K = K, .N = N, .precision = precision, .data = d, .bytes = bytes};
    return ELMO_OK;
}

void elmo_packed_free(elmo_packed *p) {
    if (!p) return;
    elmo_big_free(p->data);
    memset(p, 0, sizeof *p);
}

void elmo_gemm(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
               size_t ldc, int accumulate) {
    const float *w = W->data;
    size_t K = (size_t)W->K, N = (size_t)W->N;
    int bf = W->precision == ELMO_PRECISION_BF16;
    for (size_t m = 0; m < M; m++) {
        float *c = C + m * ldc;
        if (!accumulate) memset(c, 0, N * sizeof(float));
        for (size_t k = 0; k < K; k++) {
            float a = bf ? round_bf16(A[m * lda + k]) : A[m * lda + k];
            const float *wr = w + k * N;
            for (size_t n = 0; n < N; n++) c[n] = fmaf(a, wr[n], c[n]);
        }
    }
}

const char *elmo_gemm_kernel_name(void) { return "portable"; }
