/* test_gemm.c - elmo_pack / elmo_gemm (core/gemm.h) against scalar definitions of the
 * rounding contract:
 *   - fp32: every path (AVX-512 where the CPU has it, AVX2, and the portable loop, forced)
 *     equals a plain fmaf loop over k, bit for bit, and is close to a double-precision
 *     product;
 *   - bf16 on avx512-bf16: equal, bit for bit, a scalar emulation of vdpbf16ps
 *     (bf16-rounded A and W, odd pair element then even, each an fmaf of an exact product,
 *     bf16 denormal inputs as zero, denormal results flushed) - this holds on the
 *     AVX512-BF16 CPUs tried - and close to the double product;
 *   - bf16 on amx-bf16 (no scalar emulation of tdpbf16ps is known): close to the double
 *     product within the bf16 bound, equal to the emulation where every product and sum
 *     is exact, and row-invariant: every M from 1 to 300, every row position, 1-3
 *     threads;
 *   - bit invariance: rows computed in a big M, alone, at other offsets, in other subsets,
 *     with strided A and C, with accumulate on and off, are byte-identical;
 *   - never a write outside C [M, N]; pack argument errors;
 *   - reentrancy: threads sharing one packed W give the bytes of a single thread.
 * Shapes: M 1..300, odd K and N, the ELMo shapes (fewer rows under the sanitizers). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define SAN 1
#else
#define SAN 0
#endif

#define SENTINEL 12345.0f

/* The kernel bf16 products are packed for in this part of the run. */
static int bf16_kernel;

/* 1 when the reference below defines the bits of the kernel under test. */
static int exact_reference(int precision) {
    return precision == ELMO_PRECISION_FP32 || bf16_kernel == ELMO_KERNEL_AVX512_BF16;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 40) / (double)(1ull << 23) - 1.0);
}

static float *rand_matrix(size_t rows, size_t cols) {
    float *x = malloc(sizeof(float) * (rows * cols + 1));
    for (size_t i = 0; i < rows * cols; i++) x[i] = frand();
    return x;
}

static float bf16_value(float x) { /* the float a bf16 input counts as in vdpbf16ps */
    uint32_t u = (uint32_t)elmo_bf16_round(x) << 16;
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u; /* denormal -> zero */
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float flush(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
    memcpy(&x, &u, sizeof u);
    return x;
}

/* The contract's definition for C [M, N] (stride ldc) from A [M, K] (lda), W [K, N]. */
static void reference(int precision, const float *A, size_t lda, size_t M, const float *W, size_t K,
                      size_t N, float *C, size_t ldc, int accumulate) {
    size_t K2 = (K + 1) / 2;
    float *ab = NULL, *wt = malloc(sizeof(float) * 2 * K2 * N); /* W^T [N, 2 K2] */
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < 2 * K2; k++) {
            float w = k < K ? W[k * N + n] : 0.0f;
            wt[n * 2 * K2 + k] = precision == ELMO_PRECISION_FP32 ? w : bf16_value(w);
        }
    if (precision == ELMO_PRECISION_BF16) ab = malloc(sizeof(float) * 2 * K2);
    for (size_t m = 0; m < M; m++) {
        const float *a = A + m * lda;
        if (ab) {
            for (size_t k = 0; k < 2 * K2; k++) ab[k] = k < K ? bf16_value(a[k]) : 0.0f;
            a = ab;
        }
        for (size_t n = 0; n < N; n++) {
            float acc = accumulate ? C[m * ldc + n] : 0.0f;
            const float *w = wt + n * 2 * K2;
            if (precision == ELMO_PRECISION_FP32) {
                for (size_t k = 0; k < K; k++) acc = fmaf(a[k], w[k], acc);
            } else {
                for (size_t k = 0; k < K; k += 2) {
                    acc = flush(fmaf(a[k + 1], w[k + 1], flush(acc)));
                    acc = flush(fmaf(a[k], w[k], acc));
                }
            }
            C[m * ldc + n] = acc;
        }
    }
    free(ab), free(wt);
}

