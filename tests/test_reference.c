/*
 * test_reference.c - validates the double-precision oracle (tests/reference.c) before the
 * suite trusts it: against the golden TensorFlow fixtures of the tiny model (token
 * embeddings, streaming top layers, stateless first sentences), against exact structural
 * identities on option variants that have no golden outputs (n_layers, skip connections,
 * clips, n_highway, models without CNN/LSTM projection), and on its loader's error paths.
 * Run from the repo root.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, unlink, close */

#include "harness.h"
#include "reference.h"

#include <cJSON.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define OPTIONS "models/elmo-tiny/options.json"
#define WEIGHTS "models/elmo-tiny/weights.hdf5"
#define FIXTURES "tests/fixtures/elmo-tiny/"
#define GOLDEN_TOL 1e-5
#define EXACT_TOL 1e-12

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */
/* ------------------------------------------------------------------------------------ */

static double max_abs_diff(const double *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= worst)) worst = d; /* NaN-propagating */
    }
    return worst;
}

static int all_finite(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* Whole dataset `name` of an HDF5 file as doubles; dims [rank] out. NULL on failure. */
static double *read_h5(const char *path, const char *name, int *rank, hsize_t dims[4]) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    double *data = NULL;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds >= 0) {
        hid_t sp = H5Dget_space(ds);
        *rank = H5Sget_simple_extent_ndims(sp);
        if (*rank >= 1 && *rank <= 4) {
            H5Sget_simple_extent_dims(sp, dims, NULL);
            size_t count = 1;
            for (int k = 0; k < *rank; k++) count *= (size_t)dims[k];
            data = malloc(count * sizeof(double));
            if (data && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
                free(data);
                data = NULL;
            }
        }
        H5Sclose(sp);
        H5Dclose(ds);
    }
    H5Fclose(f);
    return data;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[len] = '\0';
    fclose(f);
    return buf;
}

/* A tokenized sentence; tokens point into a string owned elsewhere. */
typedef struct sentence {
    const char *tok[128];
    size_t len[128];
    size_t n;
} sentence;

/* Splits on ASCII whitespace (the fixture sentences contain no other whitespace). */
static void split_ws(const char *text, sentence *s) {
    s->n = 0;
    const char *p = text;
    while (*p) {
        while (*p && strchr(" \t\n\r\v\f", *p)) p++;
        if (!*p) break;
        const char *start = p;
        while (*p && !strchr(" \t\n\r\v\f", *p)) p++;
        if (s->n < 128) {
            s->tok[s->n] = start;
            s->len[s->n] = (size_t)(p - start);
            s->n++;
        }
    }
}

/* Runs one sentence; returns out [L+1, n, 2P] (malloc'd), NULL on failure. */
static double *run(const ref_model *m, const sentence *s, ref_state *state) {
    size_t count = (size_t)(ref_n_layers(m) + 1) * s->n * 2 * (size_t)ref_proj_dim(m);
    double *out = malloc((count ? count : 1) * sizeof(double));
    if (out && ref_run(m, s->tok, s->len, s->n, state, out) != 0) {
        free(out);
        out = NULL;
    }
    return out;
}

/* Temporary files, removed at exit. */
static char tmp_paths[64][64];
static int n_tmp;

static const char *tmp_path(void) {
    if (n_tmp >= 64) return NULL;
    char *p = tmp_paths[n_tmp];
    snprintf(p, 64, "/tmp/test_reference_XXXXXX");
    int fd = mkstemp(p);
    if (fd < 0) return NULL;
    close(fd);
    n_tmp++;
    return p;
}

static const char *write_tmp(const char *text) {
    const char *p = tmp_path();
    FILE *f = p ? fopen(p, "wb") : NULL;
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return p;
}

/* The tiny options with lstm/char_cnn key `key` set to JSON `value` ("" removes it). */
static const char *tiny_options_with(const char *section, const char *key, const char *value) {
    char *text = read_text(OPTIONS);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) return NULL;
    cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, section);
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (value[0]) cJSON_AddItemToObject(obj, key, cJSON_Parse(value));
    char *printed = cJSON_Print(root);
    const char *path = printed ? write_tmp(printed) : NULL;
    free(printed);
    cJSON_Delete(root);
    return path;
}

