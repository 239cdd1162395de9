/* test_variants.c - the optimized engine (elmo_run) against the double-precision reference
 * oracle (tests/reference.h) on every model variant docs/model.md allows (sections 2, 4-7):
 * relu/tanh, 0/1/3 highway layers, 1/2/3 LSTM layers, skip connections on/off, clips
 * absent or small enough to fire, the optional CNN and LSTM projections absent or present,
 * 20 and 400 characters per token (the latter cut into blocks by the char CNN's budget). Each variant runs a batch of sentences of different lengths
 * (including an empty and a one-token sentence) in stateless mode and three consecutive
 * calls in streaming mode; all L+1 layers must agree within 1e-5. Models are small ones
 * made by $B/elmo-genmodel. */
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "genmodel_util.h"
#include "harness.h"
#include "reference.h"

#define TOL_REF 1e-5
#define MAX_TOKENS 64

/* The stateless batch: different lengths, an empty and a one-token sentence, repeated
 * words (cache hits within a batch), long and multi-byte tokens (truncated at C-2 bytes). */
static const char *const batch_texts[] = {
    "The quick brown fox jumps over the lazy dog .",
    "",
    "Hello",
    "supercalifragilisticexpialidocious and antidisestablishmentarianism are long , "
    "na\xc3\xafve caf\xc3\xa9s \xe2\x82\xac 12345678901234567890123 too",
    "the dog and the fox and the other dog went over the hill , and then the fox ran "
    "back over the hill to the dog .",
    "abcdefghijklmnopqrXYZ abcdefghijklmnopqrWW abcdefghijklmnopq",
};
#define N_BATCH (sizeof batch_texts / sizeof *batch_texts)

/* Three consecutive calls of two streams (the state is carried from call to call; the
 * empty sentence still advances it, docs/model.md §7.2). */
static const char *const stream_texts[3][2] = {
    {"We went to the market yesterday .", "A"},
    {"", "it was raining , so nobody came ."},
    {"Then the sun came out again and everyone was happy .", "Short one ."},
};

typedef struct tokenized {
    elmo_span spans[MAX_TOKENS];
    const char *tok[MAX_TOKENS]; /* for ref_run */
    size_t len[MAX_TOKENS];
    elmo_sentence s;
} tokenized;

static void tokenize(const char *text, tokenized *t) {
    size_t n = elmo_tokenize(ELMO_TOKENIZER_WHITESPACE, text, strlen(text), t->spans, MAX_TOKENS);
    CHECK(n <= MAX_TOKENS);
    for (size_t j = 0; j < n; j++) {
        t->tok[j] = text + t->spans[j].start;
        t->len[j] = t->spans[j].end - t->spans[j].start;
    }
    t->s = (elmo_sentence){.text = text, .tokens = t->spans, .n_tokens = n};
}

typedef struct pair {
    elmo_model *m;
    ref_model *ref;
    int L, D;
} pair;

static int load_pair(const char *name, pair *p) {
    memset(p, 0, sizeof *p);
    elmo_error err;
    char refmsg[512] = "";
    const char *opt = gmu_path(name, "options.json"), *w = gmu_path(name, "weights.hdf5");
    int rc = elmo_model_load(opt, w, NULL, &p->m, &err);
    CHECK_INT(rc, ELMO_OK);
    if (rc) fprintf(stderr, "  %s: %s\n", name, err.message);
    p->ref = ref_load(opt, w, refmsg, sizeof refmsg);
    CHECK(p->ref != NULL);
    if (!p->ref) fprintf(stderr, "  %s: reference: %s\n", name, refmsg);
    if (!p->m || !p->ref) return -1;
    elmo_model_info info;
    elmo_model_get_info(p->m, &info);
    p->L = info.n_lstm_layers;
    p->D = info.output_dim;
    CHECK_INT(ref_n_layers(p->ref), p->L);
    CHECK_INT(2 * ref_proj_dim(p->ref), p->D);
    return 0;
}

static void free_pair(pair *p) {
    elmo_model_free(p->m);
    ref_free(p->ref);
}

/* Max |engine - reference| of sentence i of r (ref out [L+1, n, D]) folded into
 * worst[0] (layer 0, the char-CNN) and worst[1] (the LSTM layers 1..L). */
