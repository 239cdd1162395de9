/* lm.c - the language-model API of elmo.h: elmo_lm_score, elmo_lm_perplexity,
 * elmo_lm_predict and the vocabulary lookups.
 *
 * Sentences run through the biLM in groups whose outputs stay under GROUP_BYTES (elmo_run,
 * sorted by length as elmo_embed_batch does); the rows of each group's top layer that the
 * call needs are gathered into A [rows, P] and go through the head (lm_sweep.c) in chunks
 * of at most CHUNK_ROWS rows. Row r of a sentence of n tokens (positions 0 = <S> .. n+1 =
 * </S>, top layer [n+2, 2P] = [f ; g]):
 *   forward row t = 0..n:    f[t], target token t+1 (</S> for t = n);
 *   backward row t = 1..n+1: g[t], target token t-1 (<S> for t = 1);
 *   masked token p:          f[p] and g[p+2] (positions around position p+1);
 *   next word:               f[n].
 * Every output is a function of its sentence alone, computed in a fixed order, so a
 * sentence gets the same bytes whatever the call, the batch or the threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "lm_head.h"
#include "lm_sweep.h"
#include "model.h"
#include "parallel.h"
#include "result.h"

#define GROUP_BYTES ((size_t)32 << 20) /* biLM outputs of one group */
#define GROUP_MAX_POSITIONS 8192
#define CHUNK_ROWS 512 /* rows per sweep (bounds its statistics) */

typedef enum job_kind { JOB_SCORE, JOB_PERPLEXITY, JOB_PREDICT } job_kind;

/* What a row of A is for. */
typedef struct row_use {
    size_t sentence;
    int64_t t; /* position whose output the row is */
    int backward;
} row_use;

typedef struct job {
    job_kind kind;
    const elmo_model *m;
    const elmo_lm_head *h;
    elmo_run_params run;
    elmo_lm_params p;
    int64_t limit;
    int threads;
    elmo_cancel cancel;
    const elmo_sentence *s;
    size_t n;
    /* JOB_SCORE */
    elmo_lm_token *tokens;
    size_t *offset; /* [n] first entry of each sentence in tokens */
    /* JOB_PERPLEXITY: per sentence, the sums of log-probabilities of each direction */
    double *sum_fwd, *sum_bwd;
    /* JOB_PREDICT */
    const int64_t *masks;
    size_t k;
    elmo_lm_prediction *pred;
    uint8_t *excluded; /* [ceil(V / 8)] */
    /* the rows of one group */
    float *a; /* [cap, P] */
    int64_t *target;
    row_use *use;
    uint8_t *width; /* [cap] query widths (JOB_PREDICT) */
    double *lse;
    float *logit;
    int64_t *rank;
    elmo_lm_prediction *top; /* [chunk queries, k] */
    size_t n_rows, cap;
} job;

elmo_lm_params elmo_lm_default_params(void) {
    return (elmo_lm_params){.vocab_limit = 0,
                            .use_bias = 1,
                            .direction = ELMO_LM_BOTH,
                            .exclude = NULL,
                            .n_exclude = 0};
}

/* ---- vocabulary ------------------------------------------------------------------------- */

int64_t elmo_vocab_id(const elmo_model *m, const char *word, size_t len) {
    if (!m || !m->head || (!word && len)) return -1;
    return elmo_vocab_find(&m->head->vocab, word ? word : "", len);
}

const char *elmo_vocab_word(const elmo_model *m, int64_t id, size_t *len) {
    return m && m->head ? elmo_vocab_token(&m->head->vocab, id, len) : NULL;
}

/* The row a token is scored as: its own, or <UNK> when it has none under the limit. */
static int64_t token_row(const job *j, const elmo_sentence *s, size_t t, int64_t *own) {
    const elmo_span *sp = &s->tokens[t];
    int64_t v = elmo_vocab_find(&j->h->vocab, s->text + sp->start, sp->end - sp->start);
    *own = v >= 0 && v < j->limit ? v : -1;
    return *own >= 0 ? *own : j->h->vocab.unk;
}

/* ---- checks ------------------------------------------------------------------------------ */

static int check_special(const job *j, const char *fn, const char *name, int64_t row,
                         elmo_error *err) {
    if (row < j->limit) return ELMO_OK;
    return elmo_fail(err, ELMO_ERR_ARG,
                     "%s: vocab_limit %lld leaves out '%s' (row %lld), which every sentence "
                     "needs as a target; give a vocab_limit above %lld, or 0 for all %lld rows",
                     fn, (long long)j->limit, name, (long long)row, (long long)row,
                     (long long)j->h->V);
}