static ref_model *load_tiny_with(const char *section, const char *key, const char *value) {
    char err[512];
    const char *opt = tiny_options_with(section, key, value);
    ref_model *m = opt ? ref_load(opt, WEIGHTS, err, sizeof err) : NULL;
    if (!m) fprintf(stderr, "load with %s.%s=%s failed: %s\n", section, key, value, err);
    return m;
}

/* The fixture sentences: 3 streams x 10. Owns the cJSON tree the tokens point into. */
static cJSON *load_sentences(sentence s[3][10]) {
    char *text = read_text(FIXTURES "sentences.json");
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root || cJSON_GetArraySize(root) != 3) {
        cJSON_Delete(root);
        return NULL;
    }
    for (int k = 0; k < 3; k++) {
        cJSON *stream = cJSON_GetArrayItem(root, k);
        if (cJSON_GetArraySize(stream) != 10) {
            cJSON_Delete(root);
            return NULL;
        }
        for (int i = 0; i < 10; i++) split_ws(cJSON_GetArrayItem(stream, i)->valuestring, &s[k][i]);
    }
    return root;
}

/* Max |diff| between the top layer of out [L+1, n, 2P] and golden [2, n, P]
 * (forward, backward). */
static double top_layer_diff(const double *out, int L, int P, const double *golden, size_t n) {
    const double *top = out + (size_t)L * n * 2 * (size_t)P;
    double worst = 0;
    for (size_t j = 0; j < n; j++)
        for (int d = 0; d < 2; d++) {
            double diff = max_abs_diff(top + j * 2 * (size_t)P + (size_t)d * (size_t)P,
                                       golden + ((size_t)d * n + j) * (size_t)P, (size_t)P);
            if (!(diff <= worst)) worst = diff;
        }
    return worst;
}

/* Golden [2, n_i, P] for sentence i of stream k, checked against n. */
static double *golden_sentence(int k, int i, size_t n, int P) {
    char path[128], name[8];
    snprintf(path, sizeof path, FIXTURES "lm_embeddings_%d.hdf5", k);
    snprintf(name, sizeof name, "%d", i);
    int rank = 0;
    hsize_t dims[4] = {0};
    double *g = read_h5(path, name, &rank, dims);
    if (g && (rank != 3 || dims[0] != 2 || dims[1] != n || dims[2] != (hsize_t)P)) {
        fprintf(stderr, "%s/%s has an unexpected shape\n", path, name);
        free(g);
        g = NULL;
    }
    return g;
}

/* ------------------------------------------------------------------------------------ */
/* Golden fixtures                                                                      */
/* ------------------------------------------------------------------------------------ */

static void test_token_embeddings(const ref_model *m) {
    int rank = 0;
    hsize_t dims[4] = {0};
    double *golden = read_h5(FIXTURES "elmo_token_embeddings.hdf5", "embedding", &rank, dims);
    char *vocab = read_text(FIXTURES "vocab_test.txt");
    CHECK(golden != NULL);
    CHECK(vocab != NULL);
    if (!golden || !vocab) goto done;
    CHECK_INT(rank, 2);
    CHECK_INT(dims[0], 458);
    CHECK_INT(dims[1], ref_proj_dim(m));

    const int P = ref_proj_dim(m);
    double e[64];
    double worst = 0;
    size_t row = 0;
    for (char *line = vocab; row < 458; row++) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        CHECK_INT(ref_token_embedding(m, line, len, e), 0);
        double d = max_abs_diff(e, golden + row * (size_t)P, (size_t)P);
        if (!(d <= worst)) worst = d;
        if (!end) {
            row++;
            break;
        }
        line = end + 1;
    }
    CHECK_INT(row, 458);
    printf("token embeddings (458 vocab words): max |ref - golden| = %.3g\n", worst);
    CHECK(worst <= GOLDEN_TOL);
done:
    free(golden);
    free(vocab);
}

