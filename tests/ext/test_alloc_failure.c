/*
 * test_alloc_failure.c - fails the Nth allocation, for every N, through a model load and a
 * run: first through the C API (load, run, mix, batch embedding; then a load with the
 * language-model head, scores, perplexities, predictions), then through SQL (elmo_load
 * with the head, elmo_embed, elmo_tokens, elmo_batch, elmo_lm, elmo_perplexity,
 * elmo_predict, elmo_batch's perplexities). Each time: no crash, a failure with a
 * non-empty message, and (in the sanitizer build) no leak. Also checks that the core's
 * out-of-memory message reaches SQL intact rather than as a bare "out of memory".
 *
 * Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=elmo_big_alloc: the
 * library's and the extension's own allocations go through the counters below (those of
 * libhdf5, cJSON and OpenBLAS do not). SQLite's allocations are counted too, through
 * SQLITE_CONFIG_MALLOC. The runs use one thread so the count is deterministic.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <stdatomic.h>
#include <stdlib.h>

#include "../harness.h"
#include "elmo.h"
#include "ext_db.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_elmo_big_alloc(size_t n);

static atomic_long counted;     /* allocations since arm() */
static atomic_long fail_at;     /* 0: never fail */
static atomic_long big_fail_at; /* fail only the Nth elmo_big_alloc (0: never) */
static atomic_long big_counted;

static int should_fail(void) {
    long n = atomic_fetch_add(&counted, 1) + 1;
    return atomic_load(&fail_at) == n;
}

void *__wrap_malloc(size_t n) {
    return should_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
    return should_fail() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
    return should_fail() ? NULL : __real_realloc(p, n);
}
void *__wrap_elmo_big_alloc(size_t n) {
    long k = atomic_fetch_add(&big_counted, 1) + 1;
    if (atomic_load(&big_fail_at) == k) return NULL;
    return should_fail() ? NULL : __real_elmo_big_alloc(n);
}

/* SQLite's allocator, wrapped the same way. */
static sqlite3_mem_methods sqlite_mem;
static void *sqlite_malloc(int n) {
    return should_fail() ? NULL : sqlite_mem.xMalloc(n);
}
static void *sqlite_realloc(void *p, int n) {
    return should_fail() ? NULL : sqlite_mem.xRealloc(p, n);
}

static void arm(long n) {
    atomic_store(&counted, 0);
    atomic_store(&fail_at, n);
}

/* Did the armed failure happen? Disarms. */
static int disarm(void) {
    long n = atomic_load(&fail_at);
    atomic_store(&fail_at, 0);
    return n > 0 && atomic_load(&counted) >= n;
}

#define MAX_N 20000
#define OUT_FLOATS (2 * 96 + 2 * 32) /* mix ALL [2 tokens, (L+1) D] + batch [2, D] */

static float reference_out[OUT_FLOATS];

/* Load, run two sentences, mix, then a batch embedding, failing allocation n (0: none; the
 * output becomes the reference). Returns 1 when the failure was injected. A failure may
 * also be absorbed (the token cache is optional): then the output must be unchanged. */
static int core_once(long n) {
    elmo_error err = {0};
    elmo_model *m = NULL;
    int failed = 0;
    arm(n);
    elmo_load_params lp = elmo_load_default_params();
    int rc = elmo_model_load(EXT_TINY_OPTIONS, EXT_TINY_WEIGHTS, &lp, &m, &err);
    if (rc == ELMO_OK) {
        static const char a[] = "The bank raised rates .", b[] = "Rivers flood";
        elmo_span sa[8], sb[8];
        elmo_sentence s[2] = {
            {.text = a,
             .tokens = sa,
             .n_tokens = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, a, sizeof a - 1, sa, 8)},
            {.text = b,
             .tokens = sb,
             .n_tokens = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, b, sizeof b - 1, sb, 8)}};
        elmo_run_params run = elmo_run_default_params();
        run.n_threads = 1;
        elmo_result *result = NULL;
        rc = elmo_run(m, &run, s, 2, NULL, &result, &err);
        float out[OUT_FLOATS];
        memset(out, 0, sizeof out);
        if (rc == ELMO_OK) {
            elmo_mix mix = elmo_mix_default();
            mix.kind = ELMO_MIX_ALL;
            rc = elmo_result_mix(result, 1, &mix, out, &err);
        }
        elmo_result_free(result);
        if (rc == ELMO_OK) {
            elmo_embed_params ep = elmo_embed_default_params();
            rc = elmo_embed_batch(m, &run, &ep, s, 2, out + 2 * 96, &err);
        }
        if (rc == ELMO_OK && n == 0) memcpy(reference_out, out, sizeof out);
        if (rc == ELMO_OK) CHECK(memcmp(out, reference_out, sizeof out) == 0);
    }
    failed = disarm();
    elmo_model_free(m);
    if (failed) {
        CHECK(rc == ELMO_OK || err.message[0] != '\0');
    } else {
        CHECK_INT(rc, ELMO_OK);
    }
    return failed;
}

