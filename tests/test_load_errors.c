/* test_load_errors.c - elmo_model_load on malformed and valid files (docs/model.md §2 and §4):
 * every bad options file and every bad weight file gives the right elmo_status and a message
 * naming the file, the key or dataset, and expected vs found values or shapes; a failed load
 * leaves *out NULL and leaks nothing (run under ASan/LSan too). Valid variants load and
 * elmo_model_get_info reports their sizes. Models come from $B/elmo-genmodel. */
#include <cJSON.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "genmodel_util.h"
#include "harness.h"

#define TINY_PARAMS 105120 /* docs/model.md §11.2 / the generator's count for --shape tiny */
#define SMALL_PARAMS 13593296

static int verbose;

/* Loads and expects failure with `code`; returns the message (static) for more checks.
 * Also checks that *out is reset to NULL and that err NULL is accepted. */
static const char *expect_fail(const char *opt, const char *w, int code, const char *needle) {
    static elmo_error err;
    elmo_model *m = (elmo_model *)&err; /* a non-NULL sentinel that must be overwritten */
    memset(&err, 0, sizeof err);
    int rc = elmo_model_load(opt, w, NULL, &m, &err);
    CHECK_INT(rc, code);
    CHECK_INT(err.code, code);
    CHECK(m == NULL);
    if (rc == ELMO_OK) elmo_model_free(m);
    if (needle) CHECK_CONTAINS(err.message, needle);
    if (verbose) printf("  [%s] %s\n", elmo_status_name(rc), err.message);
    elmo_model *m2 = NULL;
    CHECK_INT(elmo_model_load(opt, w, NULL, &m2, NULL), code); /* no error struct */
    if (m2) elmo_model_free(m2);
    return err.message;
}

/* ---- options files ------------------------------------------------------------------ */

static char *tiny_options_text;  /* the generated tiny options.json */
static const char *tiny_weights; /* its weights.hdf5 */
static int n_written;

/* The tiny options with the value at dotted `key` replaced by JSON `value` (NULL deletes
 * it), written to a new file; returns its path. */
static const char *options_with(const char *key, const char *value) {
    cJSON *root = cJSON_Parse(tiny_options_text);
    cJSON *obj = root;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", key);
    char *leaf = buf, *dot;
    while (obj && (dot = strchr(leaf, '.'))) {
        *dot = '\0';
        obj = cJSON_GetObjectItemCaseSensitive(obj, leaf);
        leaf = dot + 1;
    }
    CHECK(obj != NULL);
    const char *path = NULL;
    if (obj) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, leaf);
        if (value) {
            cJSON *v = cJSON_Parse(value);
            CHECK(v != NULL);
            cJSON_AddItemToObject(obj, leaf, v);
        }
        char *text = cJSON_Print(root);
        char name[32];
        snprintf(name, sizeof name, "opt%d", n_written++);
        path = text ? gmu_write(name, "options.json", text, strlen(text)) : NULL;
        cJSON_free(text);
    }
    cJSON_Delete(root);
    CHECK(path != NULL);
    return path;
}

static elmo_model *load_ok(const char *opt, const char *w, elmo_model_info *info);

static const char *write_text(const char *text) {
    char name[32];
    snprintf(name, sizeof name, "opt%d", n_written++);
    const char *path = gmu_write(name, "options.json", text, strlen(text));
    CHECK(path != NULL);
    return path;
}

/* A required key missing: FORMAT, naming the file and the dotted key. */
static void missing_key(const char *key) {
    const char *opt = options_with(key, NULL);
    char want[128];
    snprintf(want, sizeof want, "required key %s is missing", key);
    const char *msg = expect_fail(opt, tiny_weights, ELMO_ERR_FORMAT, want);
    CHECK_CONTAINS(msg, opt);
}

/* key = value is rejected with "<key> must be <expected>, found <found>". */
static void bad_value(const char *key, const char *value, const char *expected, const char *found) {
    const char *opt = options_with(key, value);
    char want[256];
    snprintf(want, sizeof want, "%s must be %s, found %s", key, expected, found);
    const char *msg = expect_fail(opt, tiny_weights, ELMO_ERR_FORMAT, want);
    CHECK_CONTAINS(msg, opt);
}

