/* test_api.c - argument errors and behaviours of the public API (elmo.h): NULL and invalid
 * arguments of elmo_run / elmo_embed_batch / streams / results, streams of another model or
 * given twice, the interrupt callback (stops both entry points, called only on the calling
 * thread), ELMO_THREADS, elmo_stream_reset, the char-CNN cache being invisible in the
 * results, elmo_status_name and elmo_version. Uses the tiny model. */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "elmo.h"
#include "fixture_io.h"
#include "harness.h"

#define MAX_TOKENS 64
#define TOL_BATCH 1e-6 /* thread count / grouping independence (test_fixture) */
#define TOL_CACHE 2e-6 /* cache off: a couple of float32 ulps at layer 0 (test_fixture) */

typedef struct tokenized {
    elmo_span spans[MAX_TOKENS];
    elmo_sentence s;
} tokenized;

static void tokenize(const char *text, tokenized *t) {
    size_t n = elmo_tokenize(ELMO_TOKENIZER_WHITESPACE, text, strlen(text), t->spans, MAX_TOKENS);
    CHECK(n <= MAX_TOKENS);
    t->s = (elmo_sentence){.text = text, .tokens = t->spans, .n_tokens = n};
}

static elmo_model *model;
static char **sent; /* the 30 fixture sentences */
static tokenized fixture[30];
static elmo_sentence all[30];

/* Max |a - b| over every layer of every sentence; -1 if the shapes differ. */
static double result_diff(const elmo_result *a, const elmo_result *b) {
    if (!a || !b || elmo_result_count(a) != elmo_result_count(b)) return -1;
    double worst = 0;
    for (size_t i = 0; i < elmo_result_count(a); i++) {
        if (elmo_result_tokens(a, i) != elmo_result_tokens(b, i)) return -1;
        for (int k = 0; k < elmo_result_layers(a); k++) {
            double d = harness_max_abs_diff(elmo_result_layer(a, i, k), elmo_result_layer(b, i, k),
                                            elmo_result_tokens(a, i) * (size_t)elmo_result_dim(a));
            if (!(d <= worst)) worst = d;
        }
    }
    return worst;
}

static elmo_result *run_with(const elmo_model *m, const elmo_run_params *p, const elmo_sentence *s,
                             size_t n) {
    elmo_result *r = NULL;
    elmo_error err;
    int rc = elmo_run(m, p, s, n, NULL, &r, &err);
    CHECK_INT(rc, ELMO_OK);
    if (rc) fprintf(stderr, "  elmo_run: %s\n", err.message);
    return r;
}

/* ---- interrupt callback and threads ------------------------------------------------------ */

static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

typedef struct probe {
    pthread_t caller;
    int calls;
    int stop_at;       /* return nonzero from this call on (0: never) */
    int foreign_calls; /* calls from a thread other than the caller */
    int count;         /* 1: record the process's thread count at each call */
    int max_threads;
} probe;

static int probe_fn(void *arg) {
    probe *p = arg;
    p->calls++;
    if (!pthread_equal(pthread_self(), p->caller)) p->foreign_calls++;
    if (p->count) {
        int n = count_threads();
        if (n > p->max_threads) p->max_threads = n;
    }
    return p->stop_at && p->calls >= p->stop_at;
}

static elmo_run_params probed(probe *pr, int threads, int stop_at) {
    memset(pr, 0, sizeof *pr);
    pr->caller = pthread_self();
    pr->stop_at = stop_at;
    elmo_run_params p = elmo_run_default_params();
    p.n_threads = threads;
    p.interrupt = probe_fn;
    p.interrupt_arg = pr;
    return p;
}

/* ELMO_THREADS=1: no thread besides the ones present before the run ever shows up while the
 * engine runs; ELMO_THREADS=2: a helper thread does. Run first, before any multi-threaded
 * run has created threads. Results are the same in both cases and for invalid values. */
