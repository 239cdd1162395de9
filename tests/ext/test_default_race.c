/* test_default_race.c - with ELMO_MODEL set, calls on the default model race elmo_unload
 * ('default') from other threads and connections: every call must succeed (loading the
 * default again when it is gone), never fail with "no model named 'default'". Looking up
 * the default, loading it and taking the call's reference must be one step with respect
 * to unload. Runs for RACE_SECONDS (default 3) or until the first failure. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../harness.h"
#include "ext_db.h"

#define EMBEDDERS 3
#define UNLOADERS 2

static atomic_int stop;
static atomic_long calls, unloads, failures;
static char first_failure[512];
static pthread_mutex_t failure_lock = PTHREAD_MUTEX_INITIALIZER;

static void *embedder(void *arg) {
    (void)arg;
    sqlite3 *db = ext_open();
    if (!db) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    char msg[512];
    while (!atomic_load(&stop)) {
        if (ext_exec(db, "SELECT elmo_embed('rates')", msg, sizeof msg) != SQLITE_OK) {
            pthread_mutex_lock(&failure_lock);
            if (atomic_fetch_add(&failures, 1) == 0)
                snprintf(first_failure, sizeof first_failure, "%s", msg);
            pthread_mutex_unlock(&failure_lock);
            atomic_store(&stop, 1);
        }
        atomic_fetch_add(&calls, 1);
    }
    sqlite3_close(db);
    return NULL;
}

static void *unloader(void *arg) {
    (void)arg;
    sqlite3 *db = ext_open();
    if (!db) return NULL;
    while (!atomic_load(&stop))
        if (ext_exec(db, "SELECT elmo_unload('default')", NULL, 0) == SQLITE_OK)
            atomic_fetch_add(&unloads, 1); /* else it was not loaded at that moment */
    sqlite3_close(db);
    return NULL;
}

int main(void) {
    setenv("ELMO_MODEL", EXT_TINY_DIR, 1);
    unsetenv("ELMO_OPTIONS");
    unsetenv("ELMO_WEIGHTS");
    const char *env = getenv("RACE_SECONDS");
    double seconds = env ? atof(env) : 3.0;
    pthread_t t[EMBEDDERS + UNLOADERS];
    for (int i = 0; i < EMBEDDERS + UNLOADERS; i++)
        pthread_create(&t[i], NULL, i < EMBEDDERS ? embedder : unloader, NULL);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!atomic_load(&stop) &&
             (double)(now.tv_sec - start.tv_sec) + 1e-9 * (now.tv_nsec - start.tv_nsec) < seconds);
    atomic_store(&stop, 1);
    for (int i = 0; i < EMBEDDERS + UNLOADERS; i++) pthread_join(t[i], NULL);
    if (atomic_load(&failures)) fprintf(stderr, "first failure: %s\n", first_failure);
    CHECK_INT(atomic_load(&failures), 0);
    CHECK(atomic_load(&calls) > 0);
    CHECK(atomic_load(&unloads) > 0);
    /* the registry is process-wide: leave it empty for the leak checker */
    sqlite3 *db = ext_open();
    ext_exec(db, "SELECT elmo_unload('default')", NULL, 0);
    sqlite3_close(db);
    printf("test_default_race: %ld calls, %ld unloads\n", (long)atomic_load(&calls),
           (long)atomic_load(&unloads));
    return harness_report("test_default_race");
}
