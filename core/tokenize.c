/*
 * tokenize.c - raw text to token byte spans (elmo_tokenize).
 *
 * Both tokenizers first cut the text into chunks at whitespace (ASCII and UTF-8 encoded
 * Unicode spaces). ELMO_TOKENIZER_WHITESPACE returns the chunks. ELMO_TOKENIZER_DEFAULT
 * splits each chunk further in the style of the 1B Word Benchmark corpus that ELMo was
 * trained on (Moses tokenizer.perl, English, hyphens kept inside words):
 *
 *   Don't!   -> Don 't !          (Reuters) -> ( Reuters )      U.S. Ms. 6-3 1,000 3.5
 *
 * Every token is a non-empty run of bytes of one chunk and the tokens of a chunk tile it
 * exactly, so the spans index straight into the text. The rules only ever look at the
 * bytes of the chunk, and the end of a chunk acts like any separated punctuation, so the
 * tokenizer is idempotent: re-tokenizing the space-joined tokens gives the same tokens.
 *
 * Deliberate differences from Moses, all for idempotence or simplicity: an apostrophe
 * between letters splits only before a clitic (Don't -> Don 't, but O'Neil stays whole,
 * where Moses gives O 'Neil, which it would split again into O ' Neil); an apostrophe at
 * the start of a chunk stays with a clitic ('t, 's); a word-final period stays on single
 * letters, words with an inner period and a fixed list of abbreviations, without Moses'
 * look at the next word; U+2019 is a quote of its own, not an apostrophe.
 *
 * Text is handled byte by byte, except for the few multi-byte UTF-8 sequences listed in
 * the tables below (spaces and punctuation). Any other byte >= 0x80, including bytes of
 * invalid UTF-8, is an ordinary word byte. Nothing is allocated.
 */
#include <stdbool.h>
#include <string.h>

#include "elmo.h"

/* ---- character classes ------------------------------------------------------------- */

typedef enum char_class {
    CC_WORD = 0, /* letters, digits, - _, control bytes, other non-ASCII and invalid bytes */
    CC_SPACE,    /* separates chunks; never part of a token */
    CC_PUNCT,    /* always a token of its own */
    CC_BACKTICK, /* a run of backticks (``) is one token */
    CC_COMMA,    /* a token of its own except between two digits (1,000) */
    CC_APOS,     /* clitic rules: Don't -> Don 't */
    CC_PERIOD    /* word-final period rules: said. -> said . but U.S. Mr. stay */
} char_class;

/* ASCII bytes; everything not listed is a word byte (CC_WORD == 0). */
static const unsigned char ascii_class[128] = {
    [' '] = CC_SPACE,    ['\t'] = CC_SPACE, ['\n'] = CC_SPACE, ['\v'] = CC_SPACE, ['\f'] = CC_SPACE,
    ['\r'] = CC_SPACE,

    ['!'] = CC_PUNCT,    ['?'] = CC_PUNCT,  [';'] = CC_PUNCT,  [':'] = CC_PUNCT,  ['"'] = CC_PUNCT,
    ['('] = CC_PUNCT,    [')'] = CC_PUNCT,  ['['] = CC_PUNCT,  [']'] = CC_PUNCT,  ['{'] = CC_PUNCT,
    ['}'] = CC_PUNCT,    ['<'] = CC_PUNCT,  ['>'] = CC_PUNCT,  ['/'] = CC_PUNCT,  ['\\'] = CC_PUNCT,
    ['&'] = CC_PUNCT,    ['%'] = CC_PUNCT,  ['$'] = CC_PUNCT,  ['#'] = CC_PUNCT,  ['@'] = CC_PUNCT,
    ['*'] = CC_PUNCT,    ['+'] = CC_PUNCT,  ['='] = CC_PUNCT,  ['|'] = CC_PUNCT,  ['~'] = CC_PUNCT,
    ['^'] = CC_PUNCT,

    ['`'] = CC_BACKTICK, [','] = CC_COMMA,  ['\''] = CC_APOS,  ['.'] = CC_PERIOD,
};