static void test_elmo_threads(void) {
    elmo_run_params one = elmo_run_default_params();
    one.n_threads = 1;
    elmo_result *base = run_with(model, &one, all, 30); /* also warms up BLAS */

    setenv("ELMO_THREADS", "1", 1);
    probe pr;
    elmo_run_params p = probed(&pr, 0, 0);
    pr.count = 1;
    int before = count_threads();
    elmo_result *r = run_with(model, &p, all, 30);
    printf("  ELMO_THREADS=1: %d interrupt polls, at most %d threads seen (%d before)\n", pr.calls,
           pr.max_threads, before);
    CHECK(pr.calls > 0);
    CHECK_INT(pr.max_threads, before);
    CHECK(result_diff(r, base) <= TOL_BATCH);
    elmo_result_free(r);

    setenv("ELMO_THREADS", "2", 1);
    int seen_more = 0;
    for (int attempt = 0; attempt < 10 && !seen_more; attempt++) {
        p = probed(&pr, 0, 0);
        pr.count = 1;
        before = count_threads();
        r = run_with(model, &p, all, 30);
        seen_more = pr.max_threads > before;
        CHECK_INT(pr.foreign_calls, 0);
        CHECK(result_diff(r, base) <= TOL_BATCH);
        elmo_result_free(r);
    }
    printf("  ELMO_THREADS=2: a helper thread was seen: %s\n", seen_more ? "yes" : "no");
    CHECK(seen_more);

    static const char *const values[] = {"3", "abc", "0", "-2", "", "4x"};
    for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
        setenv("ELMO_THREADS", values[v], 1);
        r = run_with(model, NULL, all, 30);
        CHECK(result_diff(r, base) <= TOL_BATCH);
        elmo_result_free(r);
    }
    unsetenv("ELMO_THREADS");
    elmo_result_free(base);
}

static void test_interrupt(void) {
    probe pr;
    elmo_error err;
    elmo_result *ref = run_with(model, NULL, all, 30);
    for (int threads = 1; threads <= 4; threads *= 2) {
        /* never stops: same result, polled only from this thread (and, with one thread,
         * deterministically at every LSTM step) */
        elmo_run_params p = probed(&pr, threads, 0);
        elmo_result *r = run_with(model, &p, all, 30);
        if (threads == 1) CHECK(pr.calls > 0);
        CHECK_INT(pr.foreign_calls, 0);
        CHECK(result_diff(r, ref) <= TOL_BATCH);
        elmo_result_free(r);
        int calls_full = pr.calls;

        /* Stops at the first poll, and half way. With helper threads the calling thread may
         * run no LSTM task of a short run and then polls only every few ms while it waits,
         * so a run may end before any poll: the outcome must match what the callback said,
         * and some of 20 tries must be interrupted. */
        for (int stop = 1; stop <= 2; stop++) {
            int tries = threads == 1 ? 1 : 20, interrupted = 0;
            for (int t = 0; t < tries; t++) {
                p = probed(&pr, threads, stop == 1 ? 1 : threads == 1 ? calls_full / 2 + 1 : 2);
                r = (elmo_result *)&pr; /* must be reset to NULL */
                int rc = elmo_run(model, &p, all, 30, NULL, &r, &err);
                int asked = pr.calls >= pr.stop_at;
                CHECK_INT(rc, asked ? ELMO_ERR_INTERRUPTED : ELMO_OK);
                CHECK_INT(err.code, rc);
                CHECK_INT(pr.foreign_calls, 0);
                if (rc == ELMO_ERR_INTERRUPTED) {
                    interrupted++;
                    CHECK_CONTAINS(err.message, "interrupted");
                    CHECK(r == NULL);
                } else {
                    CHECK(r != (elmo_result *)&pr && result_diff(r, ref) <= TOL_BATCH);
                    elmo_result_free(r);
                }
            }
            if (threads > 1)
                printf("  %d threads, stop at poll %d: %d of %d runs interrupted\n", threads,
                       stop == 1 ? 1 : 2, interrupted, tries);
            CHECK(interrupted > 0);
        }

        elmo_embed_params ep = elmo_embed_default_params();
        ep.batch_positions = 64; /* several internal batches */
        float *out = malloc(30 * 32 * sizeof *out), *want = malloc(30 * 32 * sizeof *want);
        CHECK_INT(elmo_embed_batch(model, NULL, &ep, all, 30, want, NULL), ELMO_OK);
        p = probed(&pr, threads, 0);
        CHECK_INT(elmo_embed_batch(model, &p, &ep, all, 30, out, &err), ELMO_OK);
        CHECK(pr.calls > 0);
        CHECK_INT(pr.foreign_calls, 0);
        CHECK(harness_max_abs_diff(out, want, 30 * 32) <= TOL_BATCH);
        calls_full = pr.calls;
        for (int stop = 1; stop <= 2; stop++) {
            p = probed(&pr, threads, stop == 1 ? 1 : threads == 1 ? calls_full / 2 + 1 : 2);
            CHECK_INT(elmo_embed_batch(model, &p, &ep, all, 30, out, &err), ELMO_ERR_INTERRUPTED);
            CHECK_CONTAINS(err.message, "interrupted");
            CHECK(pr.calls >= pr.stop_at);
            CHECK_INT(pr.foreign_calls, 0);
        }
        free(out);
        free(want);
    }

    /* An interrupted run leaves nothing half-made in the model (e.g. in the cache): new
     * words interrupted at the first poll, then run in full, equal a cache-free model. */
    elmo_load_params lp = elmo_load_default_params();
    lp.cache_bytes = 0;
    elmo_model *plain = NULL;
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, &lp, &plain, NULL), ELMO_OK);
    tokenized t;
    tokenize("Zyzzyva quokkas vexed jabberwocky flibbertigibbets overnight", &t);
    elmo_run_params p = probed(&pr, 1, 1);
    elmo_result *r = NULL;
    CHECK_INT(elmo_run(model, &p, &t.s, 1, NULL, &r, NULL), ELMO_ERR_INTERRUPTED);
    r = run_with(model, NULL, &t.s, 1);
    elmo_result *r2 = plain ? run_with(plain, NULL, &t.s, 1) : NULL;
    CHECK(result_diff(r, r2) >= 0 && result_diff(r, r2) <= TOL_CACHE);
    elmo_result_free(r);
    elmo_result_free(r2);
    elmo_model_free(plain);
    elmo_result_free(ref);
}

