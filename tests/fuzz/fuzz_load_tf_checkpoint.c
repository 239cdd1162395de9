/* fuzz_load_tf_checkpoint.c - libFuzzer target: a TensorFlow checkpoint through the whole
 * loader (tf_index.c's LevelDB table and protobuf entries, tf_source.c's name mapping,
 * shard reads and crc32c checks, the options derived from a TF-Hub module's shapes, the
 * weights' checks), and a run when it loads. Must never crash, hang or read out of bounds;
 * failures must come with a message.
 *
 * The input is a checkpoint in one piece: a 4-byte little-endian length N, N bytes of
 * PREFIX.index, then the bytes of PREFIX.data-00000-of-00001. They are written to a private
 * directory next to an options.json (for bilm-tf "lm/..." checkpoints, which do not hold
 * their options) and loaded as PREFIX.
 *
 * Structure-aware mutation (LLVMFuzzerCustomMutator): after libFuzzer's own mutation every
 * checksum is recomputed - each tensor's crc32c in its index entry (where the entry points
 * inside the data file) and each block's trailer - so that mutated offsets, shapes, dtypes
 * and values get past the checksums into the parsers and checks behind them.
 *
 * Built and run by `make fuzz` / `make fuzz-ci` (tests/fuzz/run.sh); seeds in
 * corpus/load_tf_checkpoint/ (see tests/fuzz/README.md). */
#include <string.h>

#include "crc32c.h"
#include "fuzz_model.h"

/* The options of the seeds' shape (bilm-tf checkpoints read them from options.json). */
static const char options_json[] =
    "{\"lstm\": {\"use_skip_connections\": true, \"projection_dim\": 4, \"cell_clip\": 3, "
    "\"proj_clip\": 3, \"dim\": 8, \"n_layers\": 1}, \"char_cnn\": {\"activation\": \"relu\", "
    "\"filters\": [[1, 2], [2, 2]], \"n_highway\": 1, \"embedding\": {\"dim\": 2}, "
    "\"n_characters\": 262, \"max_characters_per_token\": 50}}";

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* ---- reading the structure back, leniently ----------------------------------------------- */

