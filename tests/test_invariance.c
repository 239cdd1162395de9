/* test_invariance.c - the bit-identity contract: a sentence's outputs are the same bytes
 * whatever else is in the batch, its position in the batch, the thread count, the state
 * of the char-CNN cache, and whether they come from elmo_run + elmo_result_mix + elmo_pool
 * or from elmo_embed_batch (folding or not, any batch size). Checked with memcmp, in fp32
 * and in bf16 on each bf16 kernel of the CPU (amx-bf16, avx512-bf16), on the tiny model
 * and on generated variants.
 *
 * A property test: random texts from a seeded generator (words repeated across texts, so
 * the cache sees hits and misses; long words past the 48-byte truncation; punctuation),
 * embedded alone with the cache off as the reference, then in random batches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "gemm.h"
#include "genmodel_util.h"
#include "harness.h"

#define N_TEXTS 40
#define MAX_TOKENS 24
#define TEXT_BYTES 1024

typedef struct text {
    char bytes[TEXT_BYTES];
    elmo_span spans[MAX_TOKENS];
    elmo_sentence s;
} text;

static uint64_t rng_state;

static uint32_t rng(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static const char *const words[] = {"the",
                                    "bank",
                                    "river",
                                    "raised",
                                    "rates",
                                    ".",
                                    ",",
                                    "!",
                                    "Don't",
                                    "U.S.",
                                    "6-3",
                                    "interest",
                                    "café",
                                    "naïve",
                                    "über",
                                    "x",
                                    "supercalifragilisticexpialidocious-and-then-some-more-bytes",
                                    "<S>",
                                    "</S>",
                                    "1,000",
                                    "Ms.",
                                    "a",
                                    "of",
                                    "to",
                                    "in",
                                    "embedding",
                                    "sqlite",
                                    "?"};

static void make_text(text *t) {
    size_t n = 1 + rng() % MAX_TOKENS, used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *w = words[rng() % (sizeof words / sizeof words[0])];
        used += (size_t)snprintf(t->bytes + used, TEXT_BYTES - used, "%s%s", i ? " " : "", w);
    }
    size_t k = elmo_tokenize(ELMO_TOKENIZER_WHITESPACE, t->bytes, used, t->spans, MAX_TOKENS);
    t->s = (elmo_sentence){.text = t->bytes, .tokens = t->spans, .n_tokens = k};
}

/* All layers of one sentence of a result, concatenated: [(L+1), n, D]. */
static float *layers_of(const elmo_result *r, size_t i) {
    size_t n = elmo_result_tokens(r, i), D = (size_t)elmo_result_dim(r);
    int L1 = elmo_result_layers(r);
    float *out = malloc((n ? n : 1) * D * (size_t)L1 * sizeof(float));
    for (int k = 0; k < L1; k++)
        memcpy(out + (size_t)k * n * D, elmo_result_layer(r, i, k), n * D * sizeof(float));
    return out;
}

#define N_MIXES 4

typedef struct reference {
    float *layers[N_TEXTS];          /* [(L+1), n, D] */
    float *pooled[N_MIXES][N_TEXTS]; /* [width] for each mix under test */
} reference;

static elmo_mix mixes[N_MIXES];
static elmo_pooling poolings[N_MIXES] = {ELMO_POOL_MEAN, ELMO_POOL_MEAN, ELMO_POOL_MAX,
                                         ELMO_POOL_MEAN};

static void pooled_of(const elmo_model *m, const elmo_result *r, size_t i, int v, float *out) {
    size_t n = elmo_result_tokens(r, i), width = elmo_mix_dim(m, &mixes[v]);
    float *mixed = malloc((n ? n : 1) * width * sizeof(float));
    CHECK_INT(elmo_result_mix(r, i, &mixes[v], mixed, NULL), ELMO_OK);
    elmo_pool(mixed, n, width, poolings[v], out);
    free(mixed);
}

