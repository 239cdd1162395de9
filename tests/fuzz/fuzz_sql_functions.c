/* fuzz_sql_functions.c - the extension's SQL functions with fuzzed arguments against the
 * tiny model, in the manner of sqlite-vec's scalar-functions target: the first byte picks
 * a query and how the two arguments are bound (TEXT, BLOB, INTEGER, REAL or NULL), the
 * second where the rest of the input splits into argument 1 and argument 2. Errors must
 * carry a message; limits and the 'default' model are restored after each input. The
 * 'default' model has the bundled language-model head. */
#include "fuzz_db.h"

static const char *const queries[] = {
    "SELECT elmo_embed(?1)",
    "SELECT elmo_embed(?1, ?2)",
    "SELECT i, token, start, \"end\", vector FROM elmo_tokens(?1, ?2)",
    "SELECT elmo_json(elmo_embed(?1, ?2))",
    "SELECT elmo_cosine(elmo_embed(?1), elmo_embed(?2))",
    "SELECT elmo_cosine(?1, ?2)",
    "SELECT elmo_json(?1)",
    "SELECT elmo_limit(?1)",
    "SELECT elmo_limit(?1, ?2)",
    "SELECT elmo_unload(?1)",
    "SELECT count(*) FROM elmo_models WHERE name = ?1",
    /* elmo_batch over a table holding argument 1 (twice: as given and upper-cased) */
    "SELECT id, vector FROM elmo_batch('SELECT rowid, x FROM fuzz_rows', ?2)",
    /* the language model (the tiny model's bundled head) */
    "SELECT * FROM elmo_lm(?1, ?2)",
    "SELECT elmo_perplexity(?1, ?2)",
    "SELECT * FROM elmo_predict(?1, ?2)",
    "SELECT * FROM elmo_predict(?1, 3, ?2)",
    "SELECT id, perplexity FROM elmo_batch('SELECT rowid, x FROM fuzz_rows', ?2)",
};
#define N_QUERIES (sizeof queries / sizeof queries[0])

static void bind(sqlite3_stmt *st, int i, int type, const uint8_t *p, size_t n) {
    char num[32];
    size_t k = n < sizeof num - 1 ? n : sizeof num - 1;
    memcpy(num, p, k);
    num[k] = '\0';
    switch (type) {
    case 0:
    case 1:
    case 2: sqlite3_bind_text(st, i, (const char *)p, (int)n, SQLITE_TRANSIENT); break;
    case 3: sqlite3_bind_blob(st, i, p, (int)n, SQLITE_TRANSIENT); break;
    case 4: sqlite3_bind_int64(st, i, strtoll(num, NULL, 10)); break;
    case 5: sqlite3_bind_double(st, i, strtod(num, NULL)); break;
    default: sqlite3_bind_null(st, i); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sqlite3 *db = fuzz_db();
    static int table;
    if (!table) {
        if (ext_exec(db, "CREATE TABLE fuzz_rows(x)", NULL, 0) != SQLITE_OK) abort();
        table = 1;
    }
    if (size < 3) return 0;
    size_t q = data[0] % N_QUERIES;
    int t1 = data[1] & 7, t2 = data[1] >> 3 & 7;
    size_t rest = size - 3, split = rest ? data[2] % (rest + 1) : 0;
    const uint8_t *a = data + 3, *b = a + split;
    size_t na = split, nb = rest - split;

    if (strstr(queries[q], "fuzz_rows")) {
        sqlite3_stmt *ins = NULL;
        if (sqlite3_prepare_v2(db, "INSERT INTO fuzz_rows VALUES (?1), (upper(?1))", -1, &ins,
                               NULL) != SQLITE_OK)
            abort();
        bind(ins, 1, t1, a, na);
        sqlite3_step(ins);
        sqlite3_finalize(ins);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, queries[q], -1, &st, NULL) != SQLITE_OK) abort();
    bind(st, 1, t1, a, na);
    if (sqlite3_bind_parameter_count(st) > 1) bind(st, 2, t2, b, nb);
    fuzz_step_all(db, st);
    sqlite3_finalize(st);

    /* back to the starting state */
    if (strstr(queries[q], "fuzz_rows")) ext_exec(db, "DELETE FROM fuzz_rows", NULL, 0);
    if (strstr(queries[q], "elmo_limit")) {
        ext_exec(db, "SELECT elmo_limit('max_text_bytes', 1000000)", NULL, 0);
        ext_exec(db, "SELECT elmo_limit('max_tokens', 4096)", NULL, 0);
    }
    if (strstr(queries[q], "elmo_unload")) {
        sqlite3_stmt *chk = NULL;
        sqlite3_prepare_v2(db, "SELECT 1 FROM elmo_models WHERE name = 'default'", -1, &chk, NULL);
        int have = chk && sqlite3_step(chk) == SQLITE_ROW;
        sqlite3_finalize(chk);
        if (!have) fuzz_db_load_default();
    }
    return 0;
}
