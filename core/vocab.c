/* vocab.c - reading and looking up the language model's vocabulary; see vocab.h. The file
 * is read in 1 MiB chunks (file_read.h: a regular file, unchanged while it is read) and
 * split into lines as it goes, so an overlong line is refused after ELMO_VOCAB_MAX_TOKEN
 * bytes, whatever the file's size. */
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "file_read.h"

#define CHUNK_BYTES ((size_t)1 << 20)
#define SHOWN_BYTES 40 /* of a token in messages */

typedef struct builder {
    elmo_vocab *v;
    const char *label; /* "vocabulary 'path'" or the caller's label */
    size_t text_used, text_cap;
    int64_t start_cap;
    int64_t line;  /* lines seen so far */
    int64_t total; /* bytes fed so far */
    char *pending; /* [ELMO_VOCAB_MAX_TOKEN] a line not yet ended */
    size_t pending_len;
} builder;

/* ---- lookups ------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

const char *elmo_vocab_token(const elmo_vocab *v, int64_t row, size_t *len) {
    if (!v || row < 0 || row >= v->n) return NULL;
    if (len) *len = v->start[row + 1] - v->start[row] - 1;
    return v->text + v->start[row];
}

/* The slot holding `word`, or the empty slot where it would go. */
static uint64_t probe(const elmo_vocab *v, const char *word, size_t len) {
    uint64_t i = hash_bytes(word, len) & v->mask;
    for (;; i = (i + 1) & v->mask) {
        uint32_t s = v->slots[i];
        if (s == 0) return i;
        size_t n = 0;
        const char *t = elmo_vocab_token(v, (int64_t)s - 1, &n);
        if (n == len && memcmp(t, word, len) == 0) return i;
    }
}

int64_t elmo_vocab_find(const elmo_vocab *v, const char *word, size_t len) {
    if (!v || !v->slots) return -1;
    return (int64_t)v->slots[probe(v, word, len)] - 1;
}

int64_t elmo_vocab_line(const elmo_vocab *v, int64_t row) {
    return row + 1 + (v->skipped > 0 && row + 1 >= v->skipped);
}

void elmo_vocab_free(elmo_vocab *v) {
    if (!v) return;
    free(v->text);
    free(v->start);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

/* ---- building ------------------------------------------------------------------------ */

/* Offset of the first invalid UTF-8 byte of s [n], or n. */
static size_t utf8_invalid_at(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t k = elmo_utf8_sequence((const unsigned char *)s + i, n - i);
        if (k == 0) return i;
        i += k;
    }
    return n;
}

/* A token for messages: at most SHOWN_BYTES bytes, cut at a character boundary. */
static void shown(const char *s, size_t n, char out[SHOWN_BYTES + 4]) {
    size_t k = 0;
    while (k < n) {
        size_t step = elmo_utf8_sequence((const unsigned char *)s + k, n - k);
        if (step == 0 || k + step > SHOWN_BYTES) break;
        k += step;
    }
    memcpy(out, s, k);
    strcpy(out + k, k < n ? "..." : "");
}

static int grow_table(elmo_vocab *v, elmo_error *err) {
    uint64_t size = v->mask ? 2 * (v->mask + 1) : 1024;
    uint32_t *slots = calloc(size, sizeof *slots);
    if (!slots) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading a vocabulary");
    uint32_t *old = v->slots;
    v->slots = slots;
    v->mask = size - 1;
    for (int64_t r = 0; r < v->n; r++) {
        size_t n = 0;
        const char *t = elmo_vocab_token(v, r, &n);
        v->slots[probe(v, t, n)] = (uint32_t)(r + 1);
    }
    free(old);
    return ELMO_OK;
}

