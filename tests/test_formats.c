/* test_formats.c - model file formats: crc32c vectors, safetensors and TensorFlow
 * checkpoints (bilm-tf names, TF-Hub module names) written here from the formats'
 * descriptions give byte-identical outputs to the HDF5 original; conversion round trips;
 * every malformed file is a clear error naming the file and the tensor. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "elmo.h"
#include "fixture_io.h"
#include "genmodel_util.h"
#include "harness.h"
#include "model.h"
#include "model_files.h"
#include "safetensors.h"
#include "tf_writer.h"

#define MAXT 64

/* The tiny model's tensors as the HDF5 source gives them. */
typedef struct tensors {
    elmo_tensor_out t[MAXT]; /* AllenNLP names */
    char names[MAXT][96];
    int n;
    char *options;
} tensors;

static tensors tiny;

/* Reads every tensor of an options + weights pair into *out. */
static void read_model(const char *options, const char *weights, tensors *out) {
    elmo_model_files f;
    elmo_error err;
    elmo_config cfg;
    memset(out, 0, sizeof *out);
    CHECK_INT(elmo_model_files_open(options, weights, &f, &err), ELMO_OK);
    CHECK_INT(elmo_options_parse_text(f.options_json, strlen(f.options_json), "x", &cfg, &err), 0);
    elmo_tensor_desc list[MAXT];
    int n = elmo_weights_list(&cfg, list, MAXT);
    for (int i = 0; i < n; i++) {
        int rank;
        int64_t dims[ELMO_MAX_RANK];
        if (f.src->find(f.src, list[i].name, &rank, dims, &err) != 1) continue;
        size_t numel = 1;
        for (int d = 0; d < rank; d++) numel *= (size_t)dims[d];
        float *x = malloc(numel * sizeof *x); /* [numel] */
        CHECK_INT(f.src->read(f.src, list[i].name, x, numel, &err), ELMO_OK);
        elmo_tensor_out *o = &out->t[out->n];
        memcpy(out->names[out->n], list[i].name, 96);
        *o = (elmo_tensor_out){.name = out->names[out->n], .rank = rank, .data = x};
        memcpy(o->dims, dims, sizeof(int64_t) * (size_t)rank);
        out->n++;
    }
    out->options = strdup(f.options_json);
    elmo_model_files_close(&f);
}

static void free_model(tensors *t) {
    for (int i = 0; i < t->n; i++) free((void *)t->t[i].data);
    free(t->options);
}

static size_t numel(const elmo_tensor_out *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->dims[i];
    return n;
}

/* ---- running ---------------------------------------------------------------------------- */

static const char *const texts[] = {"The quick brown fox jumps over the lazy dog .",
                                    "ELMo embeddings , computed in SQLite !", "a"};
#define N_TEXTS 3

/* Every output layer of every text, concatenated: *n floats (malloc'd). */
static float *run_all(const elmo_model *m, size_t *n) {
    elmo_span spans[N_TEXTS][32];
    elmo_sentence s[N_TEXTS];
    for (int i = 0; i < N_TEXTS; i++) {
        size_t k = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, texts[i], strlen(texts[i]), spans[i], 32);
        s[i] = (elmo_sentence){texts[i], spans[i], k};
    }
    elmo_result *r = NULL;
    elmo_run_params p = elmo_run_default_params();
    p.n_threads = 1;
    if (elmo_run(m, &p, s, N_TEXTS, NULL, &r, NULL) != ELMO_OK) return NULL;
    size_t D = (size_t)elmo_result_dim(r), L = (size_t)elmo_result_layers(r), total = 0;
    for (int i = 0; i < N_TEXTS; i++) total += elmo_result_tokens(r, (size_t)i) * D * L;
    float *out = malloc(total * sizeof *out), *at = out; /* [total] */
    for (int i = 0; i < N_TEXTS; i++)
        for (size_t k = 0; k < L; k++) {
            size_t len = elmo_result_tokens(r, (size_t)i) * D;
            memcpy(at, elmo_result_layer(r, (size_t)i, (int)k), len * sizeof *at);
            at += len;
        }
    elmo_result_free(r);
    *n = total;
    return out;
}

