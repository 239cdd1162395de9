/* peaks.c - see peaks.h. Every figure is measured in rounds: all threads start a round at
 * a barrier and each does one unit of work (a chunk of loop, a pass over its buffer, one
 * product). Rounds repeat for about 0.3 s after a warm-up round; the figure is the work
 * of a round over the fastest round, a round lasting as long as its busiest thread's CPU
 * time: on a shared machine the time slices of other processes do not count (stalls on
 * memory do). With several threads that can overstate what they share (DRAM, L3) when
 * they did not really run together, so each line also gives the figure in wall time
 * (first start to last end, "_wall"), which neighbours can only understate. The gemm
 * line also has the median round. */
#include "peaks.h"

#include <cblas.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <time.h>

#include "bigbuf.h"
#include "gemm.h"
#include "onednn.h"

#define MAX_THREADS 64
#define MEASURE_S 0.3
#define MIN_ROUNDS 4
#define MAX_ROUNDS 4096

double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double bench_peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* CPU time of the calling thread (stalls on memory count, waiting for the CPU does not). */
static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct runner {
    pthread_barrier_t barrier;
    int stop, rounds;
    double t_end, best, best_wall;
    double start[MAX_THREADS], end[MAX_THREADS]; /* wall clock, current round */
    double cpu[MAX_THREADS];  /* CPU seconds of each thread in the current round */
    double times[MAX_ROUNDS]; /* the rounds after the warm-up: busiest thread's CPU time */
} runner;

typedef struct job {
    double (*round)(struct job *); /* one unit of work; returns its FLOP or bytes */
    int index, threads;
    long round_no;
    runner *r;
    void *ctx;   /* shared input */
    double work; /* out: work of one round */
} job;

static void *thread_main(void *arg) {
    job *j = arg;
    runner *r = j->r;
    for (j->round_no = 0;; j->round_no++) {
        pthread_barrier_wait(&r->barrier);
        double c0 = thread_cpu();
        r->start[j->index] = bench_now();
        j->work = j->round(j);
        r->end[j->index] = bench_now();
        r->cpu[j->index] = thread_cpu() - c0;
        pthread_barrier_wait(&r->barrier);
        if (j->index == 0) {
            double t = bench_now(), first = r->start[0], last = r->end[0], busiest = 0;
            for (int i = 0; i < j->threads; i++) {
                first = r->start[i] < first ? r->start[i] : first;
                last = r->end[i] > last ? r->end[i] : last;
                busiest = r->cpu[i] > busiest ? r->cpu[i] : busiest;
            }
            if (r->rounds == 0) {
                r->t_end = t + MEASURE_S; /* round 0 warms up */
            } else {
                r->times[r->rounds - 1] = busiest;
                r->best = busiest < r->best ? busiest : r->best;
                r->best_wall = last - first < r->best_wall ? last - first : r->best_wall;
            }
            r->rounds++;
            r->stop = (r->rounds > MIN_ROUNDS && t > r->t_end) || r->rounds > MAX_ROUNDS;
        }
        pthread_barrier_wait(&r->barrier);
        if (r->stop) break;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs rounds of fn on n threads; returns the work of a round over the fastest round in
 * CPU time, or -1; optionally the same over the median round and over the fastest in
 * wall time. */
static double run_threads_all(int n, double (*fn)(job *), void *ctx, double *median, double *wall) {
    if (n < 1 || n > MAX_THREADS) return -1;
    pthread_t tid[MAX_THREADS];
    job jobs[MAX_THREADS];
    static runner r; /* times[] is large for a stack; one measurement at a time */
    memset(&r, 0, sizeof r);
    r.best = r.best_wall = 1e30;
    pthread_barrier_init(&r.barrier, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){.round = fn, .index = i, .threads = n, .r = &r, .ctx = ctx};
        if (pthread_create(&tid[i], NULL, thread_main, &jobs[i]) != 0) {
            fprintf(stderr, "elmo-bench: cannot create threads\n");
            exit(1); /* the others wait at the barrier forever otherwise */
        }
    }
    double work = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        work += jobs[i].work;
    }
    pthread_barrier_destroy(&r.barrier);
    int timed = r.rounds - 1;
    qsort(r.times, (size_t)timed, sizeof *r.times, cmp_double);
    if (median) *median = work / r.times[timed / 2];
    if (wall) *wall = work / r.best_wall;
    return work / r.best;
}

