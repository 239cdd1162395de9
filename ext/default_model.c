/*
 * default_model.c - which files the environment names as the default model:
 *   ELMO_MODEL=DIR  DIR/options.json + DIR/weights.hdf5, or else the only *options*.json
 *                   and the only *weights*.hdf5 in DIR (the official AllenNLP file names,
 *                   e.g. elmo_2x1024_128_2048cnn_1xhighway_options.json);
 *   ELMO_MODEL=PATH any other model path elmo_model_load_path accepts (a .safetensors
 *                   file, a TF-Hub module directory, a TF checkpoint prefix): returned as
 *                   the weights path with no options path;
 *   ELMO_OPTIONS + ELMO_WEIGHTS  the two files.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

static int is_file(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The only file in dir whose name contains `part` and ends with `ext`: sets *path (or
 * leaves it NULL) and counts the matches in *count. */
static int find_unique(const char *dir, const char *part, const char *ext, char **path,
                       int *count) {
    *path = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return SQLITE_OK;
    int rc = SQLITE_OK;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strstr(e->d_name, part) || !ends_with(e->d_name, ext)) continue;
        char *full = sqlite3_mprintf("%s/%s", dir, e->d_name);
        if (!full) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (!is_file(full)) {
            sqlite3_free(full);
            continue;
        }
        if (++*count == 1) {
            *path = full;
        } else {
            sqlite3_free(full);
            sqlite3_free(*path);
            *path = NULL;
        }
    }
    closedir(d);
    if (rc) {
        sqlite3_free(*path);
        *path = NULL;
    }
    return rc;
}

static int from_directory(const char *fn, const char *dir, char **options, char **weights,
                          char **msg) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *msg = sqlite3_mprintf("%s: ELMO_MODEL is '%s', which is not a directory; set it to a "
                               "directory with options.json and weights.hdf5",
                               fn, dir);
        return SQLITE_ERROR;
    }
    *options = sqlite3_mprintf("%s/options.json", dir);
    *weights = sqlite3_mprintf("%s/weights.hdf5", dir);
    if (!*options || !*weights) return SQLITE_NOMEM;
    if (is_file(*options) && is_file(*weights)) return SQLITE_OK;
    sqlite3_free(*options);
    sqlite3_free(*weights);
    *options = *weights = NULL;
    int n_options = 0, n_weights = 0;
    int rc = find_unique(dir, "options", ".json", options, &n_options);
    if (rc == SQLITE_OK) rc = find_unique(dir, "weights", ".hdf5", weights, &n_weights);
    if (rc == SQLITE_OK && (!*options || !*weights)) {
        *msg = sqlite3_mprintf("%s: ELMO_MODEL directory '%s' has neither options.json + "
                               "weights.hdf5 nor exactly one *options*.json and one "
                               "*weights*.hdf5 file (found %d and %d)",
                               fn, dir, n_options, n_weights);
        rc = SQLITE_ERROR;
    }
    return rc;
}

/* An error naming the variable when the path it holds does not exist (a typo in the
 * environment should not read as a problem with some model file). */
static int missing(const char *fn, const char *var, const char *path, const char *what,
                   char **msg) {
    struct stat st;
    if (stat(path, &st) == 0) return 0;
    *msg =
        sqlite3_mprintf("%s: %s is '%s', which does not exist; set it to %s", fn, var, path, what);
    return 1;
}

int ext_default_model_files(const char *fn, char **options, char **weights, char **msg) {
    *options = *weights = NULL;
    const char *dir = getenv("ELMO_MODEL");
    const char *o = getenv("ELMO_OPTIONS"), *w = getenv("ELMO_WEIGHTS");
    int rc = SQLITE_OK;
    char *hub = dir && *dir ? sqlite3_mprintf("%s/variables/variables.index", dir) : NULL;
    struct stat st;
    if (dir && *dir && !hub) {
        rc = SQLITE_NOMEM;
    } else if (dir && *dir &&
               missing(fn, "ELMO_MODEL", dir,
                       "a model: a .safetensors file or a directory with options.json and "
                       "weights.hdf5",
                       msg)) {
        rc = SQLITE_ERROR;
    } else if (dir && *dir && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || is_file(hub))) {
        *weights = sqlite3_mprintf("%s", dir); /* a model path: the core tells its format */
        if (!*weights) rc = SQLITE_NOMEM;
    } else if (dir && *dir) {
        rc = from_directory(fn, dir, options, weights, msg);
    } else if ((o && *o) != (w && *w)) {
        *msg = sqlite3_mprintf("%s: %s is set but %s is not; set both (or ELMO_MODEL to a "
                               "directory with options.json and weights.hdf5)",
                               fn, o && *o ? "ELMO_OPTIONS" : "ELMO_WEIGHTS",
                               o && *o ? "ELMO_WEIGHTS" : "ELMO_OPTIONS");
        rc = SQLITE_ERROR;
    } else if (o && *o &&
               (missing(fn, "ELMO_OPTIONS", o, "the model's options JSON file", msg) ||
                missing(fn, "ELMO_WEIGHTS", w, "the model's weights file", msg))) {
        rc = SQLITE_ERROR;
    } else if (o && *o) {
        *options = sqlite3_mprintf("%s", o);
        *weights = sqlite3_mprintf("%s", w);
        if (!*options || !*weights) rc = SQLITE_NOMEM;
    }
    sqlite3_free(hub);
    if (rc) {
        sqlite3_free(*options);
        sqlite3_free(*weights);
        *options = *weights = NULL;
    }
    return rc;
}
