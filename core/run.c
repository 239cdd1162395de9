/* run.c - elmo_run: argument checks, the result object and streaming state.
 *
 * The forward pass, top to bottom (sizes: n tokens, C = 50 characters per token, d_c
 * character embedding, F CNN filters, P projection, H LSTM cell, L layers, D = 2P):
 *
 *   stage                      file            function               shapes
 *   tokenize                   tokenize.c      elmo_tokenize          text -> n spans
 *   character ids              char_ids.c      elmo_char_ids          token -> ids [C]
 *   --- layer 0 (context-free, cached per token: token_layer.c elmo_fill_token_layer) ---
 *   character embedding        char_cnn.c      elmo_cnn_embed         ids [C] -> [C, d_c]
 *   convolution (im2col GEMM)  char_cnn.c      conv_bank              [C, d_c] -> [C-w+1, n_i]
 *   max-pool + relu/tanh       kernels.c       elmo_conv_max          -> [F]
 *   highway x n_highway        char_cnn.c      elmo_cnn_embed         [F] -> [F]
 *     g*t + (1-g)*x            kernels.c       elmo_highway_combine
 *   projection                 char_cnn.c      elmo_cnn_embed         [F] -> e [P]
 *   layer 0                    token_layer.c   write_layer0           [n+2, D] = [e ; e]
 *   --- layers 1..L (bilstm.c elmo_fill_lstm_layers; both directions, in step space) ---
 *   input half                 bilstm.c        run_layer              x [P] . W_in [P, 4H]
 *   recurrent half, per step   bilstm.c        run_layer              h [P] . W_rec [P, 4H]
 *   gates, cell clip           kernels.c       elmo_lstm_gates        z [4H] -> c, m [H]
 *   projection, proj clip      bilstm.c        run_layer              m [H] . W_P [H, P]
 *   skip connection (l >= 2)   bilstm.c        run_layer              out += input
 *   layer l                                                           [n+2, D] = [fwd ; bwd]
 *   --- reductions ---
 *   mix of the L+1 layers      mix.c           elmo_result_mix        [L+1, n, D] -> [n, D]
 *   pooling over tokens        mix.c           elmo_pool              [n, D] -> [D]
 *
 * Every product is elmo_gemm (gemm.c) over weights packed at load (weights.c). Batches of
 * pooled vectors go through batch.c (elmo_embed_batch), which folds layers into the mix as
 * they finish. docs/ARCHITECTURE.md follows the same path through ext/ and cli/ too, and
 * docs/model.md says what each stage computes. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "run.h"

/* Bounds that keep every BLAS dimension within int and every size within size_t. */
#define MAX_SENTENCES ((size_t)1 << 24)
#define MAX_POSITIONS ((size_t)1 << 28)

elmo_run_params elmo_run_default_params(void) {
    return (elmo_run_params){.n_threads = 0, .use_cache = 1, .interrupt = NULL,
                             .interrupt_arg = NULL};
}

void elmo_result_free(elmo_result *r) {
    if (!r) return;
    free(r->n_tokens);
    free(r->block);
    elmo_big_free(r->data);
    free(r);
}

int elmo_result_alloc(const elmo_model *m, const elmo_sentence *s, size_t n, int slots,
                      elmo_result **out, elmo_error *err) {
    size_t layers = (size_t)slots, D = 2 * (size_t)m->cfg.proj_dim;
    size_t positions = 0;
    for (size_t i = 0; i < n; i++) {
        positions += s[i].n_tokens + 2;
        if (s[i].n_tokens > MAX_POSITIONS || positions > MAX_POSITIONS)
            return elmo_fail(err, ELMO_ERR_LIMIT,
                             "%zu sentences with more than %zu token positions in one run; "
                             "split the input into smaller batches",
                             n, MAX_POSITIONS);
    }
    if (positions > SIZE_MAX / sizeof(float) / layers / D)
        return elmo_fail(err, ELMO_ERR_LIMIT, "the run's output would not fit in memory");
    elmo_result *r = calloc(1, sizeof *r);
    if (!r) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    r->n = n;
    r->dim = (int)D;
    r->n_layers = m->cfg.n_layers + 1;
    r->slots = slots;
    r->n_tokens = malloc((n ? n : 1) * sizeof *r->n_tokens);
    r->block = malloc((n ? n : 1) * sizeof *r->block);
    r->data = elmo_big_alloc((positions ? positions : 1) * layers * D * sizeof(float));
    if (!r->n_tokens || !r->block || !r->data) {
        elmo_result_free(r);
        return elmo_fail(err, ELMO_ERR_NOMEM,
                         "out of memory for the output of %zu token positions (%.1f MiB)",
                         positions, (double)positions * layers * D * 4 / (1 << 20));
    }
    for (size_t i = 0, at = 0; i < n; i++) {
        r->n_tokens[i] = s[i].n_tokens;
        r->block[i] = r->data + at;
        at += (s[i].n_tokens + 2) * layers * D;
    }
    *out = r;
    return ELMO_OK;
}

