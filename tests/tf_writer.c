/* tf_writer.c - see tf_writer.h. Uses the library's crc32c (tested against published
 * vectors in test_formats). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "tf_writer.h"

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_varint(buf *b, uint64_t v) {
    unsigned char t[10];
    int n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, t, (size_t)n);
}

static void put_u32(buf *b, uint32_t v) {
    unsigned char t[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, t, 4);
}

static void put_tag(buf *b, int field, int wire) {
    put_varint(b, (uint64_t)(field << 3 | wire));
}

static void put_bytes_field(buf *b, int field, const buf *m) {
    put_tag(b, field, 2);
    put_varint(b, m->n);
    put(b, m->p, m->n);
}

/* A block builder: entries with shared prefixes, a restart every 4 entries. */
typedef struct block {
    buf b;
    uint32_t restarts[4096];
    int n_restarts, count;
    char last[1024];
} block;

static void block_add(block *k, const char *key, const buf *value) {
    size_t shared = 0;
    if (k->count % 4 == 0) {
        k->restarts[k->n_restarts++] = (uint32_t)k->b.n;
    } else {
        while (key[shared] && key[shared] == k->last[shared]) shared++;
    }
    size_t len = strlen(key);
    put_varint(&k->b, shared);
    put_varint(&k->b, len - shared);
    put_varint(&k->b, value->n);
    put(&k->b, key + shared, len - shared);
    put(&k->b, value->p, value->n);
    snprintf(k->last, sizeof k->last, "%s", key);
    k->count++;
}

/* Appends the finished block and its trailer to the file; returns its handle. With
 * no_restarts the block is written without its restart array (a corruption). */
static void block_finish(block *k, buf *file, int type, int no_restarts, uint64_t *off,
                         uint64_t *size) {
    if (k->n_restarts == 0) k->restarts[k->n_restarts++] = 0;
    if (no_restarts) k->n_restarts = 0;
    for (int i = 0; i < k->n_restarts; i++) put_u32(&k->b, k->restarts[i]);
    put_u32(&k->b, (uint32_t)k->n_restarts);
    *off = file->n;
    *size = k->b.n;
    put(file, k->b.p, k->b.n);
    unsigned char t = (unsigned char)type;
    uint32_t crc = elmo_crc32c(elmo_crc32c(0, k->b.p, k->b.n), &t, 1);
    put(file, &t, 1);
    put_u32(file, elmo_crc32c_mask(crc));
    free(k->b.p);
    memset(k, 0, sizeof *k);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const tfw_tensor *)a)->name, ((const tfw_tensor *)b)->name);
}

static void entry_proto(const tfw_tensor *t, int shard, uint64_t offset, buf *e) {
    buf shape = {0};
    for (int d = 0; d < t->rank; d++) {
        buf dim = {0};
        put_tag(&dim, 1, 0);
        put_varint(&dim, (uint64_t)t->dims[d]);
        put_bytes_field(&shape, 2, &dim);
        free(dim.p);
    }
    put_tag(e, 1, 0);
    put_varint(e, (uint64_t)t->dtype);
    put_bytes_field(e, 2, &shape);
    if (shard) {
        put_tag(e, 3, 0);
        put_varint(e, (uint64_t)shard);
    }
    put_tag(e, 4, 0);
    put_varint(e, offset);
    put_tag(e, 5, 0);
    put_varint(e, t->bytes);
    put_tag(e, 6, 5);
    put_u32(e, elmo_crc32c_mask(elmo_crc32c(0, t->data, t->bytes)));
    if (t->sliced) {
        buf slice = {0};
        put_tag(&slice, 1, 2);
        put_varint(&slice, 0);
        put_bytes_field(e, 7, &slice);
        free(slice.p);
    }
    free(shape.p);
}

