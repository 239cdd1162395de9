/* corpus.h - a deterministic synthetic English-like corpus for the benchmarks: words drawn
 * from a Zipf-distributed vocabulary of random lowercase strings, sentences of 5 to 50
 * tokens (mean about 25, like the 1B Word Benchmark) ending in a period. */
#ifndef ELMO_BENCH_CORPUS_H
#define ELMO_BENCH_CORPUS_H

#include <stddef.h>

typedef struct corpus {
    size_t n;    /* sentences */
    char **text; /* [n] NUL-terminated raw text */
} corpus;

/* Builds n sentences from `seed`. Returns 0 on success. */
int corpus_make(corpus *c, size_t n, unsigned long long seed);
void corpus_free(corpus *c);

/* Inserts the corpus into the existing table docs(id, body) of db (ids from 1); returns
 * its token count under the default tokenizer. */
struct sqlite3;
size_t corpus_insert(struct sqlite3 *db, const corpus *c);

/* A fixed sentence of exactly 20 tokens under the default tokenizer. */
extern const char *const corpus_sentence20;

#endif
