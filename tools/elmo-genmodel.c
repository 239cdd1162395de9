/*
 * elmo-genmodel - writes a synthetic ELMo model in the AllenNLP / bilm-tf file layout
 * (options.json + weights.hdf5, docs/model.md §2 and §4) with seeded random weights.
 *
 * Used for benchmarks (the published Small/Medium/Original shapes without downloading
 * them), scale tests and the loader's malformed-file tests (--omit, --reshape, --dtype,
 * --truncate). With --vocab-size or --vocab it also writes a language-model head:
 * softmax_weights.hdf5 (softmax/W [V, P], softmax/b [V], the layout of the published
 * *_softmax_weights.hdf5) and, for --vocab-size, vocab.txt (<S>, </S>, <UNK>, then made-up
 * words). Run `elmo-genmodel --help` for the flags.
 *
 * Determinism: every dataset draws from its own splitmix64 stream seeded from (seed, dataset
 * name), and every value is one correctly rounded float multiply of an exactly representable
 * uniform, so a given seed and flag set gives byte-identical files on any IEEE-754 machine
 * with the same HDF5 version (object timestamps are switched off). Editing one dataset with
 * a corruption flag leaves the values of all the others unchanged.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <hdf5.h>

#define EXIT_ERROR 2
#define MAX_FILTERS 64
#define MAX_RANK 8
#define NAME_LEN 128
#define MAX_EDITS 256
#define MAX_SIZE_FIELD 1000000                /* upper bound for H, P, d_c, filter sizes */
#define MAX_DATASET_ELEMS (UINT64_C(1) << 32) /* 16 GiB of fp32: refuse anything larger */

static const char *prog = "elmo-genmodel";

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---------------------------------------------------------------------------------------
 * Model description
 * ------------------------------------------------------------------------------------- */

typedef enum clip_style { CLIP_NULL, CLIP_ABSENT, CLIP_ZERO } clip_style;

typedef struct model_options {
    int char_dim; /* d_c */
    int n_filters;
    int filter_width[MAX_FILTERS]; /* w_i */
    int filter_count[MAX_FILTERS]; /* n_i */
    int n_highway;
    const char *activation; /* "relu" or "tanh" */
    int n_characters;
    int max_chars;
    int dim;          /* H */
    int proj;         /* P */
    int layers;       /* L */
    double cell_clip; /* 0 = no clipping */
    double proj_clip; /* 0 = no clipping */
    bool skip;
    bool force_cnn_proj;  /* write CNN_proj even when F == P */
    bool force_lstm_proj; /* write W_P_0 even when P >= H */
} model_options;

typedef struct shape_preset {
    const char *name;
    int dim, proj, n_highway;
    bool tiny; /* fixture CNN instead of the published one */
} shape_preset;

static const shape_preset presets[] = {
    {"tiny", 64, 16, 2, true},
    {"small", 1024, 128, 1, false},
    {"medium", 2048, 256, 1, false},
    {"original", 4096, 512, 2, false},
};

static void apply_preset(model_options *m, const shape_preset *p) {
    static const int pub_w[] = {1, 2, 3, 4, 5, 6, 7};
    static const int pub_n[] = {32, 32, 64, 128, 256, 512, 1024};
    static const int tiny_w[] = {1, 2, 3, 4, 5};
    static const int tiny_n[] = {4, 8, 16, 32, 64};

    m->char_dim = p->tiny ? 4 : 16;
    m->n_filters = p->tiny ? 5 : 7;
    for (int i = 0; i < m->n_filters; i++) {
        m->filter_width[i] = p->tiny ? tiny_w[i] : pub_w[i];
        m->filter_count[i] = p->tiny ? tiny_n[i] : pub_n[i];
    }
    m->n_highway = p->n_highway;
    m->activation = "relu";
    m->n_characters = 262;
    m->max_chars = 50;
    m->dim = p->dim;
    m->proj = p->proj;
    m->layers = 2;
    m->cell_clip = 3;
    m->proj_clip = 3;
    m->skip = true;
}

static int total_filters(const model_options *m) /* F */
{
    int f = 0;
    for (int i = 0; i < m->n_filters; i++) f += m->filter_count[i];
    return f;
}

/* ---------------------------------------------------------------------------------------
 * Dataset plan: the list of datasets to write, after the corruption edits
 * ------------------------------------------------------------------------------------- */

typedef enum elem_type { ELEM_F32, ELEM_F64, ELEM_I32, ELEM_F16 } elem_type;

static const char *elem_type_names[] = {"f32", "f64", "i32", "f16"};
static const size_t elem_type_bytes[] = {4, 8, 4, 2};

typedef struct dataset_spec {
    char name[NAME_LEN]; /* path without leading '/', e.g. "CNN/W_cnn_0" */
    int rank;
    hsize_t dims[MAX_RANK];
    elem_type type;
    bool omit;
    bool reshaped, retyped; /* to reject the same edit given twice */
} dataset_spec;

typedef struct plan {
    dataset_spec *v;
    size_t n, cap;
} plan;

static int plan_add(plan *p, int rank, const hsize_t *dims, const char *fmt, ...) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        dataset_spec *v = realloc(p->v, cap * sizeof *v);
        if (!v) {
            fail("out of memory");
            return -1;
        }
        p->v = v;
        p->cap = cap;
    }
    dataset_spec *d = &p->v[p->n++];
    memset(d, 0, sizeof *d);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->name, sizeof d->name, fmt, ap);
    va_end(ap);
    d->rank = rank;
    memcpy(d->dims, dims, (size_t)rank * sizeof dims[0]);
    d->type = ELEM_F32;
    return 0;
}

