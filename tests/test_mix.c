/* test_mix.c - the reductions of elmo.h against plain double-precision computations from
 * elmo_result_layer values: elmo_result_mix (average, top, each layer, softmax weights,
 * gamma, layer norm, ALL), elmo_mix_check/elmo_mix_dim errors, elmo_pool (mean, max,
 * n == 0), and elmo_embed_batch == elmo_run + elmo_result_mix + elmo_pool per sentence on
 * the 30 fixture sentences (tiny model).
 *
 * Layer norm takes its statistics over all n+2 positions including <S> and </S>, whose rows
 * the public API does not return. They are recovered as follows (docs/model.md §7.1, §8.1):
 *   - layer 0 at the boundaries is e(<S>) / e(</S>): layer 0 of the literal tokens "<S>",
 *     "</S>" (which get the boundary character ids);
 *   - the forward half at </S> only depends on the prefix: it is the forward half at the
 *     literal "</S>" appended to the sentence; likewise the backward half at <S> is the
 *     backward half at a literal "<S>" prepended;
 *   - the forward half at <S> and the backward half at </S> (layers >= 1) are constants
 *     that no sentence exposes (zero state, one boundary token). Only their sum and sum of
 *     squares enter the statistics; both are calibrated on one sentence and must then
 *     predict the layer norm of every other sentence (which fails if the statistics do not
 *     include exactly the n+2 positions). */
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "fixture_io.h"
#include "harness.h"

#define MAX_TOKENS 64
#define TOL_MIX 1e-5   /* float accumulation of a few terms of magnitude < 10 */
#define TOL_LN 1e-5    /* layer norm with calibrated boundary statistics */
#define TOL_BATCH 1e-6 /* elmo.h: embed_batch identical (<= 1e-6) to one at a time */
#define LN_EPS 1e-13
#define MAXL 8 /* output layers supported by this test */

typedef struct tokenized {
    char text[1024];
    elmo_span spans[MAX_TOKENS];
    elmo_sentence s;
} tokenized;

static void tokenize(const char *prefix, const char *text, const char *suffix, tokenized *t) {
    snprintf(t->text, sizeof t->text, "%s%s%s", prefix, text, suffix);
    size_t n =
        elmo_tokenize(ELMO_TOKENIZER_WHITESPACE, t->text, strlen(t->text), t->spans, MAX_TOKENS);
    CHECK(n <= MAX_TOKENS);
    t->s = (elmo_sentence){.text = t->text, .tokens = t->spans, .n_tokens = n};
}

static const elmo_model *model;
static int NL, D, P; /* output layers L+1, width 2P */

static elmo_result *run1(const elmo_sentence *s) {
    elmo_result *r = NULL;
    CHECK_INT(elmo_run(model, NULL, s, 1, NULL, &r, NULL), ELMO_OK);
    return r;
}

/* ---- plain mixes ---------------------------------------------------------------------- */

/* Expected mix of sentence i of r without layer norm: out [n, width]. */
static void expected_mix(const elmo_result *r, size_t i, const elmo_mix *mix, double *out) {
    size_t n = elmo_result_tokens(r, i);
    double a[MAXL] = {0};
    if (mix->kind == ELMO_MIX_AVERAGE)
        for (int k = 0; k < NL; k++) a[k] = 1.0 / NL;
    else if (mix->kind == ELMO_MIX_TOP) a[NL - 1] = 1;
    else if (mix->kind == ELMO_MIX_LAYER) a[mix->layer] = 1;
    else if (mix->kind == ELMO_MIX_WEIGHTS) {
        double top = -INFINITY, sum = 0;
        for (int k = 0; k < NL; k++) top = fmax(top, mix->weights[k]);
        for (int k = 0; k < NL; k++) sum += a[k] = exp((double)mix->weights[k] - top);
        for (int k = 0; k < NL; k++) a[k] /= sum;
    }
    size_t width = mix->kind == ELMO_MIX_ALL ? (size_t)NL * D : (size_t)D;
    for (size_t j = 0; j < n; j++)
        for (size_t c = 0; c < width; c++) {
            double v = 0;
            if (mix->kind == ELMO_MIX_ALL) {
                v = elmo_result_layer(r, i, (int)(c / D))[j * D + c % D];
            } else {
                for (int k = 0; k < NL; k++) v += a[k] * elmo_result_layer(r, i, k)[j * D + c];
            }
            out[j * width + c] = mix->gamma * v;
        }
}

