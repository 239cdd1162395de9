/* tf_checkpoint.h - TensorFlow V2 checkpoints ("tensor bundles"): PREFIX.index, a LevelDB
 * table mapping each variable name to where its bytes are, and the data shards
 * PREFIX.data-0000S-of-0000N holding raw row-major little-endian tensors. Read without
 * TensorFlow; every length, bound and checksum is verified. */
#ifndef ELMO_CORE_TF_CHECKPOINT_H
#define ELMO_CORE_TF_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "tensor_source.h"

#define ELMO_TF_DT_FLOAT 1
#define ELMO_TF_DT_BFLOAT16 14
#define ELMO_TF_INDEX_MAX ((size_t)64 << 20) /* a checkpoint index is kilobytes */
#define ELMO_TF_TABLE_MAGIC 0xdb4775248b80fb57ull

/* One variable of the bundle. */
typedef struct elmo_tf_entry {
    char *name;
    int dtype; /* ELMO_TF_DT_FLOAT or ELMO_TF_DT_BFLOAT16 */
    int rank;
    int64_t dims[ELMO_MAX_RANK];
    int shard;
    uint64_t offset, size; /* bytes in the shard file */
    uint32_t masked_crc;   /* masked crc32c of those bytes */
} elmo_tf_entry;

typedef struct elmo_tf_index {
    elmo_tf_entry *e; /* [n], in key order */
    int n;
    int num_shards;
} elmo_tf_index;

/* Parses the bytes of an .index file (`path` only for messages). */
int elmo_tf_index_parse(const unsigned char *buf, size_t len, const char *path, elmo_tf_index *out,
                        elmo_error *err);
void elmo_tf_index_free(elmo_tf_index *ix);

/* 1 when the file's last 8 bytes are the LevelDB table magic. */
int elmo_tf_is_index_file(const char *path);

/*
 * Opens the checkpoint PREFIX (PREFIX.index + shards) as a source of AllenNLP-named
 * tensors. Names are mapped as bilm-tf's dump_weights does ("lm/..." training
 * checkpoints) or from the TF-Hub module's names ("bilm/..."); optimizer slots, softmax
 * weights and LSTM states are skipped, any other name is an error (the source's format
 * is "tf-checkpoint" or "tf-hub"). When options_json is not NULL
 * and the names are TF-Hub's, it receives (malloc'd) the options derived from the tensor
 * shapes; it stays NULL for bilm-tf training checkpoints, whose options.json is needed.
 */
int elmo_tf_source_open(const char *prefix, elmo_tensor_source **out, char **options_json,
                        elmo_error *err);

#endif