static void test_options_files(void) {
    const char *missing = gmu_path("nowhere", "options.json");
    const char *msg = expect_fail(missing, tiny_weights, ELMO_ERR_IO, missing);
    CHECK_CONTAINS(msg, "cannot open options file");
    CHECK_CONTAINS(msg, "No such file or directory");
    /* Both missing: the options are reported first. */
    expect_fail(missing, gmu_path("nowhere", "weights.hdf5"), ELMO_ERR_IO, missing);
    /* A directory opens but cannot be read. */
    msg = expect_fail(gmu_dir(), tiny_weights, ELMO_ERR_IO, gmu_dir());
    CHECK_CONTAINS(msg, "options file");

    const char *opt = write_text("{\"lstm\": ");
    msg = expect_fail(opt, tiny_weights, ELMO_ERR_FORMAT, opt);
    CHECK_CONTAINS(msg, "is not valid JSON (error near byte ");
    CHECK_CONTAINS(msg, ", line 1)");
    opt = write_text("{\n  \"char_cnn\": {\n    \"embedding\": {\"dim\": 4,}\n");
    msg = expect_fail(opt, tiny_weights, ELMO_ERR_FORMAT, "is not valid JSON");
    CHECK_CONTAINS(msg, "line 3");
    expect_fail(write_text(""), tiny_weights, ELMO_ERR_FORMAT, "is not valid JSON");
    /* Trailing garbage after a complete object (e.g. two files concatenated). */
    char *good = gmu_read(gmu_path("tiny", "options.json"), NULL);
    if (good) {
        size_t n = strlen(good);
        char *twice = malloc(2 * n + 1);
        memcpy(twice, good, n);
        memcpy(twice + n, good, n + 1);
        msg = expect_fail(write_text(twice), tiny_weights, ELMO_ERR_FORMAT, "is not valid JSON");
        char where[64];
        snprintf(where, sizeof where, "error near byte %zu", n);
        CHECK_CONTAINS(msg, where);
        free(twice);
        /* Trailing white space is fine. */
        char *spaced = malloc(n + 4);
        memcpy(spaced, good, n);
        memcpy(spaced + n, " \n\n", 4);
        elmo_model_info in;
        elmo_model *ok = load_ok(write_text(spaced), tiny_weights, &in);
        elmo_model_free(ok);
        free(spaced);
        free(good);
    }

    opt = write_text("[1, 2]");
    msg = expect_fail(opt, tiny_weights, ELMO_ERR_FORMAT, opt);
    CHECK_CONTAINS(msg, "the top level must be a JSON object with char_cnn and lstm, found [1,2]");
    expect_fail(write_text("\"char_cnn\""), tiny_weights, ELMO_ERR_FORMAT,
                "the top level must be a JSON object");
    expect_fail(write_text("{}"), tiny_weights, ELMO_ERR_FORMAT,
                "required key char_cnn is missing");

    const char *required[] = {"char_cnn",
                              "char_cnn.embedding",
                              "char_cnn.embedding.dim",
                              "char_cnn.filters",
                              "char_cnn.max_characters_per_token",
                              "char_cnn.activation",
                              "lstm",
                              "lstm.dim",
                              "lstm.projection_dim",
                              "lstm.use_skip_connections"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) missing_key(required[i]);

    bad_value("char_cnn", "[1]", "an object", "[1]");
    bad_value("lstm", "null", "an object", "null");
    bad_value("char_cnn.embedding", "4", "an object", "4");
    bad_value("char_cnn.activation", "\"sigmoid\"", "\"relu\" or \"tanh\"", "\"sigmoid\"");
    bad_value("char_cnn.activation", "1", "\"relu\" or \"tanh\"", "1");
    bad_value("char_cnn.activation", "\"RELU\"", "\"relu\" or \"tanh\"", "\"RELU\"");
    bad_value("lstm.cell_clip", "-1", "a non-negative number or null", "-1");
    bad_value("lstm.proj_clip", "\"3\"", "a non-negative number or null", "\"3\"");
    bad_value("lstm.dim", "64.5", "an integer from 1 to 65536", "64.5");
    bad_value("lstm.dim", "\"64\"", "an integer from 1 to 65536", "\"64\"");
    bad_value("lstm.dim", "0", "an integer from 1 to 65536", "0");
    bad_value("lstm.projection_dim", "-16", "an integer from 1 to 65536", "-16");
    bad_value("lstm.projection_dim", "1e300", "an integer from 1 to 65536", "1e+300");
    bad_value("char_cnn.embedding.dim", "[4]", "an integer from 1 to 4096", "[4]");
    bad_value("lstm.n_layers", "0", "an integer from 1 to 16", "0");
    bad_value("char_cnn.n_highway", "-1", "an integer from 0 to 64", "-1");
    bad_value("char_cnn.n_highway", "true", "an integer from 0 to 64", "true");
    bad_value("char_cnn.n_characters", "300", "an integer from 261 to 262", "300");
    bad_value("char_cnn.max_characters_per_token", "2", "an integer from 3 to 1024", "2");
    bad_value("lstm.use_skip_connections", "1", "true or false", "1");
    bad_value("lstm.use_skip_connections", "\"true\"", "true or false", "\"true\"");

    const char *pairs = "a list of 1 to 64 [width, count] pairs";
    bad_value("char_cnn.filters", "\"1:4\"", pairs, "\"1:4\"");
    bad_value("char_cnn.filters", "[]", pairs, "[]");
    bad_value("char_cnn.filters", "{\"1\": 4}", pairs, "{\"1\":4}");
    const char *pair = "a [width, count] pair with 1 <= width <= 50 (max_characters_per_token) "
                       "and 1 <= count <= 65536";
    msg = expect_fail(options_with("char_cnn.filters", "[[1, 4], [2]]"), tiny_weights,
                      ELMO_ERR_FORMAT, "char_cnn.filters[1] must be");
    CHECK_CONTAINS(msg, pair);
    CHECK_CONTAINS(msg, "found [2]");
    expect_fail(options_with("char_cnn.filters", "[[1, 4], [2, \"8\"]]"), tiny_weights,
                ELMO_ERR_FORMAT, "char_cnn.filters[1] must be");
    expect_fail(options_with("char_cnn.filters", "[[1, 4], 2]"), tiny_weights, ELMO_ERR_FORMAT,
                "char_cnn.filters[1] must be");
    expect_fail(options_with("char_cnn.filters", "[[0, 4]]"), tiny_weights, ELMO_ERR_FORMAT,
                "char_cnn.filters[0] must be");
    expect_fail(options_with("char_cnn.filters", "[[1, 0]]"), tiny_weights, ELMO_ERR_FORMAT,
                "char_cnn.filters[0] must be");
    expect_fail(options_with("char_cnn.filters", "[[1, 4.5]]"), tiny_weights, ELMO_ERR_FORMAT,
                "char_cnn.filters[0] must be");
    expect_fail(options_with("char_cnn.filters", "[[1, 4, 2]]"), tiny_weights, ELMO_ERR_FORMAT,
                "char_cnn.filters[0] must be");
    /* A filter wider than max_characters_per_token (50 here). */
    msg = expect_fail(options_with("char_cnn.filters", "[[1, 4], [51, 8]]"), tiny_weights,
                      ELMO_ERR_FORMAT, "char_cnn.filters[1] must be");
    CHECK_CONTAINS(msg, "width <= 50 (max_characters_per_token)");
    CHECK_CONTAINS(msg, "found [51,8]");

    opt = options_with("lstm.projection_dim", "128");
    msg = expect_fail(opt, tiny_weights, ELMO_ERR_FORMAT, opt);
    CHECK_CONTAINS(msg, "lstm.projection_dim (128) is larger than lstm.dim (64)");

    /* A file of more than 1 MiB (the small model's weights): probably swapped paths. */
    const char *big = gmu_path("small", "weights.hdf5");
    msg = expect_fail(big, gmu_path("small", "options.json"), ELMO_ERR_FORMAT, big);
    CHECK_CONTAINS(msg, "larger than 1 MiB");
    CHECK_CONTAINS(msg, "swap");
    /* The tiny weights (440 KB) as options: binary, with a NUL byte after the signature. */
    expect_fail(tiny_weights, tiny_weights, ELMO_ERR_FORMAT,
                "holds a NUL byte at byte 8; an options file is JSON text");
}