/* Largest |C - exact| over the bound sum_k |a w| (+ |c0|), in units of that bound. */
static double relative_error(const float *A, size_t M, const float *W, size_t K, size_t N,
                             const float *C0, const float *C) {
    double worst = 0;
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double exact = C0 ? C0[m * N + n] : 0, mag = C0 ? fabs(C0[m * N + n]) : 0;
            for (size_t k = 0; k < K; k++) {
                exact += (double)A[m * K + k] * W[k * N + n];
                mag += fabs((double)A[m * K + k] * W[k * N + n]);
            }
            double e = fabs(C[m * N + n] - exact) / (mag + 1e-30);
            if (!(e <= worst)) worst = e;
        }
    return worst;
}

static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* The gaps of a strided C [M, N] (row stride ldc) still hold the sentinel. */
static int sentinels_intact(const float *C, size_t M, size_t N, size_t ldc) {
    for (size_t m = 0; m < M; m++)
        for (size_t n = N; n < ldc; n++)
            if (C[m * ldc + n] != SENTINEL) return 0;
    return 1;
}

/* One shape: both paths against the reference, with and without accumulate, strided C
 * with sentinels around [M, N], and the double-precision error. */
static void check_shape(int precision, size_t M, size_t K, size_t N, int check_double) {
    float *A = rand_matrix(M, K), *W = rand_matrix(K, N);
    size_t ldc = N + 3;
    float *C0 = rand_matrix(M, N); /* initial C [M, N] */
    float *ref = malloc(sizeof(float) * M * ldc), *got = malloc(sizeof(float) * M * ldc);
    elmo_packed P;
    CHECK_INT(elmo_pack(W, N, (int64_t)K, (int64_t)N, precision, &P), ELMO_OK);
    for (int accumulate = 0; accumulate <= 1; accumulate++) {
        for (size_t m = 0; m < M; m++)
            for (size_t n = 0; n < ldc; n++) ref[m * ldc + n] = n < N ? C0[m * N + n] : SENTINEL;
        reference(precision, A, K, M, W, K, N, ref, ldc, accumulate);
        /* fp32: the best kernel, the portable loop, the AVX2 kernel */
        for (int portable = 0; portable <= (precision == ELMO_PRECISION_FP32 ? 2 : 0); portable++) {
            for (size_t i = 0; i < M * ldc; i++)
                got[i] = (i % ldc) < N ? C0[i / ldc * N + i % ldc] : SENTINEL;
            static const elmo_kernel caps[] = {ELMO_KERNEL_NONE, ELMO_KERNEL_PORTABLE,
                                               ELMO_KERNEL_AVX2_FP32};
            if (precision == ELMO_PRECISION_FP32) elmo_gemm_cap(caps[portable]);
            elmo_gemm(A, K, M, &P, got, ldc, accumulate);
            if (precision == ELMO_PRECISION_FP32) elmo_gemm_cap(ELMO_KERNEL_NONE);
            int same = exact_reference(precision) ? same_bits(got, ref, M * ldc)
                                                  : sentinels_intact(got, M, N, ldc);
            CHECK(same);
            if (!same)
                fprintf(stderr, "  precision %d M %zu K %zu N %zu accumulate %d portable %d\n",
                        precision, M, K, N, accumulate, portable);
        }
        if (check_double || !exact_reference(precision)) {
            float *dense = malloc(sizeof(float) * M * N);
            for (size_t m = 0; m < M; m++) memcpy(dense + m * N, got + m * ldc, N * sizeof(float));
            double e = relative_error(A, M, W, K, N, accumulate ? C0 : NULL, dense);
            /* fp32: K sequential roundings of 2^-24; bf16: inputs rounded to 2^-9 each */
            double tol = precision == ELMO_PRECISION_FP32 ? (double)(K + 1) * 6e-8 : 8e-3;
            CHECK(e <= tol);
            if (!(e <= tol)) fprintf(stderr, "  error %.3g > %.3g (K %zu N %zu)\n", e, tol, K, N);
            free(dense);
        }
    }
    elmo_packed_free(&P);
    free(A), free(W), free(C0), free(ref), free(got);
}

