/* elmo-bench - one measurement per process (so peak RSS belongs to that measurement),
 * printed as a JSON line. bench/run.sh runs them all and prints the table.
 *
 *   elmo-bench sgemm                          OpenBLAS sgemm GFLOP/s on all cores
 *   elmo-bench load MODEL_DIR                 load time (best of 3) and RSS after load
 *   elmo-bench core-batch MODEL_DIR N         elmo_embed_batch over N corpus sentences
 *   elmo-bench sql-batch EXT MODEL_DIR N      INSERT ... SELECT FROM elmo_batch(...)
 *   elmo-bench sql-latency EXT MODEL_DIR      SELECT elmo_embed(20-token sentence)
 *   elmo-bench corpus-db DB N                 writes the corpus as table docs into DB
 *   elmo-bench lm-load|lm-gemm|lm-ppl|lm-bulk|lm-predict ...   the language model
 *                                             (bench/lm_bench.h)
 *
 * Options before the command: --precision fp32|bf16 (model commands; default fp32),
 * --threads N (threads per call; default: all cores) and --text PATH (the sentences: real
 * text from a file or directory, see corpus.h; default $BENCH_TEXT, else the synthetic
 * corpus). Each line records them.
 *   elmo-bench peak-amx THREADS               AMX tdpbf16ps GFLOP/s (tiles only)
 *   elmo-bench peak-fma THREADS               512-bit FMA GFLOP/s (registers only)
 *   elmo-bench peak-bf16 THREADS              vdpbf16ps GFLOP/s (registers only)
 *   elmo-bench dram THREADS                   read bandwidth over 512 MiB, GB/s
 *   elmo-bench gemm PREC THREADS M K N        elmo_gemm and OpenBLAS sgemm GFLOP/s
 *                                             (PREC: fp32, bf16, fp32-avx2, fp32-portable)
 */
#include <cblas.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "corpus.h"
#include "elmo.h"
#include "lm_bench.h"
#include "peaks.h"

static int precision = ELMO_PRECISION_FP32;
static const char *text_path; /* NULL: the synthetic corpus */
static int threads = 0;       /* 0: the library's default (ELMO_THREADS, else all cores) */

static elmo_load_params load_params(void) {
    elmo_load_params lp = elmo_load_default_params();
    lp.precision = precision;
    return lp;
}

/* The JSON fields every model measurement carries. */
static void print_setup(void) {
    printf("\"precision\":\"%s\",\"kernel\":\"%s\",\"threads\":%d,\"corpus\":\"%s\",",
           elmo_precision_name(precision), elmo_precision_kernel(precision), threads,
           text_path ? text_path : "synthetic");
}

static int by_key(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Tokens whose char-CNN embedding a cold run computes: distinct cache keys (a token's
 * first C - 2 bytes), when the cache holds them all; a cache too small for them computes
 * more, which this count leaves out, so the FLOP rates built on it never overstate. */
static size_t cnn_tokens(const corpus *c, int max_chars) {
    size_t cap = 0, n = 0, keep = (size_t)max_chars - 2;
    char **keys = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const char *t = c->text[i];
        size_t len = strlen(t), k = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, t, len, NULL, 0);
        elmo_span *sp = malloc((k ? k : 1) * sizeof *sp);
        if (!sp) break;
        elmo_tokenize(ELMO_TOKENIZER_DEFAULT, t, len, sp, k);
        for (size_t j = 0; j < k; j++) {
            if (n == cap) {
                char **grown = realloc(keys, (cap = cap ? 2 * cap : 1024) * sizeof *keys);
                if (!grown) break;
                keys = grown;
            }
            size_t w = sp[j].end - sp[j].start;
            keys[n] = strndup(t + sp[j].start, w < keep ? w : keep);
            if (keys[n]) n++;
        }
        free(sp);
    }
    qsort(keys, n, sizeof *keys, by_key);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) distinct += i == 0 || strcmp(keys[i], keys[i - 1]) != 0;
    for (size_t i = 0; i < n; i++) free(keys[i]);
    free(keys);
    return distinct;
}

static int die(const char *what, const char *msg) {
    fprintf(stderr, "elmo-bench: %s: %s\n", what, msg);
    return 1;
}

