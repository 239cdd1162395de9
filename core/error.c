/* error.c - error codes and messages. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int elmo_fail(elmo_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
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
