/* error.c - error codes and messages. */
#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t elmo_utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len = c < 0x80                 ? 1
                 : c >= 0xC2 && c <= 0xDF ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

/* Bytes of the UTF-8 character at s [n] when it is valid and harmless on a terminal, else
 * 0. Refused: C0 controls and DEL (ESC, BEL, CR...), C1 controls U+0080..U+009F (8-bit
 * CSI), bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069), and what
 * elmo_utf8_sequence refuses. */
static size_t shown_char(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return c >= 0x20 && c != 0x7f;
    size_t len = elmo_utf8_sequence(s, n);
    if (len == 0) return 0;
    if (c == 0xC2 && s[1] <= 0x9F) return 0; /* C1 */
    if (c == 0xE2 && s[1] == 0x80 && s[2] >= 0xAA && s[2] <= 0xAE) return 0;
    if (c == 0xE2 && s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9) return 0;
    return len;
}

/* Writes the escaped form of s [n] into out when out is not NULL; returns its length. Stops
 * before `limit` bytes. */
static size_t escape(const unsigned char *s, size_t n, char *out, size_t limit) {
    static const char hex[] = "0123456789abcdef";
    size_t used = 0;
    for (size_t i = 0; i < n;) {
        size_t len = shown_char(s + i, n - i), need = len ? len : 4;
        if (used + need > limit) break;
        if (out && len) memcpy(out + used, s + i, len);
        if (out && !len) {
            out[used] = '\\';
            out[used + 1] = 'x';
            out[used + 2] = hex[s[i] >> 4];
            out[used + 3] = hex[s[i] & 15];
        }
        i += len ? len : 1;
        used += need;
    }
    return used;
}

void elmo_escape_text(const char *in, size_t n, char *out, size_t cap) {
    const unsigned char *s = (const unsigned char *)in;
    if (cap < 4) {
        if (cap) out[0] = '\0';
        return;
    }
    if (escape(s, n, NULL, SIZE_MAX) < cap) {
        out[escape(s, n, out, cap - 1)] = '\0';
        return;
    }
    size_t used = escape(s, n, out, cap - 4); /* cut short: end with "..." */
    memcpy(out + used, "...", 4);
}

int elmo_fail(elmo_error *err, int code, const char *fmt, ...) {
    if (err) {
        /* Messages carry names and strings read from model files: whatever bytes they hold
         * are escaped here, once, so no message can drive the terminal that shows it. */
        char raw[ELMO_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        elmo_escape_text(raw, strlen(raw), err->message, sizeof err->message);
        err->code = code;
    }
    return code;
}

const char *elmo_errno_text(int errnum, char *buf, size_t len) {
    /* POSIX strerror_r (this file is not built with _GNU_SOURCE): 0 on success. */
    if (strerror_r(errnum, buf, len) != 0) snprintf(buf, len, "error %d", errnum);
    return buf;
}

int elmo_ok(elmo_error *err) {
    if (err) {
        err->code = ELMO_OK;
        err->message[0] = '\0';
    }
    return ELMO_OK;
}

const char *elmo_status_name(int code) {
    switch (code) {
    case ELMO_OK: return "ELMO_OK";
    case ELMO_ERR_ARG: return "ELMO_ERR_ARG";
    case ELMO_ERR_IO: return "ELMO_ERR_IO";
    case ELMO_ERR_FORMAT: return "ELMO_ERR_FORMAT";
    case ELMO_ERR_NOMEM: return "ELMO_ERR_NOMEM";
    case ELMO_ERR_LIMIT: return "ELMO_ERR_LIMIT";
    case ELMO_ERR_INTERRUPTED: return "ELMO_ERR_INTERRUPTED";
    case ELMO_ERR_INTERNAL: return "ELMO_ERR_INTERNAL";
    default: return "ELMO_ERR_UNKNOWN";
    }
}

const char *elmo_bytes_text(double bytes, char *buf, size_t len) {
    if (bytes < 1024.0 * 1024) snprintf(buf, len, "%.1f KiB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024) snprintf(buf, len, "%.1f MiB", bytes / (1024 * 1024));
    else snprintf(buf, len, "%.1f GiB", bytes / (1024 * 1024 * 1024));
    return buf;
}
