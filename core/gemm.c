/* gemm.c - packing, dispatch and the portable fp32 product; see gemm.h for the rounding
 * contract and gemm_internal.h for the packed layout. */
#include "gemm.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
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

/* ---- which kernel -------------------------------------------------------------------------
 * ELMO_KERNEL (read once per process) caps the kernel by name; the test hook caps it on top
 * of that. A cap allows its kernel and the ones below it in elmo_kernel's order. */
static const char *const kernel_names[] = {"none",        "portable",    "avx2-fp32",
                                           "avx512-fp32", "avx512-bf16", "amx-bf16"};

const char *elmo_kernel_name(int kernel) {
    return kernel >= 0 && kernel <= ELMO_KERNEL_AMX_BF16 ? kernel_names[kernel] : "none";
}

static int env_cap = ELMO_KERNEL_AMX_BF16;
static char env_value[40]; /* ELMO_KERNEL as set, when it names no kernel */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static _Atomic int test_cap = ELMO_KERNEL_NONE;

static void read_env_cap(void) {
    const char *v = getenv("ELMO_KERNEL");
    if (!v || !*v) return;
    static const struct {
        const char *name;
        int kernel;
    } aliases[] = {{"avx2", ELMO_KERNEL_AVX2_FP32}, {"avx512", ELMO_KERNEL_AVX512_FP32}};
    for (int k = ELMO_KERNEL_PORTABLE; k <= ELMO_KERNEL_AMX_BF16; k++)
        if (!strcmp(v, kernel_names[k])) env_cap = k;
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(v, aliases[i].name)) env_cap = aliases[i].kernel;
    if (env_cap == ELMO_KERNEL_AMX_BF16 && strcmp(v, "amx-bf16"))
        snprintf(env_value, sizeof env_value, "%.32s", v);
}

static int cap(void) {
    pthread_once(&env_once, read_env_cap);
    int t = atomic_load(&test_cap);
    return t && t < env_cap ? t : env_cap;
}

void elmo_gemm_cap(elmo_kernel k) {
    atomic_store(&test_cap, (int)k);
}

static int cpu_has_avx512bf16(void) {
    __builtin_cpu_init();
    return elmo_gemm_avx512_usable() && __builtin_cpu_supports("avx512bf16");
}

/* The best fp32 kernel under cap c. */
static int fp32_kernel(int c) {
    if (c >= ELMO_KERNEL_AVX512_FP32 && elmo_gemm_avx512_usable()) return ELMO_KERNEL_AVX512_FP32;
    if (c >= ELMO_KERNEL_AVX2_FP32 && elmo_gemm_avx2_usable()) return ELMO_KERNEL_AVX2_FP32;
    return ELMO_KERNEL_PORTABLE;
}

elmo_kernel elmo_gemm_kernel(int precision) {
    int c = cap();
    if (precision == ELMO_PRECISION_FP32) return (elmo_kernel)fp32_kernel(c);
    if (precision != ELMO_PRECISION_BF16) return ELMO_KERNEL_NONE;
    if (c >= ELMO_KERNEL_AMX_BF16 && cpu_has_avx512bf16() && elmo_gemm_amx_usable(NULL))
        return ELMO_KERNEL_AMX_BF16;
    if (c >= ELMO_KERNEL_AVX512_BF16 && cpu_has_avx512bf16()) return ELMO_KERNEL_AVX512_BF16;
    return ELMO_KERNEL_NONE;
}

int elmo_gemm_batch_scale(int kernel) {
    return kernel == ELMO_KERNEL_AMX_BF16 ? 4 : 1;
}

int elmo_gemm_bf16_usable(void) {
    return elmo_gemm_kernel(ELMO_PRECISION_BF16) != ELMO_KERNEL_NONE;
}

/* vdpbf16ps runs at twice the fp32 FMA rate on AMD's Zen 4 and 5 and at half of it on
 * Intel's cores (measured: Zen 5 405-446 against 206-222 GFLOP/s per core; a Sapphire
 * Rapids class Xeon 112-118 against 219-235). */
static int cpu_is_intel(void) {
    __builtin_cpu_init();
    return __builtin_cpu_is("intel");
}

int elmo_gemm_bf16_faster(void) {
    int k = elmo_gemm_kernel(ELMO_PRECISION_BF16);
    return k == ELMO_KERNEL_AMX_BF16 || (k == ELMO_KERNEL_AVX512_BF16 && !cpu_is_intel());
}