static void test_streaming_and_stateless(const ref_model *m, sentence s[3][10]) {
    const int L = ref_n_layers(m), P = ref_proj_dim(m);
    double worst_stream = 0, worst_first = 0, least_later = INFINITY;
    for (int k = 0; k < 3; k++) {
        ref_state *st = ref_state_new(m);
        CHECK(st != NULL);
        for (int i = 0; i < 10; i++) {
            double *golden = golden_sentence(k, i, s[k][i].n, P);
            double *out = run(m, &s[k][i], st);
            double *fresh = i <= 1 ? run(m, &s[k][i], NULL) : NULL;
            CHECK(golden != NULL);
            CHECK(out != NULL);
            if (golden && out) {
                double d = top_layer_diff(out, L, P, golden, s[k][i].n);
                if (!(d <= worst_stream)) worst_stream = d;
                CHECK(d <= GOLDEN_TOL);
            }
            if (golden && fresh) {
                double d = top_layer_diff(fresh, L, P, golden, s[k][i].n);
                if (i == 0) {
                    if (!(d <= worst_first)) worst_first = d;
                    CHECK(d <= GOLDEN_TOL); /* zero state = the fixture's first batch */
                } else {
                    if (d < least_later) least_later = d;
                    CHECK(d > 1e-3); /* the carried state matters */
                }
            }
            free(golden);
            free(out);
            free(fresh);
        }
        ref_state_free(st);
    }
    printf("streaming top layer (3 streams x 10 sentences): max |ref - golden| = %.3g\n",
           worst_stream);
    printf("stateless sentence 0 (3 streams): max |ref - golden| = %.3g\n", worst_first);
    printf("stateless sentence 1 (3 streams): smallest max |ref - golden| = %.3g "
           "(must not match)\n",
           least_later);
}

/* ------------------------------------------------------------------------------------ */
/* State and token semantics                                                            */
/* ------------------------------------------------------------------------------------ */

static void test_state_semantics(const ref_model *m, const sentence *s0, const sentence *s1) {
    const int L = ref_n_layers(m), P = ref_proj_dim(m);
    const size_t count = (size_t)(L + 1) * s0->n * 2 * (size_t)P;

    /* A new state is the zero state. */
    ref_state *st = ref_state_new(m);
    double *stateless = run(m, s0, NULL);
    double *first = run(m, s0, st);
    double *second = run(m, s0, st); /* starts from the state left by the first run */
    CHECK(stateless && first && second);
    if (stateless && first && second) {
        CHECK(max_abs_diff(stateless, first, count) == 0);
        CHECK(max_abs_diff(first, second, count) > 1e-3);
        /* Layer 0 does not depend on the state. */
        CHECK(max_abs_diff(first, second, s0->n * 2 * (size_t)P) == 0);
    }
    free(stateless);
    free(first);
    free(second);
    ref_state_free(st);

    /* Layer 0 is [e ; e] of each token embedded alone. */
    double *out = run(m, s1, NULL);
    CHECK(out != NULL);
    double e[64];
    double worst = 0;
    for (size_t j = 0; out && j < s1->n; j++) {
        CHECK_INT(ref_token_embedding(m, s1->tok[j], s1->len[j], e), 0);
        double a = max_abs_diff(out + j * 2 * (size_t)P, e, (size_t)P);
        double b = max_abs_diff(out + j * 2 * (size_t)P + P, e, (size_t)P);
        if (a > worst) worst = a;
        if (b > worst) worst = b;
    }
    CHECK(worst == 0);
    free(out);

    /* An empty sentence yields no rows but still runs <S> </S> and moves the state. */
    ref_state *moved = ref_state_new(m);
    CHECK_INT(ref_run(m, NULL, NULL, 0, moved, NULL), 0);
    double *after_empty = run(m, s1, moved);
    double *from_zero = run(m, s1, NULL);
    CHECK(after_empty && from_zero);
    if (after_empty && from_zero)
        CHECK(max_abs_diff(after_empty, from_zero, (size_t)(L + 1) * s1->n * 2 * (size_t)P) > 1e-6);
    free(after_empty);
    free(from_zero);
    ref_state_free(moved);

    /* Bad arguments. */
    CHECK_INT(ref_run(NULL, s1->tok, s1->len, s1->n, NULL, e), -1);
    CHECK_INT(ref_run(m, s1->tok, s1->len, s1->n, NULL, NULL), -1);
    CHECK_INT(ref_token_embedding(m, "x", 1, NULL), -1);
}

