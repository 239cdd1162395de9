/* batch.c - elmo_embed_batch: pooled sentence vectors for many sentences in bounded memory.
 *
 * Sentences are sorted by length and cut into batches of at most batch_positions token
 * positions, so each batch has sentences of similar length (few idle GEMM rows) and the
 * scratch never grows with the number of sentences. */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "bilstm.h"
#include "error.h"
#include "gemm.h"
#include "mix.h"
#include "model.h"
#include "result.h"
#include "token_layer.h"

#define ACTIVATION_BUDGET ((size_t)16 << 20) /* bytes of stored layer outputs per batch */
#define MIN_POSITIONS 256
#define MAX_POSITIONS 16384

elmo_embed_params elmo_embed_default_params(void) {
    return (elmo_embed_params){
        .mix = elmo_mix_default(), .pooling = ELMO_POOL_MEAN, .batch_positions = 0};
}

/* Positions per batch for `slots` stored [positions, D] arrays (3 when folding, else L+1);
 * times the kernel's batch scale (gemm.h): bigger batches make bigger sentence groups. */
static size_t default_positions(const elmo_model *m, int slots) {
    size_t per_position = (size_t)slots * 2 * (size_t)m->cfg.projection_dim * sizeof(float);
    size_t n = ACTIVATION_BUDGET * (size_t)elmo_gemm_batch_scale(m->kernel) / per_position;
    return n < MIN_POSITIONS ? MIN_POSITIONS : n > MAX_POSITIONS ? MAX_POSITIONS : n;
}

static int by_tokens_desc(const void *a, const void *b, void *ctx) {
    const elmo_sentence *s = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (s[x].n_tokens != s[y].n_tokens) return s[x].n_tokens < s[y].n_tokens ? 1 : -1;
    return x < y ? -1 : x > y;
}

/*
 * Folding. A mix without layer norm is a sum over layers, y_t = sum_k s_k * X_k[t], so each
 * layer can be added into the sentence's mixed rows as soon as it is finished and then
 * dropped: the LSTM keeps 2 layer slots instead of L+1, and a batch of the same memory
 * holds more sentences (larger, faster GEMMs). The additions happen in the same order and
 * with the same arithmetic as elmo_result_mix (layer 0, then 1..L for each half), so the
 * pooled vectors are bit-identical to elmo_run + elmo_result_mix + elmo_pool.
 */
typedef struct fold {
    double a[ELMO_MAX_LSTM_LAYERS + 1]; /* mix coefficient of each layer */
    float gamma;
    float **rows; /* [count] -> [n_i, D] mixed rows of sentence i */
} fold;

static int can_fold(const elmo_embed_params *p) {
    return !p->mix.layer_norm && p->mix.kind != ELMO_MIX_ALL;
}

/* Adds layer k of sentence i into its mixed rows: half 0 or 1 of the D columns, or both
 * when half < 0. */
static void fold_layer(void *arg, const elmo_result *r, size_t i, int k, int half) {
    fold *f = arg;
    if (f->a[k] == 0) return;
    size_t D = (size_t)r->dim, n = r->n_tokens[i];
    size_t from = half < 0 ? 0 : (size_t)half * D / 2, to = half < 0 ? D : from + D / 2;
    const float *x = elmo_result_rows(r, i, k) + D; /* [n, D], skipping <S> */
    elmo_mix_add_layer(x, n, D, from, to, elmo_mix_scale(f->gamma, f->a[k], 1.0), 0.0, f->rows[i],
                       D);
}