/* Non-ASCII characters with a class other than CC_WORD, as UTF-8 bytes. */
typedef struct special_char {
    const char *utf8;
    unsigned char len;
    unsigned char cls; /* a char_class */
} special_char;

static const special_char specials[] = {
    {"\xC2\x85", 2, CC_SPACE},     /* U+0085 next line */
    {"\xC2\xA0", 2, CC_SPACE},     /* U+00A0 no-break space */
    {"\xE1\x9A\x80", 3, CC_SPACE}, /* U+1680 ogham space mark */
    {"\xE2\x80\x80", 3, CC_SPACE}, /* U+2000 .. U+200A: en quad .. hair space */
    {"\xE2\x80\x81", 3, CC_SPACE}, {"\xE2\x80\x82", 3, CC_SPACE}, {"\xE2\x80\x83", 3, CC_SPACE},
    {"\xE2\x80\x84", 3, CC_SPACE}, {"\xE2\x80\x85", 3, CC_SPACE}, {"\xE2\x80\x86", 3, CC_SPACE},
    {"\xE2\x80\x87", 3, CC_SPACE}, {"\xE2\x80\x88", 3, CC_SPACE}, {"\xE2\x80\x89", 3, CC_SPACE},
    {"\xE2\x80\x8A", 3, CC_SPACE}, {"\xE2\x80\xA8", 3, CC_SPACE}, /* U+2028 line separator */
    {"\xE2\x80\xA9", 3, CC_SPACE},                                /* U+2029 paragraph separator */
    {"\xE2\x80\xAF", 3, CC_SPACE},                                /* U+202F narrow no-break space */
    {"\xE2\x81\x9F", 3, CC_SPACE}, /* U+205F medium mathematical space */
    {"\xE3\x80\x80", 3, CC_SPACE}, /* U+3000 ideographic space */

    {"\xE2\x80\x98", 3, CC_PUNCT}, /* U+2018 left single quotation mark */
    {"\xE2\x80\x99", 3, CC_PUNCT}, /* U+2019 right single quotation mark */
    {"\xE2\x80\x9A", 3, CC_PUNCT}, /* U+201A single low-9 quotation mark */
    {"\xE2\x80\x9C", 3, CC_PUNCT}, /* U+201C left double quotation mark */
    {"\xE2\x80\x9D", 3, CC_PUNCT}, /* U+201D right double quotation mark */
    {"\xE2\x80\x9E", 3, CC_PUNCT}, /* U+201E double low-9 quotation mark */
    {"\xE2\x80\x93", 3, CC_PUNCT}, /* U+2013 en dash */
    {"\xE2\x80\x94", 3, CC_PUNCT}, /* U+2014 em dash */
    {"\xE2\x80\xA6", 3, CC_PUNCT}, /* U+2026 horizontal ellipsis */
    {"\xE2\x80\xA2", 3, CC_PUNCT}, /* U+2022 bullet */
    {"\xC2\xAB", 2, CC_PUNCT},     /* U+00AB left guillemet */
    {"\xC2\xBB", 2, CC_PUNCT},     /* U+00BB right guillemet */
    {"\xC2\xA1", 2, CC_PUNCT},     /* U+00A1 inverted exclamation mark */
    {"\xC2\xBF", 2, CC_PUNCT},     /* U+00BF inverted question mark */
};

/*
 * Class of the character at s[i] (i < end) and its length in bytes (*n). Only complete
 * sequences inside [i, end) match the table; any other byte is a 1-byte word character.
 * No sequence of the table starts with a continuation byte, so a match can never begin
 * inside another listed character.
 */
static char_class classify(const unsigned char *s, size_t i, size_t end, size_t *n) {
    unsigned char b = s[i];
    *n = 1;
    if (b < 0x80) return (char_class)ascii_class[b];
    if (b != 0xC2 && b != 0xE1 && b != 0xE2 && b != 0xE3) return CC_WORD;
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        const special_char *sc = &specials[k];
        if (end - i >= sc->len && memcmp(s + i, sc->utf8, sc->len) == 0) {
            *n = sc->len;
            return (char_class)sc->cls;
        }
    }
    return CC_WORD;
}