#define TINY_SOFTMAX EXT_TINY_DIR "/softmax_weights.hdf5"
#define TINY_VOCAB EXT_TINY_DIR "/vocab.txt"

static double reference_lm[3]; /* a score, a perplexity, a prediction */

/* The same for the language model: a load with the head, then elmo_lm_score,
 * elmo_lm_perplexity and elmo_lm_predict on two sentences. */
static int lm_once(long n) {
    elmo_error err = {0};
    elmo_model *m = NULL;
    arm(n);
    elmo_load_params lp = elmo_load_default_params();
    lp.softmax_path = TINY_SOFTMAX;
    lp.vocab_path = TINY_VOCAB;
    int rc = elmo_model_load(EXT_TINY_OPTIONS, EXT_TINY_WEIGHTS, &lp, &m, &err);
    double got[3] = {0, 0, 0};
    if (rc == ELMO_OK) {
        static const char a[] = "The bank raised rates .", b[] = "Rivers flood";
        elmo_span sa[8], sb[8];
        elmo_sentence s[2] = {
            {a, sa, elmo_tokenize(ELMO_TOKENIZER_DEFAULT, a, sizeof a - 1, sa, 8)},
            {b, sb, elmo_tokenize(ELMO_TOKENIZER_DEFAULT, b, sizeof b - 1, sb, 8)}};
        elmo_run_params run = elmo_run_default_params();
        run.n_threads = 1;
        elmo_lm_token tok[11];
        double ppl[2];
        elmo_lm_prediction pred[2 * 3];
        int64_t masks[2] = {1, ELMO_LM_NEXT_WORD};
        rc = elmo_lm_score(m, &run, NULL, s, 2, tok, &err);
        if (rc == ELMO_OK) rc = elmo_lm_perplexity(m, &run, NULL, s, 2, ppl, &err);
        if (rc == ELMO_OK) rc = elmo_lm_predict(m, &run, NULL, s, masks, 2, 3, pred, &err);
        if (rc == ELMO_OK) {
            got[0] = tok[3].logprob_forward;
            got[1] = ppl[1];
            got[2] = pred[4].logprob;
            if (n == 0) memcpy(reference_lm, got, sizeof got);
            CHECK(memcmp(got, reference_lm, sizeof got) == 0);
        }
    }
    int failed = disarm();
    elmo_model_free(m);
    if (failed) CHECK(rc == ELMO_OK || err.message[0] != '\0');
    else CHECK_INT(rc, ELMO_OK);
    return failed;
}

static const char *const sql_calls[] = {
    "SELECT elmo_embed('The bank raised rates.', '{\"model\":\"m\"}')",
    "SELECT * FROM elmo_tokens('Rivers flood banks', '{\"model\":\"m\",\"output\":\"top\"}')",
    "SELECT * FROM elmo_batch('SELECT 1, ''one two'' UNION ALL SELECT 2, ''three''', "
    "'{\"model\":\"m\"}')",
    /* the language model ('m' is loaded with the bundled head) */
    "SELECT * FROM elmo_lm('Rivers flood banks', '{\"model\":\"m\"}')",
    "SELECT elmo_perplexity('The bank raised rates.', '{\"model\":\"m\"}')",
    "SELECT * FROM elmo_predict('The [MASK] raised rates.', 3, '{\"model\":\"m\"}')",
    "SELECT * FROM elmo_batch('SELECT 1, ''one two'' UNION ALL SELECT 2, ''three''', "
    "'{\"model\":\"m\",\"output\":\"perplexity\"}')",
};

/* elmo_load then each call, failing allocation n; 1 when the failure was injected. */
static int sql_once(sqlite3 *db, long n) {
    char load[1024], msg[1024] = "";
    snprintf(load, sizeof load,
             "SELECT elmo_load('m', '%s', '%s', '{\"softmax\":\"%s\",\"vocab\":\"%s\"}')",
             EXT_TINY_OPTIONS, EXT_TINY_WEIGHTS, TINY_SOFTMAX, TINY_VOCAB);
    arm(n);
    int rc = ext_exec(db, load, msg, sizeof msg);
    int bad_message = rc != SQLITE_OK && !msg[0];
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof sql_calls / sizeof sql_calls[0]; i++) {
        rc = ext_exec(db, sql_calls[i], msg, sizeof msg);
        bad_message |= rc != SQLITE_OK && !msg[0];
    }
    int failed = disarm();
    ext_exec(db, "SELECT elmo_unload('m')", NULL, 0);
    if (!failed && rc != SQLITE_OK) {
        fprintf(stderr, "sql_once(%ld): %s\n", n, msg);
        CHECK_INT(rc, SQLITE_OK);
    }
    CHECK(!bad_message);
    return failed;
}