static double max_diff_fd(const float *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t e = 0; e < n; e++) {
        double d = fabs((double)a[e] - b[e]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* Mixes every sentence of r and compares with expected_mix; returns the max |diff|. */
static double check_mix(const elmo_result *r, const elmo_mix *mix) {
    size_t width = elmo_mix_dim(model, mix);
    double worst = 0;
    for (size_t i = 0; i < elmo_result_count(r); i++) {
        size_t n = elmo_result_tokens(r, i);
        float *got = malloc((n * width + 1) * sizeof *got);
        double *want = malloc((n * width + 1) * sizeof *want);
        got[n * width] = 12345.0f; /* guard: nothing past [n, width] is written */
        elmo_error err;
        CHECK_INT(elmo_result_mix(r, i, mix, got, &err), ELMO_OK);
        CHECK_STR(err.message, "");
        CHECK(got[n * width] == 12345.0f);
        expected_mix(r, i, mix, want);
        double d = max_diff_fd(got, want, n * width);
        if (!(d <= worst)) worst = d;
        free(got);
        free(want);
    }
    return worst;
}

static void test_plain_mixes(const elmo_result *r) {
    elmo_mix mix = elmo_mix_default();
    CHECK_INT(mix.kind, ELMO_MIX_AVERAGE);
    CHECK(mix.gamma == 1.0f);
    CHECK_INT(mix.layer_norm, 0);
    double worst_avg = check_mix(r, &mix);
    mix.gamma = 0.5f;
    double d = check_mix(r, &mix);
    worst_avg = fmax(worst_avg, d);
    printf("  average (gamma 1, 0.5): max |diff| = %.3g\n", worst_avg);
    CHECK(worst_avg <= TOL_MIX);

    /* One layer with gamma 1 is that layer exactly. */
    mix = elmo_mix_default();
    mix.kind = ELMO_MIX_TOP;
    CHECK(check_mix(r, &mix) == 0);
    mix.kind = ELMO_MIX_LAYER;
    for (int k = 0; k < NL; k++) {
        mix.layer = k;
        mix.gamma = 1;
        CHECK(check_mix(r, &mix) == 0);
        mix.gamma = -1.7f;
        CHECK(check_mix(r, &mix) <= TOL_MIX);
    }
    mix = elmo_mix_default();
    mix.kind = ELMO_MIX_ALL;
    CHECK_INT(elmo_mix_dim(model, &mix), (size_t)NL * D);
    CHECK(check_mix(r, &mix) == 0);
    mix.gamma = 0.3f;
    CHECK(check_mix(r, &mix) <= TOL_MIX);

    /* Softmax weights, including ones whose naive exp() would overflow or underflow. */
    static const float w[][MAXL] = {{0, 0, 0},    {1, 2, 3},           {1000, 1001, 999},
                                    {-5, -3, -4}, {-9e10f, 1, -9e10f}, {88, -88, 0}};
    double worst_w = 0;
    for (size_t c = 0; c < sizeof w / sizeof *w; c++) {
        mix = elmo_mix_default();
        mix.kind = ELMO_MIX_WEIGHTS;
        mix.weights = w[c];
        mix.n_weights = (size_t)NL;
        mix.gamma = c % 2 ? 2.5f : 1.0f;
        d = check_mix(r, &mix);
        worst_w = fmax(worst_w, d);
    }
    printf("  softmax weights (6 sets, gamma 1 and 2.5): max |diff| = %.3g\n", worst_w);
    CHECK(worst_w <= TOL_MIX);
    /* [-9e10, 1, -9e10] selects layer 1 exactly (AllenNLP's idiom). */
    mix = elmo_mix_default();
    mix.kind = ELMO_MIX_WEIGHTS;
    mix.weights = w[4];
    mix.n_weights = 3;
    elmo_mix one = elmo_mix_default();
    one.kind = ELMO_MIX_LAYER;
    one.layer = 1;
    for (size_t i = 0; i < elmo_result_count(r); i++) {
        size_t n = elmo_result_tokens(r, i);
        float *a = malloc((n * D + 1) * sizeof *a), *b = malloc((n * D + 1) * sizeof *b);
        CHECK_INT(elmo_result_mix(r, i, &mix, a, NULL), ELMO_OK);
        CHECK_INT(elmo_result_mix(r, i, &one, b, NULL), ELMO_OK);
        CHECK(harness_max_abs_diff(a, b, n * D) == 0);
        CHECK(harness_max_abs_diff(a, elmo_result_layer(r, i, 1), n * D) == 0);
        free(a);
        free(b);
    }
}

/* ---- layer norm ------------------------------------------------------------------------ */

typedef struct boundary_info {
    double known_sum[MAXL], known_sq[MAXL]; /* over every known value of the n+2 rows */
} boundary_info;

static void add_values(const float *x, size_t count, double *sum, double *sq) {
    for (size_t e = 0; e < count; e++) {
        *sum += x[e];
        *sq += (double)x[e] * x[e];
    }
}

/* Sums of the known values of every layer of sentence `text` (interior rows and the
 * boundary halves recoverable through a literal "<S>" / "</S>"); layer 0 is complete. */
static void known_values(const char *text, const float *e_bos, const float *e_eos,
                         boundary_info *b) {
    tokenized t, suffixed, prefixed;
    tokenize("", text, "", &t);
    tokenize("", text, " </S>", &suffixed);
    tokenize("<S> ", text, "", &prefixed);
    size_t n = t.s.n_tokens;
    elmo_result *r = run1(&t.s), *rs = run1(&suffixed.s), *rp = run1(&prefixed.s);
    memset(b, 0, sizeof *b);
    for (int k = 0; r && rs && rp && k < NL; k++) {
        add_values(elmo_result_layer(r, 0, k), n * D, &b->known_sum[k], &b->known_sq[k]);
        if (k == 0) { /* [e ; e] at both boundaries */
            for (int h = 0; h < 2; h++) {
                add_values(e_bos, (size_t)P, &b->known_sum[0], &b->known_sq[0]);
                add_values(e_eos, (size_t)P, &b->known_sum[0], &b->known_sq[0]);
            }
            continue;
        }
        /* forward half at </S>: row n of the suffixed sentence, columns [0, P) */
        add_values(elmo_result_layer(rs, 0, k) + n * D, (size_t)P, &b->known_sum[k],
                   &b->known_sq[k]);
        /* backward half at <S>: row 0 of the prefixed sentence, columns [P, 2P) */
        add_values(elmo_result_layer(rp, 0, k) + P, (size_t)P, &b->known_sum[k], &b->known_sq[k]);
    }
    elmo_result_free(r);
    elmo_result_free(rs);
    elmo_result_free(rp);
}

/* Least-squares fit y = a x + c over the layer-k rows x of a result and the engine's
 * layer-normed y; gives mean = -c/a and 1/std = a. */
static void fit_norm(const float *x, const float *y, size_t count, double *mean, double *inv) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t e = 0; e < count; e++) {
        sx += x[e];
        sy += y[e];
        sxx += (double)x[e] * x[e];
        sxy += (double)x[e] * y[e];
    }
    double nn = (double)count, a = (nn * sxy - sx * sy) / (nn * sxx - sx * sx);
    double c = (sy - a * sx) / nn;
    *inv = a;
    *mean = -c / a;
}

