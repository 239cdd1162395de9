/* model_files.h - finding a model's options and tensors from a path, whatever its format:
 * the format is told from the content (magic bytes, files present), not from names. */
#ifndef ELMO_CORE_MODEL_FILES_H
#define ELMO_CORE_MODEL_FILES_H

#include "tensor_source.h"

typedef struct elmo_model_files {
    elmo_tensor_source *src;
    char *options_json;       /* the options JSON text (malloc'd) */
    char options_label[4200]; /* names the options in messages */
} elmo_model_files;

/*
 * Opens the model at `path`: a .safetensors file, a directory (AllenNLP options + HDF5
 * pair, TF-Hub module, or bilm-tf checkpoint), a TF checkpoint prefix or .index file, or
 * (with options_path) any weights file. options_path may be NULL when the model carries
 * or implies its options. On failure f is left empty.
 */
int elmo_model_files_open(const char *options_path, const char *path, elmo_model_files *f,
                          elmo_error *err);
void elmo_model_files_close(elmo_model_files *f);

/* The most bytes of an HDF5 file read into memory for float32 tensors of weight_bytes
 * bytes: twice that, plus room for metadata. */
uint64_t elmo_hdf5_read_limit(uint64_t weight_bytes);

/* Opens a file of tensors, HDF5 or safetensors, told from its content (the softmax head's
 * file); `what` names it in messages ("softmax weights"). An HDF5 file of more than
 * hdf5_max_bytes is refused (it is read into memory whole); only regular files are read. */
int elmo_tensor_file_open(const char *path, const char *what, uint64_t hdf5_max_bytes,
                          elmo_tensor_source **out, elmo_error *err);

/* 1 when path is an HDF5 file (by its signature). */
int elmo_tensor_file_is_hdf5(const char *path);

#endif