static void test_token_truncation(const ref_model *m) {
    /* 60 bytes: only the first 48 (C - 2) are used, so the embedding equals that of the
     * 48-byte prefix, and differs from the 47-byte prefix. */
    const char *long_tok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567";
    double e60[64], e48[64], e47[64], e0[64], e_bos[64], e_lit[64];
    CHECK_INT(ref_token_embedding(m, long_tok, 60, e60), 0);
    CHECK_INT(ref_token_embedding(m, long_tok, 48, e48), 0);
    CHECK_INT(ref_token_embedding(m, long_tok, 47, e47), 0);
    CHECK(max_abs_diff(e60, e48, 16) == 0);
    CHECK(max_abs_diff(e48, e47, 16) > 1e-6);

    /* The empty token is an ordinary token, not a boundary. */
    CHECK_INT(ref_token_embedding(m, "", 0, e0), 0);
    CHECK_INT(ref_token_embedding(m, NULL, 0, e0), 0);
    CHECK(all_finite(e0, 16));
    CHECK_INT(ref_token_embedding(m, "<S>", 3, e_bos), 0);
    CHECK(max_abs_diff(e0, e_bos, 16) > 1e-6);
    /* "<S" + ">" as bytes is the literal boundary token only when exactly "<S>". */
    CHECK_INT(ref_token_embedding(m, "<S>x", 3, e_lit), 0);
    CHECK(max_abs_diff(e_lit, e_bos, 16) == 0);
    CHECK_INT(ref_token_embedding(m, "<S>x", 4, e_lit), 0);
    CHECK(max_abs_diff(e_lit, e_bos, 16) > 1e-6);
}

/* ------------------------------------------------------------------------------------ */
/* Option variants on the tiny weights: exact identities                                */
/* ------------------------------------------------------------------------------------ */

static void test_option_variants(const ref_model *base, const sentence *s) {
    const int P = ref_proj_dim(base);
    const size_t layer = s->n * 2 * (size_t)P; /* values in one output layer */
    double *ref2 = run(base, s, NULL);         /* [3, n, 2P] */
    CHECK(ref2 != NULL);
    if (!ref2) return;

    /* n_layers 1: layer 1 is the same as in the 2-layer model. */
    ref_model *one = load_tiny_with("lstm", "n_layers", "1");
    CHECK(one != NULL);
    if (one) {
        CHECK_INT(ref_n_layers(one), 1);
        double *o = run(one, s, NULL);
        CHECK(o && max_abs_diff(o, ref2, 2 * layer) == 0);
        free(o);
        ref_free(one);
    }
    /* n_layers absent: bilm-tf's default of 1. */
    ref_model *dflt = load_tiny_with("lstm", "n_layers", "");
    CHECK(dflt != NULL);
    if (dflt) CHECK_INT(ref_n_layers(dflt), 1);
    ref_free(dflt);

    /* use_skip_connections false: layer 2 loses exactly the residual (layer 1). */
    ref_model *noskip = load_tiny_with("lstm", "use_skip_connections", "false");
    CHECK(noskip != NULL);
    if (noskip) {
        double *o = run(noskip, s, NULL);
        CHECK(o != NULL);
        if (o) {
            CHECK(max_abs_diff(o, ref2, 2 * layer) == 0);
            double worst = 0;
            for (size_t i = 0; i < layer; i++) {
                double d = fabs(o[2 * layer + i] - (ref2[2 * layer + i] - ref2[layer + i]));
                if (!(d <= worst)) worst = d;
            }
            CHECK(worst <= EXACT_TOL);
            CHECK(max_abs_diff(o + 2 * layer, ref2 + 2 * layer, layer) > 1e-3);
        }
        free(o);
        ref_free(noskip);
    }

    /* Clips: absent, null, 0 and huge all mean "no clipping"; 3 (the fixture) differs. */
    const char *clip_keys[2] = {"cell_clip", "proj_clip"};
    for (int k = 0; k < 2; k++) {
        const char *none_values[4] = {"", "null", "0", "1e30"};
        double *none[4] = {NULL};
        for (int v = 0; v < 4; v++) {
            ref_model *mv = load_tiny_with("lstm", clip_keys[k], none_values[v]);
            CHECK(mv != NULL);
            if (mv) none[v] = run(mv, s, NULL);
            ref_free(mv);
        }
        CHECK(none[0] && none[1] && none[2] && none[3]);
        if (none[0] && none[1] && none[2] && none[3]) {
            for (int v = 1; v < 4; v++) CHECK(max_abs_diff(none[0], none[v], 3 * layer) == 0);
            double d = max_abs_diff(none[0], ref2, 3 * layer);
            printf("%s absent vs 3: max |diff| = %.3g\n", clip_keys[k], d);
            CHECK(d > 1e-9);
        }
        for (int v = 0; v < 4; v++) free(none[v]);
    }

    /* n_highway absent == 0 (no highway) and differs from the fixture's 2. */
    ref_model *hw_absent = load_tiny_with("char_cnn", "n_highway", "");
    ref_model *hw_zero = load_tiny_with("char_cnn", "n_highway", "0");
    ref_model *tanh_act = load_tiny_with("char_cnn", "activation", "\"tanh\"");
    CHECK(hw_absent && hw_zero && tanh_act);
    if (hw_absent && hw_zero && tanh_act) {
        double a[16], z[16], t[16], r[16];
        CHECK_INT(ref_token_embedding(hw_absent, "word", 4, a), 0);
        CHECK_INT(ref_token_embedding(hw_zero, "word", 4, z), 0);
        CHECK_INT(ref_token_embedding(tanh_act, "word", 4, t), 0);
        CHECK_INT(ref_token_embedding(base, "word", 4, r), 0);
        CHECK(max_abs_diff(a, z, 16) == 0);
        CHECK(max_abs_diff(a, r, 16) > 1e-6);
        CHECK(max_abs_diff(t, r, 16) > 1e-6);
    }
    ref_free(hw_absent);
    ref_free(hw_zero);
    ref_free(tanh_act);
    free(ref2);
}