/* ---- arguments ---------------------------------------------------------------------------- */

static void expect_run_error(const elmo_sentence *s, size_t n, elmo_stream *const *st,
                             const char *needle) {
    elmo_error err;
    elmo_result *r = (elmo_result *)&err; /* must be reset to NULL */
    CHECK_INT(elmo_run(model, NULL, s, n, st, &r, &err), ELMO_ERR_ARG);
    CHECK_INT(err.code, ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, needle);
    CHECK(r == NULL);
    r = NULL;
    CHECK_INT(elmo_run(model, NULL, s, n, st, &r, NULL), ELMO_ERR_ARG);
    CHECK(r == NULL);
}

static void expect_embed_error(const elmo_sentence *s, size_t n, const elmo_embed_params *p,
                               const char *needle) {
    elmo_error err;
    float out[4 * 96];
    CHECK_INT(elmo_embed_batch(model, NULL, p, s, n, out, &err), ELMO_ERR_ARG);
    CHECK_INT(err.code, ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, needle);
}

static void test_arguments(void) {
    elmo_error err;
    elmo_result *r = NULL;
    const char *text = "alpha beta gamma";
    elmo_span spans[3] = {{0, 5}, {6, 10}, {11, 16}};
    elmo_sentence s[2] = {{text, spans, 3}, {text, spans, 2}};

    CHECK_INT(elmo_run(model, NULL, s, 2, NULL, NULL, &err), ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, "out is NULL");
    r = (elmo_result *)&err;
    CHECK_INT(elmo_run(NULL, NULL, s, 2, NULL, &r, &err), ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, "model is NULL");
    CHECK(r == NULL);
    expect_run_error(NULL, 2, NULL, "sentences is NULL but n is 2");
    s[1].text = NULL;
    expect_run_error(s, 2, NULL, "sentence 1 has 2 tokens but no text");
    s[1].text = text;
    s[1].tokens = NULL;
    expect_run_error(s, 2, NULL, "sentence 1 has 2 tokens but no token spans");
    s[1].tokens = spans;
    elmo_span backwards[2] = {{0, 5}, {10, 6}};
    s[1].tokens = backwards;
    expect_run_error(s, 2, NULL, "sentence 1 token 1 has end 6 before start 10");
    s[1].tokens = spans;

    /* Valid edge cases: no sentences; an empty sentence with NULL text and spans; an
     * empty token (start == end). */
    r = NULL;
    CHECK_INT(elmo_run(model, NULL, NULL, 0, NULL, &r, &err), ELMO_OK);
    CHECK_INT(elmo_result_count(r), 0);
    CHECK_INT(elmo_result_dim(r), 32);
    CHECK_INT(elmo_result_layers(r), 3);
    elmo_result_free(r);
    elmo_span empty_tok[2] = {{0, 5}, {5, 5}};
    elmo_sentence edge[2] = {{NULL, NULL, 0}, {text, empty_tok, 2}};
    r = NULL;
    CHECK_INT(elmo_run(model, NULL, edge, 2, NULL, &r, &err), ELMO_OK);
    CHECK_INT(elmo_result_tokens(r, 0), 0);
    CHECK_INT(elmo_result_tokens(r, 1), 2);
    elmo_result_free(r);

    /* Streams */
    elmo_model *other = NULL;
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, NULL, &other, NULL), ELMO_OK);
    elmo_stream *a = NULL, *b = NULL, *foreign = NULL;
    CHECK_INT(elmo_stream_new(model, &a, NULL), ELMO_OK);
    CHECK_INT(elmo_stream_new(model, &b, NULL), ELMO_OK);
    CHECK_INT(elmo_stream_new(other, &foreign, NULL), ELMO_OK);
    elmo_stream *twice[3] = {a, b, a}, *mixed[2] = {a, foreign}, *with_null[3] = {NULL, a, NULL};
    elmo_sentence three[3] = {{text, spans, 3}, {text, spans, 2}, {text, spans, 1}};
    expect_run_error(three, 3, twice, "the same stream is given for two sentences of one run");
    expect_run_error(three, 2, mixed, "stream 1 was created for another model");
    r = NULL;
    CHECK_INT(elmo_run(model, NULL, three, 3, with_null, &r, &err), ELMO_OK);
    elmo_result_free(r);
    elmo_stream *st = (elmo_stream *)&err;
    CHECK_INT(elmo_stream_new(NULL, &st, &err), ELMO_ERR_ARG);
    CHECK(st == NULL);
    CHECK_CONTAINS(err.message, "model is NULL");
    CHECK_INT(elmo_stream_new(model, NULL, &err), ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, "out is NULL");
    elmo_stream_free(a);
    elmo_stream_free(b);
    elmo_stream_free(foreign);
    elmo_model_free(other);
    elmo_stream_free(NULL);
    elmo_stream_reset(NULL);

    /* elmo_embed_batch */
    float out[2 * 96];
    elmo_embed_params ep = elmo_embed_default_params();
    CHECK_INT(ep.mix.kind, ELMO_MIX_AVERAGE);
    CHECK_INT(ep.pooling, ELMO_POOL_MEAN);
    CHECK_INT(ep.batch_positions, 0);
    CHECK_INT(elmo_embed_batch(NULL, NULL, NULL, s, 2, out, &err), ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, "model is NULL");
    expect_embed_error(NULL, 2, NULL, "sentences or out is NULL");
    CHECK_INT(elmo_embed_batch(model, NULL, NULL, s, 2, NULL, &err), ELMO_ERR_ARG);
    CHECK_CONTAINS(err.message, "sentences or out is NULL");
    s[1].text = NULL;
    expect_embed_error(s, 2, NULL, "sentence 1 has 2 tokens but no text");
    /* end < start: in a padded buffer, so that an engine that misses the check reads
     * nothing out of bounds (the wrapped length is cut to C-2 = 48 bytes). */
    static char padded[128] = "alpha beta gamma";
    elmo_sentence bad[2] = {{padded, spans, 3}, {padded, backwards, 2}};
    expect_embed_error(bad, 2, NULL, "sentence 1 token 1 has end 6 before start 10");
    s[1].text = text;
    ep.pooling = (elmo_pooling)7;
    expect_embed_error(s, 2, &ep, "unknown pooling 7");
    ep = elmo_embed_default_params();
    ep.mix.kind = ELMO_MIX_LAYER;
    ep.mix.layer = 3;
    expect_embed_error(s, 2, &ep, "layer 3 does not exist");
    ep.mix.layer = 2;
    CHECK_INT(elmo_embed_batch(model, NULL, &ep, s, 2, out, &err), ELMO_OK);

    /* Result accessors out of range, and on NULL. */
    r = run_with(model, NULL, s, 2);
    if (r) {
        CHECK_INT(elmo_result_count(r), 2);
        CHECK_INT(elmo_result_tokens(r, 0), 3);
        CHECK_INT(elmo_result_tokens(r, 1), 2);
        CHECK_INT(elmo_result_tokens(r, 2), 0);
        CHECK_INT(elmo_result_tokens(r, (size_t)-1), 0);
        CHECK(elmo_result_layer(r, 0, 0) != NULL);
        CHECK(elmo_result_layer(r, 1, 2) != NULL);
        CHECK(elmo_result_layer(r, 2, 0) == NULL);
        CHECK(elmo_result_layer(r, (size_t)-1, 0) == NULL);
        CHECK(elmo_result_layer(r, 0, 3) == NULL);
        CHECK(elmo_result_layer(r, 0, -1) == NULL);
        /* layer 0 is context-free: the two shared tokens have the same rows */
        CHECK(harness_max_abs_diff(elmo_result_layer(r, 0, 0), elmo_result_layer(r, 1, 0), 64) ==
              0);
    }
    elmo_result_free(r);
    CHECK_INT(elmo_result_count(NULL), 0);
    CHECK_INT(elmo_result_tokens(NULL, 0), 0);
    CHECK_INT(elmo_result_dim(NULL), 0);
    CHECK_INT(elmo_result_layers(NULL), 0);
    CHECK(elmo_result_layer(NULL, 0, 0) == NULL);
    elmo_result_free(NULL);
    elmo_model_free(NULL);
    elmo_model_info info;
    memset(&info, 0x5a, sizeof info);
    elmo_model_get_info(NULL, &info); /* no crash; nothing to report */
    elmo_model_get_info(model, NULL);
}

