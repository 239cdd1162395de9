/* progress.c - see progress.h. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* h:mm:ss, or m:ss under an hour. */
static void duration(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* Draws the current state; the caller holds p->mu. */
static void draw(progress *p) {
    double elapsed = progress_now() - p->start;
    int64_t done = p->done + p->errors;
    int64_t total = p->total > done ? p->total : done;
    double rate = elapsed > 0 ? done / elapsed : 0,
           tok_rate = elapsed > 0 ? p->tokens / elapsed : 0;
    double pct = total > 0 ? 100.0 * done / total : 100.0;
    char el[32], eta[32];
    duration(el, sizeof el, elapsed);
    if (done >= total) snprintf(eta, sizeof eta, "0:00");
    else if (rate > 0) duration(eta, sizeof eta, (total - done) / rate);
    else snprintf(eta, sizeof eta, "?");
    if (p->mode == PROGRESS_BAR) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        int fill = total > 0 ? (int)(WIDTH * done / total) : WIDTH;
        for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr,
                "\r\033[K[%s] %lld/%lld rows %3.0f%%  %.0f rows/s  %.0f tokens/s  %s  ETA %s", bar,
                (long long)done, (long long)total, pct, rate, tok_rate, el, eta);
    } else {
        fprintf(stderr,
                "elmo embed: %lld/%lld rows (%.0f%%), %.0f rows/s, %.0f tokens/s, "
                "elapsed %s, ETA %s\n",
                (long long)done, (long long)total, pct, rate, tok_rate, el, eta);
    }
    fflush(stderr);
}

static void *run(void *arg) {
    progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = (long)(p->interval * 1e9);
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec += ns % 1000000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &until) != 0 && !p->stop) draw(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void progress_start(progress *p, int quiet, double interval, int64_t total) {
    p->mode = quiet ? PROGRESS_NONE : isatty(2) ? PROGRESS_BAR : PROGRESS_LINES;
    p->interval = interval > 0 ? interval : p->mode == PROGRESS_BAR ? 1.0 : 5.0;
    p->stop = 0;
    p->have_thread = 0;
    p->start = progress_now();
    p->total = total;
    p->done = p->errors = p->tokens = 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (p->mode == PROGRESS_NONE) return;
    pthread_mutex_lock(&p->mu);
    draw(p);
    pthread_mutex_unlock(&p->mu);
    p->have_thread = pthread_create(&p->thread, NULL, run, p) == 0;
}

void progress_add(progress *p, int64_t done, int64_t errors, int64_t tokens) {
    pthread_mutex_lock(&p->mu);
    p->done += done;
    p->errors += errors;
    p->tokens += tokens;
    if (p->mode == PROGRESS_BAR) draw(p);
    pthread_mutex_unlock(&p->mu);
}

void progress_stop(progress *p) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->have_thread) pthread_join(p->thread, NULL);
    if (p->mode == PROGRESS_BAR) {
        draw(p);
        fputc('\n', stderr);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}
