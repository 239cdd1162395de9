/* char_cnn.h - the context-free token embedding e = proj(highway(maxpool(conv(chars)))). */
#ifndef ELMO_CORE_CHAR_CNN_H
#define ELMO_CORE_CHAR_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Tokens per call of elmo_cnn_embed (the highway GEMMs run over this many rows). */
#define ELMO_CNN_CHUNK 48

/* Floats of scratch that elmo_cnn_embed needs for up to ELMO_CNN_CHUNK tokens: about
 * 4.5 MiB for the Original model, at most 24 MiB for options whose single rows fit 4 MiB,
 * and otherwise a few rows of the model's largest matrices (see char_cnn.c). */
size_t elmo_cnn_scratch_floats(const elmo_config *cfg);

/* Sets the floats each part of the scratch may take for every later call (0: the default,
 * 4 MiB). For tests and fuzzing, which reach the blocked paths with small models this way;
 * results do not depend on it. Not for use while other threads embed. */
void elmo_cnn_set_part_budget(size_t floats);

/*
 * Embeds n <= ELMO_CNN_CHUNK tokens: ids [n, C] (shifted character ids 1..261, as from
 * elmo_char_ids) -> out [n, P]. scratch holds elmo_cnn_scratch_floats() floats.
 * Single-threaded: callers parallelize over chunks.
 */
void elmo_cnn_embed(const elmo_config *cfg, const elmo_weights *w, const uint16_t *ids, size_t n,
                    float *out, float *scratch);

#endif
