/* test_lm_errors.c - every bad input of the language-model head, with its exact message:
 *   - the vocabulary: fewer or more tokens than W has rows, a missing or repeated special
 *     token, a repeated word, invalid UTF-8, a NUL byte, an empty line, a 2 GB line (a
 *     sparse file: refused after 64 KiB), a directory, a missing file;
 *   - the softmax weights: W's width is not the projection, b's shape, a missing b, a
 *     float64 W, NaN in W, an infinity in b, a file that is neither HDF5 nor safetensors,
 *     a missing file;
 *   - the load parameters: softmax without vocabulary, vocabulary without softmax,
 *     skip_head with paths;
 *   - the calls: no head, vocab_limit out of range or leaving out a special token, k out
 *     of range, a mask outside the sentence, an exclusion outside the vocabulary,
 *     use_bias and direction out of range, NULL arguments.
 * A failed load leaves *out NULL and leaks nothing (run under ASan/LSan too). */
#define _DEFAULT_SOURCE /* ftruncate */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elmo.h"
#include "fixture_io.h"
#include "genmodel_util.h"
#include "harness.h"

#define TINY_SOFTMAX "models/elmo-tiny/softmax_weights.hdf5"
#define TINY_VOCAB "models/elmo-tiny/vocab.txt"

static char want[8192];

/* Loads the tiny model with this head and expects `code` and exactly `message`. */
static void expect_load(const char *softmax, const char *vocab, int skip, int code,
                        const char *message) {
    elmo_load_params p = elmo_load_default_params();
    p.softmax_path = softmax;
    p.vocab_path = vocab;
    p.skip_head = skip;
    elmo_model *m = (elmo_model *)&p; /* must be reset */
    elmo_error err;
    int rc = elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, &p, &m, &err);
    CHECK_INT(rc, code);
    CHECK(m == NULL);
    if (rc == ELMO_OK) elmo_model_free(m);
    CHECK_STR(err.message, message);
}

/* ---- the vocabulary ----------------------------------------------------------------------- */

static char *tiny_vocab; /* the bundled vocabulary's text */
static size_t tiny_len;

/* The bundled vocabulary with line `line` (1-based) replaced by `text` (NULL: removed),
 * written to a file; returns its path. */
static const char *vocab_with(const char *file, int line, const char *text) {
    char *out = malloc(tiny_len + 256), *at = out;
    const char *p = tiny_vocab;
    for (int l = 1; *p; l++) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (l != line) {
            memcpy(at, p, len);
            at += len;
            *at++ = '\n';
        } else if (text) {
            at += sprintf(at, "%s\n", text);
        }
        p += len + (end != NULL);
    }
    const char *path = gmu_write("v", file, out, (size_t)(at - out));
    free(out);
    return path;
}