static double run_threads(int n, double (*fn)(job *), void *ctx, double *wall) {
    return run_threads_all(n, fn, ctx, NULL, wall);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,fma")
#include <immintrin.h>

static volatile float sink;

/* 16 independent accumulators (zmm0-15, > 2 pipes x 4 cycles of latency), inputs zmm16-17
 * = 1.0; written in assembly so that nothing but the instruction under test is in the loop. */
#define ACC16(INS)                                                                                 \
    INS " %%zmm16, %%zmm17, %%zmm0\n\t" INS " %%zmm16, %%zmm17, %%zmm1\n\t" INS                    \
        " %%zmm16, %%zmm17, %%zmm2\n\t" INS " %%zmm16, %%zmm17, %%zmm3\n\t" INS                    \
        " %%zmm16, %%zmm17, %%zmm4\n\t" INS " %%zmm16, %%zmm17, %%zmm5\n\t" INS                    \
        " %%zmm16, %%zmm17, %%zmm6\n\t" INS " %%zmm16, %%zmm17, %%zmm7\n\t" INS                    \
        " %%zmm16, %%zmm17, %%zmm8\n\t" INS " %%zmm16, %%zmm17, %%zmm9\n\t" INS                    \
        " %%zmm16, %%zmm17, %%zmm10\n\t" INS " %%zmm16, %%zmm17, %%zmm11\n\t" INS                  \
        " %%zmm16, %%zmm17, %%zmm12\n\t" INS " %%zmm16, %%zmm17, %%zmm13\n\t" INS                  \
        " %%zmm16, %%zmm17, %%zmm14\n\t" INS " %%zmm16, %%zmm17, %%zmm15\n\t"
#define LOOP(INS, ONE, N)                                                                          \
    __asm__ volatile("vbroadcastss %1, %%zmm16\n\t"                                                \
                     "vbroadcastss %1, %%zmm17\n\t"                                                \
                     "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"                                           \
                     "vmovaps %%zmm0, %%zmm1\n\tvmovaps %%zmm0, %%zmm2\n\t"                        \
                     "vmovaps %%zmm0, %%zmm3\n\tvmovaps %%zmm0, %%zmm4\n\t"                        \
                     "vmovaps %%zmm0, %%zmm5\n\tvmovaps %%zmm0, %%zmm6\n\t"                        \
                     "vmovaps %%zmm0, %%zmm7\n\tvmovaps %%zmm0, %%zmm8\n\t"                        \
                     "vmovaps %%zmm0, %%zmm9\n\tvmovaps %%zmm0, %%zmm10\n\t"                       \
                     "vmovaps %%zmm0, %%zmm11\n\tvmovaps %%zmm0, %%zmm12\n\t"                      \
                     "vmovaps %%zmm0, %%zmm13\n\tvmovaps %%zmm0, %%zmm14\n\t"                      \
                     "vmovaps %%zmm0, %%zmm15\n\t"                                                 \
                     "1:\n\t" ACC16(INS) ACC16(INS) "dec %0\n\tjnz 1b\n\t"                         \
                                                    "vzeroupper"                                   \
                     : "+r"(N)                                                                     \
                     : "m"(ONE)                                                                    \
                     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",       \
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",       \
                       "xmm16", "xmm17")

#define PEAK_ITERS 2000000L /* x 32 instructions per round: about 8 ms at 2 per cycle */

static double fma_round(job *j) {
    (void)j;
    long n = PEAK_ITERS;
    const float one = 1.0f;
    LOOP("vfmadd231ps", one, n);
    return (double)PEAK_ITERS * 32 * 32; /* 16 lanes x (mul + add) */
}

static double bf16_round(job *j) {
    (void)j;
    long n = PEAK_ITERS;
    const uint32_t one = 0x3f803f80u; /* two bf16 1.0 */
    LOOP("vdpbf16ps", one, n);
    return (double)PEAK_ITERS * 32 * 64; /* 32 pairs x (mul + add) */
}

/* Four independent accumulators (tmm0-3) over tmm4-7; the tiles hold whatever the config
 * left (zeros): the instruction's rate does not depend on the values. */
#define AMX4                                                                                       \
    "tdpbf16ps %%tmm6, %%tmm4, %%tmm0\n\ttdpbf16ps %%tmm7, %%tmm4, %%tmm1\n\t"                     \
    "tdpbf16ps %%tmm6, %%tmm5, %%tmm2\n\ttdpbf16ps %%tmm7, %%tmm5, %%tmm3\n\t"
#define AMX_ITERS 200000L /* x 16 instructions per round: about 20 ms */

static double amx_round(job *j) {
    (void)j;
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    long n = AMX_ITERS;
    __asm__ volatile("ldtilecfg %1\n\t"
                     "tilezero %%tmm4\n\ttilezero %%tmm5\n\ttilezero %%tmm6\n\t"
                     "tilezero %%tmm7\n\t"
                     "1:\n\t" AMX4 AMX4 AMX4 AMX4 "dec %0\n\tjnz 1b\n\t"
                     "tilerelease"
                     : "+r"(n)
                     : "m"(cfg)
                     : "cc", "memory");
    return (double)AMX_ITERS * 16 * 16384; /* 16 x 16 x 32 multiply-adds */
}

typedef struct stream {
    const float *buf; /* [threads * floats] */
    size_t floats;    /* per thread */
} stream;

/* One pass over this thread's slice, as four streams (one stream alone leaves the
 * memory system idle part of the time). */
static double read_round(job *j) {
    const stream *s = j->ctx;
    size_t q = s->floats / 4;
    const float *p0 = s->buf + (size_t)j->index * s->floats, *p1 = p0 + q, *p2 = p1 + q,
                *p3 = p2 + q;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (size_t i = 0; i < q; i += 32) {
        a0 = _mm512_add_ps(a0, _mm512_load_ps(p0 + i));
        b0 = _mm512_add_ps(b0, _mm512_load_ps(p0 + i + 16));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(p1 + i));
        b1 = _mm512_add_ps(b1, _mm512_load_ps(p1 + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(p2 + i));
        b2 = _mm512_add_ps(b2, _mm512_load_ps(p2 + i + 16));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(p3 + i));
        b3 = _mm512_add_ps(b3, _mm512_load_ps(p3 + i + 16));
    }
    __m512 t = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    t = _mm512_add_ps(t, _mm512_add_ps(_mm512_add_ps(b0, b1), _mm512_add_ps(b2, b3)));
    sink = _mm512_reduce_add_ps(t);
    return (double)(4 * q) * sizeof(float);
}

