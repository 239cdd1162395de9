/* model_head.c - the softmax head of a model load: from a separate file (the published
 * *_softmax_weights.hdf5 + vocabulary), or from the model's own file (a bilm-tf checkpoint's
 * lm/softmax/..., a safetensors file written by `elmo convert --softmax`, which also stores
 * the vocabulary). */
#include "model_head.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
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

/* Reads the vocabulary: the file, else the one `src` stores (0 with *have = 0: none). */
static int read_vocab(const elmo_load_params *p, elmo_tensor_source *src, elmo_vocab *v,
                      char *label, size_t cap, int *have, elmo_error *err) {
    *have = 1;
    if (p->vocab_path) {
        snprintf(label, cap, "vocabulary '%s'", p->vocab_path);
        return elmo_vocab_load_file(p->vocab_path, v, err);
    }
    const char *text = NULL;
    if (!elmo_safetensors_metadata(src, ELMO_SAFETENSORS_VOCAB_KEY, &text)) {
        *have = 0;
        return ELMO_OK;
    }
    snprintf(label, cap, "the vocabulary stored in '%s'", src->path);
    return elmo_vocab_load_text(text, strlen(text), label, v, err);
}

static int load_from(elmo_model *m, const elmo_load_params *p, elmo_tensor_source *src,
                     int required, elmo_error *err) {
    elmo_vocab v;
    char label[4200];
    int have = 0, rc = read_vocab(p, src, &v, label, sizeof label, &have, err);
    if (rc) return rc;
    if (!have) {
        if (!required) return ELMO_OK;
        return elmo_fail(err, ELMO_ERR_ARG,
                         "softmax weights '%s' need their vocabulary: give the vocabulary file "
                         "too (line v names row v)",
                         src->path);
    }
    return elmo_lm_head_load(src, &v, label, m->cfg.projection_dim, m->precision, &m->head, err);
}

int elmo_model_head_from_model(elmo_model *m, const elmo_load_params *p, elmo_tensor_source *own,
                               elmo_error *err) {
    if (p->skip_head || p->softmax_path) return ELMO_OK;
    int rank = 0;
    int64_t dims[ELMO_MAX_RANK];
    int found = own->find(own, ELMO_HEAD_W, &rank, dims, err);
    if (found < 0) return -found;
    if (found) return load_from(m, p, own, 0, err);
    if (!p->vocab_path) return ELMO_OK; /* no head asked for, none in the file */
    return elmo_fail(err, ELMO_ERR_ARG,
                     "model file '%s' holds no softmax weights (%s); give the softmax weights "
                     "file with the vocabulary (e.g. the published *_softmax_weights.hdf5)",
                     own->path, ELMO_HEAD_W);
}

int elmo_model_head_from_file(elmo_model *m, const elmo_load_params *p, elmo_error *err) {
    if (!p->softmax_path || p->skip_head) return ELMO_OK;
    elmo_tensor_source *src = NULL;
    int rc = elmo_tensor_file_open(p->softmax_path, "softmax weights", &src, err);
    if (rc) return rc;
    rc = load_from(m, p, src, 1, err);
    src->close(src);
    return rc;
}
