/*
 * test_tokenize.c - elmo_tokenize: exact tokens and byte offsets for both tokenizers, the
 * fixture sentences, idempotence, the cap contract, and random-input properties.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "elmo.h"
#include "harness.h"

#define DEF ELMO_TOKENIZER_DEFAULT
#define WS ELMO_TOKENIZER_WHITESPACE
#define MAX_TOKENS 1024

/* Counts one check for the test at `line` of this file; prints `what` when it failed. */
static void check_at(int line, int ok, const char *what) {
    harness_checks++;
    if (!ok) {
        harness_failures++;
        fprintf(stderr, "%s:%d: %s\n", __FILE__, line, what);
    }
}

static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') fputc(c, stderr);
        else fprintf(stderr, "\\x%02X", c);
    }
}

static void dump_tokens(const char *text, size_t len, const elmo_span *sp, size_t n) {
    fprintf(stderr, "    input \"");
    print_escaped(text, len);
    fprintf(stderr, "\"\n    got %zu tokens:", n);
    for (size_t i = 0; i < n && i < MAX_TOKENS; i++) {
        fprintf(stderr, " [%zu,%zu)\"", sp[i].start, sp[i].end);
        if (sp[i].start <= sp[i].end && sp[i].end <= len)
            print_escaped(text + sp[i].start, sp[i].end - sp[i].start);
        fprintf(stderr, "\"");
    }
    fprintf(stderr, "\n");
}

/*
 * Length of the whitespace character at t[i] (0 if none). Written independently of the
 * library from the list in docs/model.md §3.4: ASCII spaces and UTF-8 U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
 */
static size_t ws_len(const unsigned char *t, size_t i, size_t len) {
    unsigned char c = t[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
    size_t left = len - i;
    if (left >= 2 && c == 0xC2 && (t[i + 1] == 0x85 || t[i + 1] == 0xA0)) return 2;
    if (left < 3) return 0;
    unsigned char c1 = t[i + 1], c2 = t[i + 2];
    if (c == 0xE1 && c1 == 0x9A && c2 == 0x80) return 3;
    if (c == 0xE2 && c1 == 0x80 && c2 >= 0x80 && c2 <= 0x8A) return 3;
    if (c == 0xE2 && c1 == 0x80 && (c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF)) return 3;
    if (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) return 3;
    if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) return 3;
    return 0;
}

static size_t skip_ws(const char *text, size_t i, size_t len) {
    const unsigned char *t = (const unsigned char *)text;
    size_t n;
    while (i < len && (n = ws_len(t, i, len)) > 0) i += n;
    return i;
}

/*
 * Checks that `text` tokenizes to exactly `expected` (NULL-terminated) and that each
 * token's offsets are the expected ones: token k starts where token k-1 ended plus any
 * whitespace, its bytes are the expected token, and only whitespace follows the last.
 */
static void expect_tokens(int line, elmo_tokenizer kind, const char *text, size_t len,
                          const char *const *expected) {
    elmo_span sp[MAX_TOKENS];
    size_t n = elmo_tokenize(kind, text, len, sp, MAX_TOKENS);
    size_t n_expected = 0;
    while (expected[n_expected]) n_expected++;

    int ok = n == n_expected;
    size_t at = 0;
    for (size_t k = 0; ok && k < n; k++) {
        size_t start = skip_ws(text, at, len), tl = strlen(expected[k]);
        ok = sp[k].start == start && sp[k].end == start + tl && start + tl <= len &&
             memcmp(text + start, expected[k], tl) == 0;
        at = sp[k].end;
    }
    if (ok) ok = skip_ws(text, at, len) == len;
    check_at(line, ok, "tokens or offsets differ");
    if (!ok) {
        dump_tokens(text, len, sp, n);
        fprintf(stderr, "    expected:");
        for (size_t k = 0; k < n_expected; k++) {
            fprintf(stderr, " \"");
            print_escaped(expected[k], strlen(expected[k]));
            fprintf(stderr, "\"");
        }
        fprintf(stderr, "\n");
    }
}

