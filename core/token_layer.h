/* token_layer.h - stage 1 of a run: layer 0, the char-CNN token embeddings. */
#ifndef ELMO_CORE_TOKEN_LAYER_H
#define ELMO_CORE_TOKEN_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"
#include "model.h"
#include "parallel.h"
#include "result.h"

/* Stage 1: fills layer 0 (char-CNN token embeddings, [e ; e]) of every position. */
int elmo_fill_token_layer(const elmo_model *m, const elmo_sentence *s, elmo_result *r,
                          int use_cache, int n_threads, elmo_cancel *cancel, elmo_error *err);

/* Embeds tokens one chunk at a time without the cache: ids [n, C] -> out [n, P]. Used at
 * load for the boundary tokens. */
int elmo_embed_ids(const elmo_model *m, const uint16_t *ids, size_t n, float *out, elmo_error *err);

#endif
