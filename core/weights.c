/* weights.c - reads the HDF5 weight file (spec section 4) into one arena, checking every
 * dataset's presence, rank, shape and element type against the options first. */
#include <errno.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigbuf.h"
#include "error.h"
#include "model.h"

#define MAX_RANK 4
#define MAX_TENSORS (2 * ELMO_MAX_FILTER_BANKS + 4 * ELMO_MAX_HIGHWAY + 8 + 6 * ELMO_MAX_LSTM_LAYERS)
#define ALIGN_FLOATS 16 /* 64-byte alignment of every tensor in the arena */
#define MAX_FLOATS ((int64_t)1 << 34) /* 64 GiB of weights: far beyond any ELMo */

/* HDF5 keeps global state (error stacks, open-object tables); serialize our use of it. */
static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct tensor_spec {
    char name[96];
    int rank;
    int64_t dims[MAX_RANK];
    int optional;          /* 1: may be absent (the projection when F == P or P == H) */
    const float **dest;    /* where to store the pointer into the arena (NULL if absent) */
    int64_t offset;        /* floats from the arena start */
} tensor_spec;

typedef struct spec_list {
    tensor_spec t[MAX_TENSORS];
    int n;
} spec_list;

static void add_spec(spec_list *s, const char *name, int rank, const int64_t *dims,
                     int optional, const float **dest) {
    tensor_spec *t = &s->t[s->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    t->optional = optional;
    t->dest = dest;
}

static int64_t spec_numel(const tensor_spec *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

/* The datasets the options imply, in file order (spec section 4). */
static void build_specs(const elmo_config *c, elmo_weights *w, spec_list *s) {
    int64_t dc = c->char_embed_dim, F = c->n_filters, P = c->proj_dim, H = c->cell_dim;
    char name[96];
    s->n = 0;
    add_spec(s, "char_embed", 2, (int64_t[]){ELMO_CHAR_VOCAB, dc}, 0, &w->char_embed);
    for (int i = 0; i < c->n_banks; i++) {
        snprintf(name, sizeof name, "CNN/W_cnn_%d", i);
        add_spec(s, name, 4, (int64_t[]){1, c->bank_width[i], dc, c->bank_count[i]}, 0,
                 &w->conv_w[i]);
        snprintf(name, sizeof name, "CNN/b_cnn_%d", i);
        add_spec(s, name, 1, (int64_t[]){c->bank_count[i]}, 0, &w->conv_b[i]);
    }
    for (int k = 0; k < c->n_highway; k++) {
        elmo_highway *hw = &w->highway[k];
        snprintf(name, sizeof name, "CNN_high_%d/W_carry", k);
        add_spec(s, name, 2, (int64_t[]){F, F}, 0, &hw->w_carry);
        snprintf(name, sizeof name, "CNN_high_%d/b_carry", k);
        add_spec(s, name, 1, (int64_t[]){F}, 0, &hw->b_carry);
        snprintf(name, sizeof name, "CNN_high_%d/W_transform", k);
        add_spec(s, name, 2, (int64_t[]){F, F}, 0, &hw->w_transform);
        snprintf(name, sizeof name, "CNN_high_%d/b_transform", k);
        add_spec(s, name, 1, (int64_t[]){F}, 0, &hw->b_transform);
    }
    /* bilm-tf writes CNN_proj only when F != P; accept it when present anyway. */
    add_spec(s, "CNN_proj/W_proj", 2, (int64_t[]){F, P}, F == P, &w->proj_w);
    add_spec(s, "CNN_proj/b_proj", 1, (int64_t[]){P}, F == P, &w->proj_b);
    for (int d = 0; d < 2; d++) {
        for (int l = 0; l < c->n_layers; l++) {
            elmo_cell *cell = &w->cells[d][l];
            char base[64];
            snprintf(base, sizeof base, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell", d, l);
            snprintf(name, sizeof name, "%s/W_0", base);
            add_spec(s, name, 2, (int64_t[]){2 * P, 4 * H}, 0, &cell->w_in);
            snprintf(name, sizeof name, "%s/B", base);
            add_spec(s, name, 1, (int64_t[]){4 * H}, 0, &cell->bias);
            /* W_P_0 exists only when P < H in bilm-tf; accept it when P == H too. */
            snprintf(name, sizeof name, "%s/W_P_0", base);
            add_spec(s, name, 2, (int64_t[]){H, P}, P == H, &cell->w_proj);
        }
    }
}

static void format_dims(char *buf, size_t cap, int rank, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                                 (long long)dims[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

static void describe_type(hid_t type, char *buf, size_t cap) {
    H5T_class_t cls = H5Tget_class(type);
    size_t bits = H5Tget_size(type) * 8;
    if (cls == H5T_FLOAT)
        snprintf(buf, cap, "float%zu", bits);
    else if (cls == H5T_INTEGER)
        snprintf(buf, cap, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
    else if (cls == H5T_STRING)
        snprintf(buf, cap, "string");
    else
        snprintf(buf, cap, "a non-numeric type (HDF5 class %d)", (int)cls);
}

/* 1 if every group on the way to `path` and the link itself exist. */
static int link_exists(hid_t file, const char *path) {
    char prefix[96];
    size_t len = strlen(path);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0) return 0;
    }
    return 1;
}

typedef struct load_ctx {
    const char *path;
    hid_t file;
    elmo_error *err;
} load_ctx;

/* Opens spec's dataset and checks rank, shape and type. *present = 0 for an absent
 * optional dataset. On success with *present, *out is an open dataset id. */
static int open_checked(load_ctx *c, const tensor_spec *t, hid_t *out, int *present) {
    char want[96], got[96];
    format_dims(want, sizeof want, t->rank, t->dims);
    *present = link_exists(c->file, t->name);
    if (!*present) {
        if (t->optional) return ELMO_OK;
        return elmo_fail(c->err, ELMO_ERR_FORMAT,
                         "weights file '%s' has no dataset '%s' (expected float32 %s); check "
                         "that the weights belong to these options",
                         c->path, t->name, want);
    }
    hid_t ds = H5Dopen2(c->file, t->name, H5P_DEFAULT);
    if (ds < 0)
        return elmo_fail(c->err, ELMO_ERR_FORMAT,
                         "weights file '%s': '%s' exists but is not a dataset", c->path,
                         t->name);
    hid_t space = H5Dget_space(ds), type = H5Dget_type(ds);
    int rc = ELMO_OK;
    hsize_t dims[H5S_MAX_RANK];
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank < 0 || type < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        rc = elmo_fail(c->err, ELMO_ERR_FORMAT,
                       "weights file '%s': cannot read the shape of dataset '%s' (the file "
                       "may be corrupted)",
                       c->path, t->name);
    } else {
        int64_t got_dims[MAX_RANK + 1];
        int shown = rank <= MAX_RANK + 1 ? rank : MAX_RANK + 1;
        for (int i = 0; i < shown; i++) got_dims[i] = (int64_t)dims[i];
        int same = rank == t->rank;
        for (int i = 0; same && i < rank; i++) same = got_dims[i] == t->dims[i];
        if (!same) {
            format_dims(got, sizeof got, shown, got_dims);
            rc = elmo_fail(c->err, ELMO_ERR_FORMAT,
                           "weights file '%s': dataset '%s' has shape %s%s, expected %s; "
                           "check that the weights belong to these options",
                           c->path, t->name, got, rank > shown ? " (truncated)" : "", want);
        } else if (H5Tget_class(type) != H5T_FLOAT || H5Tget_size(type) != 4) {
            describe_type(type, got, sizeof got);
            rc = elmo_fail(c->err, ELMO_ERR_FORMAT,
                           "weights file '%s': dataset '%s' has type %s, expected float32",
                           c->path, t->name, got);
        }
    }
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (rc) {
        H5Dclose(ds);
        return rc;
    }
    *out = ds;
    return ELMO_OK;
}

static hid_t open_file(load_ctx *c) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    /* Reading needs no lock; this also lets weights live on read-only media. */
    if (fapl >= 0) H5Pset_file_locking(fapl, 0, 1);
#endif
    hid_t f = H5Fopen(c->path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0) H5Pclose(fapl);
    return f;
}

/* Checks the file before HDF5 sees it, for clear messages on the common mistakes. */
static int check_file(load_ctx *c) {
    FILE *f = fopen(c->path, "rb");
    char why[128];
    if (!f)
        return elmo_fail(c->err, ELMO_ERR_IO, "cannot open weights file '%s': %s", c->path,
                         elmo_errno_text(errno, why, sizeof why));
    fclose(f);
    htri_t is = H5Fis_hdf5(c->path);
    if (is <= 0)
        return elmo_fail(c->err, ELMO_ERR_FORMAT,
                         "weights file '%s' is not an HDF5 file; expected the AllenNLP "
                         "*_weights.hdf5 file",
                         c->path);
    return ELMO_OK;
}

/* Datasets one past what the options describe must not exist: their presence means the
 * options undercount the model (e.g. n_highway or n_layers left at a default). */
static int check_no_extra(load_ctx *c, const elmo_config *cfg) {
    char name[96], what[64];
    snprintf(name, sizeof name, "CNN/W_cnn_%d", cfg->n_banks);
    snprintf(what, sizeof what, "char_cnn.filters has %d entries", cfg->n_banks);
    int extra = link_exists(c->file, name);
    if (!extra) {
        snprintf(name, sizeof name, "CNN_high_%d", cfg->n_highway);
        snprintf(what, sizeof what, "char_cnn.n_highway is %d", cfg->n_highway);
        extra = link_exists(c->file, name);
    }
    for (int d = 0; d < 2 && !extra; d++) {
        snprintf(name, sizeof name, "RNN_%d/RNN/MultiRNNCell/Cell%d", d, cfg->n_layers);
        snprintf(what, sizeof what, "lstm.n_layers is %d", cfg->n_layers);
        extra = link_exists(c->file, name);
    }
    if (!extra) return ELMO_OK;
    return elmo_fail(c->err, ELMO_ERR_FORMAT,
                     "weights file '%s' has '%s', which the options do not use (%s); check "
                     "that the weights belong to these options",
                     c->path, name, what);
}

/* Checks every dataset, then allocates the arena once and reads them all. */
static int load_locked(load_ctx *c, const elmo_config *cfg, elmo_weights *w,
                       int64_t *n_params) {
    spec_list *specs = calloc(1, sizeof *specs);
    hid_t ids[MAX_TENSORS];
    int present[MAX_TENSORS] = {0};
    int rc = ELMO_OK, n_open = 0;
    if (!specs) return elmo_fail(c->err, ELMO_ERR_NOMEM, "out of memory");
    build_specs(cfg, w, specs);

    int64_t total = 0, params = 0;
    for (int i = 0; i < specs->n && !rc; i++) {
        rc = open_checked(c, &specs->t[i], &ids[i], &present[i]);
        if (rc) break;
        n_open = i + 1;
        if (!present[i]) continue;
        int64_t numel = spec_numel(&specs->t[i]);
        specs->t[i].offset = total;
        total += (numel + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
        params += numel;
        if (total > MAX_FLOATS)
            rc = elmo_fail(c->err, ELMO_ERR_FORMAT,
                           "weights file '%s': the options describe more than 64 GiB of "
                           "weights; check the options file",
                           c->path);
    }
    if (!rc) {
        w->arena = elmo_big_alloc((size_t)total * sizeof(float));
        if (!w->arena) {
            rc = elmo_fail(c->err, ELMO_ERR_NOMEM,
                           "out of memory allocating %.1f MiB of weights from '%s'",
                           (double)total * 4 / (1 << 20), c->path);
        }
    }
    for (int i = 0; i < specs->n && !rc; i++) {
        tensor_spec *t = &specs->t[i];
        if (!present[i]) {
            *t->dest = NULL;
            continue;
        }
        float *dst = w->arena + t->offset;
        if (H5Dread(ids[i], H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
            rc = elmo_fail(c->err, ELMO_ERR_FORMAT,
                           "weights file '%s': cannot read dataset '%s' (the file is "
                           "truncated or corrupted; download it again)",
                           c->path, t->name);
        *t->dest = dst;
    }
    for (int i = 0; i < n_open; i++)
        if (present[i]) H5Dclose(ids[i]);
    free(specs);
    if (rc) {
        elmo_big_free(w->arena);
        w->arena = NULL;
        return rc;
    }
    *n_params = params;
    return ELMO_OK;
}

int elmo_weights_load(const char *path, const elmo_config *cfg, elmo_weights *w,
                      int64_t *n_params, elmo_error *err) {
    memset(w, 0, sizeof *w);
    load_ctx c = {path, -1, err};
    pthread_mutex_lock(&h5_lock);
    H5E_auto2_t old_func = NULL;
    void *old_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the library never prints */
    int rc = check_file(&c);
    if (!rc) {
        c.file = open_file(&c);
        if (c.file < 0)
            rc = elmo_fail(err, ELMO_ERR_FORMAT,
                           "cannot open weights file '%s' as HDF5 (the file is truncated or "
                           "corrupted; download it again)",
                           path);
    }
    if (!rc) rc = load_locked(&c, cfg, w, n_params);
    if (!rc && (rc = check_no_extra(&c, cfg))) {
        elmo_big_free(w->arena);
        w->arena = NULL;
    }
    if (c.file >= 0) H5Fclose(c.file);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    pthread_mutex_unlock(&h5_lock);
    if (rc) return rc;

    /* TensorFlow adds 1.0 to the forget gate at run time; fold it into B once. */
    int64_t H = cfg->cell_dim;
    for (int d = 0; d < 2; d++)
        for (int l = 0; l < cfg->n_layers; l++) {
            float *bias = (float *)w->cells[d][l].bias;
            for (int64_t u = 2 * H; u < 3 * H; u++) bias[u] += 1.0f;
            /* W_0 holds [input rows ; recurrent rows]. */
            w->cells[d][l].w_rec = w->cells[d][l].w_in + (int64_t)cfg->proj_dim * 4 * H;
        }
    return elmo_ok(err);
}