/* LSTM-shaped products [256, 512] x [512, 16384] with OpenBLAS's own threads. */
static int bench_sgemm(void) {
    const int M = 256, K = 512, N = 16384;
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
    float *c = malloc(sizeof(float) * M * N);
    if (!a || !b || !c) return die("sgemm", "out of memory");
    for (int i = 0; i < M * K; i++) a[i] = (float)(i % 13) * 0.01f;
    for (int i = 0; i < K * N; i++) b[i] = (float)(i % 7) * 0.01f;
    double best = 1e9;
    for (int r = 0; r < 8; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
        double dt = bench_now() - t0;
        if (r > 0 && dt < best) best = dt; /* the first call warms up */
    }
    printf("{\"bench\":\"sgemm\",\"threads\":%d,\"gflops\":%.1f}\n", openblas_get_num_threads(),
           2.0 * M * K * N / best / 1e9);
    free(a);
    free(b);
    free(c);
    return 0;
}

static int bench_load(const char *dir) {
    double best = 1e9;
    elmo_model_info info = {0};
    for (int r = 0; r < 3; r++) {
        elmo_model *m = NULL;
        elmo_error err;
        double t0 = bench_now();
        elmo_load_params lp = load_params();
        if (elmo_model_load_path(dir, &lp, &m, &err)) return die("load", err.message);
        double dt = bench_now() - t0;
        best = dt < best ? dt : best;
        elmo_model_get_info(m, &info);
        elmo_model_free(m);
    }
    /* The contextual part alone: 2 directions x L layers x (W_0 and W_P_0 products). */
    double P = info.projection_dim, H = info.lstm_dim, L = info.n_lstm_layers;
    double lstm_flops = 2.0 * 2 * L * (2 * P * 4 * H + H * P);
    /* Bytes one sentence streams: per position W_rec and W_P of every layer and direction,
     * once per layer and direction W_in (its input product covers all positions). */
    double wbytes = precision == ELMO_PRECISION_BF16 ? 2 : 4;
    double step_mib = 2 * L * (P * 4 * H + H * P) * wbytes / (1 << 20);
    double input_mib = 2 * L * P * 4 * H * wbytes / (1 << 20);
    printf("{\"bench\":\"load\",\"model\":\"%s\",", dir);
    print_setup();
    printf("\"seconds\":%.3f,\"weight_mib\":%.1f,\"params\":%lld,"
           "\"mflop_per_position\":%.2f,\"lstm_mflop_per_position\":%.2f,"
           "\"cnn_mflop_per_token\":%.2f,\"stream_mib_per_position\":%.2f,\"input_mib\":%.2f,"
           "\"rss_after_mib\":%.1f,\"model_kernel\":\"%s\"}\n",
           best, (double)info.weight_bytes / (1 << 20), (long long)info.n_params,
           (double)info.flops_per_position / 1e6, lstm_flops / 1e6,
           ((double)info.flops_per_position - lstm_flops) / 1e6, step_mib, input_mib,
           bench_peak_rss_mib(), info.kernel);
    return 0;
}

/* Tokenizes the corpus; fills sentences and returns the token count. */
static size_t tokenize_corpus(const corpus *c, elmo_sentence *s) {
    size_t total = 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t len = strlen(c->text[i]);
        size_t n = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, c->text[i], len, NULL, 0);
        elmo_span *spans = malloc((n ? n : 1) * sizeof *spans);
        elmo_tokenize(ELMO_TOKENIZER_DEFAULT, c->text[i], len, spans, n);
        s[i] = (elmo_sentence){c->text[i], spans, n};
        total += n;
    }
    return total;
}