static void diff_vs_ref(const pair *p, const elmo_result *r, size_t i, const double *ref, size_t n,
                        double worst[2]) {
    CHECK_INT(elmo_result_tokens(r, i), n);
    CHECK_INT(elmo_result_layers(r), p->L + 1);
    for (int k = 0; k <= p->L; k++) {
        const float *x = elmo_result_layer(r, i, k); /* [n, D] */
        CHECK(x != NULL);
        double *w = &worst[k > 0];
        if (!x) {
            *w = 1e9;
            continue;
        }
        const double *y = ref + (size_t)k * n * (size_t)p->D;
        for (size_t e = 0; e < n * (size_t)p->D; e++) {
            double d = fabs((double)x[e] - y[e]);
            if (!(d <= *w)) *w = d;
        }
    }
}

static double *ref_out(const pair *p, const tokenized *t, ref_state *state) {
    size_t n = t->s.n_tokens;
    double *out = malloc(((size_t)(p->L + 1) * n * (size_t)p->D + 1) * sizeof *out);
    CHECK(out != NULL);
    if (out && ref_run(p->ref, t->tok, t->len, n, state, out) != 0) {
        CHECK(0 && "ref_run failed");
        free(out);
        out = NULL;
    }
    return out;
}

/* Stateless batch of all batch_texts, every sentence against the reference; worst[2] as
 * diff_vs_ref. */
static void check_batch(const pair *p, elmo_result **keep, double worst[2]) {
    tokenized t[N_BATCH];
    elmo_sentence s[N_BATCH];
    for (size_t i = 0; i < N_BATCH; i++) {
        tokenize(batch_texts[i], &t[i]);
        s[i] = t[i].s;
    }
    elmo_result *r = NULL;
    elmo_error err;
    int rc = elmo_run(p->m, NULL, s, N_BATCH, NULL, &r, &err);
    CHECK_INT(rc, ELMO_OK);
    if (rc) {
        fprintf(stderr, "  elmo_run: %s\n", err.message);
        worst[0] = worst[1] = 1e9;
        return;
    }
    CHECK_INT(elmo_result_count(r), N_BATCH);
    CHECK_INT(elmo_result_dim(r), p->D);
    for (size_t i = 0; i < N_BATCH; i++) {
        double *ref = ref_out(p, &t[i], NULL);
        if (ref) diff_vs_ref(p, r, i, ref, t[i].s.n_tokens, worst);
        else worst[0] = worst[1] = 1e9;
        free(ref);
    }
    *keep = r;
}

/* Two streams over three calls (plus a stateless sentence in each call) against
 * reference states; worst[2] as diff_vs_ref. */
static void check_streams(const pair *p, double worst[2]) {
    elmo_stream *st[3] = {NULL, NULL, NULL}; /* third entry NULL: stateless */
    ref_state *rs[2] = {ref_state_new(p->ref), ref_state_new(p->ref)};
    CHECK(rs[0] && rs[1]);
    for (int k = 0; k < 2; k++) CHECK_INT(elmo_stream_new(p->m, &st[k], NULL), ELMO_OK);
    for (int call = 0; call < 3 && rs[0] && rs[1] && st[0] && st[1]; call++) {
        tokenized t[3];
        elmo_sentence s[3];
        for (int k = 0; k < 2; k++) tokenize(stream_texts[call][k], &t[k]);
        tokenize(stream_texts[call][0], &t[2]); /* the same sentence without a stream */
        for (int k = 0; k < 3; k++) s[k] = t[k].s;
        elmo_result *r = NULL;
        CHECK_INT(elmo_run(p->m, NULL, s, 3, st, &r, NULL), ELMO_OK);
        if (!r) break;
        for (int k = 0; k < 3; k++) {
            double *ref = ref_out(p, &t[k], k < 2 ? rs[k] : NULL);
            if (ref) diff_vs_ref(p, r, (size_t)k, ref, t[k].s.n_tokens, worst);
            else worst[0] = worst[1] = 1e9;
            free(ref);
        }
        elmo_result_free(r);
    }
    for (int k = 0; k < 2; k++) {
        elmo_stream_free(st[k]);
        ref_state_free(rs[k]);
    }
}

