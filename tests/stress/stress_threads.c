/*
 * stress_threads.c - threads x connections on the tiny model, for ThreadSanitizer
 * (`make check-tsan`): each worker has its own connection and, in a random order, embeds
 * (elmo_embed, elmo_tokens, elmo_batch) with the default model (ELMO_MODEL) and two named
 * ones, scores and predicts words (elmo_perplexity, elmo_predict, elmo_lm, elmo_batch's
 * perplexities) with a third that has a language-model head, loads and unloads those
 * names, and unloads the default; one more thread interrupts
 * random connections with sqlite3_interrupt. Every statement must succeed or fail with an
 * expected message (interrupted, or a name unloaded by another thread meanwhile). Runs for
 * STRESS_SECONDS (default 20); exits non-zero on an unexpected result, and TSan reports
 * any data race.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../ext/ext_db.h"

#define WORKERS 4

static sqlite3 *dbs[WORKERS];
static atomic_int stop;
static atomic_long ok, interrupted, unloaded_meanwhile, unexpected;

static const char *const statements[] = {
    "SELECT elmo_embed('The bank raised rates .')",
    "SELECT elmo_embed('Rivers flood', '{\"model\":\"m1\",\"output\":\"top\"}')",
    "SELECT count(vector) FROM elmo_tokens('a b c d e f', '{\"model\":\"m2\"}')",
    "SELECT count(vector) FROM elmo_batch('SELECT 1, ''one two'' UNION ALL SELECT 2, "
    "''three four five''', 'all')",
    "SELECT elmo_load('m1', '" EXT_TINY_OPTIONS "', '" EXT_TINY_WEIGHTS "')",
    "SELECT elmo_load('m2', '" EXT_TINY_OPTIONS "', '" EXT_TINY_WEIGHTS "')",
    "SELECT elmo_unload('m1')",
    "SELECT elmo_unload('m2')",
    "SELECT elmo_unload('default')",
    "SELECT count(*) FROM elmo_models",
    /* the language model: m3 has the bundled head (its sweeps run on 2 threads too) */
    "SELECT elmo_load('m3', '" EXT_TINY_OPTIONS "', '" EXT_TINY_WEIGHTS
    "', '{\"softmax\":\"" EXT_TINY_DIR "/softmax_weights.hdf5\",\"vocab\":\"" EXT_TINY_DIR
    "/vocab.txt\"}')",
    "SELECT elmo_unload('m3')",
    "SELECT elmo_perplexity('The bank raised rates .', '{\"model\":\"m3\"}')",
    "SELECT count(*) FROM elmo_predict('The [MASK] raised rates .', 5, '{\"model\":\"m3\"}')",
    "SELECT count(*) FROM elmo_lm('a b c', '{\"model\":\"m3\"}')",
    "SELECT count(perplexity) FROM elmo_batch('SELECT 1, ''one two''', "
    "'{\"model\":\"m3\",\"output\":\"perplexity\"}')",
};
#define N_STATEMENTS (sizeof statements / sizeof statements[0])

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *worker(void *arg) {
    int id = (int)(size_t)arg;
    unsigned seed = 12345u + (unsigned)id;
    char msg[512];
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        const char *sql = statements[(seed >> 16) % N_STATEMENTS];
        int rc = ext_exec(dbs[id], sql, msg, sizeof msg);
        if (rc == SQLITE_OK) atomic_fetch_add(&ok, 1);
        /* An interrupt that lands while an eponymous virtual table is connected during the
         * prepare: its constructor fails with SQLITE_INTERRUPT and "interrupted", and
         * SQLite 3.40 reports every constructor failure of that path as SQLITE_ERROR with
         * the constructor's message. The message still says what happened. */
        else if ((rc == SQLITE_INTERRUPT || (rc == SQLITE_ERROR && strstr(sql, "FROM elmo_"))) &&
                 strcmp(msg, "interrupted") == 0)
            atomic_fetch_add(&interrupted, 1);
        else if (strstr(msg, "no model named 'm") ||
                 (strstr(sql, "elmo_unload") && strstr(msg, "no model named '")))
            /* another thread unloaded it (the default is loaded again on demand) */
            atomic_fetch_add(&unloaded_meanwhile, 1);
        else {
            atomic_fetch_add(&unexpected, 1);
            fprintf(stderr, "stress_threads: %s -> %d: %s\n", sql, rc, msg);
        }
    }
    return NULL;
}

static void *interrupter(void *arg) {
    (void)arg;
    unsigned seed = 99u;
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        sqlite3_interrupt(dbs[(seed >> 16) % WORKERS]);
        nanosleep(&(struct timespec){.tv_nsec = 2000000 + (long)(seed % 8000000)}, NULL);
    }
    return NULL;
}

int main(void) {
    setenv("ELMO_MODEL", EXT_TINY_DIR, 1);
    setenv("ELMO_THREADS", "2", 1);
    const char *env = getenv("STRESS_SECONDS");
    double seconds = env ? atof(env) : 20.0;
    for (int i = 0; i < WORKERS; i++)
        if (!(dbs[i] = ext_open())) return 1;
    pthread_t t[WORKERS + 1];
    for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)(size_t)i);
    pthread_create(&t[WORKERS], NULL, interrupter, NULL);
    double start = now();
    while (now() - start < seconds && !atomic_load(&unexpected))
        nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i <= WORKERS; i++) pthread_join(t[i], NULL);
    for (const char *const *n = (const char *const[]){"m1", "m2", "m3", "default", NULL}; *n; n++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT elmo_unload('%s')", *n);
        ext_exec(dbs[0], sql, NULL, 0);
    }
    for (int i = 0; i < WORKERS; i++) sqlite3_close(dbs[i]);
    printf("stress_threads: %d threads x connections, %.0f s: %ld statements succeeded, %ld "
           "interrupted, %ld found a name unloaded meanwhile, %ld unexpected\n",
           WORKERS, seconds, (long)ok, (long)interrupted, (long)unloaded_meanwhile,
           (long)unexpected);
    return atomic_load(&unexpected) || atomic_load(&ok) == 0 ? 1 : 0;
}
