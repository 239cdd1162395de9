/* fuzz_call_options.c - the `options` argument (bare output names, JSON arrays of weights,
 * JSON objects) of elmo_embed and elmo_tokens, through SQL. The first byte picks the call
 * (NULL text: options only; a short text: options plus the model's mix checks and a run);
 * the rest is the options TEXT, bytes as given (NULs, invalid UTF-8 included). */
#include "fuzz_db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const calls[] = {
        "SELECT elmo_embed(NULL, ?1)",
        "SELECT elmo_embed('The bank raised rates .', ?1)",
        "SELECT count(*) FROM elmo_tokens(NULL, ?1)",
        "SELECT i, token, start, \"end\", vector FROM elmo_tokens('Rivers flood', ?1)",
    };
    sqlite3 *db = fuzz_db();
    if (size < 1) return 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, calls[data[0] % 4], -1, &st, NULL) != SQLITE_OK) abort();
    sqlite3_bind_text(st, 1, (const char *)data + 1, (int)(size - 1), SQLITE_TRANSIENT);
    fuzz_step_all(db, st);
    sqlite3_finalize(st);
    return 0;
}