/* Checks exact hand-written spans. */
static void expect_spans(int line, elmo_tokenizer kind, const char *text, size_t len,
                         const elmo_span *want, size_t n_want) {
    elmo_span sp[MAX_TOKENS];
    size_t n = elmo_tokenize(kind, text, len, sp, MAX_TOKENS);
    int ok = n == n_want;
    for (size_t k = 0; ok && k < n; k++)
        ok = sp[k].start == want[k].start && sp[k].end == want[k].end;
    check_at(line, ok, "spans differ");
    if (!ok) dump_tokens(text, len, sp, n);
}

#define TOKS(...) ((const char *const[]){__VA_ARGS__, NULL})
/* EXPECT(kind, "text", "tok1", "tok2", ...); EXPECT(kind, "text", NULL) for no tokens. */
#define EXPECT(kind, text, ...) expect_tokens(__LINE__, kind, text, strlen(text), TOKS(__VA_ARGS__))
#define EXPECT_LEN(kind, text, len, ...) expect_tokens(__LINE__, kind, text, len, TOKS(__VA_ARGS__))
#define SPANS(...) ((const elmo_span[]){__VA_ARGS__})
#define EXPECT_SPANS(kind, text, len, ...)                                                         \
    expect_spans(__LINE__, kind, text, len, SPANS(__VA_ARGS__),                                    \
                 sizeof SPANS(__VA_ARGS__) / sizeof(elmo_span))

/* Re-tokenizing the space-joined DEFAULT tokens of `text` must give the same tokens. */
static void expect_idempotent(int line, const char *text, size_t len) {
    static elmo_span sp[MAX_TOKENS], sp2[MAX_TOKENS];
    static char joined[8 * MAX_TOKENS];
    size_t n = elmo_tokenize(DEF, text, len, sp, MAX_TOKENS);
    if (n > MAX_TOKENS) n = MAX_TOKENS;
    size_t jl = 0;
    for (size_t k = 0; k < n; k++) {
        size_t tl = sp[k].end - sp[k].start;
        if (jl + tl + 1 > sizeof joined) break;
        if (k) joined[jl++] = ' ';
        memcpy(joined + jl, text + sp[k].start, tl);
        jl += tl;
    }
    size_t n2 = elmo_tokenize(DEF, joined, jl, sp2, MAX_TOKENS);
    int ok = n2 == n;
    for (size_t k = 0; ok && k < n; k++) {
        size_t tl = sp[k].end - sp[k].start;
        ok = sp2[k].end - sp2[k].start == tl &&
             memcmp(text + sp[k].start, joined + sp2[k].start, tl) == 0;
    }
    check_at(line, ok, "not idempotent");
    if (!ok) {
        dump_tokens(text, len, sp, n);
        dump_tokens(joined, jl, sp2, n2);
    }
}

/* ---- DEFAULT tokenizer: style of the fixture / 1B Word Benchmark ------------------- */

