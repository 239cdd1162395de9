/* progress.c - see progress.h. */
#define _DEFAULT_SOURCE /* SIGWINCH, TIOCGWINSZ */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile sig_atomic_t resized;

static void on_winch(int sig) {
    (void)sig;
    resized = 1;
}

int progress_width(void) {
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *columns = getenv("COLUMNS");
    int n = columns ? atoi(columns) : 0;
    return n > 0 ? n : 80;
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

/* What every form of the line shows. */
typedef struct figures {
    int64_t done, total;
    int pct;               /* floor: 100 only when done */
    double rate, tok_rate; /* rows and tokens per second embedded by this run */
    char eta[32], elapsed[32];
} figures;

static void compute(const progress *p, double now, figures *f) {
    double elapsed = now - p->start;
    f->done = p->done_before + p->embedded + p->errors;
    f->total = p->total > f->done ? p->total : f->done;
    f->pct = f->total > 0 ? (int)(100 * f->done / f->total) : 100;
    f->rate = elapsed > 0 ? p->embedded / elapsed : 0;
    f->tok_rate = elapsed > 0 ? p->tokens / elapsed : 0;
    duration(f->elapsed, sizeof f->elapsed, elapsed);
    if (f->done >= f->total) snprintf(f->eta, sizeof f->eta, "0:00");
    else if (f->rate > 0) duration(f->eta, sizeof f->eta, (f->total - f->done) / f->rate);
    else snprintf(f->eta, sizeof f->eta, "?");
}

/* The parts of the bar's line, in the order they are shown after the bar, and the order
 * in which they are given up when the terminal is narrow (the bar itself after the ETA). */
enum { PART_COUNTS, PART_PCT, PART_RATE, PART_TOKENS, PART_ELAPSED, PART_ETA, N_PARTS };
#define BAR_MIN 10 /* "[" 8 cells "]" */
#define BAR_MAX 40
#define BAR_RANK 3 /* the bar goes after the first three parts of `keep` */
static const int keep[N_PARTS] = {PART_COUNTS, PART_PCT,    PART_ETA,
                                  PART_RATE,   PART_TOKENS, PART_ELAPSED};

/* Chooses the parts that fit in `room` columns, in the order of `keep`, and the bar's width
 * (0: no bar). */
static void layout(char part[N_PARTS][48], int room, int shown[N_PARTS], int *bar) {
    int used = 0;
    *bar = 0;
    memset(shown, 0, N_PARTS * sizeof shown[0]);
    for (int r = 0; r < N_PARTS; r++) {
        if (r == BAR_RANK && used + (used ? 1 : 0) + BAR_MIN <= room) {
            *bar = BAR_MIN;
            used += BAR_MIN + (used ? 1 : 0);
        }
        int len = (int)strlen(part[keep[r]]), sep = used ? 2 : 0;
        if (used + sep + len > room) break;
        shown[keep[r]] = 1;
        used += sep + len;
    }
    if (*bar) *bar += room - used < BAR_MAX - BAR_MIN ? room - used : BAR_MAX - BAR_MIN;
}

void progress_format_bar(const progress *p, double now, int width, char *out, size_t cap) {
    figures f;
    compute(p, now, &f);
    char part[N_PARTS][48], a[32], b[32];
    snprintf(part[PART_COUNTS], sizeof part[0], "%s/%s rows", cli_count(a, f.done),
             cli_count(b, f.total));
    snprintf(part[PART_PCT], sizeof part[0], "%d%%", f.pct);
    snprintf(part[PART_RATE], sizeof part[0], "%s rows/s", cli_count(a, (long long)(f.rate + 0.5)));
    snprintf(part[PART_TOKENS], sizeof part[0], "%s tokens/s", cli_count(a, (long long)f.tok_rate));
    snprintf(part[PART_ELAPSED], sizeof part[0], "elapsed %s", f.elapsed);
    snprintf(part[PART_ETA], sizeof part[0], "ETA %s", f.eta);
    int room = width - 1, bar, shown[N_PARTS];
    layout(part, room, shown, &bar);
    if (!bar) { /* a narrow terminal: the bar before the word "rows" */
        part[PART_COUNTS][strlen(part[PART_COUNTS]) - strlen(" rows")] = '\0';
        layout(part, room, shown, &bar);
    }
    size_t at = 0;
    out[0] = '\0';
    if (bar) {
        int cells = bar - 2, fill = f.total > 0 ? (int)(cells * f.done / f.total) : cells;
        out[at++] = '[';
        for (int i = 0; i < cells; i++) out[at++] = i < fill ? '#' : '.';
        out[at++] = ']';
        out[at] = '\0';
    }
    for (int k = 0; k < N_PARTS; k++) {
        if (!shown[k]) continue;
        at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? (k == keep[0] ? " " : "  ") : "",
                               part[k]);
    }
    if (at == 0 && room > 0) /* not even the counts fit: as much of them as fits */
        snprintf(out, cap, "%.*s", room, part[PART_COUNTS]);
}

/* Draws the current state; the caller holds p->mu. */
static void draw(progress *p) {
    double now = progress_now();
    p->last_draw = now;
    if (p->mode == PROGRESS_BAR) {
        char line[512];
        int width = progress_width();
        progress_format_bar(p, now, width < (int)sizeof line ? width : (int)sizeof line, line,
                            sizeof line);
        fprintf(stderr, "\r%s\033[K", line);
    } else {
        figures f;
        compute(p, now, &f);
        char a[32], b[32], c[32], d[32];
        fprintf(stderr,
                "elmo embed: %s/%s rows (%d%%), %s rows/s, %s tokens/s, elapsed %s, ETA %s\n",
                cli_count(a, f.done), cli_count(b, f.total), f.pct,
                cli_count(c, (long long)(f.rate + 0.5)), cli_count(d, (long long)f.tok_rate),
                f.elapsed, f.eta);
    }
    fflush(stderr);
}

/* Redraws every interval, and within 0.1 s of a resize. */
static void *run(void *arg) {
    progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = until.tv_nsec + 100000000L;
        until.tv_sec += ns / 1000000000L;
        until.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&p->cv, &p->mu, &until);
        if (p->stop) break;
        if (resized || progress_now() - p->last_draw >= p->interval) {
            resized = 0;
            draw(p);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void progress_start(progress *p, int quiet, double interval, int64_t done_before, int64_t todo) {
    memset(p, 0, sizeof *p);
    p->mode = quiet ? PROGRESS_NONE : isatty(2) ? PROGRESS_BAR : PROGRESS_LINES;
    p->interval = interval > 0 ? interval : p->mode == PROGRESS_BAR ? 1.0 : 5.0;
    p->start = progress_now();
    p->done_before = done_before;
    p->total = done_before + todo;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (p->mode == PROGRESS_NONE) return;
    if (p->mode == PROGRESS_BAR) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_winch;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART; /* the engine's threads may take it: no EINTR for them */
        sigaction(SIGWINCH, &sa, NULL);
    }
    pthread_mutex_lock(&p->mu);
    draw(p);
    pthread_mutex_unlock(&p->mu);
    p->have_thread = pthread_create(&p->thread, NULL, run, p) == 0;
}

void progress_add(progress *p, int64_t embedded, int64_t errors, int64_t tokens) {
    pthread_mutex_lock(&p->mu);
    p->embedded += embedded;
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
        signal(SIGWINCH, SIG_DFL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}