static float *reference;
static size_t reference_n;
static elmo_model_info reference_info;

/* Loads `path` and checks its outputs are byte-identical to the HDF5 original. */
static void check_identical(const char *path, const char *format) {
    elmo_model *m = NULL;
    elmo_error err;
    elmo_load_params lp = elmo_load_default_params();
    lp.precision = ELMO_PRECISION_FP32;
    int rc = elmo_model_load_path(path, &lp, &m, &err);
    CHECK_INT(rc, ELMO_OK);
    if (rc) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    CHECK_STR(info.format, format);
    size_t n = 0;
    float *out = run_all(m, &n);
    CHECK(out != NULL);
    CHECK_INT(n, reference_n);
    CHECK(out && n == reference_n && memcmp(out, reference, n * sizeof *out) == 0);
    free(out);
    elmo_model_free(m);
}

/* ---- crc32c ------------------------------------------------------------------------------ */

static void test_crc32c(void) {
    unsigned char b[32];
    memset(b, 0, 32);
    CHECK_INT(elmo_crc32c(0, b, 32), 0x8A9136AA);
    memset(b, 0xff, 32);
    CHECK_INT(elmo_crc32c(0, b, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++) b[i] = (unsigned char)i;
    CHECK_INT(elmo_crc32c(0, b, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++) b[i] = (unsigned char)(31 - i);
    CHECK_INT(elmo_crc32c(0, b, 32), 0x113FDB5C);
    CHECK_INT(elmo_crc32c(0, "123456789", 9), 0xE3069283);
    CHECK_INT(elmo_crc32c(elmo_crc32c(0, "1234", 4), "56789", 5), 0xE3069283);
    CHECK_INT(elmo_crc32c_mask(0), 0xa282ead8);
}

/* ---- safetensors ------------------------------------------------------------------------- */

static const char *write_st(const char *name, const elmo_tensor_out *t, int n, int bf16) {
    const char *path = gmu_path("st", name);
    mkdir(gmu_path("st", ""), 0700);
    elmo_error err;
    CHECK_INT(elmo_safetensors_write(path, tiny.options, t, n, bf16, &err), ELMO_OK);
    return path;
}

/* Token cosine >= 0.9999 and pooled (layer average, token mean) cosine >= 0.99999 against
 * the fp32 reference. */
static void check_bf16_bounds(const elmo_model *m, const char *what) {
    size_t n = 0;
    float *out = run_all(m, &n);
    CHECK(out && n == reference_n);
    size_t D = (size_t)reference_info.output_dim, L = (size_t)reference_info.n_output_layers;
    double worst = 1, worst_pooled = 1;
    for (size_t i = 0; out && i + D <= n; i += D) {
        double c = harness_cosine(out + i, reference + i, D);
        if (c < worst) worst = c;
    }
    size_t at = 0;
    for (int i = 0; out && n == reference_n && i < N_TEXTS; i++) {
        size_t nt = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, texts[i], strlen(texts[i]), NULL, 0);
        float pa[64] = {0}, pb[64] = {0};
        for (size_t k = 0; k < L; k++)
            for (size_t t = 0; t < nt; t++)
                for (size_t d = 0; d < D && d < 64; d++) {
                    pa[d] += out[at + (k * nt + t) * D + d];
                    pb[d] += reference[at + (k * nt + t) * D + d];
                }
        at += L * nt * D;
        double c = harness_cosine(pa, pb, D < 64 ? D : 64);
        if (c < worst_pooled) worst_pooled = c;
    }
    printf("  %s: worst token cosine vs fp32 = %.7f, worst pooled cosine = %.8f\n", what, worst,
           worst_pooled);
    CHECK(worst >= 0.9999);
    CHECK(worst_pooled >= 0.99999);
    free(out);
}

static void test_safetensors_roundtrip(void) {
    const char *path = write_st("tiny.safetensors", tiny.t, tiny.n, 0);
    check_identical(path, "safetensors");
    elmo_model *m = NULL;
    CHECK_INT(elmo_model_load_path(path, NULL, &m, NULL), ELMO_OK);
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    CHECK_STR(info.fingerprint, reference_info.fingerprint); /* same values, same model */
    CHECK_INT(info.precision, ELMO_PRECISION_FP32);
    elmo_model_free(m);
    /* The options may also be given explicitly (elmo_model_load with a safetensors file). */
    CHECK_INT(elmo_model_load(TINY_OPTIONS, path, NULL, &m, NULL), ELMO_OK);
    elmo_model_free(m);

    /* bf16: the file's values are the bf16-rounded weights; loaded with fp32 arithmetic and,
     * where the CPU has AVX512-BF16, with bf16 arithmetic (AUTO for a bf16 file). */
    const char *bpath = write_st("tiny-bf16.safetensors", tiny.t, tiny.n, 1);
    elmo_load_params lp = elmo_load_default_params();
    lp.precision = ELMO_PRECISION_FP32;
    CHECK_INT(elmo_model_load_path(bpath, &lp, &m, NULL), ELMO_OK);
    check_bf16_bounds(m, "bf16 file, fp32 arithmetic");
    elmo_model_free(m);
    if (elmo_precision_supported(ELMO_PRECISION_BF16)) {
        CHECK_INT(elmo_model_load_path(bpath, NULL, &m, NULL), ELMO_OK);
        elmo_model_get_info(m, &info);
        CHECK_INT(info.precision, ELMO_PRECISION_BF16);
        check_bf16_bounds(m, "bf16 file, bf16 arithmetic");
        elmo_model_free(m);
    } else {
        printf("  (no AVX512-BF16 here: bf16 precision not exercised)\n");
    }
}

/* Writes raw bytes: an 8-byte length, the header text, then `data` bytes of zeros. */
static const char *raw_st(const char *name, uint64_t declared, const char *header, size_t data) {
    size_t hl = strlen(header);
    unsigned char *b = calloc(1, 8 + hl + data + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(declared >> (8 * i));
    memcpy(b + 8, header, hl);
    const char *p = gmu_write("st", name, b, 8 + hl + data);
    free(b);
    return p;
}

static void expect_st(const char *path, const char *message) {
    elmo_model *m = (elmo_model *)1;
    elmo_error err;
    CHECK_INT(elmo_model_load_path(path, NULL, &m, &err), ELMO_ERR_FORMAT);
    CHECK(m == NULL);
    char want[1024];
    snprintf(want, sizeof want, message, path);
    CHECK_STR(err.message, want);
}

static void test_safetensors_errors(void) {
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    /* Size and header length. */
    expect_st(raw_st("short.safetensors", 100, "{", 0),
              "safetensors file '%s' declares a 100-byte header but has only 1 bytes after the "
              "length (the file is truncated)");
    expect_st(raw_st("huge.safetensors", (uint64_t)1 << 40, "{}", 0),
              "safetensors file '%s' declares a 1099511627776-byte header; at most 100 MiB is "
              "accepted (the file is corrupted or not safetensors)");
    expect_st(raw_st("json.safetensors", 5, "{\"a\":", 0),
              "safetensors file '%s': the header is not a JSON object (the file is corrupted or "
              "not safetensors)");
    expect_st(raw_st("tail.safetensors", 4, "{}x ", 0),
              "safetensors file '%s': bytes follow the header's JSON object");
    expect_st(raw_st("trunc.safetensors", strlen(good), good, 7),
              "safetensors file '%s': tensor 'a' has data_offsets [0, 8] outside the 7-byte data "
              "section (the file is truncated or corrupted)");
    const char *h = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    expect_st(raw_st("dtype.safetensors", strlen(h), h, 4),
              "safetensors file '%s': tensor 'a' has dtype 'F16'; valid dtypes: F32, BF16");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
    expect_st(
        raw_st("size.safetensors", strlen(h), h, 8),
        "safetensors file '%s': tensor 'a' has 8 data bytes, but its shape and dtype need 12");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}"
        "}";
    expect_st(raw_st("hugeshape.safetensors", strlen(h), h, 8),
              "safetensors file '%s': tensor 'a' has more than 2^40 elements");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}";
    expect_st(raw_st("negshape.safetensors", strlen(h), h, 8),
              "safetensors file '%s': tensor 'a' has a dimension that is not an integer from 0 "
              "to 2^40");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
    expect_st(raw_st("dup.safetensors", strlen(h), h, 16),
              "safetensors file '%s': tensor 'a' appears twice in the header");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    expect_st(raw_st("overlap.safetensors", strlen(h), h, 12),
              "safetensors file '%s': tensor 'b' overlaps the previous tensor's bytes");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    expect_st(raw_st("gap.safetensors", strlen(h), h, 12),
              "safetensors file '%s': tensor 'a' starts after a gap in the data section");
    expect_st(raw_st("extra.safetensors", strlen(good), good, 12),
              "safetensors file '%s': the data section has 12 bytes but the tensors use 8 (the "
              "file is corrupted)");
    h = "{\"__metadata__\":{\"elmo_options\":3}}";
    expect_st(raw_st("meta.safetensors", strlen(h), h, 0),
              "safetensors file '%s': metadata value 'elmo_options' is not a string");
    expect_st(raw_st("nometa.safetensors", strlen(good), good, 8),
              "safetensors file '%s' has no 'elmo_options' in its __metadata__; write it with "
              "'elmo convert', which stores the model's options there");

    /* Model-level errors: a missing and an unexpected tensor. */
    elmo_tensor_out t[MAXT + 1];
    memcpy(t, tiny.t, sizeof(elmo_tensor_out) * (size_t)tiny.n);
    const char *p = write_st("missing.safetensors", t + 1, tiny.n - 1, 0);
    expect_st(p, "weights file '%s' has no dataset 'char_embed' (expected float32 [261, 4]); "
                 "check that the weights belong to these options");
    t[tiny.n] = t[0];
    t[tiny.n].name = "lm/softmax/W";
    p = write_st("unused.safetensors", t, tiny.n + 1, 0);
    expect_st(p, "safetensors file '%s' holds tensor 'lm/softmax/W', which the model does not "
                 "use; check that the file was written for these options");
    /* Every truncation of a real file fails cleanly. */
    size_t len = 0;
    char *whole = gmu_read(gmu_path("st", "tiny.safetensors"), &len);
    static const size_t cuts[] = {0, 3, 8, 9, 100, 1000, 4000, 200000, 423919};
    for (size_t i = 0; whole && i < sizeof cuts / sizeof *cuts; i++) {
        if (cuts[i] >= len) continue;
        const char *tp = gmu_write("st", "cut.safetensors", whole, cuts[i]);
        elmo_model *m = NULL;
        elmo_error err;
        CHECK(elmo_model_load_path(tp, NULL, &m, &err) != ELMO_OK);
        CHECK_CONTAINS(err.message, tp);
    }
    free(whole);
}

