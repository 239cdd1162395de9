/* json_scan.c - see json_scan.h. */
#include "json_scan.h"

#include <string.h>

void elmo_json_scan(const char *text, size_t len, elmo_json_stats *out) {
    size_t values = 1; /* the top-level value */
    long long nul = -1;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\0' && nul < 0) nul = (long long)i;
        if (in_string) {
            if (c == '"') in_string = 0;
            else if (c == '\\' && i + 1 < len) {
                if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0 &&
                    nul < 0)
                    nul = (long long)i;
                i++; /* the escaped character */
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == ',' || c == '[' || c == '{') {
            values++; /* every value after the first of a list follows a comma or opens */
        }
    }
    *out = (elmo_json_stats){.values = values, .nul = nul};
}
