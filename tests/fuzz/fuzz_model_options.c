/* fuzz_model_options.c - libFuzzer target: models whose options vary within their valid
 * ranges (characters per token 3..1024, filter widths up to that, character embeddings up
 * to 512 wide, 1-4 filter banks, 0-2 highway layers, projection, cell size, 1-2 layers,
 * activation, skip connections, clips), each written as a safetensors file with patterned
 * weights, loaded and run on tokens of fuzzed lengths with 1-4 threads. Asserts what the
 * options once broke: a call's scratch (every buffer of bigbuf.h held at once during
 * elmo_run) stays within CALL_BOUND_BYTES whatever the options, and every failure has a
 * message.
 *
 * The char CNN cuts its work to fit a budget (char_cnn.c). Fuzzed models stay small (this
 * build's products are the portable kernel, instrumented), so the budget is lowered for
 * one run of each input (elmo_cnn_set_part_budget) to reach the passes, token groups and
 * blocks of positions it makes, and that run must give the same bytes as a run with the
 * default budget.
 *
 * Built and run by `make fuzz` / `make fuzz-ci` (tests/fuzz/run.sh). */
#include <string.h>

#include "bigbuf.h"
#include "char_cnn.h"
#include "fuzz_model.h"
#include "model.h"
#include "safetensors.h"

/* The char CNN's budget for one call (128 MiB, token_layer.c) plus the LSTM's and the
 * result's scratch, which are tiny at these sizes. */
#define CALL_BOUND_BYTES ((size_t)144 << 20)
#define MAX_CONV_VALUES 65536
/* Multiply-adds of the convolutions per token, counting the portable kernel's 64-wide
 * panels: about 30 ms per token in this build. */
#define MAX_TOKEN_MACS 2000000.0

typedef struct bytes {
    const uint8_t *p;
    size_t n;
} bytes;

