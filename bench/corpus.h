/* corpus.h - the benchmarks' sentences: real English text read from files (the fortune
 * database, or the license texts every Debian system has), or a deterministic synthetic
 * English-like corpus: words drawn from a Zipf-distributed vocabulary of random lowercase
 * strings, sentences of 5 to 50 tokens (mean about 25, like the 1B Word Benchmark). */
#ifndef ELMO_BENCH_CORPUS_H
#define ELMO_BENCH_CORPUS_H

#include <stddef.h>

typedef struct corpus {
    size_t n;    /* sentences */
    char **text; /* [n] NUL-terminated raw text */
} corpus;

/* Builds n synthetic sentences from `seed`. Returns 0 on success. */
int corpus_make(corpus *c, size_t n, unsigned long long seed);

/* n sentences of real text from `path`, a file or a directory of files (fortune files:
 * entries split at '%' lines; *.dat indexes skipped): whitespace collapsed, cut after
 * '.', '!' or '?', kept when 3 to 60 words long, each distinct sentence once, in file
 * order; repeated from the start when there are fewer than n. Returns the number of
 * distinct sentences, or 0 (nothing usable: c is left empty). */
size_t corpus_from_text(corpus *c, size_t n, const char *path);

/* The n sentences every model measurement runs: corpus_from_text(path), or the synthetic
 * corpus (seed 7) when path is NULL. Returns 0, or 1 with the reason on stderr. */
int corpus_load(corpus *c, size_t n, const char *path);
void corpus_free(corpus *c);

/* Inserts the corpus into the existing table docs(id, body) of db (ids from 1); returns
 * its token count under the default tokenizer. */
struct sqlite3;
size_t corpus_insert(struct sqlite3 *db, const corpus *c);

/* A fixed sentence of exactly 20 tokens under the default tokenizer. */
extern const char *const corpus_sentence20;

#endif
