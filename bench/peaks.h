/* peaks.h - this machine's limits, measured in the same run as the other figures, and the
 * engine's matrix product against them. Each prints one JSON line and returns 0 (or 1
 * with a message on stderr). */
#ifndef ELMO_BENCH_PEAKS_H
#define ELMO_BENCH_PEAKS_H

/* Register-only 512-bit FMA loop per thread; GFLOP/s over all threads. */
int bench_peak_fma(int threads);
/* The same with vdpbf16ps (64 FLOP per instruction); 0 with a reason when unsupported. */
int bench_peak_bf16(int threads);
/* The same with AMX tdpbf16ps on tiles in registers (16384 FLOP per instruction); 0 with a
 * reason where the CPU or the OS has no AMX. */
int bench_peak_amx(int threads);
/* Read bandwidth streaming 512 MiB (split over the threads), GB/s. */
int bench_dram(int threads);
/* elmo_gemm on [M, K] x [K, N] (shared packed W, each thread its own A and C), and the
 * same shape through OpenBLAS cblas_sgemm (one OpenBLAS thread per thread). precision is
 * "fp32", "bf16", "fp32-avx2" or "fp32-portable" (the fallbacks for CPUs without
 * AVX-512). */
int bench_gemm(const char *precision, int threads, long M, long K, long N);

/* Wall-clock seconds (CLOCK_MONOTONIC), for every timing of the benchmark. */
double bench_now(void);

/* The process's peak resident memory so far, MiB (so one measurement per process). */
double bench_peak_rss_mib(void);

#endif
