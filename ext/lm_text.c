/* lm_text.c - elmo_predict's text: the mask token (default "[MASK]") is found in the text's
 * bytes, wherever it is, and becomes one token of its own; the text before and after it is
 * tokenized as usual (the default tokenizer would split "[MASK]" into three tokens). */
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* Offsets of the first two occurrences of mask in text (-1 when absent). */
static void find_masks(const char *text, size_t len, const char *mask, sqlite3_int64 at[2]) {
    size_t m = strlen(mask), found = 0;
    at[0] = at[1] = -1;
    for (size_t i = 0; m <= len && i <= len - m && found < 2; i++)
        if (memcmp(text + i, mask, m) == 0) {
            at[found++] = (sqlite3_int64)i;
            i += m - 1;
        }
}

int ext_lm_text_read(const char *fn, sqlite3_value *value, const ext_limits *limits,
                     const ext_lm_options *o, ext_text *t, int64_t *mask_index, char **msg) {
    *mask_index = ELMO_LM_NEXT_WORD;
    int rc = ext_text_read(fn, value, limits, o->tokenizer, t, msg);
    if (rc || t->is_null) return rc;
    const char *mask = o->mask ? o->mask : EXT_DEFAULT_MASK, *text = t->sentence.text;
    sqlite3_int64 at[2];
    find_masks(text, t->len, mask, at);
    if (at[0] < 0) return SQLITE_OK; /* no mask: the next word */
    char shown[EXT_SHOWN_MAX + 1];
    if (at[1] >= 0) {
        *msg = sqlite3_mprintf("%s: the text holds the mask token '%s' more than once; give one "
                               "(the word to predict), or none to predict the next word",
                               fn, ext_shown(mask, shown));
        return SQLITE_ERROR;
    }
    size_t a = (size_t)at[0], b = a + strlen(mask), len = t->len;
    size_t left = elmo_tokenize(o->tokenizer, text, a, NULL, 0);
    size_t right = elmo_tokenize(o->tokenizer, text + b, len - b, NULL, 0), n = left + 1 + right;
    if ((sqlite3_int64)n > limits->max_tokens) {
        *msg = sqlite3_mprintf("%s: text has %lld tokens, more than max_tokens = %lld; raise it "
                               "with SELECT elmo_limit('max_tokens', N)",
                               fn, (long long)n, (long long)limits->max_tokens);
        return SQLITE_TOOBIG;
    }
    elmo_span *spans = sqlite3_malloc64(n * sizeof *spans); /* [n] */
    if (!spans) return SQLITE_NOMEM;
    elmo_tokenize(o->tokenizer, text, a, spans, left);
    spans[left] = (elmo_span){a, b};
    elmo_tokenize(o->tokenizer, text + b, len - b, spans + left + 1, right);
    for (size_t i = left + 1; i < n; i++) spans[i].start += b, spans[i].end += b;
    sqlite3_free(t->spans);
    t->spans = spans;
    t->sentence.tokens = spans;
    t->sentence.n_tokens = n;
    *mask_index = (int64_t)left;
    return SQLITE_OK;
}
