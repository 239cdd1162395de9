/*
 * registry.c - the process-wide model registry: name -> loaded model.
 *
 * Every connection of the process sees the same names. A loaded model is shared by every
 * name whose files are the same (real path, size and modification time of the options file
 * and of the model path; for a directory, the newest modification time and total size of
 * the files in it and in its variables/ folder) loaded at the same precision, and is
 * reference counted: each name holds one reference and each SQL call holds one for its
 * duration, so elmo_unload() during a running statement is safe; the model is freed when
 * the last reference goes.
 *
 * Locks: `load_lock` serializes loading (held while files are read, so two threads never
 * load the same model twice); `lock` guards the lists and counts and is held only briefly,
 * so calls on already-loaded models never wait for a load. Order: load_lock, then lock.
 * Internal memory uses malloc: the registry outlives any one connection.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* What identifies a model file: its real path, size and modification time. */
typedef struct file_id {
    char *path; /* realpath(), malloc'd */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id;

struct ext_handle {
    elmo_model *model;
    file_id options; /* path NULL: the model path carries its options */
    file_id weights; /* the weights file, or the model path */
    int precision;   /* as requested (elmo_precision) */
    file_id softmax; /* the language-model head's files, as requested (path NULL: none) */
    file_id vocab;
    int skip_head;
    int refs; /* names + calls in progress */
    sqlite3_int64 id;
    ext_handle *next;
};

typedef struct name_entry {
    char *name;
    ext_handle *model;
    struct name_entry *next;
} name_entry;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ext_handle *models; /* every model in memory */
static name_entry *names;  /* registered names, in load order */
static sqlite3_int64 last_id;

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

/* Folds the files of a directory (and of its variables/ folder) into size and mtime. */
static void fold_directory(const char *dir, int depth, file_id *id) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char full[4096];
        struct stat st;
        if (e->d_name[0] == '.' ||
            snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= (int)sizeof full ||
            stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth == 0 && strcmp(e->d_name, "variables") == 0)
            fold_directory(full, 1, id);
        if (!S_ISREG(st.st_mode)) continue;
        id->size += st.st_size;
        if (st.st_mtim.tv_sec > id->mtime.tv_sec ||
            (st.st_mtim.tv_sec == id->mtime.tv_sec && st.st_mtim.tv_nsec > id->mtime.tv_nsec))
            id->mtime = st.st_mtim;
    }
    closedir(d);
}

/* Fills id for one file; `kind` is "options", "weights", "model", "softmax weights" or
 * "vocabulary" (a model path may also be a directory; weights and model paths may be a TF
 * checkpoint prefix, identified by its .index file). */
static int identify(const char *fn, const char *kind, const char *path, file_id *id, char **msg) {
    memset(id, 0, sizeof *id);
    struct stat st;
    char *real = realpath(path, NULL);
    if (!real && errno == ENOENT && strcmp(kind, "options") != 0) {
        char *index = sqlite3_mprintf("%s.index", path);
        if (!index) return SQLITE_NOMEM;
        real = realpath(index, NULL);
        sqlite3_free(index);
        if (!real) errno = ENOENT;
    }
    if (real && strcmp(kind, "model") == 0 && stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
        *id = (file_id){.path = real, .dev = st.st_dev, .ino = st.st_ino};
        fold_directory(real, 0, id);
        return SQLITE_OK;
    }
    if (!real || stat(real, &st) != 0) {
        int e = errno;
        free(real);
        if (e == ENOMEM) return SQLITE_NOMEM;
        char why[128] = "unknown error";
        strerror_r(e, why, sizeof why);
        *msg = strcmp(kind, "model") == 0
                   ? sqlite3_mprintf("%s: cannot open model '%s': %s", fn, path, why)
                   : sqlite3_mprintf("%s: cannot open %s file '%s': %s", fn, kind, path, why);
        return SQLITE_ERROR;
    }
    if (!S_ISREG(st.st_mode)) {
        free(real);
        *msg = sqlite3_mprintf("%s: %s file '%s' is not a regular file; give the path of the "
                               "%s",
                               fn, kind, path,
                               strcmp(kind, "options") == 0      ? "options JSON file"
                               : strcmp(kind, "vocabulary") == 0 ? "vocabulary text file"
                               : strcmp(kind, "weights") == 0    ? "HDF5 weights file"
                                                                 : "softmax weights file");
        return SQLITE_ERROR;
    }
    *id = (file_id){
        .path = real, .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size, .mtime = st.st_mtim};
    return SQLITE_OK;
}