/* ---- weight files ------------------------------------------------------------------- */

/* Generates the tiny model with extra corruption flags under `name`. */
static const char *gen_weights(const char *name, const char *flags) {
    char all[512];
    snprintf(all, sizeof all, "--shape tiny --seed 7 --weights-only %s", flags);
    CHECK_INT(gmu_gen(name, all), 0);
    return gmu_path(name, "weights.hdf5");
}

/* The weights must fail with FORMAT, a message naming the file and containing `needle`. */
static void bad_weights(const char *name, const char *flags, const char *needle) {
    const char *w = gen_weights(name, flags);
    const char *msg = expect_fail(gmu_path("tiny", "options.json"), w, ELMO_ERR_FORMAT, needle);
    CHECK_CONTAINS(msg, w);
}

#define CELL(d, l, x) "RNN_" #d "/RNN/MultiRNNCell/Cell" #l "/LSTMCell/" x

static void test_missing_datasets(void) {
    const char *tail = "; check that the weights belong to these options";
    bad_weights("om_embed", "--omit char_embed",
                "has no dataset 'char_embed' (expected float32 [261, 4])");
    bad_weights("om_cnn3", "--omit CNN/W_cnn_3",
                "has no dataset 'CNN/W_cnn_3' (expected float32 [1, 4, 4, 32])");
    bad_weights("om_bcnn4", "--omit CNN/b_cnn_4",
                "has no dataset 'CNN/b_cnn_4' (expected float32 [64])");
    bad_weights("om_cnn", "--omit CNN",
                "has no dataset 'CNN/W_cnn_0' (expected float32 [1, 1, 4, 4])");
    bad_weights("om_high", "--omit CNN_high_1/W_transform",
                "has no dataset 'CNN_high_1/W_transform' (expected float32 [124, 124])");
    bad_weights("om_bcarry", "--omit CNN_high_0/b_carry",
                "has no dataset 'CNN_high_0/b_carry' (expected float32 [124])");
    bad_weights("om_proj", "--omit CNN_proj",
                "has no dataset 'CNN_proj/W_proj' (expected float32 [124, 16])");
    /* F != P: the projection is required, so one half missing is a missing dataset. */
    bad_weights("om_bproj", "--omit CNN_proj/b_proj",
                "has no dataset 'CNN_proj/b_proj' (expected float32 [16])");
    bad_weights("om_w0", "--omit " CELL(1, 0, "W_0"),
                "has no dataset '" CELL(1, 0, "W_0") "' (expected float32 [32, 256])");
    bad_weights("om_b", "--omit " CELL(1, 1, "B"),
                "has no dataset '" CELL(1, 1, "B") "' (expected float32 [256])");
    bad_weights("om_rnn1", "--omit RNN_1", "has no dataset '" CELL(1, 0, "W_0") "'");
    bad_weights("om_wp", "--omit " CELL(0, 1, "W_P_0"),
                "has no dataset '" CELL(0, 1, "W_P_0") "' (expected float32 [64, 16])");
    const char *w = gmu_path("om_embed", "weights.hdf5");
    CHECK_CONTAINS(expect_fail(gmu_path("tiny", "options.json"), w, ELMO_ERR_FORMAT, w), tail);
}