typedef struct variant {
    const char *name;
    const char *flags;
} variant;

/* Small shapes keep the double-precision reference fast. Every variant shares the seed so
 * that pairs differing in one option can be compared. */
#define BASE "--seed 11 --char-dim 4 --filters 1:4,2:8,3:8,5:12 --proj 8 --dim 24"

static const variant variants[] = {
    {"base", BASE},
    {"tanh", BASE " --activation tanh"},
    {"highway0", BASE " --highway 0"},
    {"highway1", BASE " --highway 1"},
    {"highway3", BASE " --highway 3"},
    {"layers1", BASE " --layers 1"},
    {"layers3", BASE " --layers 3"},
    {"layers3_noskip", BASE " --layers 3 --no-skip"},
    {"noskip", BASE " --no-skip"},
    {"noclip_null", BASE " --cell-clip none --proj-clip none"},
    {"noclip_absent", BASE " --cell-clip none --proj-clip none --clip-style absent"},
    {"noclip_zero", BASE " --cell-clip none --proj-clip none --clip-style zero"},
    {"clip01", BASE " --cell-clip 0.1 --proj-clip 0.1"},
    {"cellclip01", BASE " --cell-clip 0.1 --proj-clip none"},
    {"projclip01", BASE " --cell-clip none --proj-clip 0.1"},
    {"f_eq_p", "--seed 11 --filters 1:4,2:4 --proj 8 --dim 24"},
    {"f_eq_p_forced", "--seed 11 --filters 1:4,2:4 --proj 8 --dim 24 --force-cnn-proj"},
    {"p_eq_h", BASE " --dim 8"},
    {"p_eq_h_forced", BASE " --dim 8 --force-lstm-proj"},
    {"p_eq_h_clip01", BASE " --dim 8 --cell-clip 0.1 --proj-clip 0.1"},
    {"f_eq_p_eq_h", "--seed 11 --filters 1:4,2:4 --proj 8 --dim 8 --layers 3 --activation tanh"},
    {"maxchars20", BASE " --max-chars 20"},
    {"tiny_shape", "--shape tiny --seed 11"},
    /* Long tokens, wide filters and wide character embeddings: the char CNN's scratch
     * budget splits tokens into passes of 40, bank 390 into GEMMs of 3 tokens and banks
     * 1 and 200 into blocks of positions (a running max). */
    {"budget", "--seed 11 --max-chars 400 --char-dim 64 --filters 1:2,200:2,390:2 --proj 8 "
               "--dim 24"},
};
#define N_VARIANTS (sizeof variants / sizeof *variants)

/* Max |a - b| over all layers of every sentence of two results of the same input. */
static double result_diff(const elmo_result *a, const elmo_result *b) {
    double worst = 0;
    if (!a || !b) return -1;
    for (size_t i = 0; i < elmo_result_count(a); i++)
        for (int k = 0; k < elmo_result_layers(a); k++) {
            double d = harness_max_abs_diff(elmo_result_layer(a, i, k), elmo_result_layer(b, i, k),
                                            elmo_result_tokens(a, i) * (size_t)elmo_result_dim(a));
            if (!(d <= worst)) worst = d;
        }
    return worst;
}

static int find_variant(const char *name) {
    for (size_t v = 0; v < N_VARIANTS; v++)
        if (strcmp(variants[v].name, name) == 0) return (int)v;
    return -1;
}

/* Layer 1 has no residual, so with proj_clip 0.1 (and W_P_0) every value is within
 * [-0.1, 0.1] and some sit exactly on the bound; without clipping some exceed it. */
static void check_proj_clip_fires(const elmo_result *clipped, const elmo_result *unclipped,
                                  const char *name) {
    size_t at_bound = 0, total = 0, over = 0, beyond = 0;
    for (size_t i = 0; i < elmo_result_count(clipped); i++) {
        size_t n = elmo_result_tokens(clipped, i) * (size_t)elmo_result_dim(clipped);
        const float *x = elmo_result_layer(clipped, i, 1), *y = elmo_result_layer(unclipped, i, 1);
        for (size_t e = 0; e < n; e++) {
            total++;
            at_bound += fabsf(x[e]) == 0.1f;
            over += fabsf(x[e]) > 0.1f;
            beyond += fabsf(y[e]) > 0.1f;
        }
    }
    printf("  %-16s layer 1: %zu of %zu values on the 0.1 bound, %zu beyond it unclipped\n", name,
           at_bound, total, beyond);
    CHECK(at_bound > 0);
    CHECK_INT(over, 0);
    CHECK(beyond > 0);
}

