/* messages.c - error messages: reporting them to SQLite, keeping echoed user input short
 * and valid UTF-8 (clients such as Python decode messages as UTF-8). */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* Length of the valid UTF-8 sequence at s [n], or 0 when s[0] does not start one. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len = c < 0x80                 ? 1
                 : c >= 0xC2 && c <= 0xDF ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    /* overlong forms, UTF-16 surrogates and code points above U+10FFFF */
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

void ext_message_clean(char *msg) {
    size_t n = strlen(msg);
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence((const unsigned char *)msg + i, n - i);
        if (len == 0) msg[i++] = '?';
        else i += len;
    }
}

const char *ext_shown(const char *s, char buf[EXT_SHOWN_MAX + 1]) {
    if (strlen(s) <= EXT_SHOWN_MAX) return s;
    memcpy(buf, s, EXT_SHOWN_MAX - 3);
    memcpy(buf + EXT_SHOWN_MAX - 3, "...", 4);
    return buf;
}

void ext_result_failure(sqlite3_context *ctx, int rc, char *msg) {
    if (rc == SQLITE_NOMEM || !msg) {
        sqlite3_result_error_nomem(ctx);
    } else {
        ext_message_clean(msg);
        sqlite3_result_error(ctx, msg, -1);
        sqlite3_result_error_code(ctx, rc);
    }
    sqlite3_free(msg);
}