static void test_vocabulary(void) {
    const char *v = vocab_with("short.txt", 458, NULL);
    snprintf(want, sizeof want,
             "softmax weights '%s': softmax/W has 458 rows but vocabulary '%s' has 457 tokens "
             "(row v is line v); give the vocabulary that belongs to these weights",
             TINY_SOFTMAX, v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    v = vocab_with("unk.txt", 118, "UNKNOWN"); /* <UNK> is line 118 */
    snprintf(want, sizeof want,
             "vocabulary '%s' has no line '<UNK>'; a vocabulary needs <S>, </S> and <UNK> (they "
             "are found by name)",
             v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    v = vocab_with("twice.txt", 30, "<S>"); /* <S> is line 21 */
    snprintf(want, sizeof want,
             "vocabulary '%s': line 30 repeats the token '<S>' of line 21; <S>, </S> and <UNK> "
             "must each appear once",
             v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    v = vocab_with("word.txt", 40, "good"); /* line 1 */
    snprintf(want, sizeof want,
             "vocabulary '%s': line 40 repeats the token 'good' of line 1; every token must "
             "appear once (line v names row v of the softmax weights)",
             v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    v = vocab_with("utf8.txt", 7, "caf\xc3\x28");
    snprintf(want, sizeof want,
             "vocabulary '%s': line 7 is not valid UTF-8 (byte 3: 0xc3); a vocabulary is UTF-8 "
             "text, one token per line",
             v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    v = vocab_with("empty.txt", 9, "  \t");
    snprintf(want, sizeof want,
             "vocabulary '%s': line 9 is empty; every line must hold one token (line v names row "
             "v of the softmax weights)",
             v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    char nul[] = "<S>\n</S>\nab\0c\n<UNK>\n";
    v = gmu_write("v", "nul.txt", nul, sizeof nul - 1);
    snprintf(want, sizeof want,
             "vocabulary '%s': line 3 holds a NUL byte (at byte 2); a vocabulary is UTF-8 text, "
             "one token per line",
             v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    /* a line of 2 GB: a sparse file, read no further than the limit */
    v = gmu_write("v", "huge.txt", "<S>\n</S>\n<UNK>\nxyz", 18);
    FILE *f = fopen(v, "r+");
    CHECK(f && ftruncate(fileno(f), ((off_t)2 << 30) + 7) == 0);
    if (f) fclose(f);
    snprintf(want, sizeof want,
             "vocabulary '%s': line 4 is longer than 65536 bytes; a line holds one token (is "
             "this the vocabulary file?)",
             v);
    expect_load(TINY_SOFTMAX, v, 0, ELMO_ERR_FORMAT, want);
    unlink(v);
    snprintf(want, sizeof want,
             "vocabulary '%s' is a directory, not a regular file; a model is read from regular "
             "files only",
             gmu_path("v", ""));
    expect_load(TINY_SOFTMAX, gmu_path("v", ""), 0, ELMO_ERR_IO, want);
    snprintf(want, sizeof want, "cannot open vocabulary '%s': No such file or directory",
             gmu_path("v", "none.txt"));
    expect_load(TINY_SOFTMAX, gmu_path("v", "none.txt"), 0, ELMO_ERR_IO, want);
}

/* ---- the softmax weights -------------------------------------------------------------------- */

static const char *head(const char *name, const char *flags) {
    char all[1024];
    snprintf(all, sizeof all, "--shape tiny --softmax-only --vocab %s %s", TINY_VOCAB, flags);
    CHECK_INT(gmu_gen(name, all), 0);
    return gmu_path(name, "softmax_weights.hdf5");
}

/* Writes `value` at [row, col] of dataset `name` (a [rows, cols] or, col -1, [rows] one). */
static void poison(const char *path, const char *name, hsize_t row, long col, float value) {
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT), space = H5Dget_space(ds);
    hsize_t start[2] = {row, col < 0 ? 0 : (hsize_t)col}, one[2] = {1, 1};
    hid_t mem = H5Screate_simple(1, one, NULL);
    CHECK(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, NULL) >= 0);
    CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, &value) >= 0);
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(ds);
    H5Fclose(file);
}

static void test_softmax(void) {
    const char *p = head("narrow", "--reshape softmax/W=458,8");
    snprintf(want, sizeof want,
             "softmax weights '%s': dataset 'softmax/W' has shape [458, 8]; expected [458, 16]: "
             "one row per vocabulary token, and the model's projection_dim (16) columns",
             p);
    expect_load(p, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    p = head("rows", "--reshape softmax/W=400,16 --reshape softmax/b=400");
    snprintf(want, sizeof want,
             "softmax weights '%s': softmax/W has 400 rows but vocabulary '%s' has 458 tokens "
             "(row v is line v); give the vocabulary that belongs to these weights",
             p, TINY_VOCAB);
    expect_load(p, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    p = head("bshape", "--reshape softmax/b=457");
    snprintf(want, sizeof want,
             "softmax weights '%s': dataset 'softmax/b' has shape [457]; expected [458]: one "
             "bias per row of softmax/W",
             p);
    expect_load(p, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    p = head("nob", "--omit softmax/b");
    snprintf(want, sizeof want,
             "softmax weights '%s' have no dataset 'softmax/b' (expected float32 [458]); give the "
             "softmax weights file of this model (the published *_softmax_weights.hdf5)",
             p);
    expect_load(p, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    p = head("f64", "--dtype softmax/W=f64");
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'softmax/W' has type float64, expected float32", p);
    expect_load(p, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    p = head("nan", "");
    poison(p, "softmax/W", 300, 5, NAN);
    snprintf(want, sizeof want,
             "softmax weights '%s': softmax/W holds NaN at row 300, column 5; the head's weights "
             "must be finite (the file is corrupted)",
             p);
    expect_load(p, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    p = head("inf", "");
    poison(p, "softmax/b", 7, -1, -INFINITY);
    snprintf(want, sizeof want,
             "softmax weights '%s': softmax/b holds an infinity at index 7; the head's weights "
             "must be finite (the file is corrupted)",
             p);
    expect_load(p, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    snprintf(want, sizeof want,
             "softmax weights '%s' are neither an HDF5 nor a safetensors file (e.g. the "
             "published *_softmax_weights.hdf5)",
             TINY_VOCAB);
    expect_load(TINY_VOCAB, TINY_VOCAB, 0, ELMO_ERR_FORMAT, want);
    snprintf(want, sizeof want, "cannot open softmax weights '%s': No such file or directory",
             gmu_path("v", "none.hdf5"));
    expect_load(gmu_path("v", "none.hdf5"), TINY_VOCAB, 0, ELMO_ERR_IO, want);
}

static void test_parameters(void) {
    snprintf(want, sizeof want,
             "softmax weights '%s' need their vocabulary: give the vocabulary file too (line v "
             "names row v)",
             TINY_SOFTMAX);
    expect_load(TINY_SOFTMAX, NULL, 0, ELMO_ERR_ARG, want);
    snprintf(want, sizeof want,
             "model file '%s' holds no softmax weights (softmax/W); give the softmax weights "
             "file with the vocabulary (e.g. the published *_softmax_weights.hdf5)",
             TINY_WEIGHTS);
    expect_load(NULL, TINY_VOCAB, 0, ELMO_ERR_ARG, want);
    expect_load(TINY_SOFTMAX, TINY_VOCAB, 1, ELMO_ERR_ARG,
                "skip_head is set, but the softmax weights or the vocabulary are given too; "
                "give either");
    expect_load("", TINY_VOCAB, 0, ELMO_ERR_ARG, "the softmax weights path is empty");
}

/* ---- calls ---------------------------------------------------------------------------------- */

static void test_calls(void) {
    elmo_load_params p = elmo_load_default_params();
    p.softmax_path = TINY_SOFTMAX;
    p.vocab_path = TINY_VOCAB;
    elmo_model *m = NULL, *plain = NULL;
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, &p, &m, NULL), ELMO_OK);
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, NULL, &plain, NULL), ELMO_OK);
    if (!m || !plain) return;
    const char *text = "The flu season";
    elmo_span spans[3] = {{0, 3}, {4, 7}, {8, 14}};
    elmo_sentence s = {text, spans, 3};
    elmo_lm_token tok[5];
    double ppl;
    elmo_lm_prediction pr[4];
    int64_t mask = 1;
    elmo_error err;
    elmo_lm_params lp = elmo_lm_default_params();

    CHECK_INT(elmo_lm_score(plain, NULL, NULL, &s, 1, tok, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_score: the model has no language-model head; load it with "
                           "its softmax weights and vocabulary (elmo_load_params.softmax_path "
                           "and vocab_path)");
    CHECK_INT(elmo_lm_perplexity(NULL, NULL, NULL, &s, 1, &ppl, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_perplexity: model is NULL; load one first");
    lp.vocab_limit = 459;
    CHECK_INT(elmo_lm_perplexity(m, NULL, &lp, &s, 1, &ppl, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_perplexity: vocab_limit 459 is out of range; give 1 to 458 "
                           "(the rows of the head), or 0 for all");
    lp.vocab_limit = -1;
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &s, &mask, 1, 3, pr, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_predict: vocab_limit -1 is out of range; give 1 to 458 (the "
                           "rows of the head), or 0 for all");
    lp.vocab_limit = 100; /* <S> is row 20, <UNK> 117, </S> 224 */
    CHECK_INT(elmo_lm_score(m, NULL, &lp, &s, 1, tok, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_score: vocab_limit 100 leaves out '</S>' (row 224), which "
                           "every sentence needs as a target; give a vocab_limit above 224, or 0 "
                           "for all 458 rows");
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &s, &mask, 1, 4, pr, &err), ELMO_OK); /* no targets */
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &s, &mask, 1, 101, pr, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_predict: k = 101 is out of range; give 1 to 100 (the rows "
                           "scored)");
    lp.vocab_limit = 0;
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &s, &mask, 1, 0, pr, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_predict: k = 0 is out of range; give 1 to 458 (the rows "
                           "scored)");
    mask = 3;
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &s, &mask, 1, 4, pr, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_predict: masks[0] = 3 is not a token of sentence 0 (it has 3 "
                           "tokens); give a token index or ELMO_LM_NEXT_WORD");
    mask = -2;
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &s, &mask, 1, 4, pr, &err), ELMO_ERR_ARG);
    mask = 0;
    int64_t exclude[2] = {5, 458};
    lp.exclude = exclude;
    lp.n_exclude = 2;
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &s, &mask, 1, 4, pr, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_predict: exclude[1] = 458 is not a row of the vocabulary (0 "
                           "to 457)");
    lp = elmo_lm_default_params();
    lp.use_bias = 2;
    CHECK_INT(elmo_lm_score(m, NULL, &lp, &s, 1, tok, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_score: use_bias must be 0 or 1, got 2");
    lp = elmo_lm_default_params();
    lp.direction = (elmo_lm_direction)7;
    CHECK_INT(elmo_lm_perplexity(m, NULL, &lp, &s, 1, &ppl, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_perplexity: unknown direction 7");
    CHECK_INT(elmo_lm_score(m, NULL, NULL, &s, 1, NULL, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_score: out is NULL");
    CHECK_INT(elmo_lm_predict(m, NULL, NULL, &s, NULL, 1, 4, pr, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_predict: masks is NULL");
    CHECK_INT(elmo_lm_perplexity(m, NULL, NULL, NULL, 1, &ppl, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "elmo_lm_perplexity: sentences is NULL but n is 1");
    CHECK_INT(elmo_lm_perplexity(m, NULL, NULL, NULL, 0, NULL, &err), ELMO_OK); /* nothing */
    elmo_model_free(m);
    elmo_model_free(plain);
}

int main(void) {
    tiny_vocab = gmu_read(TINY_VOCAB, &tiny_len);
    CHECK(tiny_vocab != NULL);
    if (tiny_vocab) {
        test_vocabulary();
        test_softmax();
        test_parameters();
        test_calls();
    }
    free(tiny_vocab);
    gmu_cleanup();
    return harness_report("test_lm_errors");
}
