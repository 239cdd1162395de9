/* bigbuf.c - see bigbuf.h. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, madvise */
#include "bigbuf.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ALIGN 64
#define MAP_MIN ((size_t)1 << 20)
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)8 << 20)

/* Stored just below the pointer handed out. */
typedef struct header {
    size_t mapped; /* bytes mapped at base, or 0 when base came from malloc */
    size_t bytes;  /* bytes asked for (counted in `in_use`) */
    void *base;
} header;

static atomic_size_t in_use, peak;

static void count(size_t bytes) {
    size_t now = atomic_fetch_add(&in_use, bytes) + bytes;
    size_t seen = atomic_load(&peak);
    while (now > seen && !atomic_compare_exchange_weak(&peak, &seen, now)) {}
}

void *elmo_big_alloc(size_t bytes) {
    if (bytes > SIZE_MAX / 2) return NULL;
    header *h;
    void *user;
    if (bytes + ALIGN >= HUGE_MIN) {
        /* Weights and big scratch: on 2 MiB pages where the kernel allows (transparent
         * huge pages in "madvise" mode), so that streaming a matrix takes few TLB misses
         * and the hardware prefetchers, which stop at page boundaries, run long. */
        size_t total = bytes + ALIGN + HUGE_PAGE;
        void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) return NULL;
        uintptr_t start = ((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
        madvise((void *)start, total - (start - (uintptr_t)base), MADV_HUGEPAGE);
        user = (char *)start + ALIGN;
        h = (header *)user - 1;
        *h = (header){.mapped = total, .bytes = bytes, .base = base};
    } else if (bytes + ALIGN >= MAP_MIN) {
        /* base is page-aligned, so base + ALIGN is aligned and has room for the header */
        size_t total = bytes + ALIGN;
        void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) return NULL;
        user = (char *)base + ALIGN;
        h = (header *)user - 1;
        *h = (header){.mapped = total, .bytes = bytes, .base = base};
    } else {
        void *base = malloc(bytes + 2 * ALIGN);
        if (!base) return NULL;
        user = (void *)(((uintptr_t)base + sizeof(header) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1));
        h = (header *)user - 1;
        *h = (header){.mapped = 0, .bytes = bytes, .base = base};
    }
    count(bytes);
    return user;
}

void elmo_big_free(void *p) {
    if (!p) return;
    header *h = (header *)p - 1;
    atomic_fetch_sub(&in_use, h->bytes);
    if (h->mapped) munmap(h->base, h->mapped);
    else free(h->base);
}

void elmo_big_release(void *buf, size_t offset, size_t bytes) {
    /* Only mapped buffers: pages of the malloc heap are not ours to drop. */
    if (!buf || !((header *)buf - 1)->mapped) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)buf + offset + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)buf + offset + bytes) & ~(page - 1);
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
}

size_t elmo_big_in_use(void) {
    return atomic_load(&in_use);
}

size_t elmo_big_peak(void) {
    return atomic_load(&peak);
}

void elmo_big_reset_peak(void) {
    atomic_store(&peak, atomic_load(&in_use));
}
