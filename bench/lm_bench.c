/* lm_bench.c - the language-model measurements; see lm_bench.h. The head's products are
 * counted as 2 P V FLOPs per row (a row: one position of one direction); a 20-token
 * sentence has 2 x 21 rows. */
#include "lm_bench.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "elmo.h"
#include "lm_head.h"
#include "model.h"
#include "parallel.h"
#include "peaks.h"

#define PREDICT_TEXT "we will stick to the"

static int precision, threads;
static const char *text_path; /* NULL: the synthetic corpus */

static int fail(const char *what, const char *msg) {
    fprintf(stderr, "elmo-bench: %s: %s\n", what, msg);
    return 1;
}

static void setup_fields(const char *bench, const char *dir) {
    printf("{\"bench\":\"%s\",\"model\":\"%s\",\"precision\":\"%s\",\"kernel\":\"%s\","
           "\"threads\":%d,\"corpus\":\"%s\",",
           bench, dir, elmo_precision_name(precision), elmo_precision_kernel(precision), threads,
           text_path ? text_path : "synthetic");
}

static void head_files(const char *dir, char *softmax, char *vocab, size_t cap) {
    snprintf(softmax, cap, "%s/softmax_weights.hdf5", dir);
    snprintf(vocab, cap, "%s/vocab.txt", dir);
}

/* Loads the model at `path` (with the HDF5 head when with_head); seconds, or -1. */
static double timed_load(const char *path, const char *dir, int with_head, int skip_head,
                         elmo_model **keep) {
    char softmax[4096], vocab[4096];
    head_files(dir, softmax, vocab, sizeof softmax);
    elmo_load_params p = elmo_load_default_params();
    p.precision = precision;
    p.softmax_path = with_head ? softmax : NULL;
    p.vocab_path = with_head ? vocab : NULL;
    p.skip_head = skip_head;
    elmo_model *m = NULL;
    elmo_error err;
    double t0 = bench_now();
    if (elmo_model_load_path(path, &p, &m, &err)) {
        fprintf(stderr, "elmo-bench: lm-load: %s\n", err.message);
        return -1;
    }
    double dt = bench_now() - t0;
    if (keep) *keep = m;
    else elmo_model_free(m);
    return dt;
}

static double best_of_2(const char *path, const char *dir, int with_head, int skip_head) {
    double a = timed_load(path, dir, with_head, skip_head, NULL);
    double b = a < 0 ? a : timed_load(path, dir, with_head, skip_head, NULL);
    return a < 0 || b < 0 ? -1 : a < b ? a : b;
}

static int lm_load(const char *dir) {
    char st[4096];
    snprintf(st, sizeof st, "%s.lm.safetensors", dir);
    double model = best_of_2(dir, dir, 0, 0), hdf5 = best_of_2(dir, dir, 1, 0);
    double st_model = best_of_2(st, dir, 0, 1), st_all = best_of_2(st, dir, 0, 0);
    if (model < 0 || hdf5 < 0 || st_model < 0 || st_all < 0) return 1;
    elmo_model *m = NULL;
    if (timed_load(dir, dir, 1, 0, &m) < 0) return 1;
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    elmo_model_free(m);
    setup_fields("lm-load", dir);
    printf("\"model_s\":%.3f,\"hdf5_model_head_s\":%.3f,\"hdf5_head_s\":%.3f,"
           "\"safetensors_model_s\":%.3f,\"safetensors_model_head_s\":%.3f,"
           "\"safetensors_head_s\":%.3f,\"vocab_size\":%lld,\"head_mib\":%.1f,"
           "\"weight_mib\":%.1f}\n",
           model, hdf5, hdf5 - model, st_model, st_all, st_all - st_model,
           (long long)info.vocab_size, (double)info.head_bytes / (1 << 20),
           (double)info.weight_bytes / (1 << 20));
    return 0;
}

/* ---- the products alone ----------------------------------------------------------------- */

typedef struct gemm_job {
    const elmo_lm_head *h;
    const float *a; /* [M, P] */
    size_t M;
    float **c; /* [workers] -> [M, BLOCK] */
} gemm_job;

