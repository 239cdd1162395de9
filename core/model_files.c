/* model_files.c - what a model path holds. Safetensors files are recognized by their
 * header (a little-endian length, then '{'), HDF5 files by their signature, TensorFlow
 * checkpoint indexes by the LevelDB table magic at their end, and directories by the files
 * in them (variables/variables.index: a TF-Hub module or SavedModel; options.json +
 * weights.hdf5 or the only *options*.json + *weights*.hdf5: AllenNLP; the only *.index
 * table: a bilm-tf checkpoint). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "file_read.h"
#include "model.h"
#include "model_files.h"
#include "safetensors.h"
#include "tf_checkpoint.h"

#define PATH_CAP 4096
/* An HDF5 file is read into memory whole: at most twice the weights the options describe,
 * plus room for metadata (a real file holds the weights and a few KiB more). */
#define HDF5_SLACK_BYTES ((uint64_t)64 << 20)

typedef enum kind { K_UNKNOWN, K_MISSING, K_DIR, K_HDF5, K_SAFETENSORS, K_TF_INDEX } kind;

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* What is at `path`; for K_MISSING, *why is stat's errno (a symlink loop is not a
 * missing file). */
static kind detect(const char *path, int *why) {
    struct stat st;
    if (stat(path, &st) != 0) {
        *why = errno;
        return K_MISSING;
    }
    if (S_ISDIR(st.st_mode)) return K_DIR;
    if (!S_ISREG(st.st_mode)) return K_UNKNOWN;
    unsigned char head[9];
    elmo_file f; /* opened without blocking, checked regular: the path may have changed */
    if (elmo_file_open(&f, path, "model file", NULL)) return K_UNKNOWN;
    ssize_t n = pread(f.fd, head, sizeof head, 0);
    elmo_file_close(&f);
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(head, hdf5_sig, 8) == 0) return K_HDF5;
    if (n == 9 && head[8] == '{') return K_SAFETENSORS; /* the reader checks the length */
    if (elmo_tf_is_index_file(path)) return K_TF_INDEX;
    return K_UNKNOWN;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The only file in dir whose name contains `part` and ends with `ext` (into out), and how
 * many there are. The softmax head's weights (*_softmax_weights.hdf5, published next to
 * the model's) are not the model's weights. */
static int find_unique(const char *dir, const char *part, const char *ext, char *out) {
    int count = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char full[PATH_CAP];
        if (!strstr(e->d_name, part) || !ends_with(e->d_name, ext)) continue;
        if (strcmp(part, "weights") == 0 && strstr(e->d_name, "softmax")) continue;
        if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= (int)sizeof full) continue;
        if (!is_file(full)) continue;
        if (++count == 1) memcpy(out, full, sizeof full);
    }
    closedir(d);
    return count;
}

/* Reads and checks an options file (before the weights, so that swapped paths are named
 * as an options problem) into f and *cfg. */
static int open_options(elmo_model_files *f, const char *options_path, elmo_config *cfg,
                        elmo_error *err) {
    snprintf(f->options_label, sizeof f->options_label, "%s", options_path);
    int rc = elmo_options_read_text(options_path, &f->options_json, err);
    return rc ? rc
              : elmo_options_parse_text(f->options_json, strlen(f->options_json), options_path, cfg,
                                        err);
}

uint64_t elmo_hdf5_read_limit(uint64_t weight_bytes) {
    return weight_bytes > (UINT64_MAX - HDF5_SLACK_BYTES) / 2 ? UINT64_MAX
                                                              : 2 * weight_bytes + HDF5_SLACK_BYTES;
}

/* The most bytes of an HDF5 weights file read for these options. */
static uint64_t hdf5_read_limit(const elmo_config *cfg) {
    enum { MAX_LISTED = 1024 };
    elmo_tensor_desc *list = malloc(MAX_LISTED * sizeof *list);
    if (!list) return UINT64_MAX; /* no limit rather than no load: the read fails if too big */
    uint64_t bytes = 0;
    int n = elmo_weights_list(cfg, list, MAX_LISTED);
    for (int i = 0; i < n; i++) {
        uint64_t numel = 4;
        for (int d = 0; d < list[i].rank; d++) numel *= (uint64_t)list[i].dims[d];
        bytes += numel;
    }
    free(list);
    return elmo_hdf5_read_limit(bytes);
}

