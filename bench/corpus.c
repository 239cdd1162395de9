/* corpus.c - see corpus.h. */
#include "corpus.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int corpus_load(corpus *c, size_t n, const char *path) {
    if (!path) {
        if (corpus_make(c, n, 7) == 0) return 0;
        fprintf(stderr, "elmo-bench: out of memory for the corpus\n");
        return 1;
    }
    if (corpus_from_text(c, n, path) > 0) return 0;
    fprintf(stderr, "elmo-bench: no sentences in %s\n", path);
    return 1;
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

/* ---- real text ---------------------------------------------------------------------------- */

typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

static int append(text_buf *b, const char *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d, b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Appends one file, a '%' line (a fortune separator) becoming a sentence end. */
static int append_file(text_buf *b, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f))
        rc = !strcmp(line, "%\n") ? append(b, ".\n", 2) : append(b, line, strlen(line));
    fclose(f);
    return rc ? rc : append(b, ".\n", 2);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_tree(text_buf *b, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return append_file(b, path);
    DIR *d = opendir(path);
    if (!d) return 0;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || (len > 4 && !strcmp(e->d_name + len - 4, ".dat"))) continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown) break;
        names = grown;
        names[n] = malloc(strlen(path) + len + 2);
        if (names[n]) sprintf(names[n++], "%s/%s", path, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rc && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) rc = append_file(b, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int seen_before(char **kept, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kept[i], s)) return 1;
    return 0;
}

size_t corpus_from_text(corpus *c, size_t n, const char *path) {
    text_buf b = {0};
    c->n = 0;
    c->text = NULL;
    if (read_tree(&b, path) || !b.data) {
        free(b.data);
        return 0;
    }
    char **kept = NULL;
    size_t distinct = 0;
    char *sentence = malloc(b.len + 1);
    size_t at = 0, words = 0;
    int in_space = 1;
    for (size_t i = 0; sentence && i <= b.len; i++) {
        char ch = i < b.len ? b.data[i] : '.';
        int space = ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r';
        if (space) {
            in_space = 1;
            continue;
        }
        if (in_space && at) sentence[at++] = ' ';
        if (in_space) words++;
        in_space = 0;
        sentence[at++] = ch;
        int end = (ch == '.' || ch == '!' || ch == '?') &&
                  (i + 1 >= b.len || b.data[i + 1] == ' ' || b.data[i + 1] == '\n');
        if (!end) continue;
        sentence[at] = '\0';
        if (words >= 3 && words <= 60 && distinct < n && !seen_before(kept, distinct, sentence)) {
            char **grown = realloc(kept, (distinct + 1) * sizeof *kept);
            if (grown && (grown[distinct] = strdup(sentence))) kept = grown, distinct++;
            else if (grown) kept = grown;
        }
        at = words = 0;
        in_space = 1;
    }
    free(sentence);
    free(b.data);
    if (!distinct) {
        free(kept);
        return 0;
    }
    c->text = calloc(n, sizeof *c->text);
    for (size_t i = 0; c->text && i < n; i++) c->text[i] = strdup(kept[i % distinct]);
    for (size_t i = 0; i < distinct; i++) free(kept[i]);
    free(kept);
    if (!c->text) return 0;
    c->n = n;
    return distinct;
}