/* ---- TensorFlow checkpoints -------------------------------------------------------------- */

static char tf_names[MAXT + 8][128];
static float padded_embed[262 * 4];
static const float mix_w[3] = {0.5f, -1.0f, 2.0f}, mix_s[1] = {1.5f};
static const float junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};

/* The tiny model as checkpoint tensors, renamed by `rename`, plus extras. */
static int tf_tensors(tfw_tensor *out, void (*rename)(const char *, char *, size_t), int hub) {
    int n = 0;
    for (int i = 0; i < tiny.n; i++) {
        const elmo_tensor_out *t = &tiny.t[i];
        rename(t->name, tf_names[n], sizeof tf_names[n]);
        out[n] = (tfw_tensor){.name = tf_names[n],
                              .dtype = 1,
                              .rank = t->rank,
                              .data = t->data,
                              .bytes = numel(t) * 4};
        memcpy(out[n].dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        if (hub && strcmp(t->name, "char_embed") == 0) { /* zero padding row first */
            memcpy(padded_embed + 4, t->data, 261 * 4 * sizeof(float));
            out[n].dims[0] = 262;
            out[n].data = padded_embed;
            out[n].bytes = sizeof padded_embed;
        }
        n++;
    }
    if (hub) {
        out[n++] = (tfw_tensor){"aggregation/weights", 1, 1, {3}, mix_w, 12, 0};
        out[n++] = (tfw_tensor){"aggregation/scaling", 1, 1, {1}, mix_s, 4, 0};
    } else {
        out[n++] = (tfw_tensor){"lm/softmax/W", 1, 1, {8}, junk, 32, 0};
        out[n++] = (tfw_tensor){"lm/CNN/W_cnn_0/Adagrad", 1, 1, {8}, junk, 32, 0};
        out[n++] = (tfw_tensor){"global_step", 1, 1, {1}, junk, 4, 0};
    }
    return n;
}

static const char *hub_module(const char *name, tfw_tensor *t, int n, const tfw_options *o) {
    mkdir(gmu_path(name, ""), 0700);
    mkdir(gmu_path(name, "variables"), 0700);
    gmu_write(name, "tfhub_module.pb", "", 0);
    gmu_write(name, "saved_model.pb", "", 0);
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%s", gmu_path(name, "variables/variables"));
    CHECK_INT(tfw_write(prefix, t, n, o), 0);
    return gmu_path(name, "");
}

static void test_tf_hub(void) {
    tfw_tensor t[MAXT + 8];
    int n = tf_tensors(t, tfw_hub_name, 1);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", hub_module("hub", t, n, NULL));
    check_identical(dir, "tf-hub");
    check_identical(gmu_path("hub", "variables/variables"), "tf-hub");
    check_identical(gmu_path("hub", "variables/variables.index"), "tf-hub");
    elmo_model *m = NULL;
    CHECK_INT(elmo_model_load_path(dir, NULL, &m, NULL), ELMO_OK);
    const float *w = NULL;
    size_t nw = 0;
    float scaling = 0;
    CHECK_INT(elmo_model_trained_mix(m, &w, &nw, &scaling), 1);
    CHECK_INT(nw, 3);
    CHECK(w && w[0] == 0.5f && w[1] == -1.0f && w[2] == 2.0f && scaling == 1.5f);
    elmo_model_free(m);
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, NULL, &m, NULL), ELMO_OK);
    CHECK_INT(elmo_model_trained_mix(m, &w, &nw, &scaling), 0);
    elmo_model_free(m);
    /* Several blocks and shards. */
    tfw_options o = {3, 2, 0, 0};
    check_identical(hub_module("hub3", t, n, &o), "tf-hub");
}

