/* test_hostile_files.c - model files that block, lie or amplify, each refused with its exact
 * message (or, for the options, run in bounded memory):
 *  - FIFOs where the loader expects files: an options file (C API), a weights file, a
 *    checkpoint index, a TF-Hub module's data shard (an alarm turns a hang into a failure);
 *  - a safetensors header that would amplify in the JSON parser (200,001 values);
 *  - NUL characters inside JSON strings (a dtype "F32\u0000junk", a tensor name, an
 *    option value) and a NUL byte in an options file;
 *  - control bytes in tensor names, dtypes, checkpoint names and paths: escaped in messages;
 *  - a checkpoint index of 99,967 names (the duplicate check was quadratic: 30 s);
 *  - LevelDB blocks without restart points;
 *  - a symlink loop (its own message, not "No such file or directory");
 *  - options that pass validation (1,024 characters per token, a filter of width 512, char
 *    dim 128) but made each call allocate GBs: the char-CNN scratch of a call is bounded.
 *
 *   test_hostile_files                                the tests
 *   test_hostile_files --write-tf hub|bilm-tf OPTIONS PREFIX
 *                      writes a TF checkpoint PREFIX.index + PREFIX.data-00000-of-00001
 *                      of small patterned weights for OPTIONS, with TF-Hub or bilm-tf
 *                      names (for the SQL tests and the fuzz seeds; a TF-Hub module is
 *                      DIR/variables/variables) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bigbuf.h"
#include "elmo.h"
#include "fixture_io.h"
#include "genmodel_util.h"
#include "harness.h"
#include "model.h"
#include "tf_checkpoint.h"
#include "tf_writer.h"

#define REGULAR_ONLY "not a regular file; a model is read from regular files only"

/* The load fails with `code` and exactly `want` (when not NULL); returns the message. */
static const char *expect_load(const char *opt, const char *path, int code, const char *want) {
    static elmo_error err;
    memset(&err, 0, sizeof err);
    elmo_model *m = NULL;
    int rc = opt ? elmo_model_load(opt, path, NULL, &m, &err)
                 : elmo_model_load_path(path, NULL, &m, &err);
    CHECK_INT(rc, code);
    CHECK(code == ELMO_OK ? m != NULL : m == NULL);
    elmo_model_free(m);
    if (want) CHECK_STR(err.message, want);
    if (getenv("VERBOSE")) printf("  %s\n", err.message);
    return err.message;
}

/* A safetensors file of the header JSON `json` and `data_bytes` zero bytes of data. */
static const char *write_st(const char *name, const char *json, size_t data_bytes) {
    size_t n = strlen(json), total = 8 + n + data_bytes;
    unsigned char *bytes = calloc(1, total);
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(bytes + 8, json, n);
    const char *path = gmu_write(name, "model.safetensors", bytes, total);
    free(bytes);
    CHECK(path != NULL);
    return path;
}

/* ---- FIFOs ----------------------------------------------------------------------------- */

static const char *make_fifo(const char *name, const char *file) {
    gmu_write(name, "unused", "", 0); /* creates the directory */
    const char *path = gmu_path(name, file);
    CHECK_INT(mkfifo(path, 0600), 0);
    return path;
}

/* A TF checkpoint at `prefix` for the options at `options`: every tensor they need except
 * the optional ones, named as TF-Hub (hub) or bilm-tf does, holding small patterned values.
 * 0 on success. */