static int setup(job *j, const char *fn, const elmo_model *m, const elmo_run_params *run,
                 const elmo_lm_params *params, const elmo_sentence *s, size_t n, elmo_error *err) {
    j->m = m;
    j->s = s;
    j->n = n;
    j->run = run ? *run : elmo_run_default_params();
    j->p = params ? *params : elmo_lm_default_params();
    if (!m) return elmo_fail(err, ELMO_ERR_ARG, "%s: model is NULL; load one first", fn);
    if (!(j->h = m->head))
        return elmo_fail(err, ELMO_ERR_ARG,
                         "%s: the model has no language-model head; load it with its softmax "
                         "weights and vocabulary (elmo_load_params.softmax_path and vocab_path)",
                         fn);
    if (n && !s) return elmo_fail(err, ELMO_ERR_ARG, "%s: sentences is NULL but n is %zu", fn, n);
    int64_t V = j->h->V, lim = j->p.vocab_limit;
    if (lim < 0 || lim > V)
        return elmo_fail(err, ELMO_ERR_ARG,
                         "%s: vocab_limit %lld is out of range; give 1 to %lld (the rows of the "
                         "head), or 0 for all",
                         fn, (long long)lim, (long long)V);
    j->limit = lim ? lim : V;
    if (j->p.use_bias != 0 && j->p.use_bias != 1)
        return elmo_fail(err, ELMO_ERR_ARG, "%s: use_bias must be 0 or 1, got %d", fn,
                         j->p.use_bias);
    if (j->p.direction != ELMO_LM_BOTH && j->p.direction != ELMO_LM_FORWARD &&
        j->p.direction != ELMO_LM_BACKWARD)
        return elmo_fail(err, ELMO_ERR_ARG, "%s: unknown direction %d", fn, (int)j->p.direction);
    int rc = elmo_check_sentences(s, n, err);
    if (rc) return rc;
    if (j->kind != JOB_PREDICT) {
        const elmo_vocab *v = &j->h->vocab;
        if ((rc = check_special(j, fn, "<S>", v->bos, err)) ||
            (rc = check_special(j, fn, "</S>", v->eos, err)) ||
            (rc = check_special(j, fn, "<UNK>", v->unk, err)))
            return rc;
    }
    j->threads = elmo_resolve_threads(j->run.n_threads);
    elmo_cancel_init(&j->cancel, j->run.interrupt, j->run.interrupt_arg);
    return ELMO_OK;
}

/* ---- rows --------------------------------------------------------------------------------- */

static int reserve(job *j, size_t rows, elmo_error *err) {
    if (rows <= j->cap) return ELMO_OK;
    size_t P = (size_t)j->h->P;
    elmo_big_free(j->a);
    free(j->target), free(j->use), free(j->width), free(j->lse), free(j->logit), free(j->rank);
    j->a = elmo_big_alloc(rows * P * sizeof *j->a);
    j->target = malloc(rows * sizeof *j->target);
    j->use = malloc(rows * sizeof *j->use);
    j->width = malloc(rows * sizeof *j->width);
    j->lse = malloc(rows * sizeof *j->lse);
    j->logit = malloc(rows * sizeof *j->logit);
    j->rank = malloc(rows * sizeof *j->rank);
    j->cap = rows;
    if (j->a && j->target && j->use && j->width && j->lse && j->logit && j->rank) return ELMO_OK;
    j->cap = 0;
    return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for %zu rows of the softmax head", rows);
}

static void add_row(job *j, const float *x, size_t sentence, int64_t t, int backward,
                    int64_t target) {
    size_t P = (size_t)j->h->P, r = j->n_rows++;
    memcpy(j->a + r * P, x, P * sizeof *x);
    j->target[r] = target;
    j->use[r] = (row_use){sentence, t, backward};
}

