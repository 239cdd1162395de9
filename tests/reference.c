/*
 * reference.c - the simple double-precision ELMo oracle (see reference.h).
 *
 * Written one step at a time from docs/model.md, plain loops, no BLAS, no
 * caching, no batching. Section numbers in comments are those of docs/model.md. Weights keep the
 * HDF5 layout [in, out], row-major, so y = x.W + b needs no transposes (section 4).
 */
#include "reference.h"

#include <cJSON.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Character alphabet, unshifted (section 3.1). The embedding table is indexed with these
 * directly, which is the "shortcut for C" of section 3.3 (no +1 shift, no zero row). */
#define REF_BOS_CHAR 256
#define REF_EOS_CHAR 257
#define REF_BOW_CHAR 258
#define REF_EOW_CHAR 259
#define REF_PAD_CHAR 260
#define REF_CHAR_ROWS 261

/* Upper bound on any size read from the options, so size arithmetic cannot overflow. */
#define REF_MAX_DIM 1000000

struct ref_model {
    int d_c;     /* char embedding width */
    int C;       /* max_characters_per_token */
    int n_banks; /* number of filter banks */
    int *widths; /* [n_banks] */
    int *counts; /* [n_banks] */
    int F;       /* total filters */
    int n_highway;
    int use_tanh; /* char_cnn.activation: 1 tanh, 0 relu */
    int H, P, L;
    int skip;          /* use_skip_connections */
    double cell_clip;  /* 0 = no clipping */
    double proj_clip;  /* 0 = no clipping */
    int use_cnn_proj;  /* F != P, or CNN_proj present in the file */
    int use_lstm_proj; /* P < H, or W_P_0 present in the file */

    double *char_embed; /* [261, d_c] */
    double **cnn_W;     /* [n_banks] of [w_i * d_c, n_i] (row k*d_c + q) */
    double **cnn_b;     /* [n_banks] of [n_i] */
    double **hw_Wc;     /* [n_highway] of [F, F] */
    double **hw_bc;     /* [n_highway] of [F] */
    double **hw_Wt;     /* [n_highway] of [F, F] */
    double **hw_bt;     /* [n_highway] of [F] */
    double *proj_W;     /* [F, P], NULL unless use_cnn_proj */
    double *proj_b;     /* [P], NULL unless use_cnn_proj */
    double **lstm_W0;   /* [2 * L] of [2P, 4H]; cell (direction d, layer l) at d*L + l */
    double **lstm_B;    /* [2 * L] of [4H] */
    double **lstm_WP;   /* [2 * L] of [H, P], entries NULL unless use_lstm_proj */
};

struct ref_state {
    int L, P, H;
    double *h; /* [2 * L, P], cell d*L + l */
    double *c; /* [2 * L, H] */
};

/* ------------------------------------------------------------------------------------ */
/* Errors                                                                               */
/* ------------------------------------------------------------------------------------ */

static void ref_set_error(char *errbuf, size_t errlen, const char *fmt, ...) {
    if (errbuf == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------------------ */
/* Options JSON (section 2)                                                             */
/* ------------------------------------------------------------------------------------ */

/* Whole file as a NUL-terminated string, or NULL. */
static char *ref_read_text_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (len + 1 < cap) break; /* short read: end of file or error */
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (buf == NULL) return NULL;
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Reads integer `obj.key` into *out. Absent or null: *out = dflt when !required, else an
 * error. Must be an integral number in [lo, hi]. Returns 0 or -1. */
static int ref_json_int(const cJSON *obj, const char *section, const char *key, int required,
                        int dflt, int lo, int hi, int *out, char *errbuf, size_t errlen) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (item == NULL || cJSON_IsNull(item)) {
        if (required) {
            ref_set_error(errbuf, errlen, "options: missing required key '%s.%s'", section, key);
            return -1;
        }
        *out = dflt;
        return 0;
    }
    double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!(v >= lo && v <= hi) || v != floor(v)) {
        ref_set_error(errbuf, errlen, "options: '%s.%s' must be an integer in [%d, %d]", section,
                      key, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* A clip value: absent, null or 0 mean no clipping (stored as 0). Returns 0 or -1. */
static int ref_json_clip(const cJSON *lstm, const char *key, double *out, char *errbuf,
                         size_t errlen) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(lstm, key);
    *out = 0;
    if (item == NULL || cJSON_IsNull(item)) return 0;
    if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0) || isinf(item->valuedouble)) {
        ref_set_error(errbuf, errlen, "options: 'lstm.%s' must be null or a number >= 0", key);
        return -1;
    }
    *out = item->valuedouble;
    return 0;
}