static int bench_core_batch(const char *dir, size_t n) {
    elmo_model *m = NULL;
    elmo_error err;
    elmo_load_params lp = load_params();
    if (elmo_model_load_path(dir, &lp, &m, &err)) return die("core-batch", err.message);
    corpus c;
    if (corpus_load(&c, n, text_path)) return die("core-batch", "no corpus");
    elmo_sentence *s = calloc(n, sizeof *s);
    size_t tokens = tokenize_corpus(&c, s);
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    float *out = malloc(n * (size_t)info.output_dim * sizeof *out);
    elmo_run_params rp = elmo_run_default_params();
    rp.n_threads = threads;
    double t0 = bench_now();
    if (elmo_embed_batch(m, &rp, NULL, s, n, out, &err)) return die("core-batch", err.message);
    double dt = bench_now() - t0;
    printf("{\"bench\":\"core-batch\",\"model\":\"%s\",", dir);
    print_setup();
    printf("\"sentences\":%zu,\"tokens\":%zu,\"cnn_tokens\":%zu,"
           "\"positions\":%zu,\"seconds\":%.3f,\"tokens_per_s\":%.1f,\"peak_rss_mib\":%.1f,"
           "\"weight_mib\":%.1f}\n",
           n, tokens, cnn_tokens(&c, info.max_chars_per_token), tokens + 2 * n, dt,
           (double)tokens / dt, bench_peak_rss_mib(), (double)info.weight_bytes / (1 << 20));
    for (size_t i = 0; i < n; i++) free((void *)s[i].tokens);
    free(s);
    free(out);
    corpus_free(&c);
    elmo_model_free(m);
    return 0;
}

static sqlite3 *open_with_model(const char *ext, const char *dir) {
    sqlite3 *db = NULL;
    char *msg = NULL, sql[3000];
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return NULL;
    sqlite3_enable_load_extension(db, 1);
    if (sqlite3_load_extension(db, ext, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "elmo-bench: loading %s: %s\n", ext, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(db);
        return NULL;
    }
    snprintf(sql, sizeof sql, "SELECT elmo_load('default', '%s', '{\"precision\":\"%s\"}')", dir,
             elmo_precision_name(precision));
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "elmo-bench: %s\n", msg ? msg : "elmo_load failed");
        sqlite3_free(msg);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int bench_sql_batch(const char *ext, const char *dir, size_t n) {
    sqlite3 *db = open_with_model(ext, dir);
    if (!db) return 1;
    corpus c;
    if (corpus_load(&c, n, text_path)) return die("sql-batch", "no corpus");
    sqlite3_exec(db,
                 "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);"
                 "CREATE TABLE doc_vec(id INTEGER PRIMARY KEY, vector BLOB);",
                 NULL, NULL, NULL);
    size_t tokens = corpus_insert(db, &c);
    char *msg = NULL;
    double t0 = bench_now();
    int rc = sqlite3_exec(db,
                          "INSERT INTO doc_vec SELECT id, vector FROM "
                          "elmo_batch('SELECT id, body FROM docs')",
                          NULL, NULL, &msg);
    double dt = bench_now() - t0;
    if (rc != SQLITE_OK) return die("sql-batch", msg ? msg : "failed");
    printf("{\"bench\":\"sql-batch\",\"model\":\"%s\",", dir);
    print_setup();
    printf("\"sentences\":%zu,\"tokens\":%zu,"
           "\"positions\":%zu,\"seconds\":%.3f,\"tokens_per_s\":%.1f,\"peak_rss_mib\":%.1f}\n",
           n, tokens, tokens + 2 * n, dt, (double)tokens / dt, bench_peak_rss_mib());
    corpus_free(&c);
    sqlite3_close(db);
    return 0;
}

/* Writes the benchmark corpus as docs(id INTEGER PRIMARY KEY, body TEXT) into a new
 * database file, for timing `elmo embed` on the same texts as the other measurements. */
static int bench_corpus_db(const char *path, size_t n) {
    sqlite3 *db = NULL;
    corpus c;
    if (corpus_load(&c, n, text_path)) return die("corpus-db", "no corpus");
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT); BEGIN", NULL, NULL,
                     NULL) != SQLITE_OK)
        return die("corpus-db", sqlite3_errmsg(db));
    size_t tokens = corpus_insert(db, &c);
    int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    corpus_free(&c);
    if (rc != SQLITE_OK) return die("corpus-db", "cannot write the database");
    printf("{\"bench\":\"corpus-db\",\"sentences\":%zu,\"tokens\":%zu}\n", n, tokens);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_sql_latency(const char *ext, const char *dir) {
    sqlite3 *db = open_with_model(ext, dir);
    if (!db) return 1;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT length(elmo_embed(?))", -1, &q, NULL) != SQLITE_OK)
        return die("sql-latency", sqlite3_errmsg(db));
    sqlite3_bind_text(q, 1, corpus_sentence20, -1, SQLITE_STATIC);
    enum { RUNS = 21 };
    double t[RUNS], first = 0;
    for (int r = 0; r <= RUNS; r++) {
        double t0 = bench_now();
        if (sqlite3_step(q) != SQLITE_ROW) return die("sql-latency", sqlite3_errmsg(db));
        double dt = bench_now() - t0;
        sqlite3_reset(q);
        if (r == 0) first = dt; /* cold: char-CNN cache empty */
        else t[r - 1] = dt;
    }
    qsort(t, RUNS, sizeof *t, cmp_double);
    size_t tokens = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, corpus_sentence20,
                                  strlen(corpus_sentence20), NULL, 0);
    printf("{\"bench\":\"sql-latency\",\"model\":\"%s\",", dir);
    print_setup();
    printf("\"tokens\":%zu,\"first_ms\":%.2f,\"median_ms\":%.2f,\"min_ms\":%.2f,"
           "\"peak_rss_mib\":%.1f}\n",
           tokens, first * 1e3, t[RUNS / 2] * 1e3, t[0] * 1e3, bench_peak_rss_mib());
    sqlite3_finalize(q);
    sqlite3_close(db);
    return 0;
}