#pragma GCC pop_options

static int have_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#else
static double amx_round(job *j) {
    return (void)j, 0;
}
static double fma_round(job *j) {
    return (void)j, 0;
}
static double bf16_round(job *j) {
    return (void)j, 0;
}
static double read_round(job *j) {
    return (void)j, 0;
}
static int have_avx512(void) {
    return 0;
}
#endif

static int bad_threads(int threads) {
    if (threads >= 1 && threads <= MAX_THREADS) return 0;
    fprintf(stderr, "elmo-bench: THREADS must be 1..%d\n", MAX_THREADS);
    return 1;
}

/* One register-only peak: its JSON line, or gflops 0 with the reason it cannot run here. */
static int peak(const char *name, int threads, int usable, const char *missing,
                double (*round)(job *)) {
    if (bad_threads(threads)) return 1;
    if (!usable) {
        printf("{\"bench\":\"%s\",\"threads\":%d,\"gflops\":0,\"reason\":\"%s\"}\n", name, threads,
               missing);
        return 0;
    }
    double wall, r = run_threads(threads, round, NULL, &wall);
    printf("{\"bench\":\"%s\",\"threads\":%d,\"gflops\":%.1f,\"gflops_wall\":%.1f}\n", name,
           threads, r / 1e9, wall / 1e9);
    return 0;
}

int bench_peak_fma(int threads) {
    return peak("peak-fma", threads, have_avx512(), "no AVX-512", fma_round);
}

int bench_peak_bf16(int threads) {
    return peak("peak-bf16", threads, elmo_precision_supported(ELMO_PRECISION_BF16),
                "no AVX512-BF16", bf16_round);
}

int bench_peak_amx(int threads) {
    /* the library asks Linux for the tile state when it picks the AMX kernel */
    return peak("peak-amx", threads, elmo_gemm_kernel(ELMO_PRECISION_BF16) == ELMO_KERNEL_AMX_BF16,
                "no AMX", amx_round);
}

int bench_dram(int threads) {
    if (bad_threads(threads)) return 1;
    if (!have_avx512()) {
        printf("{\"bench\":\"dram\",\"threads\":%d,\"gb_per_s\":0,\"reason\":\"no AVX-512\"}\n",
               threads);
        return 0;
    }
    size_t total = (size_t)512 << 20, per = total / sizeof(float) / (size_t)threads;
    per &= ~(size_t)127; /* four streams of whole 32-float steps */
    float *buf = elmo_big_alloc(total);
    if (!buf) return fprintf(stderr, "elmo-bench: dram: out of memory\n"), 1;
    for (size_t i = 0; i < total / sizeof(float); i++) buf[i] = (float)(i & 1023);
    stream s = {.buf = buf, .floats = per};
    double wall, r = run_threads(threads, read_round, &s, &wall);
    elmo_big_free(buf);
    printf("{\"bench\":\"dram\",\"threads\":%d,\"mib\":512,\"gb_per_s\":%.1f,"
           "\"gb_per_s_wall\":%.1f}\n",
           threads, r / 1e9, wall / 1e9);
    return 0;
}

