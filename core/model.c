/* model.c - loading a model and describing it. */
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "gemm.h"
#include "lm_head.h"
#include "model.h"
#include "model_files.h"
#include "model_head.h"
#include "tensor_source.h"
#include "token_cache.h"
#include "token_layer.h"

#define CACHE_AUTO_MAX ((int64_t)16 << 20)
#define CACHE_AUTO_MIN ((int64_t)1 << 20)

elmo_load_params elmo_load_default_params(void) {
    return (elmo_load_params){.cache_bytes = ELMO_CACHE_AUTO,
                              .precision = ELMO_PRECISION_AUTO,
                              .softmax_path = NULL,
                              .vocab_path = NULL,
                              .skip_head = 0};
}

const char *elmo_precision_name(int precision) {
    switch (precision) {
    case ELMO_PRECISION_AUTO: return "auto";
    case ELMO_PRECISION_FP32: return "fp32";
    case ELMO_PRECISION_BF16: return "bf16";
    default: return NULL;
    }
}

int elmo_precision_supported(int precision) {
    if (precision == ELMO_PRECISION_AUTO || precision == ELMO_PRECISION_FP32) return 1;
    return precision == ELMO_PRECISION_BF16 && elmo_gemm_bf16_usable();
}

const char *elmo_precision_kernel(int precision) {
    if (precision == ELMO_PRECISION_AUTO) precision = ELMO_PRECISION_FP32;
    int k = elmo_gemm_kernel(precision);
    return k == ELMO_KERNEL_NONE ? NULL : elmo_kernel_name(k);
}

elmo_precision elmo_precision_fastest(void) {
    return elmo_gemm_bf16_faster() ? ELMO_PRECISION_BF16 : ELMO_PRECISION_FP32;
}

static char version_text[160];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void format_version(void) {
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(version_text, sizeof version_text, "sqlite-elmo %s (fp32 %s, bf16 %s, HDF5 %u.%u.%u)",
             ELMO_VERSION, elmo_kernel_name(elmo_gemm_kernel(ELMO_PRECISION_FP32)),
             elmo_kernel_name(elmo_gemm_kernel(ELMO_PRECISION_BF16)), maj, min, rel);
}

const char *elmo_version(void) {
    pthread_once(&version_once, format_version);
    return version_text;
}

void elmo_model_free(elmo_model *m) {
    if (!m) return;
    elmo_cache_free(m->cache);
    elmo_lm_head_free(m->head);
    free(m->boundary);
    free(m->source);
    elmo_weights_free(&m->w);
    free(m);
}

/* Consistency the HDF5 shapes cannot show on their own. */
static int check_weights(const elmo_model *m, const char *path, elmo_error *err) {
    if ((m->w.proj_w.data == NULL) != (m->w.proj_b == NULL))
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s' has only one of CNN_proj/W_proj and "
                         "CNN_proj/b_proj; both or neither are expected",
                         path);
    const elmo_cell *first = &m->w.cells[0][0];
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < m->cfg.n_layers; l++)
            if ((m->w.cells[d][l].w_proj.data == NULL) != (first->w_proj.data == NULL))
                return elmo_fail(err, ELMO_ERR_FORMAT,
                                 "weights file '%s' %s "
                                 "'RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/W_P_0' but %s it for "
                                 "the first cell; all LSTM cells must have W_P_0 or none",
                                 path, first->w_proj.data ? "lacks" : "has", d, l,
                                 first->w_proj.data ? "has" : "lacks");
    return ELMO_OK;
}

/* e(<S>) and e(</S>) are constants: compute them once. */
static int embed_boundaries(elmo_model *m, elmo_error *err) {
    size_t C = (size_t)m->cfg.max_chars, P = (size_t)m->cfg.projection_dim;
    uint16_t *ids = malloc(2 * C * sizeof *ids);
    m->boundary = malloc(2 * P * sizeof(float));
    if (!ids || !m->boundary) {
        free(ids);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    }
    elmo_boundary_char_ids(0, C, ids);
    elmo_boundary_char_ids(1, C, ids + C);
    int rc = elmo_embed_ids(m, ids, 2, m->boundary, err);
    free(ids);
    return rc;
}

