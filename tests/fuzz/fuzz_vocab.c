/* fuzz_vocab.c - libFuzzer target: the vocabulary reader (core/vocab.c) on arbitrary bytes,
 * from memory and from a file (the file reader splits its input into 1 MiB chunks, the
 * memory one does not: both must agree). An accepted vocabulary must be consistent: every
 * row's token is found at that row, tokens are non-empty, hold no NUL and no surrounding
 * whitespace, and <S>, </S> and <UNK> are found. Must never crash, hang or read out of
 * bounds; failures are fine. Built and run by `make fuzz` / `make fuzz-ci`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_db.h"
#include "vocab.h"

static char path[64];

static void check(const elmo_vocab *v) {
    for (int64_t r = 0; r < v->n; r++) {
        size_t len = 0;
        const char *t = elmo_vocab_token(v, r, &len);
        FUZZ_ASSERT(t && len > 0 && strlen(t) == len, "row %lld", (long long)r);
        FUZZ_ASSERT(t[0] != ' ' && t[len - 1] != ' ' && t[len - 1] != '\r', "row %lld",
                    (long long)r);
        FUZZ_ASSERT(elmo_vocab_find(v, t, len) == r, "row %lld not found", (long long)r);
    }
    FUZZ_ASSERT(elmo_vocab_find(v, "<S>", 3) == v->bos && v->bos >= 0, "<S>");
    FUZZ_ASSERT(elmo_vocab_find(v, "</S>", 4) == v->eos && v->eos >= 0, "</S>");
    FUZZ_ASSERT(elmo_vocab_find(v, "<UNK>", 5) == v->unk && v->unk >= 0, "<UNK>");
    FUZZ_ASSERT(elmo_vocab_token(v, v->n, NULL) == NULL, "row n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_vocab.%ld.txt", (long)getpid());
    elmo_vocab a, b;
    elmo_error ea, eb;
    int ra = elmo_vocab_load_text((const char *)data, size, "fuzz", &a, &ea);
    if (ra == ELMO_OK) check(&a);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    int rb = elmo_vocab_load_file(path, &b, &eb);
    FUZZ_ASSERT(ra == rb, "memory %d (%s), file %d (%s)", ra, ea.message, rb, eb.message);
    if (rb == ELMO_OK) {
        FUZZ_ASSERT(a.n == b.n && a.bos == b.bos && a.eos == b.eos && a.unk == b.unk,
                    "memory and file differ");
        for (int64_t r = 0; r < a.n; r++)
            FUZZ_ASSERT(strcmp(elmo_vocab_token(&a, r, NULL), elmo_vocab_token(&b, r, NULL)) == 0,
                        "row %lld differs", (long long)r);
    } else {
        /* the same message but for how the input is named */
        const char *ma = strstr(ea.message, "fuzz"), *mb = strstr(eb.message, path);
        FUZZ_ASSERT(ma && mb, "unnamed input: '%s' / '%s'", ea.message, eb.message);
        FUZZ_ASSERT(strcmp(ma + 4, mb + strlen(path) + 1) == 0, "'%s' / '%s'", ea.message,
                    eb.message);
    }
    elmo_vocab_free(&a);
    elmo_vocab_free(&b);
    return 0;
}
