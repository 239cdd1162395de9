/* locks.h - waiting for other connections' locks, with the wait measured so that messages
 * can say how long it really was. */
#ifndef ELMO_CLI_LOCKS_H
#define ELMO_CLI_LOCKS_H

#include <sqlite3.h>

typedef struct cli_busy {
    int timeout_ms; /* how long one operation may wait for a lock */
    double start;   /* when the current wait began (monotonic seconds) */
    double waited;  /* seconds the last wait lasted */
    int retrying;   /* inside a retry loop that owns the wait (start is not reset) */
} cli_busy;

/* Makes `db` wait up to timeout_ms for a lock (a busy handler that measures the wait and
 * gives up at once on SIGINT/SIGTERM). */
void cli_busy_install(sqlite3 *db, cli_busy *busy, int timeout_ms);

/* Forgets the last wait: call before an operation whose wait a message may report. */
void cli_busy_reset(cli_busy *busy);

/* Milliseconds the last wait lasted. */
int cli_busy_waited_ms(const cli_busy *busy);

/* PRAGMA journal_mode=WAL, retried until the timeout: SQLite answers SQLITE_BUSY at once,
 * without calling the busy handler, while another connection holds a lock, since the
 * switch needs the database to itself. Returns the SQLite code of the last try. */
int cli_switch_to_wal(sqlite3 *db, cli_busy *busy);

#endif