static void normed_layer(const elmo_result *r, int k, float *out) {
    elmo_mix mix = elmo_mix_default();
    mix.kind = ELMO_MIX_LAYER;
    mix.layer = k;
    mix.layer_norm = 1;
    CHECK_INT(elmo_result_mix(r, 0, &mix, out, NULL), ELMO_OK);
}

static void test_layer_norm(char **sent) {
    /* e(<S>), e(</S>): layer 0 (first half) of the literal tokens. */
    tokenized tb, te;
    tokenize("", "<S>", "", &tb);
    tokenize("", "</S>", "", &te);
    elmo_result *rb = run1(&tb.s), *re = run1(&te.s);
    if (!rb || !re) return;
    const float *e_bos = elmo_result_layer(rb, 0, 0), *e_eos = elmo_result_layer(re, 0, 0);

    /* Calibration on fixture sentence 0 (50 tokens): the two hidden constant halves'
     * sum U1 and sum of squares U2 per layer. */
    double U1[MAXL] = {0}, U2[MAXL] = {0};
    {
        tokenized t;
        tokenize("", sent[0], "", &t);
        elmo_result *r = run1(&t.s);
        boundary_info b;
        known_values(sent[0], e_bos, e_eos, &b);
        size_t n = t.s.n_tokens, N = n + 2;
        float *y = malloc(n * D * sizeof *y);
        for (int k = 1; r && k < NL; k++) {
            normed_layer(r, k, y);
            double mean, inv;
            fit_norm(elmo_result_layer(r, 0, k), y, n * D, &mean, &inv);
            double total = (double)(N * D);
            U1[k] = total * mean - b.known_sum[k];
            U2[k] = total * (1 / (inv * inv) - LN_EPS + mean * mean) - b.known_sq[k];
            printf("  layer norm, layer %d: hidden boundary halves (2 x %d values) have sum "
                   "%.4f, sum of squares %.4f\n",
                   k, P, U1[k], U2[k]);
            /* D real numbers with that sum must have at least sum^2 / D as squares. */
            CHECK(U2[k] >= U1[k] * U1[k] / D - 1e-3);
        }
        free(y);
        elmo_result_free(r);
    }

    /* Predict the layer norm of other sentences (lengths 1 to 53), every layer, and the
     * weighted and ALL mixes with layer norm. */
    const char *texts[] = {"Hello", "Don 't !", sent[1], sent[19], sent[20], sent[9]};
    double worst_l0 = 0, worst = 0, worst_mix = 0;
    for (size_t s = 0; s < sizeof texts / sizeof *texts; s++) {
        tokenized t;
        tokenize("", texts[s], "", &t);
        elmo_result *r = run1(&t.s);
        if (!r) continue;
        boundary_info b;
        known_values(texts[s], e_bos, e_eos, &b);
        size_t n = t.s.n_tokens, N = n + 2;
        double mean[MAXL], inv[MAXL];
        float *y = malloc(n * NL * D * sizeof *y);
        for (int k = 0; k < NL; k++) {
            double total = (double)(N * D);
            mean[k] = (b.known_sum[k] + U1[k]) / total;
            double var = (b.known_sq[k] + U2[k]) / total - mean[k] * mean[k];
            inv[k] = 1 / sqrt(var + LN_EPS);
            normed_layer(r, k, y);
            const float *x = elmo_result_layer(r, 0, k);
            double d = 0;
            for (size_t e = 0; e < n * D; e++) d = fmax(d, fabs(y[e] - (x[e] - mean[k]) * inv[k]));
            if (k == 0) worst_l0 = fmax(worst_l0, d);
            else worst = fmax(worst, d);
        }
        /* weights [0.3, -1, 2] with gamma 1.5, and ALL with gamma 0.5, both normed */
        float w[MAXL] = {0.3f, -1.0f, 2.0f, 0.5f, 0.1f, 0, 0, 0};
        double a[MAXL], sum = 0;
        for (int k = 0; k < NL; k++) sum += a[k] = exp(w[k]);
        elmo_mix mix = elmo_mix_default();
        mix.kind = ELMO_MIX_WEIGHTS;
        mix.weights = w;
        mix.n_weights = (size_t)NL;
        mix.gamma = 1.5f;
        mix.layer_norm = 1;
        CHECK_INT(elmo_result_mix(r, 0, &mix, y, NULL), ELMO_OK);
        for (size_t e = 0; e < n * D; e++) {
            double v = 0;
            for (int k = 0; k < NL; k++)
                v += a[k] / sum * (elmo_result_layer(r, 0, k)[e] - mean[k]) * inv[k];
            worst_mix = fmax(worst_mix, fabs(y[e] - 1.5 * v));
        }
        mix.kind = ELMO_MIX_ALL;
        mix.gamma = 0.5f;
        CHECK_INT(elmo_result_mix(r, 0, &mix, y, NULL), ELMO_OK);
        for (size_t j = 0; j < n; j++)
            for (int k = 0; k < NL; k++)
                for (int c = 0; c < D; c++) {
                    double v = 0.5 * (elmo_result_layer(r, 0, k)[j * D + c] - mean[k]) * inv[k];
                    worst_mix = fmax(worst_mix, fabs(y[(j * NL + k) * D + c] - v));
                }
        free(y);
        elmo_result_free(r);
    }
    printf("  layer norm vs the definition over n+2 positions: layer 0 max |diff| = %.3g; "
           "layers 1-%d (calibrated boundary constants) %.3g; weighted/ALL mixes %.3g\n",
           worst_l0, NL - 1, worst, worst_mix);
    CHECK(worst_l0 <= TOL_MIX);
    CHECK(worst <= TOL_LN);
    CHECK(worst_mix <= TOL_LN);
    elmo_result_free(rb);
    elmo_result_free(re);
}