typedef struct span {
    uint8_t *p;
    size_t n;
} span;

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A varint at *at (< end); 0 when malformed. */
static int varint(const uint8_t **at, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *at < end; shift += 7) {
        uint8_t b = *(*at)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* The block at handle (off, size) of the index file, when it and its trailer fit. */
static int block_at(span file, uint64_t off, uint64_t size, span *out) {
    if (off > file.n || size > file.n - off || file.n - off - size < 5) return 0;
    *out = (span){file.p + off, (size_t)size};
    return 1;
}

/* Rewrites the block's trailer checksum (masked crc32c of the contents and type byte). */
static void fix_block_crc(span b) {
    uint32_t crc = elmo_crc32c(elmo_crc32c(0, b.p, b.n), b.p + b.n, 1);
    put_le32(b.p + b.n + 1, elmo_crc32c_mask(crc));
}

typedef void (*value_fn)(uint8_t *value, size_t n, void *ctx);

/* Calls fn for each entry's value of a block (entries up to the restart array). */
static void each_value(span b, value_fn fn, void *ctx) {
    if (b.n < 4) return;
    uint32_t restarts = le32(b.p + b.n - 4);
    if (restarts > (b.n - 4) / 4) return;
    const uint8_t *at = b.p, *end = b.p + b.n - 4 - 4 * (size_t)restarts;
    while (at < end) {
        uint64_t shared, key, value;
        if (!varint(&at, end, &shared) || !varint(&at, end, &key) || !varint(&at, end, &value) ||
            key > (uint64_t)(end - at) || value > (uint64_t)(end - at) - key)
            return;
        at += key;
        fn((uint8_t *)at, (size_t)value, ctx);
        at += value;
    }
}

/* A BundleEntryProto: points its crc32c (field 6, fixed32) at the data it names. */
static void fix_entry(uint8_t *value, size_t n, void *ctx) {
    const span *shard = ctx;
    const uint8_t *at = value, *end = value + n;
    uint64_t shard_no = 0, offset = 0, size = 0;
    uint8_t *crc = NULL;
    while (at < end) {
        uint64_t tag, v;
        if (!varint(&at, end, &tag)) return;
        int wire = (int)(tag & 7), field = (int)(tag >> 3);
        if (wire == 0) {
            if (!varint(&at, end, &v)) return;
            if (field == 3) shard_no = v;
            if (field == 4) offset = v;
            if (field == 5) size = v;
        } else if (wire == 5 || wire == 1) {
            size_t w = wire == 5 ? 4 : 8;
            if ((size_t)(end - at) < w) return;
            if (field == 6 && wire == 5) crc = (uint8_t *)at;
            at += w;
        } else if (wire == 2) {
            if (!varint(&at, end, &v) || v > (uint64_t)(end - at)) return;
            at += v;
        } else {
            return;
        }
    }
    if (!crc || shard_no != 0 || offset > shard->n || size > shard->n - offset) return;
    put_le32(crc, elmo_crc32c_mask(elmo_crc32c(0, shard->p + offset, (size_t)size)));
}

typedef struct fix_ctx {
    span file, shard;
} fix_ctx;

/* An index block entry: a data block handle; fixes the block's entries, then its trailer. */
static void fix_data_block(uint8_t *value, size_t n, void *ctx) {
    fix_ctx *c = ctx;
    const uint8_t *at = value;
    uint64_t off, size;
    span b;
    if (!varint(&at, value + n, &off) || !varint(&at, value + n, &size) ||
        !block_at(c->file, off, size, &b))
        return;
    each_value(b, fix_entry, &c->shard);
    fix_block_crc(b);
}

/* Recomputes every checksum of the framed checkpoint in place. */
static void fix_checksums(uint8_t *data, size_t size) {
    if (size < 4) return;
    size_t n = le32(data);
    if (n > size - 4 || n < 48) return;
    fix_ctx c = {{data + 4, n}, {data + 4 + n, size - 4 - n}};
    const uint8_t *at = c.file.p + n - 48, *end = at + 40;
    uint64_t meta_off, meta_size, index_off, index_size;
    span meta, index;
    if (!varint(&at, end, &meta_off) || !varint(&at, end, &meta_size) ||
        !varint(&at, end, &index_off) || !varint(&at, end, &index_size))
        return;
    if (block_at(c.file, meta_off, meta_size, &meta)) fix_block_crc(meta);
    if (!block_at(c.file, index_off, index_size, &index)) return;
    each_value(index, fix_data_block, &c);
    fix_block_crc(index); /* after the data blocks: an index block may overlap one */
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    (void)seed;
    size = LLVMFuzzerMutate(data, size, max_size);
    fix_checksums(data, size);
    return size;
}

/* ---- the target -------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[64], prefix[128], index[160], shard[160];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/elmo_fuzz_tf.XXXXXX");
        if (!mkdtemp(dir)) abort();
        snprintf(prefix, sizeof prefix, "%s/ckpt", dir);
        snprintf(index, sizeof index, "%s.index", prefix);
        snprintf(shard, sizeof shard, "%s.data-00000-of-00001", prefix);
        char options[128];
        snprintf(options, sizeof options, "%s/options.json", dir);
        if (fuzz_write_file(options, (const uint8_t *)options_json, strlen(options_json))) abort();
    }
    /* [N][index: N bytes][data file]; a short input is an empty index. */
    size_t body = size >= 4 ? size - 4 : 0, n = size >= 4 ? le32(data) : 0;
    if (n > body) n = body;
    if (fuzz_write_file(index, data + 4 * (size >= 4), n) ||
        fuzz_write_file(shard, data + 4 * (size >= 4) + n, body - n))
        abort();
    fuzz_load_and_run(NULL, prefix, NULL);
    return 0;
}