static void test_bilm_tf(void) {
    tfw_tensor t[MAXT + 8];
    int n = tf_tensors(t, tfw_bilm_tf_name, 0);
    mkdir(gmu_path("bilmtf", ""), 0700);
    tfw_options o = {2, 5, 0, 0};
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%s", gmu_path("bilmtf", "model.ckpt-100"));
    CHECK_INT(tfw_write(prefix, t, n, &o), 0);
    elmo_model *m = (elmo_model *)1;
    elmo_error err;
    char want[8192];
    CHECK_INT(elmo_model_load_path(prefix, NULL, &m, &err), ELMO_ERR_ARG);
    snprintf(want, sizeof want,
             "checkpoint '%s' is a bilm-tf training checkpoint, which does not hold its "
             "options; put its options.json next to it (%s) or give the options file too",
             prefix, gmu_path("bilmtf", "options.json"));
    CHECK_STR(err.message, want);
    /* Explicit options, then the options.json next to it (and the directory). */
    CHECK_INT(elmo_model_load(TINY_OPTIONS, prefix, NULL, &m, &err), ELMO_OK);
    elmo_model_free(m);
    size_t len;
    char *opt = gmu_read(TINY_OPTIONS, &len);
    gmu_write("bilmtf", "options.json", opt, len);
    free(opt);
    check_identical(prefix, "tf-checkpoint");
    check_identical(gmu_path("bilmtf", ""), "tf-checkpoint");
}