static int append_token(builder *b, const char *s, size_t n, elmo_error *err) {
    elmo_vocab *v = b->v;
    if (b->text_used + n + 1 > b->text_cap) {
        size_t cap = b->text_cap ? b->text_cap : 1 << 16;
        while (cap < b->text_used + n + 1) cap *= 2;
        char *t = realloc(v->text, cap);
        if (!t) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading %s", b->label);
        v->text = t;
        b->text_cap = cap;
    }
    if (v->n + 2 > b->start_cap) {
        int64_t cap = b->start_cap ? 2 * b->start_cap : 4096;
        uint32_t *st = realloc(v->start, (size_t)cap * sizeof *st);
        if (!st) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading %s", b->label);
        v->start = st;
        b->start_cap = cap;
    }
    if ((uint64_t)(v->n + 1) * 2 > v->mask + 1 || !v->slots) {
        v->start[v->n] = (uint32_t)b->text_used; /* the table reads the finished rows */
        int rc = grow_table(v, err);
        if (rc) return rc;
    }
    v->start[v->n] = (uint32_t)b->text_used;
    memcpy(v->text + b->text_used, s, n);
    v->text[b->text_used + n] = '\0';
    b->text_used += n + 1;
    v->start[v->n + 1] = (uint32_t)b->text_used;
    v->slots[probe(v, s, n)] = (uint32_t)(v->n + 1);
    v->n++;
    return ELMO_OK;
}

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int is_special(const char *s, size_t n) {
    return (n == 3 && memcmp(s, "<S>", 3) == 0) || (n == 4 && memcmp(s, "</S>", 4) == 0) ||
           (n == 5 && memcmp(s, "<UNK>", 5) == 0);
}

/* One line (without its '\n'). */
static int add_line(builder *b, const char *s, size_t n, elmo_error *err) {
    elmo_vocab *v = b->v;
    int64_t line = ++b->line;
    while (n > 0 && is_space(*s)) s++, n--;
    while (n > 0 && is_space(s[n - 1])) n--;
    char tok[SHOWN_BYTES + 4];
    if (n == 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "%s: line %lld is empty; every line must hold one token (line v names "
                         "row v of the softmax weights)",
                         b->label, (long long)line);
    const char *nul = memchr(s, '\0', n);
    if (nul)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "%s: line %lld holds a NUL byte (at byte %zu); a vocabulary is UTF-8 "
                         "text, one token per line",
                         b->label, (long long)line, (size_t)(nul - s));
    size_t bad = utf8_invalid_at(s, n);
    if (bad < n)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "%s: line %lld is not valid UTF-8 (byte %zu: 0x%02x); a vocabulary is "
                         "UTF-8 text, one token per line",
                         b->label, (long long)line, bad, (unsigned char)s[bad]);
    int skipped =
        n == strlen(ELMO_VOCAB_SKIPPED_LINE) && memcmp(s, ELMO_VOCAB_SKIPPED_LINE, n) == 0;
    int64_t seen = skipped ? (v->skipped ? -2 : -1) : elmo_vocab_find(v, s, n);
    if (seen != -1) {
        shown(s, n, tok);
        int64_t first = seen == -2 ? v->skipped : elmo_vocab_line(v, seen);
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "%s: line %lld repeats the token '%s' of line %lld; %s", b->label,
                         (long long)line, tok, (long long)first,
                         is_special(s, n) ? "<S>, </S> and <UNK> must each appear once"
                                          : "every token must appear once (line v names row v "
                                            "of the softmax weights)");
    }
    if (skipped) { /* bilm-tf skips it: it takes no row */
        v->skipped = line;
        return ELMO_OK;
    }
    if (v->n == ELMO_VOCAB_MAX_ROWS)
        return elmo_fail(err, ELMO_ERR_LIMIT, "%s has more than %lld tokens (the limit)", b->label,
                         (long long)ELMO_VOCAB_MAX_ROWS);
    return append_token(b, s, n, err);
}

static int too_long(builder *b, elmo_error *err) {
    return elmo_fail(err, ELMO_ERR_FORMAT,
                     "%s: line %lld is longer than %d bytes; a line holds one token (is this the "
                     "vocabulary file?)",
                     b->label, (long long)b->line + 1, ELMO_VOCAB_MAX_TOKEN);
}

/* Splits p [n] into lines, carrying an unfinished line over to the next call; `last`:
 * the end of the input (a final line without '\n' counts). */