/* docs/model.md §4, in the order of the official files' groups. */
static int build_plan(const model_options *m, plan *p) {
    hsize_t dc = (hsize_t)m->char_dim, F = (hsize_t)total_filters(m);
    hsize_t H = (hsize_t)m->dim, P = (hsize_t)m->proj;
    int rc = 0;

    rc |= plan_add(p, 2, (hsize_t[]){261, dc}, "char_embed");
    for (int i = 0; i < m->n_filters && !rc; i++) {
        hsize_t w = (hsize_t)m->filter_width[i], n = (hsize_t)m->filter_count[i];
        rc |= plan_add(p, 4, (hsize_t[]){1, w, dc, n}, "CNN/W_cnn_%d", i); /* [1, w, d_c, n] */
        rc |= plan_add(p, 1, (hsize_t[]){n}, "CNN/b_cnn_%d", i);           /* [n] */
    }
    for (int k = 0; k < m->n_highway && !rc; k++) {
        rc |= plan_add(p, 2, (hsize_t[]){F, F}, "CNN_high_%d/W_carry", k);
        rc |= plan_add(p, 1, (hsize_t[]){F}, "CNN_high_%d/b_carry", k);
        rc |= plan_add(p, 2, (hsize_t[]){F, F}, "CNN_high_%d/W_transform", k);
        rc |= plan_add(p, 1, (hsize_t[]){F}, "CNN_high_%d/b_transform", k);
    }
    if (!rc && (F != P || m->force_cnn_proj)) {
        rc |= plan_add(p, 2, (hsize_t[]){F, P}, "CNN_proj/W_proj");
        rc |= plan_add(p, 1, (hsize_t[]){P}, "CNN_proj/b_proj");
    }
    for (int d = 0; d < 2 && !rc; d++) {
        for (int l = 0; l < m->layers && !rc; l++) {
            const char *cell = "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/%s";
            rc |= plan_add(p, 2, (hsize_t[]){2 * P, 4 * H}, cell, d, l, "W_0");
            rc |= plan_add(p, 1, (hsize_t[]){4 * H}, cell, d, l, "B");
            if (!rc && (P < H || m->force_lstm_proj))
                rc |= plan_add(p, 2, (hsize_t[]){H, P}, cell, d, l, "W_P_0");
        }
    }
    return rc ? -1 : 0;
}

/* The language-model head: softmax/W [V, P] and softmax/b [V]. */
static int build_head_plan(const model_options *m, uint64_t V, plan *p) {
    int rc = plan_add(p, 2, (hsize_t[]){(hsize_t)V, (hsize_t)m->proj}, "softmax/W");
    rc |= plan_add(p, 1, (hsize_t[]){(hsize_t)V}, "softmax/b");
    return rc ? -1 : 0;
}

static uint64_t dataset_elems(const dataset_spec *d) {
    uint64_t n = 1;
    for (int i = 0; i < d->rank; i++)
        n *= d->dims[i]; /* bounded by the checks in parse_dims / parse_int */
    return n;
}

/* ---------------------------------------------------------------------------------------
 * Corruption edits
 * ------------------------------------------------------------------------------------- */

typedef enum edit_kind { EDIT_OMIT, EDIT_RESHAPE, EDIT_DTYPE } edit_kind;

typedef struct edit {
    edit_kind kind;
    char name[NAME_LEN];
    int rank;               /* EDIT_RESHAPE */
    hsize_t dims[MAX_RANK]; /* EDIT_RESHAPE */
    elem_type type;         /* EDIT_DTYPE */
} edit;

/* --omit also accepts a group (e.g. CNN_high_1): every dataset below it is left out. */
static bool omit_matches(const char *pattern, const char *name) {
    size_t n = strlen(pattern);
    return strcmp(pattern, name) == 0 || (strncmp(pattern, name, n) == 0 && name[n] == '/');
}

/* 1 when the edit matched a dataset of p, 0 when none, -1 on an error (reported). */
static int apply_edit(plan *p, const edit *e) {
    bool matched = false;

    for (size_t i = 0; i < p->n; i++) {
        dataset_spec *d = &p->v[i];
        if (e->kind == EDIT_OMIT) {
            if (omit_matches(e->name, d->name)) {
                d->omit = true;
                matched = true;
            }
            continue;
        }
        if (strcmp(e->name, d->name) != 0) continue;
        matched = true;
        if (e->kind == EDIT_RESHAPE) {
            if (d->reshaped) {
                fail("--reshape given twice for %s", d->name);
                return -1;
            }
            d->reshaped = true;
            d->rank = e->rank;
            memcpy(d->dims, e->dims, sizeof d->dims);
        } else {
            if (d->retyped) {
                fail("--dtype given twice for %s", d->name);
                return -1;
            }
            d->retyped = true;
            d->type = e->type;
        }
    }
    return matched ? 1 : 0;
}

/* Applies an edit to the model's datasets and the head's; one of them must have the name. */
static int apply_edit_all(plan *model, plan *head, const edit *e) {
    static const char *flag[] = {"--omit", "--reshape", "--dtype"};
    int a = apply_edit(model, e), b = a < 0 ? 0 : apply_edit(head, e);
    if (a < 0 || b < 0) return -1;
    if (a || b) return 0;
    fail("%s %s: this model has no such dataset%s (see the names with --list)", flag[e->kind],
         e->name, e->kind == EDIT_OMIT ? " or group" : "");
    return -1;
}

/* ---------------------------------------------------------------------------------------
 * Seeded values
 * ------------------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s) {
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h;
}

/* Uniform in [-1, 1): a 24-bit integer times 2^-23, exact in float. */
static float uniform_pm1(uint64_t *state) {
    int32_t k = (int32_t)(splitmix64(state) >> 40) - (1 << 23);
    return (float)k * 0x1p-23f;
}

/* Half-width of the uniform distribution: char embeddings +-1, vectors (biases) +-0.1,
 * matrices and conv kernels +-sqrt(3/fan_in) (variance 1/fan_in, LeCun) with fan_in = the
 * product of all dims but the last (rows of [in, out]; w*d_c for [1, w, d_c, n]). Each layer
 * roughly keeps the scale of its input. Measured on the Original shape: token embeddings rms
 * ~0.4, LSTM gate pre-activations rms ~0.2-0.3 (max ~1.2), layer outputs rms ~0.2-0.25; no
 * gate saturates and clipping at 3 never fires (pass a small --cell-clip to exercise it).
 * +-1/sqrt(fan_in) shrinks every layer by sqrt(3) and leaves LSTM outputs at rms ~0.03. */