/* Runs sentences order[0..count) as one batch and writes their pooled vectors. */
static int run_batch(const elmo_model *m, const elmo_run_params *run, const elmo_embed_params *p,
                     const elmo_sentence *all, const size_t *order, size_t count, int threads,
                     elmo_cancel *cancel, float *out, size_t width, elmo_sentence *batch,
                     float *mixed, elmo_error *err) {
    size_t tokens = 0;
    for (size_t k = 0; k < count; k++) {
        batch[k] = all[order[k]];
        tokens += batch[k].n_tokens;
    }
    int folding = can_fold(p), layers = m->cfg.n_layers + 1;
    fold f = {.gamma = p->mix.gamma, .rows = NULL};
    elmo_layer_sink sink = {fold_layer, &f};
    elmo_result *r = NULL;
    float *fold_data = NULL; /* [tokens, D] mixed rows of every sentence */
    if (folding) {
        elmo_mix_coefficients(layers, &p->mix, f.a);
        f.rows = malloc(count * sizeof *f.rows);
        fold_data = elmo_big_alloc((tokens ? tokens : 1) * width * sizeof(float));
        if (!f.rows || !fold_data) {
            free(f.rows);
            elmo_big_free(fold_data);
            return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for a batch");
        }
        memset(fold_data, 0, tokens * width * sizeof(float));
        for (size_t k = 0, at = 0; k < count; k++, at += batch[k - 1].n_tokens * width)
            f.rows[k] = fold_data + at;
    }
    int rc = elmo_result_alloc(m, batch, count, folding ? 2 : layers, &r, err);
    if (!rc) rc = elmo_fill_token_layer(m, batch, r, run->use_cache, threads, cancel, err);
    for (size_t k = 0; folding && !rc && k < count; k++) fold_layer(&f, r, k, 0, -1);
    if (!rc) rc = elmo_fill_lstm_layers(m, r, NULL, folding ? &sink : NULL, threads, cancel, err);
    for (size_t k = 0; k < count && !rc; k++) {
        const float *rows = mixed; /* [n_k, width] */
        if (folding) {
            rows = f.rows[k];
            rc = elmo_mix_check_finite(rows, r->n_tokens[k] * width, &p->mix, err);
        } else {
            rc = elmo_result_mix(r, k, &p->mix, mixed, err);
        }
        if (!rc) elmo_pool(rows, r->n_tokens[k], width, p->pooling, out + order[k] * width);
    }
    elmo_result_free(r);
    free(f.rows);
    elmo_big_free(fold_data);
    return rc;
}

int elmo_embed_batch(const elmo_model *m, const elmo_run_params *run_params,
                     const elmo_embed_params *params, const elmo_sentence *s, size_t n, float *out,
                     elmo_error *err) {
    if (!m) return elmo_fail(err, ELMO_ERR_ARG, "elmo_embed_batch: model is NULL");
    if (n && (!s || !out))
        return elmo_fail(err, ELMO_ERR_ARG, "elmo_embed_batch: sentences or out is NULL");
    elmo_run_params run = run_params ? *run_params : elmo_run_default_params();
    elmo_embed_params p = params ? *params : elmo_embed_default_params();
    int rc = elmo_mix_check(m, &p.mix, err);
    if (rc) return rc;
    if (p.pooling != ELMO_POOL_MEAN && p.pooling != ELMO_POOL_MAX)
        return elmo_fail(err, ELMO_ERR_ARG, "unknown pooling %d", (int)p.pooling);
    if ((rc = elmo_check_sentences(s, n, err))) return rc;
    size_t width = elmo_mix_dim(m, &p.mix);
    int slots = can_fold(&p) ? 3 : m->cfg.n_layers + 1; /* folding: 2 layers + the mix */
    size_t budget = p.batch_positions ? p.batch_positions : default_positions(m, slots);

    size_t *order = malloc((n ? n : 1) * sizeof *order);
    elmo_sentence *batch = malloc((n ? n : 1) * sizeof *batch);
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) longest = s[i].n_tokens > longest ? s[i].n_tokens : longest;
    /* [longest, width] mixed rows of one sentence; folding needs none */
    int folding = can_fold(&p);
    float *mixed = folding ? NULL : elmo_big_alloc((longest ? longest : 1) * width * sizeof(float));
    if (!order || !batch || (!mixed && !folding)) {
        free(order);
        free(batch);
        elmo_big_free(mixed);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for a batch of %zu sentences", n);
    }
    size_t n_run = 0; /* sentences with tokens; the empty ones get zero vectors */
    for (size_t i = 0; i < n; i++) {
        if (s[i].n_tokens) order[n_run++] = i;
        else memset(out + i * width, 0, width * sizeof *out);
    }
    qsort_r(order, n_run, sizeof *order, by_tokens_desc, (void *)s);

    int threads = elmo_resolve_threads(run.n_threads);
    elmo_cancel cancel;
    elmo_cancel_init(&cancel, run.interrupt, run.interrupt_arg);
    if (elmo_cancel_check(&cancel)) rc = elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted");
    for (size_t first = 0; first < n_run && !rc;) {
        size_t count = 0, positions = 0;
        while (first + count < n_run &&
               (count == 0 || positions + s[order[first + count]].n_tokens + 2 <= budget))
            positions += s[order[first + count++]].n_tokens + 2;
        rc = run_batch(m, &run, &p, s, order + first, count, threads, &cancel, out, width, batch,
                       mixed, err);
        first += count;
        if (!rc && first < n_run && elmo_cancel_check(&cancel))
            rc = elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted");
    }
    free(order);
    free(batch);
    elmo_big_free(mixed);
    return rc ? rc : elmo_ok(err);
}