static int ref_parse_options(ref_model *m, const char *text, char *errbuf, size_t errlen) {
    cJSON *root = cJSON_Parse(text);
    if (root == NULL) {
        ref_set_error(errbuf, errlen, "options: not valid JSON");
        return -1;
    }
    int rc = -1;
    const cJSON *cnn = cJSON_GetObjectItemCaseSensitive(root, "char_cnn");
    const cJSON *lstm = cJSON_GetObjectItemCaseSensitive(root, "lstm");
    if (!cJSON_IsObject(cnn) || !cJSON_IsObject(lstm)) {
        ref_set_error(errbuf, errlen, "options: objects 'char_cnn' and 'lstm' are required");
        goto done;
    }
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(cnn, "embedding");
    if (!cJSON_IsObject(emb)) {
        ref_set_error(errbuf, errlen, "options: missing required key 'char_cnn.embedding'");
        goto done;
    }
    if (ref_json_int(emb, "char_cnn.embedding", "dim", 1, 0, 1, REF_MAX_DIM, &m->d_c, errbuf,
                     errlen) ||
        ref_json_int(cnn, "char_cnn", "max_characters_per_token", 1, 0, 3, REF_MAX_DIM, &m->C,
                     errbuf, errlen) ||
        ref_json_int(cnn, "char_cnn", "n_highway", 0, 0, 0, 1000, &m->n_highway, errbuf, errlen) ||
        ref_json_int(lstm, "lstm", "dim", 1, 0, 1, REF_MAX_DIM, &m->H, errbuf, errlen) ||
        ref_json_int(lstm, "lstm", "projection_dim", 1, 0, 1, REF_MAX_DIM, &m->P, errbuf, errlen) ||
        ref_json_int(lstm, "lstm", "n_layers", 0, 1, 1, 1000, &m->L, errbuf, errlen) ||
        ref_json_clip(lstm, "cell_clip", &m->cell_clip, errbuf, errlen) ||
        ref_json_clip(lstm, "proj_clip", &m->proj_clip, errbuf, errlen))
        goto done;

    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cnn, "activation");
    if (cJSON_IsString(act) && strcmp(act->valuestring, "relu") == 0) {
        m->use_tanh = 0;
    } else if (cJSON_IsString(act) && strcmp(act->valuestring, "tanh") == 0) {
        m->use_tanh = 1;
    } else {
        ref_set_error(errbuf, errlen,
                      "options: 'char_cnn.activation' must be \"relu\" or \"tanh\"");
        goto done;
    }

    const cJSON *skip = cJSON_GetObjectItemCaseSensitive(lstm, "use_skip_connections");
    if (!cJSON_IsBool(skip)) {
        ref_set_error(errbuf, errlen,
                      "options: 'lstm.use_skip_connections' (true or false) is required");
        goto done;
    }
    m->skip = cJSON_IsTrue(skip) ? 1 : 0;

    const cJSON *filters = cJSON_GetObjectItemCaseSensitive(cnn, "filters");
    int n_banks = cJSON_IsArray(filters) ? cJSON_GetArraySize(filters) : 0;
    if (n_banks < 1 || n_banks > 1000) {
        ref_set_error(errbuf, errlen, "options: 'char_cnn.filters' must be a non-empty list");
        goto done;
    }
    m->n_banks = n_banks;
    m->widths = calloc((size_t)n_banks, sizeof(int));
    m->counts = calloc((size_t)n_banks, sizeof(int));
    if (m->widths == NULL || m->counts == NULL) {
        ref_set_error(errbuf, errlen, "out of memory");
        goto done;
    }
    m->F = 0;
    for (int i = 0; i < n_banks; i++) {
        const cJSON *pair = cJSON_GetArrayItem(filters, i);
        const cJSON *w = cJSON_GetArrayItem(pair, 0);
        const cJSON *c = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsNumber(w) ||
            !cJSON_IsNumber(c) || !(w->valuedouble >= 1 && w->valuedouble <= m->C) ||
            !(c->valuedouble >= 1 && c->valuedouble <= REF_MAX_DIM) ||
            w->valuedouble != floor(w->valuedouble) || c->valuedouble != floor(c->valuedouble)) {
            ref_set_error(errbuf, errlen,
                          "options: 'char_cnn.filters[%d]' must be [width, count] with "
                          "1 <= width <= max_characters_per_token and count >= 1",
                          i);
            goto done;
        }
        m->widths[i] = (int)w->valuedouble;
        m->counts[i] = (int)c->valuedouble;
        m->F += m->counts[i];
        if (m->F > REF_MAX_DIM) {
            ref_set_error(errbuf, errlen, "options: too many CNN filters");
            goto done;
        }
    }
    if (m->P > m->H) {
        ref_set_error(errbuf, errlen,
                      "options: lstm.projection_dim (%d) > lstm.dim (%d) is not supported", m->P,
                      m->H);
        goto done;
    }
    m->use_cnn_proj = m->F != m->P;
    m->use_lstm_proj = m->P < m->H;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* HDF5 weights (section 4)                                                             */