/* ------------------------------------------------------------------------------------ */
/* Models without projections (F == P, P == H): equivalence with a padded model         */
/* ------------------------------------------------------------------------------------ */

static uint32_t lcg_state = 12345;
static double lcg(double scale) { /* deterministic value in [-scale, scale) */
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return ((double)(lcg_state >> 8) / 16777216.0 * 2.0 - 1.0) * scale;
}

static int write_ds(hid_t f, const char *path, int rank, const hsize_t *dims, const double *v) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, path, H5T_IEEE_F32LE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    int rc = ds >= 0 && H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0;
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    H5Pclose(lcpl);
    return rc ? 0 : -1;
}

/*
 * Model A: d_c 3, filters [[1,2],[2,3],[3,3]] (F 8), P = H = 8, 3 highway layers, tanh,
 * 3 LSTM layers, C = 12, cell_clip 0.8, skip connections: no CNN_proj, no W_P_0.
 * Model B computes the same function with both projections present: one extra filter
 * (F 9, an extra highway unit that never feeds the real ones) projected away by
 * W_proj = [I ; 0], and one extra LSTM unit (H 9) projected away by W_P_0 = [I ; 0].
 * The extra units get random weights, so a leak would show.
 */
#define A_DC 3
#define A_F 8
#define A_NB 3
#define A_L 3
#define A_NHW 3
static const int a_widths[A_NB + 1] = {1, 2, 3, 2};
static const int a_counts[A_NB + 1] = {2, 3, 3, 1};