static float value_scale(const dataset_spec *d) {
    if (strcmp(d->name, "char_embed") == 0) return 1.0f;
    /* The head's logits W h: +-1 spreads them over a few units for outputs of rms ~0.2-1,
     * so that the distributions have clear winners (a fan-in scale would make them flat). */
    if (strcmp(d->name, "softmax/W") == 0) return 1.0f;
    if (d->rank <= 1) return 0.1f;
    uint64_t fan_in = 1;
    for (int i = 0; i + 1 < d->rank; i++) fan_in *= d->dims[i];
    return fan_in ? (float)sqrt(3.0 / (double)fan_in) : 1.0f;
}

static void fill_values(const dataset_spec *d, uint64_t seed, float *out, size_t n) /* [n] */
{
    uint64_t state = seed ^ fnv1a64(d->name);
    float scale = value_scale(d);
    for (size_t i = 0; i < n; i++) out[i] = scale * uniform_pm1(&state);
}

/* ---------------------------------------------------------------------------------------
 * HDF5 writing
 * ------------------------------------------------------------------------------------- */

static herr_t innermost_error(unsigned n, const H5E_error2_t *e, void *data) {
    if (n == 0 && e->desc) snprintf((char *)data, 256, "%s", e->desc);
    return 0;
}

/* Reports a failed HDF5 call with HDF5's own description of the innermost error. */
static void h5_fail(const char *fmt, ...) {
    char what[512], why[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* Best effort: if HDF5 cannot even walk its error stack, report without its reason. */
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, why) < 0) why[0] = '\0';
    (void)H5Eclear2(H5E_DEFAULT);
    fail("%s%s%s", what, why[0] ? ": " : "", why);
}

/* Closes an HDF5 object (a negative id means "never opened"); reports a failure. */
static int h5_close(herr_t (*close_fn)(hid_t), hid_t id, const char *what) {
    if (id < 0 || close_fn(id) >= 0) return 0;
    h5_fail("closing %s", what);
    return -1;
}

/* IEEE binary16 little-endian; HDF5 1.10 has no predefined half type (h5py builds it the
 * same way). */
static hid_t make_f16_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return -1;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(t, 16) < 0 ||
        H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
        (void)H5Tclose(t); /* the caller reports the failure */
        return -1;
    }
    return t;
}

/* Creates every missing group on the path of dataset `name` ("a/b/ds" -> a, a/b). Groups are
 * created only for datasets actually written, so omitting a whole group removes it. */
static int ensure_parent_groups(hid_t file, hid_t gcpl, const char *name) {
    char path[NAME_LEN];
    for (const char *slash = strchr(name, '/'); slash; slash = strchr(slash + 1, '/')) {
        size_t len = (size_t)(slash - name);
        memcpy(path, name, len);
        path[len] = '\0';
        htri_t exists = H5Lexists(file, path, H5P_DEFAULT);
        if (exists < 0) {
            h5_fail("checking for group /%s", path);
            return -1;
        }
        if (exists) continue;
        hid_t g = H5Gcreate2(file, path, H5P_DEFAULT, gcpl, H5P_DEFAULT);
        if (g < 0) {
            h5_fail("creating group /%s", path);
            return -1;
        }
        if (h5_close(H5Gclose, g, path) < 0) return -1;
    }
    return 0;
}

/* Fills the dataset's values and writes them with one H5Dwrite; HDF5 converts float to
 * f64/f16 on the way. i32 datasets get round(1000 * value) so they are not all zero. */
static int write_dataset(hid_t file, hid_t dcpl, hid_t f16, const dataset_spec *d, uint64_t seed) {
    size_t n = (size_t)dataset_elems(d);
    int32_t *ints = NULL; /* [n], i32 datasets only */
    int rc = -1;
    hid_t space = -1, dset = -1;

    float *values = malloc(n ? n * sizeof *values : 1); /* [n] */
    if (!values) {
        fail("out of memory for %s (%zu values)", d->name, n);
        return -1;
    }
    fill_values(d, seed, values, n);
    const void *buf = values;
    hid_t mem_type = H5T_NATIVE_FLOAT;
    if (d->type == ELEM_I32) {
        ints = malloc(n ? n * sizeof *ints : 1);
        if (!ints) {
            fail("out of memory for %s (%zu values)", d->name, n);
            goto done;
        }
        for (size_t i = 0; i < n; i++) ints[i] = (int32_t)lrintf(values[i] * 1000.0f);
        buf = ints;
        mem_type = H5T_NATIVE_INT32;
    }
    const hid_t file_types[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_I32LE, f16};

    space = H5Screate_simple(d->rank, d->dims, NULL);
    if (space < 0) {
        h5_fail("creating the dataspace of %s", d->name);
        goto done;
    }
    dset = H5Dcreate2(file, d->name, file_types[d->type], space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset < 0) {
        h5_fail("creating dataset /%s", d->name);
        goto done;
    }
    if (n && H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        h5_fail("writing dataset /%s", d->name);
        goto done;
    }
    rc = 0;
done:
    if (h5_close(H5Dclose, dset, d->name) < 0) rc = -1;
    if (h5_close(H5Sclose, space, "a dataspace") < 0) rc = -1;
    free(ints);
    free(values);
    return rc;
}

static int write_weights(const char *path, const plan *p, uint64_t seed) {
    int rc = -1;
    hid_t file = -1, gcpl = -1, dcpl = -1, f16 = -1;

    gcpl = H5Pcreate(H5P_GROUP_CREATE);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    f16 = make_f16_type();
    /* No timestamps (byte-identical reruns), contiguous, nothing written before our data. */
    if (gcpl < 0 || dcpl < 0 || f16 < 0 || H5Pset_obj_track_times(gcpl, 0) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0 || H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) {
        h5_fail("setting up HDF5 property lists");
        goto done;
    }
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        h5_fail("cannot create %s", path);
        goto done;
    }
    for (size_t i = 0; i < p->n; i++) {
        const dataset_spec *d = &p->v[i];
        if (d->omit) continue;
        if (ensure_parent_groups(file, gcpl, d->name) < 0 ||
            write_dataset(file, dcpl, f16, d, seed) < 0)
            goto done;
    }
    rc = 0;