/* The weights rotate over enough copies to exceed the last-level cache several times, as
 * the engine's many weight matrices do: every call streams its W from memory. */
#define WEIGHT_SPAN ((size_t)128 << 20)
#define MAX_COPIES 16

typedef struct gemm_ctx {
    elmo_packed W[MAX_COPIES];    /* [copies] */
    float *w[MAX_COPIES];         /* [wcopies] W [K, N] unpacked, for OpenBLAS */
    float *a[MAX_THREADS];        /* A [M, K] per thread */
    float *c[MAX_THREADS];        /* C [M, N] per thread */
    onednn_gemm *dnn[MAX_COPIES]; /* [wcopies] oneDNN's packed copies */
    onednn_call *call[MAX_THREADS];
    size_t M, K, N, copies, wcopies;
    int reference; /* 0: elmo_gemm, 1: OpenBLAS, 2: oneDNN */
} gemm_ctx;

static double gemm_round(job *j) {
    const gemm_ctx *g = j->ctx;
    size_t M = g->M, K = g->K, N = g->N, r = (size_t)j->round_no;
    if (g->reference == 1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1,
                    g->a[j->index], (int)K, g->w[r % g->wcopies], (int)N, 0, g->c[j->index],
                    (int)N);
    else if (g->reference == 2) onednn_gemm_run(g->dnn[r % g->wcopies], g->call[j->index]);
    else elmo_gemm(g->a[j->index], K, M, &g->W[r % g->copies], g->c[j->index], N, 0);
    return 2.0 * (double)M * (double)K * (double)N;
}

static size_t span_copies(size_t bytes) {
    size_t n = (WEIGHT_SPAN + bytes - 1) / bytes;
    return n < 2 ? 2 : n > MAX_COPIES ? MAX_COPIES : n;
}

static void gemm_free(gemm_ctx *g, int threads) {
    for (int t = 0; t < threads; t++) onednn_call_free(g->call[t]);
    for (size_t i = 0; i < MAX_COPIES; i++) onednn_gemm_free(g->dnn[i]);
    for (size_t i = 0; i < MAX_COPIES; i++) elmo_packed_free(&g->W[i]), elmo_big_free(g->w[i]);
    for (int t = 0; t < threads; t++) elmo_big_free(g->a[t]), elmo_big_free(g->c[t]);
    free(g);
}

