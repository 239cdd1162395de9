/* hash.h - a fast 64-bit hash of bytes, for fingerprints (not cryptographic): the model's
 * (weights.c) and the language-model head's (lm_head.c). Four independent lanes over
 * 32-byte blocks, then the tail word by word, folded into a running state, so a
 * fingerprint can be built piece by piece in a fixed order. */
#ifndef ELMO_CORE_HASH_H
#define ELMO_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct elmo_hasher {
    uint64_t h;
} elmo_hasher;

/* Folds `bytes` bytes at data into hs. */
void elmo_hash_fold(elmo_hasher *hs, const void *data, size_t bytes);

#endif
