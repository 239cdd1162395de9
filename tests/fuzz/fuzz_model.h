/* fuzz_model.h - shared by the model-file fuzz targets: a private temporary file for the
 * input, and loading a model (any format) then running a short text with it. */
#ifndef ELMO_FUZZ_MODEL_H
#define ELMO_FUZZ_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "elmo.h"

/* Creates (once) a private temporary file whose name starts with `stem`, into path[64]. */
static inline void fuzz_temp_file(char path[64], const char *stem) {
    if (path[0]) return;
    snprintf(path, 64, "/tmp/%s.XXXXXX", stem);
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
}

/* Writes n bytes to path (0, or -1 when it cannot). */
static inline int fuzz_write_file(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = (n == 0 || fwrite(data, 1, n, f) == n) && fclose(f) == 0;
    return ok ? 0 : -1;
}

/* Loads the model (with `options` unless NULL, as elmo_model_load; else as
 * elmo_model_load_path) with `params` (NULL: the defaults) and, when it loads, runs a short
 * text on one thread. Every failure must come with a message. */
static inline void fuzz_load_and_run(const char *options, const char *path,
                                     const elmo_load_params *params) {
    elmo_model *m = NULL;
    elmo_error err = {0};
    int rc = options ? elmo_model_load(options, path, params, &m, &err)
                     : elmo_model_load_path(path, params, &m, &err);
    if (rc != ELMO_OK) {
        if (!err.message[0]) abort();
        return;
    }
    static const char text[] = "The bank";
    elmo_span spans[4];
    elmo_sentence s = {.text = text,
                       .tokens = spans,
                       .n_tokens = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, text, 8, spans, 4)};
    elmo_run_params rp = elmo_run_default_params();
    rp.n_threads = 1;
    elmo_result *r = NULL;
    if (elmo_run(m, &rp, &s, 1, NULL, &r, &err) != ELMO_OK && !err.message[0]) abort();
    elmo_result_free(r);
    elmo_model_free(m);
}

#endif