static bool is_word_at(const unsigned char *s, size_t i, size_t end) {
    size_t n;
    return i < end && classify(s, i, end, &n) == CC_WORD;
}

static bool is_ascii_digit(unsigned char b) {
    return b >= '0' && b <= '9';
}

static bool is_ascii_letter(unsigned char b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
}

static unsigned char ascii_lower(unsigned char b) {
    return (b >= 'A' && b <= 'Z') ? (unsigned char)(b - 'A' + 'a') : b;
}

/* ---- output ------------------------------------------------------------------------ */

typedef struct span_sink {
    elmo_span *spans; /* [cap] */
    size_t cap;
    size_t count; /* tokens seen, including those that did not fit */
} span_sink;

static void emit(span_sink *out, size_t start, size_t end) {
    if (out->count < out->cap) {
        out->spans[out->count].start = start;
        out->spans[out->count].end = end;
    }
    out->count++;
}

/* ---- DEFAULT tokenizer rules ------------------------------------------------------- */

/* Clitics that an apostrophe splits off and keeps (Moses English: don 't, it 's). */
static const char *const clitics[] = {"s", "t", "m", "d", "re", "ve", "ll"};

/*
 * Length of the clitic at s[i] (case-insensitive, without the apostrophe) when it is
 * followed by the end of the chunk or by a non-word character; 0 otherwise.
 * "'s!" -> 1, "'re" -> 2, "'sun" -> 0.
 */
static size_t clitic_len(const unsigned char *s, size_t i, size_t end) {
    for (size_t k = 0; k < sizeof clitics / sizeof clitics[0]; k++) {
        size_t n = strlen(clitics[k]);
        if (end - i < n) continue;
        bool same = true;
        for (size_t j = 0; j < n; j++)
            if (ascii_lower(s[i + j]) != (unsigned char)clitics[k][j]) same = false;
        if (same && !is_word_at(s, i + n, end)) return n;
    }
    return 0;
}

/* Number of consecutive periods at s[i]. */
static size_t period_run(const unsigned char *s, size_t i, size_t end) {
    size_t j = i;
    while (j < end && s[j] == '.') j++;
    return j - i;
}

/* Words whose final period is part of the word (case-sensitive). */
static const char *const abbreviations[] = {
    "Mr",  "Mrs", "Ms",   "Messrs", "Dr",   "Prof", "St",   "Jr",  "Sr",  "Rev", "Hon", "Inc",
    "Ltd", "Co",  "Corp", "Bros",   "Dept", "vs",   "etc",  "No",  "Gov", "Sen", "Rep", "Gen",
    "Col", "Lt",  "Sgt",  "Capt",   "Maj",  "Adm",  "Cpl",  "Pvt", "Mt",  "Ave", "Jan", "Feb",
    "Mar", "Apr", "Jun",  "Jul",    "Aug",  "Sep",  "Sept", "Oct", "Nov", "Dec",
};

/*
 * Whether the word s[p, q) keeps a period that follows it at the end of the word:
 * it contains a period and a letter (U.S., e.g.; non-ASCII bytes count as letters),
 * it is a single ASCII letter (J.), or it is a listed abbreviation (Mr.).
 */
static bool keeps_final_period(const unsigned char *s, size_t p, size_t q) {
    size_t n = q - p;
    if (n == 1 && is_ascii_letter(s[p])) return true;
    bool has_period = false, has_letter = false;
    for (size_t i = p; i < q; i++) {
        if (s[i] == '.') has_period = true;
        if (is_ascii_letter(s[i]) || s[i] >= 0x80) has_letter = true;
    }
    if (has_period && has_letter) return true;
    for (size_t k = 0; k < sizeof abbreviations / sizeof abbreviations[0]; k++)
        if (strlen(abbreviations[k]) == n && memcmp(s + p, abbreviations[k], n) == 0) return true;
    return false;
}