done:
    if (h5_close(H5Fclose, file, path) < 0) rc = -1;
    if (h5_close(H5Tclose, f16, "the f16 type") < 0) rc = -1;
    if (h5_close(H5Pclose, dcpl, "a property list") < 0) rc = -1;
    if (h5_close(H5Pclose, gcpl, "a property list") < 0) rc = -1;
    if (rc != 0 && file >= 0) unlink(path); /* never leave a half-written model behind */
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Options JSON (docs/model.md §2)
 * ------------------------------------------------------------------------------------- */

static bool add_clip(cJSON *lstm, const char *key, double clip, clip_style style) {
    if (clip > 0) return cJSON_AddNumberToObject(lstm, key, clip) != NULL;
    switch (style) {
    case CLIP_NULL: return cJSON_AddNullToObject(lstm, key) != NULL;
    case CLIP_ZERO: return cJSON_AddNumberToObject(lstm, key, 0) != NULL;
    case CLIP_ABSENT: return true;
    }
    return false;
}

static cJSON *build_options_json(const model_options *m, clip_style style) {
    cJSON *root = cJSON_CreateObject();
    cJSON *cnn = cJSON_AddObjectToObject(root, "char_cnn");
    cJSON *emb = cJSON_AddObjectToObject(cnn, "embedding");
    cJSON *filters = cJSON_AddArrayToObject(cnn, "filters");
    bool ok = root && cnn && emb && filters && cJSON_AddNumberToObject(emb, "dim", m->char_dim);
    for (int i = 0; ok && i < m->n_filters; i++) {
        int pair[2] = {m->filter_width[i], m->filter_count[i]};
        cJSON *item = cJSON_CreateIntArray(pair, 2);
        ok = item && cJSON_AddItemToArray(filters, item);
        if (item && !ok) cJSON_Delete(item);
    }
    ok = ok && cJSON_AddNumberToObject(cnn, "n_highway", m->n_highway) &&
         cJSON_AddNumberToObject(cnn, "n_characters", m->n_characters) &&
         cJSON_AddNumberToObject(cnn, "max_characters_per_token", m->max_chars) &&
         cJSON_AddStringToObject(cnn, "activation", m->activation);

    cJSON *lstm = ok ? cJSON_AddObjectToObject(root, "lstm") : NULL;
    ok = lstm && cJSON_AddNumberToObject(lstm, "dim", m->dim) &&
         cJSON_AddNumberToObject(lstm, "projection_dim", m->proj) &&
         cJSON_AddNumberToObject(lstm, "n_layers", m->layers) &&
         add_clip(lstm, "cell_clip", m->cell_clip, style) &&
         add_clip(lstm, "proj_clip", m->proj_clip, style) &&
         cJSON_AddBoolToObject(lstm, "use_skip_connections", m->skip);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int write_options(const char *path, const model_options *m, clip_style style) {
    cJSON *root = build_options_json(m, style);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fail("out of memory building the options JSON");
        return -1;
    }
    int rc = -1;
    FILE *f = fopen(path, "w");
    if (!f) {
        fail("cannot create %s: %s", path, strerror(errno));
    } else {
        bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        int err = errno;
        if (fclose(f) != 0 && ok) {
            ok = false;
            err = errno;
        }
        if (ok) rc = 0;
        else fail("cannot write %s: %s", path, strerror(err));
    }
    cJSON_free(text);
    return rc;
}

/* ---------------------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------------------- */

typedef struct cli {
    const shape_preset *preset;
    /* overrides; -1 / NULL = keep the preset's value */
    int dim, proj, layers, n_highway, char_dim, max_chars, n_characters;
    int n_filters, filter_width[MAX_FILTERS], filter_count[MAX_FILTERS];
    const char *activation;
    bool has_cell_clip, has_proj_clip;
    double cell_clip, proj_clip;
    bool no_skip, force_cnn_proj, force_lstm_proj;
    clip_style clip_style;

    const char *out_dir;
    uint64_t seed;
    bool options_only, weights_only, list_only, help;
    long long vocab_size;   /* --vocab-size V; 0: none */
    const char *vocab_file; /* --vocab FILE */
    bool softmax_only;
    long long truncate_bytes; /* -1 = no truncation */
    edit edits[MAX_EDITS];
    int n_edits;
} cli;

/* Strict integer parsing: the whole string, within [lo, hi]. */
static int parse_int(const char *flag, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fail("%s expects an integer in [%lld, %lld], got '%s'", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int_field(const char *flag, const char *s, int lo, int *out) {
    long long v;
    if (parse_int(flag, s, lo, MAX_SIZE_FIELD, &v) < 0) return -1;
    *out = (int)v;
    return 0;
}

static int parse_seed(cli *c, const char *name, const char *s) {
    (void)name;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-') {
        fail("--seed expects a non-negative 64-bit integer (decimal or 0x hex), got '%s'", s);
        return -1;
    }
    c->seed = (uint64_t)v;
    return 0;
}

static int parse_clip(const char *flag, const char *s, double *out) {
    if (strcmp(s, "none") == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0) {
        fail("%s expects a number >= 0 or 'none', got '%s'", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_filters(cli *c, const char *name, const char *s) {
    (void)name;
    const char *p = s;
    c->n_filters = 0;
    while (*p) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || *end != ':') goto bad;
        p = end + 1;
        long n = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',')) goto bad;
        if (w < 1 || w > MAX_SIZE_FIELD || n < 1 || n > MAX_SIZE_FIELD) {
            fail("--filters: widths and counts must be in [1, %d], got '%s'", MAX_SIZE_FIELD, s);
            return -1;
        }
        if (c->n_filters == MAX_FILTERS) {
            fail("--filters: at most %d filters", MAX_FILTERS);
            return -1;
        }
        c->filter_width[c->n_filters] = (int)w;
        c->filter_count[c->n_filters] = (int)n;
        c->n_filters++;
        p = *end ? end + 1 : end;
        if (*end && !*p) goto bad; /* trailing comma */
    }
    if (c->n_filters > 0) return 0;
bad:
    fail("--filters expects width:count pairs separated by commas (e.g. 1:32,2:32,3:64), "
         "got '%s'",
         s);
    return -1;
}