static void test_wrong_shapes_and_types(void) {
    bad_weights("rs_carry", "--reshape CNN_high_0/W_carry=124,123",
                "dataset 'CNN_high_0/W_carry' has shape [124, 123], expected [124, 124]");
    bad_weights("rs_embed", "--reshape char_embed=260,4",
                "dataset 'char_embed' has shape [260, 4], expected [261, 4]");
    bad_weights("rs_rank3", "--reshape char_embed=261,4,1",
                "dataset 'char_embed' has shape [261, 4, 1], expected [261, 4]");
    bad_weights("rs_empty", "--reshape CNN/b_cnn_0=0",
                "dataset 'CNN/b_cnn_0' has shape [0], expected [4]");
    bad_weights("rs_conv", "--reshape CNN/W_cnn_2=3,4,16",
                "dataset 'CNN/W_cnn_2' has shape [3, 4, 16], expected [1, 3, 4, 16]");
    bad_weights("rs_w0", "--reshape " CELL(0, 1, "W_0") "=256,32",
                "dataset '" CELL(0, 1, "W_0") "' has shape [256, 32], expected [32, 256]");
    bad_weights("rs_wp", "--reshape " CELL(1, 0, "W_P_0") "=16,64",
                "dataset '" CELL(1, 0, "W_P_0") "' has shape [16, 64], expected [64, 16]");
    bad_weights("rs_proj", "--reshape CNN_proj/b_proj=17",
                "dataset 'CNN_proj/b_proj' has shape [17], expected [16]");
    /* Rank 6: the message shows the first 5 dims and says so. */
    bad_weights("rs_rank6", "--reshape char_embed=1,1,1,1,261,4",
                "dataset 'char_embed' has shape [1, 1, 1, 1, 261] (truncated), expected [261, 4]");

    bad_weights("dt_f64", "--dtype CNN_high_0/W_carry=f64",
                "dataset 'CNN_high_0/W_carry' has type float64, expected float32");
    bad_weights("dt_i32", "--dtype CNN/b_cnn_2=i32",
                "dataset 'CNN/b_cnn_2' has type int32, expected float32");
    bad_weights("dt_f16", "--dtype char_embed=f16",
                "dataset 'char_embed' has type float16, expected float32");
    bad_weights("dt_w0", "--dtype " CELL(1, 1, "W_0") "=f64",
                "dataset '" CELL(1, 1, "W_0") "' has type float64, expected float32");

    /* The tiny options with the small model's weights, and the other way round. */
    const char *msg =
        expect_fail(gmu_path("tiny", "options.json"), gmu_path("small", "weights.hdf5"),
                    ELMO_ERR_FORMAT, "dataset 'char_embed' has shape [261, 16], expected [261, 4]");
    CHECK_CONTAINS(msg, gmu_path("small", "weights.hdf5"));
    expect_fail(gmu_path("small", "options.json"), tiny_weights, ELMO_ERR_FORMAT,
                "dataset 'char_embed' has shape [261, 4], expected [261, 16]");
    /* Options asking for more than the file has. */
    expect_fail(options_with("char_cnn.n_highway", "3"), tiny_weights, ELMO_ERR_FORMAT,
                "has no dataset 'CNN_high_2/W_carry' (expected float32 [124, 124])");
    expect_fail(options_with("lstm.n_layers", "3"), tiny_weights, ELMO_ERR_FORMAT,
                "has no dataset '" CELL(0, 2, "W_0") "' (expected float32 [32, 256])");
    expect_fail(options_with("lstm.projection_dim", "8"), tiny_weights, ELMO_ERR_FORMAT,
                "dataset 'CNN_proj/W_proj' has shape [124, 16], expected [124, 8]");
    expect_fail(options_with("char_cnn.filters", "[[1, 4], [2, 8], [3, 16], [4, 32], [6, 64]]"),
                tiny_weights, ELMO_ERR_FORMAT,
                "dataset 'CNN/W_cnn_4' has shape [1, 5, 4, 64], expected [1, 6, 4, 64]");
    /* Options describing less than the file has (a key left at its default). */
    expect_fail(options_with("char_cnn.n_highway", "1"), tiny_weights, ELMO_ERR_FORMAT,
                "has 'CNN_high_1', which the options do not use (char_cnn.n_highway is 1)");
    expect_fail(options_with("lstm.n_layers", "1"), tiny_weights, ELMO_ERR_FORMAT,
                "has 'RNN_0/RNN/MultiRNNCell/Cell1', which the options do not use "
                "(lstm.n_layers is 1)");
    /* Dropping the last filter bank keeps F != P, so only the extra bank betrays it. */
    expect_fail(options_with("char_cnn.filters", "[[1, 4], [2, 8], [3, 16], [4, 32]]"),
                tiny_weights, ELMO_ERR_FORMAT, "CNN_high_0/W_carry");
}