static int write_models(const char *a_path, const char *b_path) {
    const int P = A_F, HA = A_F, HB = A_F + 1, FA = A_F, FB = A_F + 1;
    hid_t fa = H5Fcreate(a_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t fb = H5Fcreate(b_path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (fa < 0 || fb < 0) return -1;
    int rc = 0;
    char path[128];
    double buf_a[2 * A_F * 4 * (A_F + 1)], buf_b[2 * A_F * 4 * (A_F + 1)];

    double ce[261 * A_DC];
    for (int i = 0; i < 261 * A_DC; i++) ce[i] = lcg(1.0);
    hsize_t ced[2] = {261, A_DC};
    rc |= write_ds(fa, "char_embed", 2, ced, ce) | write_ds(fb, "char_embed", 2, ced, ce);

    for (int i = 0; i < A_NB + 1; i++) {
        const int w = a_widths[i], n = a_counts[i];
        hsize_t wd[4] = {1, (hsize_t)w, A_DC, (hsize_t)n}, bd[1] = {(hsize_t)n};
        for (int j = 0; j < w * A_DC * n; j++) buf_a[j] = lcg(0.8);
        for (int j = 0; j < n; j++) buf_b[j] = lcg(0.3);
        snprintf(path, sizeof path, "CNN/W_cnn_%d", i);
        if (i < A_NB) rc |= write_ds(fa, path, 4, wd, buf_a);
        rc |= write_ds(fb, path, 4, wd, buf_a);
        snprintf(path, sizeof path, "CNN/b_cnn_%d", i);
        if (i < A_NB) rc |= write_ds(fa, path, 1, bd, buf_b);
        rc |= write_ds(fb, path, 1, bd, buf_b);
    }

    static const char *hw_names[2][2] = {{"W_carry", "b_carry"}, {"W_transform", "b_transform"}};
    for (int k = 0; k < A_NHW; k++)
        for (int which = 0; which < 2; which++) {
            /* A: [F, F]; B: [F+1, F+1] with A in the top-left, zero last row (the extra
             * input never reaches a real unit), random last column. */
            for (int r = 0; r < FB; r++)
                for (int c = 0; c < FB; c++) {
                    double v = lcg(0.4);
                    if (r < FA && c < FA) buf_a[r * FA + c] = v;
                    buf_b[r * FB + c] = (r == FA && c < FA) ? 0.0 : v;
                }
            hsize_t da[2] = {(hsize_t)FA, (hsize_t)FA}, db[2] = {(hsize_t)FB, (hsize_t)FB};
            snprintf(path, sizeof path, "CNN_high_%d/%s", k, hw_names[which][0]);
            rc |= write_ds(fa, path, 2, da, buf_a) | write_ds(fb, path, 2, db, buf_b);
            for (int c = 0; c < FB; c++) buf_b[c] = buf_a[c] = lcg(0.3);
            snprintf(path, sizeof path, "CNN_high_%d/%s", k, hw_names[which][1]);
            rc |= write_ds(fa, path, 1, da, buf_a) | write_ds(fb, path, 1, db, buf_b);
        }

    /* B's CNN projection [F+1, P] = [I ; 0], zero bias. A has none. */
    for (int r = 0; r < FB; r++)
        for (int c = 0; c < P; c++) buf_b[r * P + c] = r == c ? 1.0 : 0.0;
    hsize_t pd[2] = {(hsize_t)FB, (hsize_t)P}, pb[1] = {(hsize_t)P};
    rc |= write_ds(fb, "CNN_proj/W_proj", 2, pd, buf_b);
    for (int c = 0; c < P; c++) buf_b[c] = 0.0;
    rc |= write_ds(fb, "CNN_proj/b_proj", 1, pb, buf_b);

    for (int d = 0; d < 2; d++)
        for (int l = 0; l < A_L; l++) {
            /* W_0: A [2P, 4HA]; B [2P, 4HB], gate block g unit u < HA equal to A's, unit
             * HA random. B: same layout. */
            for (int r = 0; r < 2 * P; r++)
                for (int g = 0; g < 4; g++)
                    for (int u = 0; u < HB; u++) {
                        double v = lcg(0.5);
                        if (u < HA) buf_a[r * 4 * HA + g * HA + u] = v;
                        buf_b[r * 4 * HB + g * HB + u] = v;
                    }
            hsize_t wa[2] = {2 * (hsize_t)P, 4 * (hsize_t)HA};
            hsize_t wb[2] = {2 * (hsize_t)P, 4 * (hsize_t)HB};
            snprintf(path, sizeof path, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/W_0", d, l);
            rc |= write_ds(fa, path, 2, wa, buf_a) | write_ds(fb, path, 2, wb, buf_b);
            for (int g = 0; g < 4; g++)
                for (int u = 0; u < HB; u++) {
                    double v = lcg(0.3);
                    if (u < HA) buf_a[g * HA + u] = v;
                    buf_b[g * HB + u] = v;
                }
            hsize_t ba[1] = {4 * (hsize_t)HA}, bb[1] = {4 * (hsize_t)HB};
            snprintf(path, sizeof path, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/B", d, l);
            rc |= write_ds(fa, path, 1, ba, buf_a) | write_ds(fb, path, 1, bb, buf_b);
            for (int r = 0; r < HB; r++)
                for (int c = 0; c < P; c++) buf_b[r * P + c] = r == c ? 1.0 : 0.0;
            hsize_t hp[2] = {(hsize_t)HB, (hsize_t)P};
            snprintf(path, sizeof path, "RNN_%d/RNN/MultiRNNCell/Cell%d/LSTMCell/W_P_0", d, l);
            rc |= write_ds(fb, path, 2, hp, buf_b);
        }
    H5Fclose(fa);
    H5Fclose(fb);
    return rc;
}

static const char *model_options(int F_extra, int H, const char *extra_lstm) {
    char filters[128] = "";
    for (int i = 0; i < A_NB + F_extra; i++)
        snprintf(filters + strlen(filters), sizeof filters - strlen(filters), "%s[%d,%d]",
                 i ? "," : "", a_widths[i], a_counts[i]);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"char_cnn\": {\"embedding\": {\"dim\": %d}, \"filters\": [%s], "
             "\"n_highway\": %d, \"n_characters\": 262, \"max_characters_per_token\": 12, "
             "\"activation\": \"tanh\"}, "
             "\"lstm\": {\"dim\": %d, \"projection_dim\": %d, \"n_layers\": %d, "
             "\"cell_clip\": 0.8, \"use_skip_connections\": true%s}}",
             A_DC, filters, A_NHW, H, A_F, A_L, extra_lstm);
    return write_tmp(text);
}

static void test_no_projection_models(void) {
    const char *a_w = tmp_path(), *b_w = tmp_path();
    CHECK(a_w && b_w);
    if (!a_w || !b_w) return;
    CHECK_INT(write_models(a_w, b_w), 0);
    const char *a_opt = model_options(0, A_F, "");
    const char *a_clip_opt = model_options(0, A_F, ", \"proj_clip\": 0.05");
    const char *b_opt = model_options(1, A_F + 1, "");
    char err[512] = "";
    ref_model *a = ref_load(a_opt, a_w, err, sizeof err);
    if (!a) fprintf(stderr, "model A: %s\n", err);
    ref_model *a_clip = ref_load(a_clip_opt, a_w, err, sizeof err);
    if (!a_clip) fprintf(stderr, "model A (proj_clip): %s\n", err);
    ref_model *b = ref_load(b_opt, b_w, err, sizeof err);
    if (!b) fprintf(stderr, "model B: %s\n", err);
    CHECK(a && a_clip && b);
    /* A's weights file lacks CNN_proj and W_P_0: B's options on A's file must fail. */
    ref_model *wrong = ref_load(b_opt, a_w, err, sizeof err);
    CHECK(wrong == NULL);
    CHECK_CONTAINS(err, "CNN/W_cnn_3");
    ref_free(wrong);
    if (!a || !a_clip || !b) goto done;
    CHECK_INT(ref_n_layers(a), A_L);
    CHECK_INT(ref_proj_dim(a), A_F);

    /* Two sentences in a stream (the second starts from carried state); one token is
     * longer than C - 2 = 10 bytes. */
    sentence s[2];
    split_ws("the quick-brown-fox-jumps over , a lazy dog .", &s[0]);
    split_ws("<S> </S> \xe2\x80\xa2 x", &s[1]);
    ref_state *sa = ref_state_new(a), *sc = ref_state_new(a_clip), *sb = ref_state_new(b);
    double worst = 0, worst_clip = 0, biggest = 0;
    for (int i = 0; i < 2; i++) {
        double *oa = run(a, &s[i], sa), *oc = run(a_clip, &s[i], sc), *ob = run(b, &s[i], sb);
        size_t count = (size_t)(A_L + 1) * s[i].n * 2 * A_F;
        CHECK(oa && oc && ob);
        if (oa && oc && ob) {
            CHECK(all_finite(oa, count));
            double d = max_abs_diff(oa, ob, count), dc = max_abs_diff(oa, oc, count);
            if (d > worst) worst = d;
            if (dc > worst_clip) worst_clip = dc;
            for (size_t j = 0; j < count; j++)
                if (fabs(oa[j]) > biggest) biggest = fabs(oa[j]);
        }
        free(oa);
        free(oc);
        free(ob);
    }
    printf("no-projection model (F == P == H, 3 highway, 3 layers, tanh) vs padded "
           "projection model: max |diff| = %.3g (largest |value| %.3g)\n",
           worst, biggest);
    CHECK(worst <= EXACT_TOL);
    CHECK(biggest > 0.1); /* the comparison is not between zeros */
    /* Without W_P_0 there is no projection for proj_clip to clip (TF LSTMCell). */
    CHECK(worst_clip == 0);
    ref_state_free(sa);
    ref_state_free(sc);
    ref_state_free(sb);
done:
    ref_free(a);
    ref_free(a_clip);
    ref_free(b);
}

/* ------------------------------------------------------------------------------------ */
/* Loader errors                                                                        */
/* ------------------------------------------------------------------------------------ */

/* Loading must fail with a message containing `needle`. */
static void expect_load_error(const char *opt, const char *weights, const char *needle) {
    char err[512] = "";
    ref_model *m = opt ? ref_load(opt, weights, err, sizeof err) : NULL;
    CHECK(opt != NULL);
    CHECK(m == NULL);
    CHECK_CONTAINS(err, needle);
    ref_free(m);
}

static void test_load_errors(void) {
    expect_load_error("no/such/options.json", WEIGHTS, "no/such/options.json");
    expect_load_error(OPTIONS, "no/such/weights.hdf5", "no/such/weights.hdf5");
    expect_load_error(OPTIONS, OPTIONS, "as HDF5");
    expect_load_error(write_tmp("{\"lstm\": "), WEIGHTS, "not valid JSON");
    expect_load_error(write_tmp("[1, 2]"), WEIGHTS, "char_cnn");
    expect_load_error(tiny_options_with("lstm", "dim", ""), WEIGHTS, "lstm.dim");
    expect_load_error(tiny_options_with("lstm", "projection_dim", "\"16\""), WEIGHTS,
                      "lstm.projection_dim");
    expect_load_error(tiny_options_with("lstm", "dim", "64.5"), WEIGHTS, "lstm.dim");
    expect_load_error(tiny_options_with("lstm", "cell_clip", "-1"), WEIGHTS, "cell_clip");
    expect_load_error(tiny_options_with("lstm", "use_skip_connections", ""), WEIGHTS,
                      "use_skip_connections");
    expect_load_error(tiny_options_with("char_cnn", "activation", "\"sigmoid\""), WEIGHTS,
                      "activation");
    expect_load_error(tiny_options_with("char_cnn", "filters", "[[1, 4], [60, 8]]"), WEIGHTS,
                      "filters[1]");
    expect_load_error(tiny_options_with("char_cnn", "filters", "[]"), WEIGHTS, "filters");
    expect_load_error(tiny_options_with("lstm", "projection_dim", "128"), WEIGHTS,
                      "projection_dim (128) > lstm.dim (64)");
    /* Options that disagree with the weights: shape and presence are checked. */
    expect_load_error(tiny_options_with("lstm", "projection_dim", "8"), WEIGHTS,
                      "'CNN_proj/W_proj' has shape [124,16], expected [124,8]");
    expect_load_error(tiny_options_with("char_cnn", "n_highway", "3"), WEIGHTS,
                      "'CNN_high_2/W_carry' is missing");
    expect_load_error(tiny_options_with("lstm", "n_layers", "3"), WEIGHTS,
                      "'RNN_0/RNN/MultiRNNCell/Cell2/LSTMCell/W_0' is missing");
    expect_load_error(tiny_options_with("char_cnn", "max_characters_per_token", "2"), WEIGHTS,
                      "max_characters_per_token");
    /* No error buffer: still fails cleanly. */
    CHECK(ref_load("no/such/options.json", WEIGHTS, NULL, 0) == NULL);
}

int main(void) {
    char err[512] = "";
    ref_model *m = ref_load(OPTIONS, WEIGHTS, err, sizeof err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "cannot load the tiny model: %s\n", err);
        return harness_report("test_reference");
    }
    CHECK_INT(ref_n_layers(m), 2);
    CHECK_INT(ref_proj_dim(m), 16);
    CHECK_STR(err, "");

    sentence s[3][10];
    cJSON *sentences = load_sentences(s);
    CHECK(sentences != NULL);

    test_token_embeddings(m);
    if (sentences) {
        test_streaming_and_stateless(m, s);
        test_state_semantics(m, &s[0][3], &s[1][9]);
        test_option_variants(m, &s[0][0]); /* 50 tokens: long enough for cell_clip to act */
    }
    test_token_truncation(m);
    test_no_projection_models();
    test_load_errors();

    cJSON_Delete(sentences);
    ref_free(m);
    for (int i = 0; i < n_tmp; i++) unlink(tmp_paths[i]);
    return harness_report("test_reference");
}