static int write_tf(int hub, const char *options, const char *prefix) {
    elmo_config cfg;
    elmo_error err;
    if (elmo_options_load(options, &cfg, &err) != ELMO_OK) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    static elmo_tensor_desc list[512];
    static char names[512][160];
    static tfw_tensor t[512];
    int n = elmo_weights_list(&cfg, list, 512), k = 0;
    size_t largest = 0;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < list[i].rank; d++) numel *= (size_t)list[i].dims[d];
        if (numel > largest) largest = numel;
    }
    float *values = malloc((largest ? largest : 1) * sizeof(float)); /* [largest] */
    for (size_t i = 0; values && i < largest; i++) values[i] = 0.01f * (float)((int)(i % 13) - 6);
    for (int i = 0; i < n; i++) {
        if (list[i].optional) continue;
        (hub ? tfw_hub_name : tfw_bilm_tf_name)(list[i].name, names[k], sizeof names[k]);
        size_t numel = 1;
        for (int d = 0; d < list[i].rank; d++) numel *= (size_t)list[i].dims[d];
        t[k] = (tfw_tensor){
            .name = names[k], .dtype = 1, .rank = list[i].rank, .data = values, .bytes = numel * 4};
        memcpy(t[k].dims, list[i].dims, sizeof(int64_t) * (size_t)list[i].rank);
        k++;
    }
    int rc = values ? tfw_write(prefix, t, k, NULL) : -1;
    free(values);
    return rc;
}

/* A TF-Hub module (dir/variables/variables) for the options at `options`. */
static int write_hub(const char *options, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/variables", dir);
    mkdir(dir, 0700);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/variables/variables", dir);
    return write_tf(1, options, path);
}

static void test_fifos(void) {
    char want[8192];
    /* An options file: through the C API nothing checked it before it was opened. */
    const char *fifo = make_fifo("fifo_opt", "options.json");
    snprintf(want, sizeof want, "options file '%s' is a FIFO (named pipe), " REGULAR_ONLY, fifo);
    expect_load(fifo, TINY_WEIGHTS, ELMO_ERR_IO, want);
    /* A weights file given with its options. */
    fifo = make_fifo("fifo_st", "model.safetensors");
    snprintf(want, sizeof want, "weights file '%s' is a FIFO (named pipe), " REGULAR_ONLY, fifo);
    expect_load(TINY_OPTIONS, fifo, ELMO_ERR_IO, want);
    /* A checkpoint index. */
    fifo = make_fifo("fifo_index", "ckpt.index");
    char prefix[4096];
    snprintf(prefix, sizeof prefix, "%s", gmu_path("fifo_index", "ckpt"));
    elmo_tensor_source *src = NULL;
    elmo_error err;
    CHECK_INT(elmo_tf_source_open(prefix, &src, NULL, &err), ELMO_ERR_IO);
    snprintf(want, sizeof want, "checkpoint index '%s' is a FIFO (named pipe), " REGULAR_ONLY,
             fifo);
    CHECK_STR(err.message, want);
    CHECK(src == NULL);
    /* A TF-Hub module whose data shard is a FIFO: it blocked elmo_load forever, under the
     * process-wide load lock. */
    char dir[4096], shard[4200];
    snprintf(dir, sizeof dir, "%s/fifo_hub", gmu_dir());
    CHECK_INT(write_hub(TINY_OPTIONS, dir), 0);
    expect_load(NULL, dir, ELMO_OK, NULL); /* loads while the shard is a file */
    snprintf(shard, sizeof shard, "%s/variables/variables.data-00000-of-00001", dir);
    CHECK_INT(unlink(shard), 0);
    CHECK_INT(mkfifo(shard, 0600), 0);
    snprintf(want, sizeof want, "checkpoint data file '%s' is a FIFO (named pipe), " REGULAR_ONLY,
             shard);
    expect_load(NULL, dir, ELMO_ERR_IO, want);
}

/* ---- JSON that amplifies or hides NULs ---------------------------------------------------- */

static void test_header_bomb(void) {
    /* 200,001 values in 400 KB: cJSON would take about 16 MB for them (the 100 MiB header
     * cap allowed about 4 GB); refused before parsing. */
    size_t n = 200000, len = 0;
    char *json = malloc(2 * n + 64);
    len += (size_t)sprintf(json, "{\"__metadata__\":{\"a\":[");
    for (size_t i = 0; i < n; i++) {
        json[len++] = '0';
        json[len++] = i + 1 < n ? ',' : ']';
    }
    len += (size_t)sprintf(json + len, "}}");
    const char *path = write_st("bomb", json, 0);
    char want[1024];
    snprintf(want, sizeof want,
             "safetensors file '%s': the %zu-byte header holds over 100000 JSON values; an "
             "ELMo model's header holds a few thousand (the file is corrupted or not an ELMo "
             "model)",
             path, len);
    expect_load(NULL, path, ELMO_ERR_FORMAT, want);
    free(json);
}