static void expect_tf(const char *path, int code, const char *message) {
    elmo_model *m = (elmo_model *)1;
    elmo_error err;
    CHECK_INT(elmo_model_load_path(path, NULL, &m, &err), code);
    CHECK(m == NULL);
    CHECK_STR(err.message, message);
}

/* A hub module named `name` from t with one change. */
static const char *variant(const char *name, tfw_tensor *t, int n, const tfw_options *o) {
    return hub_module(name, t, n, o);
}

static void test_tf_errors(void) {
    tfw_tensor base[MAXT + 8], t[MAXT + 8];
    int n = tf_tensors(base, tfw_hub_name, 1);
    char want[8192], idx[4096], data[4096];
    /* Wrong dtype. */
    memcpy(t, base, sizeof t);
    t[0].dtype = 2;
    const char *d = variant("dtype", t, n, NULL);
    snprintf(want, sizeof want,
             "checkpoint '%svariables/variables': tensor '%s' has TensorFlow "
             "dtype 2; valid dtypes: float32 (1), bfloat16 (14)",
             d, t[0].name);
    expect_tf(d, ELMO_ERR_FORMAT, want);
    /* Partitioned variable. */
    memcpy(t, base, sizeof t);
    t[1].sliced = 1;
    d = variant("sliced", t, n, NULL);
    snprintf(idx, sizeof idx, "%s", gmu_path("sliced", "variables/variables.index"));
    snprintf(want, sizeof want,
             "checkpoint index '%s': tensor '%s' is stored in slices (a "
             "partitioned variable), which is not supported",
             idx, t[1].name);
    expect_tf(d, ELMO_ERR_FORMAT, want);
    /* Huge shape. */
    memcpy(t, base, sizeof t);
    t[2].dims[0] = (int64_t)1 << 41;
    d = variant("hugeshape", t, n, NULL);
    snprintf(idx, sizeof idx, "%s", gmu_path("hugeshape", "variables/variables.index"));
    snprintf(want, sizeof want,
             "checkpoint index '%s': tensor '%s' has a shape with an unknown "
             "rank, a negative or huge dimension, or more than 8 dimensions",
             idx, t[2].name);
    expect_tf(d, ELMO_ERR_FORMAT, want);
    /* Snappy blocks. */
    tfw_options snappy = {1, 1000, 1, 0};
    d = variant("snappy", base, n, &snappy);
    snprintf(idx, sizeof idx, "%s", gmu_path("snappy", "variables/variables.index"));
    snprintf(want, sizeof want,
             "checkpoint index '%s' has snappy-compressed blocks, which are "
             "not supported; TensorFlow writes checkpoints uncompressed, so re-save it with "
             "tf.train.Checkpoint or tf.compat.v1.train.Saver",
             idx);
    expect_tf(d, ELMO_ERR_FORMAT, want);
    /* An unexpected name lists what was found; a missing tensor is named. */
    memcpy(t, base, sizeof t);
    t[n] = (tfw_tensor){"bilm/strange", 1, 1, {1}, junk, 4, 0};
    d = variant("strange", t, n + 1, NULL);
    elmo_model *m = NULL;
    elmo_error err;
    CHECK_INT(elmo_model_load_path(d, NULL, &m, &err), ELMO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "holds tensor 'bilm/strange' (read as 'strange'), which the model "
                                "does not use");
    memcpy(t, base, sizeof t);
    t[n] = (tfw_tensor){"other/thing", 1, 1, {1}, junk, 4, 0};
    d = variant("other", t, n + 1, NULL);
    CHECK_INT(elmo_model_load_path(d, NULL, &m, &err), ELMO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "holds tensor 'other/thing', which is not part of an ELMo model "
                                "(expected 'bilm/...' TF-Hub or 'lm/...' bilm-tf names); found: "
                                "aggregation/scaling, aggregation/weights, bilm/CNN/W_cnn_0");
    d = variant("missing", base + 1, n - 1, NULL); /* no char_embed */
    CHECK_INT(elmo_model_load_path(d, NULL, &m, &err), ELMO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "has no 'bilm/char_embed' of shape [261 or 262, d]; found: ");

    /* Byte damage: every flipped byte of the index is caught (checksums, bounds). */
    d = variant("flip", base, n, NULL);
    snprintf(idx, sizeof idx, "%s", gmu_path("flip", "variables/variables.index"));
    size_t len = 0;
    unsigned char *orig = (unsigned char *)gmu_read(idx, &len);
    int caught = 0, tried = 0;
    for (size_t i = 0; orig && i < len; i += 7) {
        orig[i] ^= 0x5a;
        gmu_write("flip", "variables/variables.index", orig, len);
        orig[i] ^= 0x5a;
        tried++;
        m = NULL;
        if (elmo_model_load_path(d, NULL, &m, &err) != ELMO_OK) {
            caught += strstr(err.message, "variables") != NULL;
        } else {
            elmo_model_free(m);
        }
    }
    CHECK_INT(caught, tried);
    /* Truncations of the index. */
    for (size_t cut = 0; orig && cut < len; cut += len / 9 + 1) {
        gmu_write("flip", "variables/variables.index", orig, cut);
        CHECK(elmo_model_load_path(d, NULL, &m, &err) != ELMO_OK);
        CHECK_CONTAINS(err.message, "variables");
    }
    gmu_write("flip", "variables/variables.index", orig, len);
    /* Damaged and truncated data. */
    snprintf(data, sizeof data, "%s", gmu_path("flip", "variables/variables.data-00000-of-00001"));
    size_t dlen = 0;
    char *dbytes = gmu_read(data, &dlen);
    dbytes[dlen / 2] ^= 1;
    gmu_write("flip", "variables/variables.data-00000-of-00001", dbytes, dlen);
    CHECK_INT(elmo_model_load_path(d, NULL, &m, &err), ELMO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "fails its checksum (the data file is corrupted)");
    dbytes[dlen / 2] ^= 1;
    gmu_write("flip", "variables/variables.data-00000-of-00001", dbytes, dlen - 1);
    CHECK_INT(elmo_model_load_path(d, NULL, &m, &err), ELMO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "lies outside its data file");
    free(dbytes);
    free(orig);
}

