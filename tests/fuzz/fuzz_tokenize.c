/* fuzz_tokenize.c - elmo_tokenize (both tokenizers) and elmo_char_ids over fuzzed bytes.
 * Invariants: spans lie inside the text, are non-empty, increasing and non-overlapping;
 * counting (spans NULL) agrees with filling; tokenizing the tokens joined by single spaces
 * gives the same tokens; character ids are in 1..261 and the boundary ids likewise. The
 * first byte picks the tokenizer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"

#define CHECK_OR_ABORT(cond)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_tokenize: invariant failed: %s\n", #cond);                       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define N_CHARS 50

static void check_char_ids(const char *token, size_t len) {
    uint16_t ids[N_CHARS];
    elmo_char_ids(token, len, N_CHARS, ids);
    for (int i = 0; i < N_CHARS; i++) CHECK_OR_ABORT(ids[i] >= 1 && ids[i] <= 261);
}

/* Spans of text [len] (malloc'd, *n set), checked against the invariants. */
static elmo_span *tokenize_checked(elmo_tokenizer kind, const char *text, size_t len, size_t *n) {
    *n = elmo_tokenize(kind, text, len, NULL, 0);
    CHECK_OR_ABORT(*n <= len);
    elmo_span *spans = malloc((*n ? *n : 1) * sizeof *spans); /* [n] */
    if (!spans) abort();
    CHECK_OR_ABORT(elmo_tokenize(kind, text, len, spans, *n) == *n);
    size_t prev_end = 0;
    for (size_t i = 0; i < *n; i++) {
        CHECK_OR_ABORT(spans[i].start < spans[i].end);
        CHECK_OR_ABORT(spans[i].end <= len);
        CHECK_OR_ABORT(spans[i].start >= prev_end);
        prev_end = spans[i].end;
    }
    if (*n > 1) { /* a short buffer gets the first spans, and the count stays the total */
        elmo_span first;
        CHECK_OR_ABORT(elmo_tokenize(kind, text, len, &first, 1) == *n);
        CHECK_OR_ABORT(first.start == spans[0].start && first.end == spans[0].end);
    }
    return spans;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    elmo_tokenizer kind = data[0] & 1 ? ELMO_TOKENIZER_WHITESPACE : ELMO_TOKENIZER_DEFAULT;
    const char *text = (const char *)data + 1;
    size_t len = size - 1, n = 0;
    elmo_span *spans = tokenize_checked(kind, text, len, &n);

    /* the tokens joined by single spaces */
    char *joined = malloc(len + n + 1);
    if (!joined) abort();
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = spans[i].end - spans[i].start;
        if (i) joined[at++] = ' ';
        memcpy(joined + at, text + spans[i].start, k);
        at += k;
        check_char_ids(text + spans[i].start, k);
    }
    size_t m = 0;
    elmo_span *again = tokenize_checked(kind, joined, at, &m);
    CHECK_OR_ABORT(m == n);
    for (size_t i = 0; i < n && i < m; i++) {
        size_t k = spans[i].end - spans[i].start;
        CHECK_OR_ABORT(again[i].end - again[i].start == k);
        CHECK_OR_ABORT(memcmp(joined + again[i].start, text + spans[i].start, k) == 0);
    }
    uint16_t ids[N_CHARS];
    for (int end = 0; end < 2; end++) {
        elmo_boundary_char_ids(end, N_CHARS, ids);
        for (int i = 0; i < N_CHARS; i++) CHECK_OR_ABORT(ids[i] >= 1 && ids[i] <= 261);
    }
    free(again);
    free(joined);
    free(spans);
    return 0;
}