static int same_file(const file_id *a, const file_id *b) {
    if (!a->path || !b->path) return a->path == b->path;
    return strcmp(a->path, b->path) == 0 && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The files of a request: options, weights, and the head's softmax weights and vocabulary
 * (a NULL path: not given), with the parameters that change what is loaded from them. */
typedef struct request {
    file_id options, weights, softmax, vocab;
    int precision, skip_head;
} request;

static int same_head(const ext_handle *h, const request *r) {
    return same_file(&h->softmax, &r->softmax) && same_file(&h->vocab, &r->vocab) &&
           h->skip_head == r->skip_head;
}

static int same_model(const ext_handle *h, const request *r) {
    return same_file(&h->options, &r->options) && same_file(&h->weights, &r->weights) &&
           h->precision == r->precision && same_head(h, r);
}

static name_entry *find_name(const char *name) {
    for (name_entry *e = names; e; e = e->next)
        if (strcmp(e->name, name) == 0) return e;
    return NULL;
}

/* Drops one reference; returns the handle to free (outside the lock) when it was the last.
 * Caller holds `lock`. */
static ext_handle *unref_locked(ext_handle *h) {
    if (--h->refs > 0) return NULL;
    for (ext_handle **p = &models; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            break;
        }
    return h;
}

static void request_free(request *r) {
    free(r->options.path);
    free(r->weights.path);
    free(r->softmax.path);
    free(r->vocab.path);
}

static void handle_free(ext_handle *h) {
    if (!h) return;
    elmo_model_free(h->model);
    free(h->options.path);
    free(h->weights.path);
    free(h->softmax.path);
    free(h->vocab.path);
    free(h);
}

/* A name entry not yet linked into `names` (allocated before taking the lock). */
static name_entry *name_entry_new(const char *name) {
    name_entry *e = malloc(sizeof *e);
    char *copy = copy_string(name);
    if (!e || !copy) {
        free(e);
        free(copy);
        return NULL;
    }
    *e = (name_entry){.name = copy, .model = NULL, .next = NULL};
    return e;
}

static void name_entry_free(name_entry *e) {
    if (!e) return;
    free(e->name);
    free(e);
}

/* Appends e -> h, taking a reference to h. Caller holds `lock`. */
static void add_name_locked(name_entry *e, ext_handle *h) {
    e->model = h;
    h->refs++;
    name_entry **tail = &names;
    while (*tail) tail = &(*tail)->next;
    *tail = e;
}

/* "'a', 'b'" or NULL: the registered names, for messages. Caller holds `lock`. */
static char *name_list_locked(void) {
    char *s = NULL;
    for (name_entry *e = names; e; e = e->next) {
        char *t = s ? sqlite3_mprintf("%s, %s", s, e->name) : sqlite3_mprintf("%s", e->name);
        sqlite3_free(s);
        if (!t) return NULL;
        s = t;
    }
    return s;
}

/* "no model named 'x'; loaded: a, b" (or "no models are loaded"). Caller holds `lock`. */
static int unknown_name_locked(const char *fn, const char *name, char **msg) {
    char *list = name_list_locked(), shown[EXT_SHOWN_MAX + 1];
    name = ext_shown(name, shown);
    if (list) *msg = sqlite3_mprintf("%s: no model named '%s'; loaded: %s", fn, name, list);
    else
        *msg = sqlite3_mprintf("%s: no model named '%s'; no models are loaded; load one with "
                               "SELECT elmo_load('%s', '/path/options.json', "
                               "'/path/weights.hdf5')",
                               fn, name, name);
    sqlite3_free(list);
    return SQLITE_ERROR;
}

/* The error for loading other files under a registered name. Caller holds `lock`. */
static int name_conflict_locked(const char *fn, const char *name, const ext_handle *h,
                                const request *r, char **msg) {
    char shown[EXT_SHOWN_MAX + 1];
    name = ext_shown(name, shown);
    const file_id *o = &r->options, *w = &r->weights;
    int precision = r->precision;
    int same_paths = (h->options.path && o->path ? strcmp(h->options.path, o->path) == 0
                                                 : h->options.path == o->path) &&
                     strcmp(h->weights.path, w->path) == 0;
    if (same_paths && h->precision == precision && same_file(&h->options, o) &&
        same_file(&h->weights, w) && !same_head(h, r))
        *msg = sqlite3_mprintf("%s: model '%s' is already loaded from these files with %s "
                               "language-model head; call elmo_unload('%s') first, or load this "
                               "one under another name",
                               fn, name, h->softmax.path || h->vocab.path ? "another" : "no", name);
    else if (same_paths && h->precision != precision)
        *msg = sqlite3_mprintf("%s: model '%s' is already loaded from these files with "
                               "precision '%s'; call elmo_unload('%s') first, or load the "
                               "other precision under another name",
                               fn, name, elmo_precision_name(h->precision), name);
    else if (same_paths && !h->options.path)
        *msg = sqlite3_mprintf("%s: the files of model '%s' changed on disk since they were "
                               "loaded; call elmo_unload('%s') first to load them again",
                               fn, name, name);
    else if (!h->options.path)
        *msg = sqlite3_mprintf("%s: a different model is already loaded as '%s' (from '%s'); "
                               "call elmo_unload('%s') first",
                               fn, name, h->weights.path, name);
    else if (same_paths)
        *msg = sqlite3_mprintf("%s: the files of model '%s' changed on disk since they were "
                               "loaded; call elmo_unload('%s') first to load them again",
                               fn, name, name);
    else
        *msg = sqlite3_mprintf("%s: a different model is already loaded as '%s' (from '%s' and "
                               "'%s'); call elmo_unload('%s') first",
                               fn, name, h->options.path, h->weights.path, name);
    return SQLITE_ERROR;
}

/* Reads the files into a new, unlisted handle that takes over the request's paths. */
static int load_handle(const char *fn, const char *name, request *req,
                       const elmo_load_params *requested, const char *source, ext_handle **out,
                       char **msg) {
    elmo_error err;
    elmo_model *model = NULL;
    file_id *o = &req->options, *w = &req->weights;
    elmo_load_params params = *requested; /* the head's files by their real paths */
    params.softmax_path = req->softmax.path;
    params.vocab_path = req->vocab.path;
    int rc = o->path ? elmo_model_load(o->path, w->path, &params, &model, &err)
                     : elmo_model_load_path(w->path, &params, &model, &err);
    if (rc != ELMO_OK) {
        /* out of memory included: the core's message says how much and for what */
        char shown[EXT_SHOWN_MAX + 1];
        *msg = source ? sqlite3_mprintf("%s: cannot load the default model (%s): %s", fn, source,
                                        err.message)
                      : sqlite3_mprintf("%s: cannot load model '%s': %s", fn,
                                        ext_shown(name, shown), err.message);
        return SQLITE_ERROR;
    }
    ext_handle *h = calloc(1, sizeof *h);
    if (!h) {
        elmo_model_free(model);
        return SQLITE_NOMEM;
    }
    *h = (ext_handle){.model = model,
                      .options = *o,
                      .weights = *w,
                      .precision = req->precision,
                      .softmax = req->softmax,
                      .vocab = req->vocab,
                      .skip_head = req->skip_head,
                      .refs = 0,
                      .id = 0};
    memset(req, 0, sizeof *req); /* the handle owns the paths now */
    *out = h;
    return SQLITE_OK;
}

/*
 * Registers name -> the model in the given files, loading them unless they are in memory
 * already. With keep_existing, a registered name is left as it is (for the default model,
 * which another thread may have just loaded). `source` says where the paths came from.
 * With `acquire`, also takes a reference to the model the name ends up with, under the
 * same lock as the registration, so that an elmo_unload in between cannot take it away.
 */
static int load_named(const char *fn, const char *name, const char *options_path,
                      const char *weights_path, const elmo_load_params *params, int keep_existing,
                      const char *source, ext_handle **acquire, char **msg) {
    request req = {0};
    elmo_load_params defaults = elmo_load_default_params();
    if (!params) params = &defaults;
    req.precision = (int)params->precision;
    req.skip_head = params->skip_head;
    name_entry *entry = name_entry_new(name);
    int rc = entry ? SQLITE_OK : SQLITE_NOMEM;
    if (!rc && options_path) rc = identify(fn, "options", options_path, &req.options, msg);
    if (!rc) rc = identify(fn, options_path ? "weights" : "model", weights_path, &req.weights, msg);
    if (!rc && params->softmax_path)
        rc = identify(fn, "softmax weights", params->softmax_path, &req.softmax, msg);
    if (!rc && params->vocab_path)
        rc = identify(fn, "vocabulary", params->vocab_path, &req.vocab, msg);
    if (rc) goto out;

    pthread_mutex_lock(&load_lock);
    pthread_mutex_lock(&lock);
    name_entry *existing = find_name(name);
    if (existing) {
        if (!keep_existing && !same_model(existing->model, &req))
            rc = name_conflict_locked(fn, name, existing->model, &req, msg);
        else if (acquire) {
            existing->model->refs++;
            *acquire = existing->model;
        }
    } else {
        ext_handle *h = models;
        while (h && !same_model(h, &req)) h = h->next;
        if (!h) { /* read the files without blocking calls on loaded models */
            pthread_mutex_unlock(&lock);
            rc = load_handle(fn, name, &req, params, source, &h, msg);
            pthread_mutex_lock(&lock);
            if (!rc) {
                h->id = ++last_id;
                h->next = models;
                models = h;
            }
        }
        if (!rc) {
            add_name_locked(entry, h);
            entry = NULL;
            if (acquire) {
                h->refs++;
                *acquire = h;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&load_lock);
out:
    name_entry_free(entry);
    request_free(&req);
    return rc;
}

int ext_registry_load(const char *fn, const char *name, const char *options_path,
                      const char *weights_path, const elmo_load_params *params, char **msg) {
    return load_named(fn, name, options_path, weights_path, params, 0, NULL, NULL, msg);
}

int ext_registry_unload(const char *fn, const char *name, char **msg) {
    pthread_mutex_lock(&lock);
    name_entry **p = &names;
    while (*p && strcmp((*p)->name, name) != 0) p = &(*p)->next;
    if (!*p) {
        int rc = unknown_name_locked(fn, name, msg);
        pthread_mutex_unlock(&lock);
        return rc;
    }
    name_entry *e = *p;
    *p = e->next;
    ext_handle *dead = unref_locked(e->model);
    pthread_mutex_unlock(&lock);
    handle_free(dead);
    name_entry_free(e);
    return SQLITE_OK;
}

static int acquire_existing(const char *name, ext_handle **out) {
    pthread_mutex_lock(&lock);
    name_entry *e = find_name(name);
    if (e) {
        e->model->refs++;
        *out = e->model;
    }
    pthread_mutex_unlock(&lock);
    return e != NULL;
}

/* The error for a missing default model when the environment names none. */
static int no_default_model(const char *fn, char **msg) {
    pthread_mutex_lock(&lock);
    char *list = name_list_locked();
    pthread_mutex_unlock(&lock);
    if (list)
        *msg = sqlite3_mprintf("%s: no model named 'default' (loaded: %s); pass "
                               "'{\"model\":\"NAME\"}' as options, run SELECT "
                               "elmo_load('default', '/path/options.json', "
                               "'/path/weights.hdf5') or set ELMO_MODEL to a directory with "
                               "options.json and weights.hdf5",
                               fn, list);
    else
        *msg = sqlite3_mprintf("%s: no model loaded; run SELECT elmo_load('default', "
                               "'/path/options.json', '/path/weights.hdf5') or set ELMO_MODEL "
                               "to a directory with options.json and weights.hdf5",
                               fn);
    sqlite3_free(list);
    return SQLITE_ERROR;
}

/* Loads the default model the environment names, unless one is registered meanwhile, and
 * takes a reference to it in *out. */
static int load_default(const char *fn, ext_handle **out, char **msg) {
    char *options = NULL, *weights = NULL;
    int rc = ext_default_model_files(fn, &options, &weights, msg);
    if (rc == SQLITE_OK && !weights) return no_default_model(fn, msg);
    if (rc == SQLITE_OK) {
        const char *dir = getenv("ELMO_MODEL");
        char *source = dir && *dir ? sqlite3_mprintf("ELMO_MODEL=%s", dir)
                                   : sqlite3_mprintf("ELMO_OPTIONS and ELMO_WEIGHTS");
        rc = source ? load_named(fn, EXT_DEFAULT_MODEL, options, weights, NULL, 1, source, out, msg)
                    : SQLITE_NOMEM;
        sqlite3_free(source);
    }
    sqlite3_free(options);
    sqlite3_free(weights);
    return rc;
}

int ext_registry_acquire(const char *fn, const char *name, ext_handle **out, char **msg) {
    *out = NULL;
    if (acquire_existing(name, out)) return SQLITE_OK;
    if (strcmp(name, EXT_DEFAULT_MODEL) == 0) return load_default(fn, out, msg);
    pthread_mutex_lock(&lock);
    int rc = unknown_name_locked(fn, name, msg);
    pthread_mutex_unlock(&lock);
    return rc;
}

void ext_registry_release(ext_handle *h) {
    if (!h) return;
    pthread_mutex_lock(&lock);
    ext_handle *dead = unref_locked(h);
    pthread_mutex_unlock(&lock);
    handle_free(dead);
}

const elmo_model *ext_handle_model(const ext_handle *h) {
    return h ? h->model : NULL;
}

void ext_registry_rows_free(ext_registry_row *rows, int n) {
    for (int i = 0; rows && i < n; i++) {
        sqlite3_free(rows[i].name);
        sqlite3_free(rows[i].options_path);
        sqlite3_free(rows[i].weights_path);
    }
    sqlite3_free(rows);
}

int ext_registry_list(ext_registry_row **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&lock);
    int n = 0;
    for (name_entry *e = names; e; e = e->next) n++;
    ext_registry_row *rows = sqlite3_malloc64((n ? n : 1) * sizeof *rows); /* [n] */
    int rc = rows ? SQLITE_OK : SQLITE_NOMEM;
    if (rows) memset(rows, 0, (n ? n : 1) * sizeof *rows);
    int i = 0;
    for (name_entry *e = names; e && rc == SQLITE_OK; e = e->next, i++) {
        ext_registry_row *r = &rows[i];
        r->name = sqlite3_mprintf("%s", e->name);
        r->options_path =
            e->model->options.path ? sqlite3_mprintf("%s", e->model->options.path) : NULL;
        r->weights_path = sqlite3_mprintf("%s", e->model->weights.path);
        elmo_model_get_info(e->model->model, &r->info);
        r->model_id = e->model->id;
        if (!r->name || (e->model->options.path && !r->options_path) || !r->weights_path)
            rc = SQLITE_NOMEM;
    }
    pthread_mutex_unlock(&lock);
    if (rc) {
        ext_registry_rows_free(rows, n);
        return rc;
    }
    *out = rows;
    *n_out = n;
    return SQLITE_OK;
}