static void test_default_fixture_style(void) {
    EXPECT(DEF, "Don't!", "Don", "'t", "!");
    EXPECT(DEF, "(Reuters)", "(", "Reuters", ")");
    EXPECT(DEF, "AMMAN (Reuters) - King", "AMMAN", "(", "Reuters", ")", "-", "King");
    EXPECT(DEF, "\"Crazy Talk: Oprah, Wacky Cures & You.\"", "\"", "Crazy", "Talk", ":", "Oprah",
           ",", "Wacky", "Cures", "&", "You", ".", "\"");
    EXPECT(DEF, "a 6-3, 6-7 (5/7), 7-6 (7/4) win", "a", "6-3", ",", "6-7", "(", "5", "/", "7", ")",
           ",", "7-6", "(", "7", "/", "4", ")", "win");
    EXPECT(DEF, "Ms. Winfrey's bio-identical views", "Ms.", "Winfrey", "'s", "bio-identical",
           "views");
    EXPECT(DEF, "The U.S. Centers", "The", "U.S.", "Centers");
    EXPECT(DEF, "Elk calling--a skill", "Elk", "calling--a", "skill");
    EXPECT(DEF, "Elk calling -- a skill", "Elk", "calling", "--", "a", "skill");
    EXPECT(DEF, "through-out the strike.", "through-out", "the", "strike", ".");
    EXPECT(DEF, "It wasn't the most seaworthy of prizes.", "It", "wasn", "'t", "the", "most",
           "seaworthy", "of", "prizes", ".");
    EXPECT(DEF, "Murray's Las Vegas home", "Murray", "'s", "Las", "Vegas", "home");
    EXPECT(DEF, "rose 84 cents to 68.88 dollars", "rose", "84", "cents", "to", "68.88", "dollars");
    EXPECT(DEF, "the GB team; their teams", "the", "GB", "team", ";", "their", "teams");
    EXPECT(DEF, "said:\"Our", "said", ":", "\"", "Our");
    EXPECT(DEF, "persistent.\"", "persistent", ".", "\"");
    EXPECT(DEF, "such a big issue?", "such", "a", "big", "issue", "?");
    EXPECT(DEF, "the food log you kept--Dr. Buchholz", "the", "food", "log", "you", "kept--Dr", ".",
           "Buchholz"); /* the whole word is not an abbreviation */
    EXPECT(DEF, "said. \xE2\x80\xA2 Almost", "said", ".", "\xE2\x80\xA2", "Almost");
    EXPECT(DEF,
           "said.\xE2\x80\xA2"
           "Almost",
           "said", ".", "\xE2\x80\xA2", "Almost");
}

static void test_default_punctuation(void) {
    EXPECT(DEF, "a!b?c;d:e", "a", "!", "b", "?", "c", ";", "d", ":", "e");
    EXPECT(DEF, "[x]{y}<z>", "[", "x", "]", "{", "y", "}", "<", "z", ">");
    EXPECT(DEF, "a/b\\c&d%e$f#g@h", "a", "/", "b", "\\", "c", "&", "d", "%", "e", "$", "f", "#",
           "g", "@", "h");
    EXPECT(DEF, "a*b+c=d|e~f^g", "a", "*", "b", "+", "c", "=", "d", "|", "e", "~", "f", "^", "g");
    EXPECT(DEF, "!!?", "!", "!", "?");
    EXPECT(DEF, "<S>", "<", "S", ">");
    EXPECT(DEF, "``Hi''", "``", "Hi", "'", "'");
    EXPECT(DEF, "`a`", "`", "a", "`");
    EXPECT(DEF, "under_score -", "under_score", "-");
    /* Unicode punctuation is split off; other non-ASCII characters are word characters. */
    EXPECT(DEF, "\xE2\x80\x9CHi\xE2\x80\x9D", "\xE2\x80\x9C", "Hi", "\xE2\x80\x9D");
    EXPECT(DEF, "\xE2\x80\x98Hi\xE2\x80\x99", "\xE2\x80\x98", "Hi", "\xE2\x80\x99");
    EXPECT(DEF, "\xE2\x80\x9AHi\xE2\x80\x9E", "\xE2\x80\x9A", "Hi", "\xE2\x80\x9E");
    EXPECT(DEF, "wait\xE2\x80\x94what\xE2\x80\x93now", "wait", "\xE2\x80\x94", "what",
           "\xE2\x80\x93", "now");
    EXPECT(DEF, "so\xE2\x80\xA6", "so", "\xE2\x80\xA6");
    EXPECT(DEF, "\xC2\xABoui\xC2\xBB", "\xC2\xAB", "oui", "\xC2\xBB");
    EXPECT(DEF, "\xC2\xBFQu\xC3\xA9?\xC2\xA1S\xC3\xAD!", "\xC2\xBF", "Qu\xC3\xA9", "?", "\xC2\xA1",
           "S\xC3\xAD", "!");
    EXPECT(DEF, "caf\xC3\xA9.", "caf\xC3\xA9", ".");
    EXPECT(DEF, "na\xC3\xAFve's", "na\xC3\xAFve", "'s");
    EXPECT(DEF, "\xE6\x97\xA5\xE6\x9C\xAC,\xE8\xAA\x9E", "\xE6\x97\xA5\xE6\x9C\xAC", ",",
           "\xE8\xAA\x9E");
    /* U+2019 is a quote of its own (not treated as an apostrophe). */
    EXPECT(DEF, "Don\xE2\x80\x99t", "Don", "\xE2\x80\x99", "t");
}

