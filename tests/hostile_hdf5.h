/* hostile_hdf5.h - hostile variants of a valid HDF5 weights file, for the loader's tests.
 * Each function edits the file at `path` in place (usually a copy of generated weights):
 * it replaces the dataset (or group) `name` through the libhdf5 API and, where the API
 * cannot write the damage, patches the file's bytes. They return 0, or -1 after printing
 * why on stderr. Symbols are prefixed hh_ because every non-test_ file in tests/ is linked
 * into every test binary. */
#ifndef ELMO_TEST_HOSTILE_HDF5_H
#define ELMO_TEST_HOSTILE_HDF5_H

#include <hdf5.h>

/* Copies the file `src` to `dst`. */
int hh_copy(const char *src, const char *dst);

/* Rewrites float dataset `name` as a compact dataset (values inside its header), then
 * patches the stored size in its layout message to `stored_bytes` (less than the shape
 * needs: the file declares values it does not hold). */
int hh_compact_short(const char *path, const char *name, unsigned stored_bytes);

/* Replaces `name` by a float dataset of shape dims[rank] with chunked storage that is
 * never written (`written_chunks` 0) or only partly: the first `written_chunks` rows of
 * chunks of 1 row each. Missing groups on the way are created. */
int hh_chunked(const char *path, const char *name, int rank, const hsize_t *dims,
               int written_chunks);

/* Replaces `name` by a float dataset of the same shape whose values live in the file
 * `external` (HDF5 external storage, nothing written). */
int hh_external_storage(const char *path, const char *name, const char *external);

/* Replaces `name` by an external link to object `target_name` of the file `target`. */
int hh_external_link(const char *path, const char *name, const char *target,
                     const char *target_name);

/* Moves `name` to `moved_to` and makes `name` a soft link to it. */
int hh_soft_link(const char *path, const char *name, const char *moved_to);

/* Replaces `name` by a virtual dataset of the same shape mapping all of dataset
 * `src_name` of the file `src`. */
int hh_virtual(const char *path, const char *name, const char *src, const char *src_name);

/* Rewrites `name` (contiguous) so that its layout message points past the end of file. */
int hh_contiguous_past_eof(const char *path, const char *name);

/* Replaces `name` by a float dataset with a null dataspace (no shape, no values). */
int hh_null_space(const char *path, const char *name);

/* Rewrites float dataset `name` with the same values, chunked and deflate-compressed. */
int hh_deflate(const char *path, const char *name);

#endif