/* Optional projections (F == P, P == H) must be all there or all absent. */
static void test_partial_projections(void) {
    const char *eq = "--filters 1:8,2:8 --proj 16 --dim 16";
    char flags[256];
    const char *opt_names[] = {"pp_wproj", "pp_bproj", "pp_lstm"};
    const char *extra[] = {"--force-cnn-proj --omit CNN_proj/b_proj",
                           "--force-cnn-proj --omit CNN_proj/W_proj",
                           "--force-lstm-proj --omit " CELL(1, 1, "W_P_0")};
    const char *needle[] = {"has only one of CNN_proj/W_proj and CNN_proj/b_proj",
                            "has only one of CNN_proj/W_proj and CNN_proj/b_proj",
                            "lacks '" CELL(1, 1, "W_P_0") "' but has it for the first cell"};
    for (int i = 0; i < 3; i++) {
        snprintf(flags, sizeof flags, "--seed 3 %s %s", eq, extra[i]);
        CHECK_INT(gmu_gen(opt_names[i], flags), 0);
        const char *w = gmu_path(opt_names[i], "weights.hdf5");
        const char *msg =
            expect_fail(gmu_path(opt_names[i], "options.json"), w, ELMO_ERR_FORMAT, needle[i]);
        CHECK_CONTAINS(msg, w);
    }
}