/* Each text alone, single thread, with the cache disabled (cache_bytes 0 at load). */
static void make_reference(const elmo_model *m, text *texts, reference *ref) {
    elmo_run_params rp = elmo_run_default_params();
    rp.n_threads = 1;
    rp.use_cache = 0;
    for (size_t t = 0; t < N_TEXTS; t++) {
        elmo_result *r = NULL;
        CHECK_INT(elmo_run(m, &rp, &texts[t].s, 1, NULL, &r, NULL), ELMO_OK);
        ref->layers[t] = layers_of(r, 0);
        for (int v = 0; v < N_MIXES; v++) {
            ref->pooled[v][t] = malloc(elmo_mix_dim(m, &mixes[v]) * sizeof(float));
            pooled_of(m, r, 0, v, ref->pooled[v][t]);
        }
        elmo_result_free(r);
    }
}

static int mismatches;

static void expect_same(const float *a, const float *b, size_t n, const char *what, size_t t) {
    int same = memcmp(a, b, n * sizeof(float)) == 0;
    CHECK(same);
    if (!same && mismatches++ < 5) fprintf(stderr, "  %s: text %zu differs\n", what, t);
}

/* A random batch (random subset, random order, duplicates allowed) through elmo_run. */
static void check_run_batches(const elmo_model *m, text *texts, const reference *ref, int threads,
                              int use_cache, const char *label) {
    elmo_run_params rp = elmo_run_default_params();
    rp.n_threads = threads;
    rp.use_cache = use_cache;
    size_t D = 0, width = elmo_mix_dim(m, &mixes[N_MIXES - 1]); /* the widest: ALL */
    float *pooled = malloc(width * sizeof(float));
    for (int round = 0; round < 4; round++) {
        size_t n = 1 + rng() % N_TEXTS, pick[N_TEXTS];
        elmo_sentence batch[N_TEXTS];
        for (size_t k = 0; k < n; k++) {
            pick[k] = rng() % N_TEXTS;
            batch[k] = texts[pick[k]].s;
        }
        elmo_result *r = NULL;
        CHECK_INT(elmo_run(m, &rp, batch, n, NULL, &r, NULL), ELMO_OK);
        if (!r) continue;
        D = (size_t)elmo_result_dim(r);
        for (size_t k = 0; k < n; k++) {
            size_t t = pick[k], nt = texts[t].s.n_tokens;
            float *got = layers_of(r, k);
            expect_same(got, ref->layers[t], nt * D * (size_t)elmo_result_layers(r), label, t);
            for (int v = 0; v < N_MIXES; v++) {
                pooled_of(m, r, k, v, pooled);
                expect_same(pooled, ref->pooled[v][t], elmo_mix_dim(m, &mixes[v]), label, t);
            }
            free(got);
        }
        elmo_result_free(r);
    }
    free(pooled);
}

/* elmo_embed_batch over all texts in a random order, with several internal batch sizes. */
static void check_embed_batch(const elmo_model *m, text *texts, const reference *ref, int threads,
                              const char *label) {
    elmo_run_params rp = elmo_run_default_params();
    rp.n_threads = threads;
    elmo_embed_params ep = elmo_embed_default_params();
    size_t order[N_TEXTS];
    float *out = malloc(N_TEXTS * elmo_mix_dim(m, &mixes[N_MIXES - 1]) * sizeof(float));
    elmo_sentence s[N_TEXTS];
    size_t budgets[] = {0, 7, 100000};
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        int v = (int)(b + (size_t)threads) % N_MIXES; /* each mix meets each budget */
        ep.mix = mixes[v];
        ep.pooling = poolings[v];
        size_t width = elmo_mix_dim(m, &mixes[v]);
        for (size_t k = 0; k < N_TEXTS; k++) order[k] = k;
        for (size_t k = N_TEXTS - 1; k > 0; k--) {
            size_t j = rng() % (k + 1), tmp = order[k];
            order[k] = order[j];
            order[j] = tmp;
        }
        for (size_t k = 0; k < N_TEXTS; k++) s[k] = texts[order[k]].s;
        ep.batch_positions = budgets[b];
        CHECK_INT(elmo_embed_batch(m, &rp, &ep, s, N_TEXTS, out, NULL), ELMO_OK);
        for (size_t k = 0; k < N_TEXTS; k++)
            expect_same(out + k * width, ref->pooled[v][order[k]], width, label, order[k]);
    }
    free(out);
}

