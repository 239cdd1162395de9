/* parallel.h - running independent tasks on a few threads, and cooperative cancellation. */
#ifndef ELMO_CORE_PARALLEL_H
#define ELMO_CORE_PARALLEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "elmo.h"

/* Cancellation shared by the tasks of one run. Only the thread that started the run may
 * call the user's callback (SQLite's interrupt check is not safe from other threads). */
typedef struct elmo_cancel {
    atomic_int stopped;
    elmo_interrupt_fn fn;
    void *arg;
    pthread_t owner;
} elmo_cancel;

void elmo_cancel_init(elmo_cancel *c, elmo_interrupt_fn fn, void *arg);

/* 1 when the run must stop. On the owner thread it also polls the user's callback. */
int elmo_cancel_check(elmo_cancel *c);

/* Worker threads to use: `requested` if > 0, else ELMO_THREADS, else the usable cores. */
int elmo_resolve_threads(int requested);

/* fn(ctx, task, worker) for every task in [0, n_tasks); worker is in [0, n_workers). */
typedef void (*elmo_task_fn)(void *ctx, size_t task, int worker);

/*
 * Runs the tasks on min(n_threads, n_tasks) threads, the caller being worker 0. Tasks are
 * handed out in order. While waiting for the others the caller keeps polling `cancel` so
 * an interrupt is seen promptly; tasks should also poll it. Falls back to fewer threads
 * if threads cannot be created. Returns the number of workers used.
 */
int elmo_parallel(int n_threads, size_t n_tasks, elmo_task_fn fn, void *ctx, elmo_cancel *cancel);

#endif