static int parse_dataset_name(const char *flag, const char *s, size_t len, char *out) {
    while (len && *s == '/') {
        s++;
        len--;
    }
    if (len == 0 || len >= NAME_LEN) {
        fail("%s: expected a dataset name such as CNN/W_cnn_0, got '%.*s'", flag, (int)len, s);
        return -1;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int parse_dims(const char *s, edit *e) {
    const char *p = s;
    uint64_t total = 1;
    e->rank = 0;
    for (;;) {
        char *end;
        if (*p < '0' || *p > '9') goto bad;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || (*end && *end != ',') || e->rank == MAX_RANK) goto bad;
        if (v > MAX_DATASET_ELEMS || (v && total > MAX_DATASET_ELEMS / v)) {
            fail("--reshape %s: more than %" PRIu64 " elements", e->name, MAX_DATASET_ELEMS);
            return -1;
        }
        total *= v;
        e->dims[e->rank++] = (hsize_t)v;
        if (!*end) return 0;
        p = end + 1;
    }
bad:
    fail("--reshape %s: expected 1 to %d comma-separated sizes, got '%s'", e->name, MAX_RANK, s);
    return -1;
}

static edit *new_edit(cli *c, edit_kind kind) {
    if (c->n_edits == MAX_EDITS) {
        fail("at most %d --omit/--reshape/--dtype flags", MAX_EDITS);
        return NULL;
    }
    edit *e = &c->edits[c->n_edits++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    return e;
}

/* NAME=VALUE for --reshape and --dtype. */
static int parse_edit(cli *c, edit_kind kind, const char *flag, const char *s) {
    const char *eq = strrchr(s, '=');
    edit *e = new_edit(c, kind);
    if (!e) return -1;
    if (!eq) {
        fail("%s expects NAME=%s, got '%s'", flag, kind == EDIT_RESHAPE ? "D0,D1,..." : "TYPE", s);
        return -1;
    }
    if (parse_dataset_name(flag, s, (size_t)(eq - s), e->name) < 0) return -1;
    if (kind == EDIT_RESHAPE) return parse_dims(eq + 1, e);
    for (int t = ELEM_F64; t <= ELEM_F16; t++) {
        if (strcmp(eq + 1, elem_type_names[t]) == 0) {
            e->type = (elem_type)t;
            return 0;
        }
    }
    fail("%s %s: type must be f64, i32 or f16, got '%s'", flag, e->name, eq + 1);
    return -1;
}

static int parse_shape(cli *c, const char *name, const char *v) {
    (void)name;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(v, presets[i].name)) {
            c->preset = &presets[i];
            return 0;
        }
    fail("--shape must be tiny, small, medium or original, got '%s'", v);
    return -1;
}

static int parse_out(cli *c, const char *name, const char *v) {
    (void)name;
    if (!*v) {
        fail("--out expects a directory");
        return -1;
    }
    c->out_dir = v;
    return 0;
}

static int parse_activation(cli *c, const char *name, const char *v) {
    (void)name;
    if (strcmp(v, "relu") && strcmp(v, "tanh")) {
        fail("--activation must be relu or tanh, got '%s'", v);
        return -1;
    }
    c->activation = v;
    return 0;
}

static int parse_cell_clip(cli *c, const char *name, const char *v) {
    c->has_cell_clip = true;
    return parse_clip(name, v, &c->cell_clip);
}

static int parse_proj_clip(cli *c, const char *name, const char *v) {
    c->has_proj_clip = true;
    return parse_clip(name, v, &c->proj_clip);
}

static int parse_clip_style(cli *c, const char *name, const char *v) {
    (void)name;
    static const char *styles[] = {"null", "absent", "zero"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(v, styles[i])) {
            c->clip_style = (clip_style)i;
            return 0;
        }
    fail("--clip-style must be null, absent or zero, got '%s'", v);
    return -1;
}

static int parse_omit(cli *c, const char *name, const char *v) {
    edit *e = new_edit(c, EDIT_OMIT);
    return e ? parse_dataset_name(name, v, strlen(v), e->name) : -1;
}

static int parse_reshape(cli *c, const char *name, const char *v) {
    return parse_edit(c, EDIT_RESHAPE, name, v);
}

static int parse_dtype(cli *c, const char *name, const char *v) {
    return parse_edit(c, EDIT_DTYPE, name, v);
}

static int parse_vocab_size(cli *c, const char *name, const char *v) {
    return parse_int(name, v, 3, 1 << 24, &c->vocab_size); /* <S>, </S>, <UNK> at least */
}

static int parse_vocab(cli *c, const char *name, const char *v) {
    (void)name;
    c->vocab_file = v;
    return 0;
}

static int parse_truncate(cli *c, const char *name, const char *v) {
    long long n;
    if (parse_int(name, v, 0, INT64_MAX, &n) < 0) return -1;
    c->truncate_bytes = n;
    return 0;
}

/* The flags, in --help order. `before`: text printed before the flag's help line (section
 * titles); a flag without help (--out, in the usage line, and -h) is not listed. */
typedef enum flag_kind {
    FLAG_SWITCH, /* sets the bool at `offset` */
    FLAG_INT,    /* an int field at `offset`, in [min, MAX_SIZE_FIELD] */
    FLAG_PARSE   /* parse(c, name, value) */
} flag_kind;

typedef struct flag {
    const char *name;
    const char *value; /* the value's name in --help ("N"); NULL for a switch */
    flag_kind kind;
    size_t offset; /* FLAG_SWITCH, FLAG_INT: offsetof(cli, field) */
    int min;       /* FLAG_INT */
    int (*parse)(cli *c, const char *name, const char *v); /* FLAG_PARSE */
    const char *help;
    const char *before;
} flag;

#define SWITCH(name, field, help, before)                                                          \
    { name, NULL, FLAG_SWITCH, offsetof(cli, field), 0, NULL, help, before }
#define INT(name, value, field, min, help)                                                         \
    { name, value, FLAG_INT, offsetof(cli, field), min, NULL, help, NULL }
#define PARSE(name, value, parse, help, before)                                                    \
    { name, value, FLAG_PARSE, 0, 0, parse, help, before }

static const flag flags[] = {
    PARSE("--shape", "NAME", parse_shape,
          "tiny | small | medium | original  (default tiny)\n"
          "                          tiny     d_c 4, filters 1:4,2:8,3:16,4:32,5:64, 2 highway,\n"
          "                                   H 64, P 16 (the test-fixture shape)\n"
          "                          small    H 1024, P 128, 1 highway    } d_c 16, filters\n"
          "                          medium   H 2048, P 256, 1 highway    } 1:32,2:32,3:64,4:128,\n"
          "                          original H 4096, P 512, 2 highway    } 5:256,6:512,7:1024\n"
          "                        all: L 2, relu, clips 3, skip connections, 262 chars, 50/token",
          "\nModel:\n"),
    PARSE("--seed", "N", parse_seed, "64-bit seed, decimal or 0x hex (default 1)", NULL),
    PARSE("--out", "DIR", parse_out, NULL, NULL),
    INT("--dim", "H", dim, 1, "LSTM cell size"),
    INT("--proj", "P", proj, 1, "projection_dim"),
    INT("--layers", "L", layers, 1, "LSTM layers"),
    INT("--highway", "K", n_highway, 0, "highway layers (0 allowed)"),
    INT("--char-dim", "D", char_dim, 1, "character embedding width"),
    PARSE("--filters", "LIST", parse_filters,
          "CNN filters as width:count pairs, e.g. 1:32,2:32,3:64", NULL),
    PARSE("--activation", "A", parse_activation, "relu | tanh", NULL),
    SWITCH("--no-skip", no_skip, "use_skip_connections false", NULL),
    PARSE("--cell-clip", "X", parse_cell_clip,
          "cell_clip; 0 or none = no clipping (written as --clip-style says)", NULL),
    PARSE("--proj-clip", "X", parse_proj_clip, "proj_clip; likewise", NULL),
    PARSE("--clip-style", "S", parse_clip_style,
          "how \"no clipping\" is written: null (default) | absent | zero", NULL),
    INT("--max-chars", "C", max_chars, 1, "max_characters_per_token"),
    INT("--n-characters", "N", n_characters, 0,
        "n_characters (default 262; anything else is invalid at inference)"),
    SWITCH("--force-cnn-proj", force_cnn_proj, "write CNN_proj/{W_proj,b_proj} even when F == P",
           NULL),
    SWITCH("--force-lstm-proj", force_lstm_proj, "write W_P_0 even when P >= H", NULL),
    PARSE("--vocab-size", "V", parse_vocab_size,
          "also write a language-model head: softmax_weights.hdf5 (softmax/W [V, P] uniform\n"
          "                        +-1, softmax/b [V]) and vocab.txt (<S>, </S>, <UNK>, then\n"
          "                        made-up words); V = 793471 is the published Original's",
          "\nLanguage-model head:\n"),
    PARSE("--vocab", "FILE", parse_vocab,
          "write the head for this vocabulary file instead (V = its tokens; no vocab.txt)", NULL),
    SWITCH("--softmax-only", softmax_only, "write only the head (softmax_weights.hdf5, vocab.txt)",
           NULL),
    PARSE("--omit", "NAME", parse_omit,
          "leave dataset NAME out; a group name omits everything below it",
          "\nCorruption (for malformed-file tests; NAME is a dataset path such as "
          "CNN_high_1/W_carry):\n"),
    PARSE("--reshape", "NAME=D0,D1,...", parse_reshape,
          "write NAME with this shape (random values; 0 dims allowed)", NULL),
    PARSE("--dtype", "NAME=T", parse_dtype,
          "write NAME as f64 | i32 | f16 (i32 holds round(1000*value))", NULL),
    PARSE("--truncate", "BYTES", parse_truncate,
          "cut weights.hdf5 to its first BYTES bytes after writing", NULL),
    SWITCH("--options-only", options_only, "write only options.json", NULL),
    SWITCH("--weights-only", weights_only, "write only weights.hdf5", NULL),
    SWITCH("--list", list_only,
           "print the datasets that would be written, write nothing\n"
           "                        (--out not needed)",
           "  --omit, --reshape and --dtype may be repeated.\n\nOther:\n"),
    SWITCH("--help", help, "this text", NULL),
    SWITCH("-h", help, NULL, NULL),
};
#define N_FLAGS (sizeof flags / sizeof flags[0])

#undef SWITCH
#undef INT
#undef PARSE

static const flag *find_flag(const char *name) {
    for (size_t i = 0; i < N_FLAGS; i++)
        if (strcmp(name, flags[i].name) == 0) return &flags[i];
    return NULL;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "Usage: %s --out DIR [--shape NAME] [--seed N] [options]\n"
        "\n"
        "Writes DIR/options.json and DIR/weights.hdf5: an ELMo model in the AllenNLP/bilm-tf\n"
        "layout with seeded random weights (float32, contiguous, uncompressed). DIR is created\n"
        "if needed. The same seed and flags always give byte-identical files.\n",
        prog);
    for (size_t i = 0; i < N_FLAGS; i++) {
        const flag *fl = &flags[i];
        if (fl->before) fputs(fl->before, f);
        if (!fl->help) continue;
        char left[64]; /* "--name VALUE", its help from column 24 (at least 3 spaces on) */
        int len = snprintf(left, sizeof left, "%s%s%s", fl->name, fl->value ? " " : "",
                           fl->value ? fl->value : "");
        fprintf(f, "  %s%*s%s\n", left, len < 19 ? 22 - len : 3, "", fl->help);
    }
    fputs("\n"
          "Prints the parameter count, payload and file bytes. Exit status 0 on success, 2 on any\n"
          "error (bad flag, file not writable, HDF5 failure).\n",
          f);
}