/* Rows of a big product vs the same rows alone, at other offsets and in other subsets,
 * with strided A and C and accumulate: byte-identical. */
static void check_invariance(int precision, size_t M, size_t K, size_t N) {
    size_t lda = K + 5, ldc = N + 7;
    float *A = rand_matrix(M, lda), *W = rand_matrix(K, N), *C0 = rand_matrix(M, ldc);
    float *big = malloc(sizeof(float) * M * ldc), *part = malloc(sizeof(float) * M * ldc);
    elmo_packed P;
    CHECK_INT(elmo_pack(W, N, (int64_t)K, (int64_t)N, precision, &P), ELMO_OK);
    for (int accumulate = 0; accumulate <= 1; accumulate++) {
        memcpy(big, C0, sizeof(float) * M * ldc);
        elmo_gemm(A, lda, M, &P, big, ldc, accumulate);
        /* each row alone */
        int ok = 1;
        for (size_t m = 0; m < M; m++) {
            float row[4096 + 16];
            memcpy(row, C0 + m * ldc, N * sizeof(float));
            elmo_gemm(A + m * lda, lda, 1, &P, row, N, accumulate);
            ok &= same_bits(row, big + m * ldc, N);
        }
        CHECK(ok);
        /* chunks of 1..13 rows at shifted offsets, written to a shifted place in part */
        memcpy(part, C0, sizeof(float) * M * ldc);
        ok = 1;
        for (size_t m0 = 0, len = 1; m0 < M; m0 += len, len = len % 13 + 1) {
            size_t n = m0 + len <= M ? len : M - m0;
            float *dst = part + (M - m0 - n) * ldc; /* rows reversed block-wise */
            memcpy(dst, C0 + m0 * ldc, sizeof(float) * n * ldc);
            elmo_gemm(A + m0 * lda, lda, n, &P, dst, ldc, accumulate);
            for (size_t i = 0; i < n; i++) ok &= same_bits(dst + i * ldc, big + (m0 + i) * ldc, N);
        }
        CHECK(ok);
        /* a subset: every third row gathered into a dense A */
        size_t S = (M + 2) / 3;
        float *As = malloc(sizeof(float) * S * K), *Cs = malloc(sizeof(float) * S * N);
        for (size_t i = 0; i < S; i++) {
            memcpy(As + i * K, A + 3 * i * lda, K * sizeof(float));
            memcpy(Cs + i * N, C0 + 3 * i * ldc, N * sizeof(float));
        }
        elmo_gemm(As, K, S, &P, Cs, N, accumulate);
        ok = 1;
        for (size_t i = 0; i < S; i++) ok &= same_bits(Cs + i * N, big + 3 * i * ldc, N);
        CHECK(ok);
        free(As), free(Cs);
    }
    /* accumulate = C + A.W computed in two K halves is not the contract (rounding at the
     * split differs), but accumulate onto a zero C must equal accumulate off */
    memset(part, 0, sizeof(float) * M * ldc);
    elmo_gemm(A, lda, M, &P, part, ldc, 1);
    memcpy(big, C0, sizeof(float) * M * ldc);
    elmo_gemm(A, lda, M, &P, big, ldc, 0);
    int ok = 1;
    for (size_t m = 0; m < M; m++) ok &= same_bits(part + m * ldc, big + m * ldc, N);
    CHECK(ok);
    elmo_packed_free(&P);
    free(A), free(W), free(C0), free(big), free(part);
}

/* Threads sharing one packed W, each with its own rows, repeating the product. */
typedef struct worker {
    const elmo_packed *P;
    const float *A; /* [M, K] */
    float *C;       /* [M, N] */
    size_t M, K, N;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    for (int r = 0; r < 20; r++) elmo_gemm(w->A, w->K, w->M, w->P, w->C, w->N, 0);
    return NULL;
}

