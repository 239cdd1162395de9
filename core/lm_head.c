/* lm_head.c - reading and packing the softmax head; see lm_head.h.
 *
 * W [V, P] is read a block of rows at a time where the source can (HDF5, safetensors), so
 * loading holds the packed head plus one block, never the file's float32 copy of W; a TF
 * checkpoint is read whole first. Each block of rows is checked (finite values), transposed
 * to [P, rows] and packed as one elmo_packed. */
#include "lm_head.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "hash.h"
#include "parallel.h"

static void format_shape(char *buf, size_t cap, int rank, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && i < 4 && used < cap; i++)
        used +=
            (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < cap) snprintf(buf + used, cap - used, "%s]", rank > 4 ? ", ..." : "");
}

/* Finds a head tensor and checks its shape against want [rank]. */
static int find_tensor(elmo_tensor_source *src, const char *name, int rank, const int64_t *want,
                       const char *what, elmo_error *err) {
    int got_rank = 0;
    int64_t dims[ELMO_MAX_RANK] = {0};
    int found = src->find(src, name, &got_rank, dims, err);
    if (found < 0) return -found;
    char got[96], expected[96];
    format_shape(expected, sizeof expected, rank, want);
    if (!found)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "softmax weights '%s' have no dataset '%s' (expected float32 %s); give "
                         "the softmax weights file of this model (the published "
                         "*_softmax_weights.hdf5)",
                         src->path, name, expected);
    int same = got_rank == rank;
    for (int i = 0; same && i < rank; i++) same = dims[i] == want[i];
    if (same) return ELMO_OK;
    format_shape(got, sizeof got, got_rank, dims);
    return elmo_fail(err, ELMO_ERR_FORMAT, "softmax weights '%s': dataset '%s' has shape %s; %s",
                     src->path, name, got, what);
}

/* Checks W against the model and the vocabulary (V from W's first dimension). */
static int check_w(elmo_tensor_source *src, const elmo_vocab *vocab, int64_t P, const char *label,
                   int64_t *V, elmo_error *err) {
    int rank = 0;
    int64_t dims[ELMO_MAX_RANK] = {0};
    int found = src->find(src, ELMO_HEAD_W, &rank, dims, err);
    if (found < 0) return -found;
    if (found && rank == 2 && dims[1] == P && dims[0] != vocab->n)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "softmax weights '%s': %s has %lld rows but %s has %lld tokens (row v "
                         "is line v); give the vocabulary that belongs to these weights",
                         src->path, ELMO_HEAD_W, (long long)dims[0], label, (long long)vocab->n);
    char what[200];
    snprintf(what, sizeof what,
             "expected [%lld, %lld]: one row per vocabulary token, and the model's "
             "projection_dim (%lld) columns",
             (long long)vocab->n, (long long)P, (long long)P);
    *V = vocab->n;
    return find_tensor(src, ELMO_HEAD_W, 2, (int64_t[]){vocab->n, P}, what, err);
}

/* 1 when x [n] holds a NaN or an infinity (branch-free: vectorizes). */
static int any_non_finite(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

/* The first non-finite value of x [rows, cols] (rows counted from row0), as an error. */
static int check_finite(const elmo_tensor_source *src, const char *name, const float *x,
                        int64_t row0, int64_t rows, int64_t cols, elmo_error *err) {
    size_t n = (size_t)(rows * cols);
    if (!any_non_finite(x, n)) return ELMO_OK;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(x[i])) continue;
        if (cols == 1 && rows > 1)
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "softmax weights '%s': %s holds %s at index %lld; the head's "
                             "weights must be finite (the file is corrupted)",
                             src->path, name, isnan(x[i]) ? "NaN" : "an infinity",
                             (long long)(row0 + (int64_t)i));
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "softmax weights '%s': %s holds %s at row %lld, column %lld; the "
                         "head's weights must be finite (the file is corrupted)",
                         src->path, name, isnan(x[i]) ? "NaN" : "an infinity",
                         (long long)(row0 + (int64_t)i / cols), (long long)((int64_t)i % cols));
    }
    return ELMO_OK;
}

/* out [cols, rows] = in [rows, cols]^T, 16 rows at a time: 16 sequential read streams,
 * and each column's 16 values written as one cache line. */
