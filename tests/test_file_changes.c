/* test_file_changes.c - a model file truncated or rewritten while elmo_model_load reads it,
 * in HDF5 and safetensors: the load either fails with a message naming the file, or loads
 * a model whose fingerprint is that of one whole version of the file. Never a signal (a
 * mapped safetensors file truncated under the reader was SIGBUS), never zeros (libhdf5
 * reads zeros past the end of a truncated file), never a mix of two versions.
 *
 * Two kinds of checks:
 *  - deterministic: the file is changed between opening the tensor source and reading its
 *    tensors: every read after the change fails, saying what changed (safetensors reads
 *    every tensor then; HDF5 the big contiguous datasets, which are not part of the image
 *    taken at open, and there are some in this test's model);
 *  - races: a thread loads while the main thread truncates the file, rewrites it in place
 *    with another model of the same size, or truncates and rewrites it, after delays spread
 *    over the measured load time (many timings; every outcome must be one of the above).
 *
 * Before each race the file is restored and left alone for SETTLE_MS, so that a change
 * during the load gets a later modification time than the one seen at open (a file
 * rewritten in place within one tick of the file system's clock cannot be told from the
 * original by its times; see the README's Security section). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "elmo.h"
#include "fixture_io.h"
#include "genmodel_util.h"
#include "harness.h"
#include "model.h"
#include "model_files.h"

#define SETTLE_MS 30
#define TIMINGS 12
/* About 2.4 M parameters (9.6 MB): a load takes long enough to be hit in its middle. */
#define SHAPE "--dim 512 --proj 128"

typedef struct version {
    char path[512];  /* the file being loaded (changed in place) */
    char *bytes[2];  /* the two versions: model A, model B of the same shape */
    size_t size[2];  /* bytes of each */
    char fp[2][17];  /* their fingerprints */
    const char *opt; /* options (unchanged), NULL for a safetensors file */
} version;

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Writes `n` bytes at the start of the file, truncating it first when `truncate`. */
static void write_file(const char *path, const char *bytes, size_t n, int truncate) {
    int fd = open(path, O_WRONLY | (truncate ? O_TRUNC : 0));
    CHECK(fd >= 0);
    if (fd < 0) return;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, bytes + done, n - done);
        CHECK(w > 0);
        if (w <= 0) break;
        done += (size_t)w;
    }
    close(fd);
}

static int load(const version *v, elmo_model **m, elmo_error *err) {
    return v->opt ? elmo_model_load(v->opt, v->path, NULL, m, err)
                  : elmo_model_load_path(v->path, NULL, m, err);
}

static void fingerprint(const elmo_model *m, char out[17]) {
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    memcpy(out, info.fingerprint, 17);
}

/* ---- the versions ---------------------------------------------------------------------- */

static int convert(const char *options, const char *weights, const char *out) {
    const char *b = getenv("B");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/bin/elmo convert %s %s -o %s >/dev/null",
             b && *b ? b : "build/release", options, weights, out);
    return system(cmd);
}