static char notice_text[2][400];
static int notice_cap = -1;

/* The notices depend only on the CPU, the OS and the cap: written once per cap. */
static void write_notices(int c) {
    char *fp = notice_text[0], *bf = notice_text[1];
    size_t n = sizeof notice_text[0];
    fp[0] = bf[0] = '\0';
    const char *amx_reason = NULL;
    int amx = cpu_has_avx512bf16() && elmo_gemm_amx_usable(&amx_reason);
    int k32 = fp32_kernel(c), k16 = elmo_gemm_kernel(ELMO_PRECISION_BF16);
    if (env_value[0])
        snprintf(fp, n,
                 "ELMO_KERNEL='%s' names no kernel (amx-bf16, avx512-bf16, avx512-fp32, "
                 "avx2-fp32, portable) and is ignored",
                 env_value);
    else if (k32 < fp32_kernel(ELMO_KERNEL_AMX_BF16))
        snprintf(fp, n, "fp32 products run on %s, capped by ELMO_KERNEL (this CPU has %s)",
                 elmo_kernel_name(k32), elmo_kernel_name(fp32_kernel(ELMO_KERNEL_AMX_BF16)));
    if (k16 == ELMO_KERNEL_AVX512_BF16 && cpu_is_intel()) {
        const char *why = c < ELMO_KERNEL_AMX_BF16 && amx ? "ELMO_KERNEL caps the kernel"
                          : amx_reason                    ? amx_reason
                                                          : "AMX is not available";
        snprintf(bf, n,
                 "bf16 products run on AVX512-BF16 (%s), whose dot products run at half the "
                 "fp32 rate on this Intel CPU: bf16 is faster than fp32 for single sentences "
                 "(half the bytes to read) but slower for batches; load with precision "
                 "'fp32' for batch work",
                 why);
    } else if (k16 == ELMO_KERNEL_NONE && cpu_has_avx512bf16()) {
        snprintf(bf, n, "bf16 is unavailable: ELMO_KERNEL caps the kernel at %s",
                 elmo_kernel_name(c));
    }
}

static pthread_mutex_t notice_lock = PTHREAD_MUTEX_INITIALIZER;

const char *elmo_gemm_notice(int precision) {
    int c = cap(), i = precision == ELMO_PRECISION_BF16;
    pthread_mutex_lock(&notice_lock);
    if (notice_cap != c) {
        write_notices(c);
        notice_cap = c;
    }
    pthread_mutex_unlock(&notice_lock);
    return notice_text[i][0] ? notice_text[i] : NULL;
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
    int kernel = elmo_gemm_kernel(precision);
    if (kernel == ELMO_KERNEL_NONE) return ELMO_ERR_ARG;
    size_t k_n = (size_t)K, n_n = (size_t)N;
    if (kernel == ELMO_KERNEL_AMX_BF16) {
        size_t bytes = elmo_amx_packed_bytes(k_n, n_n);
        if (!bytes) return ELMO_ERR_ARG;
        void *data = elmo_big_alloc(bytes);
        if (!data) return ELMO_ERR_NOMEM;
        elmo_amx_pack(w, ldw, k_n, n_n, data);
        *out = (elmo_packed){
            .K = K, .N = N, .precision = precision, .kernel = kernel, .data = data, .bytes = bytes};
        return ELMO_OK;
    }
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
    *out = (elmo_packed){
        .K = K, .N = N, .precision = precision, .kernel = kernel, .data = data, .bytes = bytes};
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
    if (W->kernel == ELMO_KERNEL_AMX_BF16) {
        elmo_gemm_bf16_amx(A, lda, M, W, C, ldc, accumulate);
        return;
    }
    if (W->precision == ELMO_PRECISION_BF16) {
        elmo_gemm_bf16_avx512(A, lda, M, W, C, ldc, accumulate);
        return;
    }
    switch (fp32_kernel(cap())) {
    case ELMO_KERNEL_AVX512_FP32: elmo_gemm_f32_avx512(A, lda, M, W, C, ldc, accumulate); return;
    case ELMO_KERNEL_AVX2_FP32: elmo_gemm_f32_avx2(A, lda, M, W, C, ldc, accumulate); return;
    default: portable_gemm(A, lda, M, W, C, ldc, accumulate);
    }
}
