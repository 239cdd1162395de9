/* error.h - filling an elmo_error. */
#ifndef ELMO_CORE_ERROR_H
#define ELMO_CORE_ERROR_H

#include <stddef.h>

#include "elmo.h"

/* Sets err (when not NULL) to code and a printf-formatted message; returns code. Bytes of
 * the message that could act on a terminal (control characters, C1 controls, bidirectional
 * overrides) or are not valid UTF-8 are written as \xNN (elmo_escape_text): names read
 * from model files can hold anything. */
int elmo_fail(elmo_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies s [n] into out [cap] (always NUL-terminated), each byte of a character that is not
 * valid, printable UTF-8 written as \xNN; a text that does not fit ends with "...". */
void elmo_escape_text(const char *s, size_t n, char *out, size_t cap);

/* Length of the valid UTF-8 sequence at s [n] (n >= 1), or 0: overlong forms,
 * surrogates, code points above U+10FFFF and truncated sequences are invalid. */
size_t elmo_utf8_sequence(const unsigned char *s, size_t n);

/* Sets err (when not NULL) to ELMO_OK with an empty message; returns ELMO_OK. */
int elmo_ok(elmo_error *err);

/* The text of an errno value (thread-safe strerror) in buf. */
const char *elmo_errno_text(int errnum, char *buf, size_t len);

/* A byte count for messages: "10.8 KiB", "357.1 MiB" or "1.2 GiB", in buf. */
const char *elmo_bytes_text(double bytes, char *buf, size_t len);

#endif