static int parse_args(int argc, char **argv, cli *c) {
    memset(c, 0, sizeof *c);
    c->preset = &presets[0];
    c->dim = c->proj = c->layers = c->n_highway = -1;
    c->char_dim = c->max_chars = c->n_characters = -1;
    c->seed = 1;
    c->truncate_bytes = -1;

    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *arg = argv[i], *value = NULL, *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) != 0 && strcmp(arg, "-h") != 0) {
            fail("unexpected argument '%s' (options start with --; see --help)", arg);
            return -1;
        }
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) {
            fail("unknown option '%s' (see --help)", arg);
            return -1;
        }
        memcpy(name, arg, len);
        name[len] = '\0';
        const flag *fl = find_flag(name);
        if (!fl) {
            fail("unknown option '%s' (see --help)", name);
            return -1;
        }
        if (fl->kind == FLAG_SWITCH) {
            if (eq) {
                fail("%s takes no value", name);
                return -1;
            }
            *(bool *)((char *)c + fl->offset) = true;
            continue;
        }
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            fail("%s needs a value (see --help)", name);
            return -1;
        }
        int rc = fl->kind == FLAG_INT
                     ? parse_int_field(name, value, fl->min, (int *)((char *)c + fl->offset))
                     : fl->parse(c, name, value);
        if (rc < 0) return -1;
    }
    if (c->help) return 0;
    if (!c->out_dir && !c->list_only) {
        fail("--out DIR is required (see --help)");
        return -1;
    }
    if (c->options_only && c->weights_only) {
        fail("--options-only and --weights-only exclude each other");
        return -1;
    }
    if ((c->vocab_size > 0) + (c->vocab_file != NULL) > 1) {
        fail("--vocab-size and --vocab exclude each other");
        return -1;
    }
    if (c->softmax_only && !c->vocab_size && !c->vocab_file) {
        fail("--softmax-only needs --vocab-size or --vocab");
        return -1;
    }
    if (c->softmax_only && (c->options_only || c->weights_only || c->truncate_bytes >= 0)) {
        fail("--softmax-only excludes --options-only, --weights-only and --truncate");
        return -1;
    }
    if (c->options_only && c->truncate_bytes >= 0) {
        fail("--truncate needs the weights file, but --options-only skips it");
        return -1;
    }
    return 0;
}

