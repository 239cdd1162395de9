/* gemm.c - packing, dispatch and the portable fp32 product; see gemm.h for the rounding
 * contract and gemm_internal.h for the packed layout. */
#include "gemm.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "gemm_internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

static int force_portable;

void elmo_gemm_force_portable(int level) {
    force_portable = level;
}

/* ELMO_KERNEL caps the kernel for the whole process: "avx2" or "portable" (then bf16 is
 * unavailable, as on a CPU without AVX-512); unset or anything else: the best. */
static int env_level = -1;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env_level(void) {
    const char *v = getenv("ELMO_KERNEL");
    env_level = v && !strcmp(v, "portable") ? 1 : v && !strcmp(v, "avx2") ? 2 : 0;
}

static int kernel_level(void) {
    pthread_once(&env_once, read_env_level);
    return force_portable ? force_portable : env_level;
}

int elmo_gemm_bf16_usable(void) {
    if (kernel_level() != 0 || !elmo_gemm_avx512_usable()) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

const char *elmo_gemm_kernel_name(void) {
    int level = kernel_level();
    if (level == 0 && elmo_gemm_avx512_usable()) return "avx512";
    if (level != 1 && elmo_gemm_avx2_usable()) return "avx2";
    return "portable";
}

uint16_t elmo_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    if ((u & 0x7f800000u) == 0)
        return (uint16_t)((u >> 16) & 0x8000u); /* denormal: as vcvtne2ps2bf16 */
    u += 0x7fffu + ((u >> 16) & 1u);            /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

void elmo_packed_free(elmo_packed *p) {
    if (!p) return;
    elmo_big_free(p->data);
    memset(p, 0, sizeof *p);
}

int elmo_pack(const float *w, size_t ldw, int64_t K, int64_t N, int precision, elmo_packed *out) {
    memset(out, 0, sizeof *out);
    if (!w || K < 1 || N < 1 || ldw < (uint64_t)N || K > ((int64_t)1 << 40) ||
        N > ((int64_t)1 << 40))
        return ELMO_ERR_ARG;
    if (precision != ELMO_PRECISION_FP32 && precision != ELMO_PRECISION_BF16) return ELMO_ERR_ARG;
    if (precision == ELMO_PRECISION_BF16 && !elmo_gemm_bf16_usable()) return ELMO_ERR_ARG;
    size_t k_n = (size_t)K, n_n = (size_t)N;
    size_t padded_n = (n_n + 15) & ~(size_t)15; /* only the last panel is narrower */
    size_t rows = precision == ELMO_PRECISION_FP32 ? k_n : 2 * ((k_n + 1) / 2);
    size_t elem = precision == ELMO_PRECISION_FP32 ? sizeof(float) : sizeof(uint16_t);
    if (rows > SIZE_MAX / padded_n / elem) return ELMO_ERR_ARG;
    size_t bytes = rows * padded_n * elem;
    void *data = elmo_big_alloc(bytes);
    if (!data) return ELMO_ERR_NOMEM;
    for (size_t n0 = 0; n0 < n_n; n0 += GEMM_PANEL) {
        size_t wp = gemm_panel_width(n_n, n0), w_n = n_n - n0 < wp ? n_n - n0 : wp;
        if (precision == ELMO_PRECISION_FP32) {
            float *panel = (float *)data + n0 * k_n; /* [K][wp] */
            for (size_t k = 0; k < k_n; k++) {
                memcpy(panel + k * wp, w + k * ldw + n0, w_n * sizeof(float));
                memset(panel + k * wp + w_n, 0, (wp - w_n) * sizeof(float));
            }
        } else {
            uint16_t *panel = (uint16_t *)data + n0 * rows; /* [K2][wp][2] */
            for (size_t kp = 0; kp < rows / 2; kp++) {
                const float *even = w + 2 * kp * ldw + n0; /* rows 2kp and 2kp+1 of W */
                const float *odd = 2 * kp + 1 < k_n ? even + ldw : NULL;
                uint16_t *dst = panel + kp * wp * 2;
                for (size_t j = 0; j < w_n; j++) {
                    dst[2 * j] = elmo_bf16_round(even[j]);
                    dst[2 * j + 1] = odd ? elmo_bf16_round(odd[j]) : 0;
                }
                memset(dst + 2 * w_n, 0, 2 * (wp - w_n) * sizeof *dst);
            }
        }
    }
    *out = (elmo_packed){.K = K, .N = N, .precision = precision, .data = data, .bytes = bytes};
    return ELMO_OK;
}

#define PORTABLE_KC 256 /* k per block: a panel block of 64 KiB stays in L1/L2 over all rows */

/* C [M, w_n] (row stride ldc) = (load ? C : 0) + A [M, kn] . panel block [kn][wp]: the
 * fmaf recurrence of gemm.h in k order, vectorized across columns. */
MULTIVERSION
static void portable_block(const float *restrict A, size_t lda, size_t M, const float *restrict b,
                           size_t kn, size_t wp, size_t w_n, float *restrict C, size_t ldc,
                           int load) {
    for (size_t m = 0; m < M; m++) {
        float acc[GEMM_PANEL]; /* [wp] */
        const float *a = A + m * lda;
        float *c = C + m * ldc;
        for (size_t j = 0; j < wp; j++) acc[j] = load && j < w_n ? c[j] : 0.0f;
        if (wp == GEMM_PANEL) { /* constant width: the compiler keeps acc in registers */
            for (size_t k = 0; k < kn; k++)
                for (size_t j = 0; j < GEMM_PANEL; j++)
                    acc[j] = fmaf(a[k], b[k * GEMM_PANEL + j], acc[j]);
        } else {
            for (size_t k = 0; k < kn; k++)
                for (size_t j = 0; j < wp; j++) acc[j] = fmaf(a[k], b[k * wp + j], acc[j]);
        }
        memcpy(c, acc, w_n * sizeof(float));
    }
}

/* Panels outer and K blocks inner, so W is read from memory once per call; the
 * accumulator round-trips through C between K blocks, which is exact. */
static void portable_gemm(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C,
                          size_t ldc, int accumulate) {
    size_t K = (size_t)W->K, N = (size_t)W->N;
    for (size_t n0 = 0; n0 < N; n0 += GEMM_PANEL) {
        size_t wp = gemm_panel_width(N, n0), w_n = N - n0 < wp ? N - n0 : wp;
        const float *panel = (const float *)W->data + n0 * K; /* [K][wp] */
        for (size_t k0 = 0; k0 < K; k0 += PORTABLE_KC) {
            size_t kn = K - k0 < PORTABLE_KC ? K - k0 : PORTABLE_KC;
            portable_block(A + k0, lda, M, panel + k0 * wp, kn, wp, w_n, C + n0, ldc,
                           accumulate || k0 > 0);
        }
    }
}

void elmo_gemm(const float *A, size_t lda, size_t M, const elmo_packed *W, float *C, size_t ldc,
               int accumulate) {
    if (M == 0 || !W->data) return;
    if (W->precision == ELMO_PRECISION_BF16) {
        elmo_gemm_bf16_avx512(A, lda, M, W, C, ldc, accumulate);
        return;
    }
    int level = kernel_level();
    if (!level && elmo_gemm_avx512_usable()) {
        elmo_gemm_f32_avx512(A, lda, M, W, C, ldc, accumulate);
        return;
    }
    if (level != 1 && elmo_gemm_avx2_usable()) {
        elmo_gemm_f32_avx2(A, lda, M, W, C, ldc, accumulate);
        return;
    }
    portable_gemm(A, lda, M, W, C, ldc, accumulate);
}
