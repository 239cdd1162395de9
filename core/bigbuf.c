/* bigbuf.c - see bigbuf.h. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "bigbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define ALIGN 64
#define MAP_MIN ((size_t)1 << 20)
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)8 << 20)

/* Stored just below the pointer handed out. */
typedef struct header {
    size_t mapped; /* bytes mapped at base, or 0 when base came from malloc */
    void *base;
} header;

void *elmo_big_alloc(size_t bytes) {
    if (bytes > SIZE_MAX / 2) return NULL;
    if (bytes + ALIGN >= HUGE_MIN) {
        /* Weights and big scratch: on 2 MiB pages where the kernel allows (transparent
         * huge pages in "madvise" mode), so that streaming a matrix takes few TLB misses
         * and the hardware prefetchers, which stop at page boundaries, run long. */
        size_t total = bytes + ALIGN + HUGE_PAGE;
        void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) return NULL;
        uintptr_t start = ((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
        madvise((void *)start, total - (start - (uintptr_t)base), MADV_HUGEPAGE);
        header *h = (header *)(start + ALIGN) - 1;
        *h = (header){.mapped = total, .base = base};
        return (char *)start + ALIGN;
    }
    if (bytes + ALIGN >= MAP_MIN) {
        /* base is page-aligned, so base + ALIGN is aligned and has room for the header */
        size_t total = bytes + ALIGN;
        void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) return NULL;
        header *h = (header *)((char *)base + ALIGN) - 1;
        *h = (header){.mapped = total, .base = base};
        return (char *)base + ALIGN;
    }
    void *base = malloc(bytes + 2 * ALIGN);
    if (!base) return NULL;
    uintptr_t user = ((uintptr_t)base + sizeof(header) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    header *h = (header *)user - 1;
    *h = (header){.mapped = 0, .base = base};
    return (void *)user;
}

void elmo_big_free(void *p) {
    if (!p) return;
    header *h = (header *)p - 1;
    if (h->mapped) munmap(h->base, h->mapped);
    else free(h->base);
}
