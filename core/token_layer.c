/* token_layer.c - stage 1 of a run: layer 0 (the char-CNN token embeddings).
 *
 * Tokens are deduplicated by their bytes (truncated to C-2, since the embedding depends
 * on nothing else), looked up in the model's cache, and only the misses go through the
 * CNN, in chunks spread over the worker threads. */
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "char_cnn.h"
#include "error.h"
#include "result.h"
#include "token_cache.h"
#include "token_layer.h"

enum { UNIQUE_BOS = 0, UNIQUE_EOS = 1, N_BOUNDARY = 2 };

/* The char-CNN scratch of one call, all workers together: fewer workers run when their
 * scratch would exceed it (never fewer than one). */
#define CNN_CALL_BUDGET_BYTES ((size_t)128 << 20)

typedef struct unique_set {
    size_t n;         /* distinct tokens, the 2 boundaries first */
    const char **key; /* [cap] token bytes (truncated) */
    size_t *len;      /* [cap] */
    size_t *table;    /* [table_size] unique index + 1, 0 = empty */
    size_t table_mask;
} unique_set;

static void unique_free(unique_set *u) {
    free(u->key);
    free(u->len);
    free(u->table);
}

static int unique_init(unique_set *u, size_t occurrences) {
    size_t cap = occurrences + N_BOUNDARY, size = 16;
    while (size < 2 * cap) size *= 2;
    u->n = N_BOUNDARY;
    u->key = calloc(cap, sizeof *u->key);
    u->len = calloc(cap, sizeof *u->len);
    u->table = calloc(size, sizeof *u->table);
    u->table_mask = size - 1;
    return u->key && u->len && u->table;
}

/* Index of the token in the set, adding it if new. */
static size_t unique_add(unique_set *u, const char *key, size_t len) {
    size_t i = (size_t)elmo_hash_bytes(key, len) & u->table_mask;
    for (;; i = (i + 1) & u->table_mask) {
        size_t v = u->table[i];
        if (v == 0) break;
        if (u->len[v - 1] == len && memcmp(u->key[v - 1], key, len) == 0) return v - 1;
    }
    u->key[u->n] = key;
    u->len[u->n] = len;
    u->table[i] = ++u->n;
    return u->n - 1;
}

static size_t token_unique(unique_set *u, const char *tok, size_t len, size_t key_max) {
    /* AllenNLP gives the literal tokens <S> and </S> the boundary character ids. */
    if (len == 3 && memcmp(tok, "<S>", 3) == 0) return UNIQUE_BOS;
    if (len == 4 && memcmp(tok, "</S>", 4) == 0) return UNIQUE_EOS;
    return unique_add(u, tok, len < key_max ? len : key_max);
}

/* Work shared by the CNN tasks: chunk c embeds misses [c*chunk, ...) into miss_vec. */
typedef struct cnn_job {
    const elmo_model *m;
    const unique_set *u;
    const size_t *miss; /* [n_miss] unique indices */
    size_t n_miss;
    size_t chunk;    /* tokens per task, <= ELMO_CNN_CHUNK */
    float *miss_vec; /* [n_miss, P] */
    float **scratch; /* [workers] elmo_cnn_scratch_floats() each */
    uint16_t **ids;  /* [workers] [CHUNK, C] */
    elmo_cancel *cancel;
} cnn_job;

static void cnn_task(void *ctx, size_t chunk, int worker) {
    cnn_job *j = ctx;
    if (elmo_cancel_check(j->cancel)) return;
    size_t C = (size_t)j->m->cfg.max_chars, P = (size_t)j->m->cfg.projection_dim;
    size_t first = chunk * j->chunk;
    size_t n = j->n_miss - first < j->chunk ? j->n_miss - first : j->chunk;
    for (size_t t = 0; t < n; t++) {
        size_t u = j->miss[first + t];
        elmo_char_ids(j->u->key[u], j->u->len[u], C, j->ids[worker] + t * C);
    }
    elmo_cnn_embed(&j->m->cfg, &j->m->w, j->ids[worker], n, j->miss_vec + first * P,
                   j->scratch[worker]);
}

