/* parallel.c - a minimal fork/join over pthreads; see parallel.h. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "parallel.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256

void elmo_cancel_init(elmo_cancel *c, elmo_interrupt_fn fn, void *arg) {
    atomic_init(&c->stopped, 0);
    c->fn = fn;
    c->arg = arg;
    c->owner = pthread_self();
}

int elmo_cancel_check(elmo_cancel *c) {
    if (!c) return 0;
    if (atomic_load_explicit(&c->stopped, memory_order_relaxed)) return 1;
    if (c->fn && pthread_equal(pthread_self(), c->owner) && c->fn(c->arg)) {
        atomic_store(&c->stopped, 1);
        return 1;
    }
    return 0;
}

int elmo_resolve_threads(int requested) {
    if (requested > 0) return requested < MAX_THREADS ? requested : MAX_THREADS;
    const char *env = getenv("ELMO_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0) return v < MAX_THREADS ? (int)v : MAX_THREADS;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set) < MAX_THREADS ? CPU_COUNT(&set) : MAX_THREADS;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n < MAX_THREADS ? (int)n : MAX_THREADS) : 1;
}

typedef struct pool {
    elmo_task_fn fn;
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;
    elmo_cancel *cancel;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int running; /* helper threads not yet finished */
} pool;

typedef struct worker_arg {
    pool *p;
    int index;
} worker_arg;

static void drain(pool *p, int worker) {
    for (;;) {
        size_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks) return;
        if (p->cancel && atomic_load(&p->cancel->stopped)) continue; /* skip, keep draining */
        p->fn(p->ctx, t, worker);
    }
}

static void *worker_main(void *arg) {
    worker_arg *w = arg;
    drain(w->p, w->index);
    pthread_mutex_lock(&w->p->lock);
    w->p->running--;
    pthread_cond_signal(&w->p->done_cond);
    pthread_mutex_unlock(&w->p->lock);
    return NULL;
}

int elmo_parallel(int n_threads, size_t n_tasks, elmo_task_fn fn, void *ctx, elmo_cancel *cancel) {
    if (n_tasks == 0) return 0;
    int n = n_threads < 1 ? 1 : n_threads;
    if ((size_t)n > n_tasks) n = (int)n_tasks;
    if (n > MAX_THREADS) n = MAX_THREADS;
    pool p = {.fn = fn, .ctx = ctx, .n_tasks = n_tasks, .cancel = cancel, .running = 0};
    atomic_init(&p.next, 0);
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.done_cond, NULL);

    pthread_t threads[MAX_THREADS];
    worker_arg args[MAX_THREADS];
    int started = 1;
    for (int i = 1; i < n; i++) {
        args[i] = (worker_arg){&p, i};
        pthread_mutex_lock(&p.lock);
        p.running++;
        pthread_mutex_unlock(&p.lock);
        if (pthread_create(&threads[i], NULL, worker_main, &args[i]) != 0) {
            pthread_mutex_lock(&p.lock);
            p.running--;
            pthread_mutex_unlock(&p.lock);
            break; /* fewer threads: the started ones and the caller share the tasks */
        }
        started++;
    }
    drain(&p, 0);
    /* Wait for the helpers, polling the interrupt callback (owner thread only). */
    pthread_mutex_lock(&p.lock);
    while (p.running > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 5 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p.done_cond, &p.lock, &until);
        if (p.running > 0) {
            pthread_mutex_unlock(&p.lock);
            elmo_cancel_check(cancel);
            pthread_mutex_lock(&p.lock);
        }
    }
    pthread_mutex_unlock(&p.lock);
    for (int i = 1; i < started; i++) pthread_join(threads[i], NULL);
    pthread_cond_destroy(&p.done_cond);
    pthread_mutex_destroy(&p.lock);
    return started;
}
