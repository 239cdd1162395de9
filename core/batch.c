/* batch.c - elmo_embed_batch: pooled sentence vectors for many sentences in bounded memory.
 *
 * Sentences are sorted by length and cut into batches of at most batch_positions token
 * positions, so each batch has sentences of similar length (few idle GEMM rows) and the
 * scratch never grows with the number of sentences. */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "run.h"

#define ACTIVATION_BUDGET ((size_t)24 << 20) /* bytes of all-layer outputs per batch */
#define MIN_POSITIONS 256
#define MAX_POSITIONS 16384

elmo_embed_params elmo_embed_default_params(void) {
    return (elmo_embed_params){.mix = elmo_mix_default(), .pooling = ELMO_POOL_MEAN,
                               .batch_positions = 0};
}

static size_t default_positions(const elmo_model *m) {
    size_t per_position = (size_t)(m->cfg.n_layers + 1) * 2 * m->cfg.proj_dim * sizeof(float);
    size_t n = ACTIVATION_BUDGET / per_position;
    return n < MIN_POSITIONS ? MIN_POSITIONS : n > MAX_POSITIONS ? MAX_POSITIONS : n;
}

static int by_tokens_desc(const void *a, const void *b, void *ctx) {
    const elmo_sentence *s = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (s[x].n_tokens != s[y].n_tokens) return s[x].n_tokens < s[y].n_tokens ? 1 : -1;
    return x < y ? -1 : x > y;
}

/* Runs sentences order[0..count) as one batch and writes their pooled vectors. */
static int run_batch(const elmo_model *m, const elmo_run_params *run,
                     const elmo_embed_params *p, const elmo_sentence *all, const size_t *order,
                     size_t count, int threads, elmo_cancel *cancel, float *out, size_t width,
                     elmo_sentence *batch, float *mixed, elmo_error *err) {
    for (size_t k = 0; k < count; k++) batch[k] = all[order[k]];
    elmo_result *r = NULL;
    int rc = elmo_result_alloc(m, batch, count, &r, err);
    if (!rc) rc = elmo_fill_token_layer(m, batch, r, run->use_cache, threads, cancel, err);
    if (!rc) rc = elmo_fill_lstm_layers(m, r, NULL, threads, cancel, err);
    for (size_t k = 0; k < count && !rc; k++) {
        rc = elmo_result_mix(r, k, &p->mix, mixed, err); /* mixed [n_k, width] */
        if (!rc) elmo_pool(mixed, r->n_tokens[k], width, p->pooling, out + order[k] * width);
    }
    elmo_result_free(r);
    return rc;
}

int elmo_embed_batch(const elmo_model *m, const elmo_run_params *run_params,
                     const elmo_embed_params *params, const elmo_sentence *s, size_t n,
                     float *out, elmo_error *err) {
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
    size_t budget = p.batch_positions ? p.batch_positions : default_positions(m);

    size_t *order = malloc((n ? n : 1) * sizeof *order);
    elmo_sentence *batch = malloc((n ? n : 1) * sizeof *batch);
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) longest = s[i].n_tokens > longest ? s[i].n_tokens : longest;
    float *mixed = malloc((longest ? longest : 1) * width * sizeof *mixed);
    if (!order || !batch || !mixed) {
        free(order);
        free(batch);
        free(mixed);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for a batch of %zu sentences", n);
    }
    size_t n_run = 0; /* sentences with tokens; the empty ones get zero vectors */
    for (size_t i = 0; i < n; i++) {
        if (s[i].n_tokens) order[n_run++] = i;
        else memset(out + i * width, 0, width * sizeof *out);
    }
    qsort_r(order, n_run, sizeof *order, by_tokens_desc, (void *)s);

    elmo_blas_init();
    int threads = elmo_resolve_threads(run.n_threads);
    elmo_cancel cancel;
    elmo_cancel_init(&cancel, run.interrupt, run.interrupt_arg);
    if (elmo_cancel_check(&cancel)) rc = elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted");
    for (size_t first = 0; first < n_run && !rc;) {
        size_t count = 0, positions = 0;
        while (first + count < n_run &&
               (count == 0 || positions + s[order[first + count]].n_tokens + 2 <= budget))
            positions += s[order[first + count++]].n_tokens + 2;
        rc = run_batch(m, &run, &p, s, order + first, count, threads, &cancel, out, width,
                       batch, mixed, err);
        first += count;
        if (!rc && first < n_run && elmo_cancel_check(&cancel))
            rc = elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted");
    }
    free(order);
    free(batch);
    free(mixed);
    return rc ? rc : elmo_ok(err);
}
