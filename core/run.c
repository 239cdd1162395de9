/* run.c - elmo_run: argument checks, the two stages in order, and streaming state.
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bilstm.h"
#include "error.h"
#include "model.h"
#include "result.h"
#include "token_layer.h"

elmo_run_params elmo_run_default_params(void) {
    return (elmo_run_params){
        .n_threads = 0, .use_cache = 1, .interrupt = NULL, .interrupt_arg = NULL};
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

int elmo_run(const elmo_model *m, const elmo_run_params *params, const elmo_sentence *s, size_t n,
             elmo_stream *const *streams, elmo_result **out, elmo_error *err) {
    if (!out) return elmo_fail(err, ELMO_ERR_ARG, "elmo_run: out is NULL");
    *out = NULL;
    if (!m) return elmo_fail(err, ELMO_ERR_ARG, "elmo_run: model is NULL; load one first");
    elmo_run_params p = params ? *params : elmo_run_default_params();
    int rc;
    if ((rc = elmo_check_sentences(s, n, err)) || (rc = check_streams(m, streams, n, err)))
        return rc;

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

/* ---- streams ----------------------------------------------------------------------- */

int elmo_stream_new(const elmo_model *m, elmo_stream **out, elmo_error *err) {
    if (!out) return elmo_fail(err, ELMO_ERR_ARG, "elmo_stream_new: out is NULL");
    *out = NULL;
    if (!m) return elmo_fail(err, ELMO_ERR_ARG, "elmo_stream_new: model is NULL");
    size_t L = (size_t)m->cfg.n_layers, P = (size_t)m->cfg.projection_dim,
           H = (size_t)m->cfg.lstm_dim;
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
    memset(st->h, 0, (size_t)c->n_layers * 2 * c->projection_dim * sizeof(float));
    memset(st->c, 0, (size_t)c->n_layers * 2 * c->lstm_dim * sizeof(float));
}

void elmo_stream_free(elmo_stream *st) {
    if (!st) return;
    free(st->h);
    free(st->c);
    free(st);
}