/* Models A (seed 1) and B (seed 2), as HDF5 (hdf5 != 0) or safetensors files. */
static int make_versions(version *v, int hdf5) {
    memset(v, 0, sizeof *v);
    const char *names[2] = {"A", "B"};
    for (int i = 0; i < 2; i++) {
        char flags[128], src[512];
        snprintf(flags, sizeof flags, "--seed %d " SHAPE, i + 1);
        if (gmu_gen(names[i], flags)) return -1;
        snprintf(src, sizeof src, "%s",
                 gmu_path(names[i], hdf5 ? "weights.hdf5" : "m.safetensors"));
        if (!hdf5 &&
            convert(gmu_path(names[i], "options.json"), gmu_path(names[i], "weights.hdf5"), src))
            return -1;
        v->bytes[i] = gmu_read(src, &v->size[i]);
        if (!v->bytes[i]) return -1;
    }
    static char opt[512];
    snprintf(opt, sizeof opt, "%s", gmu_path("A", "options.json"));
    v->opt = hdf5 ? opt : NULL;
    snprintf(v->path, sizeof v->path, "%s",
             gmu_write("loaded", hdf5 ? "weights.hdf5" : "m.safetensors", "", 0));
    for (int i = 0; i < 2; i++) { /* the fingerprint of each whole version */
        write_file(v->path, v->bytes[i], v->size[i], 1);
        elmo_model *m = NULL;
        elmo_error err;
        if (load(v, &m, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return -1;
        }
        fingerprint(m, v->fp[i]);
        elmo_model_free(m);
    }
    return v->size[0] == v->size[1] && strcmp(v->fp[0], v->fp[1]) != 0 ? 0 : -1;
}

static void free_versions(version *v) {
    free(v->bytes[0]);
    free(v->bytes[1]);
}

/* ---- deterministic: changed between open and read ------------------------------------------ */

/* Reads every tensor the options imply from an open source into one buffer (malloc'd). */
static float *read_all(elmo_model_files *f, size_t *total, elmo_error *err, int *rc) {
    elmo_config cfg;
    *rc = elmo_options_parse_text(f->options_json, strlen(f->options_json), "x", &cfg, err);
    static elmo_tensor_desc list[512];
    int n = *rc ? 0 : elmo_weights_list(&cfg, list, 512);
    size_t sum = 0;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < list[i].rank; d++) numel *= (size_t)list[i].dims[d];
        sum += list[i].optional ? 0 : numel;
    }
    float *out = malloc((sum ? sum : 1) * sizeof *out), *at = out; /* [sum] */
    for (int i = 0; i < n && !*rc; i++) {
        if (list[i].optional) continue;
        size_t numel = 1;
        for (int d = 0; d < list[i].rank; d++) numel *= (size_t)list[i].dims[d];
        *rc = f->src->read(f->src, list[i].name, at, numel, err);
        at += numel;
    }
    *total = sum;
    return out;
}

static void test_changed_after_open(version *v, int hdf5, int shorten) {
    write_file(v->path, v->bytes[0], v->size[0], 1);
    elmo_model_files f;
    elmo_error err;
    int rc;
    size_t n_before = 0, n_after = 0;
    CHECK_INT(elmo_model_files_open(v->opt, v->path, &f, &err), ELMO_OK);
    float *before = read_all(&f, &n_before, &err, &rc); /* the original's values */
    CHECK_INT(rc, ELMO_OK);
    elmo_model_files_close(&f);

    CHECK_INT(elmo_model_files_open(v->opt, v->path, &f, &err), ELMO_OK);
    sleep_us(SETTLE_MS * 1000);
    if (shorten) CHECK_INT(truncate(v->path, (off_t)v->size[0] / 2), 0);
    else write_file(v->path, v->bytes[1], v->size[1], 0); /* in place, same size */
    float *after = read_all(&f, &n_after, &err, &rc);
    elmo_model_files_close(&f);
    const char *what = shorten ? "truncated" : "rewritten";
    /* Read lazily, every read checking the file: safetensors tensors, and the big
     * contiguous HDF5 datasets, which are not read into the image at open (the small ones
     * are taken once, whole, with it). */
    char want[1024];
    const char *kind = hdf5 ? "weights file" : "safetensors file";
    CHECK_INT(rc, ELMO_ERR_IO);
    if (shorten)
        snprintf(want, sizeof want,
                 "%s '%s' changed while it was being read "
                 "(%zu bytes when opened, %zu now); load it again once it is complete",
                 kind, v->path, v->size[0], v->size[0] / 2);
    else
        snprintf(want, sizeof want,
                 "%s '%s' changed while it was being read "
                 "(it was modified after it was opened); load it again once it is complete",
                 kind, v->path);
    if (shorten && strstr(err.message, " ends at byte ")) /* the read came up short */
        CHECK_CONTAINS(err.message, "it was truncated or is being rewritten");
    else CHECK_STR(err.message, want);
    CHECK(n_before > 0);
    printf("  %s, %s after open: %s\n", hdf5 ? "hdf5" : "safetensors", what, err.message);
    free(before);
    free(after);
}

