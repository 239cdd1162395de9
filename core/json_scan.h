/* json_scan.h - one pass over JSON text from a file before cJSON parses it, for what the
 * parser cannot be asked to refuse: cJSON builds a node of about 80 bytes for every value
 * (the two bytes "0," become 80 bytes of memory: a header of arrays of zeros would
 * multiply its size by 40), and it decodes "\u0000" into a NUL, after which a C string
 * compares as its prefix ("F32\u0000junk" reads as "F32"). */
#ifndef ELMO_CORE_JSON_SCAN_H
#define ELMO_CORE_JSON_SCAN_H

#include <stddef.h>

typedef struct elmo_json_stats {
    size_t values; /* at least the number of values cJSON would allocate a node for */
    long long nul; /* offset of the first raw NUL byte or "\u0000" escape, or -1 */
} elmo_json_stats;

void elmo_json_scan(const char *text, size_t len, elmo_json_stats *out);

#endif
