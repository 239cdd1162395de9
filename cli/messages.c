/* messages.c - what a user of the program reads: the extension's messages with their SQL
 * advice replaced by the flags that do the same, and counts with thousands separators. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *cli_count(char buf[32], long long n) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", n < 0 ? -n : n), at = 0;
    if (n < 0) buf[at++] = '-';
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[at++] = ',';
        buf[at++] = digits[i];
    }
    buf[at] = '\0';
    return buf;
}

/* The extension's SQL advice and what a user of the program does instead. */
static const struct {
    const char *sql, *cli;
} advice[] = {
    {"max_tokens = ", "--max-tokens "},
    {"max_text_bytes = ", "--max-text-bytes "},
    {"raise it with SELECT elmo_limit('max_tokens', N)", "raise it with --max-tokens N"},
    {"raise it with SELECT elmo_limit('max_text_bytes', N)", "raise it with --max-text-bytes N"},
    {"load the model with precision 'fp32'", "use --precision fp32 (or auto)"},
};

/* Where the function's name and the row are: "elmo_batch: row 3 of the query (id 7): ". */
static const char *skip_prefix(const char *msg) {
    static const char *const functions[] = {
        "elmo_batch: ", "elmo_embed: ", "elmo_load: ", "elmo_tokens: "};
    for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++) {
        size_t n = strlen(functions[k]);
        if (strncmp(msg, functions[k], n) != 0) continue;
        msg += n;
        const char *id = strstr(msg, " (id ");
        if (strncmp(msg, "row ", 4) == 0 && id && strstr(id, "): ")) msg = strstr(id, "): ") + 3;
        return msg;
    }
    return msg;
}

char *cli_message(const char *msg, const char *cast_hint) {
    if (!msg) return sqlite3_mprintf("out of memory");
    const char *rest = skip_prefix(msg);
    sqlite3_str *out = sqlite3_str_new(NULL);
    while (*rest) {
        size_t k = 0, n = sizeof advice / sizeof advice[0];
        while (k < n && strncmp(rest, advice[k].sql, strlen(advice[k].sql)) != 0) k++;
        if (k < n) {
            sqlite3_str_appendall(out, advice[k].cli);
            rest += strlen(advice[k].sql);
        } else {
            sqlite3_str_appendchar(out, 1, *rest++);
        }
    }
    static const char not_text[] = "text must be TEXT or NULL, got ";
    if (cast_hint && strncmp(skip_prefix(msg), not_text, sizeof not_text - 1) == 0)
        sqlite3_str_appendf(out, "; to embed such values as text: %s", cast_hint);
    return sqlite3_str_finish(out);
}
