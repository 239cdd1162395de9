/* test_char_ids.c - elmo_char_ids / elmo_boundary_char_ids against docs/model.md §3.2. */
#include <stdint.h>
#include <string.h>

#include "elmo.h"
#include "harness.h"

#define C ELMO_DEFAULT_CHARS_PER_TOKEN /* 50 */
#define BOW 259
#define EOW 260
#define PAD 261
#define SENTINEL 0xBEEF /* fills the slots after n_chars, which must never be written */

/* Expected ids built by hand: [BOW, b_0+1, ..., b_{k-1}+1, EOW?, PAD...] of n slots. */
static void expected_ids(const unsigned char *bytes, size_t k, size_t n, int with_eow,
                         uint16_t *out /* [n] */) {
    size_t i = 0;
    out[i++] = BOW;
    for (size_t j = 0; j < k; j++) out[i++] = (uint16_t)(bytes[j] + 1);
    if (with_eow) out[i++] = EOW;
    while (i < n) out[i++] = PAD;
}

/* Runs elmo_char_ids into a sentinel-guarded buffer and compares with `want` [n]. */
static int ids_match(const char *token, size_t len, size_t n, const uint16_t *want) {
    uint16_t got[128 + 4];
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++) got[i] = SENTINEL;
    elmo_char_ids(token, len, n, got);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "  slot %zu: got %u, want %u\n", i, got[i], want[i]);
            ok = 0;
        }
    for (size_t i = n; i < n + 4; i++)
        if (got[i] != SENTINEL) {
            fprintf(stderr, "  slot %zu past n_chars=%zu was written\n", i, n);
            ok = 0;
        }
    return ok;
}

static void test_hi_example(void) {
    /* docs/model.md §3.2: "Hi" -> [259, 73, 106, 260, 261 x 46]. */
    uint16_t want[C];
    want[0] = 259;
    want[1] = 73;
    want[2] = 106;
    want[3] = 260;
    for (int i = 4; i < C; i++) want[i] = 261;
    CHECK(ids_match("Hi", 2, C, want));
}

static void test_boundaries(void) {
    uint16_t bos[C], eos[C], want_bos[C], want_eos[C];
    want_bos[0] = 259, want_bos[1] = 257, want_bos[2] = 260;
    want_eos[0] = 259, want_eos[1] = 258, want_eos[2] = 260;
    for (int i = 3; i < C; i++) want_bos[i] = want_eos[i] = 261;

    elmo_boundary_char_ids(0, C, bos);
    elmo_boundary_char_ids(1, C, eos);
    CHECK(memcmp(bos, want_bos, sizeof bos) == 0);
    CHECK(memcmp(eos, want_eos, sizeof eos) == 0);
    elmo_boundary_char_ids(7, C, eos); /* any nonzero `end` means </S> */
    CHECK(memcmp(eos, want_eos, sizeof eos) == 0);

    /* The literal tokens get the same ids (AllenNLP). */
    CHECK(ids_match("<S>", 3, C, want_bos));
    CHECK(ids_match("</S>", 4, C, want_eos));

    /* Near misses are ordinary tokens. */
    uint16_t want[C];
    expected_ids((const unsigned char *)"<s>", 3, C, 1, want);
    CHECK(ids_match("<s>", 3, C, want));
    expected_ids((const unsigned char *)"<S>x", 4, C, 1, want);
    CHECK(ids_match("<S>x", 4, C, want));
    expected_ids((const unsigned char *)"<S", 2, C, 1, want);
    CHECK(ids_match("<S>", 2, C, want)); /* length-delimited: only "<S" */
    expected_ids((const unsigned char *)"</S", 3, C, 1, want);
    CHECK(ids_match("</S>", 3, C, want));
}

static void test_empty_token(void) {
    uint16_t want[C];
    want[0] = 259;
    want[1] = 260;
    for (int i = 2; i < C; i++) want[i] = 261;
    CHECK(ids_match("", 0, C, want));
    CHECK(ids_match(NULL, 0, C, want));
    CHECK(ids_match("abc", 0, C, want));
}

/* Tokens of exactly 47, 48, 49 and 100 bytes around the 48-byte limit. */
static void test_lengths(void) {
    unsigned char tok[100];
    for (int i = 0; i < 100; i++) tok[i] = (unsigned char)('a' + i % 26);
    uint16_t want[C];

    /* 47 bytes: BOW, 47 bytes, EOW, one PAD. */
    expected_ids(tok, 47, C, 1, want);
    CHECK(want[48] == EOW && want[49] == PAD);
    CHECK(ids_match((const char *)tok, 47, C, want));

    /* 48, 49, 100 bytes: BOW, first 48 bytes, EOW in the last slot, no padding. */
    expected_ids(tok, 48, C, 1, want);
    CHECK(want[49] == EOW && want[48] == tok[47] + 1);
    CHECK(ids_match((const char *)tok, 48, C, want));
    CHECK(ids_match((const char *)tok, 49, C, want));
    CHECK(ids_match((const char *)tok, 100, C, want));
}