/* Out of memory for the char-CNN scratch, with the numbers and the options behind them. */
static int scratch_failed(const elmo_model *m, int workers, size_t bytes, elmo_error *err) {
    const elmo_config *c = &m->cfg;
    char each[32], total[32];
    int widest = 0;
    for (int i = 0; i < c->n_banks; i++)
        if (c->bank_width[i] > widest) widest = c->bank_width[i];
    return elmo_fail(err, ELMO_ERR_NOMEM,
                     "out of memory allocating %s of char-CNN scratch (%d worker%s x %s) for "
                     "the model of '%s': %d characters per token, filters up to %d wide, "
                     "%d-wide character embeddings, %d filters",
                     elmo_bytes_text((double)bytes * workers, total, sizeof total), workers,
                     workers == 1 ? "" : "s", elmo_bytes_text((double)bytes, each, sizeof each),
                     m->source ? m->source : "(unknown)", c->max_chars, widest, c->char_embed_dim,
                     c->n_filters);
}

/* Embeds the misses with up to n_threads workers. A few misses (one new sentence) are
 * split evenly over the workers: smaller GEMMs, but the first query answers sooner. */
static int embed_misses(const elmo_model *m, cnn_job *j, int n_threads, elmo_error *err) {
    size_t scratch_bytes = elmo_cnn_scratch_floats(&m->cfg) * sizeof(float);
    size_t affordable = CNN_CALL_BUDGET_BYTES / scratch_bytes;
    int workers = n_threads < 1 ? 1 : n_threads;
    if ((size_t)workers > affordable) workers = affordable ? (int)affordable : 1;
    j->chunk = (j->n_miss + (size_t)workers - 1) / (size_t)workers;
    if (j->chunk > ELMO_CNN_CHUNK) j->chunk = ELMO_CNN_CHUNK;
    size_t n_chunks = (j->n_miss + j->chunk - 1) / j->chunk;
    if ((size_t)workers > n_chunks) workers = (int)n_chunks;
    j->scratch = calloc((size_t)workers, sizeof *j->scratch);
    j->ids = calloc((size_t)workers, sizeof *j->ids);
    int ok = j->scratch && j->ids;
    for (int w = 0; ok && w < workers; w++) {
        j->scratch[w] = elmo_big_alloc(scratch_bytes);
        j->ids[w] = malloc((size_t)ELMO_CNN_CHUNK * m->cfg.max_chars * sizeof(uint16_t));
        ok = j->scratch[w] && j->ids[w];
    }
    if (ok) elmo_parallel(workers, n_chunks, cnn_task, j, j->cancel);
    for (int w = 0; j->scratch && j->ids && w < workers; w++) {
        elmo_big_free(j->scratch[w]);
        free(j->ids[w]);
    }
    free(j->scratch);
    free(j->ids);
    if (!ok) return scratch_failed(m, workers, scratch_bytes, err);
    return ELMO_OK;
}

/* Writes [e ; e] rows of layer 0 for every position of every sentence. */
static void write_layer0(const elmo_model *m, const elmo_sentence *s, elmo_result *r,
                         const size_t *occ, const float *vec) {
    size_t P = (size_t)m->cfg.projection_dim, at = 0;
    for (size_t i = 0; i < r->n; i++) {
        float *rows = elmo_result_rows(r, i, 0); /* [n_i + 2, 2P] */
        size_t n = s[i].n_tokens;
        for (size_t t = 0; t < n + 2; t++) {
            size_t u = t == 0 ? UNIQUE_BOS : t == n + 1 ? UNIQUE_EOS : occ[at++];
            memcpy(rows + t * 2 * P, vec + u * P, P * sizeof(float));
            memcpy(rows + t * 2 * P + P, vec + u * P, P * sizeof(float));
        }
    }
}