static void resolve_model(const cli *c, model_options *m) {
    apply_preset(m, c->preset);
#define OVERRIDE(field, value)                                                                     \
    if ((value) >= 0) m->field = (value)
    OVERRIDE(dim, c->dim);
    OVERRIDE(proj, c->proj);
    OVERRIDE(layers, c->layers);
    OVERRIDE(n_highway, c->n_highway);
    OVERRIDE(char_dim, c->char_dim);
    OVERRIDE(max_chars, c->max_chars);
    OVERRIDE(n_characters, c->n_characters);
#undef OVERRIDE
    if (c->n_filters > 0) {
        m->n_filters = c->n_filters;
        memcpy(m->filter_width, c->filter_width, sizeof m->filter_width);
        memcpy(m->filter_count, c->filter_count, sizeof m->filter_count);
    }
    if (c->activation) m->activation = c->activation;
    if (c->has_cell_clip) m->cell_clip = c->cell_clip;
    if (c->has_proj_clip) m->proj_clip = c->proj_clip;
    m->skip = !c->no_skip;
    m->force_cnn_proj = c->force_cnn_proj;
    m->force_lstm_proj = c->force_lstm_proj;
}

/* ---------------------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------------------- */

/* mkdir -p */
static int make_dirs(const char *dir) {
    size_t len = strlen(dir);
    char *path = malloc(len + 1);
    if (!path) {
        fail("out of memory");
        return -1;
    }
    memcpy(path, dir, len + 1);
    int rc = 0;
    for (size_t i = 1; i <= len && rc == 0; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        struct stat st;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            fail("cannot create directory %s: %s", path, strerror(errno));
            rc = -1;
        } else if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fail("cannot create directory %s: a file of that name exists", path);
            rc = -1;
        }
        path[i] = saved;
    }
    free(path);
    return rc;
}

static char *join_path(const char *dir, const char *file) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, file);
    else fail("out of memory");
    return p;
}

static void print_plan(const plan *p) {
    for (size_t i = 0; i < p->n; i++) {
        const dataset_spec *d = &p->v[i];
        if (d->omit) continue;
        printf("%-48s %s [", d->name, elem_type_names[d->type]);
        for (int k = 0; k < d->rank; k++)
            printf("%s%llu", k ? ", " : "", (unsigned long long)d->dims[k]);
        printf("]\n");
    }
}