static void test_default_numbers(void) {
    EXPECT(DEF, "1,000", "1,000");
    EXPECT(DEF, "1,000,000 people", "1,000,000", "people");
    EXPECT(DEF, "1,000.", "1,000", ".");
    EXPECT(DEF, "3.5", "3.5");
    EXPECT(DEF, "3.5.", "3.5", ".");
    EXPECT(DEF, ".5", ".5");
    EXPECT(DEF, "$5", "$", "5");
    EXPECT(DEF, "$5.50.", "$", "5.50", ".");
    EXPECT(DEF, "50%", "50", "%");
    EXPECT(DEF, "-5", "-5");
    EXPECT(DEF, "a,b", "a", ",", "b");
    EXPECT(DEF, "1,a", "1", ",", "a");
    EXPECT(DEF, "a,1", "a", ",", "1");
    EXPECT(DEF, ",5", ",", "5");
    EXPECT(DEF, "5,", "5", ",");
    EXPECT(DEF, "5,,5", "5", ",", ",", "5");
    EXPECT(DEF, "98th", "98th");
    EXPECT(DEF, "6X6", "6X6");
}

static void test_default_periods(void) {
    EXPECT(DEF, "said.", "said", ".");
    EXPECT(DEF, ".", ".");
    EXPECT(DEF, "U.S.", "U.S.");
    EXPECT(DEF, "U.S.,", "U.S.", ",");
    EXPECT(DEF, "U.S.A", "U.S.A");
    EXPECT(DEF, "U.S.A.", "U.S.A.");
    EXPECT(DEF, "e.g.", "e.g.");
    EXPECT(DEF, "J.R.R. Tolkien", "J.R.R.", "Tolkien");
    EXPECT(DEF, "J. Smith", "J.", "Smith");
    EXPECT(DEF, "plan A.", "plan", "A.");
    EXPECT(DEF, "example.com", "example.com");
    EXPECT(DEF, "(example.com)", "(", "example.com", ")");
    EXPECT(DEF, "Mr. Mrs. Ms. Dr. Prof. St. Jr. Sr.", "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.",
           "Jr.", "Sr.");
    EXPECT(DEF, "Inc. Ltd. Co. Corp. vs. etc. No. Gov.", "Inc.", "Ltd.", "Co.", "Corp.", "vs.",
           "etc.", "No.", "Gov.");
    EXPECT(DEF, "Sen. Rep. Gen. Col. Lt. Sgt. Capt. Mt. Ave.", "Sen.", "Rep.", "Gen.", "Col.",
           "Lt.", "Sgt.", "Capt.", "Mt.", "Ave.");
    EXPECT(DEF, "Jan. Feb. Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec.", "Jan.", "Feb.",
           "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.", "Dec.");
    /* Abbreviations are case-sensitive and whole-word. */
    EXPECT(DEF, "mr. MR. Mrx.", "mr", ".", "MR", ".", "Mrx", ".");
    EXPECT(DEF, "(Mr.)", "(", "Mr.", ")");
    EXPECT(DEF, "Inc.,", "Inc.", ",");
    /* Ellipsis: runs of 2+ periods are one token. */
    EXPECT(DEF, "...", "...");
    EXPECT(DEF, "..", "..");
    EXPECT(DEF, "said...", "said", "...");
    EXPECT(DEF, "Wait...what", "Wait", "...", "what");
    EXPECT(DEF, "....x", "....", "x");
    EXPECT(DEF, "U.S..", "U.S", "..");
    EXPECT(DEF, "Mr..", "Mr", "..");
}

