/* corpus.c - see corpus.h. */
#include "corpus.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"

#define VOCAB 30000
#define MAX_WORD 12

const char *const corpus_sentence20 =
    "The committee said on Tuesday that it would review the new budget proposal before the "
    "end of the year.";

static unsigned long long next(unsigned long long *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static double uniform(unsigned long long *s) {
    return (double)(next(s) >> 11) / 9007199254740992.0;
}

int corpus_make(corpus *c, size_t n, unsigned long long seed) {
    unsigned long long s = seed ? seed : 1;
    static char words[VOCAB][MAX_WORD + 1];
    double *cdf = malloc(VOCAB * sizeof *cdf);
    c->n = n;
    c->text = calloc(n ? n : 1, sizeof *c->text);
    if (!cdf || !c->text) {
        free(cdf);
        return -1;
    }
    double total = 0;
    for (int i = 0; i < VOCAB; i++) {
        int len = 1 + (int)(next(&s) % 9) + (i > 100 ? 2 : 0); /* frequent words are short */
        for (int k = 0; k < len && k < MAX_WORD; k++) words[i][k] = (char)('a' + next(&s) % 26);
        words[i][len < MAX_WORD ? len : MAX_WORD] = '\0';
        total += 1.0 / (i + 1); /* Zipf, exponent 1 */
        cdf[i] = total;
    }
    for (size_t i = 0; i < n; i++) {
        int tokens = 4 + (int)(uniform(&s) * uniform(&s) * 46) + (int)(uniform(&s) * 20);
        if (tokens > 49) tokens = 49;
        char *t = malloc((size_t)tokens * (MAX_WORD + 1) + 4);
        if (!t) {
            free(cdf);
            return -1;
        }
        size_t at = 0;
        for (int k = 0; k < tokens; k++) {
            double u = uniform(&s) * total;
            int lo = 0, hi = VOCAB - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cdf[mid] < u) lo = mid + 1;
                else hi = mid;
            }
            size_t len = strlen(words[lo]);
            memcpy(t + at, words[lo], len);
            if (k == 0) t[at] = (char)(t[at] - 'a' + 'A');
            at += len;
            t[at++] = ' ';
        }
        t[at++] = '.';
        t[at] = '\0';
        c->text[i] = t;
    }
    free(cdf);
    return 0;
}

void corpus_free(corpus *c) {
    for (size_t i = 0; i < c->n; i++) free(c->text[i]);
    free(c->text);
    c->text = NULL;
    c->n = 0;
}

/* Inserts the corpus into docs(id, body) (ids from 1); returns its token count. */
size_t corpus_insert(sqlite3 *db, const corpus *c) {
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO docs(id, body) VALUES (?, ?)", -1, &ins, NULL);
    size_t tokens = 0;
    for (size_t i = 0; i < c->n; i++) {
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)i + 1);
        sqlite3_bind_text(ins, 2, c->text[i], -1, SQLITE_STATIC);
        sqlite3_step(ins);
        sqlite3_reset(ins);
        tokens += elmo_tokenize(ELMO_TOKENIZER_DEFAULT, c->text[i], strlen(c->text[i]), NULL, 0);
    }
    sqlite3_finalize(ins);
    return tokens;
}
