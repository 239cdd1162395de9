/* conn.c - the per-connection state: the limits of elmo_limit(), shared by reference count
 * between the functions and modules registered on one connection. */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

ext_conn *ext_conn_new(void) {
    ext_conn *conn = sqlite3_malloc64(sizeof *conn);
    if (!conn) return NULL;
    conn->refs = 1;
    conn->limits.max_text_bytes = EXT_DEFAULT_MAX_TEXT_BYTES;
    conn->limits.max_tokens = EXT_DEFAULT_MAX_TOKENS;
    return conn;
}

ext_conn *ext_conn_ref(ext_conn *conn) {
    conn->refs++;
    return conn;
}

void ext_conn_unref(void *p) {
    ext_conn *conn = p;
    if (conn && --conn->refs == 0) sqlite3_free(conn);
}

sqlite3_int64 *ext_limit_slot(ext_limits *limits, const char *name) {
    if (strcmp(name, "max_text_bytes") == 0) return &limits->max_text_bytes;
    if (strcmp(name, "max_tokens") == 0) return &limits->max_tokens;
    return NULL;
}