/*
 * End of the word that starts at s[p] (a word character, or a single period followed by
 * one). A word is a run of word characters that also takes in:
 *   - a comma between two digits: 1,000;
 *   - an apostrophe between a word character and a word character, unless a clitic
 *     follows it (then the word stops and the clitic becomes a token): O'Neil, rock'n'roll
 *     stay; Don't and 1990's split as Don 't, 1990 's;
 *   - a single period followed by a word character: 3.5, U.S.A, example.com;
 *   - a single period at the end of the word when keeps_final_period() says so: U.S., Mr.
 * It stops at anything else, including a run of 2+ periods (an ellipsis token).
 * Returns p when nothing can be taken (a lone period).
 */
static size_t scan_word(const unsigned char *s, size_t p, size_t end) {
    size_t q = p;
    bool last_is_word = false; /* whether s[q-1] belongs to a word character */
    while (q < end) {
        size_t n;
        char_class cc = classify(s, q, end, &n);
        if (cc == CC_WORD) {
            q += n;
            last_is_word = true;
        } else if (cc == CC_COMMA && q > p && is_ascii_digit(s[q - 1]) && q + 1 < end &&
                   is_ascii_digit(s[q + 1])) {
            q += 1;
            last_is_word = false;
        } else if (cc == CC_APOS && last_is_word && is_word_at(s, q + 1, end) &&
                   clitic_len(s, q + 1, end) == 0) {
            q += 1;
            last_is_word = false;
        } else if (cc == CC_PERIOD && period_run(s, q, end) == 1) {
            if (is_word_at(s, q + 1, end)) {
                q += 1; /* inside the word */
                last_is_word = false;
            } else {
                if (keeps_final_period(s, p, q)) q += 1;
                break; /* the word ends here either way */
            }
        } else {
            break;
        }
    }
    return q;
}

/* Splits one chunk s[start, end) (no whitespace inside) into tokens. */
static void split_chunk(const unsigned char *s, size_t start, size_t end, span_sink *out) {
    size_t p = start;
    while (p < end) {
        size_t n, q;
        char_class cc = classify(s, p, end, &n);
        switch (cc) {
        case CC_BACKTICK: /* `` (an opening quote in PTB style) stays whole */
            q = p;
            while (q < end && s[q] == '`') q++;
            break;
        case CC_APOS: /* 't 's 're ... stay whole (idempotence); any other ' stands alone */
            q = p + 1 + clitic_len(s, p + 1, end);
            break;
        case CC_PERIOD: /* ... is one token; a single period may start a word (.5) */
            q = p + period_run(s, p, end);
            if (q - p == 1) {
                q = scan_word(s, p, end);
                if (q == p) q = p + 1;
            }
            break;
        case CC_WORD: q = scan_word(s, p, end); break;
        case CC_PUNCT: /* ! ? ( ) " ... and the listed Unicode punctuation */
        case CC_COMMA: /* a comma that is not inside a number */
        case CC_SPACE: /* unreachable: a chunk has no whitespace */
        default: q = p + n; break;
        }
        emit(out, p, q);
        p = q;
    }
}

/* ---- public entry point ------------------------------------------------------------ */

size_t elmo_tokenize(elmo_tokenizer kind, const char *text, size_t len, elmo_span *spans,
                     size_t cap) {
    span_sink out = {spans, spans ? cap : 0, 0};
    if (text == NULL) return 0;
    const unsigned char *s = (const unsigned char *)text;

    size_t i = 0;
    if (kind == ELMO_TOKENIZER_SPACE) { /* U+0020 only, empty tokens skipped */
        while (i < len) {
            if (s[i] == ' ') {
                i++;
                continue;
            }
            size_t end = i;
            while (end < len && s[end] != ' ') end++;
            emit(&out, i, end);
            i = end;
        }
        return out.count;
    }
    while (i < len) {
        size_t n;
        if (classify(s, i, len, &n) == CC_SPACE) {
            i += n;
            continue;
        }
        size_t chunk_end = i;
        while (chunk_end < len && classify(s, chunk_end, len, &n) != CC_SPACE) chunk_end += n;

        /* Any kind other than WHITESPACE (including an invalid value) gets DEFAULT. */
        if (kind == ELMO_TOKENIZER_WHITESPACE) emit(&out, i, chunk_end);
        else split_chunk(s, i, chunk_end, &out);
        i = chunk_end;
    }
    return out.count;
}