static void check_threads(int precision) {
    enum { T = 4, M = 23, K = 300, N = 200 };
    float *A = rand_matrix(M, K), *W = rand_matrix(K, N), *one = malloc(sizeof(float) * M * N);
    elmo_packed P;
    CHECK_INT(elmo_pack(W, N, K, N, precision, &P), ELMO_OK);
    elmo_gemm(A, K, M, &P, one, N, 0);
    pthread_t tid[T];
    worker w[T];
    for (int t = 0; t < T; t++) {
        /* thread t computes rows t.. of A: the same rows at other offsets */
        w[t] = (worker){&P, A + t * K, malloc(sizeof(float) * M * N), M - t, K, N};
        CHECK_INT(pthread_create(&tid[t], NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        pthread_join(tid[t], NULL);
        CHECK(same_bits(w[t].C, one + t * N, (M - t) * N));
        free(w[t].C);
    }
    elmo_packed_free(&P);
    free(A), free(W), free(one);
}

/* elmo_bf16_round against values vcvtne2ps2bf16 gives on AVX512-BF16 CPUs. */
static void check_bf16_round(void) {
    static const uint32_t in[] = {0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x7f7fffffu,
                                  0x7f800001u, 0xffc00001u, 0x007fffffu, 0x807fffffu,
                                  0x00800000u, 0xff800000u, 0x80000000u};
    static const uint16_t out[] = {0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x7fc0, 0xffc0,
                                   0x0000, 0x8000, 0x0080, 0xff80, 0x8000};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        float x;
        memcpy(&x, &in[i], sizeof x);
        CHECK_INT(elmo_bf16_round(x), out[i]);
    }
}

static void check_errors(void) {
    float w[12] = {0};
    elmo_packed P;
    memset(&P, 0xff, sizeof P);
    CHECK_INT(elmo_pack(w, 4, 0, 3, ELMO_PRECISION_FP32, &P), ELMO_ERR_ARG);
    CHECK(P.data == NULL && P.K == 0 && P.N == 0 && P.bytes == 0);
    CHECK_INT(elmo_pack(w, 4, 3, 0, ELMO_PRECISION_FP32, &P), ELMO_ERR_ARG);
    CHECK_INT(elmo_pack(w, 2, 3, 4, ELMO_PRECISION_FP32, &P), ELMO_ERR_ARG); /* ldw < N */
    CHECK_INT(elmo_pack(NULL, 4, 3, 4, ELMO_PRECISION_FP32, &P), ELMO_ERR_ARG);
    CHECK_INT(elmo_pack(w, 4, 3, 4, ELMO_PRECISION_AUTO, &P), ELMO_ERR_ARG);
    CHECK_INT(elmo_pack(w, 4, 3, 4, 7, &P), ELMO_ERR_ARG);
    CHECK_INT(elmo_pack(w, 4, 3, 4, ELMO_PRECISION_BF16, &P),
              elmo_precision_supported(ELMO_PRECISION_BF16) ? ELMO_OK : ELMO_ERR_ARG);
    elmo_packed_free(&P);
    CHECK(P.data == NULL && P.K == 0);
    elmo_packed_free(&P); /* twice: safe on a zeroed struct */
    CHECK_INT(elmo_pack(w, 4, 3, 4, ELMO_PRECISION_FP32, &P), ELMO_OK);
    CHECK(P.data != NULL && ((uintptr_t)P.data & 63) == 0 && P.K == 3 && P.N == 4 &&
          P.precision == ELMO_PRECISION_FP32 && P.bytes >= 12 * sizeof(float));
    elmo_packed_free(&P);
}

static int alike(const float *got, const float *ref, size_t n);

/* Special values travel as the contract says: inf, NaN, signed zero. */
static void check_special(int precision) {
    enum { M = 4, K = 5, N = 19 };
    float A[M * K], W[K * N], got[M * N], ref[M * N];
    for (int i = 0; i < M * K; i++) A[i] = frand();
    for (int i = 0; i < K * N; i++) W[i] = frand();
    A[1] = INFINITY, W[N + 3] = NAN, A[K + 2] = -0.0f, W[2 * N + 7] = 1e30f;
    /* row 3 x column 5: products and sums below the normal range (denormals); W[0][6] is
     * a denormal itself */
    for (int k = 0; k < K; k++) A[3 * K + k] = 1e-20f * (float)(k + 1), W[k * N + 5] = 1e-19f;
    W[6] = 1e-39f;
    /* the largest float32 denormal: rounding to nearest would give the smallest normal
     * bf16, but the conversion flushes it to zero first, in A as in W */
    uint32_t big_denormal = 0x007fffffu;
    memcpy(&A[2 * K + 4], &big_denormal, sizeof(float));
    memcpy(&W[4 * N + 9], &big_denormal, sizeof(float));
    elmo_packed P;
    CHECK_INT(elmo_pack(W, N, K, N, precision, &P), ELMO_OK);
    elmo_gemm(A, K, M, &P, got, N, 0);
    reference(precision, A, K, M, W, K, N, ref, N, 0);
    CHECK(exact_reference(precision) ? same_bits(got, ref, M * N) : alike(got, ref, M * N));
    /* accumulating onto denormal, zero and negative-zero C values */
    for (int i = 0; i < M * N; i++)
        got[i] = ref[i] = i % 3 == 0 ? 1e-40f : i % 3 == 1 ? -0.0f : 0.0f;
    elmo_gemm(A, K, M, &P, got, N, 1);
    reference(precision, A, K, M, W, K, N, ref, N, 1);
    CHECK(exact_reference(precision) ? same_bits(got, ref, M * N) : alike(got, ref, M * N));
    elmo_packed_free(&P);
}

/* Without a scalar definition: NaN where the emulation has NaN, the same infinity where
 * it has one, and finite values within the bf16 bound of them (the products here are at
 * most 1e30 in size). */
static int alike(const float *got, const float *ref, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(ref[i]) != isnan(got[i])) return 0;
        if (isinf(ref[i]) && got[i] != ref[i]) return 0;
        if (isfinite(ref[i]) && !(fabs(got[i] - ref[i]) <= 1e-2 * fabs(ref[i]) + 1e-30)) return 0;
    }
    return 1;
}