static void transpose(const float *restrict in, int64_t rows, int64_t cols, float *restrict out) {
    int64_t r0 = 0;
    for (; r0 + 16 <= rows; r0 += 16)
        for (int64_t c = 0; c < cols; c++)
            for (int64_t i = 0; i < 16; i++) out[c * rows + r0 + i] = in[(r0 + i) * cols + c];
    for (; r0 < rows; r0++)
        for (int64_t c = 0; c < cols; c++) out[c * rows + r0] = in[r0 * cols + c];
}

void elmo_lm_head_free(elmo_lm_head *h) {
    if (!h) return;
    for (int64_t j = 0; h->blocks && j < h->n_blocks; j++) elmo_packed_free(&h->blocks[j]);
    free(h->blocks);
    elmo_big_free(h->bias);
    elmo_vocab_free(&h->vocab);
    free(h);
}

/* Packing, parallel over the blocks of a group: each worker transposes a block of rows
 * [nb, P] into its own [P, nb] and packs it. */
typedef struct pack_job {
    elmo_lm_head *h;
    int precision;
    int64_t first;     /* the group's first block */
    const float *rows; /* [group blocks, BLOCK, P] the group's rows */
    float **cols;      /* [workers] -> [P, BLOCK] */
    int *rc;           /* [group blocks] elmo_pack's result */
    uint64_t *hash;    /* [n_blocks] each block's rows, hashed (for the fingerprint) */
} pack_job;

static void pack_task(void *ctx, size_t task, int worker) {
    pack_job *p = ctx;
    int64_t j = p->first + (int64_t)task, nb = elmo_lm_head_block_cols(p->h, j);
    const float *rows = p->rows + (size_t)task * ELMO_HEAD_BLOCK * (size_t)p->h->P;
    if (any_non_finite(rows, (size_t)(nb * p->h->P))) {
        p->rc[task] = -1; /* the caller finds the value and says where */
        return;
    }
    elmo_hasher hs = {(uint64_t)j};
    elmo_hash_fold(&hs, rows, (size_t)(nb * p->h->P) * sizeof(float));
    p->hash[j] = hs.h;
    transpose(rows, nb, p->h->P, p->cols[worker]);
    p->rc[task] =
        elmo_pack(p->cols[worker], (size_t)nb, p->h->P, nb, p->precision, &p->h->blocks[j]);
}

/* Reads the rows of blocks [first, first + n) into rows [n, BLOCK, P] (or points into
 * `whole`, W [V, P], when the source reads whole tensors only). */
static int read_group(elmo_tensor_source *src, elmo_lm_head *h, const float *whole, int64_t first,
                      int64_t n, float *rows, const float **out, elmo_error *err) {
    int64_t row0 = first * ELMO_HEAD_BLOCK, count = 0;
    for (int64_t j = first; j < first + n; j++) count += elmo_lm_head_block_cols(h, j);
    *out = whole ? whole + row0 * h->P : rows;
    return whole ? ELMO_OK : src->read_rows(src, ELMO_HEAD_W, row0, count, rows, err);
}

/* Reads, checks and packs every block of W, GROUP blocks at a time (reading is serial:
 * libhdf5 is not thread-safe; transposing and packing run on the threads). `whole` is W
 * [V, P] when the source cannot read rows (else NULL). */
