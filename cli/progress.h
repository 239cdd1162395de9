/* progress.h - progress of `elmo embed` on stderr: a live bar on a terminal (redrawn after
 * every chunk and every second), a plain line every few seconds otherwise, nothing when
 * quiet. A thread does the timed redraws, so the bar moves while a chunk is embedding. */
#ifndef ELMO_CLI_PROGRESS_H
#define ELMO_CLI_PROGRESS_H

#include <pthread.h>
#include <stdint.h>

typedef enum { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_LINES } progress_mode;

typedef struct progress {
    progress_mode mode;
    double interval; /* seconds between timed redraws */
    pthread_t thread;
    int have_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    double start;  /* monotonic seconds */
    int64_t total; /* rows to do, as counted at the start */
    int64_t done, errors, tokens;
} progress;

/* The monotonic clock in seconds. */
double progress_now(void);

/* mode: PROGRESS_BAR if stderr is a terminal, else PROGRESS_LINES (NONE when quiet);
 * interval <= 0: 1 s on a terminal, 5 s otherwise. Draws the first state at once. */
void progress_start(progress *p, int quiet, double interval, int64_t total);

/* Adds a finished chunk's counts and redraws the bar. */
void progress_add(progress *p, int64_t done, int64_t errors, int64_t tokens);

/* Stops the thread and ends the bar's line. */
void progress_stop(progress *p);

#endif
