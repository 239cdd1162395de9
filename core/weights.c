/* weights.c - builds a model's weights from a tensor source (any file format): checks that
 * every tensor the options imply is present with the right shape and finite values, and
 * nothing more; keeps the small tensors (embeddings, biases) in one arena and packs every
 * matrix of a product for elmo_gemm, so the file's float32 copy never stays in memory.
 *
 * Tensor names and shapes are those of the AllenNLP/bilm-tf HDF5 file (docs/model.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "hash.h"
#include "lm_head.h"
#include "model.h"
#include "tensor_source.h"

#define SPEC_RANK 4
#define MAX_TENSORS                                                                                \
    (2 * ELMO_MAX_FILTER_BANKS + 4 * ELMO_MAX_HIGHWAY + 10 + 6 * ELMO_MAX_LSTM_LAYERS)
#define ALIGN_FLOATS 16               /* 64-byte alignment of every tensor in the arena */
#define MAX_FLOATS ((int64_t)1 << 34) /* 64 GiB of weights: far beyond any ELMo */

typedef enum spec_kind {
    SPEC_SMALL,  /* kept as float32 in the arena */
    SPEC_MATRIX, /* packed: [rows, cols] is the product's [K, N] */
    SPEC_LSTM_W  /* W_0 [2P, 4H]: packed as its input half and its recurrent half */
} spec_kind;

typedef struct tensor_spec {
    char name[96];
    int rank;
    int64_t dims[SPEC_RANK];
    int optional; /* 1: may be absent */
    spec_kind kind;
    const float **small;  /* SPEC_SMALL: where the arena pointer goes */
    elmo_packed *packed;  /* SPEC_MATRIX: the packed matrix; SPEC_LSTM_W: the input half */
    elmo_packed *packed2; /* SPEC_LSTM_W: the recurrent half */
    int present;
    int64_t offset; /* SPEC_SMALL: floats from the arena start */
} tensor_spec;

typedef struct spec_list {
    tensor_spec t[MAX_TENSORS];
    int n;
} spec_list;