static int truncate_file(const char *path, long long bytes) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fail("cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (bytes >= (long long)st.st_size) {
        fail("--truncate %lld: %s is only %lld bytes", bytes, path, (long long)st.st_size);
        return -1;
    }
    if (truncate(path, (off_t)bytes) != 0) {
        fail("cannot truncate %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Tokens of a vocabulary file as the engine counts them: lines, without a final empty one
 * and without "!!!MAXTERMID" (the engine checks everything else). */
static long long count_vocab(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail("cannot open vocabulary %s: %s", path, strerror(errno));
        return -1;
    }
    long long rows = 0;
    char line[256];
    size_t len = 0;
    bool skip = true; /* the line so far is a prefix of "!!!MAXTERMID" */
    for (int ch; (ch = fgetc(f)) != EOF;) {
        if (ch != '\n') {
            if (len < sizeof line - 1) line[len] = (char)ch;
            len++;
            continue;
        }
        line[len < sizeof line ? len : sizeof line - 1] = '\0';
        skip = strncmp(line, "!!!MAXTERMID", 12) == 0 &&
               strspn(line + 12, " \t\r") == strlen(line + 12);
        rows += !skip;
        len = 0;
    }
    if (len > 0) rows++;
    fclose(f);
    return rows;
}

/* The made-up word of row r >= 3: a, b, ..., z, aa, ab, ... (never a special token). */
static void made_up_word(uint64_t r, char *out) {
    char tmp[16];
    int n = 0;
    for (uint64_t x = r - 3;; x = x / 26 - 1) {
        tmp[n++] = (char)('a' + x % 26);
        if (x < 26) break;
    }
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static int write_vocab(const char *path, uint64_t V) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fail("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    bool ok = fputs("<S>\n</S>\n<UNK>\n", f) >= 0;
    char word[16];
    for (uint64_t r = 3; ok && r < V; r++) {
        made_up_word(r, word);
        ok = fputs(word, f) >= 0 && fputc('\n', f) != EOF;
    }
    int err = errno;
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        fail("cannot write %s: %s", path, strerror(err));
        unlink(path);
        return -1;
    }
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Parameters, payload bytes and datasets a plan writes; -1 when a dataset is too large. */
static int plan_totals(const plan *p, uint64_t *params, uint64_t *payload, size_t *written) {
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].omit) continue;
        uint64_t n = dataset_elems(&p->v[i]);
        if (n > MAX_DATASET_ELEMS) {
            fail("dataset %s would have %" PRIu64 " elements, more than this tool writes "
                 "(%" PRIu64 "); use smaller sizes",
                 p->v[i].name, n, MAX_DATASET_ELEMS);
            return -1;
        }
        if (n > SIZE_MAX / sizeof(double)) {
            fail("dataset %s is too large for this machine's address space", p->v[i].name);
            return -1;
        }
        *params += n;
        *payload += n * elem_type_bytes[p->v[i].type];
        (*written)++;
    }
    return 0;
}

static int print_file(const char *what, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fail("cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    printf("%s: %s\n", what, path);
    printf("%s_bytes: %lld\n", what, (long long)st.st_size);
    return 0;
}

/* The head (with --vocab-size or --vocab): softmax_weights.hdf5, and vocab.txt. */
static int write_head(const cli *c, const plan *head, uint64_t V) {
    char *softmax_path = join_path(c->out_dir, "softmax_weights.hdf5");
    char *vocab_path = c->vocab_size ? join_path(c->out_dir, "vocab.txt") : NULL;
    int rc = -1;
    if (softmax_path && (vocab_path || !c->vocab_size) &&
        write_weights(softmax_path, head, c->seed) == 0 &&
        (!vocab_path || write_vocab(vocab_path, V) == 0) &&
        print_file("softmax", softmax_path) == 0) {
        if (vocab_path) printf("vocab: %s\n", vocab_path);
        printf("vocab_size: %" PRIu64 "\n", V);
        rc = 0;
    }
    free(softmax_path);
    free(vocab_path);
    return rc;
}

static int run(const cli *c) {
    model_options m;
    plan p = {0}, head = {0};
    char *options_path = NULL, *weights_path = NULL;
    int rc = -1;
    double t0 = now_seconds();

    resolve_model(c, &m);
    long long V = c->vocab_file ? count_vocab(c->vocab_file) : c->vocab_size;
    if (V < 0) goto done;
    if (c->vocab_file && V < 3) {
        fail("vocabulary %s has %lld tokens; a vocabulary holds at least <S>, </S> and <UNK>",
             c->vocab_file, V);
        goto done;
    }
    if (build_plan(&m, &p) < 0 || (V && build_head_plan(&m, (uint64_t)V, &head) < 0)) goto done;
    for (int i = 0; i < c->n_edits; i++)
        if (apply_edit_all(&p, &head, &c->edits[i]) < 0) goto done;

    uint64_t params = 0, payload = 0, head_params = 0, head_payload = 0;
    size_t written = 0, head_written = 0;
    if (plan_totals(&p, &params, &payload, &written) < 0 ||
        plan_totals(&head, &head_params, &head_payload, &head_written) < 0)
        goto done;
    if (c->list_only) {
        print_plan(&p);
        print_plan(&head);
        printf("parameters: %" PRIu64 "\npayload_bytes: %" PRIu64 "\n", params, payload);
        if (V) printf("head_parameters: %" PRIu64 "\n", head_params);
        rc = 0;
        goto done;
    }

    options_path = join_path(c->out_dir, "options.json");
    weights_path = join_path(c->out_dir, "weights.hdf5");
    if (!options_path || !weights_path || make_dirs(c->out_dir) < 0) goto done;
    bool model = !c->softmax_only;
    if (model && !c->weights_only && write_options(options_path, &m, c->clip_style) < 0) goto done;
    if (model && !c->options_only) {
        if (write_weights(weights_path, &p, c->seed) < 0) goto done;
        if (c->truncate_bytes >= 0 && truncate_file(weights_path, c->truncate_bytes) < 0) {
            unlink(weights_path); /* the caller asked for a truncated file, not this one */
            goto done;
        }
    }
    if (V && !c->options_only && !c->weights_only && write_head(c, &head, (uint64_t)V) < 0)
        goto done;

    if (model && !c->weights_only) printf("options: %s\n", options_path);
    if (model && !c->options_only) {
        struct stat st;
        if (stat(weights_path, &st) != 0) {
            fail("cannot stat %s: %s", weights_path, strerror(errno));
            goto done;
        }
        printf("weights: %s\n", weights_path);
        printf("datasets: %zu\n", written);
        printf("file_bytes: %lld\n", (long long)st.st_size);
    }
    if (model) {
        printf("parameters: %" PRIu64 "\n", params);
        printf("payload_bytes: %" PRIu64 "\n", payload);
    }
    if (V) printf("head_parameters: %" PRIu64 "\n", head_params);
    printf("seconds: %.2f\n", now_seconds() - t0);
    rc = 0;
done:
    free(p.v);
    free(head.v);
    free(options_path);
    free(weights_path);
    return rc;
}

int main(int argc, char **argv) {
    cli c;
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) {
        fail("cannot silence HDF5's error printing");
        return EXIT_ERROR;
    }
    if (parse_args(argc, argv, &c) < 0) return EXIT_ERROR;
    if (c.help) {
        usage(stdout);
        return 0;
    }
    return run(&c) < 0 ? EXIT_ERROR : 0;
}
