/* safetensors.h - the safetensors model file: an 8-byte little-endian header length N,
 * N bytes of JSON {"NAME": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"elmo_options": "<options JSON>"}}, then the tensors' bytes (offsets
 * relative to the end of the header, row-major, little-endian). One file = one model. */
#ifndef ELMO_CORE_SAFETENSORS_H
#define ELMO_CORE_SAFETENSORS_H

#include "tensor_source.h"

#define ELMO_SAFETENSORS_HEADER_MAX ((uint64_t)100 << 20) /* 100 MiB of header JSON */
#define ELMO_SAFETENSORS_OPTIONS_KEY "elmo_options"

/* Maps and validates a safetensors file (every bound checked before use). When
 * options_json is not NULL, the metadata must hold the model's options JSON, returned as a
 * malloc'd string. */
int elmo_safetensors_source_open(const char *path, elmo_tensor_source **out, char **options_json,
                                 elmo_error *err);

/* The metadata key of the vocabulary of a model written with its softmax head. */
#define ELMO_SAFETENSORS_VOCAB_KEY "elmo_vocab"

/* The string stored under `key` in the __metadata__ of a safetensors source: 1 with *value
 * (valid while the source is open), 0 when absent or when src is not a safetensors file. */
int elmo_safetensors_metadata(elmo_tensor_source *src, const char *key, const char **value);

/* One tensor to write: float32 values, row-major. */
typedef struct elmo_tensor_out {
    const char *name;
    int rank;
    int64_t dims[ELMO_MAX_RANK];
    const float *data; /* [prod(dims)] */
} elmo_tensor_out;

/* Writes a safetensors file with the options JSON in the metadata; bf16 != 0 stores every
 * tensor as bfloat16 (rounded to nearest even), else as float32. */
int elmo_safetensors_write(const char *path, const char *options_json,
                           const elmo_tensor_out *tensors, int n, int bf16, elmo_error *err);

/* The same with a softmax head's vocabulary (one token per line) in the metadata, under
 * ELMO_SAFETENSORS_VOCAB_KEY (vocab NULL: none). */
int elmo_safetensors_write_vocab(const char *path, const char *options_json, const char *vocab,
                                 const elmo_tensor_out *tensors, int n, int bf16, elmo_error *err);

#endif
