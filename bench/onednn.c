/* onednn.c - oneDNN's matmul on the engine's shapes, as the outside reference of the
 * benchmark (see onednn.h). Weights are reordered once into the layout the primitive asks
 * for (as elmo_pack does); each call converts A from float32 when the precision is bf16
 * (as elmo_gemm does) and writes float32 C. */
#include "onednn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#define OK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != dnnl_success) goto fail;                                                     \
    } while (0)

/* One CPU engine for the process: every primitive and buffer belongs to it. */
static dnnl_engine_t engine;

struct onednn_gemm {
    dnnl_primitive_t matmul, to_bf16; /* to_bf16: A float32 -> bf16, or NULL for fp32 */
    dnnl_memory_desc_t a32_md, src_md, dst_md;
    dnnl_memory_t weights; /* packed once */
    char impl[64];
};

onednn_gemm *onednn_gemm_new(int bf16, long M, long K, long N, const float *w) {
    onednn_gemm *g = calloc(1, sizeof *g);
    dnnl_primitive_desc_t pd = NULL, rpd = NULL, apd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t w32 = NULL;
    if (!g) return NULL;
    dnnl_data_type_t in = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t a_dims = {M, K}, w_dims = {K, N}, c_dims = {M, N};
    dnnl_memory_desc_t w32_md, w_any;
    if (!engine) OK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    OK(dnnl_memory_desc_init_by_tag(&g->a32_md, 2, a_dims, dnnl_f32, dnnl_ab));
    OK(dnnl_memory_desc_init_by_tag(&g->src_md, 2, a_dims, in, dnnl_ab));
    OK(dnnl_memory_desc_init_by_tag(&w32_md, 2, w_dims, dnnl_f32, dnnl_ab));
    OK(dnnl_memory_desc_init_by_tag(&w_any, 2, w_dims, in, dnnl_format_tag_any));
    OK(dnnl_memory_desc_init_by_tag(&g->dst_md, 2, c_dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t md;
    OK(dnnl_matmul_desc_init(&md, &g->src_md, &w_any, NULL, &g->dst_md));
    OK(dnnl_primitive_desc_create(&pd, &md, NULL, engine, NULL));
    const char *impl = NULL;
    OK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(g->impl, sizeof g->impl, "%s", impl ? impl : "?");
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    OK(dnnl_memory_create(&w32, &w32_md, engine, (void *)w));
    OK(dnnl_memory_create(&g->weights, w_md, engine, DNNL_MEMORY_ALLOCATE));
    OK(dnnl_reorder_primitive_desc_create(&rpd, &w32_md, engine, w_md, engine, NULL));
    OK(dnnl_primitive_create(&reorder, rpd));
    dnnl_stream_t stream;
    OK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, w32}, {DNNL_ARG_TO, g->weights}};
    dnnl_status_t st = dnnl_primitive_execute(reorder, stream, 2, rargs);
    dnnl_stream_wait(stream);
    dnnl_stream_destroy(stream);
    OK(st);
    OK(dnnl_primitive_create(&g->matmul, pd));
    if (bf16) {
        OK(dnnl_reorder_primitive_desc_create(&apd, &g->a32_md, engine, &g->src_md, engine, NULL));
        OK(dnnl_primitive_create(&g->to_bf16, apd));
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_desc_destroy(rpd);
    if (apd) dnnl_primitive_desc_destroy(apd);
    dnnl_primitive_destroy(reorder);
    dnnl_memory_destroy(w32);
    return g;
fail:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (apd) dnnl_primitive_desc_destroy(apd);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (w32) dnnl_memory_destroy(w32);
    onednn_gemm_free(g);
    return NULL;
}

const char *onednn_gemm_impl(const onednn_gemm *g) {
    return g->impl;
}

struct onednn_call {
    dnnl_stream_t stream;
    dnnl_memory_t a32, src, dst;
};

onednn_call *onednn_call_new(const onednn_gemm *g, const float *a, float *c) {
    if (!engine) return NULL;
    onednn_call *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    OK(dnnl_stream_create(&k->stream, engine, dnnl_stream_default_flags));
    OK(dnnl_memory_create(&k->a32, &g->a32_md, engine, (void *)a));
    OK(dnnl_memory_create(&k->dst, &g->dst_md, engine, c));
    if (g->to_bf16) OK(dnnl_memory_create(&k->src, &g->src_md, engine, DNNL_MEMORY_ALLOCATE));
    return k;
fail:
    onednn_call_free(k);
    return NULL;
}

int onednn_gemm_run(const onednn_gemm *g, onednn_call *k) {
    dnnl_memory_t src = k->a32;
    if (g->to_bf16) {
        dnnl_exec_arg_t cargs[2] = {{DNNL_ARG_FROM, k->a32}, {DNNL_ARG_TO, k->src}};
        if (dnnl_primitive_execute(g->to_bf16, k->stream, 2, cargs) != dnnl_success) return 1;
        src = k->src;
    }
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, g->weights}, {DNNL_ARG_DST, k->dst}};
    if (dnnl_primitive_execute(g->matmul, k->stream, 3, args) != dnnl_success) return 1;
    return dnnl_stream_wait(k->stream) != dnnl_success;
}

void onednn_call_free(onednn_call *k) {
    if (!k) return;
    if (k->src) dnnl_memory_destroy(k->src);
    if (k->a32) dnnl_memory_destroy(k->a32);
    if (k->dst) dnnl_memory_destroy(k->dst);
    if (k->stream) dnnl_stream_destroy(k->stream);
    free(k);
}

void onednn_gemm_free(onednn_gemm *g) {
    if (!g) return;
    if (g->matmul) dnnl_primitive_destroy(g->matmul);
    if (g->to_bf16) dnnl_primitive_destroy(g->to_bf16);
    if (g->weights) dnnl_memory_destroy(g->weights);
    free(g);
}