int elmo_check_sentences(const elmo_sentence *s, size_t n, elmo_error *err) {
    if (n > MAX_SENTENCES)
        return elmo_fail(err, ELMO_ERR_LIMIT, "%zu sentences in one run; at most %zu", n,
                         MAX_SENTENCES);
    if (n && !s) return elmo_fail(err, ELMO_ERR_ARG, "sentences is NULL but n is %zu", n);
    for (size_t i = 0; i < n; i++) {
        if (s[i].n_tokens && (!s[i].tokens || !s[i].text))
            return elmo_fail(err, ELMO_ERR_ARG, "sentence %zu has %zu tokens but no %s", i,
                             s[i].n_tokens, s[i].tokens ? "text" : "token spans");
        for (size_t t = 0; t < s[i].n_tokens; t++)
            if (s[i].tokens[t].end < s[i].tokens[t].start)
                return elmo_fail(err, ELMO_ERR_ARG,
                                 "sentence %zu token %zu has end %zu before start %zu", i, t,
                                 s[i].tokens[t].end, s[i].tokens[t].start);
    }
    return ELMO_OK;
}

static int by_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (elmo_stream *const *)a, y = (uintptr_t) * (elmo_stream *const *)b;
    return x < y ? -1 : x > y;
}

static int check_streams(const elmo_model *m, elmo_stream *const *streams, size_t n,
                         elmo_error *err) {
    if (!streams || n == 0) return ELMO_OK;
    elmo_stream **sorted = malloc(n * sizeof *sorted);
    if (!sorted) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    size_t k = 0;
    int rc = ELMO_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!streams[i]) continue;
        if (streams[i]->model != m)
            rc = elmo_fail(err, ELMO_ERR_ARG,
                           "stream %zu was created for another model; create streams with "
                           "elmo_stream_new() on the model you run",
                           i);
        sorted[k++] = streams[i];
    }
    qsort(sorted, k, sizeof *sorted, by_address);
    for (size_t i = 1; i < k && !rc; i++)
        if (sorted[i] == sorted[i - 1])
            rc = elmo_fail(err, ELMO_ERR_ARG,
                           "the same stream is given for two sentences of one run; a stream "
                           "carries one sentence's state to the next call");
    free(sorted);
    return rc;
}

int elmo_run(const elmo_model *m, const elmo_run_params *params, const elmo_sentence *s,
             size_t n, elmo_stream *const *streams, elmo_result **out, elmo_error *err) {
    if (!out) return elmo_fail(err, ELMO_ERR_ARG, "elmo_run: out is NULL");
    *out = NULL;
    if (!m) return elmo_fail(err, ELMO_ERR_ARG, "elmo_run: model is NULL; load one first");
    elmo_run_params p = params ? *params : elmo_run_default_params();
    int rc;
    if ((rc = elmo_check_sentences(s, n, err)) || (rc = check_streams(m, streams, n, err))) return rc;

    int threads = elmo_resolve_threads(p.n_threads);
    elmo_cancel cancel;
    elmo_cancel_init(&cancel, p.interrupt, p.interrupt_arg);
    /* Poll once here: with several threads the helpers may take every task, and a short
     * run would otherwise never ask the caller. */
    if (elmo_cancel_check(&cancel)) return elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted");
    elmo_result *r = NULL;
    if ((rc = elmo_result_alloc(m, s, n, m->cfg.n_layers + 1, &r, err))) return rc;
    rc = elmo_fill_token_layer(m, s, r, p.use_cache, threads, &cancel, err);
    if (!rc) rc = elmo_fill_lstm_layers(m, r, streams, NULL, threads, &cancel, err);
    if (rc) {
        elmo_result_free(r);
        return rc;
    }
    *out = r;
    return elmo_ok(err);
}

size_t elmo_result_count(const elmo_result *r) { return r ? r->n : 0; }
int elmo_result_dim(const elmo_result *r) { return r ? r->dim : 0; }
int elmo_result_layers(const elmo_result *r) { return r ? r->n_layers : 0; }

size_t elmo_result_tokens(const elmo_result *r, size_t i) {
    return r && i < r->n ? r->n_tokens[i] : 0;
}

const float *elmo_result_layer(const elmo_result *r, size_t i, int k) {
    if (!r || i >= r->n || k < 0 || k >= r->n_layers) return NULL;
    return elmo_result_rows(r, i, k) + r->dim; /* skip the <S> row */
}

/* ---- streams ----------------------------------------------------------------------- */

int elmo_stream_new(const elmo_model *m, elmo_stream **out, elmo_error *err) {
    if (!out) return elmo_fail(err, ELMO_ERR_ARG, "elmo_stream_new: out is NULL");
    *out = NULL;
    if (!m) return elmo_fail(err, ELMO_ERR_ARG, "elmo_stream_new: model is NULL");
    size_t L = (size_t)m->cfg.n_layers, P = (size_t)m->cfg.proj_dim, H = (size_t)m->cfg.cell_dim;
    elmo_stream *st = calloc(1, sizeof *st);
    if (st) {
        st->h = calloc(L * 2 * P, sizeof(float));
        st->c = calloc(L * 2 * H, sizeof(float));
    }
    if (!st || !st->h || !st->c) {
        elmo_stream_free(st);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for a stream");
    }
    st->model = m;
    *out = st;
    return elmo_ok(err);
}

void elmo_stream_reset(elmo_stream *st) {
    if (!st) return;
    const elmo_config *c = &st->model->cfg;
    memset(st->h, 0, (size_t)c->n_layers * 2 * c->proj_dim * sizeof(float));
    memset(st->c, 0, (size_t)c->n_layers * 2 * c->cell_dim * sizeof(float));
}

void elmo_stream_free(elmo_stream *st) {
    if (!st) return;
    free(st->h);
    free(st->c);
    free(st);
}
