/* fuzz_load_safetensors.c - libFuzzer target: a safetensors file through the whole loader.
 * The input is written to a private temporary file and loaded as a model (its options from
 * the header's metadata: the header parser, the options parser, every tensor's checks, the
 * weights' checks and packing), and a model that loads runs a short text. The source is
 * also opened on its own and every tensor it accepts read back, so that headers that are
 * no ELMo model still reach the readers. Must never crash, hang or read out of bounds;
 * failures must come with a message.
 *
 * Built and run by `make fuzz` / `make fuzz-ci` (tests/fuzz/run.sh). */
#include "fuzz_model.h"
#include "safetensors.h"

static void read_back(const char *path) {
    elmo_tensor_source *src = NULL;
    char *options = NULL;
    elmo_error err;
    if (elmo_safetensors_source_open(path, &src, &options, &err) != ELMO_OK) {
        if (!err.message[0]) abort();
        return;
    }
    static const char *const names[] = {"a", "char_embed", "CNN/W_cnn_0", "b"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        int rank = 0;
        int64_t dims[ELMO_MAX_RANK];
        if (src->find(src, names[i], &rank, dims, &err) != 1) continue;
        size_t n = 1;
        for (int d = 0; d < rank; d++) n *= (size_t)dims[d];
        if (n > (1u << 20)) continue;
        float *x = malloc(n ? n * sizeof *x : 1);
        if (x) src->read(src, names[i], x, n, &err);
        free(x);
    }
    src->exists(src, "CNN");
    src->check_unused(src, NULL, 0, &err);
    src->close(src);
    free(options);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    fuzz_temp_file(path, "elmo_fuzz_st");
    if (fuzz_write_file(path, data, size)) abort();
    read_back(path);
    fuzz_load_and_run(NULL, path, NULL);
    return 0;
}