static void test_default_apostrophes(void) {
    EXPECT(DEF, "it's", "it", "'s");
    EXPECT(DEF, "IT'S", "IT", "'S");
    EXPECT(DEF, "I'm they're we've she'll he'd can't", "I", "'m", "they", "'re", "we", "'ve", "she",
           "'ll", "he", "'d", "can", "'t");
    EXPECT(DEF, "1990's", "1990", "'s");
    EXPECT(DEF, "Smith's.", "Smith", "'s", ".");
    EXPECT(DEF, "Don't.", "Don", "'t", ".");
    EXPECT(DEF, "(it's)", "(", "it", "'s", ")");
    EXPECT(DEF, "U.S.'s", "U.S.", "'s");
    /* Already tokenized clitics stay whole (idempotence). */
    EXPECT(DEF, "'t", "'t");
    EXPECT(DEF, "'s", "'s");
    EXPECT(DEF, "'LL", "'LL");
    EXPECT(DEF, "'s,", "'s", ",");
    EXPECT(DEF, "('s)", "(", "'s", ")");
    /* An apostrophe between word characters that is not a clitic stays inside. */
    EXPECT(DEF, "O'Neil", "O'Neil");
    EXPECT(DEF, "O'Sullivan's", "O'Sullivan", "'s");
    EXPECT(DEF, "rock'n'roll", "rock'n'roll");
    /* Quotes and other apostrophes are tokens of their own. */
    EXPECT(DEF, "'hello'", "'", "hello", "'");
    EXPECT(DEF, "dogs'", "dogs", "'");
    EXPECT(DEF, "'sup", "'", "sup");
    EXPECT(DEF, "'90s", "'", "90s");
    EXPECT(DEF, "''", "'", "'");
    EXPECT(DEF, "'", "'");
}

static void test_whitespace_handling(void) {
    for (int kind = 0; kind < 2; kind++) {
        elmo_tokenizer k = (elmo_tokenizer)kind;
        EXPECT(k, "", NULL);
        EXPECT(k, " \t\n\v\f\r ", NULL);
        EXPECT(k, "\xC2\xA0\xE3\x80\x80\xE2\x80\xA8\xC2\x85", NULL);
        EXPECT(k, "  a \t b\n\nc  ", "a", "b", "c");
        EXPECT(k,
               "a\xC2\xA0"
               "b",
               "a", "b"); /* U+00A0 */
        EXPECT(k,
               "a\xC2\x85"
               "b",
               "a", "b"); /* U+0085 */
        EXPECT(k,
               "a\xE1\x9A\x80"
               "b",
               "a", "b"); /* U+1680 */
        EXPECT(k,
               "a\xE2\x80\x80"
               "b\xE2\x80\x8A"
               "c",
               "a", "b", "c"); /* U+2000, U+200A */
        EXPECT(k,
               "a\xE2\x80\xA8"
               "b\xE2\x80\xA9"
               "c",
               "a", "b", "c"); /* U+2028, U+2029 */
        EXPECT(k,
               "a\xE2\x80\xAF"
               "b\xE2\x81\x9F"
               "c",
               "a", "b", "c"); /* U+202F, U+205F */
        EXPECT(k,
               "a\xE3\x80\x80"
               "b",
               "a", "b"); /* U+3000 */
        /* Not spaces: U+200B zero width space, U+00A1. */
        EXPECT(k,
               "a\xE2\x80\x8B"
               "b",
               "a\xE2\x80\x8B"
               "b");
    }
    /* Explicit offsets. */
    EXPECT_SPANS(DEF, "  Don't!  ", 10, {2, 5}, {5, 7}, {7, 8});
    EXPECT_SPANS(WS, "  Don't!  ", 10, {2, 8});
    EXPECT_SPANS(DEF,
                 "a\xC2\xA0(b)\xE3\x80\x80"
                 "c!",
                 11, {0, 1}, {3, 4}, {4, 5}, {5, 6}, {9, 10}, {10, 11});
    EXPECT_SPANS(WS,
                 "a\xC2\xA0(b)\xE3\x80\x80"
                 "c!",
                 11, {0, 1}, {3, 6}, {9, 11});
}