/* The rows sentence i (index `at` of result r) contributes. */
static void sentence_rows(job *j, const elmo_result *r, size_t at, size_t i) {
    const elmo_sentence *s = &j->s[i];
    int64_t n = (int64_t)s->n_tokens, P = j->h->P, D = 2 * P, own;
    const float *top = elmo_result_rows(r, at, j->m->cfg.n_layers); /* [n + 2, D] */
    if (j->kind == JOB_PREDICT) {
        int64_t p = j->masks[i];
        size_t first = j->n_rows;
        if (p == ELMO_LM_NEXT_WORD) {
            add_row(j, top + n * D, i, n, 0, -1);
        } else {
            add_row(j, top + p * D, i, p, 0, -1);
            add_row(j, top + (p + 2) * D + P, i, p + 2, 1, -1);
        }
        j->width[first] = (uint8_t)(j->n_rows - first); /* the query's rows */
        return;
    }
    int fwd = j->kind == JOB_SCORE || j->p.direction != ELMO_LM_BACKWARD;
    int bwd = j->kind == JOB_SCORE || j->p.direction != ELMO_LM_FORWARD;
    for (int64_t t = 0; fwd && t <= n; t++)
        add_row(j, top + t * D, i, t, 0,
                t < n ? token_row(j, s, (size_t)t, &own) : j->h->vocab.eos);
    for (int64_t t = 1; bwd && t <= n + 1; t++)
        add_row(j, top + t * D + P, i, t, 1,
                t > 1 ? token_row(j, s, (size_t)(t - 2), &own) : j->h->vocab.bos);
}

static size_t rows_of(const job *j, size_t i) {
    size_t n = j->s[i].n_tokens;
    if (j->kind == JOB_PREDICT) return j->masks[i] == ELMO_LM_NEXT_WORD ? 1 : 2;
    if (j->kind == JOB_SCORE || j->p.direction == ELMO_LM_BOTH) return 2 * (n + 1);
    return n + 1;
}

/* ---- outputs -------------------------------------------------------------------------------- */

static void write_row(job *j, size_t r) {
    const row_use *u = &j->use[r];
    double lp = (double)j->logit[r] - j->lse[r];
    if (j->kind == JOB_PERPLEXITY) {
        if (u->backward) j->sum_bwd[u->sentence] += lp; /* rows come in position order */
        else j->sum_fwd[u->sentence] += lp;
        return;
    }
    /* JOB_SCORE: forward row t scores entry t + 1, backward row t entry t - 1 */
    elmo_lm_token *e = &j->tokens[j->offset[u->sentence] + (size_t)(u->t + (u->backward ? -1 : 1))];
    if (u->backward) {
        e->logprob_backward = lp;
        e->rank_backward = j->rank[r];
    } else {
        e->logprob_forward = lp;
        e->rank_forward = j->rank[r];
    }
}

/* Sweeps rows [first, first + count) (with queries: whole queries, the first at `query`). */
static int sweep_chunk(job *j, size_t first, size_t count, size_t n_queries, elmo_error *err) {
    elmo_lm_sweep s = {.head = j->h,
                       .limit = j->limit,
                       .use_bias = j->p.use_bias,
                       .a = j->a + first * (size_t)j->h->P,
                       .R = count,
                       .target = j->kind == JOB_PREDICT ? NULL : j->target + first,
                       .want_rank = j->kind == JOB_SCORE,
                       .n_queries = n_queries,
                       .k = j->k,
                       .excluded = j->excluded,
                       .lse = j->lse + first,
                       .logit = j->logit + first,
                       .rank = j->rank + first,
                       .top = j->top};
    uint8_t widths[CHUNK_ROWS]; /* the queries' widths, kept at their first rows */
    for (size_t q = 0, r = first; q < n_queries; r += widths[q], q++) widths[q] = j->width[r];
    s.query_width = widths;
    int rc = elmo_lm_sweep_run(&s, j->threads, &j->cancel, err);
    if (rc) return rc;
    if (j->kind == JOB_PREDICT) {
        for (size_t q = 0, r = first; q < n_queries; r += widths[q], q++)
            memcpy(j->pred + j->use[r].sentence * j->k, j->top + q * j->k, j->k * sizeof *j->top);
        return ELMO_OK;
    }
    for (size_t r = first; r < first + count; r++) write_row(j, r);
    return ELMO_OK;
}

/* Queries per sweep for prediction: the threads' candidate heaps stay under
 * ELMO_LM_HEAP_BYTES (for a huge k the sweep also uses fewer threads). */
static size_t queries_per_sweep(const job *j) {
    size_t per = (size_t)j->threads * j->k * elmo_lm_sweep_candidate_bytes();
    size_t q = ELMO_LM_HEAP_BYTES / (per ? per : 1);
    return q < 1 ? 1 : q > CHUNK_ROWS / 2 ? CHUNK_ROWS / 2 : q;
}