int elmo_fill_token_layer(const elmo_model *m, const elmo_sentence *s, elmo_result *r,
                          int use_cache, int n_threads, elmo_cancel *cancel, elmo_error *err) {
    size_t P = (size_t)m->cfg.projection_dim, key_max = (size_t)m->cfg.max_chars - 2;
    size_t total = 0;
    for (size_t i = 0; i < r->n; i++) total += s[i].n_tokens;

    unique_set u = {0};
    size_t *occ = malloc((total ? total : 1) * sizeof *occ); /* [total] unique index */
    float *vec = NULL;                                       /* [unique, P] */
    uint8_t *hit = NULL;
    size_t *miss = NULL;
    float *miss_vec = NULL; /* [misses, P] */
    const char **miss_key = NULL;
    size_t *miss_len = NULL;
    int rc = ELMO_OK;
    if (!occ || !unique_init(&u, total)) {
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory indexing %zu tokens", total);
        goto done;
    }
    for (size_t i = 0, at = 0; i < r->n; i++)
        for (size_t t = 0; t < s[i].n_tokens; t++) {
            const elmo_span *sp = &s[i].tokens[t];
            occ[at++] = token_unique(&u, s[i].text + sp->start, sp->end - sp->start, key_max);
        }

    vec = elmo_big_alloc(u.n * P * sizeof *vec);
    hit = calloc(u.n, 1);
    miss = malloc(u.n * sizeof *miss);
    if (!vec || !hit || !miss) {
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory for %zu token embeddings", u.n);
        goto done;
    }
    memcpy(vec, m->boundary, 2 * P * sizeof *vec);
    hit[UNIQUE_BOS] = hit[UNIQUE_EOS] = 1;
    if (use_cache && m->cache && u.n > N_BOUNDARY)
        elmo_cache_get(m->cache, u.key + N_BOUNDARY, u.len + N_BOUNDARY, u.n - N_BOUNDARY,
                       vec + N_BOUNDARY * P, hit + N_BOUNDARY);
    size_t n_miss = 0;
    for (size_t k = N_BOUNDARY; k < u.n; k++)
        if (!hit[k]) miss[n_miss++] = k;

    if (n_miss) {
        miss_vec = elmo_big_alloc(n_miss * P * sizeof *miss_vec);
        miss_key = malloc(n_miss * sizeof *miss_key);
        miss_len = malloc(n_miss * sizeof *miss_len);
        if (!miss_vec || !miss_key || !miss_len) {
            rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory embedding %zu tokens", n_miss);
            goto done;
        }
        cnn_job job = {.m = m,
                       .u = &u,
                       .miss = miss,
                       .n_miss = n_miss,
                       .miss_vec = miss_vec,
                       .cancel = cancel};
        if ((rc = embed_misses(m, &job, n_threads, err))) goto done;
        if (elmo_cancel_check(cancel)) {
            rc = elmo_fail(err, ELMO_ERR_INTERRUPTED, "interrupted");
            goto done;
        }
        for (size_t k = 0; k < n_miss; k++) {
            memcpy(vec + miss[k] * P, miss_vec + k * P, P * sizeof *vec);
            miss_key[k] = u.key[miss[k]];
            miss_len[k] = u.len[miss[k]];
        }
        if (use_cache && m->cache) elmo_cache_put(m->cache, miss_key, miss_len, n_miss, miss_vec);
    }
    write_layer0(m, s, r, occ, vec);

done:
    unique_free(&u);
    free(occ);
    elmo_big_free(vec);
    free(hit);
    free(miss);
    elmo_big_free(miss_vec);
    free(miss_key);
    free(miss_len);
    return rc;
}

int elmo_embed_ids(const elmo_model *m, const uint16_t *ids, size_t n, float *out,
                   elmo_error *err) {
    size_t bytes = elmo_cnn_scratch_floats(&m->cfg) * sizeof(float);
    float *scratch = elmo_big_alloc(bytes);
    if (!scratch) return scratch_failed(m, 1, bytes, err);
    size_t C = (size_t)m->cfg.max_chars, P = (size_t)m->cfg.projection_dim;
    for (size_t first = 0; first < n; first += ELMO_CNN_CHUNK) {
        size_t k = n - first < ELMO_CNN_CHUNK ? n - first : ELMO_CNN_CHUNK;
        elmo_cnn_embed(&m->cfg, &m->w, ids + first * C, k, out + first * P, scratch);
    }
    elmo_big_free(scratch);
    return ELMO_OK;
}