/* ---- generated variants ------------------------------------------------------------------ */

/* Outputs of two loads compared byte for byte. */
static void check_same(const char *o, const char *w, const char *path, const char *what) {
    elmo_model *a = NULL, *b = NULL;
    elmo_load_params lp = elmo_load_default_params();
    lp.precision = ELMO_PRECISION_FP32;
    elmo_error err;
    CHECK_INT(elmo_model_load(o, w, &lp, &a, NULL), ELMO_OK);
    int rc = elmo_model_load_path(path, &lp, &b, &err);
    CHECK_INT(rc, ELMO_OK);
    if (rc) fprintf(stderr, "  %s: %s\n", what, err.message);
    size_t na = 0, nb = 0;
    float *x = a ? run_all(a, &na) : NULL, *y = b ? run_all(b, &nb) : NULL;
    CHECK(x && y && na == nb && memcmp(x, y, na * sizeof *x) == 0);
    free(x);
    free(y);
    elmo_model_free(a);
    elmo_model_free(b);
}

/* Models the options allow in other shapes (no highway, tanh, no skip connections, forced
 * projections, three layers, no clipping) as safetensors and bilm-tf checkpoints. */
static void test_generated_variants(void) {
    static const char *const flags[] = {
        "--seed 3 --highway 0 --activation tanh",
        "--seed 4 --no-skip --force-cnn-proj --force-lstm-proj",
        "--seed 5 --layers 3 --cell-clip none --proj-clip none --clip-style absent"};
    for (int i = 0; i < 3; i++) {
        char name[16], o[1024], w[1024], st[1024], prefix[1024];
        snprintf(name, sizeof name, "var%d", i);
        if (gmu_gen(name, flags[i]) != 0) {
            CHECK(0);
            continue;
        }
        snprintf(o, sizeof o, "%.1000s", gmu_path(name, "options.json"));
        snprintf(w, sizeof w, "%.1000s", gmu_path(name, "weights.hdf5"));
        snprintf(st, sizeof st, "%.1000s", gmu_path(name, "model.safetensors"));
        snprintf(prefix, sizeof prefix, "%.1000s", gmu_path(name, "model.ckpt-1"));
        tensors m;
        read_model(o, w, &m);
        elmo_error err;
        CHECK_INT(elmo_safetensors_write(st, m.options, m.t, m.n, 0, &err), ELMO_OK);
        check_same(o, w, st, flags[i]);
        tfw_tensor t[MAXT];
        static char names[MAXT][128];
        for (int k = 0; k < m.n; k++) {
            tfw_bilm_tf_name(m.t[k].name, names[k], sizeof names[k]);
            t[k] = (tfw_tensor){.name = names[k],
                                .dtype = 1,
                                .rank = m.t[k].rank,
                                .data = m.t[k].data,
                                .bytes = numel(&m.t[k]) * 4};
            memcpy(t[k].dims, m.t[k].dims, sizeof(int64_t) * (size_t)m.t[k].rank);
        }
        tfw_options to = {2, 3, 0, 0};
        CHECK_INT(tfw_write(prefix, t, m.n, &to), 0); /* options.json is next to it */
        check_same(o, w, prefix, flags[i]);
        free_model(&m);
    }
}

