/* genmodel_util.h - synthetic models for tests: runs the generator ($B/elmo-genmodel, B from
 * the environment, default build/release) into one private temporary directory per test
 * process and removes that directory at the end. Symbols are prefixed gmu_ because every
 * non-test_ file in tests/ is linked into every test binary. */
#ifndef ELMO_TEST_GENMODEL_UTIL_H
#define ELMO_TEST_GENMODEL_UTIL_H

#include <stddef.h>

/* The temporary directory (created on first use with mkdtemp), or NULL if it cannot be. */
const char *gmu_dir(void);

/* Runs `$B/elmo-genmodel --out <dir>/<name> <flags>` (flags: space-separated, no quoting).
 * Returns 0 on success; on failure prints the generator's stderr and returns -1. */
int gmu_gen(const char *name, const char *flags);

/* "<dir>/<name>/<file>" (e.g. file "options.json"). The string lives in a ring of 16
 * static buffers: valid until 16 more calls. */
const char *gmu_path(const char *name, const char *file);

/* Writes `len` bytes to <dir>/<name>/<file> (creating <dir>/<name>); returns its path
 * (as gmu_path) or NULL. */
const char *gmu_write(const char *name, const char *file, const void *data, size_t len);

/* Whole file as a NUL-terminated string (malloc'd), *len its size; NULL on failure. */
char *gmu_read(const char *path, size_t *len);

/* Removes the temporary directory and everything in it. */
void gmu_cleanup(void);

#endif
