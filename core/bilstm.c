/* bilstm.c - stage 2 of a run: the stacked LSTMs in both directions (docs/model.md §6).
 *
 * Step space. Every direction is run as a plain left-to-right stack over its own "steps":
 * forward step s reads position s, backward step s reads position N_b-1-s of sentence b.
 * Backward layer l+1 at step s needs backward layer l at the same step, so each direction
 * is independent of the other from layer 1 to L, and the two run concurrently with no
 * synchronisation at all.
 *
 * Batching. The sentences of a group are sorted longest first, so the sentences still
 * running at step s are a prefix [0, active[s]) of the group. Per step, one GEMM
 * h[active, P] x W_rec[P, 4H] serves the whole group; the input half x W_in is computed
 * for several steps at once, as one GEMM over as many rows as the zx budget allows (all
 * positions of a short batch). A finished sentence's rows of h and c are no longer
 * touched, so after the last step they hold its final state (for streaming mode).
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "bilstm.h"
#include "error.h"
#include "gemm.h"
#include "kernels.h"
#include "result.h"

/* Floats of the per-task buffer of input pre-activations zx [rows, 4H]. */
#define ZX_BUDGET_FLOATS ((size_t)1 << 20)
/* Bytes of per-sentence scratch (zx, c, m, h rows) one task may hold: bounds the sentences
 * of a group, so memory does not grow with the batch (a batch of short sentences holds
 * many). About 75 sentences per group for the Original model, 256 at most; times the
 * kernel's batch scale (AMX: 4, so that its faster per-step products get more rows). */
#define GROUP_SCRATCH_BYTES ((size_t)8 << 20)
#define MAX_GROUP 256
#define MIN_GROUP 16

/* Largest group: per sentence a task holds rows of zx [4H], c and m [H], h and hn [P]. */
static size_t max_group(const elmo_model *m) {
    const elmo_config *c = &m->cfg;
    size_t per_row = (6 * (size_t)c->lstm_dim + 2 * (size_t)c->projection_dim) * sizeof(float);
    size_t n = GROUP_SCRATCH_BYTES * (size_t)elmo_gemm_batch_scale(m->kernel) / per_row;
    return n < MIN_GROUP ? MIN_GROUP : n > MAX_GROUP ? MAX_GROUP : n;
}

typedef struct lstm_job {
    const elmo_model *m;
    elmo_result *r;
    elmo_stream *const *streams; /* [n] or NULL */
    const elmo_layer_sink *sink; /* or NULL */
    const size_t *order;         /* [n] sentences, longest first */
    size_t n_groups;             /* group g holds order[g], order[g + G], ... */
    elmo_cancel *cancel;
    atomic_int nomem;
} lstm_job;

/* Scratch of one task (one direction of one group). */
typedef struct lstm_scratch {
    size_t *member; /* [n_g] sentence index */
    size_t *len;    /* [n_g] positions N_b */
    size_t *active; /* [S] sentences still running at step s */
    float *x;       /* [cap, P] gathered layer inputs */
    float *zx;      /* [cap, 4H] pre-activations */
    float *h;       /* [n_g, P] recurrent state (clipped projection, no residual) */
    float *c;       /* [n_g, H] memory cells */
    float *mbuf;    /* [n_g, H] cell outputs m */
    float *hn;      /* [n_g, P] new projected outputs */
} lstm_scratch;

static void scratch_free(lstm_scratch *s) {
    free(s->member);
    free(s->len);
    free(s->active);
    elmo_big_free(s->x);
    elmo_big_free(s->zx);
    elmo_big_free(s->h);
    elmo_big_free(s->c);
    elmo_big_free(s->mbuf);
    elmo_big_free(s->hn);
}

/* Row of position pos of layer k for direction dir of sentence b (its P-wide half). */
static inline float *half_row(const elmo_result *r, size_t b, int k, size_t pos, int dir) {
    return elmo_result_rows(r, b, k) + pos * (size_t)r->dim + (size_t)dir * (r->dim / 2);
}

static void load_state(const lstm_job *j, const lstm_scratch *s, size_t n_g, int layer, int dir) {
    size_t P = (size_t)j->m->cfg.projection_dim, H = (size_t)j->m->cfg.lstm_dim;
    for (size_t k = 0; k < n_g; k++) {
        elmo_stream *st = j->streams ? j->streams[s->member[k]] : NULL;
        if (st) {
            memcpy(s->h + k * P, st->h + ((size_t)layer * 2 + dir) * P, P * sizeof(float));
            memcpy(s->c + k * H, st->c + ((size_t)layer * 2 + dir) * H, H * sizeof(float));
        } else {
            memset(s->h + k * P, 0, P * sizeof(float));
            memset(s->c + k * H, 0, H * sizeof(float));
        }
    }
}