/* A safetensors header `json` holding a "\u0000" escape is refused, naming where it is. */
static void expect_nul_refused(const char *name, const char *json) {
    char want[1024];
    const char *path = write_st(name, json, 4);
    snprintf(want, sizeof want,
             "safetensors file '%s': the header holds a NUL character (a \\u0000 escape or a "
             "NUL byte) at byte %d; names and values must not contain one (the file is "
             "corrupted or hostile)",
             path, 8 + (int)(strchr(json, '\\') - json));
    expect_load(NULL, path, ELMO_ERR_FORMAT, want);
}

static void test_nul_strings(void) {
    char want[1024];
    /* A dtype that C compares as "F32". */
    expect_nul_refused(
        "nul_dtype", "{\"a\":{\"dtype\":\"F32\\u0000junk\",\"shape\":[1],\"data_offsets\":[0,4]}}");
    /* A tensor name that C reads as "char_embed" (other readers see another name). */
    expect_nul_refused(
        "nul_name",
        "{\"char_embed\\u0000junk\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
    /* An escaped backslash before "u0000" is no NUL: the dtype is the text F32\u0000. */
    const char *json = "{\"a\":{\"dtype\":\"F32\\\\u0000\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const char *path = write_st("nul_escaped", json, 4);
    snprintf(want, sizeof want,
             "safetensors file '%s': tensor 'a' has dtype 'F32\\u0000'; valid dtypes: F32, BF16",
             path);
    expect_load(NULL, path, ELMO_ERR_FORMAT, want);

    /* Options: an activation that C reads as "relu", and a raw NUL byte. */
    char *text = gmu_read(TINY_OPTIONS, NULL);
    char *at = text ? strstr(text, "\"relu\"") : NULL;
    CHECK(at != NULL);
    if (!at) return;
    size_t head = (size_t)(at - text) + 5, total = strlen(text);
    char *bad = malloc(total + 16);
    memcpy(bad, text, head);
    memcpy(bad + head, "\\u0000", 6);
    memcpy(bad + head + 6, text + head, total - head + 1);
    const char *opt = gmu_write("nul_opt", "options.json", bad, strlen(bad));
    snprintf(want, sizeof want,
             "options file '%s' holds a NUL character (a \\u0000 escape or a NUL byte) at byte "
             "%zu; no key or value of the options may contain one",
             opt, head);
    expect_load(opt, TINY_WEIGHTS, ELMO_ERR_FORMAT, want);
    bad[head] = '\0'; /* a raw NUL where the escape began */
    opt = gmu_write("nul_raw", "options.json", bad, strlen(bad + head + 1) + head + 1);
    snprintf(want, sizeof want,
             "options file '%s' holds a NUL byte at byte %zu; an options file is JSON text", opt,
             head);
    expect_load(opt, TINY_WEIGHTS, ELMO_ERR_FORMAT, want);
    free(bad);
    free(text);
}

/* ---- bytes that could drive a terminal ------------------------------------------------------ */

/* A safetensors header `json` whose one tensor has a bad dtype: the message shows the
 * tensor's name and dtype as `name` and `dtype` (escaped). */
static void expect_dtype_refused(const char *file, const char *json, const char *name,
                                 const char *dtype) {
    char want[1024];
    const char *path = write_st(file, json, 2);
    snprintf(want, sizeof want,
             "safetensors file '%s': tensor '%s' has dtype '%s'; valid dtypes: F32, BF16", path,
             name, dtype);
    expect_load(NULL, path, ELMO_ERR_FORMAT, want);
}

static void test_escapes(void) {
    char want[8192];
    /* A tensor name with ESC, BEL and CR (JSON escapes), a dtype with raw ESC, BEL and an
     * 8-bit CSI, and a name with a C1 control (U+009B) and a bidirectional override in
     * valid UTF-8. */
    expect_dtype_refused("esc_name",
                         "{\"x\\u001b[31mred\\u0007\\r\":{\"dtype\":\"F16\",\"shape\":[1],"
                         "\"data_offsets\":[0,2]}}",
                         "x\\x1b[31mred\\x07\\x0d", "F16");
    expect_dtype_refused("esc_dtype",
                         "{\"a\":{\"dtype\":\"\x1b]0;pwned\x07\x9b"
                         "2J\",\"shape\":[1],\"data_offsets\":[0,2]}}",
                         "a", "\\x1b]0;pwned\\x07\\x9b2J");
    expect_dtype_refused("esc_utf8",
                         "{\"a\xc2\x9b"
                         "b\xe2\x80\xae"
                         "c\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
                         "a\\xc2\\x9bb\\xe2\\x80\\xaec", "F16");
    /* A checkpoint name. */
    static const float one = 1;
    char prefix[4096];
    gmu_write("esc_tf", "unused", "", 0);
    snprintf(prefix, sizeof prefix, "%s", gmu_path("esc_tf", "ckpt"));
    tfw_tensor t = {
        .name = "\x1b[2Jevil", .dtype = 1, .rank = 1, .dims = {1}, .data = &one, .bytes = 4};
    CHECK_INT(tfw_write(prefix, &t, 1, NULL), 0);
    snprintf(want, sizeof want,
             "checkpoint '%s' holds tensor '\\x1b[2Jevil', which is not part of an ELMo model "
             "(expected 'bilm/...' TF-Hub or 'lm/...' bilm-tf names); found: \\x1b[2Jevil",
             prefix);
    expect_load(TINY_OPTIONS, prefix, ELMO_ERR_FORMAT, want);
    /* A file name in a model directory (the file system is a source of bytes too). */
    size_t len = 0;
    char *options = gmu_read(TINY_OPTIONS, &len);
    gmu_write("esc_dir", "options.json", options, len);
    free(options);
    CHECK(gmu_write("esc_dir", "\x1b[31mweights.hdf5", "junk", 4) != NULL);
    const char *msg = expect_load(NULL, gmu_path("esc_dir", ""), ELMO_ERR_FORMAT, NULL);
    CHECK(strchr(msg, '\x1b') == NULL);
    CHECK_CONTAINS(msg, "\\x1b[31mweights.hdf5");
}

/* ---- checkpoint indexes ------------------------------------------------------------------ */

static void test_many_names(void) {
    enum { N = 99967 };
    static char names[N][24];
    static tfw_tensor t[N];
    static const float zero = 0;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "lm/v%05d", i);
        t[i] = (tfw_tensor){
            .name = names[i], .dtype = 1, .rank = 1, .dims = {1}, .data = &zero, .bytes = 4};
    }
    char prefix[4096];
    gmu_write("many", "unused", "", 0);
    snprintf(prefix, sizeof prefix, "%s", gmu_path("many", "ckpt"));
    tfw_options o = {1, 1000, 0, 0};
    CHECK_INT(tfw_write(prefix, t, N, &o), 0);
    clock_t start = clock();
    char want[8192];
    snprintf(want, sizeof want,
             "weights file '%s' has no dataset 'char_embed' (expected float32 [261, 4]); check "
             "that the weights belong to these options",
             prefix);
    expect_load(TINY_OPTIONS, prefix, ELMO_ERR_FORMAT, want);
    double cpu = (double)(clock() - start) / CLOCKS_PER_SEC;
    printf("  %d checkpoint names: refused in %.2f s of CPU\n", N, cpu);
    CHECK(cpu < 5.0); /* quadratic: 30-35 s */
}