/* ---- streams, cache, names ------------------------------------------------------------ */

static void test_stream_reset(void) {
    elmo_stream *st = NULL;
    CHECK_INT(elmo_stream_new(model, &st, NULL), ELMO_OK);
    if (!st) return;
    elmo_stream *sv[1] = {st};
    elmo_result *stateless = run_with(model, NULL, &all[1], 1), *r = NULL;
    /* a new stream starts at zero: its first sentence equals stateless */
    CHECK_INT(elmo_run(model, NULL, &all[1], 1, sv, &r, NULL), ELMO_OK);
    CHECK(result_diff(r, stateless) <= TOL_BATCH);
    elmo_result_free(r);
    /* carried state changes the result... */
    CHECK_INT(elmo_run(model, NULL, &all[1], 1, sv, &r, NULL), ELMO_OK);
    double carried = result_diff(r, stateless);
    elmo_result_free(r);
    CHECK_INT(elmo_run(model, NULL, &all[2], 1, sv, &r, NULL), ELMO_OK);
    elmo_result_free(r);
    /* ...until a reset */
    elmo_stream_reset(st);
    CHECK_INT(elmo_run(model, NULL, &all[1], 1, sv, &r, NULL), ELMO_OK);
    double after_reset = result_diff(r, stateless);
    elmo_result_free(r);
    printf("  stream: carried state changes the result by %.3g; after reset %.3g\n", carried,
           after_reset);
    CHECK(carried > 1e-2);
    CHECK(after_reset >= 0 && after_reset <= TOL_BATCH);
    /* an empty sentence also advances the state (docs/model.md §7.2) */
    elmo_stream_reset(st);
    elmo_sentence empty = {NULL, NULL, 0};
    CHECK_INT(elmo_run(model, NULL, &empty, 1, sv, &r, NULL), ELMO_OK);
    elmo_result_free(r);
    CHECK_INT(elmo_run(model, NULL, &all[1], 1, sv, &r, NULL), ELMO_OK);
    CHECK(result_diff(r, stateless) > 1e-3);
    elmo_result_free(r);
    elmo_result_free(stateless);
    elmo_stream_free(st);
}