/* ---- checks and pooling ------------------------------------------------------------------ */

static void expect_mix_error(const elmo_mix *mix, const char *needle) {
    elmo_error err;
    CHECK_INT(elmo_mix_check(model, mix, &err), ELMO_ERR_ARG);
    CHECK_INT(err.code, ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, needle);
}

static void test_mix_errors(const elmo_result *r) {
    elmo_mix mix = elmo_mix_default();
    elmo_error err;
    CHECK_INT(elmo_mix_check(model, &mix, &err), ELMO_OK);
    CHECK_INT(elmo_mix_dim(model, &mix), (size_t)D);
    for (int kind = ELMO_MIX_AVERAGE; kind <= ELMO_MIX_WEIGHTS; kind++) {
        mix.kind = (elmo_mix_kind)kind;
        CHECK_INT(elmo_mix_dim(model, &mix), (size_t)D);
    }
    mix = elmo_mix_default();
    mix.kind = ELMO_MIX_LAYER;
    mix.layer = NL;
    expect_mix_error(&mix, "layer 3 does not exist; this model has layers 0 to 2");
    mix.layer = -1;
    expect_mix_error(&mix, "layer -1 does not exist");
    mix.layer = NL - 1;
    CHECK_INT(elmo_mix_check(model, &mix, NULL), ELMO_OK);

    float w[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    mix = elmo_mix_default();
    mix.kind = ELMO_MIX_WEIGHTS;
    mix.weights = w;
    mix.n_weights = 2;
    expect_mix_error(&mix, "needs 3 weights (one per layer), got 2");
    mix.n_weights = 4;
    expect_mix_error(&mix, "needs 3 weights (one per layer), got 4");
    mix.weights = NULL;
    mix.n_weights = 3;
    expect_mix_error(&mix, "needs 3 weights");
    mix.weights = w;
    w[1] = NAN;
    expect_mix_error(&mix, "mix weight 1 is not a finite number");
    w[1] = INFINITY;
    expect_mix_error(&mix, "mix weight 1 is not a finite number");
    w[1] = 0.2f;
    CHECK_INT(elmo_mix_check(model, &mix, NULL), ELMO_OK);
    /* weights are ignored for other kinds */
    mix.kind = ELMO_MIX_AVERAGE;
    mix.n_weights = 7;
    CHECK_INT(elmo_mix_check(model, &mix, NULL), ELMO_OK);

    mix = elmo_mix_default();
    mix.gamma = NAN;
    expect_mix_error(&mix, "gamma must be a finite number");
    mix.gamma = -INFINITY;
    expect_mix_error(&mix, "gamma");
    mix = elmo_mix_default();
    mix.kind = (elmo_mix_kind)7;
    expect_mix_error(&mix, "unknown mix kind 7");
    CHECK_INT(elmo_mix_dim(model, &mix), 0);
    mix.kind = (elmo_mix_kind)-1;
    CHECK_INT(elmo_mix_dim(model, &mix), 0);
    expect_mix_error(&mix, "unknown mix kind -1");
    CHECK_INT(elmo_mix_check(model, NULL, &err), ELMO_ERR_ARG);
    CHECK_INT(elmo_mix_check(NULL, &mix, &err), ELMO_ERR_ARG);
    CHECK_INT(elmo_mix_dim(NULL, &mix), 0);

    /* elmo_result_mix applies the same checks and leaves out untouched on error. */
    float out[4] = {7, 7, 7, 7};
    mix = elmo_mix_default();
    mix.kind = ELMO_MIX_LAYER;
    mix.layer = 5;
    CHECK_INT(elmo_result_mix(r, 0, &mix, out, &err), ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, "layer 5 does not exist");
    CHECK(out[0] == 7 && out[3] == 7);
    mix = elmo_mix_default();
    CHECK_INT(elmo_result_mix(r, elmo_result_count(r), &mix, out, &err), ELMO_ERR_ARG);
    CHECK_INT(elmo_result_mix(NULL, 0, &mix, out, &err), ELMO_ERR_ARG);
    CHECK_INT(elmo_result_mix(r, 0, &mix, NULL, &err), ELMO_ERR_ARG);
    CHECK_INT(elmo_result_mix(r, 0, NULL, out, &err), ELMO_ERR_ARG);
}

static void test_pool(void) {
    /* x [5, 3] */
    const float x[15] = {1, -2, 3, 4, -5, 6.5f, -7, 8, 9, 0.25f, -1e-3f, -100, 2, 2, 2};
    float out[3];
    for (int pooling = ELMO_POOL_MEAN; pooling <= ELMO_POOL_MAX; pooling++) {
        for (size_t n = 1; n <= 5; n++) {
            double want[3];
            for (int c = 0; c < 3; c++) {
                double sum = 0, best = -INFINITY;
                for (size_t j = 0; j < n; j++) {
                    sum += x[j * 3 + c];
                    best = fmax(best, x[j * 3 + c]);
                }
                want[c] = pooling == ELMO_POOL_MEAN ? sum / (double)n : best;
            }
            elmo_pool(x, n, 3, (elmo_pooling)pooling, out);
            CHECK(max_diff_fd(out, want, 3) <= 1e-6);
        }
        /* n == 0 writes zeros (even with x NULL) */
        out[0] = out[1] = out[2] = NAN;
        elmo_pool(x, 0, 3, (elmo_pooling)pooling, out);
        CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0);
        out[0] = out[1] = out[2] = 5;
        elmo_pool(NULL, 0, 3, (elmo_pooling)pooling, out);
        CHECK(out[0] == 0 && out[1] == 0 && out[2] == 0);
    }
    /* max of all-negative rows is negative, not 0 */
    const float neg[4] = {-3, -2, -1, -4};
    elmo_pool(neg, 2, 2, ELMO_POOL_MAX, out);
    CHECK(out[0] == -1 && out[1] == -2);
}