/* The text need not be NUL-terminated nor valid UTF-8; 0x00 is an ordinary byte. */
static void test_raw_bytes(void) {
    const char buf[] = "Don't! extra words";
    EXPECT_LEN(DEF, buf, 6, "Don", "'t", "!");
    EXPECT_LEN(DEF, buf, 4, "Don", "'");
    EXPECT_LEN(WS, buf, 4, "Don'");
    EXPECT_LEN(DEF, "U.S. x", 3, "U.S");
    /* A multi-byte space cut by `len` is not a space any more. */
    EXPECT_LEN(DEF,
               "a\xC2\xA0"
               "b",
               2, "a\xC2");
    EXPECT_LEN(WS,
               "a\xE3\x80\x80"
               "b",
               3, "a\xE3\x80");
    EXPECT_LEN(DEF, "a\xE2\x80\x94", 3, "a\xE2\x80");
    EXPECT_SPANS(DEF, "a\0b c\0", 6, {0, 3}, {4, 6});
    EXPECT_SPANS(WS, "\0 \0", 3, {0, 1}, {2, 3});

    for (int kind = 0; kind < 2; kind++) {
        elmo_tokenizer k = (elmo_tokenizer)kind;
        EXPECT(k, "\xFF", "\xFF");
        EXPECT(k,
               "a\x80"
               "b",
               "a\x80"
               "b");
        EXPECT(k, "\x80", "\x80");
        EXPECT(k, "ab\xE2\x80", "ab\xE2\x80"); /* truncated sequence at the end */
        EXPECT(k, "ab\xC2", "ab\xC2");
        EXPECT(k, "\xFE\xFF x\xC0\xAF", "\xFE\xFF", "x\xC0\xAF");
    }
    EXPECT(DEF, "\xE2\x80\x94\xE2", "\xE2\x80\x94", "\xE2");
    EXPECT(DEF, "\xE2\xE2\x80\x94x", "\xE2", "\xE2\x80\x94", "x");
    EXPECT(DEF, "\xFF's", "\xFF", "'s");
    EXPECT(DEF, "\xFF.", "\xFF", ".");       /* only a single ASCII letter keeps its period */
    EXPECT(DEF, "\xFF.\xFF.", "\xFF.\xFF."); /* non-ASCII bytes count as letters: like U.S. */
    EXPECT(WS, "\xE2\xE2\x80\x80x", "\xE2", "x");
}

static void test_whitespace_tokenizer_keeps_punctuation(void) {
    EXPECT(WS, "Don't! (Reuters) U.S. 1,000...", "Don't!", "(Reuters)", "U.S.", "1,000...");
    EXPECT(WS, "\"Crazy Talk: Oprah,", "\"Crazy", "Talk:", "Oprah,");
    /* An invalid kind behaves like DEFAULT. */
    EXPECT((elmo_tokenizer)42, "Don't!", "Don", "'t", "!");
}

static void test_cap(void) {
    const char *text = "Don't stop (now)!";
    size_t len = strlen(text);
    elmo_span full[16];
    size_t n = elmo_tokenize(DEF, text, len, full, 16);
    CHECK_INT(n, 7); /* Don 't stop ( now ) ! */
    CHECK_INT(elmo_tokenize(DEF, text, len, NULL, 0), 7);
    CHECK_INT(elmo_tokenize(DEF, text, len, NULL, 5), 7); /* NULL spans: nothing written */
    CHECK_INT(elmo_tokenize(WS, text, len, NULL, 0), 3);
    CHECK_INT(elmo_tokenize(DEF, NULL, 0, NULL, 0), 0);

    for (size_t cap = 0; cap <= 8; cap++) {
        elmo_span sp[16];
        for (int i = 0; i < 16; i++) sp[i].start = sp[i].end = (size_t)-1;
        CHECK_INT(elmo_tokenize(DEF, text, len, sp, cap), 7);
        for (size_t i = 0; i < 16; i++) {
            if (i < cap && i < n) CHECK(sp[i].start == full[i].start && sp[i].end == full[i].end);
            else CHECK(sp[i].start == (size_t)-1 && sp[i].end == (size_t)-1);
        }
    }
}

/* ---- fixture ----------------------------------------------------------------------- */

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
            size_t got = fread(buf, 1, (size_t)size, f);
            buf[got] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/*
 * Every fixture sentence is already tokenized in the training style, so DEFAULT must
 * return its split on spaces, with the same offsets as the WHITESPACE tokenizer.
 */
