/* fuzz_vectors.c - elmo_cosine and elmo_json over fuzzed values. The first byte picks the
 * call and the types of the arguments; the second where the input splits into a and b. */
#include "fuzz_db.h"

static void bind(sqlite3_stmt *st, int i, int type, const uint8_t *p, size_t n) {
    switch (type) {
    case 0: sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT); break;
    case 1: sqlite3_bind_text(st, i, (const char *)p, (int)n, SQLITE_TRANSIENT); break;
    case 2: sqlite3_bind_null(st, i); break;
    default: sqlite3_bind_zeroblob(st, i, (int)(n % 64)); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const calls[] = {
        "SELECT elmo_cosine(?1, ?2)",
        "SELECT elmo_json(?1)",
        "SELECT elmo_cosine(?1, ?1)",
        "SELECT elmo_json(?1), elmo_cosine(?2, ?1)",
    };
    sqlite3 *db = fuzz_db();
    if (size < 2) return 0;
    size_t rest = size - 2, split = rest ? data[1] % (rest + 1) : 0;
    const uint8_t *a = data + 2, *b = a + split;
    /* mostly blobs: they reach the float decoding */
    int ta = data[0] >> 2 & 7, tb = data[0] >> 5 & 7;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, calls[data[0] & 3], -1, &st, NULL) != SQLITE_OK) abort();
    bind(st, 1, ta < 4 ? 0 : ta - 4, a, split);
    if (sqlite3_bind_parameter_count(st) > 1) bind(st, 2, tb < 4 ? 0 : tb - 4, b, rest - split);
    fuzz_step_all(db, st);
    sqlite3_finalize(st);
    return 0;
}
