/* fixture_io.h - reading the golden fixture files in tests. */
#ifndef ELMO_TEST_FIXTURE_IO_H
#define ELMO_TEST_FIXTURE_IO_H

#include <stddef.h>

#define FIXTURE_DIR "tests/fixtures/elmo-tiny/"
#define TINY_OPTIONS "models/elmo-tiny/options.json"
#define TINY_WEIGHTS "models/elmo-tiny/weights.hdf5"

/* Reads a float dataset; dims[0..rank) receive its shape (rank <= 4). NULL on failure.
 * The caller frees the result. */
float *fx_read_h5(const char *path, const char *name, size_t *dims, int *rank);

/* sentences.json: 3 streams x 10 sentences. Returns strings [streams * per_stream]
 * (stream-major) or NULL; free with fx_free_strings(). */
char **fx_read_sentences(const char *path, int *n_streams, int *per_stream);
void fx_free_strings(char **strings, size_t n);

/* Lines of a text file without their newlines; *n receives the count. */
char **fx_read_lines(const char *path, size_t *n);

#endif
