/* bigbuf.h - large scratch buffers straight from the kernel.
 *
 * malloc keeps freed memory of large blocks in its arenas (its mmap threshold rises to the
 * size of the last freed block, and every worker thread gets an arena), so a long batch
 * job's RSS would creep up with fragmentation. Buffers of a megabyte or more are mapped
 * and unmapped directly instead: freed memory goes back to the system at once, which
 * keeps peak RSS at weights + the scratch of one batch.
 *
 * The bytes held in these buffers are counted process-wide, so tests can check that what
 * a call allocates stays within its budget whatever the model's options. */
#ifndef ELMO_CORE_BIGBUF_H
#define ELMO_CORE_BIGBUF_H

#include <stddef.h>

/* Like malloc (uninitialized contents, 64-byte aligned); NULL on failure. */
void *elmo_big_alloc(size_t bytes);

/* Frees a buffer of elmo_big_alloc (NULL is fine). */
void elmo_big_free(void *p);

/* Gives the whole pages inside bytes [offset, offset + n) of the buffer `buf` of
 * elmo_big_alloc back to the system (buffers of a megabyte or more; smaller ones are left
 * alone): they read as zeros afterwards. For data that has been copied out once. */
void elmo_big_release(void *buf, size_t offset, size_t n);

/* Bytes currently held in buffers of elmo_big_alloc, and the most held at once since the
 * last elmo_big_reset_peak (which sets it to what is held now). */
size_t elmo_big_in_use(void);
size_t elmo_big_peak(void);
void elmo_big_reset_peak(void);

#endif
