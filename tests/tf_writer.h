/* tf_writer.h - a test-side writer of TensorFlow V2 checkpoints (tensor bundles), written
 * from the format's description: PREFIX.index is a LevelDB table (uncompressed blocks of
 * prefix-compressed entries with restart points, each block followed by a type byte and a
 * masked crc32c, an index block, a 48-byte footer) whose key "" holds BundleHeaderProto
 * and whose other keys hold BundleEntryProto; PREFIX.data-0000S-of-0000N hold the bytes.
 * Symbols are prefixed tfw_ (every non-test_ file in tests/ is linked into every test). */
#ifndef ELMO_TEST_TF_WRITER_H
#define ELMO_TEST_TF_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tfw_tensor {
    const char *name;
    int dtype; /* 1 float32, 14 bfloat16, or any value for error tests */
    int rank;
    int64_t dims[4];
    const void *data; /* raw little-endian bytes */
    size_t bytes;
    int sliced; /* 1: add a `slices` field (partitioned variable) */
} tfw_tensor;

typedef struct tfw_options {
    int n_shards;      /* tensors go round-robin into this many data files (>= 1) */
    int block_entries; /* entries per data block (>= 1) */
    int block_type;    /* the trailer's compression byte (0; 1 = snappy) */
    int no_restarts;   /* 1: data blocks end without restart points (num_restarts 0) */
} tfw_options;

/* Writes PREFIX.index and its data files (tensors sorted by name first). 0 on success. */
int tfw_write(const char *prefix, const tfw_tensor *t, int n, const tfw_options *opt);

/* An AllenNLP tensor name as the TF-Hub module names it ("bilm/...", the LSTM cells'
 * ".../rnn/lstm_cell/{kernel,bias,projection/kernel}"). */
void tfw_hub_name(const char *in, char *out, size_t cap);

/* An AllenNLP tensor name as a bilm-tf training checkpoint names it (the inverse of
 * dump_weights' renaming): "lm/" + name, LSTM cells as .../rnn/multi_rnn_cell/cell_L/
 * lstm_cell/{kernel,bias,projection/kernel}; "softmax/W" becomes "lm/softmax/W". */
void tfw_bilm_tf_name(const char *in, char *out, size_t cap);

#endif
