/* test_lm_files.c - the language-model head's files read as every model file is
 * (file_read.h): regular files only, read once, a change while reading an error:
 *   - read_rows of the HDF5 source reads the in-memory image: rows read after the file is
 *     rewritten are the original's, and rows whose bytes were given back cannot be read
 *     again (an error, not zeros);
 *   - read_rows of the safetensors source reads the file (fp32 and bf16), the same values
 *     as a whole read; a file truncated after open is an error naming the change;
 *   - an HDF5 head file far larger than its vocabulary explains is refused before it is
 *     read into memory; a FIFO as the head or the vocabulary is refused at once. */
#define _DEFAULT_SOURCE /* mkfifo, truncate */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elmo.h"
#include "fixture_io.h"
#include "genmodel_util.h"
#include "harness.h"
#include "lm_head.h"
#include "model_files.h"
#include "safetensors.h"

#define TINY_SOFTMAX "models/elmo-tiny/softmax_weights.hdf5"
#define TINY_VOCAB "models/elmo-tiny/vocab.txt"
#define V 458
#define P 16
#define NO_LIMIT UINT64_MAX

static float *W, *b; /* the tiny head: [V, P], [V] */

static void rewrite(const char *path, const void *bytes, size_t n) {
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_INT(write(fd, bytes, n), (long long)n);
        close(fd);
    }
}

static void test_hdf5_rows(void) {
    size_t size = 0;
    char *bytes = gmu_read(TINY_SOFTMAX, &size);
    CHECK(bytes != NULL);
    if (!bytes) return;
    const char *path = gmu_write("h5", "softmax.hdf5", bytes, size);
    elmo_tensor_source *src = NULL;
    elmo_error err;
    CHECK_INT(elmo_tensor_file_open(path, "softmax weights", NO_LIMIT, &src, &err), ELMO_OK);
    if (!src) return;
    char *zeros = calloc(1, size);
    rewrite(path, zeros, size);
    float rows[100 * P];
    CHECK_INT(src->read_rows(src, ELMO_HEAD_W, 0, 100, rows, &err), ELMO_OK);
    CHECK(memcmp(rows, W, sizeof rows) == 0); /* the bytes taken at open */
    CHECK_INT(src->read_rows(src, ELMO_HEAD_W, 100, 0, rows, &err), ELMO_OK);
    CHECK_INT(src->read_rows(src, ELMO_HEAD_W, V - 8, 8, rows, &err), ELMO_OK);
    CHECK(memcmp(rows, W + (V - 8) * P, 8 * P * sizeof *rows) == 0);
    /* rows read once are given back: a second read is an error, not zeros */
    CHECK_INT(src->read_rows(src, ELMO_HEAD_W, 50, 10, rows, &err), ELMO_ERR_INTERNAL);
    char want[1024];
    snprintf(want, sizeof want,
             "weights file '%s': rows 50..59 of dataset 'softmax/W' were read twice (their "
             "bytes were already given back)",
             path);
    CHECK_STR(err.message, want);
    CHECK_INT(src->read_rows(src, ELMO_HEAD_W, V - 1, 2, rows, &err), ELMO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "cannot read rows 457..458 of dataset 'softmax/W'");
    src->close(src);
    free(zeros);
    free(bytes);
}

/* The tiny head as a safetensors file (fp32 or bf16) with its vocabulary. */
static const char *write_st_head(const char *file, int bf16) {
    size_t vlen = 0;
    char *vocab = gmu_read(TINY_VOCAB, &vlen);
    elmo_tensor_out t[2] = {{.name = ELMO_HEAD_W, .rank = 2, .dims = {V, P}, .data = W},
                            {.name = ELMO_HEAD_B, .rank = 1, .dims = {V}, .data = b}};
    const char *path = gmu_write("st", file, "", 0);
    elmo_error err;
    CHECK_INT(elmo_safetensors_write_vocab(path, "{}", vocab, t, 2, bf16, &err), ELMO_OK);
    free(vocab);
    return path;
}

