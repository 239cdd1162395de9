/* lm_sweep.c - the head's logits reduced block by block; see lm_sweep.h.
 *
 *   1. targets: the rows with a target are grouped by the block holding it and multiplied
 *      with that block only (row invariance makes this the same logit as in step 2), so
 *      that step 2 can count the columns above it in every block;
 *   2. blocks: task j multiplies every tile of rows by block j ([tile, P] x [P, cols]),
 *      adds the bias, and keeps per row the block's max m_j, s_j = sum exp(x - m_j) and
 *      the count above the target; queries push the block's columns into per-thread heaps;
 *   3. fold: per row, lse = M + log(sum_j s_j exp(m_j - M)) in block order, M = max m_j;
 *      per query, the threads' heaps are merged and sorted (score desc, column asc). */
#include "lm_sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "gemm.h"
#include "lm_kernels.h"

typedef struct block_stat {
    float max;
    double sum;
    int64_t count;
} block_stat;

typedef struct cand {
    double score;   /* sum of the query's logits */
    int64_t id;     /* column */
    float logit[2]; /* each row's logit */
} cand;

typedef struct sweep_run {
    elmo_lm_sweep *s;
    int64_t n_blocks;  /* blocks under the limit */
    block_stat *stats; /* [R, n_blocks] */
    size_t n_tiles;
    size_t *tile_first; /* [n_tiles + 1] first row of each tile */
    size_t *tile_query; /* [n_tiles + 1] first query of each tile (with queries) */
    size_t *query_row;  /* [n_queries] first row of each query */
    int workers;
    float **c;      /* [workers] -> [TILE, BLOCK] logits */
    float **a;      /* [workers] -> [TILE, P] gathered rows (step 1) */
    cand *heap;     /* [workers, n_queries, k] */
    size_t *heap_n; /* [workers, n_queries] */
    int64_t *order; /* [rows with a target] rows sorted by their target's block */
    size_t n_order;
    int64_t *group; /* [n_groups + 1] starts in order of each target block's rows */
    size_t n_groups;
    elmo_cancel *cancel;
} sweep_run;

static int64_t cols_in(const sweep_run *r, int64_t j) {
    int64_t left = r->s->limit - j * ELMO_HEAD_BLOCK;
    return left < ELMO_HEAD_BLOCK ? left : ELMO_HEAD_BLOCK;
}

/* ---- heaps: the worst kept candidate at the root --------------------------------------- */

static int worse(const cand *x, const cand *y) {
    return x->score < y->score || (x->score == y->score && x->id > y->id);
}