/* Replaces dataset `name` of a copy of the tiny weights by an empty group. */
static const char *weights_with_group(const char *name) {
    size_t len = 0;
    char *bytes = gmu_read(tiny_weights, &len);
    const char *path = bytes ? gmu_write("grp", "weights.hdf5", bytes, len) : NULL;
    free(bytes);
    CHECK(path != NULL);
    if (!path) return NULL;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0);
    CHECK(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(g >= 0);
    H5Gclose(g);
    H5Fclose(f);
    return path;
}

static void test_not_hdf5(void) {
    const char *opt = gmu_path("tiny", "options.json");
    const char *missing = gmu_path("nowhere", "weights.hdf5");
    const char *msg = expect_fail(opt, missing, ELMO_ERR_IO, missing);
    CHECK_CONTAINS(msg, "cannot open weights file");
    CHECK_CONTAINS(msg, "No such file or directory");

    msg = expect_fail(opt, opt, ELMO_ERR_FORMAT, opt); /* the options file as weights */
    CHECK_CONTAINS(msg, "is not an HDF5 file");
    msg = expect_fail(opt, gmu_write("empty", "weights.hdf5", "", 0), ELMO_ERR_FORMAT,
                      "is not an HDF5 file");
    CHECK_CONTAINS(msg, gmu_path("empty", "weights.hdf5"));
    msg = expect_fail(opt, gmu_dir(), ELMO_ERR_IO, gmu_dir());
    CHECK_CONTAINS(msg, "is a directory, not a regular file");

    /* Truncated copies: the superblock alone (< 8 bytes: not even the signature), part of
     * the metadata, part of the data, all but the last byte. */
    static const long sizes[] = {1, 8, 96, 800, 4096, 60000, 300000, 450879};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char name[32], flags[64];
        snprintf(name, sizeof name, "trunc%ld", sizes[i]);
        snprintf(flags, sizeof flags, "--truncate %ld", sizes[i]);
        const char *w = gen_weights(name, flags);
        msg = expect_fail(opt, w, ELMO_ERR_FORMAT, w);
        if (sizes[i] < 8) {
            CHECK_CONTAINS(msg, "is not an HDF5 file");
        } else {
            CHECK_CONTAINS(msg, "as HDF5 (the file is truncated or corrupted");
        }
    }

    const char *w = weights_with_group("char_embed");
    if (w) {
        msg = expect_fail(opt, w, ELMO_ERR_FORMAT, w);
        CHECK_CONTAINS(msg, "'char_embed' exists but is not a dataset");
    }
}

/* ---- valid models ---------------------------------------------------------------------- */

static elmo_model *load_ok(const char *opt, const char *w, elmo_model_info *info) {
    elmo_model *m = NULL;
    elmo_error err;
    int rc = elmo_model_load(opt, w, NULL, &m, &err);
    CHECK_INT(rc, ELMO_OK);
    CHECK_INT(err.code, ELMO_OK);
    CHECK_STR(err.message, "");
    if (rc) fprintf(stderr, "  load %s: %s\n", opt, err.message);
    memset(info, 0, sizeof *info);
    if (m) elmo_model_get_info(m, info);
    return m;
}

static void check_tiny_info(const elmo_model_info *in) {
    CHECK_INT(in->output_dim, 32);
    CHECK_INT(in->n_output_layers, 3);
    CHECK_INT(in->n_lstm_layers, 2);
    CHECK_INT(in->projection_dim, 16);
    CHECK_INT(in->lstm_dim, 64);
    CHECK_INT(in->char_embed_dim, 4);
    CHECK_INT(in->n_filters, 124);
    CHECK_INT(in->n_highway, 2);
    CHECK_INT(in->max_chars_per_token, 50);
    CHECK_INT(in->use_skip_connections, 1);
    CHECK_INT(in->relu_activation, 1);
    CHECK(in->cell_clip == 3.0f);
    CHECK(in->proj_clip == 3.0f);
    CHECK_INT(in->n_params, TINY_PARAMS);
    /* Packed weights may pad panels, never hold less than the float32 values. */
    CHECK(in->weight_bytes >= 4 * TINY_PARAMS && in->weight_bytes <= 8 * TINY_PARAMS);
    CHECK_INT(in->precision, ELMO_PRECISION_FP32);
    CHECK_INT((int)strlen(in->fingerprint), 16);
    CHECK_INT((int)strspn(in->fingerprint, "0123456789abcdef"), 16);
}