static void check_model(const char *label, const char *options, const char *weights,
                        int precision) {
    elmo_load_params lp = elmo_load_default_params();
    lp.precision = precision;
    elmo_model *cold = NULL, *uncached = NULL;
    lp.cache_bytes = 0;
    CHECK_INT(elmo_model_load(options, weights, &lp, &uncached, NULL), ELMO_OK);
    lp.cache_bytes = ELMO_CACHE_AUTO;
    CHECK_INT(elmo_model_load(options, weights, &lp, &cold, NULL), ELMO_OK);
    if (!cold || !uncached) {
        elmo_model_free(cold);
        elmo_model_free(uncached);
        return;
    }
    text *texts = calloc(N_TEXTS, sizeof *texts);
    for (size_t t = 0; t < N_TEXTS; t++) make_text(&texts[t]);

    static float mix_weights[8] = {0.5f, -1.0f, 2.0f, 0.25f, 0, 0, 0, 0};
    elmo_model_info info;
    elmo_model_get_info(cold, &info);
    for (int v = 0; v < N_MIXES; v++) mixes[v] = elmo_mix_default();
    mixes[1].kind = ELMO_MIX_WEIGHTS;
    mixes[1].weights = mix_weights;
    mixes[1].n_weights = (size_t)info.n_output_layers;
    mixes[1].gamma = 0.75f;
    mixes[2].layer_norm = 1;
    mixes[3].kind = ELMO_MIX_ALL;
    int before = harness_failures;
    reference ref = {0};
    make_reference(uncached, texts, &ref);
    /* cache cold on the first pass, warm (every token cached) on the second */
    for (int pass = 0; pass < 2; pass++)
        for (int threads = 1; threads <= 3; threads++) {
            check_run_batches(cold, texts, &ref, threads, 1, label);
            check_run_batches(uncached, texts, &ref, threads, 0, label);
            check_embed_batch(cold, texts, &ref, threads, label);
        }
    for (size_t t = 0; t < N_TEXTS; t++) {
        free(ref.layers[t]);
        for (int v = 0; v < N_MIXES; v++) free(ref.pooled[v][t]);
    }
    printf("  %-28s %s: %s\n", label, elmo_precision_name(info.precision),
           harness_failures == before ? "byte-identical on every path" : "DIFFERS");
    free(texts);
    elmo_model_free(cold);
    elmo_model_free(uncached);
}

int main(void) {
    rng_state = 20261128;
    static const struct {
        const char *name, *flags;
    } variants[] = {
        {"tanh-3highway", "--activation tanh --highway 3 --seed 3"},
        {"noskip-3layers", "--no-skip --layers 3 --seed 4"},
        {"noproj", "--dim 16 --proj 16 --filters 1:4,2:4,3:8 --seed 5"},
        {"wide", "--dim 96 --proj 40 --char-dim 6 --filters 1:7,2:9,3:33,4:70 --seed 6"},
    };
    /* fp32 on this CPU's kernel, then bf16 on each bf16 kernel (the cap selects it) */
    static const struct {
        int precision;
        elmo_kernel cap;
    } runs[] = {{ELMO_PRECISION_FP32, ELMO_KERNEL_NONE},
                {ELMO_PRECISION_BF16, ELMO_KERNEL_AMX_BF16},
                {ELMO_PRECISION_BF16, ELMO_KERNEL_AVX512_BF16}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        elmo_gemm_cap(runs[r].cap);
        int kernel = elmo_gemm_kernel(runs[r].precision);
        if (runs[r].cap && kernel != (int)runs[r].cap) {
            printf("  %s: skipped (not on this CPU)\n", elmo_kernel_name(runs[r].cap));
            continue;
        }
        printf("  %s on %s\n", elmo_precision_name(runs[r].precision), elmo_kernel_name(kernel));
        check_model("tiny", "models/elmo-tiny/options.json", "models/elmo-tiny/weights.hdf5",
                    runs[r].precision);
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            if (gmu_gen(variants[v].name, variants[v].flags) != 0) {
                CHECK(0 && "elmo-genmodel failed");
                continue;
            }
            check_model(variants[v].name, gmu_path(variants[v].name, "options.json"),
                        gmu_path(variants[v].name, "weights.hdf5"), runs[r].precision);
        }
    }
    elmo_gemm_cap(ELMO_KERNEL_NONE);
    gmu_cleanup();
    return harness_report("test_invariance");
}
