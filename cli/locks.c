/* locks.c - see locks.h. The wait is a loop of short sleeps, as SQLite's own busy timeout
 * does, but on a clock: the time reported is the time that passed. */
#include <time.h>

#include "cli.h"
#include "locks.h"
#include "progress.h"

/* Sleeps growing from 1 ms to 50 ms: a lock held for a moment costs little, a long one
 * few wake-ups. */
static double backoff(int attempt) {
    static const int ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50};
    int n = (int)(sizeof ms / sizeof ms[0]);
    return (attempt < n ? ms[attempt] : ms[n - 1]) / 1000.0;
}

/* One more short sleep of the wait that began at b->start, never past the timeout; 0 once
 * the wait is over. */
static int wait_more(cli_busy *b, int attempt) {
    b->waited = progress_now() - b->start;
    double left = b->timeout_ms / 1000.0 - b->waited;
    if (left <= 0 || cli_signal_received()) return 0;
    double s = backoff(attempt) < left ? backoff(attempt) : left;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* a signal cuts it short: the next call sees it */
    b->waited = progress_now() - b->start;
    return 1;
}

static int on_busy(void *arg, int attempt) {
    cli_busy *b = arg;
    if (attempt == 0 && !b->retrying) b->start = progress_now(); /* a new wait */
    return wait_more(b, attempt);
}

void cli_busy_install(sqlite3 *db, cli_busy *busy, int timeout_ms) {
    busy->timeout_ms = timeout_ms;
    cli_busy_reset(busy);
    sqlite3_busy_handler(db, on_busy, busy);
}

void cli_busy_reset(cli_busy *busy) {
    busy->start = progress_now();
    busy->waited = 0;
}

int cli_busy_waited_ms(const cli_busy *busy) {
    return (int)(busy->waited * 1000 + 0.5);
}

int cli_switch_to_wal(sqlite3 *db, cli_busy *busy) {
    cli_busy_reset(busy);
    busy->retrying = 1; /* one wait across the tries, whatever the handler sees */
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        int primary = rc & 0xff;
        if (primary != SQLITE_BUSY && primary != SQLITE_LOCKED) break;
        if (!wait_more(busy, attempt)) break;
    }
    busy->retrying = 0;
    return rc;
}