static void save_state(const lstm_job *j, const lstm_scratch *s, size_t n_g, int layer, int dir) {
    size_t P = (size_t)j->m->cfg.projection_dim, H = (size_t)j->m->cfg.lstm_dim;
    for (size_t k = 0; k < n_g; k++) {
        elmo_stream *st = j->streams ? j->streams[s->member[k]] : NULL;
        if (!st) continue;
        memcpy(st->h + ((size_t)layer * 2 + dir) * P, s->h + k * P, P * sizeof(float));
        memcpy(st->c + ((size_t)layer * 2 + dir) * H, s->c + k * H, H * sizeof(float));
    }
}

/* Runs layer `layer` (1-based) of direction dir for the group; returns 0 if cancelled. */
static int run_layer(lstm_job *j, lstm_scratch *s, size_t n_g, size_t n_steps, size_t cap,
                     int layer, int dir) {
    const elmo_config *cfg = &j->m->cfg;
    const elmo_cell *cell = &j->m->w.cells[dir][layer - 1];
    size_t P = (size_t)cfg->projection_dim, H = (size_t)cfg->lstm_dim;
    int residual = cfg->skip_connections && layer >= 2;
    load_state(j, s, n_g, layer - 1, dir);

    for (size_t s0 = 0; s0 < n_steps;) {
        /* A chunk of steps [s0, s1) whose inputs fit in the zx buffer. */
        size_t s1 = s0, rows = 0;
        while (s1 < n_steps && (s1 == s0 || rows + s->active[s1] <= cap)) rows += s->active[s1++];
        for (size_t q = s0, row = 0; q < s1; q++)
            for (size_t k = 0; k < s->active[q]; k++, row++) {
                size_t pos = dir == 0 ? q : s->len[k] - 1 - q;
                memcpy(s->x + row * P, half_row(j->r, s->member[k], layer - 1, pos, dir),
                       P * sizeof(float));
            }
        /* zx [rows, 4H] = x [rows, P] . W_in [P, 4H] */
        elmo_gemm(s->x, P, rows, &cell->w_in, s->zx, 4 * H, 0);

        for (size_t q = s0, row = 0; q < s1; q++) {
            size_t b = s->active[q];
            float *z = s->zx + row * 4 * H; /* [b, 4H] */
            elmo_gemm(s->h, P, b, &cell->w_rec, z, 4 * H, 1);
            elmo_lstm_gates(z, cell->bias, s->c, s->mbuf, b, H, cfg->cell_clip);
            if (cell->w_proj.data) {
                elmo_gemm(s->mbuf, H, b, &cell->w_proj, s->hn, P, 0);
                elmo_clip(s->hn, b * P, cfg->proj_clip);
            } else { /* P == H: the cell output is the state; TF clips only a projection */
                memcpy(s->hn, s->mbuf, b * P * sizeof(float));
            }
            memcpy(s->h, s->hn, b * P * sizeof(float));
            for (size_t k = 0; k < b; k++) {
                size_t pos = dir == 0 ? q : s->len[k] - 1 - q;
                float *out = half_row(j->r, s->member[k], layer, pos, dir);
                memcpy(out, s->hn + k * P, P * sizeof(float));
                /* Skip connection: added to the output only, not to the state. */
                if (residual) elmo_add(out, s->x + (row + k) * P, P);
            }
            row += b;
            if (elmo_cancel_check(j->cancel)) return 0;
        }
        s0 = s1;
    }
    save_state(j, s, n_g, layer - 1, dir);
    if (j->sink)
        for (size_t k = 0; k < n_g; k++)
            j->sink->layer_done(j->sink->arg, j->r, s->member[k], layer, dir);
    return 1;
}