/* A core out-of-memory error keeps its message in SQL, with SQLITE_ERROR. */
static void test_nomem_message(sqlite3 *db) {
    char load[1024], msg[1024], expected[2048], *real = realpath(EXT_TINY_WEIGHTS, NULL);
    CHECK(real != NULL);
    snprintf(load, sizeof load, "SELECT elmo_load('m', '%s', '%s')", EXT_TINY_OPTIONS,
             EXT_TINY_WEIGHTS);
    atomic_store(&big_counted, 0);
    atomic_store(&big_fail_at, 1); /* the file's image: the load's first big allocation */
    int rc = ext_exec(db, load, msg, sizeof msg);
    snprintf(expected, sizeof expected,
             "elmo_load: cannot load model 'm': out of memory allocating 440.3 KiB to read "
             "weights file '%s'",
             real ? real : "?");
    CHECK_INT(rc, SQLITE_ERROR);
    CHECK_STR(msg, expected);
    atomic_store(&big_counted, 0);
    atomic_store(&big_fail_at, 2); /* the small tensors' arena */
    rc = ext_exec(db, load, msg, sizeof msg);
    atomic_store(&big_fail_at, 0);
    snprintf(expected, sizeof expected,
             "elmo_load: cannot load model 'm': out of memory allocating 10.8 KiB of weights "
             "(embeddings and biases) from '%s'",
             real ? real : "?");
    CHECK_INT(rc, SQLITE_ERROR);
    CHECK_STR(msg, expected);

    CHECK_INT(ext_exec(db, load, msg, sizeof msg), SQLITE_OK);
    atomic_store(&big_counted, 0);
    atomic_store(&big_fail_at, 1); /* the run's first big allocation */
    rc = ext_exec(db, sql_calls[0], msg, sizeof msg);
    atomic_store(&big_fail_at, 0);
    CHECK_INT(rc, SQLITE_ERROR);
    CHECK(strncmp(msg, "elmo_embed: out of memory", 25) == 0 && strlen(msg) > 25);
    /* The char CNN's scratch: its size, the workers and the model's file (a new text, so
     * that its tokens miss the cache). */
    int seen = 0;
    for (long k = 1; k <= 8 && !seen; k++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT elmo_embed('zq%ldx wv%ldy', '{\"model\":\"m\"}')", k, k);
        atomic_store(&big_counted, 0);
        atomic_store(&big_fail_at, k);
        rc = ext_exec(db, sql, msg, sizeof msg);
        atomic_store(&big_fail_at, 0);
        seen = rc == SQLITE_ERROR && strstr(msg, "of char-CNN scratch (") != NULL;
    }
    CHECK(seen);
    snprintf(expected, sizeof expected,
             "for the model of '%s': 50 characters per token, filters up to 5 wide, 4-wide "
             "character embeddings, 124 filters",
             real ? real : "?");
    if (seen) CHECK_CONTAINS(msg, "elmo_embed: out of memory allocating ");
    if (seen) CHECK_CONTAINS(msg, expected);
    free(real);
    ext_exec(db, "SELECT elmo_unload('m')", NULL, 0);
}

int main(void) {
    setenv("ELMO_THREADS", "1", 1);
    sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_mem);
    sqlite3_mem_methods wrapped = sqlite_mem;
    wrapped.xMalloc = sqlite_malloc;
    wrapped.xRealloc = sqlite_realloc;
    CHECK_INT(sqlite3_config(SQLITE_CONFIG_MALLOC, &wrapped), SQLITE_OK);

    core_once(0);
    long n = 1, core_points = 0, sql_points = 0, lm_points = 0;
    for (; n < MAX_N && core_once(n); n++) core_points++;
    CHECK(n < MAX_N);
    lm_once(0);
    for (n = 1; n < MAX_N && lm_once(n); n++) lm_points++;
    CHECK(n < MAX_N);
    sqlite3 *db = ext_open();
    CHECK(db != NULL);
    if (!db) return harness_report("test_alloc_failure");
    for (n = 1; n < MAX_N && sql_once(db, n); n++) sql_points++;
    CHECK(n < MAX_N);
    test_nomem_message(db);
    sqlite3_close(db);
    printf("test_alloc_failure: failed each of %ld allocations of the C API path, %ld of the "
           "language model's and %ld of the SQL path\n",
           core_points, lm_points, sql_points);
    return harness_report("test_alloc_failure");
}