static int load_files(const char *options_path, const char *path, const elmo_load_params *params,
                      elmo_model **out, elmo_error *err) {
    elmo_load_params p = params ? *params : elmo_load_default_params();
    elmo_model *m = calloc(1, sizeof *m);
    if (!m) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    elmo_model_files f;
    int rc = elmo_model_head_check(&p, err);
    if (rc) {
        free(m);
        return rc;
    }
    rc = elmo_model_files_open(options_path, path, &f, err);
    if (!rc)
        rc = elmo_options_parse_text(f.options_json, strlen(f.options_json), f.options_label,
                                     &m->cfg, err);
    if (!rc) rc = elmo_weights_build(f.src, m, p.precision, err);
    if (!rc) rc = check_weights(m, f.src->path, err);
    if (!rc) snprintf(m->format, sizeof m->format, "%s", f.src->format);
    if (!rc && !(m->source = strdup(f.src->path)))
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    if (!rc) rc = elmo_model_head_from_model(m, &p, f.src, err);
    elmo_model_files_close(&f);
    if (!rc) rc = elmo_model_head_from_file(m, &p, err);
    if (!rc) rc = embed_boundaries(m, err);
    if (rc) {
        elmo_model_free(m);
        return rc;
    }
    int64_t cache = p.cache_bytes;
    if (cache == ELMO_CACHE_AUTO) {
        cache = m->n_params * 4 / 16;
        if (cache > CACHE_AUTO_MAX) cache = CACHE_AUTO_MAX;
        if (cache < CACHE_AUTO_MIN) cache = CACHE_AUTO_MIN;
    }
    if (cache > 0) /* a cache too small for one set is simply no cache */
        m->cache =
            elmo_cache_new(cache, (size_t)m->cfg.max_chars - 2, (size_t)m->cfg.projection_dim);
    *out = m;
    return elmo_ok(err);
}

int elmo_model_load(const char *options_path, const char *weights_path,
                    const elmo_load_params *params, elmo_model **out, elmo_error *err) {
    if (!out) return elmo_fail(err, ELMO_ERR_ARG, "elmo_model_load: out is NULL");
    *out = NULL;
    if (!options_path || !weights_path)
        return elmo_fail(err, ELMO_ERR_ARG,
                         "elmo_model_load: give both the options JSON path and the HDF5 "
                         "weights path");
    return load_files(options_path, weights_path, params, out, err);
}

int elmo_model_load_path(const char *path, const elmo_load_params *params, elmo_model **out,
                         elmo_error *err) {
    if (!out) return elmo_fail(err, ELMO_ERR_ARG, "elmo_model_load_path: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return elmo_fail(err, ELMO_ERR_ARG,
                         "elmo_model_load_path: give the path of a .safetensors file, a model "
                         "directory or a TensorFlow checkpoint");
    return load_files(NULL, path, params, out, err);
}

int elmo_model_trained_mix(const elmo_model *m, const float **weights, size_t *n, float *scaling) {
    if (!m || !m->w.mix_weights) return 0;
    if (weights) *weights = m->w.mix_weights;
    if (n) *n = (size_t)m->cfg.n_layers + 1;
    if (scaling) *scaling = m->w.mix_scaling ? m->w.mix_scaling[0] : 1.0f;
    return 1;
}

/* Multiply-adds of one token position over every stage (docs/model.md). */
static int64_t macs_per_position(const elmo_model *m) {
    const elmo_config *c = &m->cfg;
    int64_t F = c->n_filters, P = c->projection_dim, H = c->lstm_dim, macs = 0;
    for (int i = 0; i < c->n_banks; i++)
        macs += (int64_t)(c->max_chars - c->bank_width[i] + 1) * c->bank_width[i] *
                c->char_embed_dim * c->bank_count[i];
    macs += (int64_t)c->n_highway * 2 * F * F;
    if (m->w.proj_w.data) macs += F * P;
    int64_t proj = m->w.cells[0][0].w_proj.data ? H * P : 0;
    macs += 2 * (int64_t)c->n_layers * (2 * P * 4 * H + proj);
    return macs;
}

void elmo_model_get_info(const elmo_model *m, elmo_model_info *info) {
    if (!m || !info) return;
    const elmo_config *c = &m->cfg;
    *info = (elmo_model_info){
        .output_dim = 2 * c->projection_dim,
        .n_output_layers = c->n_layers + 1,
        .n_lstm_layers = c->n_layers,
        .projection_dim = c->projection_dim,
        .lstm_dim = c->lstm_dim,
        .char_embed_dim = c->char_embed_dim,
        .n_filters = c->n_filters,
        .n_highway = c->n_highway,
        .max_chars_per_token = c->max_chars,
        .use_skip_connections = c->skip_connections,
        .relu_activation = c->relu_activation,
        .cell_clip = c->cell_clip,
        .proj_clip = c->proj_clip,
        .n_params = m->n_params,
        .weight_bytes = m->weight_bytes,
        .cache_bytes = m->cache ? elmo_cache_bytes(m->cache) : 0,
        .flops_per_position = 2 * macs_per_position(m),
        .precision = (elmo_precision)m->precision,
        .vocab_size = m->head ? m->head->V : 0,
        .head_bytes = m->head ? m->head->bytes : 0,
    };
    snprintf(info->format, sizeof info->format, "%s", m->format);
    snprintf(info->kernel, sizeof info->kernel, "%s", elmo_kernel_name(m->kernel));
    const char *notice = elmo_gemm_notice(m->precision);
    snprintf(info->notice, sizeof info->notice, "%s", notice ? notice : "");
    snprintf(info->fingerprint, sizeof info->fingerprint, "%016llx",
             (unsigned long long)m->fingerprint);
    if (m->head)
        snprintf(info->head_fingerprint, sizeof info->head_fingerprint, "%016llx",
                 (unsigned long long)m->head->fingerprint);
}