/* The options file, then the HDF5 weights file read for them. */
static int open_hdf5_pair(elmo_model_files *f, const char *options_path, const char *weights,
                          elmo_error *err) {
    elmo_config cfg;
    int rc = open_options(f, options_path, &cfg, err);
    return rc ? rc : elmo_hdf5_source_open(weights, hdf5_read_limit(&cfg), &f->src, err);
}

/* A TF checkpoint: its options are explicit, derived from TF-Hub names, or the
 * options.json next to a bilm-tf checkpoint. */
static int open_tf(elmo_model_files *f, const char *options_path, const char *prefix,
                   elmo_error *err) {
    char *derived = NULL;
    elmo_config cfg;
    int rc = options_path ? open_options(f, options_path, &cfg, err) : ELMO_OK;
    if (!rc) rc = elmo_tf_source_open(prefix, &f->src, options_path ? NULL : &derived, err);
    if (rc || options_path) return rc;
    if (derived) {
        f->options_json = derived;
        snprintf(f->options_label, sizeof f->options_label,
                 "%s (options derived from the TF-Hub module's shapes)", prefix);
        return ELMO_OK;
    }
    char near[PATH_CAP];
    const char *slash = strrchr(prefix, '/');
    int dir_len = slash ? (int)(slash - prefix) : 1;
    snprintf(near, sizeof near, "%.*s/options.json", dir_len, slash ? prefix : ".");
    if (is_file(near)) return open_options(f, near, &cfg, err);
    return elmo_fail(err, ELMO_ERR_ARG,
                     "checkpoint '%s' is a bilm-tf training checkpoint, which does not hold "
                     "its options; put its options.json next to it (%s) or give the options "
                     "file too",
                     prefix, near);
}

/* A safetensors file: its options are its metadata's unless given. */
static int open_safetensors(elmo_model_files *f, const char *options_path, const char *path,
                            elmo_error *err) {
    if (options_path) {
        elmo_config cfg;
        int rc = open_options(f, options_path, &cfg, err);
        return rc ? rc : elmo_safetensors_source_open(path, &f->src, NULL, err);
    }
    snprintf(f->options_label, sizeof f->options_label, "%s (elmo_options metadata)", path);
    return elmo_safetensors_source_open(path, &f->src, &f->options_json, err);
}

static int open_dir(elmo_model_files *f, const char *options_path, const char *dir,
                    elmo_error *err) {
    char a[PATH_CAP], b[PATH_CAP];
    snprintf(a, sizeof a, "%s/variables/variables.index", dir);
    if (is_file(a)) {
        snprintf(a, sizeof a, "%s/variables/variables", dir);
        return open_tf(f, options_path, a, err);
    }
    snprintf(a, sizeof a, "%s/options.json", dir);
    snprintf(b, sizeof b, "%s/weights.hdf5", dir);
    int n_opt = 1, n_w = 1;
    if (!is_file(a) || !is_file(b)) {
        n_opt = find_unique(dir, "options", ".json", a);
        n_w = find_unique(dir, "weights", ".hdf5", b);
    }
    if (n_opt == 1 && n_w == 1) return open_hdf5_pair(f, options_path ? options_path : a, b, err);
    char idx[PATH_CAP];
    if (find_unique(dir, "", ".index", idx) == 1 && elmo_tf_is_index_file(idx)) {
        idx[strlen(idx) - 6] = '\0';
        return open_tf(f, options_path, idx, err);
    }
    if (find_unique(dir, "", ".safetensors", a) == 1)
        return open_safetensors(f, options_path, a, err);
    return elmo_fail(err, ELMO_ERR_ARG,
                     "directory '%s' holds no model: expected options.json + weights.hdf5 (or "
                     "exactly one *options*.json and one *weights*.hdf5; found %d and %d), a "
                     "TF-Hub module (variables/variables.index), a TF checkpoint (one *.index "
                     "file) or one *.safetensors file",
                     dir, n_opt, n_w);
}

