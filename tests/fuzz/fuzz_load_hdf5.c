/* fuzz_load_hdf5.c - elmo_model_load over a fuzzed weights file (the input, written to a
 * temporary file) with the tiny model's options. Failures must come with a message; a
 * file that loads must run. HDF5 files are parsed by libhdf5: crashes inside it are
 * findings about that library (see the README's Security section). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "elmo.h"

#define OPTIONS "models/elmo-tiny/options.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/elmo_fuzz_weights.XXXXXX");
        int fd = mkstemp(path);
        if (fd < 0) abort();
        close(fd);
        setenv("ELMO_THREADS", "1", 1);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    elmo_model *m = NULL;
    elmo_error err = {0};
    if (elmo_model_load(OPTIONS, path, NULL, &m, &err) != ELMO_OK) {
        if (!err.message[0]) abort();
        return 0;
    }
    static const char text[] = "The bank";
    elmo_span spans[4];
    elmo_sentence s = {.text = text,
                       .tokens = spans,
                       .n_tokens = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, text, 8, spans, 4)};
    elmo_result *r = NULL;
    if (elmo_run(m, NULL, &s, 1, NULL, &r, &err) != ELMO_OK && !err.message[0]) abort();
    elmo_result_free(r);
    elmo_model_free(m);
    return 0;
}