static void gemm_task(void *ctx, size_t j, int worker) {
    gemm_job *g = ctx;
    elmo_gemm(g->a, (size_t)g->h->P, g->M, &g->h->blocks[j], g->c[worker],
              (size_t)elmo_lm_head_block_cols(g->h, (int64_t)j), 0);
}

static int lm_gemm(const char *dir, size_t M) {
    elmo_model *m = NULL;
    if (timed_load(dir, dir, 1, 0, &m) < 0) return 1;
    const elmo_lm_head *h = m->head;
    int workers = elmo_resolve_threads(threads);
    gemm_job g = {.h = h, .M = M, .c = calloc((size_t)workers, sizeof(float *))};
    float *a = malloc(M * (size_t)h->P * sizeof *a);
    for (size_t i = 0; a && i < M * (size_t)h->P; i++) a[i] = (float)(i % 17) * 0.01f - 0.08f;
    g.a = a;
    for (int w = 0; g.c && w < workers; w++) g.c[w] = malloc(M * ELMO_HEAD_BLOCK * sizeof(float));
    double best = 1e9;
    for (int r = 0; a && r < 3; r++) {
        double t0 = bench_now();
        elmo_parallel(workers, (size_t)h->n_blocks, gemm_task, &g, NULL);
        double dt = bench_now() - t0;
        best = dt < best ? dt : best;
    }
    double flops = 2.0 * (double)M * (double)h->P * (double)h->V;
    setup_fields("lm-gemm", dir);
    printf("\"M\":%zu,\"K\":%lld,\"N\":%lld,\"seconds\":%.4f,\"gflops\":%.1f}\n", M,
           (long long)h->P, (long long)h->V, best, flops / best / 1e9);
    for (int w = 0; g.c && w < workers; w++) free(g.c[w]);
    free(g.c);
    free(a);
    elmo_model_free(m);
    return 0;
}

/* ---- through SQL ------------------------------------------------------------------------- */

