/* test_hdf5_hostile.c - elmo_model_load on hostile HDF5 weights (made by hostile_hdf5.c
 * from the generated tiny model): datasets that store less than their shape declares
 * (compact, chunked never or partly written, contiguous past the end of the file),
 * values kept elsewhere (external storage in a FIFO or another file, external links,
 * soft links, virtual datasets), compressed datasets, a dataset without values (null
 * dataspace: a shape error) and a FIFO as the weights file.
 * Each must fail with its exact message, before reading, leaving no HDF5 object open.
 * A subprocess that fails to load corrupted files and exits must print nothing.
 *
 * An alarm turns a hang (a read from a FIFO) into a failure.
 *
 *   test_hdf5_hostile                         the tests
 *   test_hdf5_hostile --write-compact-short WEIGHTS OUT
 *                                             writes a copy of WEIGHTS whose CNN/W_cnn_1 is
 *                                             compact and stores 0 bytes (for the SQL tests)
 *   test_hdf5_hostile --child OPTIONS W...    (internal) loads each W, expecting failures */
#include <cJSON.h>
#include <errno.h>
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elmo.h"
#include "genmodel_util.h"
#include "harness.h"
#include "hostile_hdf5.h"

/* A hostile file could not be made: counted as a failure, the case is skipped. */
#define SETUP_FAILED()                                                                             \
    do {                                                                                           \
        CHECK(!"the hostile file could be made");                                                  \
        return;                                                                                    \
    } while (0)

#define CORRUPT "the file is truncated or corrupted; download it again"
#define ORIGINAL "use the original AllenNLP weights file"

static char tiny_weights[512], tiny_options[512];