int tfw_write(const char *prefix, const tfw_tensor *in, int n, const tfw_options *opt) {
    tfw_options o = opt ? *opt : (tfw_options){1, 1000, 0, 0};
    if (o.n_shards < 1) o.n_shards = 1;
    if (o.block_entries < 1) o.block_entries = 1;
    tfw_tensor *t = malloc(sizeof *t * (size_t)(n ? n : 1));
    memcpy(t, in, sizeof *t * (size_t)n);
    qsort(t, (size_t)n, sizeof *t, by_name);
    char path[4096];
    buf shards[16] = {{0}};
    buf file = {0};
    block *data = calloc(1, sizeof *data), *index = calloc(1, sizeof *index);
    /* Header first (key "" sorts before every name). */
    buf header = {0};
    put_tag(&header, 1, 0);
    put_varint(&header, (uint64_t)o.n_shards);
    block_add(data, "", &header);
    free(header.p);
    char last_key[1024] = "";
    for (int i = 0; i < n; i++) {
        int shard = i % o.n_shards;
        buf e = {0};
        entry_proto(&t[i], shard, shards[shard].n, &e);
        put(&shards[shard], t[i].data, t[i].bytes);
        block_add(data, t[i].name, &e);
        snprintf(last_key, sizeof last_key, "%s", t[i].name);
        free(e.p);
        if (data->count >= o.block_entries && i + 1 < n) {
            uint64_t off, size;
            block_finish(data, &file, o.block_type, o.no_restarts, &off, &size);
            buf h = {0};
            put_varint(&h, off);
            put_varint(&h, size);
            block_add(index, last_key, &h);
            free(h.p);
        }
    }
    uint64_t off, size, meta_off, meta_size, index_off, index_size;
    block_finish(data, &file, o.block_type, o.no_restarts, &off, &size);
    buf h = {0};
    put_varint(&h, off);
    put_varint(&h, size);
    block_add(index, last_key, &h);
    free(h.p);
    block meta = {0};
    block_finish(&meta, &file, 0, 0, &meta_off, &meta_size);
    block_finish(index, &file, 0, 0, &index_off, &index_size);
    buf foot = {0};
    put_varint(&foot, meta_off);
    put_varint(&foot, meta_size);
    put_varint(&foot, index_off);
    put_varint(&foot, index_size);
    unsigned char zero[40] = {0};
    put(&foot, zero, 40 - foot.n);
    put_u32(&foot, 0x8b80fb57u);
    put_u32(&foot, 0xdb477524u);
    put(&file, foot.p, foot.n);
    int rc = 0;
    snprintf(path, sizeof path, "%s.index", prefix);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(file.p, 1, file.n, f) != file.n) rc = -1;
    if (f) fclose(f);
    for (int s = 0; s < o.n_shards; s++) {
        snprintf(path, sizeof path, "%s.data-%05d-of-%05d", prefix, s, o.n_shards);
        f = fopen(path, "wb");
        if (!f || (shards[s].n && fwrite(shards[s].p, 1, shards[s].n, f) != shards[s].n)) rc = -1;
        if (f) fclose(f);
        free(shards[s].p);
    }
    free(foot.p);
    free(file.p);
    free(data);
    free(index);
    free(t);
    return rc;
}

/* AllenNLP name -> TF-Hub module variable name. */
void tfw_hub_name(const char *in, char *out, size_t cap) {
    const char *cell = strstr(in, "/LSTMCell/");
    if (strncmp(in, "aggregation/", 12) == 0) snprintf(out, cap, "%s", in);
    else if (cell) {
        const char *leaf = cell + 10;
        snprintf(out, cap, "bilm/%.*s/rnn/lstm_cell/%s", (int)(cell - in), in,
                 strcmp(leaf, "W_0") == 0 ? "kernel"
                 : strcmp(leaf, "B") == 0 ? "bias"
                                          : "projection/kernel");
    } else snprintf(out, cap, "bilm/%s", in);
}

/* AllenNLP name -> bilm-tf training name (the inverse of dump_weights' renaming). */
void tfw_bilm_tf_name(const char *in, char *out, size_t cap) {
    const char *cell = strstr(in, "/RNN/MultiRNNCell/Cell");
    if (!cell) {
        snprintf(out, cap, "lm/%s", in);
        return;
    }
    int layer = atoi(cell + 22);
    const char *leaf = strstr(in, "/LSTMCell/") + 10;
    snprintf(out, cap, "lm/%.*s/rnn/multi_rnn_cell/cell_%d/lstm_cell/%s", (int)(cell - in), in,
             layer,
             strcmp(leaf, "W_0") == 0 ? "kernel"
             : strcmp(leaf, "B") == 0 ? "bias"
                                      : "projection/kernel");
}
