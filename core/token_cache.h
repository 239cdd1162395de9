/* token_cache.h - a bounded, thread-safe cache of char-CNN token embeddings keyed by the
 * token's (truncated) bytes. Set-associative: a key hashes to one set of WAYS slots and
 * replaces the least recently used slot of that set, so there is no deletion logic. */
#ifndef ELMO_CORE_TOKEN_CACHE_H
#define ELMO_CORE_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct elmo_token_cache elmo_token_cache;

/* A cache of at most `bytes` bytes for keys of up to key_max bytes and vectors of dim
 * floats. Returns NULL when bytes are too few for one set or on allocation failure. */
elmo_token_cache *elmo_cache_new(int64_t bytes, size_t key_max, size_t dim);
void elmo_cache_free(elmo_token_cache *cache);

/* Slots (entries) the cache can hold, and the bytes it reserves for them. */
size_t elmo_cache_capacity(const elmo_token_cache *cache);
int64_t elmo_cache_bytes(const elmo_token_cache *cache);

/* For each of the n keys: if cached, copies its vector to out + i*dim and sets hit[i] = 1,
 * else sets hit[i] = 0. keys[i] has lens[i] <= key_max bytes. */
void elmo_cache_get(elmo_token_cache *cache, const char *const *keys, const size_t *lens, size_t n,
                    float *out, uint8_t *hit);

/* Stores the n vectors vecs [n, dim] under their keys. */
void elmo_cache_put(elmo_token_cache *cache, const char *const *keys, const size_t *lens, size_t n,
                    const float *vecs);

/* FNV-1a hash of a byte string (also used to deduplicate tokens within a run). */
uint64_t elmo_hash_bytes(const char *s, size_t len);

#endif