int main(int argc, char **argv) {
    const char *env_text = getenv("BENCH_TEXT");
    if (env_text && *env_text && strcmp(env_text, "synthetic")) text_path = env_text;
    while (argc > 2 && !strncmp(argv[1], "--", 2)) {
        if (!strcmp(argv[1], "--precision") && !strcmp(argv[2], "bf16"))
            precision = ELMO_PRECISION_BF16;
        else if (!strcmp(argv[1], "--precision") && !strcmp(argv[2], "fp32"))
            precision = ELMO_PRECISION_FP32;
        else if (!strcmp(argv[1], "--threads") && atoi(argv[2]) > 0) threads = atoi(argv[2]);
        else if (!strcmp(argv[1], "--text"))
            text_path = strcmp(argv[2], "synthetic") ? argv[2] : NULL;
        else break;
        argv += 2;
        argc -= 2;
    }
    if (threads) { /* for the SQL commands, whose calls take ELMO_THREADS */
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        setenv("ELMO_THREADS", t, 1);
    }
    const char *cmd = argc > 1 ? argv[1] : "";
    int lm = bench_lm(argc - 1, argv + 1, precision, threads, text_path);
    if (lm >= 0) return lm;
    if (!strcmp(cmd, "sgemm")) return bench_sgemm();
    if (!strcmp(cmd, "load") && argc == 3) return bench_load(argv[2]);
    if (!strcmp(cmd, "core-batch") && argc == 4)
        return bench_core_batch(argv[2], (size_t)strtoul(argv[3], NULL, 10));
    if (!strcmp(cmd, "sql-batch") && argc == 5)
        return bench_sql_batch(argv[2], argv[3], (size_t)strtoul(argv[4], NULL, 10));
    if (!strcmp(cmd, "sql-latency") && argc == 4) return bench_sql_latency(argv[2], argv[3]);
    if (!strcmp(cmd, "corpus-db") && argc == 4)
        return bench_corpus_db(argv[2], (size_t)strtoul(argv[3], NULL, 10));
    if (!strcmp(cmd, "peak-fma") && argc == 3) return bench_peak_fma(atoi(argv[2]));
    if (!strcmp(cmd, "peak-bf16") && argc == 3) return bench_peak_bf16(atoi(argv[2]));
    if (!strcmp(cmd, "peak-amx") && argc == 3) return bench_peak_amx(atoi(argv[2]));
    if (!strcmp(cmd, "dram") && argc == 3) return bench_dram(atoi(argv[2]));
    if (!strcmp(cmd, "gemm") && argc == 7)
        return bench_gemm(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]), atol(argv[6]));
    fprintf(
        stderr,
        "usage: elmo-bench sgemm | load DIR | core-batch DIR N | "
        "sql-batch EXT DIR N | sql-latency EXT DIR | corpus-db DB N | peak-fma T | peak-bf16 T | "
        "peak-amx T | dram T | gemm fp32|bf16|bf16-avx512|fp32-avx2|fp32-portable T M K N | "
        "lm-load DIR | lm-gemm DIR M | lm-ppl EXT DIR | lm-bulk EXT DIR N | lm-predict EXT DIR\n");
    return 2;
}
