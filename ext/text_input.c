/* text_input.c - turning a SQL text argument into a tokenized elmo_sentence, under the
 * per-connection limits of elmo_limit(), and the checks shared by other arguments. */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

const char *ext_type_name(int type) {
    switch (type) {
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "BLOB";
    default: return "NULL";
    }
}

int ext_check_no_nul(const char *fn, const char *what, const char *s, size_t len, char **msg) {
    size_t at = strlen(s);
    if (at == len) return SQLITE_OK;
    *msg = sqlite3_mprintf("%s: %s contain%s a NUL character (at byte %lld of %lld); remove it", fn,
                           what, strcmp(what, "options") == 0 ? "" : "s", (long long)at,
                           (long long)len);
    return SQLITE_ERROR;
}

void ext_text_free(ext_text *t) {
    if (!t) return;
    sqlite3_free(t->spans);
    memset(t, 0, sizeof *t);
}

int ext_text_read(const char *fn, sqlite3_value *value, const ext_limits *limits,
                  elmo_tokenizer tokenizer, ext_text *t, char **msg) {
    memset(t, 0, sizeof *t);
    int type = sqlite3_value_type(value);
    if (type == SQLITE_NULL) {
        t->is_null = 1;
        return SQLITE_OK;
    }
    if (type != SQLITE_TEXT) {
        *msg = sqlite3_mprintf("%s: text must be TEXT or NULL, got %s", fn, ext_type_name(type));
        return SQLITE_ERROR;
    }
    /* Bytes as stored: no UTF-8 validation, the tokenizer keeps invalid bytes as word bytes.
     * The text is the one argument that may contain NUL characters: it is read by its
     * length, never as a C string, and a NUL is a word byte like any other control byte. */
    const char *text = (const char *)sqlite3_value_text(value);
    if (!text) return SQLITE_NOMEM;
    size_t len = (size_t)sqlite3_value_bytes(value);
    if ((sqlite3_int64)len > limits->max_text_bytes) {
        *msg = sqlite3_mprintf("%s: text is %lld bytes, more than max_text_bytes = %lld; raise "
                               "it with SELECT elmo_limit('max_text_bytes', N)",
                               fn, (long long)len, (long long)limits->max_text_bytes);
        return SQLITE_TOOBIG;
    }
    size_t n = elmo_tokenize(tokenizer, text, len, NULL, 0);
    if ((sqlite3_int64)n > limits->max_tokens) {
        *msg = sqlite3_mprintf("%s: text has %lld tokens, more than max_tokens = %lld; raise it "
                               "with SELECT elmo_limit('max_tokens', N)",
                               fn, (long long)n, (long long)limits->max_tokens);
        return SQLITE_TOOBIG;
    }
    if (n > 0) {
        t->spans = sqlite3_malloc64(n * sizeof *t->spans); /* [n] */
        if (!t->spans) return SQLITE_NOMEM;
        elmo_tokenize(tokenizer, text, len, t->spans, n);
    }
    t->sentence = (elmo_sentence){.text = text, .tokens = t->spans, .n_tokens = n};
    t->len = len;
    return SQLITE_OK;
}