static tensor_spec *add_spec(spec_list *s, const char *name, int rank, const int64_t *dims,
                             int optional, spec_kind kind) {
    tensor_spec *t = &s->t[s->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    t->optional = optional;
    t->kind = kind;
    return t;
}

static void add_small(spec_list *s, const char *name, int rank, const int64_t *dims, int optional,
                      const float **dest) {
    add_spec(s, name, rank, dims, optional, SPEC_SMALL)->small = dest;
}

static void add_matrix(spec_list *s, const char *name, int rank, const int64_t *dims, int optional,
                       spec_kind kind, elmo_packed *dest, elmo_packed *dest2) {
    tensor_spec *t = add_spec(s, name, rank, dims, optional, kind);
    t->packed = dest;
    t->packed2 = dest2;
}

static int64_t spec_numel(const tensor_spec *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

/* The tensors the options imply, in file order. A convolution W_cnn_i [1, w, d_c, n] is
 * the product [w * d_c, n] over the flattened window. */
static void build_specs(const elmo_config *c, elmo_weights *w, spec_list *s) {
    int64_t dc = c->char_embed_dim, F = c->n_filters, P = c->projection_dim, H = c->lstm_dim;
    char name[96];
    s->n = 0;
    add_small(s, "char_embed", 2, (int64_t[]){ELMO_CHAR_VOCAB, dc}, 0, &w->char_embed);
    for (int i = 0; i < c->n_banks; i++) {
        snprintf(name, sizeof name, "CNN/W_cnn_%d", i);
        add_matrix(s, name, 4, (int64_t[]){1, c->bank_width[i], dc, c->bank_count[i]}, 0,
                   SPEC_MATRIX, &w->conv_w[i], NULL);
        snprintf(name, sizeof name, "CNN/b_cnn_%d", i);
        add_small(s, name, 1, (int64_t[]){c->bank_count[i]}, 0, &w->conv_b[i]);
    }
    for (int k = 0; k < c->n_highway; k++) {
        elmo_highway *hw = &w->highway[k];
        snprintf(name, sizeof name, "CNN_high_%d/W_carry", k);
        add_matrix(s, name, 2, (int64_t[]){F, F}, 0, SPEC_MATRIX, &hw->w_carry, NULL);
        snprintf(name, sizeof name, "CNN_high_%d/b_carry", k);
        add_small(s, name, 1, (int64_t[]){F}, 0, &hw->b_carry);
        snprintf(name, sizeof name, "CNN_high_%d/W_transform", k);
        add_matrix(s, name, 2, (int64_t[]){F, F}, 0, SPEC_MATRIX, &hw->w_transform, NULL);
        snprintf(name, sizeof name, "CNN_high_%d/b_transform", k);
        add_small(s, name, 1, (int64_t[]){F}, 0, &hw->b_transform);
    }
    /* bilm-tf writes CNN_proj only when F != P; accept it when present anyway. */
    add_matrix(s, "CNN_proj/W_proj", 2, (int64_t[]){F, P}, F == P, SPEC_MATRIX, &w->proj_w, NULL);
    add_small(s, "CNN_proj/b_proj", 1, (int64_t[]){P}, F == P, &w->proj_b);
    for (int d = 0; d < 2; d++) {
        for (int l = 0; l < c->n_layers; l++) {
            elmo_cell *cell = &w->cells[d][l];
            char base[64];
            snprintf(base, sizeof base, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell", d, l);
            snprintf(name, sizeof name, "%s/W_0", base);
            add_matrix(s, name, 2, (int64_t[]){2 * P, 4 * H}, 0, SPEC_LSTM_W, &cell->w_in,
                       &cell->w_rec);
            snprintf(name, sizeof name, "%s/B", base);
            add_small(s, name, 1, (int64_t[]){4 * H}, 0, &cell->bias);
            /* W_P_0 exists only when P < H in bilm-tf; accept it when P == H too. */
            snprintf(name, sizeof name, "%s/W_P_0", base);
            add_matrix(s, name, 2, (int64_t[]){H, P}, P == H, SPEC_MATRIX, &cell->w_proj, NULL);
        }
    }
    /* A trained scalar mix (TF-Hub modules carry one): softmax weights and gamma. */
    add_small(s, "aggregation/weights", 1, (int64_t[]){c->n_layers + 1}, 1, &w->mix_weights);
    add_small(s, "aggregation/scaling", 1, (int64_t[]){1}, 1, &w->mix_scaling);
}

int elmo_weights_list(const elmo_config *cfg, elmo_tensor_desc *out, int cap) {
    spec_list *specs = calloc(1, sizeof *specs);
    elmo_weights *w = calloc(1, sizeof *w);
    int n = 0;
    if (specs && w) {
        build_specs(cfg, w, specs);
        for (int i = 0; i < specs->n && n < cap; i++, n++) {
            const tensor_spec *t = &specs->t[i];
            memcpy(out[n].name, t->name, sizeof out[n].name);
            out[n].rank = t->rank;
            memcpy(out[n].dims, t->dims, sizeof out[n].dims);
            out[n].optional = t->optional;
        }
    }
    free(specs);
    free(w);
    return n;
}

static void format_dims(char *buf, size_t cap, int rank, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && used < cap; i++)
        used +=
            (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

/* Looks the tensor up and checks its shape. */
static int find_checked(elmo_tensor_source *src, tensor_spec *t, elmo_error *err) {
    char want[96], got[128];
    int64_t dims[ELMO_MAX_RANK] = {0};
    int rank = 0;
    format_dims(want, sizeof want, t->rank, t->dims);
    int found = src->find(src, t->name, &rank, dims, err);
    if (found < 0) return -found;
    t->present = found;
    if (!found) {
        if (t->optional) return ELMO_OK;
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "weights file '%s' has no dataset '%s' (expected float32 %s); check "
                         "that the weights belong to these options",
                         src->path, t->name, want);
    }
    int same = rank == t->rank;
    for (int i = 0; same && i < rank; i++) same = dims[i] == t->dims[i];
    if (same) return ELMO_OK;
    int shown = rank < SPEC_RANK + 1 ? rank : SPEC_RANK + 1;
    format_dims(got, sizeof got, shown, dims);
    return elmo_fail(err, ELMO_ERR_FORMAT,
                     "weights file '%s': dataset '%s' has shape %s%s, expected %s; check "
                     "that the weights belong to these options",
                     src->path, t->name, got, rank > shown ? " (truncated)" : "", want);
}

/* Tensors one past what the options describe must not exist: their presence means the
 * options undercount the model (e.g. n_highway or n_layers left at a default). */
static int check_no_extra(elmo_tensor_source *src, const elmo_config *cfg, elmo_error *err) {
    char name[96], what[64];
    snprintf(name, sizeof name, "CNN/W_cnn_%d", cfg->n_banks);
    snprintf(what, sizeof what, "char_cnn.filters has %d entries", cfg->n_banks);
    int extra = src->exists(src, name);
    if (!extra) {
        snprintf(name, sizeof name, "CNN_high_%d", cfg->n_highway);
        snprintf(what, sizeof what, "char_cnn.n_highway is %d", cfg->n_highway);
        extra = src->exists(src, name);
    }
    for (int d = 0; d < 2 && !extra; d++) {
        snprintf(name, sizeof name, "RNN_%d/RNN/MultiRNNCell/Cell%d", d, cfg->n_layers);
        snprintf(what, sizeof what, "lstm.n_layers is %d", cfg->n_layers);
        extra = src->exists(src, name);
    }
    if (!extra) return ELMO_OK;
    return elmo_fail(err, ELMO_ERR_FORMAT,
                     "weights file '%s' has '%s', which the options do not use (%s); check "
                     "that the weights belong to these options",
                     src->path, name, what);
}

/* ---- fingerprint: a 64-bit hash of what determines the outputs ------------------------ */

static void hash_int(elmo_hasher *hs, int64_t v) {
    elmo_hash_fold(hs, &v, sizeof v);
}

/* The arithmetic is part of the identity: fp32 bits are the same on every kernel, bf16
 * bits only within one kernel (amx-bf16 and avx512-bf16 round differently); and the
 * revision of the elementwise arithmetic (2: the gates' exp with fused multiply-adds and
 * shared divisions), so that models whose vectors differ never share a fingerprint. */
#define ARITHMETIC_REVISION 2

static void hash_config(elmo_hasher *hs, const elmo_config *c, int precision, int kernel) {
    int64_t family = precision == ELMO_PRECISION_BF16 ? kernel : 0;
    int64_t fields[] = {c->char_embed_dim,  c->n_banks,          c->n_filters, c->n_highway,
                        c->max_chars,       c->relu_activation,  c->lstm_dim,  c->projection_dim,
                        c->n_layers,        c->skip_connections, precision,    family,
                        ARITHMETIC_REVISION};
    elmo_hash_fold(hs, fields, sizeof fields);
    float clips[2] = {c->cell_clip, c->proj_clip};
    elmo_hash_fold(hs, clips, sizeof clips);
}

/* ---- reading ----------------------------------------------------------------------------- */

static int check_finite(const elmo_tensor_source *src, const tensor_spec *t, const float *x,
                        size_t n, elmo_error *err) {
    /* A branch-free pass first (vectorizes): any exponent field all ones? */
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (!bad) return ELMO_OK;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "weights file '%s': dataset '%s' holds %s at index %zu; a "
                             "model's weights must be finite (the file is corrupted)",
                             src->path, t->name, isnan(x[i]) ? "NaN" : "an infinity", i);
    return ELMO_OK;
}

static int pack_failed(const elmo_tensor_source *src, const tensor_spec *t, int rc, size_t bytes,
                       elmo_error *err) {
    char size[32];
    if (rc == ELMO_ERR_NOMEM)
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory packing dataset '%s' (%s) of '%s'",
                         t->name, elmo_bytes_text((double)bytes, size, sizeof size), src->path);
    return elmo_fail(err, rc, "cannot pack dataset '%s' of '%s'", t->name, src->path);
}

/* Reads one matrix into the scratch buffer tmp [numel] and packs it (both halves of W_0).
 * One scratch buffer serves every matrix, so its pages are faulted in once. */
static int read_matrix(elmo_tensor_source *src, tensor_spec *t, int precision, elmo_hasher *hs,
                       float *tmp, elmo_error *err) {
    size_t n = (size_t)spec_numel(t), rows = (size_t)t->dims[0],
           cols = (size_t)t->dims[t->rank - 1];
    if (t->kind == SPEC_MATRIX && t->rank == 4) rows = n / cols; /* [1, w, d_c, n] */
    int rc = src->read(src, t->name, tmp, n, err);
    if (!rc) rc = check_finite(src, t, tmp, n, err);
    if (!rc) {
        elmo_hash_fold(hs, tmp, n * sizeof(float));
        if (t->kind == SPEC_LSTM_W) { /* [input rows ; recurrent rows], each [rows/2, cols] */
            size_t half = rows / 2;
            rc = elmo_pack(tmp, cols, (int64_t)half, (int64_t)cols, precision, t->packed);
            if (!rc)
                rc = elmo_pack(tmp + half * cols, cols, (int64_t)half, (int64_t)cols, precision,
                               t->packed2);
        } else {
            rc = elmo_pack(tmp, cols, (int64_t)rows, (int64_t)cols, precision, t->packed);
        }
        if (rc) rc = pack_failed(src, t, rc, n * sizeof(float), err);
    }
    return rc;
}

void elmo_weights_free(elmo_weights *w) {
    if (!w) return;
    for (int i = 0; i < ELMO_MAX_FILTER_BANKS; i++) elmo_packed_free(&w->conv_w[i]);
    for (int k = 0; k < ELMO_MAX_HIGHWAY; k++) {
        elmo_packed_free(&w->highway[k].w_carry);
        elmo_packed_free(&w->highway[k].w_transform);
    }
    elmo_packed_free(&w->proj_w);
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < ELMO_MAX_LSTM_LAYERS; l++) {
            elmo_packed_free(&w->cells[d][l].w_in);
            elmo_packed_free(&w->cells[d][l].w_rec);
            elmo_packed_free(&w->cells[d][l].w_proj);
        }
    elmo_big_free(w->arena);
    memset(w, 0, sizeof *w);
}

