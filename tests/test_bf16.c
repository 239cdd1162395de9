/* test_bf16.c - the bf16 precision against fp32: on the tiny model (trained weights), the
 * Small and (release builds) Original shapes, every output layer's token vectors keep
 * cosine >= 0.9999 with fp32 and their mean-pooled vectors >= 0.99999; the largest
 * absolute error is reported. Generated variants of the tiny shape (random weights,
 * projection 16: dot products of 16-64 terms, so rounding averages out little, and no
 * skip connection or 3 layers compound it over 40 steps) keep token cosine >= 0.9999 and
 * pooled cosine >= 0.9999. Also: bf16 halves the weight bytes (on amx-bf16, whose tiles pad
 * K and N to multiples of 32, only for the published shapes), and an unknown precision is a
 * clear error. Runs on every bf16 kernel of the CPU (amx-bf16, avx512-bf16); skipped where
 * the CPU has none (then loading bf16 must fail with the message that says to use fp32). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "gemm.h"
#include "genmodel_util.h"
#include "harness.h"

#define TOKEN_COSINE_MIN 0.9999
#define POOLED_COSINE_MIN 0.99999

static const char *const sentences[] = {
    "The bank raised interest rates on Tuesday .",
    "We sat on the bank of the river and watched the boats .",
    "Stocks fell sharply after the announcement , and investors sold U.S. bonds .",
    "Don't panic !",
    "A",
    "The committee said that it would review the new budget proposal before the end of the "
    "year , and that no decision had been made about the schools or the roads or the "
    "parks in the north of the city .",
};
#define N_SENT (sizeof sentences / sizeof sentences[0])

static elmo_result *run_all(const elmo_model *m, elmo_span (*spans)[256]) {
    elmo_sentence s[N_SENT];
    for (size_t i = 0; i < N_SENT; i++) {
        size_t n = elmo_tokenize(ELMO_TOKENIZER_WHITESPACE, sentences[i], strlen(sentences[i]),
                                 spans[i], 256);
        s[i] = (elmo_sentence){sentences[i], spans[i], n};
    }
    elmo_result *r = NULL;
    CHECK_INT(elmo_run(m, NULL, s, N_SENT, NULL, &r, NULL), ELMO_OK);
    return r;
}

static void compare(const char *label, const char *options, const char *weights,
                    double pooled_bound) {
    elmo_load_params lp = elmo_load_default_params();
    elmo_model *m32 = NULL, *m16 = NULL;
    lp.precision = ELMO_PRECISION_FP32;
    CHECK_INT(elmo_model_load(options, weights, &lp, &m32, NULL), ELMO_OK);
    lp.precision = ELMO_PRECISION_BF16;
    CHECK_INT(elmo_model_load(options, weights, &lp, &m16, NULL), ELMO_OK);
    if (!m32 || !m16) {
        elmo_model_free(m32);
        elmo_model_free(m16);
        return;
    }
    elmo_model_info i32, i16;
    elmo_model_get_info(m32, &i32);
    elmo_model_get_info(m16, &i16);
    CHECK_INT(i16.precision, ELMO_PRECISION_BF16);
    CHECK_STR(i16.kernel, elmo_kernel_name(elmo_gemm_kernel(ELMO_PRECISION_BF16)));
    if (strcmp(i16.kernel, "amx-bf16") || i32.projection_dim >= 128)
        CHECK(i16.weight_bytes < i32.weight_bytes * 3 / 4);
    CHECK(strcmp(i16.fingerprint, i32.fingerprint) != 0);

    static elmo_span spans[N_SENT][256];
    elmo_result *a = run_all(m32, spans), *b = run_all(m16, spans);
    double token_min = 1, pooled_min = 1, max_abs = 0;
    size_t D = (size_t)i32.output_dim;
    float *pa = malloc(D * sizeof(float)), *pb = malloc(D * sizeof(float));
    for (size_t i = 0; a && b && i < N_SENT; i++) {
        size_t n = elmo_result_tokens(a, i);
        for (int k = 0; k < i32.n_output_layers; k++) {
            const float *x = elmo_result_layer(a, i, k), *y = elmo_result_layer(b, i, k);
            for (size_t t = 0; t < n; t++) {
                double c = harness_cosine(x + t * D, y + t * D, D);
                if (c < token_min) token_min = c;
            }
            double d = harness_max_abs_diff(x, y, n * D);
            if (d > max_abs) max_abs = d;
            elmo_pool(x, n, D, ELMO_POOL_MEAN, pa);
            elmo_pool(y, n, D, ELMO_POOL_MEAN, pb);
            double c = harness_cosine(pa, pb, D);
            if (c < pooled_min) pooled_min = c;
        }
    }
    printf("  %-12s %-11s vs fp32, every layer: token cosine min %.7f, pooled cosine min "
           "%.8f, max |diff| %.3g; weights %.1f -> %.1f MiB\n",
           label, i16.kernel, token_min, pooled_min, max_abs, (double)i32.weight_bytes / (1 << 20),
           (double)i16.weight_bytes / (1 << 20));
    CHECK(token_min >= TOKEN_COSINE_MIN);
    CHECK(pooled_min >= pooled_bound);
    free(pa);
    free(pb);
    elmo_result_free(a);
    elmo_result_free(b);
    elmo_model_free(m32);
    elmo_model_free(m16);
}

static void check_bad_precision(void) {
    elmo_load_params lp = elmo_load_default_params();
    elmo_model *m = NULL;
    elmo_error err;
    lp.precision = (elmo_precision)7;
    CHECK_INT(elmo_model_load("models/elmo-tiny/options.json", "models/elmo-tiny/weights.hdf5", &lp,
                              &m, &err),
              ELMO_ERR_ARG);
    CHECK_STR(err.message, "unknown precision 7; valid precisions: auto, fp32, bf16");
    CHECK_STR(elmo_precision_name(ELMO_PRECISION_BF16), "bf16");
    CHECK(elmo_precision_name(7) == NULL);
    if (!elmo_precision_supported(ELMO_PRECISION_BF16)) {
        lp.precision = ELMO_PRECISION_BF16;
        CHECK_INT(elmo_model_load("models/elmo-tiny/options.json", "models/elmo-tiny/weights.hdf5",
                                  &lp, &m, &err),
                  ELMO_ERR_ARG);
        CHECK_CONTAINS(err.message, "load the model with precision 'fp32'");
    }
}

/* The comparisons on the bf16 kernel the cap selects. */
static void run_kernel(void) {
    compare("tiny", "models/elmo-tiny/options.json", "models/elmo-tiny/weights.hdf5",
            POOLED_COSINE_MIN);
    static const struct {
        const char *name, *flags;
        double pooled_bound;
    } variants[] = {
        {"tanh", "--activation tanh --highway 3 --seed 3", TOKEN_COSINE_MIN},
        {"noskip3", "--no-skip --layers 3 --seed 4", TOKEN_COSINE_MIN},
        {"noproj", "--dim 16 --proj 16 --filters 1:4,2:4,3:8 --seed 5", TOKEN_COSINE_MIN},
        {"clipless", "--cell-clip 0 --proj-clip 0 --seed 8", TOKEN_COSINE_MIN},
        {"small", "--shape small --seed 9", POOLED_COSINE_MIN},
#ifndef __SANITIZE_ADDRESS__ /* the Original shape takes seconds in release, minutes under ASan */
        {"original", "--shape original --seed 10", POOLED_COSINE_MIN},
#endif
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        if (gmu_gen(variants[v].name, variants[v].flags) != 0) {
            CHECK(0 && "elmo-genmodel failed");
            continue;
        }
        compare(variants[v].name, gmu_path(variants[v].name, "options.json"),
                gmu_path(variants[v].name, "weights.hdf5"), variants[v].pooled_bound);
    }
}

int main(void) {
    check_bad_precision();
    if (!elmo_precision_supported(ELMO_PRECISION_BF16)) {
        printf("  bf16 comparisons skipped: this CPU has no AVX512-BF16\n");
        return harness_report("test_bf16");
    }
    static const elmo_kernel kernels[] = {ELMO_KERNEL_AMX_BF16, ELMO_KERNEL_AVX512_BF16};
    for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
        elmo_gemm_cap(kernels[k]);
        if (elmo_gemm_kernel(ELMO_PRECISION_BF16) == kernels[k]) run_kernel();
        else printf("  %s comparisons skipped: not on this CPU\n", elmo_kernel_name(kernels[k]));
    }
    elmo_gemm_cap(ELMO_KERNEL_NONE);
    gmu_cleanup();
    return harness_report("test_bf16");
}