static void test_utf8(void) {
    /* "•" = E2 80 A2 */
    uint16_t want[C];
    want[0] = BOW, want[1] = 0xE2 + 1, want[2] = 0x80 + 1, want[3] = 0xA2 + 1, want[4] = EOW;
    for (int i = 5; i < C; i++) want[i] = PAD;
    CHECK(ids_match("\xE2\x80\xA2", 3, C, want));

    /* "café" = 63 61 66 C3 A9 */
    want[0] = BOW, want[1] = 100, want[2] = 98, want[3] = 103, want[4] = 196, want[5] = 170;
    want[6] = EOW;
    for (int i = 7; i < C; i++) want[i] = PAD;
    CHECK(ids_match("caf\xC3\xA9", 5, C, want));

    /* 47 ASCII bytes then "é": the 48-byte cut keeps C3 and drops A9. */
    char tok[49];
    memset(tok, 'x', 47);
    tok[47] = (char)0xC3;
    tok[48] = (char)0xA9;
    uint16_t got[C];
    elmo_char_ids(tok, 49, C, got);
    CHECK_INT(got[47], 'x' + 1);
    CHECK_INT(got[48], 0xC3 + 1);
    CHECK_INT(got[49], EOW);
}

/* Tokens are length-delimited: 0x00 and bytes >= 0x80 are ordinary bytes. */
static void test_raw_bytes(void) {
    const char tok[] = {'a', '\0', 'b', (char)0xFF, (char)0x80};
    uint16_t want[C];
    want[0] = BOW, want[1] = 'a' + 1, want[2] = 1, want[3] = 'b' + 1, want[4] = 256;
    want[5] = 129, want[6] = EOW;
    for (int i = 7; i < C; i++) want[i] = PAD;
    CHECK(ids_match(tok, sizeof tok, C, want));

    /* Every byte value maps to value + 1. */
    for (int b = 0; b < 256; b++) {
        char one = (char)b;
        uint16_t got[C];
        elmo_char_ids(&one, 1, C, got);
        CHECK_INT(got[1], b + 1);
    }
}

static void test_other_n_chars(void) {
    /* n_chars = 10 keeps 8 bytes. */
    uint16_t want[10];
    expected_ids((const unsigned char *)"Hello", 5, 10, 1, want);
    CHECK(want[6] == EOW && want[7] == PAD && want[9] == PAD);
    CHECK(ids_match("Hello", 5, 10, want));
    expected_ids((const unsigned char *)"Hello wo", 8, 10, 1, want);
    CHECK(want[9] == EOW);
    CHECK(ids_match("Hello world!", 12, 10, want));

    uint16_t b[10 + 1];
    b[10] = SENTINEL;
    elmo_boundary_char_ids(0, 10, b);
    CHECK(b[0] == BOW && b[1] == 257 && b[2] == EOW && b[3] == PAD && b[9] == PAD);
    CHECK_INT(b[10], SENTINEL);
    CHECK(ids_match("<S>", 3, 10, b));

    /* n_chars = 3: no byte fits; BOW, EOW, PAD. */
    uint16_t w3[3] = {BOW, EOW, PAD};
    CHECK(ids_match("", 0, 3, w3));
    uint16_t w3b[3] = {BOW, 'a' + 1, EOW};
    CHECK(ids_match("abc", 3, 3, w3b));

    /* A larger n_chars than the default. */
    uint16_t w100[100];
    expected_ids((const unsigned char *)"Hi", 2, 100, 1, w100);
    CHECK(ids_match("Hi", 2, 100, w100));
}

/* n_chars < 3 breaks the precondition: only the first n_chars ids are written. */
static void test_tiny_n_chars(void) {
    uint16_t w1[1] = {BOW};
    uint16_t w2[2] = {BOW, EOW};
    CHECK(ids_match("abc", 3, 0, w1)); /* n 0: nothing written (sentinels intact) */
    CHECK(ids_match("abc", 3, 1, w1));
    CHECK(ids_match("abc", 3, 2, w2));
    CHECK(ids_match("", 0, 2, w2));

    uint16_t b[6] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL, SENTINEL, SENTINEL};
    elmo_boundary_char_ids(1, 0, b);
    CHECK_INT(b[0], SENTINEL);
    elmo_boundary_char_ids(1, 2, b);
    CHECK(b[0] == BOW && b[1] == 258 && b[2] == SENTINEL);
    uint16_t wb[2] = {BOW, 257};
    CHECK(ids_match("<S>", 3, 2, wb));
}

int main(void) {
    test_hi_example();
    test_boundaries();
    test_empty_token();
    test_lengths();
    test_utf8();
    test_raw_bytes();
    test_other_n_chars();
    test_tiny_n_chars();
    return harness_report("test_char_ids");
}