static int64_t packed_bytes(const elmo_weights *w) {
    int64_t b = 0;
    for (int i = 0; i < ELMO_MAX_FILTER_BANKS; i++) b += (int64_t)w->conv_w[i].bytes;
    for (int k = 0; k < ELMO_MAX_HIGHWAY; k++)
        b += (int64_t)(w->highway[k].w_carry.bytes + w->highway[k].w_transform.bytes);
    b += (int64_t)w->proj_w.bytes;
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < ELMO_MAX_LSTM_LAYERS; l++)
            b += (int64_t)(w->cells[d][l].w_in.bytes + w->cells[d][l].w_rec.bytes +
                           w->cells[d][l].w_proj.bytes);
    return b;
}

static int resolve_precision(const elmo_tensor_source *src, int requested, int *out,
                             elmo_error *err) {
    int p = requested == ELMO_PRECISION_AUTO
                ? (src->stores_bf16 ? ELMO_PRECISION_BF16 : ELMO_PRECISION_FP32)
                : requested;
    if (p != ELMO_PRECISION_FP32 && p != ELMO_PRECISION_BF16)
        return elmo_fail(err, ELMO_ERR_ARG,
                         "unknown precision %d; valid precisions: auto, fp32, bf16", requested);
    if (!elmo_precision_supported(p)) {
        const char *why = elmo_gemm_notice(ELMO_PRECISION_BF16);
        if (why)
            return elmo_fail(err, ELMO_ERR_ARG,
                             "%s; unset it or load the model with precision 'fp32'", why);
        return elmo_fail(err, ELMO_ERR_ARG,
                         "precision 'bf16' needs a CPU with the AVX512-BF16 instructions, "
                         "which this one lacks; load the model with precision 'fp32'");
    }
    *out = p;
    return ELMO_OK;
}

