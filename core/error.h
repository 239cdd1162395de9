/* error.h - filling an elmo_error. */
#ifndef ELMO_CORE_ERROR_H
#define ELMO_CORE_ERROR_H

#include "elmo.h"

/* Sets err (when not NULL) to code and a printf-formatted message; returns code. */
int elmo_fail(elmo_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err (when not NULL) to ELMO_OK with an empty message; returns ELMO_OK. */
int elmo_ok(elmo_error *err);

/* The text of an errno value (thread-safe strerror) in buf. */
const char *elmo_errno_text(int errnum, char *buf, size_t len);

/* A byte count for messages: "10.8 KiB", "357.1 MiB" or "1.2 GiB", in buf. */
const char *elmo_bytes_text(double bytes, char *buf, size_t len);

#endif
