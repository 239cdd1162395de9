/* tf_index.c - the .index file of a TensorFlow V2 checkpoint: a LevelDB table (uncompressed
 * blocks of prefix-compressed key/value entries, each block followed by a type byte and a
 * masked crc32c; a 48-byte footer with the index block's handle and a magic number) whose
 * values are BundleHeaderProto (key "") and BundleEntryProto (the variables), decoded
 * here by a small protobuf reader. Nothing is trusted: every varint, length and offset is
 * checked against the bytes it lives in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "error.h"
#include "tf_checkpoint.h"

#define FOOTER_BYTES 48
#define MAX_KEY 1024
#define MAX_ENTRIES 100000
#define MAX_DIM ((int64_t)1 << 40)

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

/* A little-endian base-128 varint of at most `max_bytes` bytes. */
static int get_varint(cursor *c, int max_bytes, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes && c->p < c->end; i++) {
        unsigned char b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int corrupt(const char *path, elmo_error *err, const char *what) {
    return elmo_fail(err, ELMO_ERR_FORMAT,
                     "checkpoint index '%s': %s (the file is truncated or corrupted)", path, what);
}

/* ---- protobuf ------------------------------------------------------------------------ */

/* One field: its number, wire type and value (varint / fixed) or bytes (length-delimited). */
typedef struct pb_field {
    uint32_t number;
    int wire;
    uint64_t v;
    cursor bytes;
} pb_field;

/* 1 with the next field, 0 at the end, -1 on malformed input. */
static int pb_next(cursor *c, pb_field *f) {
    if (c->p >= c->end) return 0;
    uint64_t tag;
    if (!get_varint(c, 10, &tag) || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return -1;
    f->number = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    switch (f->wire) {
    case 0: return get_varint(c, 10, &f->v) ? 1 : -1;
    case 1:
        if (c->end - c->p < 8) return -1;
        f->v = (uint64_t)le32(c->p) | (uint64_t)le32(c->p + 4) << 32;
        c->p += 8;
        return 1;
    case 5:
        if (c->end - c->p < 4) return -1;
        f->v = le32(c->p);
        c->p += 4;
        return 1;
    case 2: {
        uint64_t n;
        if (!get_varint(c, 10, &n) || n > (uint64_t)(c->end - c->p)) return -1;
        f->bytes = (cursor){c->p, c->p + n};
        c->p += n;
        return 1;
    }
    default: return -1;
    }
}

static int parse_shape(cursor c, elmo_tf_entry *e) {
    pb_field f = {0};
    int r;
    while ((r = pb_next(&c, &f)) > 0) {
        if (f.number == 3 && f.wire == 0 && f.v) return 0; /* unknown rank */
        if (f.number != 2) continue;
        if (f.wire != 2 || e->rank >= ELMO_MAX_RANK) return 0;
        int64_t size = -1;
        pb_field d = {0};
        int rd;
        while ((rd = pb_next(&f.bytes, &d)) > 0)
            if (d.number == 1 && d.wire == 0) size = (int64_t)d.v;
        if (rd < 0 || size < 0 || size > MAX_DIM) return 0;
        e->dims[e->rank++] = size;
    }
    return r == 0;
}

/* Decodes a BundleEntryProto; `why` says what was wrong. */
static int parse_entry(cursor c, elmo_tf_entry *e, const char **why) {
    pb_field f = {0};
    int r, have_crc = 0;
    e->dtype = 0;
    *why = "has a malformed entry";
    while ((r = pb_next(&c, &f)) > 0) {
        switch (f.number) {
        case 1:
            if (f.wire != 0) return 0;
            e->dtype = (int)(f.v > 1000 ? 1000 : f.v);
            break;
        case 2:
            if (f.wire != 2 || !parse_shape(f.bytes, e)) {
                *why = "has a shape with an unknown rank, a negative or huge dimension, or "
                       "more than 8 dimensions";
                return 0;
            }
            break;
        case 3:
            if (f.wire != 0 || f.v > 99999) return 0;
            e->shard = (int)f.v;
            break;
        case 4:
            if (f.wire != 0) return 0;
            e->offset = f.v;
            break;
        case 5:
            if (f.wire != 0) return 0;
            e->size = f.v;
            break;
        case 6:
            if (f.wire != 5) return 0;
            e->masked_crc = (uint32_t)f.v;
            have_crc = 1;
            break;
        case 7:
            *why = "is stored in slices (a partitioned variable), which is not supported";
            return 0;
        default: break;
        }
    }
    if (r < 0) return 0;
    if (!have_crc) {
        *why = "has no checksum";
        return 0;
    }
    return 1;
}

static int parse_header(cursor c, elmo_tf_index *ix) {
    pb_field f = {0};
    int r;
    ix->num_shards = 1;
    while ((r = pb_next(&c, &f)) > 0) {
        if (f.number == 1 && f.wire == 0) {
            if (f.v < 1 || f.v > 99999) return 0;
            ix->num_shards = (int)f.v;
        } else if (f.number == 2 && f.wire == 0 && f.v != 0) {
            return -1; /* big-endian bundle */
        }
    }
    return r == 0;
}

/* ---- LevelDB table ---------------------------------------------------------------------- */

typedef struct table {
    const unsigned char *buf;
    size_t len;
    const char *path;
    elmo_error *err;
} table;

/* The contents of the block at handle (offset, size), after checking its trailer. */
static int read_block(const table *t, uint64_t off, uint64_t size, cursor *out) {
    if (off > t->len || size > t->len - off || t->len - off - size < 5)
        return corrupt(t->path, t->err, "a block lies outside the file");
    const unsigned char *b = t->buf + off;
    unsigned char type = b[size];
    if (type == 1)
        return elmo_fail(t->err, ELMO_ERR_FORMAT,
                         "checkpoint index '%s' has snappy-compressed blocks, which are not "
                         "supported; TensorFlow writes checkpoints uncompressed, so re-save it "
                         "with tf.train.Checkpoint or tf.compat.v1.train.Saver",
                         t->path);
    if (type != 0) return corrupt(t->path, t->err, "a block has an unknown compression type");
    uint32_t crc = elmo_crc32c(elmo_crc32c(0, b, (size_t)size), &type, 1);
    if (elmo_crc32c_mask(crc) != le32(b + size + 1))
        return corrupt(t->path, t->err, "a block's checksum does not match its contents");
    *out = (cursor){b, b + size};
    return ELMO_OK;
}

typedef int (*entry_fn)(void *ctx, const unsigned char *key, size_t key_len, cursor value);

/* Calls fn for every entry of a block, rebuilding the prefix-compressed keys. The restart
 * array must be what LevelDB's writer makes and its reader relies on: at least one point,
 * the first at offset 0, each at the start of an entry whose key is stored whole (shared
 * 0), in increasing order. LevelDB reads a block without restart points as empty and
 * seeks (as TensorFlow's bundle reader does) by bisecting the points, so a block that
 * breaks these rules would hold other entries for TensorFlow than for this reader. */
static int each_entry(const table *t, cursor blk, entry_fn fn, void *ctx) {
    size_t size = (size_t)(blk.end - blk.p);
    if (size < 4) return corrupt(t->path, t->err, "a block is too short");
    uint32_t n_restarts = le32(blk.end - 4);
    if (n_restarts == 0) return corrupt(t->path, t->err, "a block has no restart points");
    if (n_restarts > (size - 4) / 4)
        return corrupt(t->path, t->err, "a block's restart array is too long");
    const unsigned char *restarts = blk.end - 4 - 4 * (size_t)n_restarts;
    cursor c = {blk.p, restarts};
    uint32_t next_restart = 0; /* index of the next restart point to meet */
    unsigned char key[MAX_KEY];
    size_t key_len = 0;
    while (c.p < c.end) {
        uint64_t shared, non_shared, value_len;
        size_t at = (size_t)(c.p - blk.p);
        int is_restart = next_restart < n_restarts && le32(restarts + 4 * next_restart) == at;
        if (next_restart < n_restarts && le32(restarts + 4 * next_restart) < at)
            return corrupt(t->path, t->err, "a block's restart point is not at an entry");
        if (!get_varint(&c, 5, &shared) || !get_varint(&c, 5, &non_shared) ||
            !get_varint(&c, 5, &value_len) || shared > key_len ||
            non_shared > (uint64_t)(c.end - c.p) ||
            value_len > (uint64_t)(c.end - c.p) - non_shared)
            return corrupt(t->path, t->err, "a block entry runs past its block");
        if (at == 0 && !is_restart)
            return corrupt(t->path, t->err, "a block's first restart point is not at offset 0");
        if (is_restart && shared != 0)
            return corrupt(t->path, t->err,
                           "a block's restart point is at an entry that shares its key's prefix");
        next_restart += (uint32_t)is_restart;
        if (shared + non_shared > MAX_KEY)
            return corrupt(t->path, t->err, "a key is longer than 1024 bytes");
        memcpy(key + shared, c.p, (size_t)non_shared);
        key_len = (size_t)(shared + non_shared);
        c.p += non_shared;
        cursor value = {c.p, c.p + value_len};
        c.p += value_len;
        int rc = fn(ctx, key, key_len, value);
        if (rc) return rc;
    }
    /* An empty block has the one point at offset 0 (LevelDB's writer makes it so). */
    int empty_ok = restarts == blk.p && n_restarts == 1 && le32(restarts) == 0;
    if (next_restart != n_restarts && !empty_ok)
        return corrupt(t->path, t->err, "a block's restart point is not at an entry");
    return ELMO_OK;
}

typedef struct collect {
    const table *t;
    elmo_tf_index *ix;
    int cap; /* entries allocated in ix->e */
    int have_header;
    unsigned char last[MAX_KEY];
    size_t last_len;
    int any;
} collect;

/* Keys must strictly increase, which also rules out duplicates. */
static int key_order(collect *c, const unsigned char *key, size_t len) {
    if (c->any) {
        size_t m = len < c->last_len ? len : c->last_len;
        int cmp = memcmp(c->last, key, m);
        if (cmp > 0 || (cmp == 0 && c->last_len >= len))
            return elmo_fail(c->t->err, ELMO_ERR_FORMAT,
                             "checkpoint index '%s': tensor '%.*s' is out of order or appears "
                             "twice (the file is corrupted)",
                             c->t->path, (int)len, (const char *)key);
    }
    memcpy(c->last, key, len);
    c->last_len = len;
    c->any = 1;
    return ELMO_OK;
}

static int on_data_entry(void *ctx, const unsigned char *key, size_t len, cursor value) {
    collect *c = ctx;
    int rc = key_order(c, key, len);
    if (rc) return rc;
    if (len == 0) {
        int r = parse_header(value, c->ix);
        if (r < 0)
            return elmo_fail(c->t->err, ELMO_ERR_FORMAT,
                             "checkpoint index '%s' is big-endian, which is not supported",
                             c->t->path);
        if (!r) return corrupt(c->t->path, c->t->err, "the bundle header is malformed");
        c->have_header = 1;
        return ELMO_OK;
    }
    if (memchr(key, '\0', len))
        return corrupt(c->t->path, c->t->err, "a tensor name holds a NUL byte");
    if (c->ix->n >= MAX_ENTRIES)
        return corrupt(c->t->path, c->t->err, "it lists over 100000 tensors");
    if (c->ix->n == c->cap) { /* doubling: linear in the number of entries */
        int cap = c->cap ? 2 * c->cap : 16;
        elmo_tf_entry *grown = realloc(c->ix->e, (size_t)cap * sizeof *grown);
        if (!grown) return elmo_fail(c->t->err, ELMO_ERR_NOMEM, "out of memory");
        c->ix->e = grown;
        c->cap = cap;
    }
    elmo_tf_entry *e = &c->ix->e[c->ix->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = malloc(len + 1))) return elmo_fail(c->t->err, ELMO_ERR_NOMEM, "out of memory");
    memcpy(e->name, key, len);
    e->name[len] = '\0';
    c->ix->n++;
    const char *why;
    if (!parse_entry(value, e, &why))
        return elmo_fail(c->t->err, ELMO_ERR_FORMAT, "checkpoint index '%s': tensor '%s' %s",
                         c->t->path, e->name, why);
    return ELMO_OK;
}

static int on_index_entry(void *ctx, const unsigned char *key, size_t len, cursor value) {
    (void)key;
    (void)len;
    collect *c = ctx;
    uint64_t off, size;
    if (!get_varint(&value, 10, &off) || !get_varint(&value, 10, &size))
        return corrupt(c->t->path, c->t->err, "the index block holds a malformed block handle");
    cursor blk;
    int rc = read_block(c->t, off, size, &blk);
    return rc ? rc : each_entry(c->t, blk, on_data_entry, c);
}

void elmo_tf_index_free(elmo_tf_index *ix) {
    if (!ix) return;
    for (int i = 0; i < ix->n; i++) free(ix->e[i].name);
    free(ix->e);
    memset(ix, 0, sizeof *ix);
}

int elmo_tf_index_parse(const unsigned char *buf, size_t len, const char *path, elmo_tf_index *out,
                        elmo_error *err) {
    memset(out, 0, sizeof *out);
    table t = {buf, len, path, err};
    if (len < FOOTER_BYTES) return corrupt(path, err, "it is shorter than the 48-byte footer");
    const unsigned char *foot = buf + len - FOOTER_BYTES;
    uint64_t magic = (uint64_t)le32(foot + 40) | (uint64_t)le32(foot + 44) << 32;
    if (magic != ELMO_TF_TABLE_MAGIC)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "checkpoint index '%s' does not end with the table magic number (it "
                         "is truncated or not a TensorFlow checkpoint index)",
                         path);
    cursor fc = {foot, foot + 40};
    uint64_t meta_off, meta_size, index_off, index_size;
    if (!get_varint(&fc, 10, &meta_off) || !get_varint(&fc, 10, &meta_size) ||
        !get_varint(&fc, 10, &index_off) || !get_varint(&fc, 10, &index_size))
        return corrupt(path, err, "the footer's block handles are malformed");
    for (const unsigned char *p = fc.p; p < foot + 40; p++)
        if (*p) return corrupt(path, err, "the footer's padding is not zero");
    cursor index, meta;
    int rc = read_block(&t, meta_off, meta_size, &meta); /* unused, but checksummed */
    if (!rc) rc = read_block(&t, index_off, index_size, &index);
    collect c = {.t = &t, .ix = out};
    if (!rc) rc = each_entry(&t, index, on_index_entry, &c);
    if (!rc && !c.have_header) rc = corrupt(path, err, "it has no bundle header (key \"\")");
    for (int i = 0; !rc && i < out->n; i++) {
        elmo_tf_entry *e = &out->e[i];
        if (e->shard >= out->num_shards)
            rc = elmo_fail(err, ELMO_ERR_FORMAT,
                           "checkpoint index '%s': tensor '%s' is in shard %d of %d (the file "
                           "is corrupted)",
                           path, e->name, e->shard, out->num_shards);
    }
    if (rc) elmo_tf_index_free(out);
    return rc;
}
