/* lm_sweep.h - rows of top-layer outputs through the softmax head, one block of the
 * vocabulary at a time: per row its log-normaliser, the logit and rank of its target, and
 * per query (one or two rows) the k columns of highest summed logit.
 *
 * The logits of a row are x = a W^T (+ b) over the columns [0, limit). Each block of
 * ELMO_HEAD_BLOCK columns is one elmo_gemm per tile of rows, reduced at once (max, sum of
 * exp, count above the target) into per (row, block) statistics; the blocks are the
 * parallel tasks. The statistics are then folded in block order, so a row's results depend
 * on its values only: not on the other rows, the tiles, the threads or the task order. No
 * [rows, V] matrix is held: scratch is one [tile, block] product per thread. */
#ifndef ELMO_CORE_LM_SWEEP_H
#define ELMO_CORE_LM_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"
#include "lm_head.h"
#include "parallel.h"

#define ELMO_LM_TILE_ROWS 128                 /* rows per elmo_gemm call */
#define ELMO_LM_HEAP_BYTES ((size_t)64 << 20) /* the top-k candidates of a sweep */

typedef struct elmo_lm_sweep {
    const elmo_lm_head *head;
    int64_t limit; /* columns scored: [0, limit), 1 <= limit <= V */
    int use_bias;
    const float *a; /* [R, P] the rows */
    size_t R;
    /* Targets (NULL: none): target[r] is the column whose logit and rank row r wants, or -1.
     * Every target is < limit. */
    const int64_t *target;
    int want_rank;
    /* Queries (n_queries 0: none): then every row belongs to one, in order: query q has
     * query_width[q] (1 or 2) consecutive rows, and its score of column v is the sum of
     * their logits. k candidates each, ties to the lower column; excluded (NULL: none) is
     * a bitmap of columns never returned. */
    size_t n_queries;
    const uint8_t *query_width;
    size_t k;
    const uint8_t *excluded;
    /* Outputs. */
    double *lse;             /* [R] log sum over the columns of exp(logit) */
    float *logit;            /* [R] the target's logit (rows with a target) */
    int64_t *rank;           /* [R] 1 + columns with a strictly higher logit (want_rank) */
    elmo_lm_prediction *top; /* [n_queries, k] best first; vocab_id -1 past the candidates */
} elmo_lm_sweep;

/* Runs the sweep on up to `threads` threads. Returns ELMO_OK, ELMO_ERR_NOMEM or
 * ELMO_ERR_INTERRUPTED (when `cancel` stops it). */
int elmo_lm_sweep_run(elmo_lm_sweep *s, int threads, elmo_cancel *cancel, elmo_error *err);

/* Bytes of one top-k candidate: each thread keeps n_queries * k of them, and a sweep uses
 * no more threads than keep them under ELMO_LM_HEAP_BYTES (at least one). */
size_t elmo_lm_sweep_candidate_bytes(void);

#endif