/* A fresh copy of the tiny weights as <dir>/<name>/weights.hdf5 (static ring path). */
static const char *copy_tiny(const char *name) {
    const char *w = gmu_write(name, "weights.hdf5", "", 0);
    CHECK(w != NULL);
    if (w) CHECK_INT(hh_copy(tiny_weights, w), 0);
    return w;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The load fails with `code` and exactly `want`, leaves *out NULL and no HDF5 object open. */
static void expect_code(const char *opt, const char *w, int code, const char *want) {
    elmo_error err;
    memset(&err, 0, sizeof err);
    elmo_model *m = (elmo_model *)&err; /* a non-NULL sentinel that must be overwritten */
    int rc = elmo_model_load(opt, w, NULL, &m, &err);
    CHECK_INT(rc, code);
    CHECK(m == NULL);
    if (rc == ELMO_OK && m) elmo_model_free(m);
    CHECK_STR(err.message, want);
    CHECK_INT(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    if (getenv("VERBOSE")) printf("  %s\n", err.message);
}

static void expect_exact(const char *opt, const char *w, const char *want) {
    expect_code(opt, w, ELMO_ERR_FORMAT, want);
}

/* ---- storage that holds less than the shape declares ------------------------------------ */

static void test_compact_short(void) {
    char want[1024];
    const char *w = copy_tiny("compact0"); /* CNN/W_cnn_1 [1, 2, 4, 8]: 64 values */
    if (!w || hh_compact_short(w, "CNN/W_cnn_1", 0)) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'CNN/W_cnn_1' stores 0 bytes for its 64 values (256 "
             "bytes expected); " CORRUPT,
             w);
    expect_exact(tiny_options, w, want);

    w = copy_tiny("compact1"); /* char_embed [261, 4]: 1044 values */
    if (!w || hh_compact_short(w, "char_embed", 1)) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'char_embed' stores 1 bytes for its 1044 values (4176 "
             "bytes expected); " CORRUPT,
             w);
    expect_exact(tiny_options, w, want);

    /* Compact storage of the right size is fine (h5py writes small datasets so on request). */
    w = copy_tiny("compact_ok");
    if (!w || hh_compact_short(w, "CNN/W_cnn_1", 256)) SETUP_FAILED();
    elmo_model *m = NULL;
    elmo_error err;
    CHECK_INT(elmo_model_load(tiny_options, w, NULL, &m, &err), ELMO_OK);
    elmo_model_free(m);
}

/* The tiny options with lstm.dim = lstm.projection_dim = 8192, as a new file. */
static const char *options_8192(void) {
    char *text = gmu_read(tiny_options, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    cJSON *lstm = cJSON_GetObjectItemCaseSensitive(root, "lstm");
    free(text);
    CHECK(lstm != NULL);
    const char *path = NULL;
    if (lstm) {
        (void)cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(lstm, "dim"), 8192);
        (void)cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(lstm, "projection_dim"), 8192);
        char *printed = cJSON_Print(root);
        path = printed ? gmu_write("chunk8192", "options.json", printed, strlen(printed)) : NULL;
        cJSON_free(printed);
    }
    cJSON_Delete(root);
    CHECK(path != NULL);
    return path;
}

static void test_chunked_unwritten(void) {
    char want[1024];
    /* A small file whose chunked datasets declare an 8192-wide LSTM (W_0 [16384, 32768]:
     * 2 GiB each) and are never written: refused before anything is allocated or filled,
     * where libhdf5 would make up GBs of fill values. */
    static char opt[512];
    const char *o = options_8192();
    if (!o) return;
    snprintf(opt, sizeof opt, "%s", o);
    const char *w = copy_tiny("chunk8192");
    if (!w) return;
    int bad = hh_chunked(w, "CNN_proj/W_proj", 2, (hsize_t[]){124, 8192}, 0) ||
              hh_chunked(w, "CNN_proj/b_proj", 1, (hsize_t[]){8192}, 0);
    for (int d = 0; d < 2 && !bad; d++)
        for (int l = 0; l < 2 && !bad; l++) {
            char name[96];
            snprintf(name, sizeof name, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/W_0", d, l);
            bad = hh_chunked(w, name, 2, (hsize_t[]){16384, 32768}, 0);
            snprintf(name, sizeof name, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/B", d, l);
            bad = bad || hh_chunked(w, name, 1, (hsize_t[]){32768}, 0);
            snprintf(name, sizeof name, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/W_P_0", d, l);
            bad = bad || hh_chunked(w, name, 2, (hsize_t[]){8192, 8192}, 0);
        }
    CHECK(!bad);
    long long size = file_size(w);
    CHECK(size > 0 && size < 1000000);
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'CNN_proj/W_proj' declares 1015808 values (4063232 "
             "bytes), more than the whole file (%lld bytes); " CORRUPT,
             w, size);
    expect_exact(opt, w, want);

    /* Declared sizes that fit the file: never written, partly written. */
    w = copy_tiny("chunk_none"); /* CNN/b_cnn_0 [4] in 4 chunks of 1 */
    if (!w || hh_chunked(w, "CNN/b_cnn_0", 1, (hsize_t[]){4}, 0)) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'CNN/b_cnn_0' declares 4 values but none of its 4 "
             "chunks are stored (missing chunks would read as fill values); " CORRUPT,
             w);
    expect_exact(tiny_options, w, want);
    w = copy_tiny("chunk_part"); /* [124, 124] in 124 chunks of one row, 3 written */
    if (!w || hh_chunked(w, "CNN_high_0/W_carry", 2, (hsize_t[]){124, 124}, 3)) SETUP_FAILED();
    snprintf(
        want, sizeof want,
        "weights file '%s': dataset 'CNN_high_0/W_carry' declares 15376 values but only "
        "some of its 124 chunks are stored (missing chunks would read as fill values); " CORRUPT,
        w);
    expect_exact(tiny_options, w, want);
}

static void test_contiguous_past_eof(void) {
    char want[1024];
    const char *w = copy_tiny("past_eof");
    if (!w || hh_contiguous_past_eof(w, "CNN_high_1/W_transform")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'CNN_high_1/W_transform' (61504 bytes) lies past the "
             "end of the file (%lld bytes); " CORRUPT,
             w, file_size(w));
    expect_exact(tiny_options, w, want);
}

/* A dataset without values (null dataspace) is a shape error, not a storage error. */
static void test_null_space(void) {
    char want[1024];
    const char *w = copy_tiny("null_space");
    if (!w || hh_null_space(w, "CNN/b_cnn_2")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'CNN/b_cnn_2' has shape [], expected [16]; check "
             "that the weights belong to these options",
             w);
    expect_exact(tiny_options, w, want);
}

static void test_filters(void) {
    char want[1024];
    const char *w = copy_tiny("deflate");
    if (!w || hh_deflate(w, "CNN_high_0/b_carry")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'CNN_high_0/b_carry' is stored through the HDF5 filter "
             "1 (deflate), which is refused: AllenNLP weights are stored uncompressed; rewrite "
             "the file without filters (h5repack -f NONE in out)",
             w);
    expect_exact(tiny_options, w, want);
}

/* ---- values from elsewhere ------------------------------------------------------------ */

static void test_external_storage(void) {
    char want[1024], ext[512];
    /* External storage in a FIFO: reading it would block forever. */
    snprintf(ext, sizeof ext, "%s", gmu_path("ext_fifo", "values.fifo"));
    const char *w = copy_tiny("ext_fifo");
    if (!w || hh_external_storage(w, "char_embed", ext)) SETUP_FAILED();
    CHECK_INT(mkfifo(ext, 0600), 0);
    snprintf(
        want, sizeof want,
        "weights file '%s': dataset 'char_embed' keeps its values in another file (HDF5 "
        "external storage), which is refused: a weights file must hold its own values; " ORIGINAL,
        w);
    expect_exact(tiny_options, w, want);

    /* External storage in a regular file: its bytes would become the weights. */
    float half[16];
    for (int i = 0; i < 16; i++) half[i] = 0.5f;
    snprintf(ext, sizeof ext, "%s", gmu_write("ext_file", "values.bin", half, sizeof half));
    w = copy_tiny("ext_file");
    if (!w || hh_external_storage(w, "CNN/W_cnn_0", ext)) SETUP_FAILED();
    snprintf(
        want, sizeof want,
        "weights file '%s': dataset 'CNN/W_cnn_0' keeps its values in another file (HDF5 "
        "external storage), which is refused: a weights file must hold its own values; " ORIGINAL,
        w);
    expect_exact(tiny_options, w, want);
}

static void test_links(void) {
    char want[1024];
    /* An external link on the path: CNN -> the tiny weights' /CNN. */
    const char *w = copy_tiny("elink_group");
    if (!w || hh_external_link(w, "CNN", tiny_weights, "/CNN")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': 'CNN' (on the path to dataset 'CNN/W_cnn_0') is an external "
             "link (to another file), which is refused (weights must be plain groups and "
             "datasets inside the file); " ORIGINAL,
             w);
    expect_exact(tiny_options, w, want);
    /* ... and as the dataset itself. */
    w = copy_tiny("elink_dataset");
    if (!w || hh_external_link(w, "char_embed", tiny_weights, "/char_embed")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'char_embed' is an external link (to another file), "
             "which is refused (weights must be plain datasets inside the file); " ORIGINAL,
             w);
    expect_exact(tiny_options, w, want);

    /* Soft links: to a dataset, and a group on the path. */
    w = copy_tiny("soft_dataset");
    if (!w || hh_soft_link(w, "char_embed", "hidden_embed")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'char_embed' is a soft link, which is refused (weights "
             "must be plain datasets inside the file); " ORIGINAL,
             w);
    expect_exact(tiny_options, w, want);
    w = copy_tiny("soft_group");
    if (!w || hh_soft_link(w, "CNN_high_1", "hidden_high")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': 'CNN_high_1' (on the path to dataset 'CNN_high_1/W_carry') is "
             "a soft link, which is refused (weights must be plain groups and datasets inside "
             "the file); " ORIGINAL,
             w);
    expect_exact(tiny_options, w, want);

    /* A virtual dataset mapping another file's dataset. */
    w = copy_tiny("virtual");
    if (!w || hh_virtual(w, "char_embed", tiny_weights, "/char_embed")) SETUP_FAILED();
    snprintf(want, sizeof want,
             "weights file '%s': dataset 'char_embed' is a virtual dataset (its values come "
             "from other datasets or files), which is refused; " ORIGINAL,
             w);
    expect_exact(tiny_options, w, want);
}

static void test_weights_fifo(void) {
    char want[1024];
    const char *w = gmu_path("fifo", "weights.hdf5");
    gmu_write("fifo", "unused", "", 0); /* creates the directory */
    CHECK_INT(mkfifo(w, 0600), 0);
    snprintf(want, sizeof want,
             "weights file '%s' is a FIFO (named pipe), not a regular file; a model is read "
             "from regular files only",
             w);
    expect_code(tiny_options, w, ELMO_ERR_IO, want);
}

/* ---- a failing process prints nothing ----------------------------------------------------- */

/* Copies of the tiny weights with one metadata bit flipped: the load fails on each; libhdf5
 * keeps internal references after most (its shutdown would then complain on stderr), and
 * the one at 920 made the old reader crash (compact storage of 0 bytes). Returns how many. */
static int corrupted_copies(char paths[][512], int cap) {
    static const long offsets[] = {107, 723, 763, 811, 920, 1411, 1995};
    size_t len = 0;
    char *bytes = gmu_read(tiny_weights, &len);
    int n = 0;
    for (size_t i = 0; bytes && i < sizeof offsets / sizeof *offsets && n < cap; i++) {
        char name[32];
        snprintf(name, sizeof name, "flip%ld", offsets[i]);
        bytes[offsets[i]] ^= 0x01;
        const char *p = gmu_write(name, "weights.hdf5", bytes, len);
        bytes[offsets[i]] ^= 0x01;
        if (p) snprintf(paths[n++], 512, "%s", p);
    }
    free(bytes);
    return n;
}

static int child_main(int argc, char **argv) {
    int failed = 0;
    for (int i = 3; i < argc; i++) {
        elmo_model *m = NULL;
        if (elmo_model_load(argv[2], argv[i], NULL, &m, NULL) != ELMO_OK) failed++;
        elmo_model_free(m);
    }
    if (failed != argc - 3) printf("child: %d of %d loads failed\n", failed, argc - 3);
    return failed == argc - 3 ? 0 : 1;
}

static void test_silent_exit(const char *self) {
    static char paths[16][512];
    int n = corrupted_copies(paths, 12);
    CHECK_INT(n, 7);
    const char *extra[] = {gmu_path("compact0", "weights.hdf5"),
                           gmu_path("elink_group", "weights.hdf5")};
    char *args[24];
    int k = 0;
    args[k++] = (char *)self;
    args[k++] = "--child";
    args[k++] = tiny_options;
    for (int i = 0; i < n; i++) args[k++] = paths[i];
    static char extra_copy[2][512];
    for (int i = 0; i < 2; i++) {
        snprintf(extra_copy[i], sizeof extra_copy[i], "%s", extra[i]);
        args[k++] = extra_copy[i];
    }
    args[k] = NULL;
    int pipefd[2];
    if (pipe(pipefd) != 0) SETUP_FAILED();
    /* Under ASan the child checks leaks at exit; libhdf5 itself loses 424 bytes on each of
     * these files (inside the library, on its error path), which only it can fix. */
    const char *supp = gmu_write("lsan", "libhdf5.supp", "leak:libhdf5\n", 13);
    char lsan[600];
    snprintf(lsan, sizeof lsan, "suppressions=%s:print_suppressions=0", supp ? supp : "");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (supp) setenv("LSAN_OPTIONS", lsan, 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(self, args);
        _exit(127);
    }
    close(pipefd[1]);
    char err[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(pipefd[0], err + got, sizeof err - 1 - got)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) got += (size_t)r;
    err[got] = '\0';
    close(pipefd[0]);
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STR(err, "");
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--write-compact-short"))
        return hh_copy(argv[2], argv[3]) || hh_compact_short(argv[3], "CNN/W_cnn_1", 0);
    if (argc >= 3 && !strcmp(argv[1], "--child")) return child_main(argc, argv);
    alarm(120); /* a hang (a FIFO read) fails the test instead of blocking make test */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our own HDF5 calls stay quiet */
    int ok = gmu_gen("tiny", "--shape tiny --seed 7") == 0;
    CHECK(ok);
    if (ok) {
        snprintf(tiny_weights, sizeof tiny_weights, "%s", gmu_path("tiny", "weights.hdf5"));
        snprintf(tiny_options, sizeof tiny_options, "%s", gmu_path("tiny", "options.json"));
        test_compact_short();
        test_chunked_unwritten();
        test_contiguous_past_eof();
        test_null_space();
        test_filters();
        test_external_storage();
        test_links();
        test_weights_fifo();
        test_silent_exit("/proc/self/exe");
    }
    gmu_cleanup();
    return harness_report("test_hdf5_hostile");
}