static int pack_blocks(elmo_tensor_source *src, elmo_lm_head *h, int precision, const float *whole,
                       elmo_error *err) {
    int workers = elmo_resolve_threads(0);
    int64_t group = 2 * (int64_t)workers < 16 ? 2 * (int64_t)workers : 16;
    size_t block_floats = (size_t)ELMO_HEAD_BLOCK * (size_t)h->P;
    pack_job p = {.h = h, .precision = precision};
    float *rows = whole ? NULL : elmo_big_alloc((size_t)group * block_floats * sizeof *rows);
    p.cols = calloc((size_t)workers, sizeof *p.cols);
    p.rc = calloc((size_t)group, sizeof *p.rc);
    p.hash = calloc((size_t)h->n_blocks, sizeof *p.hash);
    int rc = (!whole && !rows) || !p.cols || !p.rc || !p.hash;
    for (int w = 0; !rc && w < workers; w++)
        rc = !(p.cols[w] = elmo_big_alloc(block_floats * sizeof(float)));
    if (rc) rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    int packed = ELMO_OK; /* elmo_pack's first failure */
    for (int64_t first = 0; !rc && !packed && first < h->n_blocks; first += group) {
        int64_t n = h->n_blocks - first < group ? h->n_blocks - first : group;
        if ((rc = read_group(src, h, whole, first, n, rows, &p.rows, err))) break;
        p.first = first;
        elmo_parallel(workers, (size_t)n, pack_task, &p, NULL);
        for (int64_t t = 0; !packed && t < n; t++) {
            packed = p.rc[t];
            h->bytes += (int64_t)h->blocks[first + t].bytes;
        }
        if (packed < 0) /* a non-finite value in the group: which one */
            rc = check_finite(src, ELMO_HEAD_W, p.rows, first * ELMO_HEAD_BLOCK,
                              (n - 1) * ELMO_HEAD_BLOCK + elmo_lm_head_block_cols(h, first + n - 1),
                              h->P, err);
    }
    char size[32];
    if (packed < 0) {
        /* rc is check_finite's error */
    } else if (packed == ELMO_ERR_NOMEM) {
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory packing the softmax head of '%s' (%s)",
                       src->path,
                       elmo_bytes_text((double)h->V * (double)h->P * 4, size, sizeof size));
    } else if (packed) {
        rc = elmo_fail(err, packed, "cannot pack the softmax head of '%s'", src->path);
    }
    if (!rc) { /* the blocks' hashes in block order, after the words and b */
        elmo_hasher hs = {0x5eed5011ull ^ (uint64_t)precision};
        elmo_hash_fold(&hs, h->vocab.text, h->vocab.start[h->vocab.n]);
        elmo_hash_fold(&hs, h->bias, (size_t)h->V * sizeof *h->bias);
        elmo_hash_fold(&hs, p.hash, (size_t)h->n_blocks * sizeof *p.hash);
        h->fingerprint = hs.h;
    }
    for (int w = 0; p.cols && w < workers; w++) elmo_big_free(p.cols[w]);
    free(p.cols);
    free(p.rc);
    free(p.hash);
    elmo_big_free(rows);
    return rc;
}

static int load(elmo_tensor_source *src, elmo_lm_head *h, const char *vocab_label, int precision,
                elmo_error *err) {
    char what[160], size[32];
    int rc = check_w(src, &h->vocab, h->P, vocab_label, &h->V, err);
    snprintf(what, sizeof what, "expected [%lld]: one bias per row of %s", (long long)h->V,
             ELMO_HEAD_W);
    if (!rc) rc = find_tensor(src, ELMO_HEAD_B, 1, (int64_t[]){h->V}, what, err);
    if (rc) return rc;
    h->n_blocks = (h->V + ELMO_HEAD_BLOCK - 1) / ELMO_HEAD_BLOCK;
    h->blocks = calloc((size_t)h->n_blocks, sizeof *h->blocks);
    h->bias = elmo_big_alloc((size_t)h->V * sizeof *h->bias); /* [V] */
    if (!h->blocks || !h->bias) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    if ((rc = src->read(src, ELMO_HEAD_B, h->bias, (size_t)h->V, err)) ||
        (rc = check_finite(src, ELMO_HEAD_B, h->bias, 0, h->V, 1, err)))
        return rc;
    h->bytes = h->V * (int64_t)sizeof *h->bias + h->vocab.bytes;
    float *whole = NULL; /* [V, P], only for sources that read whole tensors */
    if (!src->read_rows) {
        whole = elmo_big_alloc((size_t)h->V * (size_t)h->P * sizeof *whole);
        if (!whole)
            return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading %s of '%s' (%s)",
                             ELMO_HEAD_W, src->path,
                             elmo_bytes_text((double)h->V * (double)h->P * 4, size, sizeof size));
        rc = src->read(src, ELMO_HEAD_W, whole, (size_t)h->V * (size_t)h->P, err);
    }
    if (!rc) rc = pack_blocks(src, h, precision, whole, err);
    elmo_big_free(whole);
    return rc;
}

int elmo_lm_head_load(elmo_tensor_source *src, elmo_vocab *vocab, const char *vocab_label,
                      int64_t P, int precision, elmo_lm_head **out, elmo_error *err) {
    *out = NULL;
    elmo_lm_head *h = calloc(1, sizeof *h);
    if (!h) {
        elmo_vocab_free(vocab);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    }
    h->vocab = *vocab;
    memset(vocab, 0, sizeof *vocab);
    h->P = P;
    int rc = load(src, h, vocab_label, precision, err);
    if (rc) {
        elmo_lm_head_free(h);
        return rc;
    }
    *out = h;
    return ELMO_OK;
}