static int sweep_rows(job *j, elmo_error *err) {
    int rc = ELMO_OK;
    if (j->kind != JOB_PREDICT) {
        for (size_t first = 0; first < j->n_rows && !rc; first += CHUNK_ROWS)
            rc = sweep_chunk(
                j, first, j->n_rows - first < CHUNK_ROWS ? j->n_rows - first : CHUNK_ROWS, 0, err);
        return rc;
    }
    size_t max_q = queries_per_sweep(j);
    for (size_t first = 0; first < j->n_rows && !rc;) {
        size_t q = 0, end = first;
        for (; end < j->n_rows && q < max_q; q++) end += j->width[end];
        rc = sweep_chunk(j, first, end - first, q, err);
        first = end;
    }
    return rc;
}

/* ---- groups ------------------------------------------------------------------------------- */

/* A sentence to run, by length: groups of similar lengths batch well. */
typedef struct by_length {
    size_t tokens, index;
} by_length;

static int longer_first(const void *x, const void *y) {
    const by_length *a = x, *b = y;
    if (a->tokens != b->tokens) return a->tokens > b->tokens ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int run_group(job *j, const size_t *idx, size_t count, elmo_error *err) {
    elmo_sentence *gs = malloc(count * sizeof *gs);
    if (!gs) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    size_t rows = 0;
    for (size_t g = 0; g < count; g++) {
        gs[g] = j->s[idx[g]];
        rows += rows_of(j, idx[g]);
    }
    elmo_result *r = NULL;
    int rc = elmo_run(j->m, &j->run, gs, count, NULL, &r, err);
    free(gs);
    if (!rc) rc = reserve(j, rows, err);
    if (!rc) {
        j->n_rows = 0;
        for (size_t g = 0; g < count; g++) sentence_rows(j, r, g, idx[g]);
        rc = sweep_rows(j, err);
    }
    elmo_result_free(r);
    return rc;
}

static int run_job(job *j, elmo_error *err) {
    size_t n = j->n, used = 0;
    by_length *order = malloc((n ? n : 1) * sizeof *order);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!order || !idx) {
        free(order);
        free(idx);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (j->kind != JOB_PERPLEXITY || j->s[i].n_tokens > 0)
            order[used++] = (by_length){j->s[i].n_tokens, i};
    qsort(order, used, sizeof *order, longer_first);
    for (size_t i = 0; i < used; i++) idx[i] = order[i].index;
    free(order);
    const elmo_config *c = &j->m->cfg;
    size_t per_position = (size_t)(c->n_layers + 1) * 2 * (size_t)c->projection_dim * sizeof(float);
    size_t budget = GROUP_BYTES / per_position;
    if (budget > GROUP_MAX_POSITIONS) budget = GROUP_MAX_POSITIONS;
    int rc = ELMO_OK;
    for (size_t first = 0; first < used && !rc;) {
        size_t end = first, positions = 0;
        do positions += j->s[idx[end++]].n_tokens + 2;
        while (end < used && positions + j->s[idx[end]].n_tokens + 2 <= budget);
        rc = run_group(j, idx + first, end - first, err);
        first = end;
    }
    free(idx);
    elmo_big_free(j->a);
    free(j->target), free(j->use), free(j->width), free(j->lse), free(j->logit), free(j->rank);
    return rc ? rc : elmo_ok(err);
}

/* ---- the API -------------------------------------------------------------------------------- */

int elmo_lm_score(const elmo_model *m, const elmo_run_params *run, const elmo_lm_params *params,
                  const elmo_sentence *s, size_t n, elmo_lm_token *out, elmo_error *err) {
    job j = {.kind = JOB_SCORE, .tokens = out};
    int rc = setup(&j, "elmo_lm_score", m, run, params, s, n, err);
    if (!rc && n && !out) rc = elmo_fail(err, ELMO_ERR_ARG, "elmo_lm_score: out is NULL");
    if (rc) return rc;
    if (!(j.offset = malloc((n ? n : 1) * sizeof *j.offset)))
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    for (size_t i = 0, at = 0; i < n; i++) {
        j.offset[i] = at;
        size_t t = s[i].n_tokens;
        for (size_t e = 0; e < t + 2; e++) {
            int64_t own = e == 0 ? j.h->vocab.bos : j.h->vocab.eos;
            if (e > 0 && e <= t) token_row(&j, &s[i], e - 1, &own);
            out[at + e] = (elmo_lm_token){own, NAN, NAN, 0, 0};
        }
        at += t + 2;
    }
    rc = run_job(&j, err);
    free(j.offset);
    return rc;
}

int elmo_lm_perplexity(const elmo_model *m, const elmo_run_params *run,
                       const elmo_lm_params *params, const elmo_sentence *s, size_t n, double *out,
                       elmo_error *err) {
    job j = {.kind = JOB_PERPLEXITY};
    int rc = setup(&j, "elmo_lm_perplexity", m, run, params, s, n, err);
    if (!rc && n && !out) rc = elmo_fail(err, ELMO_ERR_ARG, "elmo_lm_perplexity: out is NULL");
    if (rc) return rc;
    j.sum_fwd = calloc(n ? n : 1, sizeof *j.sum_fwd);
    j.sum_bwd = calloc(n ? n : 1, sizeof *j.sum_bwd);
    rc =
        j.sum_fwd && j.sum_bwd ? run_job(&j, err) : elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        double targets = (double)s[i].n_tokens + 1, loss_f = -j.sum_fwd[i] / targets,
               loss_b = -j.sum_bwd[i] / targets;
        out[i] = s[i].n_tokens == 0                  ? NAN
                 : j.p.direction == ELMO_LM_FORWARD  ? exp(loss_f)
                 : j.p.direction == ELMO_LM_BACKWARD ? exp(loss_b)
                                                     : exp(0.5 * (loss_f + loss_b));
    }
    free(j.sum_fwd);
    free(j.sum_bwd);
    return rc;
}

