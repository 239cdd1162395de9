/* lm_head.h - the language-model head: the softmax layer bilm-tf trained on top of the
 * biLM (docs/model.md §12). W [V, P] and b [V] are read from a tensor source (the
 * published *_softmax_weights.hdf5, a bilm-tf checkpoint's lm/softmax/..., or a safetensors
 * file written by `elmo convert --softmax`), W is kept as a sequence of column blocks of
 * W^T, each [P, <= ELMO_HEAD_BLOCK] packed for elmo_gemm in the model's precision, and the
 * vocabulary names the rows. Loaded once, read-only afterwards. */
#ifndef ELMO_CORE_LM_HEAD_H
#define ELMO_CORE_LM_HEAD_H

#include <stdint.h>

#include "gemm.h"
#include "tensor_source.h"
#include "vocab.h"

#define ELMO_HEAD_W "softmax/W" /* [V, P]: row v is the output embedding of word v */
#define ELMO_HEAD_B "softmax/b" /* [V] */
/* Vocabulary rows per packed block: one elmo_gemm per block of positions; its logits
 * [rows, ELMO_HEAD_BLOCK] stay in cache while they are reduced. */
#define ELMO_HEAD_BLOCK 2048

typedef struct elmo_lm_head {
    int64_t V;           /* rows of W: the vocabulary size */
    int64_t P;           /* the projection width the head reads */
    int64_t n_blocks;    /* ceil(V / ELMO_HEAD_BLOCK) */
    elmo_packed *blocks; /* [n_blocks]: block j is W^T [P, cols j*BLOCK ..) */
    float *bias;         /* [V] */
    elmo_vocab vocab;
    int64_t bytes;        /* packed blocks + bias + vocabulary */
    uint64_t fingerprint; /* a hash of the vocabulary, b, W and the precision */
} elmo_lm_head;

/* Reads the head from `src` for a model of projection width P and packs it for
 * `precision` (ELMO_PRECISION_FP32 or _BF16). Takes over *vocab (on failure too) and checks
 * it against W (one row per token); vocab_label names it in messages ("vocabulary 'x'"). */
int elmo_lm_head_load(elmo_tensor_source *src, elmo_vocab *vocab, const char *vocab_label,
                      int64_t P, int precision, elmo_lm_head **out, elmo_error *err);

void elmo_lm_head_free(elmo_lm_head *head);

/* Columns of block j. */
static inline int64_t elmo_lm_head_block_cols(const elmo_lm_head *h, int64_t j) {
    int64_t left = h->V - j * ELMO_HEAD_BLOCK;
    return left < ELMO_HEAD_BLOCK ? left : ELMO_HEAD_BLOCK;
}

#endif