/* The next input byte, 0 once the input is used up. */
static unsigned next(bytes *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static unsigned next16(bytes *in) {
    unsigned lo = next(in);
    return lo | next(in) << 8;
}

static double conv_values(const elmo_config *c, int i) {
    return (double)c->bank_width[i] * c->char_embed_dim * c->bank_count[i];
}

static double token_macs(const elmo_config *c) {
    double macs = 0;
    for (int i = 0; i < c->n_banks; i++) /* n_i rounded up to whole 64-column panels */
        macs += (double)(c->max_chars - c->bank_width[i] + 1) * c->bank_width[i] *
                c->char_embed_dim * 64 * ((c->bank_count[i] + 63) / 64);
    return macs;
}

/* Hyperparameters from the input, each within options.c's valid range. */
static void draw_config(bytes *in, elmo_config *c) {
    memset(c, 0, sizeof *c);
    c->max_chars = 3 + (int)(next16(in) % 1022);
    c->char_embed_dim = 1 + (int)(next16(in) % 512);
    c->n_banks = 1 + (int)(next(in) % 4);
    for (int i = 0; i < c->n_banks; i++) {
        c->bank_width[i] = 1 + (int)(next16(in) % (unsigned)c->max_chars);
        c->bank_count[i] = 1 + (int)(next(in) % 8);
        c->n_filters += c->bank_count[i];
    }
    /* Keep the model small: narrower embeddings, then narrower filters (still valid). */
    for (int i = 0; i < c->n_banks; i++)
        while (c->char_embed_dim > 1 &&
               (conv_values(c, i) > MAX_CONV_VALUES || token_macs(c) > MAX_TOKEN_MACS))
            c->char_embed_dim /= 2;
    for (int i = 0; i < c->n_banks; i++)
        while (c->bank_width[i] > 1 &&
               (conv_values(c, i) > MAX_CONV_VALUES || token_macs(c) > MAX_TOKEN_MACS))
            c->bank_width[i] /= 2;
    c->n_highway = (int)(next(in) % 3);
    c->projection_dim = 1 + (int)(next(in) % 16);
    c->lstm_dim = c->projection_dim + (int)(next(in) % 17);
    c->n_layers = 1 + (int)(next(in) % 2);
    unsigned flags = next(in);
    c->relu_activation = flags & 1;
    c->skip_connections = (flags >> 1) & 1;
    c->cell_clip = (flags >> 2) & 1 ? 3.0f : 0.0f;
    c->proj_clip = (flags >> 3) & 1 ? 3.0f : 0.0f;
}

static void options_text(const elmo_config *c, char *out, size_t cap) {
    char filters[512] = "";
    for (int i = 0, used = 0; i < c->n_banks; i++)
        used += snprintf(filters + used, sizeof filters - (size_t)used, "%s[%d, %d]", i ? ", " : "",
                         c->bank_width[i], c->bank_count[i]);
    snprintf(out, cap,
             "{\"char_cnn\": {\"activation\": \"%s\", \"embedding\": {\"dim\": %d}, "
             "\"filters\": [%s], \"max_characters_per_token\": %d, \"n_characters\": 262, "
             "\"n_highway\": %d}, \"lstm\": {\"cell_clip\": %g, \"dim\": %d, \"n_layers\": %d, "
             "\"proj_clip\": %g, \"projection_dim\": %d, \"use_skip_connections\": %s}}",
             c->relu_activation ? "relu" : "tanh", c->char_embed_dim, filters, c->max_chars,
             c->n_highway, (double)c->cell_clip, c->lstm_dim, c->n_layers, (double)c->proj_clip,
             c->projection_dim, c->skip_connections ? "true" : "false");
}

/* Writes the model with patterned weights (small values, so every activation is used). */
static int write_model(const char *path, const elmo_config *c, const char *options, int bf16) {
    static elmo_tensor_desc list[512];
    static elmo_tensor_out t[512];
    int n = elmo_weights_list(c, list, 512), k = 0;
    size_t largest = 1;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < list[i].rank; d++) numel *= (size_t)list[i].dims[d];
        if (numel > largest) largest = numel;
    }
    float *values = malloc(largest * sizeof *values); /* [largest] */
    if (!values) return -1;
    for (size_t i = 0; i < largest; i++) values[i] = 0.02f * (float)((int)(i * 7 % 11) - 5);
    for (int i = 0; i < n; i++) {
        if (list[i].optional) continue;
        t[k] = (elmo_tensor_out){.name = list[i].name, .rank = list[i].rank, .data = values};
        memcpy(t[k].dims, list[i].dims, sizeof(int64_t) * (size_t)list[i].rank);
        k++;
    }
    elmo_error err;
    int rc = elmo_safetensors_write(path, options, t, k, bf16, &err);
    free(values);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    fuzz_temp_file(path, "elmo_fuzz_options");
    bytes in = {data, size};
    elmo_config cfg;
    draw_config(&in, &cfg);
    char options[1024];
    options_text(&cfg, options, sizeof options);
    unsigned run_flags = next(&in);
    if (write_model(path, &cfg, options, run_flags & 1)) return 0;

    elmo_load_params lp = elmo_load_default_params();
    lp.precision = ELMO_PRECISION_FP32;
    lp.cache_bytes = run_flags & 2 ? 0 : ELMO_CACHE_AUTO;
    elmo_model *m = NULL;
    elmo_error err = {0};
    if (elmo_model_load_path(path, &lp, &m, &err) != ELMO_OK) {
        if (!err.message[0]) abort();
        return 0;
    }
    /* Up to 4 tokens of fuzzed lengths (some longer than max_characters_per_token). */
    static char text[4 * 1100];
    elmo_span spans[4];
    size_t used = 0, n_tokens = 1 + next(&in) % 4;
    for (size_t t = 0; t < n_tokens; t++) {
        size_t len = 1 + next16(&in) % 1040, start = used;
        for (size_t i = 0; i < len; i++) text[used++] = (char)('a' + (t * 5 + i * 3) % 26);
        spans[t] = (elmo_span){start, used};
        text[used++] = ' ';
    }
    elmo_sentence s = {text, spans, n_tokens};
    elmo_run_params rp = elmo_run_default_params();
    rp.n_threads = 1 + (int)((run_flags >> 2) % 4);
    rp.use_cache = 0;
    unsigned budget = next(&in) % 9; /* 0: the default; else 64 << (budget - 1) floats */
    elmo_result *r = NULL, *plain = NULL;
    elmo_cnn_set_part_budget(budget ? (size_t)64 << (budget - 1) : 0);
    elmo_big_reset_peak();
    size_t before = elmo_big_in_use();
    int rc = elmo_run(m, &rp, &s, 1, NULL, &r, &err);
    size_t peak = elmo_big_peak() - before;
    elmo_cnn_set_part_budget(0);
    if (peak > CALL_BOUND_BYTES) {
        fprintf(stderr, "a call held %zu bytes of scratch (bound %zu) for options %s\n", peak,
                CALL_BOUND_BYTES, options);
        abort();
    }
    if (rc != ELMO_OK && !err.message[0]) abort();
    if (rc == ELMO_OK && budget) { /* the budget changes how, never what */
        if (elmo_run(m, &rp, &s, 1, NULL, &plain, &err) != ELMO_OK) abort();
        for (int k = 0; k < elmo_result_layers(r); k++)
            if (memcmp(elmo_result_layer(r, 0, k), elmo_result_layer(plain, 0, k),
                       n_tokens * (size_t)elmo_result_dim(r) * sizeof(float)) != 0) {
                fprintf(stderr, "layer %d differs with a budget of %zu floats for options %s\n", k,
                        (size_t)64 << (budget - 1), options);
                abort();
            }
        elmo_result_free(plain);
    }
    elmo_result_free(r);
    elmo_model_free(m);
    return 0;
}
