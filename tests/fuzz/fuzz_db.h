/* fuzz_db.h - shared by the SQL fuzz targets: one in-process connection with the extension
 * (registered statically) and the bundled tiny model loaded once as 'default'. The targets
 * run from the repository root (tests/fuzz/run.sh does), where models/elmo-tiny is. */
#ifndef ELMO_FUZZ_DB_H
#define ELMO_FUZZ_DB_H

#include <stdint.h>
#include <stdlib.h>

#include "../ext/ext_db.h"

/* A finding: print what happened and abort, so libFuzzer saves the input. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz assertion failed: %s: ", #cond);                                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static sqlite3 *fuzz_db_con;

/* Loads the tiny model with its bundled language-model head as 'default' (again, after a
 * fuzzed elmo_unload removed it). */
static inline void fuzz_db_load_default(void) {
    char msg[512];
    int rc = ext_exec(fuzz_db_con,
                      "SELECT elmo_load('default', '" EXT_TINY_OPTIONS "', '" EXT_TINY_WEIGHTS
                      "', '{\"softmax\":\"" EXT_TINY_DIR
                      "/softmax_weights.hdf5\",\"vocab\":\"" EXT_TINY_DIR "/vocab.txt\"}')",
                      msg, sizeof msg);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "fuzz: cannot load the tiny model (run from the repository root): %s\n",
                msg);
        exit(1);
    }
}

static inline sqlite3 *fuzz_db(void) {
    if (!fuzz_db_con) {
        setenv("ELMO_THREADS", "1", 1);
        unsetenv("ELMO_MODEL");
        fuzz_db_con = ext_open();
        if (!fuzz_db_con) exit(1);
        fuzz_db_load_default();
    }
    return fuzz_db_con;
}

/* Steps a prepared statement to the end; on an error checks that it has a message. */
static inline int fuzz_step_all(sqlite3 *db, sqlite3_stmt *st) {
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) /* fetch every value */
            (void)sqlite3_column_bytes(st, i);
    }
    if (rc != SQLITE_DONE) {
        const char *msg = sqlite3_errmsg(db);
        FUZZ_ASSERT(msg && msg[0], "error %d without a message", rc);
        FUZZ_ASSERT(rc == SQLITE_ERROR || rc == SQLITE_TOOBIG || rc == SQLITE_NOMEM ||
                        rc == SQLITE_INTERRUPT,
                    "unexpected code %d: %s", rc, msg);
    }
    return rc;
}

#endif