static sqlite3 *open_lm(const char *ext, const char *dir, elmo_model_info *info) {
    sqlite3 *db = NULL;
    char *msg = NULL, softmax[4096], vocab[4096];
    head_files(dir, softmax, vocab, sizeof softmax);
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return NULL;
    sqlite3_enable_load_extension(db, 1);
    char *sql = sqlite3_mprintf("SELECT elmo_load('default', %Q, json_object('precision', %Q, "
                                "'softmax', %Q, 'vocab', %Q))",
                                dir, elmo_precision_name(precision), softmax, vocab);
    if (sqlite3_load_extension(db, ext, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "elmo-bench: %s\n", msg ? msg : "cannot load the model");
        sqlite3_free(msg);
        sqlite3_free(sql);
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_free(sql);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT vocab_size, head_bytes, bytes, projection_dim FROM elmo_models",
                       -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW) {
        info->vocab_size = sqlite3_column_int64(st, 0);
        info->head_bytes = sqlite3_column_int64(st, 1);
        info->weight_bytes = sqlite3_column_int64(st, 2);
        info->projection_dim = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    return db;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median seconds of `runs` steps of `sql` with ?1 = text (after one warm-up). */
static double median_of(sqlite3 *db, const char *sql, const char *text, int runs) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
    double t[32];
    for (int r = 0; r <= runs && r < 32; r++) {
        double t0 = bench_now();
        while (sqlite3_step(q) == SQLITE_ROW) {}
        if (sqlite3_reset(q) != SQLITE_OK) {
            fprintf(stderr, "elmo-bench: %s\n", sqlite3_errmsg(db));
            sqlite3_finalize(q);
            return -1;
        }
        if (r) t[r - 1] = bench_now() - t0;
    }
    sqlite3_finalize(q);
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    return t[runs / 2];
}

static int lm_ppl(const char *ext, const char *dir) {
    elmo_model_info info = {0};
    sqlite3 *db = open_lm(ext, dir, &info);
    if (!db) return 1;
    size_t tokens = elmo_tokenize(ELMO_TOKENIZER_DEFAULT, corpus_sentence20,
                                  strlen(corpus_sentence20), NULL, 0);
    double ppl = median_of(db, "SELECT elmo_perplexity(?1)", corpus_sentence20, 11);
    double bilm = median_of(db, "SELECT length(elmo_embed(?1))", corpus_sentence20, 11);
    sqlite3_close(db);
    if (ppl < 0 || bilm < 0) return 1;
    double rows = 2.0 * (double)(tokens + 1);
    setup_fields("lm-ppl", dir);
    printf("\"tokens\":%zu,\"median_ms\":%.2f,\"bilm_ms\":%.2f,\"head_gflop\":%.3f,"
           "\"head_mib\":%.1f,\"weight_mib\":%.1f,\"vocab_size\":%lld,\"peak_rss_mib\":%.1f}\n",
           tokens, ppl * 1e3, bilm * 1e3,
           rows * 2.0 * info.projection_dim * (double)info.vocab_size / 1e9,
           (double)info.head_bytes / (1 << 20), (double)info.weight_bytes / (1 << 20),
           (long long)info.vocab_size, bench_peak_rss_mib());
    return 0;
}

static int lm_bulk(const char *ext, const char *dir, size_t n) {
    elmo_model_info info = {0};
    sqlite3 *db = open_lm(ext, dir, &info);
    if (!db) return 1;
    corpus c;
    if (corpus_load(&c, n, text_path)) {
        sqlite3_close(db);
        return 1;
    }
    sqlite3_exec(db, "CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)", NULL, NULL, NULL);
    size_t tokens = corpus_insert(db, &c);
    char *msg = NULL;
    double t0 = bench_now();
    int rc = sqlite3_exec(db,
                          "CREATE TABLE ppl AS SELECT id, perplexity FROM elmo_batch('SELECT id, "
                          "body FROM docs', '{\"output\":\"perplexity\"}')",
                          NULL, NULL, &msg);
    double dt = bench_now() - t0;
    corpus_free(&c);
    sqlite3_close(db);
    if (rc != SQLITE_OK) return fail("lm-bulk", msg ? msg : "failed");
    double rows = 2.0 * (double)(tokens + n);
    double head_flops = rows * 2.0 * info.projection_dim * (double)info.vocab_size;
    setup_fields("lm-bulk", dir);
    printf("\"sentences\":%zu,\"tokens\":%zu,\"seconds\":%.3f,\"tokens_per_s\":%.1f,"
           "\"head_gflops\":%.1f,\"peak_rss_mib\":%.1f}\n",
           n, tokens, dt, (double)tokens / dt, head_flops / dt / 1e9, bench_peak_rss_mib());
    return 0;
}

static int lm_predict(const char *ext, const char *dir) {
    elmo_model_info info = {0};
    sqlite3 *db = open_lm(ext, dir, &info);
    if (!db) return 1;
    double full = median_of(db, "SELECT count(*) FROM elmo_predict(?1, 10)", PREDICT_TEXT, 9);
    double limited = median_of(db,
                               "SELECT count(*) FROM elmo_predict(?1, 10, "
                               "'{\"vocab_limit\":50000}')",
                               PREDICT_TEXT, 9);
    double bilm = median_of(db, "SELECT length(elmo_embed(?1))", PREDICT_TEXT, 9);
    sqlite3_close(db);
    if (full < 0 || limited < 0 || bilm < 0) return 1;
    setup_fields("lm-predict", dir);
    printf("\"text\":\"%s\",\"full_ms\":%.2f,\"limit50k_ms\":%.2f,\"bilm_ms\":%.2f,"
           "\"peak_rss_mib\":%.1f}\n",
           PREDICT_TEXT, full * 1e3, limited * 1e3, bilm * 1e3, bench_peak_rss_mib());
    return 0;
}

int bench_lm(int argc, char **argv, int prec, int n_threads, const char *text) {
    precision = prec;
    threads = n_threads;
    text_path = text;
    const char *cmd = argc > 0 ? argv[0] : "";
    if (!strcmp(cmd, "lm-load") && argc == 2) return lm_load(argv[1]);
    if (!strcmp(cmd, "lm-gemm") && argc == 3) return lm_gemm(argv[1], strtoul(argv[2], NULL, 10));
    if (!strcmp(cmd, "lm-ppl") && argc == 3) return lm_ppl(argv[1], argv[2]);
    if (!strcmp(cmd, "lm-bulk") && argc == 4)
        return lm_bulk(argv[1], argv[2], strtoul(argv[3], NULL, 10));
    if (!strcmp(cmd, "lm-predict") && argc == 3) return lm_predict(argv[1], argv[2]);
    return -1;
}