static void test_no_restarts(void) {
    static const float v[4] = {1, 2, 3, 4};
    tfw_tensor t = {
        .name = "bilm/char_embed", .dtype = 1, .rank = 2, .dims = {2, 2}, .data = v, .bytes = 16};
    char prefix[4096], want[8192];
    gmu_write("norestart", "unused", "", 0);
    snprintf(prefix, sizeof prefix, "%s", gmu_path("norestart", "ckpt"));
    tfw_options o = {1, 1000, 0, 1};
    CHECK_INT(tfw_write(prefix, &t, 1, &o), 0);
    snprintf(want, sizeof want,
             "checkpoint index '%s.index': a block has no restart points (the file is "
             "truncated or corrupted)",
             prefix);
    expect_load(NULL, prefix, ELMO_ERR_FORMAT, want);
    /* The same bytes with their restart array parse. */
    o.no_restarts = 0;
    CHECK_INT(tfw_write(prefix, &t, 1, &o), 0);
    const char *msg = expect_load(NULL, prefix, ELMO_ERR_FORMAT, NULL);
    CHECK_CONTAINS(msg, "has no 'bilm/char_embed' of shape [261 or 262, d]");
}

/* ---- paths ----------------------------------------------------------------------------------- */

static void test_symlink_loop(void) {
    char a[4096], b[4096], want[8192];
    gmu_write("loop", "unused", "", 0);
    snprintf(a, sizeof a, "%s", gmu_path("loop", "a"));
    snprintf(b, sizeof b, "%s", gmu_path("loop", "b"));
    CHECK_INT(symlink(b, a), 0);
    CHECK_INT(symlink(a, b), 0);
    snprintf(want, sizeof want, "cannot open model '%s': Too many levels of symbolic links", a);
    expect_load(NULL, a, ELMO_ERR_IO, want);
    snprintf(want, sizeof want, "cannot open options file '%s': Too many levels of symbolic links",
             a);
    expect_load(a, TINY_WEIGHTS, ELMO_ERR_IO, want);
    snprintf(want, sizeof want, "cannot open weights file '%s': Too many levels of symbolic links",
             a);
    expect_load(TINY_OPTIONS, a, ELMO_ERR_IO, want);
}