static void test_cache(void) {
    elmo_result *with_cache = run_with(model, NULL, all, 30);
    elmo_load_params lp = elmo_load_default_params();
    CHECK_INT(lp.cache_bytes, ELMO_CACHE_AUTO);
    const int64_t sizes[] = {0, 64, 4096};
    for (size_t i = 0; i < 3; i++) {
        lp.cache_bytes = sizes[i];
        elmo_model *m = NULL;
        CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, &lp, &m, NULL), ELMO_OK);
        if (!m) continue;
        /* twice: the second run hits whatever the cache kept */
        for (int pass = 0; pass < 2; pass++) {
            elmo_result *r = run_with(m, NULL, all, 30);
            double d = result_diff(r, with_cache);
            printf("  cache_bytes %lld, pass %d: max |diff| vs the default cache = %.3g\n",
                   (long long)sizes[i], pass + 1, d);
            CHECK(d >= 0 && d <= TOL_CACHE);
            elmo_result_free(r);
        }
        elmo_model_free(m);
    }
    elmo_run_params p = elmo_run_default_params();
    CHECK_INT(p.use_cache, 1);
    CHECK_INT(p.n_threads, 0);
    CHECK(p.interrupt == NULL);
    p.use_cache = 0;
    elmo_result *r = run_with(model, &p, all, 30);
    double d = result_diff(r, with_cache);
    CHECK(d >= 0 && d <= TOL_CACHE);
    elmo_result_free(r);
    elmo_result_free(with_cache);
}

