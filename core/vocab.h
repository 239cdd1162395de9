/* vocab.h - the language model's vocabulary: a text file with one token per line, line v
 * naming row v of the softmax head (the published files are sorted by descending
 * frequency, so the first rows are the most frequent words).
 *
 * Read as bilm-tf reads it: each line's surrounding ASCII whitespace is stripped (so CRLF
 * files work), a line "!!!MAXTERMID" is skipped without taking a row, and the special
 * tokens <S>, </S> and <UNK> are found by name wherever they are. Nothing in the file is
 * trusted: a line longer than ELMO_VOCAB_MAX_TOKEN bytes, an empty line, a NUL byte,
 * invalid UTF-8, a repeated token, a missing special token, more than ELMO_VOCAB_MAX_ROWS
 * rows or more than ELMO_VOCAB_MAX_BYTES bytes is an error that names the file and the
 * line; memory never exceeds what the valid lines need. */
#ifndef ELMO_CORE_VOCAB_H
#define ELMO_CORE_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "elmo.h"

#define ELMO_VOCAB_MAX_TOKEN 65536              /* bytes of one line (token) */
#define ELMO_VOCAB_MAX_ROWS ((int64_t)1 << 24)  /* 16,777,216 rows */
#define ELMO_VOCAB_MAX_BYTES ((int64_t)1 << 30) /* 1 GiB of file */
#define ELMO_VOCAB_SKIPPED_LINE "!!!MAXTERMID"

typedef struct elmo_vocab {
    int64_t n;       /* rows */
    char *text;      /* the tokens, each followed by a NUL */
    uint32_t *start; /* [n + 1]: token v is text[start[v] .. start[v + 1] - 1) */
    uint32_t *slots; /* open-addressing table [mask + 1]: row + 1, or 0 for empty */
    uint64_t mask;   /* table size - 1 (a power of two, at least 2n) */
    int64_t skipped; /* the line number of "!!!MAXTERMID", or 0 */
    int64_t bos;     /* row of <S> */
    int64_t eos;     /* row of </S> */
    int64_t unk;     /* row of <UNK> */
    int64_t bytes;   /* memory held */
} elmo_vocab;

/* Reads the vocabulary file at `path` (a regular file). On failure v is empty. */
int elmo_vocab_load_file(const char *path, elmo_vocab *v, elmo_error *err);

/* The same for text in memory (`len` bytes, need not be NUL-terminated); `label` names it
 * in messages (e.g. "the vocabulary stored in 'model.safetensors'"). */
int elmo_vocab_load_text(const char *text, size_t len, const char *label, elmo_vocab *v,
                         elmo_error *err);

void elmo_vocab_free(elmo_vocab *v);

/* The row of the token `word` (`len` bytes, compared exactly), or -1. */
int64_t elmo_vocab_find(const elmo_vocab *v, const char *word, size_t len);

/* Token v (NUL-terminated) and its length, or NULL for a row out of range. */
const char *elmo_vocab_token(const elmo_vocab *v, int64_t row, size_t *len);

/* The line of the file that holds row v (1-based; for messages). */
int64_t elmo_vocab_line(const elmo_vocab *v, int64_t row);

#endif