static void lstm_task(void *ctx, size_t task, int worker) {
    (void)worker;
    lstm_job *j = ctx;
    int dir = (int)(task % 2);
    size_t g = task / 2, G = j->n_groups, n = j->r->n;
    size_t n_g = (n - g + G - 1) / G;
    size_t P = (size_t)j->m->cfg.projection_dim, H = (size_t)j->m->cfg.lstm_dim;
    lstm_scratch s = {0};
    s.member = malloc(n_g * sizeof *s.member);
    s.len = malloc(n_g * sizeof *s.len);
    if (!s.member || !s.len) goto nomem;
    for (size_t k = 0; k < n_g; k++) {
        s.member[k] = j->order[g + k * G];
        s.len[k] = j->r->n_tokens[s.member[k]] + 2;
    }
    size_t n_steps = s.len[0];
    size_t cap = ZX_BUDGET_FLOATS / (4 * H);
    if (cap < n_g) cap = n_g;
    s.active = malloc(n_steps * sizeof *s.active);
    s.x = elmo_big_alloc(cap * P * sizeof(float));
    s.zx = elmo_big_alloc(cap * 4 * H * sizeof(float));
    s.h = elmo_big_alloc(n_g * P * sizeof(float));
    s.c = elmo_big_alloc(n_g * H * sizeof(float));
    s.mbuf = elmo_big_alloc(n_g * H * sizeof(float));
    s.hn = elmo_big_alloc(n_g * P * sizeof(float));
    if (!s.active || !s.x || !s.zx || !s.h || !s.c || !s.mbuf || !s.hn) goto nomem;
    for (size_t q = 0, k = n_g; q < n_steps; q++) {
        while (k > 0 && s.len[k - 1] <= q) k--; /* lengths descend: drop finished ones */
        s.active[q] = k;
    }
    for (int layer = 1; layer <= j->m->cfg.n_layers; layer++)
        if (!run_layer(j, &s, n_g, n_steps, cap, layer, dir)) break;
    scratch_free(&s);
    return;
nomem:
    scratch_free(&s);
    atomic_store(&j->nomem, 1);
    atomic_store(&j->cancel->stopped, 1);
}

/* Copies of the streams' states, so that a run that fails leaves them as they were (the
 * tasks save each layer's final state as soon as that layer is done). */
typedef struct stream_backup {
    float *h; /* [n, L * 2 * P] */
    float *c; /* [n, L * 2 * H] */
} stream_backup;

static int backup_streams(const elmo_model *m, elmo_stream *const *streams, size_t n,
                          stream_backup *b, int restore) {
    size_t hs = (size_t)m->cfg.n_layers * 2 * m->cfg.projection_dim;
    size_t cs = (size_t)m->cfg.n_layers * 2 * m->cfg.lstm_dim;
    if (!restore) {
        b->h = malloc(n * hs * sizeof(float));
        b->c = malloc(n * cs * sizeof(float));
        if (!b->h || !b->c) return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!streams[i]) continue;
        float *h = b->h + i * hs, *c = b->c + i * cs;
        memcpy(restore ? streams[i]->h : h, restore ? h : streams[i]->h, hs * sizeof(float));
        memcpy(restore ? streams[i]->c : c, restore ? c : streams[i]->c, cs * sizeof(float));
    }
    return 1;
}

static int by_length_desc(const void *a, const void *b, void *lens) {
    const size_t *n = lens;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (n[x] != n[y]) return n[x] < n[y] ? 1 : -1;
    return x < y ? -1 : x > y; /* stable */
}

int elmo_fill_lstm_layers(const elmo_model *m, elmo_result *r, elmo_stream *const *streams,
                          const elmo_layer_sink *sink, int n_threads, elmo_cancel *cancel,
                          elmo_error *err) {
    if (r->n == 0) return ELMO_OK;
    size_t *order = malloc(r->n * sizeof *order);
    if (!order) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory sorting %zu sentences", r->n);
    for (size_t i = 0; i < r->n; i++) order[i] = i;
    qsort_r(order, r->n, sizeof *order, by_length_desc, r->n_tokens);

    /* Two tasks (forward, backward) per group; enough groups to use every thread, and
     * groups no larger than max_group(). Interleaving keeps group lengths alike. */
    size_t groups = (size_t)(n_threads + 1) / 2, largest = max_group(m);
    if (groups < (r->n + largest - 1) / largest) groups = (r->n + largest - 1) / largest;
    if (groups > r->n) groups = r->n;
    stream_backup backup = {0};
    if (streams && !backup_streams(m, streams, r->n, &backup, 0)) {
        free(order);
        free(backup.h);
        free(backup.c);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for the stream states");
    }
    lstm_job job = {.m = m,
                    .r = r,
                    .streams = streams,
                    .sink = sink,
                    .order = order,
                    .n_groups = groups,
                    .cancel = cancel};
    atomic_init(&job.nomem, 0);
    elmo_parallel(n_threads, 2 * groups, lstm_task, &job, cancel);
    free(order);
    int rc = ELMO_OK;
    if (atomic_load(&job.nomem))
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for the LSTM scratch");
    else if (atomic_load(&cancel->stopped))
        rc = elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted");
    if (rc && streams) backup_streams(m, streams, r->n, &backup, 1);
    free(backup.h);
    free(backup.c);
    return rc;
}