int bench_gemm(const char *precision, int threads, long M, long K, long N) {
    /* "fp32" and "bf16" take this CPU's best kernel; the others cap it, to measure the
     * kernels of other CPUs: AVX512-BF16 on a CPU with AMX, the fallbacks of CPUs without
     * AVX-512 */
    static const struct {
        const char *name;
        int precision, cap;
    } kinds[] = {{"fp32", ELMO_PRECISION_FP32, ELMO_KERNEL_NONE},
                 {"bf16", ELMO_PRECISION_BF16, ELMO_KERNEL_NONE},
                 {"bf16-avx512", ELMO_PRECISION_BF16, ELMO_KERNEL_AVX512_BF16},
                 {"fp32-avx2", ELMO_PRECISION_FP32, ELMO_KERNEL_AVX2_FP32},
                 {"fp32-portable", ELMO_PRECISION_FP32, ELMO_KERNEL_PORTABLE}};
    int p = 0, kcap = ELMO_KERNEL_NONE;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(precision, kinds[i].name)) p = kinds[i].precision, kcap = kinds[i].cap;
    if (!p || M < 1 || K < 1 || N < 1 || bad_threads(threads))
        return fprintf(stderr, "elmo-bench: gemm fp32|bf16|bf16-avx512|fp32-avx2|fp32-portable "
                               "THREADS M K N\n"),
               1;
    elmo_gemm_cap((elmo_kernel)kcap);
    int kernel = elmo_gemm_kernel(p);
    if (kernel == ELMO_KERNEL_NONE) {
        elmo_gemm_cap(ELMO_KERNEL_NONE);
        printf("{\"bench\":\"gemm\",\"precision\":\"%s\",\"threads\":%d,\"M\":%ld,\"K\":%ld,"
               "\"N\":%ld,\"gflops\":0,\"reason\":\"no kernel for it on this CPU\"}\n",
               precision, threads, M, K, N);
        return 0;
    }
    gemm_ctx *g = calloc(1, sizeof *g);
    if (!g) return fprintf(stderr, "elmo-bench: gemm: out of memory\n"), 1;
    g->M = (size_t)M, g->K = (size_t)K, g->N = (size_t)N;
    size_t wbytes = sizeof(float) * g->K * g->N;
    size_t pbytes = p == ELMO_PRECISION_FP32 ? wbytes : wbytes / 2;
    g->wcopies = span_copies(wbytes), g->copies = span_copies(pbytes);
    int ok = 1;
    for (size_t i = 0; i < g->wcopies && ok; i++) {
        ok = (g->w[i] = elmo_big_alloc(wbytes)) != NULL;
        for (size_t e = 0; ok && e < g->K * g->N; e++) g->w[i][e] = (float)((e + i) % 7) * 0.01f;
    }
    for (size_t i = 0; i < g->copies && ok; i++)
        ok = elmo_pack(g->w[i % g->wcopies], g->N, K, N, p, &g->W[i]) == ELMO_OK;
    for (int t = 0; t < threads && ok; t++) {
        g->a[t] = elmo_big_alloc(sizeof(float) * g->M * g->K);
        g->c[t] = elmo_big_alloc(sizeof(float) * g->M * g->N);
        ok = g->a[t] && g->c[t];
        for (size_t e = 0; ok && e < g->M * g->K; e++)
            g->a[t][e] = (float)((e + (size_t)t) % 13) * 0.01f;
        if (ok) memset(g->c[t], 0, sizeof(float) * g->M * g->N);
    }
    if (!ok) {
        elmo_gemm_cap(ELMO_KERNEL_NONE);
        return gemm_free(g, threads), fprintf(stderr, "elmo-bench: gemm: out of memory\n"), 1;
    }
    double ours_median, theirs_median;
    double ours_wall, theirs_wall;
    double ours = run_threads_all(threads, gemm_round, g, &ours_median, &ours_wall);
    elmo_gemm_cap(ELMO_KERNEL_NONE);
    openblas_set_num_threads(1);
    g->reference = 1;
    double theirs = run_threads_all(threads, gemm_round, g, &theirs_median, &theirs_wall);
    /* oneDNN: one packed copy per float32 copy, bf16 inputs where ours are bf16 */
    int dnn_ok = 1;
    for (size_t i = 0; i < g->wcopies && dnn_ok; i++)
        dnn_ok = (g->dnn[i] = onednn_gemm_new(p == ELMO_PRECISION_BF16, M, K, N, g->w[i])) != NULL;
    for (int t = 0; t < threads && dnn_ok; t++)
        dnn_ok = (g->call[t] = onednn_call_new(g->dnn[0], g->a[t], g->c[t])) != NULL;
    double dnn = 0, dnn_median = 0, dnn_wall = 0;
    char impl[64] = "unavailable";
    if (dnn_ok) {
        g->reference = 2;
        dnn = run_threads_all(threads, gemm_round, g, &dnn_median, &dnn_wall);
        snprintf(impl, sizeof impl, "%s", onednn_gemm_impl(g->dnn[0]));
    }
    size_t span_mib = g->copies * g->W[0].bytes >> 20;
    gemm_free(g, threads);
    printf("{\"bench\":\"gemm\",\"precision\":\"%s\",\"kernel\":\"%s\",\"threads\":%d,"
           "\"M\":%ld,\"K\":%ld,\"N\":%ld,\"weights_mib\":%zu,\"gflops\":%.1f,"
           "\"gflops_median\":%.1f,\"gflops_wall\":%.1f,\"openblas_sgemm_gflops\":%.1f,"
           "\"openblas_sgemm_gflops_median\":%.1f,\"openblas_sgemm_gflops_wall\":%.1f,"
           "\"onednn_gflops\":%.1f,\"onednn_gflops_median\":%.1f,\"onednn_gflops_wall\":%.1f,"
           "\"onednn_impl\":\"%s\"}\n",
           precision, elmo_kernel_name(kernel), threads, M, K, N, span_mib, ours / 1e9,
           ours_median / 1e9, ours_wall / 1e9, theirs / 1e9, theirs_median / 1e9, theirs_wall / 1e9,
           dnn / 1e9, dnn_median / 1e9, dnn_wall / 1e9, impl);
    return 0;
}