static void test_fixture_sentences(void) {
    const char *path = "tests/fixtures/elmo-tiny/sentences.json";
    char *json = read_file(path);
    CHECK(json != NULL);
    if (!json) {
        fprintf(stderr, "cannot read %s (run from the repo root)\n", path);
        return;
    }
    cJSON *root = cJSON_Parse(json);
    free(json);
    CHECK(cJSON_IsArray(root));
    CHECK_INT(cJSON_GetArraySize(root), 3);
    int n_sentences = 0;
    const cJSON *batch, *sentence;
    cJSON_ArrayForEach(batch, root) {
        CHECK_INT(cJSON_GetArraySize(batch), 10);
        cJSON_ArrayForEach(sentence, batch) {
            const char *s = cJSON_GetStringValue(sentence);
            CHECK(s != NULL);
            if (!s) continue;
            n_sentences++;
            size_t len = strlen(s);
            /* The split on single spaces, computed here. */
            const char *toks[MAX_TOKENS + 1];
            char copy[4096];
            CHECK(len < sizeof copy);
            if (len >= sizeof copy) continue;
            memcpy(copy, s, len + 1);
            size_t nt = 0;
            for (char *tok = strtok(copy, " "); tok && nt < MAX_TOKENS; tok = strtok(NULL, " "))
                toks[nt++] = tok;
            toks[nt] = NULL;
            expect_tokens(__LINE__, WS, s, len, toks);
            expect_tokens(__LINE__, DEF, s, len, toks);
            expect_idempotent(__LINE__, s, len);
        }
    }
    CHECK_INT(n_sentences, 30);
    cJSON_Delete(root);
}

static void test_idempotence_tricky(void) {
    static const char *const inputs[] = {
        "Don't! \"Crazy Talk: Oprah, Wacky Cures & You.\" (Reuters) U.S. Ms. 6-3 bio-identical",
        "It's 1,000,000.5 dollars... or $5.50, i.e. 50% of U.S.A.'s G.D.P.!",
        "O'Neil's rock'n'roll 'hello' dogs' ''quoted'' ``PTB'' 'sup '90s can't won't",
        "Mr.Smith Mr.. ...Mr. .5 .x. a.b.c a.b.c. -- --- - -5- e.g., J.R.R. Tolkien's",
        "'s's 's. it's.com X's'y '''s ''t' ,'s ,5, 5,5,5, 5,,5 .'s .'. '.' ",
        "\xE2\x80\x9CHi\xE2\x80\x9D said caf\xC3\xA9's na\xC3\xAFve \xC2\xBFQu\xC3\xA9?",
        "\xFF's \xFF. \xE2\x80 \xE2\x80\x94\xE2 \xC2's a\xC2\xA0"
        "b \xE2\xE2\x80\x94",
        "(`` `x' ``)' ]'s [it's] {U.S.} <Mr.> \\n\\'t",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++)
        expect_idempotent(__LINE__, inputs[i], strlen(inputs[i]));
}

/* ---- random properties ------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* Pieces that exercise the rules when glued together at random. */
static const char *const pieces[] = {
    "a",
    "B",
    "s",
    "t",
    "re",
    "ll",
    "d",
    "1",
    "9",
    "'",
    "'",
    ".",
    ".",
    ",",
    "-",
    "(",
    "\"",
    "`",
    "$",
    "Mr",
    "U",
    "J",
    " ",
    " ",
    "\t",
    "\xC2\xA0",
    "\xE3\x80\x80",
    "\xE2\x80\x94",
    "\xE2\x80\x99",
    "\xC2\xAB",
    "\xC3\xA9",
    "\xFF",
    "\x80",
    "\xE2",
    "\xC2",
    "\xE2\x80",
};

