/* bigbuf.h - large scratch buffers straight from the kernel.
 *
 * malloc keeps freed memory of large blocks in its arenas (its mmap threshold rises to the
 * size of the last freed block, and every worker thread gets an arena), so a long batch
 * job's RSS would creep up with fragmentation. Buffers of a megabyte or more are mapped
 * and unmapped directly instead: freed memory goes back to the system at once, which
 * keeps peak RSS at weights + the scratch of one batch. */
#ifndef ELMO_CORE_BIGBUF_H
#define ELMO_CORE_BIGBUF_H

#include <stddef.h>

/* Like malloc (uninitialized contents, 64-byte aligned); NULL on failure. */
void *elmo_big_alloc(size_t bytes);

/* Frees a buffer of elmo_big_alloc (NULL is fine). */
void elmo_big_free(void *p);

#endif
