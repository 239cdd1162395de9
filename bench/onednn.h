/* onednn.h - oneDNN's matmul primitive (Debian's libdnnl, OpenMP build) on one shape, the
 * outside reference the benchmark sets the engine's products against. One primitive
 * shared by the threads, each with its own stream and buffers (onednn_call). Run with
 * OMP_NUM_THREADS=1: each of the benchmark's threads is one oneDNN thread, as each of the
 * engine's threads is one product. */
#ifndef ELMO_BENCH_ONEDNN_H
#define ELMO_BENCH_ONEDNN_H

typedef struct onednn_gemm onednn_gemm;
typedef struct onednn_call onednn_call;

/* C [M, N] = A [M, K] . W [K, N] in fp32 (bf16 = 0) or with bf16 A and W, fp32 C; w is
 * W, row-major float32, packed here. NULL when oneDNN refuses. */
onednn_gemm *onednn_gemm_new(int bf16, long M, long K, long N, const float *w);
/* The implementation oneDNN picked, e.g. "brg:avx512_core_amx". */
const char *onednn_gemm_impl(const onednn_gemm *g);
void onednn_gemm_free(onednn_gemm *g);

/* One thread's A [M, K] and C [M, N]. */
onednn_call *onednn_call_new(const onednn_gemm *g, const float *a, float *c);
/* One product (bf16: converting A first); 0 on success. */
int onednn_gemm_run(const onednn_gemm *g, onednn_call *k);
void onednn_call_free(onednn_call *k);

#endif