/* Checks the span invariants of one tokenization of t[0, len). */
static void check_properties(int line, elmo_tokenizer kind, const char *t, size_t len) {
    static elmo_span sp[MAX_TOKENS], capped[MAX_TOKENS + 1];
    const unsigned char *u = (const unsigned char *)t;
    size_t n = elmo_tokenize(kind, t, len, sp, MAX_TOKENS);
    int ok = n <= len && n == elmo_tokenize(kind, t, len, NULL, 0);
    size_t prev_end = 0;
    for (size_t k = 0; ok && k < n; k++) {
        /* sorted, non-overlapping, non-empty, in bounds */
        ok = sp[k].start >= prev_end && sp[k].start < sp[k].end && sp[k].end <= len;
        /* no whitespace character starts anywhere inside a token */
        for (size_t i = sp[k].start; ok && i < sp[k].end; i++) ok = ws_len(u, i, len) == 0;
        /* only whitespace between tokens: every other byte is covered by a token */
        if (ok) ok = skip_ws(t, prev_end, len) == sp[k].start;
        prev_end = sp[k].end;
    }
    if (ok) ok = skip_ws(t, prev_end, len) == len;
    /* a random cap: full count returned, first cap spans written, nothing past cap */
    size_t cap = n ? rng() % (n + 1) : 0;
    capped[cap].start = capped[cap].end = 12345;
    if (ok) ok = elmo_tokenize(kind, t, len, capped, cap) == n;
    for (size_t k = 0; ok && k < cap; k++)
        ok = capped[k].start == sp[k].start && capped[k].end == sp[k].end;
    if (ok) ok = capped[cap].start == 12345 && capped[cap].end == 12345;
    check_at(line, ok, "span invariants violated");
    if (!ok) dump_tokens(t, len, sp, n);
}

/* DEFAULT tokens tile the WHITESPACE chunks exactly. */
static void check_tiles_chunks(int line, const char *t, size_t len) {
    static elmo_span d[MAX_TOKENS], w[MAX_TOKENS];
    size_t nd = elmo_tokenize(DEF, t, len, d, MAX_TOKENS);
    size_t nw = elmo_tokenize(WS, t, len, w, MAX_TOKENS);
    int ok = nd >= nw;
    size_t k = 0;
    for (size_t c = 0; ok && c < nw; c++) {
        size_t at = w[c].start;
        while (ok && at < w[c].end) {
            ok = k < nd && d[k].start == at && d[k].end <= w[c].end;
            if (ok) at = d[k++].end;
        }
    }
    if (ok) ok = k == nd;
    check_at(line, ok, "DEFAULT tokens do not tile the whitespace chunks");
    if (!ok) {
        dump_tokens(t, len, d, nd);
        dump_tokens(t, len, w, nw);
    }
}

static void test_random_inputs(void) {
    /* bytes that trigger rules; the terminating NUL is included on purpose */
    static const char biased[] = " .,'\"-a1\xC2\xA0\xE2\x80\x94";
    char buf[256];
    int before = harness_failures;
    for (int round = 0; round < 3000 && harness_failures == before; round++) {
        /* random bytes, biased towards ASCII punctuation and spaces half of the time */
        size_t len = rng() % 64;
        for (size_t i = 0; i < len; i++) {
            uint32_t r = rng();
            buf[i] = (r & 1) ? (char)(r >> 8) : biased[(r >> 8) % sizeof biased];
        }
        for (int kind = 0; kind < 2; kind++) check_properties(__LINE__, kind, buf, len);
        check_tiles_chunks(__LINE__, buf, len);
        expect_idempotent(__LINE__, buf, len);

        /* strings glued from rule-heavy pieces */
        len = 0;
        size_t n_pieces = rng() % 24;
        for (size_t i = 0; i < n_pieces; i++) {
            const char *p = pieces[rng() % (sizeof pieces / sizeof pieces[0])];
            size_t pl = strlen(p);
            memcpy(buf + len, p, pl);
            len += pl;
        }
        for (int kind = 0; kind < 2; kind++) check_properties(__LINE__, kind, buf, len);
        check_tiles_chunks(__LINE__, buf, len);
        expect_idempotent(__LINE__, buf, len);
    }
}

int main(void) {
    test_default_fixture_style();
    test_default_punctuation();
    test_default_numbers();
    test_default_periods();
    test_default_apostrophes();
    test_whitespace_handling();
    test_raw_bytes();
    test_whitespace_tokenizer_keeps_punctuation();
    test_cap();
    test_fixture_sentences();
    test_idempotence_tricky();
    test_random_inputs();
    return harness_report("test_tokenize");
}
