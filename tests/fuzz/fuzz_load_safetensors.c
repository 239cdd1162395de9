/* fuzz_load_safetensors.c - libFuzzer target: the safetensors reader on arbitrary bytes. The
 * input is written to a private temporary file (the reader maps files), opened with the
 * options required, and every tensor it accepts is read back. Must never crash, hang or
 * read out of bounds; failures are fine.
 *
 * Built and run by `make fuzz` / `make fuzz-ci` (tests/fuzz/run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_st.%ld.safetensors", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    elmo_tensor_source *src = NULL;
    char *options = NULL;
    elmo_error err;
    if (elmo_safetensors_source_open(path, &src, &options, &err) == 0) {
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
    return 0;
}