int elmo_model_files_open(const char *options_path, const char *path, elmo_model_files *f,
                          elmo_error *err) {
    memset(f, 0, sizeof *f);
    char buf[PATH_CAP];
    int rc;
    char dir[PATH_CAP - 64]; /* room for the file names appended below */
    if (strlen(path) >= sizeof dir)
        return elmo_fail(err, ELMO_ERR_ARG, "model path '%.64s...' is longer than %zu bytes", path,
                         sizeof dir - 1);
    snprintf(dir, sizeof dir, "%s", path);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = '\0';
    path = dir; /* "module/" and "module" name the same directory in messages */
    int missing = ENOENT;
    kind k = detect(path, &missing);
    if (k == K_DIR && options_path) k = K_UNKNOWN; /* with options, the weights are a file */
    switch (k) {
    case K_DIR: rc = open_dir(f, options_path, path, err); break;
    case K_SAFETENSORS: rc = open_safetensors(f, options_path, path, err); break;
    case K_TF_INDEX:
        snprintf(buf, sizeof buf, "%s", path);
        if (ends_with(buf, ".index")) buf[strlen(buf) - 6] = '\0';
        rc = ends_with(path, ".index")
                 ? open_tf(f, options_path, buf, err)
                 : elmo_fail(err, ELMO_ERR_ARG,
                             "'%s' is a TensorFlow checkpoint index but its name does not end "
                             "in '.index'; give the checkpoint prefix (the path without "
                             "'.index')",
                             path);
        break;
    case K_MISSING: /* a checkpoint prefix, or else the HDF5 source names the file */
    default:
        snprintf(buf, sizeof buf, "%s.index", path);
        if (k == K_MISSING && is_file(buf)) {
            rc = open_tf(f, options_path, path, err);
            break;
        }
        if (options_path) {
            rc = open_hdf5_pair(f, options_path, path, err);
        } else if (k == K_HDF5) {
            rc = elmo_fail(err, ELMO_ERR_ARG,
                           "'%s' is an HDF5 weights file, which does not hold its options; "
                           "give the options file too, or the directory holding both",
                           path);
        } else if (k == K_MISSING) {
            char why[128];
            rc = elmo_fail(err, ELMO_ERR_IO, "cannot open model '%s': %s", path,
                           elmo_errno_text(missing, why, sizeof why));
        } else {
            rc = elmo_fail(err, ELMO_ERR_FORMAT,
                           "'%s' is not a model file: expected a .safetensors file, a "
                           "directory (AllenNLP options + weights, TF-Hub module) or a "
                           "TensorFlow checkpoint",
                           path);
        }
    }
    if (rc) elmo_model_files_close(f);
    return rc;
}

int elmo_tensor_file_is_hdf5(const char *path) {
    int why = 0;
    return detect(path, &why) == K_HDF5;
}

int elmo_tensor_file_open(const char *path, const char *what, uint64_t hdf5_max_bytes,
                          elmo_tensor_source **out, elmo_error *err) {
    *out = NULL;
    char why[128];
    int missing = ENOENT;
    elmo_file f;
    int rc;
    switch (detect(path, &missing)) {
    case K_HDF5: return elmo_hdf5_source_open(path, hdf5_max_bytes, out, err);
    case K_SAFETENSORS: return elmo_safetensors_source_open(path, out, NULL, err);
    case K_MISSING:
        return elmo_fail(err, ELMO_ERR_IO, "cannot open %s '%s': %s", what, path,
                         elmo_errno_text(missing, why, sizeof why));
    default: /* a FIFO, a directory, ...: said as such */
        if ((rc = elmo_file_open(&f, path, what, err))) return rc;
        elmo_file_close(&f);
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "%s '%s' are neither an HDF5 nor a safetensors file (e.g. the "
                         "published *_softmax_weights.hdf5)",
                         what, path);
    }
}

void elmo_model_files_close(elmo_model_files *f) {
    if (f->src) f->src->close(f->src);
    free(f->options_json);
    memset(f, 0, sizeof *f);
}