static int build_exclusions(job *j, elmo_error *err) {
    const elmo_vocab *v = &j->h->vocab;
    int64_t defaults[3] = {v->bos, v->eos, v->unk};
    const int64_t *ids = j->p.exclude ? j->p.exclude : defaults;
    size_t n = j->p.exclude ? j->p.n_exclude : 3;
    if (!(j->excluded = calloc((size_t)(j->h->V + 7) / 8, 1)))
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= j->h->V)
            return elmo_fail(err, ELMO_ERR_ARG,
                             "elmo_lm_predict: exclude[%zu] = %lld is not a row of the "
                             "vocabulary (0 to %lld)",
                             i, (long long)ids[i], (long long)(j->h->V - 1));
        j->excluded[ids[i] >> 3] |= (uint8_t)(1u << (ids[i] & 7));
    }
    return ELMO_OK;
}

int elmo_lm_predict(const elmo_model *m, const elmo_run_params *run, const elmo_lm_params *params,
                    const elmo_sentence *s, const int64_t *masks, size_t n, size_t k,
                    elmo_lm_prediction *out, elmo_error *err) {
    static const char fn[] = "elmo_lm_predict";
    job j = {.kind = JOB_PREDICT, .masks = masks, .k = k, .pred = out};
    int rc = setup(&j, fn, m, run, params, s, n, err);
    if (rc) return rc;
    if (n && (!out || !masks))
        return elmo_fail(err, ELMO_ERR_ARG, "%s: %s is NULL", fn, out ? "masks" : "out");
    if (k < 1 || (int64_t)k > j.limit)
        return elmo_fail(err, ELMO_ERR_ARG,
                         "%s: k = %zu is out of range; give 1 to %lld (the rows scored)", fn, k,
                         (long long)j.limit);
    for (size_t i = 0; i < n; i++)
        if (masks[i] != ELMO_LM_NEXT_WORD &&
            (masks[i] < 0 || (uint64_t)masks[i] >= (uint64_t)s[i].n_tokens))
            return elmo_fail(err, ELMO_ERR_ARG,
                             "%s: masks[%zu] = %lld is not a token of sentence %zu (it has %zu "
                             "tokens); give a token index or ELMO_LM_NEXT_WORD",
                             fn, i, (long long)masks[i], i, s[i].n_tokens);
    rc = build_exclusions(&j, err);
    size_t q = queries_per_sweep(&j);
    if (!rc && !(j.top = elmo_big_alloc(q * k * sizeof *j.top)))
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for %zu predictions", k);
    if (!rc) rc = run_job(&j, err);
    free(j.excluded);
    elmo_big_free(j.top);
    return rc;
}
