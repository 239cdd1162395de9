/* ext_db.h - the extension linked statically into a program with the system SQLite:
 * sqlite3_auto_extension registers it on every connection the program opens. Shared by the
 * in-process extension tests, the thread stress test and the SQL fuzz target. */
#ifndef ELMO_TEST_EXT_DB_H
#define ELMO_TEST_EXT_DB_H

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int sqlite3_elmo_init(sqlite3 *db, char **err, const void *api);

#define EXT_TINY_DIR "models/elmo-tiny"
#define EXT_TINY_OPTIONS EXT_TINY_DIR "/options.json"
#define EXT_TINY_WEIGHTS EXT_TINY_DIR "/weights.hdf5"

/* A new in-memory connection with the extension's functions; NULL on failure. */
static inline sqlite3 *ext_open(void) {
    static int registered;
    if (!registered) {
        sqlite3_auto_extension((void (*)(void))(void *)sqlite3_elmo_init);
        registered = 1;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/*
 * Runs one statement to completion, discarding the rows. Returns the result code; the
 * error message (or "") goes to msg [cap] when msg is not NULL.
 */
static inline int ext_exec(sqlite3 *db, const char *sql, char *msg, size_t cap) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) rc = SQLITE_OK;
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    if (msg && cap) snprintf(msg, cap, "%s", rc == SQLITE_OK ? "" : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

#endif
