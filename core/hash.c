/* hash.c - see hash.h. */
#include "hash.h"

#include <string.h>

void elmo_hash_fold(elmo_hasher *hs, const void *data, size_t bytes) {
    const unsigned char *p = data;
    uint64_t lane[4] = {hs->h, hs->h ^ 0x243f6a8885a308d3ull, hs->h ^ 0x13198a2e03707344ull,
                        hs->h ^ 0xa4093822299f31d0ull};
    for (; bytes >= 32; bytes -= 32, p += 32)
        for (int k = 0; k < 4; k++) {
            uint64_t v;
            memcpy(&v, p + 8 * k, 8);
            lane[k] = (lane[k] ^ v) * 0x9e3779b97f4a7c15ull;
            lane[k] ^= lane[k] >> 29;
        }
    uint64_t h = lane[0];
    for (int k = 1; k < 4; k++) {
        h = (h ^ lane[k]) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    for (; bytes >= 8; bytes -= 8, p += 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t tail = bytes;
    for (size_t i = 0; i < bytes; i++) tail = tail << 8 | p[i];
    h = (h ^ tail) * 0xff51afd7ed558ccdull;
    hs->h = h ^ (h >> 32);
}