/* ---- races -------------------------------------------------------------------------------- */

typedef enum change { TRUNCATE_HALF, REWRITE_OTHER, TRUNCATE_AND_REWRITE, N_CHANGES } change;
static const char *const change_name[] = {"truncated to half", "rewritten with another model",
                                          "truncated and rewritten"};

typedef struct race {
    const version *v;
    int rc;
    elmo_error err;
    char fp[17];
} race;

static void *load_thread(void *arg) {
    race *r = arg;
    elmo_model *m = NULL;
    r->rc = load(r->v, &m, &r->err);
    if (!r->rc) fingerprint(m, r->fp);
    elmo_model_free(m);
    return NULL;
}

static void apply(const version *v, change c) {
    if (c == TRUNCATE_HALF) CHECK_INT(truncate(v->path, (off_t)v->size[0] / 2), 0);
    else if (c == REWRITE_OTHER) write_file(v->path, v->bytes[1], v->size[1], 0);
    else write_file(v->path, v->bytes[0], v->size[0], 1);
}

/* One load with the change after delay_us: fails naming the file or loads a whole version.
 * Returns 1 when it failed. */
static int run_race(const version *v, change c, long delay_us) {
    write_file(v->path, v->bytes[0], v->size[0], 1);
    sleep_us(SETTLE_MS * 1000);
    race r = {.v = v};
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, load_thread, &r), 0);
    sleep_us(delay_us);
    apply(v, c);
    pthread_join(t, NULL);
    if (r.rc == ELMO_OK) {
        int whole = strcmp(r.fp, v->fp[0]) == 0 || (c == REWRITE_OTHER && !strcmp(r.fp, v->fp[1]));
        CHECK(whole);
        if (!whole)
            fprintf(stderr, "  %s after %ld us: loaded fingerprint %s, not a whole version\n",
                    change_name[c], delay_us, r.fp);
        return 0;
    }
    CHECK(r.rc == ELMO_ERR_IO || r.rc == ELMO_ERR_FORMAT);
    CHECK_CONTAINS(r.err.message, v->path);
    return 1;
}

static void test_races(const version *v, const char *format) {
    double best = 1e9;
    for (int i = 0; i < 3; i++) { /* the load time, unhindered */
        write_file(v->path, v->bytes[0], v->size[0], 1);
        elmo_model *m = NULL;
        double start = now_s();
        CHECK_INT(load(v, &m, NULL), ELMO_OK);
        double took = now_s() - start;
        if (took < best) best = took;
        elmo_model_free(m);
    }
    for (int c = 0; c < N_CHANGES; c++) {
        int failed = 0;
        for (int i = 0; i < TIMINGS; i++)
            failed += run_race(v, (change)c, (long)(best * 1.2e6 * i / (TIMINGS - 1)));
        printf("  %s, %s during a %.0f ms load at %d timings: %d clean errors, %d whole loads\n",
               format, change_name[c], best * 1e3, TIMINGS, failed, TIMINGS - failed);
    }
}

int main(void) {
    static const char *const formats[] = {"safetensors", "hdf5"};
    for (int hdf5 = 0; hdf5 < 2; hdf5++) {
        version v;
        int ok = make_versions(&v, hdf5) == 0;
        CHECK(ok);
        if (ok) {
            test_changed_after_open(&v, hdf5, 1);
            test_changed_after_open(&v, hdf5, 0);
            test_races(&v, formats[hdf5]);
        }
        free_versions(&v);
    }
    gmu_cleanup();
    return harness_report("test_file_changes");
}