static int build(elmo_tensor_source *src, elmo_model *m, spec_list *specs, elmo_error *err) {
    elmo_config *cfg = &m->cfg;
    elmo_weights *w = &m->w;
    build_specs(cfg, w, specs);
    int64_t small = 0, params = 0, largest = 1;
    const char *used[MAX_TENSORS + 2];
    int n_used = 0, rc;
    for (int i = 0; i < specs->n; i++) {
        tensor_spec *t = &specs->t[i];
        if ((rc = find_checked(src, t, err))) return rc;
        if (!t->present) continue;
        used[n_used++] = t->name;
        params += spec_numel(t);
        if (params > MAX_FLOATS)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "weights file '%s': the options describe more than 64 GiB of "
                             "weights; check the options file",
                             src->path);
        if (t->kind != SPEC_SMALL) {
            if (spec_numel(t) > largest) largest = spec_numel(t);
            continue;
        }
        t->offset = small;
        small += (spec_numel(t) + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    }
    /* The softmax head a file may also hold is read by its own loader (lm_head.c). */
    static const char *const head[] = {ELMO_HEAD_W, ELMO_HEAD_B};
    for (int i = 0; i < 2; i++)
        if (src->exists(src, head[i])) used[n_used++] = head[i];
    if ((rc = check_no_extra(src, cfg, err))) return rc;
    if (src->check_unused && (rc = src->check_unused(src, used, n_used, err))) return rc;

    char size[32];
    w->arena = elmo_big_alloc((size_t)small * sizeof(float));
    if (!w->arena)
        return elmo_fail(err, ELMO_ERR_NOMEM,
                         "out of memory allocating %s of weights (embeddings and biases) "
                         "from '%s'",
                         elmo_bytes_text((double)small * 4, size, sizeof size), src->path);
    float *scratch = elmo_big_alloc((size_t)largest * sizeof(float)); /* [largest] */
    if (!scratch)
        return elmo_fail(err, ELMO_ERR_NOMEM,
                         "out of memory allocating %s to read the weights of '%s'",
                         elmo_bytes_text((double)largest * 4, size, sizeof size), src->path);
    elmo_hasher hs = {0x5eed0e1f0ull};
    hash_config(&hs, cfg, m->precision, m->kernel);
    for (int i = 0; i < specs->n; i++) {
        tensor_spec *t = &specs->t[i];
        elmo_hash_fold(&hs, t->name, strlen(t->name));
        hash_int(&hs, t->present);
        if (!t->present) continue;
        if (t->kind != SPEC_SMALL) {
            if ((rc = read_matrix(src, t, m->precision, &hs, scratch, err))) break;
            continue;
        }
        float *dst = w->arena + t->offset;
        size_t n = (size_t)spec_numel(t);
        if ((rc = src->read(src, t->name, dst, n, err)) || (rc = check_finite(src, t, dst, n, err)))
            break;
        elmo_hash_fold(&hs, dst, n * sizeof(float));
        *t->small = dst;
    }
    elmo_big_free(scratch);
    if (rc) return rc;
    m->n_params = params;
    m->weight_bytes = packed_bytes(w) + small * (int64_t)sizeof(float);
    m->fingerprint = hs.h;
    return ELMO_OK;
}

int elmo_weights_build(elmo_tensor_source *src, elmo_model *m, int precision, elmo_error *err) {
    memset(&m->w, 0, sizeof m->w);
    int rc = resolve_precision(src, precision, &m->precision, err);
    if (rc) return rc;
    m->kernel = elmo_gemm_kernel(m->precision);
    spec_list *specs = calloc(1, sizeof *specs);
    if (!specs) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    rc = build(src, m, specs, err);
    free(specs);
    if (rc) {
        elmo_weights_free(&m->w);
        return rc;
    }
    /* TensorFlow adds 1.0 to the forget gate at run time; fold it into B once. */
    int64_t H = m->cfg.lstm_dim;
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < m->cfg.n_layers; l++) {
            float *bias = (float *)m->w.cells[d][l].bias;
            for (int64_t u = 2 * H; u < 3 * H; u++) bias[u] += 1.0f;
        }
    return elmo_ok(err);
}