/* ---- embed_batch ---------------------------------------------------------------------------- */

/* out [n, width] of one sentence run alone, mixed and pooled. */
static void one_at_a_time(const elmo_sentence *s, const elmo_embed_params *p, float *out) {
    size_t width = elmo_mix_dim(model, &p->mix);
    elmo_result *r = run1(s);
    if (!r) return;
    size_t n = s->n_tokens;
    float *mixed = malloc((n * width + 1) * sizeof *mixed); /* [n, width] */
    CHECK_INT(elmo_result_mix(r, 0, &p->mix, mixed, NULL), ELMO_OK);
    elmo_pool(mixed, n, width, p->pooling, out);
    free(mixed);
    elmo_result_free(r);
}

static void test_embed_batch(char **sent, size_t count) {
    /* The 30 sentences with empty ones at the start, middle and end: [count + 3]. */
    size_t total = count + 3;
    tokenized *t = calloc(total, sizeof *t);
    elmo_sentence *s = calloc(total, sizeof *s);
    for (size_t i = 0, k = 0; i < total; i++) {
        int empty = i == 0 || i == 12 || i == total - 1;
        tokenize("", empty ? "" : sent[k++], "", &t[i]);
        s[i] = t[i].s;
    }
    static const float w[3] = {0.5f, -1, 2};
    elmo_mix mixes[3] = {elmo_mix_default(), elmo_mix_default(), elmo_mix_default()};
    mixes[1].kind = ELMO_MIX_ALL;
    mixes[2].kind = ELMO_MIX_WEIGHTS;
    mixes[2].weights = w;
    mixes[2].n_weights = 3;
    mixes[2].gamma = 0.7f;
    mixes[2].layer_norm = 1;
    const char *mix_names[3] = {"average", "all", "weights+layer norm"};
    for (int mi = 0; mi < 3; mi++)
        for (int pooling = ELMO_POOL_MEAN; pooling <= ELMO_POOL_MAX; pooling++) {
            elmo_embed_params p = elmo_embed_default_params();
            p.mix = mixes[mi];
            p.pooling = (elmo_pooling)pooling;
            size_t width = elmo_mix_dim(model, &p.mix);
            float *want = calloc(total * width, sizeof *want); /* [total, width] */
            for (size_t i = 0; i < total; i++) one_at_a_time(&s[i], &p, want + i * width);
            const size_t budgets[3] = {0, 10, 200};
            for (int b = 0; b < 3; b++) {
                p.batch_positions = budgets[b];
                float *got = malloc(total * width * sizeof *got);
                for (size_t e = 0; e < total * width; e++) got[e] = NAN;
                elmo_error err;
                CHECK_INT(elmo_embed_batch(model, NULL, &p, s, total, got, &err), ELMO_OK);
                double d = harness_max_abs_diff(got, want, total * width);
                int zeros = 1;
                for (size_t c = 0; c < width; c++)
                    zeros &= got[c] == 0 && got[12 * width + c] == 0 &&
                             got[(total - 1) * width + c] == 0;
                printf("  embed_batch %-18s %s pooling, batch_positions %3zu: max |diff| vs "
                       "one at a time = %.3g\n",
                       mix_names[mi], pooling ? "max " : "mean", budgets[b], d);
                CHECK(d <= TOL_BATCH);
                CHECK(zeros);
                free(got);
            }
            free(want);
        }
    /* Only empty sentences; and n == 0. */
    float out[32 * 2];
    for (int e = 0; e < 64; e++) out[e] = 1;
    CHECK_INT(elmo_embed_batch(model, NULL, NULL, s, 1, out, NULL), ELMO_OK);
    CHECK(out[0] == 0 && out[31] == 0 && out[32] == 1);
    CHECK_INT(elmo_embed_batch(model, NULL, NULL, NULL, 0, NULL, NULL), ELMO_OK);
    free(t);
    free(s);
}