/* Small integers: every product and every partial sum is exact in bf16 and fp32, so
 * whatever order a kernel sums in, its bits equal the emulation's. Pins the layout of
 * the kernels without a scalar definition, element by element. */
static void check_exact_integers(int precision, size_t M, size_t K, size_t N) {
    float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * K * N);
    float *C0 = malloc(sizeof(float) * M * N), *got = malloc(sizeof(float) * M * N),
          *ref = malloc(sizeof(float) * M * N);
    for (size_t i = 0; i < M * K; i++) A[i] = (float)((int)(frand() * 9.0f));
    for (size_t i = 0; i < K * N; i++) W[i] = (float)((int)(frand() * 9.0f));
    for (size_t i = 0; i < M * N; i++) C0[i] = (float)((int)(frand() * 1000.0f));
    elmo_packed P;
    CHECK_INT(elmo_pack(W, N, (int64_t)K, (int64_t)N, precision, &P), ELMO_OK);
    for (int accumulate = 0; accumulate <= 1; accumulate++) {
        memcpy(got, C0, sizeof(float) * M * N);
        memcpy(ref, C0, sizeof(float) * M * N);
        elmo_gemm(A, K, M, &P, got, N, accumulate);
        reference(precision, A, K, M, W, K, N, ref, N, accumulate);
        CHECK(same_bits(got, ref, M * N));
        if (!same_bits(got, ref, M * N))
            fprintf(stderr, "  exact integers: M %zu K %zu N %zu accumulate %d\n", M, K, N,
                    accumulate);
    }
    elmo_packed_free(&P);
    free(A), free(W), free(C0), free(got), free(ref);
}

/* Every M from 1 to rows: the first M rows of a product equal those of the largest one,
 * bit for bit (a kernel that changed its k order or tile shape with M would differ). */
