/* model_head.c - the softmax head of a model load: from a separate file (the published
 * *_softmax_weights.hdf5 + vocabulary), or from the model's own file (a bilm-tf checkpoint's
 * lm/softmax/..., a safetensors file written by `elmo convert --softmax`, which also stores
 * the vocabulary). */
#include "model_head.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "file_read.h"
#include "lm_head.h"
#include "model_files.h"
#include "safetensors.h"
#include "vocab.h"

int elmo_model_head_check(const elmo_load_params *p, elmo_error *err) {
    if (p->skip_head && (p->softmax_path || p->vocab_path))
        return elmo_fail(err, ELMO_ERR_ARG,
                         "skip_head is set, but the softmax weights or the vocabulary are given "
                         "too; give either");
    if (p->softmax_path && !*p->softmax_path)
        return elmo_fail(err, ELMO_ERR_ARG, "the softmax weights path is empty");
    if (p->vocab_path && !*p->vocab_path)
        return elmo_fail(err, ELMO_ERR_ARG, "the vocabulary path is empty");
    return ELMO_OK;
}

/* Reads the vocabulary stored in `src` (a safetensors file written with its head); 0 with
 * *have = 0 when it stores none. */
static int read_stored_vocab(elmo_tensor_source *src, elmo_vocab *v, char *label, size_t cap,
                             int *have, elmo_error *err) {
    const char *text = NULL;
    *have = elmo_safetensors_metadata(src, ELMO_SAFETENSORS_VOCAB_KEY, &text);
    if (!*have) return ELMO_OK;
    snprintf(label, cap, "the vocabulary stored in '%s'", src->path);
    return elmo_vocab_load_text(text, strlen(text), label, v, err);
}

static int read_vocab_file(const elmo_load_params *p, elmo_vocab *v, char *label, size_t cap,
                           elmo_error *err) {
    snprintf(label, cap, "vocabulary '%s'", p->vocab_path);
    return elmo_vocab_load_file(p->vocab_path, v, err);
}

static int need_vocab(const char *path, elmo_error *err) {
    return elmo_fail(err, ELMO_ERR_ARG,
                     "softmax weights '%s' need their vocabulary: give the vocabulary file "
                     "too (line v names row v)",
                     path);
}

int elmo_model_head_from_model(elmo_model *m, const elmo_load_params *p, elmo_tensor_source *own,
                               elmo_error *err) {
    if (p->skip_head || p->softmax_path) return ELMO_OK;
    int rank = 0;
    int64_t dims[ELMO_MAX_RANK];
    int found = own->find(own, ELMO_HEAD_W, &rank, dims, err);
    if (found < 0) return -found;
    if (!found) {
        if (!p->vocab_path) return ELMO_OK; /* no head asked for, none in the file */
        return elmo_fail(err, ELMO_ERR_ARG,
                         "model file '%s' holds no softmax weights (%s); give the softmax "
                         "weights file with the vocabulary (e.g. the published "
                         "*_softmax_weights.hdf5)",
                         own->path, ELMO_HEAD_W);
    }
    elmo_vocab v;
    char label[4200];
    int have = 1, rc = p->vocab_path ? read_vocab_file(p, &v, label, sizeof label, err)
                                     : read_stored_vocab(own, &v, label, sizeof label, &have, err);
    if (rc || !have) return rc; /* a file with no vocabulary anywhere gives no head */
    return elmo_lm_head_load(own, &v, label, m->cfg.projection_dim, m->precision, &m->head, err);
}

/* The most bytes of an HDF5 head file read for a vocabulary of V words: W [V, P] and
 * b [V] in float32, with the slack any HDF5 file is given (model_files.h). */
static uint64_t head_read_limit(int64_t V, int64_t P) {
    return elmo_hdf5_read_limit((uint64_t)V * (uint64_t)(P + 1) * sizeof(float));
}

/* An HDF5 head file larger than its vocabulary explains is refused before it is read into
 * memory, with the sizes; elmo_hdf5_source_open enforces the same limit. */
static int check_head_size(const char *path, int64_t V, int64_t P, elmo_error *err) {
    elmo_file f;
    int rc = elmo_file_open(&f, path, "softmax weights", err);
    if (rc) return rc;
    uint64_t size = f.size, limit = head_read_limit(V, P);
    elmo_file_close(&f);
    if (size <= limit) return ELMO_OK;
    char have[32], most[32];
    return elmo_fail(err, ELMO_ERR_FORMAT,
                     "softmax weights '%s' are %s, far more than a head of %lld words of %lld "
                     "values needs (files up to %s are read); give the vocabulary that belongs "
                     "to these weights",
                     path, elmo_bytes_text((double)size, have, sizeof have), (long long)V,
                     (long long)P, elmo_bytes_text((double)limit, most, sizeof most));
}

int elmo_model_head_from_file(elmo_model *m, const elmo_load_params *p, elmo_error *err) {
    if (!p->softmax_path || p->skip_head) return ELMO_OK;
    /* The vocabulary first: its size bounds how much of an HDF5 head file is read. An HDF5
     * file stores no vocabulary, so without the file there is nothing to read it for. */
    elmo_vocab v;
    char label[4200];
    int64_t P = m->cfg.projection_dim;
    int have = p->vocab_path != NULL, hdf5 = elmo_tensor_file_is_hdf5(p->softmax_path), rc;
    if (!have && hdf5) return need_vocab(p->softmax_path, err);
    if (have && (rc = read_vocab_file(p, &v, label, sizeof label, err))) return rc;
    if (have && hdf5 && (rc = check_head_size(p->softmax_path, v.n, P, err))) {
        elmo_vocab_free(&v);
        return rc;
    }
    elmo_tensor_source *src = NULL;
    rc = elmo_tensor_file_open(p->softmax_path, "softmax weights",
                               have ? head_read_limit(v.n, P) : 0, &src, err);
    if (!rc && !have && !(rc = read_stored_vocab(src, &v, label, sizeof label, &have, err)) &&
        !have)
        rc = need_vocab(src->path, err);
    if (!rc) rc = elmo_lm_head_load(src, &v, label, P, m->precision, &m->head, err);
    else if (have) elmo_vocab_free(&v);
    if (src) src->close(src);
    return rc;
}
