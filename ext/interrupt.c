/* interrupt.c - noticing sqlite3_interrupt() while the model runs.
 *
 * SQLite 3.40 has no sqlite3_is_interrupted(). But while a statement of the connection is
 * running, the interrupt flag stays set, and any statement stepped on that connection
 * stops with SQLITE_INTERRUPT at its first jump. So the core's interrupt callback steps a
 * trivial "SELECT 1" (about a microsecond). The core calls it only from the thread that
 * called it, which is the thread SQLite is running the statement on. */
#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

int ext_interrupt_open(const char *fn, sqlite3 *db, ext_interrupt *it, char **msg) {
    it->probe = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &it->probe, NULL);
    if (rc == SQLITE_INTERRUPT) /* the connection is already interrupted */
        *msg = sqlite3_mprintf("interrupted");
    else if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
        *msg = sqlite3_mprintf("%s: cannot prepare the interrupt check: %s", fn,
                               sqlite3_errmsg(db));
    return rc;
}

int ext_interrupt_poll(void *arg) {
    ext_interrupt *it = arg;
    if (!it || !it->probe) return 0;
    int rc = sqlite3_step(it->probe);
    sqlite3_reset(it->probe);
    return rc == SQLITE_INTERRUPT;
}

void ext_interrupt_close(ext_interrupt *it) {
    sqlite3_finalize(it->probe);
    it->probe = NULL;
}