/* ------------------------------------------------------------------------------------ */

/* Whether every component of `path` exists (H5Lexists needs the parents to exist). */
static int ref_h5_exists(hid_t file, const char *path) {
    char prefix[512];
    size_t len = strlen(path);
    if (len >= sizeof prefix) return 0;
    for (size_t i = 0; i <= len; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            memcpy(prefix, path, i);
            prefix[i] = '\0';
            if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0) return 0;
        }
    }
    return 1;
}

/* Reads float dataset `path`, whose shape must be exactly dims[rank], as doubles into a
 * new buffer *out. Returns 0 or -1. */
static int ref_h5_read(hid_t file, const char *path, int rank, const hsize_t *dims, double **out,
                       char *errbuf, size_t errlen) {
    *out = NULL;
    if (!ref_h5_exists(file, path)) {
        ref_set_error(errbuf, errlen, "weights: dataset '%s' is missing", path);
        return -1;
    }
    hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
    if (ds < 0) {
        ref_set_error(errbuf, errlen, "weights: cannot open dataset '%s'", path);
        return -1;
    }
    int rc = -1;
    hid_t space = H5Dget_space(ds);
    hid_t type = H5Dget_type(ds);
    hsize_t got[8] = {0};
    int got_rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (type < 0 || H5Tget_class(type) != H5T_FLOAT) {
        ref_set_error(errbuf, errlen, "weights: dataset '%s' is not floating point", path);
        goto done;
    }
    if (got_rank < 0 || got_rank > 8 || H5Sget_simple_extent_dims(space, got, NULL) < 0)
        got_rank = -1;
    int shape_ok = got_rank == rank;
    for (int k = 0; shape_ok && k < rank; k++) shape_ok = got[k] == dims[k];
    if (!shape_ok) {
        char want[128] = "", have[128] = "";
        for (int k = 0; k < rank; k++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", k ? "," : "",
                     (unsigned long long)dims[k]);
        for (int k = 0; k < got_rank; k++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", k ? "," : "",
                     (unsigned long long)got[k]);
        ref_set_error(errbuf, errlen, "weights: dataset '%s' has shape [%s], expected [%s]", path,
                      have, want);
        goto done;
    }
    size_t count = 1;
    for (int k = 0; k < rank; k++) count *= (size_t)dims[k];
    *out = malloc((count ? count : 1) * sizeof(double));
    if (*out == NULL) {
        ref_set_error(errbuf, errlen, "out of memory reading '%s'", path);
        goto done;
    }
    if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) {
        ref_set_error(errbuf, errlen, "weights: cannot read dataset '%s'", path);
        free(*out);
        *out = NULL;
        goto done;
    }
    rc = 0;
done:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
    return rc;
}

static int ref_load_weights(ref_model *m, hid_t f, char *errbuf, size_t errlen) {
    char path[256];
    const hsize_t F = (hsize_t)m->F, P = (hsize_t)m->P, H = (hsize_t)m->H;
    size_t n_cells = 2 * (size_t)m->L;

    m->cnn_W = calloc((size_t)m->n_banks, sizeof(double *));
    m->cnn_b = calloc((size_t)m->n_banks, sizeof(double *));
    m->hw_Wc = calloc((size_t)m->n_highway + 1, sizeof(double *));
    m->hw_bc = calloc((size_t)m->n_highway + 1, sizeof(double *));
    m->hw_Wt = calloc((size_t)m->n_highway + 1, sizeof(double *));
    m->hw_bt = calloc((size_t)m->n_highway + 1, sizeof(double *));
    m->lstm_W0 = calloc(n_cells, sizeof(double *));
    m->lstm_B = calloc(n_cells, sizeof(double *));
    m->lstm_WP = calloc(n_cells, sizeof(double *));
    if (!m->cnn_W || !m->cnn_b || !m->hw_Wc || !m->hw_bc || !m->hw_Wt || !m->hw_bt || !m->lstm_W0 ||
        !m->lstm_B || !m->lstm_WP) {
        ref_set_error(errbuf, errlen, "out of memory");
        return -1;
    }

    hsize_t ce[2] = {REF_CHAR_ROWS, (hsize_t)m->d_c};
    if (ref_h5_read(f, "char_embed", 2, ce, &m->char_embed, errbuf, errlen)) return -1;

    for (int i = 0; i < m->n_banks; i++) {
        hsize_t wd[4] = {1, (hsize_t)m->widths[i], (hsize_t)m->d_c, (hsize_t)m->counts[i]};
        hsize_t bd[1] = {(hsize_t)m->counts[i]};
        snprintf(path, sizeof path, "CNN/W_cnn_%d", i);
        if (ref_h5_read(f, path, 4, wd, &m->cnn_W[i], errbuf, errlen)) return -1;
        snprintf(path, sizeof path, "CNN/b_cnn_%d", i);
        if (ref_h5_read(f, path, 1, bd, &m->cnn_b[i], errbuf, errlen)) return -1;
    }

    hsize_t ff[2] = {F, F}, fv[1] = {F};
    for (int k = 0; k < m->n_highway; k++) {
        snprintf(path, sizeof path, "CNN_high_%d/W_carry", k);
        if (ref_h5_read(f, path, 2, ff, &m->hw_Wc[k], errbuf, errlen)) return -1;
        snprintf(path, sizeof path, "CNN_high_%d/b_carry", k);
        if (ref_h5_read(f, path, 1, fv, &m->hw_bc[k], errbuf, errlen)) return -1;
        snprintf(path, sizeof path, "CNN_high_%d/W_transform", k);
        if (ref_h5_read(f, path, 2, ff, &m->hw_Wt[k], errbuf, errlen)) return -1;
        snprintf(path, sizeof path, "CNN_high_%d/b_transform", k);
        if (ref_h5_read(f, path, 1, fv, &m->hw_bt[k], errbuf, errlen)) return -1;
    }

    /* A projection that the shapes make optional (F == P, P == H) is used when the file
     * has it: AllenNLP always loads and applies both; bilm-tf never writes them then. */
    if (!m->use_cnn_proj && ref_h5_exists(f, "CNN_proj/W_proj")) m->use_cnn_proj = 1;
    if (!m->use_lstm_proj && ref_h5_exists(f, "RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_P_0"))
        m->use_lstm_proj = 1;

    if (m->use_cnn_proj) {
        hsize_t fp[2] = {F, P}, pv[1] = {P};
        if (ref_h5_read(f, "CNN_proj/W_proj", 2, fp, &m->proj_W, errbuf, errlen)) return -1;
        if (ref_h5_read(f, "CNN_proj/b_proj", 1, pv, &m->proj_b, errbuf, errlen)) return -1;
    }

    hsize_t w0[2] = {2 * P, 4 * H}, bv[1] = {4 * H}, hp[2] = {H, P};
    for (int d = 0; d < 2; d++) {
        for (int l = 0; l < m->L; l++) {
            size_t cell = (size_t)d * (size_t)m->L + (size_t)l;
            snprintf(path, sizeof path, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/W_0", d, l);
            if (ref_h5_read(f, path, 2, w0, &m->lstm_W0[cell], errbuf, errlen)) return -1;
            snprintf(path, sizeof path, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/B", d, l);
            if (ref_h5_read(f, path, 1, bv, &m->lstm_B[cell], errbuf, errlen)) return -1;
            if (m->use_lstm_proj) {
                snprintf(path, sizeof path, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/W_P_0", d, l);
                if (ref_h5_read(f, path, 2, hp, &m->lstm_WP[cell], errbuf, errlen)) return -1;
            }
        }
    }
    return 0;
}

ref_model *ref_load(const char *options_path, const char *weights_path, char *errbuf,
                    size_t errlen) {
    ref_set_error(errbuf, errlen, "%s", "");
    if (options_path == NULL || weights_path == NULL) {
        ref_set_error(errbuf, errlen, "ref_load: NULL path");
        return NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* we report errors ourselves */

    ref_model *m = calloc(1, sizeof *m);
    if (m == NULL) {
        ref_set_error(errbuf, errlen, "out of memory");
        return NULL;
    }
    char *text = ref_read_text_file(options_path);
    if (text == NULL) {
        ref_set_error(errbuf, errlen, "cannot read options file '%s'", options_path);
        ref_free(m);
        return NULL;
    }
    int rc = ref_parse_options(m, text, errbuf, errlen);
    free(text);
    if (rc) {
        ref_free(m);
        return NULL;
    }

    hid_t f = H5Fopen(weights_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        ref_set_error(errbuf, errlen, "cannot open weights file '%s' as HDF5", weights_path);
        ref_free(m);
        return NULL;
    }
    rc = ref_load_weights(m, f, errbuf, errlen);
    H5Fclose(f);
    if (rc) {
        ref_free(m);
        return NULL;
    }
    return m;
}

static void ref_free_list(double **list, size_t n) {
    if (list == NULL) return;
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

void ref_free(ref_model *m) {
    if (m == NULL) return;
    size_t n_cells = 2 * (size_t)m->L;
    free(m->widths);
    free(m->counts);
    free(m->char_embed);
    ref_free_list(m->cnn_W, (size_t)m->n_banks);
    ref_free_list(m->cnn_b, (size_t)m->n_banks);
    ref_free_list(m->hw_Wc, (size_t)m->n_highway);
    ref_free_list(m->hw_bc, (size_t)m->n_highway);
    ref_free_list(m->hw_Wt, (size_t)m->n_highway);
    ref_free_list(m->hw_bt, (size_t)m->n_highway);
    free(m->proj_W);
    free(m->proj_b);
    ref_free_list(m->lstm_W0, n_cells);
    ref_free_list(m->lstm_B, n_cells);
    ref_free_list(m->lstm_WP, n_cells);
    free(m);
}

int ref_n_layers(const ref_model *m) {
    return m->L;
}
int ref_proj_dim(const ref_model *m) {
    return m->P;
}

/* ------------------------------------------------------------------------------------ */
/* State                                                                                */
/* ------------------------------------------------------------------------------------ */

ref_state *ref_state_new(const ref_model *m) {
    if (m == NULL) return NULL;
    ref_state *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->L = m->L;
    s->P = m->P;
    s->H = m->H;
    s->h = calloc(2 * (size_t)m->L * (size_t)m->P, sizeof(double));
    s->c = calloc(2 * (size_t)m->L * (size_t)m->H, sizeof(double));
    if (s->h == NULL || s->c == NULL) {
        ref_state_free(s);
        return NULL;
    }
    return s;
}

void ref_state_free(ref_state *s) {
    if (s == NULL) return;
    free(s->h);
    free(s->c);
    free(s);
}

/* ------------------------------------------------------------------------------------ */
/* Character ids (section 3), unshifted: bytes 0..255, specials 256..260                */
/* ------------------------------------------------------------------------------------ */

/* ids [C] of a sentence boundary: <S> (end = 0) or </S> (end = 1). */
static void ref_boundary_ids(int C, int end, int *ids) {
    for (int p = 0; p < C; p++) ids[p] = REF_PAD_CHAR;
    ids[0] = REF_BOW_CHAR;
    ids[1] = end ? REF_EOS_CHAR : REF_BOS_CHAR;
    ids[2] = REF_EOW_CHAR;
}

/* ids [C] of one token: BOW, at most C-2 raw bytes, EOW, padding. The literal tokens
 * "<S>" and "</S>" get the boundary ids (AllenNLP, section 3.2 step 3). */
static void ref_token_ids(int C, const char *token, size_t len, int *ids) {
    if (len == 3 && memcmp(token, "<S>", 3) == 0) {
        ref_boundary_ids(C, 0, ids);
        return;
    }
    if (len == 4 && memcmp(token, "</S>", 4) == 0) {
        ref_boundary_ids(C, 1, ids);
        return;
    }
    size_t k = len < (size_t)(C - 2) ? len : (size_t)(C - 2);
    for (int p = 0; p < C; p++) ids[p] = REF_PAD_CHAR;
    ids[0] = REF_BOW_CHAR;
    for (size_t b = 0; b < k; b++) ids[1 + b] = (unsigned char)token[b];
    ids[k + 1] = REF_EOW_CHAR;
}

/* ------------------------------------------------------------------------------------ */
/* Char-CNN token embedding (section 5)                                                 */
/* ------------------------------------------------------------------------------------ */

static double ref_sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}
static double ref_relu(double x) {
    return x > 0 ? x : 0;
}
static double ref_clip(double x, double a) {
    if (a <= 0) return x; /* 0 = no clipping */
    return x > a ? a : (x < -a ? -a : x);
}

/* e [P] from character ids [C]. Returns 0 or -1 (allocation). */
static int ref_embed_ids(const ref_model *m, const int *ids, double *e) {
    const int C = m->C, d_c = m->d_c, F = m->F, P = m->P;
    double *E = malloc((size_t)C * (size_t)d_c * sizeof(double)); /* [C, d_c] */
    double *x = malloc((size_t)F * sizeof(double));               /* [F] */
    double *x_new = malloc((size_t)F * sizeof(double));           /* [F] */
    if (E == NULL || x == NULL || x_new == NULL) {
        free(E);
        free(x);
        free(x_new);
        return -1;
    }

    /* 1. Embed: E[p] = char_embed[ids[p]] for all C positions, padding included. */
    for (int p = 0; p < C; p++)
        for (int q = 0; q < d_c; q++)
            E[(size_t)p * d_c + q] = m->char_embed[(size_t)ids[p] * d_c + q];

    /* 2-4. Convolve each bank (VALID, stride 1, no flip), max over all positions, then the
     * activation; concatenate in filters order. */
    int offset = 0;
    for (int i = 0; i < m->n_banks; i++) {
        const int w = m->widths[i], n = m->counts[i];
        const double *W = m->cnn_W[i]; /* [w * d_c, n] */
        for (int f = 0; f < n; f++) {
            double best = -INFINITY;
            for (int p = 0; p + w <= C; p++) {
                double s = m->cnn_b[i][f];
                for (int k = 0; k < w; k++)
                    for (int q = 0; q < d_c; q++)
                        s +=
                            E[(size_t)(p + k) * d_c + q] * W[((size_t)k * d_c + q) * (size_t)n + f];
                if (s > best) best = s;
            }
            x[offset + f] = m->use_tanh ? tanh(best) : ref_relu(best);
        }
        offset += n;
    }

    /* 5. Highway: g = sigmoid(x.Wc + bc) gates the ReLU branch, 1 - g the identity. */
    for (int k = 0; k < m->n_highway; k++) {
        for (int o = 0; o < F; o++) {
            double zc = m->hw_bc[k][o], zt = m->hw_bt[k][o];
            for (int r = 0; r < F; r++) {
                zc += x[r] * m->hw_Wc[k][(size_t)r * F + o];
                zt += x[r] * m->hw_Wt[k][(size_t)r * F + o];
            }
            double g = ref_sigmoid(zc), t = ref_relu(zt);
            x_new[o] = g * t + (1.0 - g) * x[o];
        }
        memcpy(x, x_new, (size_t)F * sizeof(double));
    }

    /* 6. Projection e = x.W_proj + b_proj, absent when F == P (section 2). */
    if (m->use_cnn_proj) {
        for (int o = 0; o < P; o++) {
            double s = m->proj_b[o];
            for (int r = 0; r < F; r++) s += x[r] * m->proj_W[(size_t)r * P + o];
            e[o] = s;
        }
    } else {
        for (int o = 0; o < P; o++) e[o] = x[o];
    }

    free(E);
    free(x);
    free(x_new);
    return 0;
}

int ref_token_embedding(const ref_model *m, const char *token, size_t len, double *out) {
    if (m == NULL || out == NULL || (token == NULL && len > 0)) return -1;
    int *ids = malloc((size_t)m->C * sizeof(int)); /* [C] */
    if (ids == NULL) return -1;
    ref_token_ids(m->C, len ? token : "", len, ids);
    int rc = ref_embed_ids(m, ids, out);
    free(ids);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* biLSTM (section 6)                                                                   */
/* ------------------------------------------------------------------------------------ */

/* One LSTM step (section 6.1) of cell `cell` on input x [P]: updates h [P] and c [H] in
 * place. z [4H] and mm [H] are scratch. */
static void ref_lstm_step(const ref_model *m, size_t cell, const double *x, double *h, double *c,
                          double *z, double *mm) {
    const int P = m->P, H = m->H;
    const size_t G = 4 * (size_t)H;
    const double *W0 = m->lstm_W0[cell]; /* [2P, 4H]: rows 0..P-1 input, P..2P-1 h */
    const double *B = m->lstm_B[cell];   /* [4H] */

    /* z = [x ; h].W_0 + B */
    for (size_t g = 0; g < G; g++) {
        double s = B[g];
        for (int r = 0; r < P; r++) s += x[r] * W0[(size_t)r * G + g];
        for (int r = 0; r < P; r++) s += h[r] * W0[(size_t)(P + r) * G + g];
        z[g] = s;
    }
    /* Gates in TF order i, j, f, o; +1.0 forget bias; clip c; m uses the clipped c. */
    for (int u = 0; u < H; u++) {
        double i = z[u], j = z[H + u], f = z[2 * H + u], o = z[3 * H + u];
        double cn = ref_sigmoid(f + 1.0) * c[u] + ref_sigmoid(i) * tanh(j);
        cn = ref_clip(cn, m->cell_clip);
        c[u] = cn;
        mm[u] = ref_sigmoid(o) * tanh(cn);
    }
    /* h = clip(m.W_P_0, proj_clip); without W_P_0 (P == H) the state is m itself and TF
     * applies no proj_clip. */
    if (m->use_lstm_proj) {
        const double *WP = m->lstm_WP[cell]; /* [H, P] */
        for (int p = 0; p < P; p++) {
            double s = 0;
            for (int u = 0; u < H; u++) s += mm[u] * WP[(size_t)u * P + p];
            h[p] = ref_clip(s, m->proj_clip);
        }
    } else {
        for (int p = 0; p < P; p++) h[p] = mm[p];
    }
}

int ref_run(const ref_model *m, const char *const *tokens, const size_t *lens, size_t n,
            ref_state *state, double *out) {
    if (m == NULL || (n > 0 && (tokens == NULL || lens == NULL || out == NULL))) return -1;
    if (state != NULL && (state->L != m->L || state->P != m->P || state->H != m->H)) return -1;
    const size_t P = (size_t)m->P, H = (size_t)m->H, L = (size_t)m->L;
    if (n > SIZE_MAX / sizeof(double) / (2 * P) / (L + 1) - 2) return -1;
    const size_t N = n + 2; /* positions: <S>, tokens, </S> */

    double *e = malloc(N * P * sizeof(double));    /* [N, P] token embeddings */
    double *x = malloc(N * P * sizeof(double));    /* [N, P] current layer input */
    double *y = malloc(N * P * sizeof(double));    /* [N, P] current layer output */
    double *h = malloc(P * sizeof(double));        /* [P] */
    double *c = malloc(H * sizeof(double));        /* [H] */
    double *z = malloc(4 * H * sizeof(double));    /* [4H] */
    double *mm = malloc(H * sizeof(double));       /* [H] */
    int *ids = malloc((size_t)m->C * sizeof(int)); /* [C] */
    int rc = -1;
    if (!e || !x || !y || !h || !c || !z || !mm || !ids) goto done;

    /* Section 1 steps 1-3: boundaries, char ids, token embeddings. */
    for (size_t t = 0; t < N; t++) {
        if (t == 0) ref_boundary_ids(m->C, 0, ids);
        else if (t == N - 1) ref_boundary_ids(m->C, 1, ids);
        else ref_token_ids(m->C, lens[t - 1] ? tokens[t - 1] : "", lens[t - 1], ids);
        if (ref_embed_ids(m, ids, e + t * P)) goto done;
    }

    /* Layer 0 = [e ; e], boundaries removed (section 7). */
    for (size_t j = 0; j < n; j++)
        for (size_t p = 0; p < P; p++) {
            out[j * 2 * P + p] = e[(j + 1) * P + p];
            out[j * 2 * P + P + p] = e[(j + 1) * P + p];
        }

    /* Section 6.2: each direction runs its own stack of L layers. */
    for (int d = 0; d < 2; d++) {
        memcpy(x, e, N * P * sizeof(double));
        for (size_t l = 0; l < L; l++) {
            size_t cell = (size_t)d * L + l;
            if (state) {
                memcpy(h, state->h + cell * P, P * sizeof(double));
                memcpy(c, state->c + cell * H, H * sizeof(double));
            } else {
                memset(h, 0, P * sizeof(double));
                memset(c, 0, H * sizeof(double));
            }
            for (size_t s = 0; s < N; s++) {
                size_t t = d == 0 ? s : N - 1 - s; /* backward runs N-1 .. 0 */
                ref_lstm_step(m, cell, x + t * P, h, c, z, mm);
                for (size_t p = 0; p < P; p++) {
                    /* Residual on the output only, layers >= 2 (l >= 1 here). */
                    double residual = (m->skip && l >= 1) ? x[t * P + p] : 0.0;
                    y[t * P + p] = h[p] + residual;
                }
            }
            if (state) {
                memcpy(state->h + cell * P, h, P * sizeof(double));
                memcpy(state->c + cell * H, c, H * sizeof(double));
            }
            /* Layer l+1 output, direction d half, position t = j+1. */
            for (size_t j = 0; j < n; j++)
                for (size_t p = 0; p < P; p++)
                    out[((l + 1) * n + j) * 2 * P + (size_t)d * P + p] = y[(j + 1) * P + p];
            /* The next layer reads this output, residual included. */
            double *tmp = x;
            x = y;
            y = tmp;
        }
    }
    rc = 0;
done:
    free(e);
    free(x);
    free(y);
    free(h);
    free(c);
    free(z);
    free(mm);
    free(ids);
    return rc;
}