static void test_names(void) {
    static const char *const names[] = {
        "ELMO_OK",        "ELMO_ERR_ARG",   "ELMO_ERR_IO",          "ELMO_ERR_FORMAT",
        "ELMO_ERR_NOMEM", "ELMO_ERR_LIMIT", "ELMO_ERR_INTERRUPTED", "ELMO_ERR_INTERNAL"};
    CHECK_INT(ELMO_ERR_INTERNAL, 7);
    for (int code = ELMO_OK; code <= ELMO_ERR_INTERNAL; code++)
        CHECK_STR(elmo_status_name(code), names[code]);
    const int unknown[] = {-1, 8, 1000};
    for (size_t i = 0; i < 3; i++) {
        const char *n = elmo_status_name(unknown[i]);
        CHECK(n != NULL && n[0] != '\0');
        for (int code = 0; n && code <= ELMO_ERR_INTERNAL; code++)
            CHECK(strcmp(n, names[code]) != 0);
    }
    const char *v = elmo_version();
    CHECK_CONTAINS(v, ELMO_VERSION);
    printf("  elmo_version: %s\n", v);
}

/* A run that fails half way (interrupted during the second LSTM layer, after the first
 * layer's final states were saved) leaves its streams exactly as they were. */
static void test_stream_after_failure(void) {
    elmo_stream *failed = NULL, *clean = NULL;
    CHECK_INT(elmo_stream_new(model, &failed, NULL), ELMO_OK);
    CHECK_INT(elmo_stream_new(model, &clean, NULL), ELMO_OK);
    if (!failed || !clean) return;
    elmo_stream *fv[1] = {failed}, *cv[1] = {clean};
    elmo_result *r = NULL;
    /* both streams see sentence 0 */
    CHECK_INT(elmo_run(model, NULL, &all[0], 1, fv, &r, NULL), ELMO_OK);
    elmo_result_free(r);
    CHECK_INT(elmo_run(model, NULL, &all[0], 1, cv, &r, NULL), ELMO_OK);
    elmo_result_free(r);
    /* sentence 1 fails on `failed`: one thread polls once per LSTM step, so stopping at
     * poll n_tokens + 2 + 4 lands in layer 2 */
    probe pr;
    elmo_run_params p = probed(&pr, 1, (int)all[1].n_tokens + 2 + 4);
    elmo_error err;
    CHECK_INT(elmo_run(model, &p, &all[1], 1, fv, &r, &err), ELMO_ERR_INTERRUPTED);
    /* then sentence 1 runs on both: the failed attempt must have left no trace */
    elmo_result *a = NULL, *b = NULL;
    CHECK_INT(elmo_run(model, NULL, &all[1], 1, fv, &a, NULL), ELMO_OK);
    CHECK_INT(elmo_run(model, NULL, &all[1], 1, cv, &b, NULL), ELMO_OK);
    CHECK(a && b && result_diff(a, b) == 0);
    elmo_result_free(a);
    elmo_result_free(b);
    elmo_stream_free(failed);
    elmo_stream_free(clean);
}

int main(void) {
    elmo_error err;
    int rc = elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, NULL, &model, &err);
    CHECK_INT(rc, ELMO_OK);
    int streams = 0, per = 0;
    sent = fx_read_sentences(FIXTURE_DIR "sentences.json", &streams, &per);
    CHECK(sent != NULL && streams * per == 30);
    if (rc == ELMO_OK && sent && streams * per == 30) {
        for (int i = 0; i < 30; i++) {
            tokenize(sent[i], &fixture[i]);
            all[i] = fixture[i].s;
        }
        test_elmo_threads(); /* first: before other runs create threads */
        test_interrupt();
        test_arguments();
        test_stream_reset();
        test_stream_after_failure();
        test_cache();
    }
    test_names();
    fx_free_strings(sent, (size_t)(streams * per));
    elmo_model_free(model);
    return harness_report("test_api");
}