static void check_every_m(int precision, size_t rows, size_t K, size_t N) {
    float *A = rand_matrix(rows, K), *W = rand_matrix(K, N);
    float *big = malloc(sizeof(float) * rows * N), *part = malloc(sizeof(float) * rows * N);
    elmo_packed P;
    CHECK_INT(elmo_pack(W, N, (int64_t)K, (int64_t)N, precision, &P), ELMO_OK);
    elmo_gemm(A, K, rows, &P, big, N, 0);
    int ok = 1;
    for (size_t M = 1; M < rows; M++) {
        elmo_gemm(A, K, M, &P, part, N, 0);
        ok &= same_bits(part, big, M * N);
        /* and the last M rows, at the start of A */
        elmo_gemm(A + (rows - M) * K, K, M, &P, part, N, 0);
        ok &= same_bits(part, big + (rows - M) * N, M * N);
    }
    CHECK(ok);
    elmo_packed_free(&P);
    free(A), free(W), free(big), free(part);
}

static void run_precision(int precision) {
    /* odd and small shapes, every tail width */
    static const size_t small[][3] = {
        {1, 1, 1},      {2, 1, 17},    {7, 3, 5},     {1, 16, 256},  {5, 64, 16},    {9, 32, 256},
        {13, 124, 124}, {6, 33, 65},   {12, 7, 64},   {19, 49, 100}, {1, 513, 31},   {3, 80, 48},
        {11, 112, 32},  {4, 96, 1024}, {25, 16, 128}, {300, 17, 33}, {37, 1031, 47},
    };
    for (size_t i = 0; i < sizeof small / sizeof *small; i++)
        check_shape(precision, small[i][0], small[i][1], small[i][2], 1);
    /* convolution shapes: K = w 16, w = 1..7 */
    for (size_t w = 1; w <= 7; w++) check_shape(precision, 5 + w, w * 16, 32 << (w % 6), 0);
    /* the ELMo shapes, a few rows each (they still cross the K and row blocks) */
    check_shape(precision, SAN ? 1 : 3, 512, 16384, 0);
    check_shape(precision, SAN ? 7 : 13, 4096, 512, 1);
    check_shape(precision, SAN ? 1 : 3, 2048, 2048, 0);
    check_shape(precision, SAN ? 3 : 12, 2048, 512, 0);
    check_shape(precision, SAN ? 20 : 300, 257, 70, 0);
    check_invariance(precision, SAN ? 40 : 203, 1111, 150);
    check_invariance(precision, 29, 9, 33);
    check_invariance(precision, SAN ? 13 : 97, 512, 1024);
    check_special(precision);
    check_threads(precision);
    check_exact_integers(precision, 37, 1111, 75);
    check_exact_integers(precision, 300, 33, 17);
    check_every_m(precision, SAN ? 40 : 300, 200, 70);
    /* more rows than the AMX kernel converts at once (1 MiB of bf16 A): its chunked path */
    if (!SAN) check_invariance(precision, 1100, 512, 40);
}

/* Runs the bf16 checks on `kernel` (packing under a cap that selects it), or says why
 * they are skipped, once. */
static void run_bf16(elmo_kernel kernel, const char *missing) {
    elmo_gemm_cap(kernel);
    bf16_kernel = elmo_gemm_kernel(ELMO_PRECISION_BF16);
    if (bf16_kernel == (int)kernel) {
        run_precision(ELMO_PRECISION_BF16);
        printf("test_gemm: bf16 checks ran on %s\n", elmo_kernel_name(kernel));
    } else {
        printf("test_gemm: %s checks skipped: %s\n", elmo_kernel_name(kernel), missing);
    }
    elmo_gemm_cap(ELMO_KERNEL_NONE);
}

int main(void) {
    check_errors();
    check_bf16_round();
    run_precision(ELMO_PRECISION_FP32);
    printf("test_gemm: fp32 checks ran on %s, avx2-fp32 and portable\n",
           elmo_kernel_name(elmo_gemm_kernel(ELMO_PRECISION_FP32)));
    run_bf16(ELMO_KERNEL_AVX512_BF16, "no AVX512-BF16");
    run_bf16(ELMO_KERNEL_AMX_BF16, "no AMX");
    return harness_report("test_gemm");
}