/* ---- paths and tokenizer ----------------------------------------------------------------- */

static void test_paths(void) {
    check_identical("models/elmo-tiny", "hdf5");
    elmo_model *m = NULL;
    elmo_error err;
    char want[4096];
    CHECK_INT(elmo_model_load_path(TINY_WEIGHTS, NULL, &m, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, "'models/elmo-tiny/weights.hdf5' is an HDF5 weights file, which does "
                           "not hold its options; give the options file too, or the directory "
                           "holding both");
    CHECK_INT(elmo_model_load_path(TINY_OPTIONS, NULL, &m, &err), ELMO_ERR_FORMAT);
    CHECK_STR(err.message, "'models/elmo-tiny/options.json' is not a model file: expected a "
                           ".safetensors file, a directory (AllenNLP options + weights, TF-Hub "
                           "module) or a TensorFlow checkpoint");
    CHECK_INT(elmo_model_load_path("no/such/model", NULL, &m, &err), ELMO_ERR_IO);
    CHECK_STR(err.message, "cannot open model 'no/such/model': No such file or directory");
    mkdir(gmu_path("emptydir", ""), 0700);
    char dir[1024];
    snprintf(dir, sizeof dir, "%.1000s", gmu_path("emptydir", ""));
    dir[strlen(dir) - 1] = '\0';
    snprintf(want, sizeof want,
             "directory '%s' holds no model: expected options.json + "
             "weights.hdf5 (or exactly one *options*.json and one *weights*.hdf5; found 0 and "
             "0), a TF-Hub module (variables/variables.index), a TF checkpoint (one *.index "
             "file) or one *.safetensors file",
             dir);
    CHECK_INT(elmo_model_load_path(gmu_path("emptydir", ""), NULL, &m, &err), ELMO_ERR_ARG);
    CHECK_STR(err.message, want);
}

static void test_space_tokenizer(void) {
    const char *s = "  a\tb  c\nd ";
    elmo_span sp[8];
    size_t n = elmo_tokenize(ELMO_TOKENIZER_SPACE, s, strlen(s), sp, 8);
    CHECK_INT(n, 2);
    CHECK(sp[0].start == 2 && sp[0].end == 5);  /* "a\tb" */
    CHECK(sp[1].start == 7 && sp[1].end == 10); /* "c\nd" */
    CHECK_INT(elmo_tokenize(ELMO_TOKENIZER_SPACE, "   ", 3, NULL, 0), 0);
    CHECK_INT(elmo_tokenize(ELMO_TOKENIZER_SPACE, "x\xc2\xa0y", 4, NULL, 0), 1); /* NBSP kept */
}

int main(void) {
    test_crc32c();
    test_space_tokenizer();
    read_model(TINY_OPTIONS, TINY_WEIGHTS, &tiny);
    elmo_model *ref = NULL;
    elmo_load_params lp = elmo_load_default_params();
    lp.precision = ELMO_PRECISION_FP32;
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, &lp, &ref, NULL), ELMO_OK);
    if (!ref) return harness_report("test_formats");
    reference = run_all(ref, &reference_n);
    elmo_model_get_info(ref, &reference_info);
    CHECK_STR(reference_info.format, "hdf5");
    elmo_model_free(ref);
    test_paths();
    test_safetensors_roundtrip();
    test_safetensors_errors();
    test_tf_hub();
    test_bilm_tf();
    test_tf_errors();
    test_generated_variants();
    free(reference);
    free_model(&tiny);
    gmu_cleanup();
    return harness_report("test_formats");
}