static void heap_push(cand *h, size_t *n, size_t k, const cand *c) {
    size_t i;
    if (*n < k) {
        i = (*n)++;
        while (i > 0 && worse(c, &h[(i - 1) / 2])) {
            h[i] = h[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h[i] = *c;
        return;
    }
    if (!worse(&h[0], c)) return;
    i = 0;
    for (;;) { /* sift the new root down */
        size_t l = 2 * i + 1, r = l + 1, w = i;
        const cand *wc = c;
        if (l < k && worse(&h[l], wc)) w = l, wc = &h[l];
        if (r < k && worse(&h[r], wc)) w = r;
        if (w == i) break;
        h[i] = h[w];
        i = w;
    }
    h[i] = *c;
}

static int better_first(const void *x, const void *y) {
    const cand *a = x, *b = y;
    return worse(b, a) ? -1 : worse(a, b) ? 1 : 0;
}

/* ---- step 1: target logits ------------------------------------------------------------ */

static void target_task(void *ctx, size_t g, int worker) {
    sweep_run *r = ctx;
    const elmo_lm_sweep *s = r->s;
    if (elmo_cancel_check(r->cancel)) return;
    const int64_t P = s->head->P, B = ELMO_HEAD_BLOCK;
    int64_t j = s->target[r->order[r->group[g]]] / B, cols = elmo_lm_head_block_cols(s->head, j);
    for (int64_t t0 = r->group[g]; t0 < r->group[g + 1]; t0 += ELMO_LM_TILE_ROWS) {
        int64_t m =
            r->group[g + 1] - t0 < ELMO_LM_TILE_ROWS ? r->group[g + 1] - t0 : ELMO_LM_TILE_ROWS;
        for (int64_t i = 0; i < m; i++)
            memcpy(r->a[worker] + i * P, s->a + r->order[t0 + i] * P, (size_t)P * sizeof(float));
        elmo_gemm(r->a[worker], (size_t)P, (size_t)m, &s->head->blocks[j], r->c[worker],
                  (size_t)cols, 0);
        for (int64_t i = 0; i < m; i++) {
            int64_t row = r->order[t0 + i], v = s->target[row];
            float x = r->c[worker][i * cols + (v - j * B)];
            s->logit[row] = s->use_bias ? x + s->head->bias[v] : x; /* as step 2 adds it */
        }
    }
}

/* Sorts the rows with a target by block (counting sort) into order/group. */
static void group_targets(sweep_run *r) {
    const elmo_lm_sweep *s = r->s;
    int64_t nb = r->n_blocks;
    int64_t *count = r->group; /* [n_blocks + 1], reused as the starts */
    memset(count, 0, (size_t)(nb + 1) * sizeof *count);
    for (size_t i = 0; i < s->R; i++)
        if (s->target[i] >= 0) count[s->target[i] / ELMO_HEAD_BLOCK + 1]++;
    for (int64_t j = 0; j < nb; j++) count[j + 1] += count[j];
    r->n_order = (size_t)count[nb];
    int64_t *next = r->group + nb + 1; /* [n_blocks] fill positions */
    memcpy(next, count, (size_t)nb * sizeof *next);
    for (size_t i = 0; i < s->R; i++)
        if (s->target[i] >= 0) r->order[next[s->target[i] / ELMO_HEAD_BLOCK]++] = (int64_t)i;
    size_t g = 0; /* keep the non-empty groups only */
    for (int64_t j = 0; j < nb; j++)
        if (count[j + 1] > count[j]) r->group[g++] = count[j];
    r->group[g] = count[nb];
    r->n_groups = g;
}

/* ---- step 2: the blocks ---------------------------------------------------------------- */

static void push_columns(sweep_run *r, int worker, size_t q, const float *x0, const float *x1,
                         int64_t j, int64_t cols) {
    const elmo_lm_sweep *s = r->s;
    size_t k = s->k, slot = (size_t)worker * s->n_queries + q;
    cand *h = r->heap + slot * k;
    size_t *n = &r->heap_n[slot];
    for (int64_t c = 0; c < cols; c++) {
        int64_t v = j * ELMO_HEAD_BLOCK + c;
        if (s->excluded && (s->excluded[v >> 3] >> (v & 7) & 1)) continue;
        cand cd = {.score = x1 ? (double)x0[c] + (double)x1[c] : (double)x0[c],
                   .id = v,
                   .logit = {x0[c], x1 ? x1[c] : 0}};
        if (*n < k || worse(&h[0], &cd)) heap_push(h, n, k, &cd);
    }
}

static void block_task(void *ctx, size_t task, int worker) {
    sweep_run *r = ctx;
    const elmo_lm_sweep *s = r->s;
    if (elmo_cancel_check(r->cancel)) return;
    const int64_t j = (int64_t)task, P = s->head->P, lim = cols_in(r, j);
    const int64_t cols = elmo_lm_head_block_cols(s->head, j);
    const float *bias = s->use_bias ? s->head->bias + j * ELMO_HEAD_BLOCK : NULL;
    float *c = r->c[worker];
    for (size_t t = 0; t < r->n_tiles; t++) {
        size_t first = r->tile_first[t], m = r->tile_first[t + 1] - first;
        elmo_gemm(s->a + first * (size_t)P, (size_t)P, m, &s->head->blocks[j], c, (size_t)cols, 0);
        for (size_t i = 0; i < m; i++) {
            size_t row = first + i;
            float *x = c + i * (size_t)cols;
            block_stat *st = &r->stats[row * (size_t)r->n_blocks + (size_t)j];
            st->max = elmo_lm_add_max(x, bias, (size_t)lim);
            st->sum = elmo_lm_sum_exp(x, (size_t)lim, st->max);
            st->count = s->want_rank && s->target && s->target[row] >= 0
                            ? elmo_lm_count_above(x, (size_t)lim, s->logit[row])
                            : 0;
        }
        for (size_t q = s->n_queries ? r->tile_query[t] : 0;
             s->n_queries && q < r->tile_query[t + 1]; q++) {
            size_t i = r->query_row[q] - first;
            const float *x1 = s->query_width[q] == 2 ? c + (i + 1) * (size_t)cols : NULL;
            push_columns(r, worker, q, c + i * (size_t)cols, x1, j, lim);
        }
    }
}

/* ---- step 3: folding -------------------------------------------------------------------- */

static void fold_rows(sweep_run *r) {
    elmo_lm_sweep *s = r->s;
    for (size_t row = 0; row < s->R; row++) {
        const block_stat *st = &r->stats[row * (size_t)r->n_blocks];
        float m = st[0].max;
        for (int64_t j = 1; j < r->n_blocks; j++) m = st[j].max > m ? st[j].max : m;
        /* the block holding the max contributes exp(0) = 1 at least: sum >= 1 */
        double sum = st[0].sum * exp((double)st[0].max - (double)m);
        int64_t count = st[0].count;
        for (int64_t j = 1; j < r->n_blocks; j++) {
            sum += st[j].sum * exp((double)st[j].max - (double)m);
            count += st[j].count;
        }
        s->lse[row] = (double)m + log(sum);
        if (s->want_rank && s->rank)
            s->rank[row] = s->target && s->target[row] >= 0 ? 1 + count : 0;
    }
}

static void fold_queries(sweep_run *r) {
    elmo_lm_sweep *s = r->s;
    size_t k = s->k;
    cand *all = r->heap; /* worker 0's heaps collect the others', in place */
    for (size_t q = 0; q < s->n_queries; q++) {
        cand *mine = all + q * k;
        size_t n = r->heap_n[q];
        for (int w = 1; w < r->workers; w++) {
            size_t slot = (size_t)w * s->n_queries + q;
            for (size_t i = 0; i < r->heap_n[slot]; i++) heap_push(mine, &n, k, &all[slot * k + i]);
        }
        qsort(mine, n, sizeof *mine, better_first);
        size_t row = r->query_row[q];
        int two = s->query_width[q] == 2;
        double lse0 = s->lse[row], lse1 = two ? s->lse[row + 1] : 0;
        elmo_lm_prediction *out = s->top + q * k;
        for (size_t i = 0; i < k; i++) {
            if (i >= n) {
                out[i] = (elmo_lm_prediction){-1, NAN, NAN, NAN};
                continue;
            }
            const cand *c = &mine[i];
            out[i] = (elmo_lm_prediction){
                .vocab_id = c->id,
                .logprob = two ? 0.5 * (c->score - (lse0 + lse1)) : c->score - lse0,
                .logprob_forward = (double)c->logit[0] - lse0,
                .logprob_backward = two ? (double)c->logit[1] - lse1 : NAN};
        }
    }
}

/* ---- setup ------------------------------------------------------------------------------ */

/* Tiles of at most ELMO_LM_TILE_ROWS rows; with queries, made of whole queries. */
static void make_tiles(sweep_run *r) {
    const elmo_lm_sweep *s = r->s;
    r->n_tiles = 0;
    r->tile_first[0] = 0;
    if (!s->n_queries) {
        for (size_t first = 0; first < s->R; first += ELMO_LM_TILE_ROWS)
            r->tile_first[++r->n_tiles] =
                first + ELMO_LM_TILE_ROWS < s->R ? first + ELMO_LM_TILE_ROWS : s->R;
        return;
    }
    size_t row = 0;
    r->tile_query[0] = 0;
    for (size_t q = 0; q < s->n_queries; q++) {
        r->query_row[q] = row;
        if (row + s->query_width[q] - r->tile_first[r->n_tiles] > ELMO_LM_TILE_ROWS) {
            r->n_tiles++;
            r->tile_first[r->n_tiles] = row;
            r->tile_query[r->n_tiles] = q;
        }
        row += s->query_width[q];
    }
    r->n_tiles++;
    r->tile_first[r->n_tiles] = row;
    r->tile_query[r->n_tiles] = s->n_queries;
}

size_t elmo_lm_sweep_candidate_bytes(void) {
    return sizeof(cand);
}

static void free_run(sweep_run *r) {
    for (int w = 0; r->c && w < r->workers; w++) elmo_big_free(r->c[w]);
    for (int w = 0; r->a && w < r->workers; w++) elmo_big_free(r->a[w]);
    free(r->c);
    free(r->a);
    elmo_big_free(r->stats);
    elmo_big_free(r->heap);
    free(r->heap_n);
    free(r->tile_first);
    free(r->tile_query);
    free(r->query_row);
    free(r->order);
    free(r->group);
}

static int alloc_run(sweep_run *r, int threads) {
    const elmo_lm_sweep *s = r->s;
    int64_t tasks = r->n_blocks > 1 ? r->n_blocks : 1;
    r->workers = threads < 1 ? 1 : threads > tasks ? (int)tasks : threads;
    size_t heaps = s->n_queries * s->k * sizeof(cand); /* one thread's */
    if (heaps && (size_t)r->workers * heaps > ELMO_LM_HEAP_BYTES)
        r->workers = ELMO_LM_HEAP_BYTES / heaps > 1 ? (int)(ELMO_LM_HEAP_BYTES / heaps) : 1;
    size_t R = s->R, nq = s->n_queries, W = (size_t)r->workers;
    r->stats = elmo_big_alloc(R * (size_t)r->n_blocks * sizeof *r->stats);
    r->tile_first = malloc((R + 2) * sizeof *r->tile_first);
    r->tile_query = malloc((R + 2) * sizeof *r->tile_query);
    r->query_row = malloc((nq + 1) * sizeof *r->query_row);
    r->order = malloc((R + 1) * sizeof *r->order);
    r->group = malloc((size_t)(2 * r->n_blocks + 2) * sizeof *r->group);
    r->c = calloc(W, sizeof *r->c);
    r->a = calloc(W, sizeof *r->a);
    if (nq) {
        r->heap = elmo_big_alloc(W * nq * s->k * sizeof *r->heap);
        r->heap_n = calloc(W * nq, sizeof *r->heap_n);
    }
    int ok = r->stats && r->tile_first && r->tile_query && r->query_row && r->order && r->group &&
             r->c && r->a && (!nq || (r->heap && r->heap_n));
    for (size_t w = 0; ok && w < W; w++) {
        r->c[w] = elmo_big_alloc((size_t)ELMO_LM_TILE_ROWS * ELMO_HEAD_BLOCK * sizeof(float));
        r->a[w] = elmo_big_alloc((size_t)ELMO_LM_TILE_ROWS * (size_t)s->head->P * sizeof(float));
        ok = r->c[w] && r->a[w];
    }
    return ok;
}

int elmo_lm_sweep_run(elmo_lm_sweep *s, int threads, elmo_cancel *cancel, elmo_error *err) {
    if (s->R == 0) return ELMO_OK;
    sweep_run r = {.s = s, .cancel = cancel};
    r.n_blocks = (s->limit + ELMO_HEAD_BLOCK - 1) / ELMO_HEAD_BLOCK;
    if (!alloc_run(&r, threads)) {
        free_run(&r);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory scoring words with the softmax head");
    }
    make_tiles(&r);
    if (s->target) {
        group_targets(&r);
        elmo_parallel(r.workers, r.n_groups, target_task, &r, cancel);
    }
    if (!elmo_cancel_check(cancel))
        elmo_parallel(r.workers, (size_t)r.n_blocks, block_task, &r, cancel);
    int stopped = elmo_cancel_check(cancel);
    if (!stopped) {
        fold_rows(&r);
        fold_queries(&r);
    }
    free_run(&r);
    return stopped ? elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted") : ELMO_OK;
}
