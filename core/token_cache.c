/* token_cache.c - see token_cache.h. */
#include "bigbuf.h"
#include "token_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 8

typedef struct slot {
    uint64_t hash;
    uint64_t last_use; /* 0: empty */
    uint32_t len;
} slot;

struct elmo_token_cache {
    pthread_mutex_t lock;
    size_t n_sets, key_max, dim;
    uint64_t clock;
    slot *slots; /* [n_sets * WAYS] */
    char *keys;  /* [n_sets * WAYS, key_max] */
    float *vecs; /* [n_sets * WAYS, dim] */
};

uint64_t elmo_hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

elmo_token_cache *elmo_cache_new(int64_t bytes, size_t key_max, size_t dim) {
    size_t per_slot = sizeof(slot) + key_max + dim * sizeof(float);
    if (bytes <= 0 || dim == 0) return NULL;
    size_t n_sets = (size_t)bytes / (per_slot * WAYS);
    if (n_sets == 0) return NULL;
    elmo_token_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->n_sets = n_sets;
    c->key_max = key_max;
    c->dim = dim;
    c->slots = calloc(n_sets * WAYS, sizeof *c->slots);
    c->keys = malloc(n_sets * WAYS * (key_max ? key_max : 1));
    c->vecs = elmo_big_alloc(n_sets * WAYS * dim * sizeof(float));
    if (!c->slots || !c->keys || !c->vecs || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->slots);
        free(c->keys);
        elmo_big_free(c->vecs);
        free(c);
        return NULL;
    }
    return c;
}

void elmo_cache_free(elmo_token_cache *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->lock);
    free(c->slots);
    free(c->keys);
    elmo_big_free(c->vecs);
    free(c);
}

size_t elmo_cache_capacity(const elmo_token_cache *c) {
    return c ? c->n_sets * WAYS : 0;
}

int64_t elmo_cache_bytes(const elmo_token_cache *c) {
    return c ? (int64_t)(elmo_cache_capacity(c) *
                         (sizeof(slot) + c->key_max + c->dim * sizeof(float)))
             : 0;
}

/* Slot index holding key, or SIZE_MAX. */
static size_t find(const elmo_token_cache *c, uint64_t h, const char *key, size_t len) {
    size_t base = (size_t)(h % c->n_sets) * WAYS;
    for (size_t i = base; i < base + WAYS; i++) {
        const slot *s = &c->slots[i];
        if (s->last_use && s->hash == h && s->len == len &&
            memcmp(c->keys + i * c->key_max, key, len) == 0)
            return i;
    }
    return SIZE_MAX;
}

void elmo_cache_get(elmo_token_cache *c, const char *const *keys, const size_t *lens, size_t n,
                    float *out, uint8_t *hit) {
    pthread_mutex_lock(&c->lock);
    for (size_t k = 0; k < n; k++) {
        uint64_t h = elmo_hash_bytes(keys[k], lens[k]);
        size_t i = lens[k] <= c->key_max ? find(c, h, keys[k], lens[k]) : SIZE_MAX;
        hit[k] = i != SIZE_MAX;
        if (hit[k]) {
            c->slots[i].last_use = ++c->clock;
            memcpy(out + k * c->dim, c->vecs + i * c->dim, c->dim * sizeof(float));
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void elmo_cache_put(elmo_token_cache *c, const char *const *keys, const size_t *lens, size_t n,
                    const float *vecs) {
    pthread_mutex_lock(&c->lock);
    for (size_t k = 0; k < n; k++) {
        if (lens[k] > c->key_max) continue;
        uint64_t h = elmo_hash_bytes(keys[k], lens[k]);
        size_t i = find(c, h, keys[k], lens[k]);
        if (i == SIZE_MAX) { /* least recently used (or empty) way of the set */
            size_t base = (size_t)(h % c->n_sets) * WAYS;
            i = base;
            for (size_t j = base + 1; j < base + WAYS; j++)
                if (c->slots[j].last_use < c->slots[i].last_use) i = j;
        }
        c->slots[i] = (slot){.hash = h, .last_use = ++c->clock, .len = (uint32_t)lens[k]};
        memcpy(c->keys + i * c->key_max, keys[k], lens[k]);
        memcpy(c->vecs + i * c->dim, vecs + k * c->dim, c->dim * sizeof(float));
    }
    pthread_mutex_unlock(&c->lock);
}