static int feed(builder *b, const char *p, size_t n, int last, elmo_error *err) {
    b->total += (int64_t)n;
    if (b->total > ELMO_VOCAB_MAX_BYTES)
        return elmo_fail(err, ELMO_ERR_LIMIT, "%s is larger than %lld bytes (the limit)", b->label,
                         (long long)ELMO_VOCAB_MAX_BYTES);
    int rc = ELMO_OK;
    while (n > 0 && !rc) {
        const char *nl = memchr(p, '\n', n);
        size_t part = nl ? (size_t)(nl - p) : n;
        if (b->pending_len + part > ELMO_VOCAB_MAX_TOKEN) return too_long(b, err);
        if (nl && b->pending_len == 0) {
            rc = add_line(b, p, part, err);
        } else {
            if (!b->pending && !(b->pending = malloc(ELMO_VOCAB_MAX_TOKEN)))
                return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading %s", b->label);
            memcpy(b->pending + b->pending_len, p, part);
            b->pending_len += part;
            if (nl) {
                rc = add_line(b, b->pending, b->pending_len, err);
                b->pending_len = 0;
            }
        }
        if (!nl) break;
        p = nl + 1;
        n -= part + 1;
    }
    if (!rc && last && b->pending_len > 0) {
        rc = add_line(b, b->pending, b->pending_len, err);
        b->pending_len = 0;
    }
    return rc;
}

static int special_row(builder *b, const char *name, int64_t *row, elmo_error *err) {
    *row = elmo_vocab_find(b->v, name, strlen(name));
    if (*row >= 0) return ELMO_OK;
    return elmo_fail(err, ELMO_ERR_FORMAT,
                     "%s has no line '%s'; a vocabulary needs <S>, </S> and <UNK> (they are "
                     "found by name)",
                     b->label, name);
}

static int finish(builder *b, int rc, elmo_error *err) {
    elmo_vocab *v = b->v;
    if (!rc && v->n == 0)
        rc = elmo_fail(err, ELMO_ERR_FORMAT, "%s holds no tokens; expected one token per line",
                       b->label);
    if (!rc) rc = special_row(b, "<S>", &v->bos, err);
    if (!rc) rc = special_row(b, "</S>", &v->eos, err);
    if (!rc) rc = special_row(b, "<UNK>", &v->unk, err);
    free(b->pending);
    if (rc) {
        elmo_vocab_free(v);
        return rc;
    }
    char *text = realloc(v->text, b->text_used); /* give back the growth slack */
    if (text) {
        v->text = text;
        b->text_cap = b->text_used;
    }
    v->bytes = (int64_t)(b->text_cap + (size_t)b->start_cap * sizeof *v->start +
                         (v->mask + 1) * sizeof *v->slots);
    return elmo_ok(err);
}

int elmo_vocab_load_text(const char *text, size_t len, const char *label, elmo_vocab *v,
                         elmo_error *err) {
    memset(v, 0, sizeof *v);
    builder b = {.v = v, .label = label};
    return finish(&b, feed(&b, text, len, 1, err), err);
}

int elmo_vocab_load_file(const char *path, elmo_vocab *v, elmo_error *err) {
    memset(v, 0, sizeof *v);
    char label[4200];
    snprintf(label, sizeof label, "vocabulary '%s'", path);
    elmo_file f; /* a regular file only, each chunk checked against a change (file_read.h) */
    int rc = elmo_file_open(&f, path, "vocabulary", err);
    if (rc) return rc;
    char *chunk = malloc(CHUNK_BYTES);
    if (!chunk) {
        elmo_file_close(&f);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading vocabulary '%s'", path);
    }
    builder b = {.v = v, .label = label};
    for (uint64_t at = 0; !rc;) {
        size_t n = f.size - at < CHUNK_BYTES ? (size_t)(f.size - at) : CHUNK_BYTES;
        if (n && (rc = elmo_file_read(&f, at, chunk, n, err))) break;
        at += n;
        if ((rc = feed(&b, chunk, n, n == 0, err)) || n == 0) break;
    }
    free(chunk);
    elmo_file_close(&f);
    return finish(&b, rc, err);
}