/* Tokens of batch sentence 5 with max_chars 20: the first two share their first 18 bytes
 * and must have the same layer 0; the third differs within them. */
static void check_truncation(const elmo_result *r, int D) {
    const float *l0 = elmo_result_layer(r, 5, 0); /* [3, D] */
    CHECK(l0 != NULL);
    if (!l0) return;
    CHECK(harness_max_abs_diff(l0, l0 + D, (size_t)D) == 0);
    CHECK(harness_max_abs_diff(l0, l0 + 2 * D, (size_t)D) > 1e-4);
}

int main(void) {
    double worst_all = 0;
    elmo_result *kept[N_VARIANTS] = {0};
    for (size_t v = 0; v < N_VARIANTS; v++) {
        char name[48];
        snprintf(name, sizeof name, "%s", variants[v].name);
        if (gmu_gen(name, variants[v].flags) != 0) {
            CHECK(0 && "elmo-genmodel failed");
            continue;
        }
        pair p;
        if (load_pair(name, &p) == 0) {
            double b[2] = {0, 0}, s[2] = {0, 0};
            check_batch(&p, &kept[v], b);
            check_streams(&p, s);
            printf("  %-15s L=%d D=%-2d max |engine - reference|: stateless layer 0 %.2g, "
                   "LSTM layers %.2g; streaming layer 0 %.2g, LSTM layers %.2g\n",
                   name, p.L, p.D, b[0], b[1], s[0], s[1]);
            for (int k = 0; k < 2; k++) {
                CHECK(b[k] <= TOL_REF);
                CHECK(s[k] <= TOL_REF);
                if (!(b[k] <= worst_all)) worst_all = b[k];
                if (!(s[k] <= worst_all)) worst_all = s[k];
            }
        }
        free_pair(&p);
    }

    /* Each option must change the output (so the comparisons above test something). */
    static const char *const differ[][2] = {{"base", "tanh"},
                                            {"base", "highway0"},
                                            {"highway1", "highway3"},
                                            {"layers3", "layers3_noskip"},
                                            {"base", "noskip"},
                                            {"noclip_null", "clip01"},
                                            {"noclip_null", "cellclip01"},
                                            {"noclip_null", "projclip01"},
                                            {"f_eq_p", "f_eq_p_forced"},
                                            {"p_eq_h", "p_eq_h_forced"},
                                            {"p_eq_h", "p_eq_h_clip01"}};
    for (size_t k = 0; k < sizeof differ / sizeof *differ; k++) {
        int a = find_variant(differ[k][0]), b = find_variant(differ[k][1]);
        double d = result_diff(kept[a], kept[b]);
        printf("  %s vs %s: outputs differ by up to %.3g\n", differ[k][0], differ[k][1], d);
        CHECK(d > 1e-3);
    }
    /* The three spellings of "no clipping" are the same model. */
    int n0 = find_variant("noclip_null");
    CHECK(result_diff(kept[n0], kept[find_variant("noclip_absent")]) == 0);
    CHECK(result_diff(kept[n0], kept[find_variant("noclip_zero")]) == 0);
    if (kept[n0] && kept[find_variant("clip01")])
        check_proj_clip_fires(kept[find_variant("clip01")], kept[n0], "clip01");
    if (kept[n0] && kept[find_variant("projclip01")])
        check_proj_clip_fires(kept[find_variant("projclip01")], kept[n0], "projclip01");
    int mc = find_variant("maxchars20");
    if (kept[mc]) check_truncation(kept[mc], elmo_result_dim(kept[mc]));

    printf("  all variants: max |engine - reference| = %.3g (tolerance %.0e)\n", worst_all,
           TOL_REF);
    for (size_t v = 0; v < N_VARIANTS; v++) elmo_result_free(kept[v]);
    gmu_cleanup();
    return harness_report("test_variants");
}