static void test_valid_models(void) {
    elmo_model_info in;
    elmo_model *m = load_ok("models/elmo-tiny/options.json", "models/elmo-tiny/weights.hdf5", &in);
    check_tiny_info(&in);
    elmo_model_free(m);
    m = load_ok(gmu_path("tiny", "options.json"), tiny_weights, &in);
    check_tiny_info(&in);
    elmo_model_free(m);

    /* The small published shape: 13.6M parameters (load time is measured by bench/). */
    m = load_ok(gmu_path("small", "options.json"), gmu_path("small", "weights.hdf5"), &in);
    CHECK_INT(in.n_params, SMALL_PARAMS);
    CHECK_INT(in.weight_bytes, 4LL * SMALL_PARAMS);
    CHECK_INT(in.output_dim, 256);
    CHECK_INT(in.n_output_layers, 3);
    CHECK_INT(in.lstm_dim, 1024);
    CHECK_INT(in.n_filters, 2048);
    CHECK_INT(in.n_highway, 1);
    elmo_model_free(m);

    /* "No clipping" written as null, absent or 0: all load with clip 0. */
    const char *styles[] = {"null", "absent", "zero"};
    for (int i = 0; i < 3; i++) {
        char name[32], flags[128];
        snprintf(name, sizeof name, "clip_%s", styles[i]);
        snprintf(flags, sizeof flags, "--seed 4 --cell-clip 0 --proj-clip 0 --clip-style %s",
                 styles[i]);
        CHECK_INT(gmu_gen(name, flags), 0);
        m = load_ok(gmu_path(name, "options.json"), gmu_path(name, "weights.hdf5"), &in);
        CHECK(in.cell_clip == 0.0f);
        CHECK(in.proj_clip == 0.0f);
        CHECK_INT(in.n_params, TINY_PARAMS);
        elmo_model_free(m);
    }
    CHECK_INT(gmu_gen("clip_mixed", "--seed 4 --cell-clip 2.5 --proj-clip none"), 0);
    m = load_ok(gmu_path("clip_mixed", "options.json"), gmu_path("clip_mixed", "weights.hdf5"),
                &in);
    CHECK(in.cell_clip == 2.5f);
    CHECK(in.proj_clip == 0.0f);
    elmo_model_free(m);

    /* Option variants: tanh, no skip, 0 highway, 3 layers, 20 chars per token. */
    CHECK_INT(gmu_gen("variant", "--seed 4 --activation tanh --no-skip --highway 0 --layers 3 "
                                 "--max-chars 20 --char-dim 8"),
              0);
    m = load_ok(gmu_path("variant", "options.json"), gmu_path("variant", "weights.hdf5"), &in);
    CHECK_INT(in.relu_activation, 0);
    CHECK_INT(in.use_skip_connections, 0);
    CHECK_INT(in.n_highway, 0);
    CHECK_INT(in.n_lstm_layers, 3);
    CHECK_INT(in.n_output_layers, 4);
    CHECK_INT(in.max_chars_per_token, 20);
    CHECK_INT(in.char_embed_dim, 8);
    /* 261*8 + conv (1*8*4+4 + 2*8*8+8 + 3*8*16+16 + 4*8*32+32 + 5*8*64+64) + proj 124*16+16
     * + 2 directions * 3 layers * (32*256 + 256 + 64*16) */
    CHECK_INT(in.n_params,
              261 * 8 + (36 + 136 + 400 + 1056 + 2624) + (1984 + 16) + 6 * (8192 + 256 + 1024));
    elmo_model_free(m);

    /* F == P and P == H without the optional projections; and with them. */
    CHECK_INT(gmu_gen("noproj", "--seed 4 --filters 1:8,2:8 --proj 16 --dim 16"), 0);
    m = load_ok(gmu_path("noproj", "options.json"), gmu_path("noproj", "weights.hdf5"), &in);
    /* 261*4 + (1*4*8+8 + 2*4*8+8) + 2 highway * (2*16*16 + 2*16) + 4 cells * (32*64 + 64) */
    CHECK_INT(in.n_params, 1044 + 112 + 2 * 544 + 4 * 2112);
    elmo_model_free(m);
    CHECK_INT(gmu_gen("forced", "--seed 4 --filters 1:8,2:8 --proj 16 --dim 16 "
                                "--force-cnn-proj --force-lstm-proj"),
              0);
    m = load_ok(gmu_path("forced", "options.json"), gmu_path("forced", "weights.hdf5"), &in);
    CHECK_INT(in.n_params, 1044 + 112 + 2 * 544 + 4 * 2112 + (256 + 16) + 4 * 256);
    elmo_model_free(m);

    /* Optional keys absent take their defaults; n_characters 261 (the training value). */
    CHECK_INT(gmu_gen("one_layer", "--seed 4 --layers 1 --highway 0"), 0);
    char *text = gmu_read(gmu_path("one_layer", "options.json"), NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(root != NULL);
    if (root) {
        cJSON *cnn = cJSON_GetObjectItemCaseSensitive(root, "char_cnn");
        cJSON *lstm = cJSON_GetObjectItemCaseSensitive(root, "lstm");
        cJSON_DeleteItemFromObjectCaseSensitive(cnn, "n_highway");
        cJSON_DeleteItemFromObjectCaseSensitive(cnn, "n_characters");
        cJSON_DeleteItemFromObjectCaseSensitive(lstm, "n_layers");
        cJSON_DeleteItemFromObjectCaseSensitive(lstm, "cell_clip");
        cJSON_DeleteItemFromObjectCaseSensitive(lstm, "proj_clip");
        char *printed = cJSON_Print(root);
        const char *opt = gmu_write("one_layer", "defaults.json", printed, strlen(printed));
        cJSON_free(printed);
        cJSON_Delete(root);
        m = load_ok(opt, gmu_path("one_layer", "weights.hdf5"), &in);
        CHECK_INT(in.n_highway, 0);
        CHECK_INT(in.n_lstm_layers, 1);
        CHECK(in.cell_clip == 0.0f && in.proj_clip == 0.0f);
        elmo_model_free(m);
    }
    m = load_ok(options_with("char_cnn.n_characters", "261"), tiny_weights, &in);
    CHECK_INT(in.n_params, TINY_PARAMS);
    elmo_model_free(m);

    /* Argument errors. */
    elmo_error err;
    CHECK_INT(elmo_model_load(NULL, tiny_weights, NULL, &m, &err), ELMO_ERR_ARG);
    CHECK(m == NULL);
    CHECK_CONTAINS(err.message, "options");
    CHECK_INT(elmo_model_load(gmu_path("tiny", "options.json"), NULL, NULL, &m, &err),
              ELMO_ERR_ARG);
    CHECK_INT(elmo_model_load(gmu_path("tiny", "options.json"), tiny_weights, NULL, NULL, &err),
              ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, "out is NULL");
}

/* A directory model whose weights lack a dataset: the message names the weights file the
 * loader found inside the directory (it once pointed at a buffer that had gone). */
static void test_directory_message(void) {
    if (gmu_gen("dir_missing", "--shape tiny --seed 7 --omit CNN/W_cnn_3") != 0) {
        CHECK(0 && "elmo-genmodel failed");
        return;
    }
    char dir[512], expected[1024];
    snprintf(dir, sizeof dir, "%s/dir_missing", gmu_dir());
    snprintf(expected, sizeof expected,
             "weights file '%s/weights.hdf5' has no dataset 'CNN/W_cnn_3' (expected float32 "
             "[1, 4, 4, 32]); check that the weights belong to these options",
             dir);
    elmo_model *m = NULL;
    elmo_error err;
    for (int pass = 0; pass < 2; pass++) { /* twice: the stack is reused between calls */
        CHECK_INT(elmo_model_load_path(dir, NULL, &m, &err), ELMO_ERR_FORMAT);
        CHECK_STR(err.message, expected);
        CHECK(m == NULL);
    }
}

int main(void) {
    verbose = getenv("VERBOSE") != NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our own HDF5 calls stay quiet */
    int ok = gmu_gen("tiny", "--shape tiny --seed 7") == 0 &&
             gmu_gen("small", "--shape small --seed 2") == 0;
    CHECK(ok);
    if (ok) {
        tiny_weights = gmu_path("tiny", "weights.hdf5");
        tiny_options_text = gmu_read(gmu_path("tiny", "options.json"), NULL);
        CHECK(tiny_options_text != NULL);
    }
    if (ok && tiny_options_text) {
        static char weights_path[512];
        snprintf(weights_path, sizeof weights_path, "%s", tiny_weights); /* outlives the ring */
        tiny_weights = weights_path;
        test_options_files();
        test_missing_datasets();
        test_directory_message();
        test_wrong_shapes_and_types();
        test_partial_projections();
        test_not_hdf5();
        test_valid_models();
    }
    free(tiny_options_text);
    gmu_cleanup();
    return harness_report("test_load_errors");
}