/* ---- options that amplify ----------------------------------------------------------------- */

static void test_amplifying_options(void) {
    /* A 400 KB model whose every value is in range: once 2.1 GB of scratch per worker. */
    const char *flags = "--seed 5 --max-chars 1024 --filters 512:1 --char-dim 128 --highway 0 "
                        "--proj 4 --dim 4 --layers 1";
    CHECK_INT(gmu_gen("amplify", flags), 0);
    elmo_model *m = NULL;
    elmo_error err;
    CHECK_INT(elmo_model_load(gmu_path("amplify", "options.json"),
                              gmu_path("amplify", "weights.hdf5"), NULL, &m, &err),
              ELMO_OK);
    if (!m) return;
    char text[1024] = "";
    for (int i = 0; i < 12; i++) /* distinct words: every one goes through the CNN */
        snprintf(text + strlen(text), sizeof text - strlen(text), "%sword%c%c", i ? " " : "",
                 'a' + i % 26, 'a' + (i * 7) % 26);
    elmo_span spans[64];
    elmo_sentence s = {text, spans,
                       elmo_tokenize(ELMO_TOKENIZER_DEFAULT, text, strlen(text), spans, 64)};
    elmo_run_params p = elmo_run_default_params();
    p.n_threads = 4;
    elmo_result *r = NULL;
    elmo_big_reset_peak();
    size_t before = elmo_big_in_use();
    CHECK_INT(elmo_run(m, &p, &s, 1, NULL, &r, &err), ELMO_OK);
    size_t peak = elmo_big_peak() - before;
    printf("  1024 characters per token, width-512 filter, char dim 128: %.1f MiB of scratch "
           "at most in a call of 4 threads\n",
           (double)peak / (1 << 20));
    CHECK(peak <= ((size_t)64 << 20));
    elmo_result_free(r);
    elmo_model_free(m);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--write-tf") == 0)
        return write_tf(strcmp(argv[2], "hub") == 0, argv[3], argv[4]) ? 1 : 0;
    alarm(120); /* a hang (a read from a FIFO) fails the test instead of blocking make test */
    test_fifos();
    test_header_bomb();
    test_nul_strings();
    test_escapes();
    test_many_names();
    test_no_restarts();
    test_symlink_loop();
    test_amplifying_options();
    gmu_cleanup();
    return harness_report("test_hostile_files");
}