int main(void) {
    elmo_model *m = NULL;
    elmo_error err;
    int rc = elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, NULL, &m, &err);
    CHECK_INT(rc, ELMO_OK);
    int streams = 0, per = 0;
    char **sent = fx_read_sentences(FIXTURE_DIR "sentences.json", &streams, &per);
    CHECK(sent != NULL && streams * per == 30);
    if (rc || !sent || streams * per != 30) {
        fx_free_strings(sent, (size_t)(streams * per));
        elmo_model_free(m);
        return harness_report("test_mix");
    }
    model = m;
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    NL = info.n_output_layers;
    D = info.output_dim;
    P = info.projection_dim;
    CHECK(NL == 3 && D == 32);

    /* A batch of sentences of different lengths, including one token and none. */
    tokenized t[6];
    const char *texts[6] = {sent[0], "Hello", "", sent[3], sent[5], sent[29]};
    elmo_sentence s[6];
    for (int i = 0; i < 6; i++) {
        tokenize("", texts[i], "", &t[i]);
        s[i] = t[i].s;
    }
    elmo_result *r = NULL;
    CHECK_INT(elmo_run(m, NULL, s, 6, NULL, &r, NULL), ELMO_OK);
    if (r) {
        test_plain_mixes(r);
        test_mix_errors(r);
    }
    elmo_result_free(r);
    test_layer_norm(sent);
    test_pool();
    test_embed_batch(sent, 30);

    fx_free_strings(sent, 30);
    elmo_model_free(m);
    return harness_report("test_mix");
}
