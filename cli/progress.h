/* progress.h - progress of `elmo embed` on stderr: on a terminal a line fitted to its width
 * (redrawn after every chunk, every second, and at once when the terminal is resized), a
 * plain line every few seconds otherwise, nothing when quiet. A thread does the timed
 * redraws, so the line moves while a chunk is embedding.
 *
 * The counts are the job's, across runs: rows current before this run count as done, so a
 * resumed job shows how far the whole job is. Rates and the ETA come from the rows this
 * run embedded (failed rows do not count). */
#ifndef ELMO_CLI_PROGRESS_H
#define ELMO_CLI_PROGRESS_H

#include <pthread.h>
#include <stddef.h>
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
    double start;                     /* monotonic seconds */
    double last_draw;                 /* when the line was last drawn */
    int64_t done_before;              /* rows already current when the run started */
    int64_t total;                    /* done_before + the rows to embed, as counted at the start */
    int64_t embedded, errors, tokens; /* this run; tokens of the embedded rows */
} progress;

/* The monotonic clock in seconds. */
double progress_now(void);

/* mode: PROGRESS_BAR if stderr is a terminal, else PROGRESS_LINES (NONE when quiet);
 * interval <= 0: 1 s on a terminal, 5 s otherwise. Draws the first state at once. */
void progress_start(progress *p, int quiet, double interval, int64_t done_before, int64_t todo);

/* Adds a finished chunk's rows (embedded, failed) and the embedded rows' tokens, and
 * redraws the bar. */
void progress_add(progress *p, int64_t embedded, int64_t errors, int64_t tokens);

/* Stops the thread and ends the bar's line. */
void progress_stop(progress *p);

/* The width of the terminal on stderr: TIOCGWINSZ, else $COLUMNS, else 80. */
int progress_width(void);

/* Formats the bar for a terminal of `width` columns into out [cap]: it never takes more
 * than width - 1 columns (the last one would wrap on some terminals). */
void progress_format_bar(const progress *p, double now, int width, char *out, size_t cap);

#endif
