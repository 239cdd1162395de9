/* result.h - the result object of a run: per-sentence blocks of layer rows. Depends on the
 * model only (for its sizes), not on the stages that fill it. */
#ifndef ELMO_CORE_RESULT_H
#define ELMO_CORE_RESULT_H

#include <stddef.h>

#include "elmo.h"
#include "model.h"

/* Outputs of a run. Each sentence owns a block [slots, n_i + 2, D] (boundary rows kept, so
 * the layer norm can include them and the LSTM can write every position in place). A
 * full result has a slot per layer; a folding run (elmo_embed_batch) keeps only 2 slots,
 * layer k in slot k % 2, and consumes each layer as it is finished. */
struct elmo_result {
    size_t n;         /* sentences */
    int dim;          /* D = 2P */
    int n_layers;     /* L + 1 */
    int slots;        /* layers stored: L + 1, or 2 when folding */
    size_t *n_tokens; /* [n] */
    float **block;    /* [n] -> [slots, n_i + 2, D] */
    float *data;      /* the storage of every block */
};

/* Rows of layer k of sentence i including the boundaries: [n_i + 2, D]. */
static inline float *elmo_result_rows(const elmo_result *r, size_t i, int k) {
    return r->block[i] + (size_t)(k % r->slots) * (r->n_tokens[i] + 2) * (size_t)r->dim;
}

/* Checks the sentences of a run (counts, NULL text/spans, span order). */
int elmo_check_sentences(const elmo_sentence *s, size_t n, elmo_error *err);

/* Allocates a result for the given sentences (contents uninitialized). */
int elmo_result_alloc(const elmo_model *m, const elmo_sentence *s, size_t n, int slots,
                      elmo_result **out, elmo_error *err);

#endif
