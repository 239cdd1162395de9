/* tensor_source.h - where a model's tensors come from. The loader (weights.c) asks a
 * source for each tensor by its AllenNLP name (e.g. "CNN/W_cnn_0",
 * "RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0") and checks the shape itself, so every file
 * format gets the same validation and the same messages. */
#ifndef ELMO_CORE_TENSOR_SOURCE_H
#define ELMO_CORE_TENSOR_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

#define ELMO_MAX_RANK 8

typedef struct elmo_tensor_source elmo_tensor_source;

struct elmo_tensor_source {
    const char *path;   /* the weights file, for messages */
    const char *format; /* "hdf5", "safetensors", ... */
    int stores_bf16;    /* 1: the file's weights are bfloat16 (AUTO precision -> bf16) */
    /* Looks a tensor up. Returns 1 and its shape when present, 0 when absent, or a negated
     * elmo_status with err set when the tensor exists but cannot be used (e.g. not float). */
    int (*find)(elmo_tensor_source *s, const char *name, int *rank, int64_t dims[ELMO_MAX_RANK],
                elmo_error *err);
    /* Reads a tensor that find() reported, as `count` float32 values. */
    int (*read)(elmo_tensor_source *s, const char *name, float *dst, size_t count, elmo_error *err);
    /* 1 when a tensor or group named `name` exists (a tensor named "name/..." counts). */
    int (*exists)(elmo_tensor_source *s, const char *name);
    /* Optional (NULL: not checked): fails when the source holds tensors other than the
     * `n` names in `used`. */
    int (*check_unused)(elmo_tensor_source *s, const char *const *used, int n, elmo_error *err);
    void (*close)(elmo_tensor_source *s); /* frees the source itself too */
    /* Optional (NULL: whole tensors only): reads rows [row0, row0 + rows) of a tensor that
     * find() reported, dims[0] being its rows, as rows * (numel / dims[0]) float32 values.
     * Lets a large matrix be read a block at a time (the softmax head). */
    int (*read_rows)(elmo_tensor_source *s, const char *name, int64_t row0, int64_t rows,
                     float *dst, elmo_error *err);
};

/* For sources that list their tensors: name_at(ctx, i) is the AllenNLP name of tensor i. */
typedef const char *(*elmo_tensor_name_fn)(const void *ctx, int i);

/* 1 when one of the n names is `name` or starts with `name/` (the `exists` rule). */
int elmo_tensor_names_have(elmo_tensor_name_fn name_at, const void *ctx, int n, const char *name);

/* The index of the first of the n names not in `used`, or -1 (for `check_unused`). */
int elmo_tensor_names_unused(elmo_tensor_name_fn name_at, const void *ctx, int n,
                             const char *const *used, int n_used);

/* Opens an AllenNLP/bilm-tf HDF5 weights file, refusing one of more than max_bytes (it is
 * read into memory whole: pass a small multiple of the weights the options describe). */
int elmo_hdf5_source_open(const char *path, uint64_t max_bytes, elmo_tensor_source **out,
                          elmo_error *err);

#endif
