/* signals.c - SIGINT/SIGTERM: remember the signal and interrupt the running statement
 * (sqlite3_interrupt only sets a flag, which is why SQLite's own shell calls it from its
 * handler). The program then rolls back the unfinished chunk and exits. */
#include <stddef.h>
#include <string.h>

#include "cli.h"

static volatile sig_atomic_t received;
static sqlite3 *volatile interrupt_db;

static void on_signal(int sig) {
    if (!received) received = sig;
    sqlite3 *db = interrupt_db;
    if (db) sqlite3_interrupt(db);
}

void cli_signals_install(sqlite3 *db) {
    interrupt_db = db;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking read returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_signals_db(sqlite3 *db) {
    interrupt_db = db;
}

int cli_signal_received(void) {
    return received;
}

int cli_signal_exit_code(int sig) {
    return sig == SIGTERM ? EXIT_SIGTERM : EXIT_SIGINT;
}