static void test_safetensors_rows(int bf16) {
    const char *path = write_st_head(bf16 ? "head_bf16.safetensors" : "head.safetensors", bf16);
    elmo_tensor_source *src = NULL;
    elmo_error err;
    CHECK_INT(elmo_tensor_file_open(path, "softmax weights", 0, &src, &err), ELMO_OK);
    if (!src) return;
    static float whole[V * P], rows[V * P];
    CHECK_INT(src->read(src, ELMO_HEAD_W, whole, V * P, &err), ELMO_OK);
    /* in uneven blocks, the same values as the whole read */
    for (int64_t row0 = 0, n = 1; row0 < V; row0 += n, n = n * 3 + 1) {
        if (row0 + n > V) n = V - row0;
        CHECK_INT(src->read_rows(src, ELMO_HEAD_W, row0, n, rows + row0 * P, &err), ELMO_OK);
    }
    CHECK(memcmp(whole, rows, sizeof rows) == 0);
    if (!bf16) CHECK(memcmp(whole, W, sizeof whole) == 0);
    CHECK_INT(src->read_rows(src, ELMO_HEAD_W, V - 1, 2, rows, &err), ELMO_ERR_INTERNAL);
    /* truncated after open: the next read says so */
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(truncate(path, st.st_size / 2), 0);
    CHECK(src->read_rows(src, ELMO_HEAD_W, 0, V, rows, &err) == ELMO_ERR_IO);
    CHECK_CONTAINS(err.message, "safetensors file '");
    CHECK(strstr(err.message, "changed while it was being read") ||
          strstr(err.message, "it was truncated or is being rewritten"));
    src->close(src);
}

/* Loads the tiny model with this head; expects `code` and a message containing `part`. */
static void expect_load(const char *softmax, const char *vocab, int code, const char *part) {
    elmo_load_params p = elmo_load_default_params();
    p.softmax_path = softmax;
    p.vocab_path = vocab;
    elmo_model *m = NULL;
    elmo_error err;
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, &p, &m, &err), code);
    CHECK(m == NULL);
    elmo_model_free(m);
    CHECK_CONTAINS(err.message, part);
}

static void test_refused_files(void) {
    /* an HDF5 signature and 70 MiB of holes: more than twice a head of 458 x 16 plus 64 MiB */
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    const char *big = gmu_write("big", "softmax.hdf5", sig, sizeof sig);
    CHECK_INT(truncate(big, (off_t)70 << 20), 0);
    char want[1024];
    snprintf(want, sizeof want,
             "softmax weights '%s' are 70.0 MiB, far more than a head of 458 words of 16 "
             "values needs (files up to 64.1 MiB are read); give the vocabulary that belongs "
             "to these weights",
             big);
    expect_load(big, TINY_VOCAB, ELMO_ERR_FORMAT, want);
    /* a FIFO never blocks the load */
    gmu_write("fifo", "unused", "", 0);
    const char *fifo = gmu_path("fifo", "softmax.hdf5");
    CHECK_INT(mkfifo(fifo, 0600), 0);
    snprintf(want, sizeof want,
             "softmax weights '%s' is a FIFO (named pipe), not a regular file; a model is read "
             "from regular files only",
             fifo);
    expect_load(fifo, TINY_VOCAB, ELMO_ERR_IO, want);
    snprintf(want, sizeof want,
             "vocabulary '%s' is a FIFO (named pipe), not a regular file; a model is read from "
             "regular files only",
             fifo);
    expect_load(TINY_SOFTMAX, fifo, ELMO_ERR_IO, want);
}

int main(void) {
    size_t dims[4];
    int rank = 0;
    W = fx_read_h5(TINY_SOFTMAX, ELMO_HEAD_W, dims, &rank);
    b = fx_read_h5(TINY_SOFTMAX, ELMO_HEAD_B, dims, &rank);
    CHECK(W && b);
    if (W && b) {
        test_hdf5_rows();
        test_safetensors_rows(0);
        test_safetensors_rows(1);
        test_refused_files();
    }
    free(W);
    free(b);
    gmu_cleanup();
    return harness_report("test_lm_files");
}
