/* test_lm.c - the language-model API (elmo_lm_score, elmo_lm_perplexity, elmo_lm_predict):
 *   - same bytes: a sentence's scores, perplexity and predictions are the same bytes alone
 *     or in a batch of 33, with 1, 2 or 3 threads, on a one-block head (V = 458) and on a
 *     head of 3 blocks (V = 5000, several sweeps per call), with and without bias and
 *     vocab_limit (a limit inside a block), in fp32 and bf16;
 *   - identities between the functions: a masked slot's forward and backward
 *     log-probabilities of the true word are the scores of that word, bit for bit; the
 *     ranks count the words above; the next-word distribution of a prefix is the masked
 *     one's forward half; the forward distribution sums to 1 (also when truncated); an
 *     out-of-vocabulary token is scored as <UNK>;
 *   - the vocabulary lookups and elmo_model_get_info (the head's fingerprint: the same
 *     from any file, another for another head); interrupts; the vocabulary file
 *     reader, whose lines cross its read chunks, against the text reader;
 *   - a bilm-tf training checkpoint's lm/softmax/{W,b} give the same bytes as the
 *     published-layout HDF5 head. The values themselves are checked against a float64
 *     reference by tests/sql/test_lm_reference.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "elmo.h"
#include "fixture_io.h"
#include "genmodel_util.h"
#include "harness.h"
#include "model.h"
#include "tf_writer.h"
#include "vocab.h"

#define TINY_SOFTMAX "models/elmo-tiny/softmax_weights.hdf5"
#define TINY_VOCAB "models/elmo-tiny/vocab.txt"
#define MAX_SENT 40
#define MAX_TOKENS 64
#define BIG_V 5000

typedef struct batch {
    char *text[MAX_SENT];
    elmo_span spans[MAX_SENT][MAX_TOKENS];
    elmo_sentence s[MAX_SENT];
    int64_t masks[MAX_SENT];
    size_t n;
} batch;

static batch B;

static void add_sentence(const char *text) {
    size_t i = B.n++;
    B.text[i] = strdup(text);
    size_t n =
        elmo_tokenize(ELMO_TOKENIZER_WHITESPACE, B.text[i], strlen(text), B.spans[i], MAX_TOKENS);
    CHECK(n <= MAX_TOKENS);
    B.s[i] = (elmo_sentence){B.text[i], B.spans[i], n};
    B.masks[i] = n == 0 || i % 3 == 0 ? ELMO_LM_NEXT_WORD : (int64_t)(i % n);
}

/* The fixture's 30 sentences, an empty one, one with unknown words, one of one token. */
static void make_batch(void) {
    int streams = 0, per = 0;
    char **sent = fx_read_sentences(FIXTURE_DIR "sentences.json", &streams, &per);
    CHECK(sent != NULL);
    for (int i = 0; sent && i < streams * per; i++) add_sentence(sent[i]);
    if (sent) fx_free_strings(sent, (size_t)(streams * per));
    add_sentence("");
    add_sentence("The zzzunknown government said qqqword .");
    add_sentence("flu");
}

static elmo_model *load(const char *softmax, const char *vocab, elmo_precision precision) {
    elmo_load_params p = elmo_load_default_params();
    p.softmax_path = softmax;
    p.vocab_path = vocab;
    p.precision = precision;
    elmo_model *m = NULL;
    elmo_error err;
    int rc = elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, &p, &m, &err);
    CHECK_INT(rc, ELMO_OK);
    if (rc) fprintf(stderr, "  %s\n", err.message);
    return m;
}

static size_t score_rows(size_t first, size_t n) {
    size_t rows = 0;
    for (size_t i = first; i < first + n; i++) rows += B.s[i].n_tokens + 2;
    return rows;
}

/* ---- same bytes ----------------------------------------------------------------------- */

typedef struct outputs {
    elmo_lm_token *tokens;
    double ppl[MAX_SENT];
    elmo_lm_prediction *pred; /* [n, K] */
} outputs;

#define K 7

/* Sentences [first, first + n) in one call of each function. */
static void run_all(const elmo_model *m, const elmo_lm_params *lp, int threads, size_t first,
                    size_t n, elmo_lm_token *tokens, double *ppl, elmo_lm_prediction *pred) {
    elmo_run_params rp = elmo_run_default_params();
    rp.n_threads = threads;
    elmo_error err;
    CHECK_INT(elmo_lm_score(m, &rp, lp, B.s + first, n, tokens, &err), ELMO_OK);
    CHECK_INT(elmo_lm_perplexity(m, &rp, lp, B.s + first, n, ppl, &err), ELMO_OK);
    CHECK_INT(elmo_lm_predict(m, &rp, lp, B.s + first, B.masks + first, n, K, pred, &err), ELMO_OK);
}

static void check_same_bytes(const elmo_model *m, const elmo_lm_params *lp, const char *what) {
    size_t rows = score_rows(0, B.n);
    elmo_lm_token *all = calloc(rows, sizeof *all), *one = calloc(rows, sizeof *one);
    elmo_lm_prediction *pall = calloc(B.n * K, sizeof *pall), *pone = calloc(B.n * K, sizeof *pone);
    double ppl_all[MAX_SENT], ppl_one[MAX_SENT];
    run_all(m, lp, 2, 0, B.n, all, ppl_all, pall);
    int same = 1;
    for (size_t i = 0, at = 0; i < B.n; at += B.s[i].n_tokens + 2, i++) {
        run_all(m, lp, 1 + (int)(i % 3), i, 1, one + at, &ppl_one[i], pone + i * K);
        same &= memcmp(all + at, one + at, (B.s[i].n_tokens + 2) * sizeof *all) == 0;
    }
    CHECK(same);
    CHECK(memcmp(ppl_all, ppl_one, B.n * sizeof *ppl_all) == 0);
    CHECK(memcmp(pall, pone, B.n * K * sizeof *pall) == 0);
    /* the same call again, with 3 threads */
    run_all(m, lp, 3, 0, B.n, one, ppl_one, pone);
    CHECK(memcmp(all, one, rows * sizeof *all) == 0);
    CHECK(memcmp(ppl_all, ppl_one, B.n * sizeof *ppl_all) == 0);
    CHECK(memcmp(pall, pone, B.n * K * sizeof *pall) == 0);
    CHECK(isnan(ppl_all[30]) && !isnan(ppl_all[31])); /* the empty sentence has none */
    printf("  %s: %zu sentences, %zu scores, same bytes alone, batched, 1-3 threads\n", what, B.n,
           rows);
    free(all);
    free(one);
    free(pall);
    free(pone);
}

/* ---- identities -------------------------------------------------------------------------- */

/* Sentence i scored, and its token p masked with every word returned (k = V, nothing
 * excluded): the true word's entries are its scores. */
static void check_identities(const elmo_model *m, size_t i, int64_t p, int64_t limit) {
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    int64_t V = limit ? limit : info.vocab_size;
    const elmo_sentence *s = &B.s[i];
    elmo_lm_params lp = elmo_lm_default_params();
    lp.vocab_limit = limit;
    int64_t none = 0;
    lp.exclude = &none;
    lp.n_exclude = 0;
    elmo_lm_token *sc = calloc(s->n_tokens + 2, sizeof *sc);
    elmo_lm_prediction *all = calloc((size_t)V, sizeof *all);
    elmo_error err;
    CHECK_INT(elmo_lm_score(m, NULL, &lp, s, 1, sc, &err), ELMO_OK);
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, s, &p, 1, (size_t)V, all, &err), ELMO_OK);
    const elmo_lm_token *t = &sc[p + 1];
    int64_t row = t->vocab_id >= 0 ? t->vocab_id : elmo_vocab_id(m, "<UNK>", 5);
    double total = 0;
    int64_t above_f = 0, above_b = 0, found = 0;
    for (int64_t v = 0; v < V; v++) {
        total += exp(all[v].logprob_forward);
        CHECK(all[v].vocab_id >= 0 && all[v].vocab_id < V);
        if (all[v].vocab_id == row) {
            found++;
            CHECK(memcmp(&all[v].logprob_forward, &t->logprob_forward, sizeof(double)) == 0);
            CHECK(memcmp(&all[v].logprob_backward, &t->logprob_backward, sizeof(double)) == 0);
        }
        if (v && (all[v].logprob > all[v - 1].logprob ||
                  (all[v].logprob == all[v - 1].logprob && all[v].vocab_id < all[v - 1].vocab_id)))
            found = -V; /* not sorted */
    }
    for (int64_t v = 0; v < V; v++) {
        above_f += all[v].logprob_forward > t->logprob_forward;
        above_b += all[v].logprob_backward > t->logprob_backward;
    }
    CHECK_INT(found, 1);
    CHECK_INT(t->rank_forward, 1 + above_f);
    CHECK_INT(t->rank_backward, 1 + above_b);
    CHECK(fabs(total - 1) < 1e-6);
    /* The next word after the first p tokens: the masked slot's forward half. */
    elmo_sentence prefix = *s;
    prefix.n_tokens = (size_t)p;
    int64_t next = ELMO_LM_NEXT_WORD;
    elmo_lm_prediction top[3];
    CHECK_INT(elmo_lm_predict(m, NULL, &lp, &prefix, &next, 1, 3, top, &err), ELMO_OK);
    for (int k = 0; k < 3; k++) {
        int64_t v = 0;
        while (v < V && all[v].vocab_id != top[k].vocab_id) v++;
        CHECK(v < V && memcmp(&all[v].logprob_forward, &top[k].logprob, sizeof(double)) == 0);
        CHECK(isnan(top[k].logprob_backward));
    }
    free(sc);
    free(all);
}

static void test_identities(const elmo_model *m, const elmo_model *big) {
    check_identities(m, 0, 3, 0);
    check_identities(m, 31, 1, 0); /* "zzzunknown": scored as <UNK> */
    check_identities(m, 31, 4, 300);
    check_identities(big, 2, 5, 0);
    check_identities(big, 5, 0, 3000); /* the limit falls inside the second block */
    elmo_lm_token sc[8];
    CHECK_INT(elmo_lm_score(m, NULL, NULL, &B.s[31], 1, sc, NULL), ELMO_OK);
    CHECK_INT(sc[0].vocab_id, elmo_vocab_id(m, "<S>", 3));
    CHECK_INT(sc[2].vocab_id, -1); /* zzzunknown */
    CHECK_INT(sc[5].vocab_id, -1); /* qqqword */
    CHECK_INT(sc[6].vocab_id, elmo_vocab_id(m, ".", 1));
    CHECK_INT(sc[7].vocab_id, elmo_vocab_id(m, "</S>", 4));
    CHECK(isnan(sc[0].logprob_forward) && sc[0].rank_forward == 0 && sc[0].rank_backward > 0);
    CHECK(isnan(sc[7].logprob_backward) && sc[7].rank_backward == 0 && sc[7].rank_forward > 0);
    /* the default exclusions */
    elmo_lm_prediction all[458];
    int64_t mask = 1;
    CHECK_INT(elmo_lm_predict(m, NULL, NULL, &B.s[0], &mask, 1, 458, all, NULL), ELMO_OK);
    CHECK(all[454].vocab_id >= 0);
    CHECK_INT(all[455].vocab_id, -1); /* 455 words: <S>, </S>, <UNK> are left out */
    for (int k = 0; k < 455; k++) {
        size_t len;
        const char *w = elmo_vocab_word(m, all[k].vocab_id, &len);
        CHECK(w && strcmp(w, "<S>") && strcmp(w, "</S>") && strcmp(w, "<UNK>"));
    }
}

/* ---- lookups, info, interrupts ------------------------------------------------------------ */

static void test_vocabulary(const elmo_model *m) {
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    CHECK_INT(info.vocab_size, 458);
    CHECK(info.head_bytes > 458 * 17 * 4);
    size_t n = 0;
    char **lines = fx_read_lines(TINY_VOCAB, &n);
    CHECK_INT(n, 458);
    for (size_t v = 0; lines && v < n; v++) {
        size_t len = 0;
        CHECK_INT(elmo_vocab_id(m, lines[v], strlen(lines[v])), (long long)v);
        CHECK_STR(elmo_vocab_word(m, (int64_t)v, &len), lines[v]);
        CHECK_INT(len, strlen(lines[v]));
    }
    if (lines) fx_free_strings(lines, n);
    CHECK_INT(elmo_vocab_id(m, "the", 2), -1); /* exact bytes: "th" */
    CHECK_INT(elmo_vocab_id(m, "zzz", 3), -1);
    CHECK(elmo_vocab_word(m, 458, NULL) == NULL && elmo_vocab_word(m, -1, NULL) == NULL);
    elmo_model *plain = NULL;
    CHECK_INT(elmo_model_load(TINY_OPTIONS, TINY_WEIGHTS, NULL, &plain, NULL), ELMO_OK);
    elmo_model_get_info(plain, &info);
    CHECK(info.vocab_size == 0 && info.head_bytes == 0 && info.head_fingerprint[0] == '\0');
    CHECK_INT(elmo_vocab_id(plain, "the", 3), -1);
    CHECK(elmo_vocab_word(plain, 0, NULL) == NULL);
    elmo_model_free(plain);
}

static int always(void *arg) {
    (*(int *)arg)++;
    return 1;
}

static void test_interrupt(const elmo_model *m) {
    int calls = 0;
    elmo_run_params rp = elmo_run_default_params();
    rp.interrupt = always;
    rp.interrupt_arg = &calls;
    elmo_error err;
    elmo_lm_token sc[64];
    double ppl;
    elmo_lm_prediction pr[3];
    int64_t mask = ELMO_LM_NEXT_WORD;
    CHECK_INT(elmo_lm_score(m, &rp, NULL, B.s, 1, sc, &err), ELMO_ERR_INTERRUPTED);
    CHECK_STR(err.message, "interrupted");
    CHECK_INT(elmo_lm_perplexity(m, &rp, NULL, B.s, 1, &ppl, &err), ELMO_ERR_INTERRUPTED);
    CHECK_INT(elmo_lm_predict(m, &rp, NULL, B.s, &mask, 1, 3, pr, &err), ELMO_ERR_INTERRUPTED);
    CHECK(calls >= 3);
}

/* ---- the head from a bilm-tf training checkpoint ----------------------------------------- */

static void test_tf_checkpoint(const elmo_model *hdf5_head) {
    elmo_config cfg;
    elmo_tensor_desc list[64];
    CHECK_INT(elmo_options_load(TINY_OPTIONS, &cfg, NULL), ELMO_OK);
    int n = elmo_weights_list(&cfg, list, 60), k = 0;
    tfw_tensor t[72];
    char names[72][128];
    float *data[72];
    const char *extra[] = {"softmax/W", "softmax/b"};
    for (int i = 0; i < n + 2; i++) {
        const char *name = i < n ? list[i].name : extra[i - n];
        const char *file = i < n ? TINY_WEIGHTS : TINY_SOFTMAX;
        size_t dims[4] = {0}, numel = 1;
        int rank = 0;
        data[k] = fx_read_h5(file, name, dims, &rank);
        if (!data[k]) continue; /* an optional tensor the file does not have */
        t[k] = (tfw_tensor){.name = names[k], .dtype = 1, .rank = rank, .data = data[k]};
        for (int d = 0; d < rank; d++) numel *= dims[d], t[k].dims[d] = (int64_t)dims[d];
        t[k].bytes = numel * 4;
        tfw_bilm_tf_name(name, names[k], sizeof names[k]);
        k++;
    }
    /* the optimizer's slot of the head is not part of it */
    strcpy(names[k], "lm/softmax/W/Adagrad");
    t[k] = t[k - 2];
    t[k].name = names[k];
    k++;
    mkdir(gmu_path("ckpt", ""), 0700);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s", gmu_path("ckpt", "model.ckpt-10"));
    CHECK_INT(tfw_write(prefix, t, k, NULL), 0);
    for (int i = 0; i < k - 1; i++) free(data[i]);

    elmo_load_params p = elmo_load_default_params();
    p.vocab_path = TINY_VOCAB; /* the checkpoint holds W and b, not the words */
    elmo_model *m = NULL;
    elmo_error err;
    CHECK_INT(elmo_model_load(TINY_OPTIONS, prefix, &p, &m, &err), ELMO_OK);
    double a[MAX_SENT], b[MAX_SENT];
    if (m) {
        CHECK_INT(elmo_lm_perplexity(m, NULL, NULL, B.s, B.n, a, &err), ELMO_OK);
        CHECK_INT(elmo_lm_perplexity(hdf5_head, NULL, NULL, B.s, B.n, b, &err), ELMO_OK);
        CHECK(memcmp(a, b, B.n * sizeof *a) == 0);
        elmo_model_info x, y; /* the same head, whatever its file */
        elmo_model_get_info(m, &x);
        elmo_model_get_info(hdf5_head, &y);
        CHECK_STR(x.head_fingerprint, y.head_fingerprint);
        CHECK_INT(strlen(x.head_fingerprint), 16);
        elmo_model_free(m);
    }
    /* without the vocabulary the checkpoint loads as a plain model */
    CHECK_INT(elmo_model_load(TINY_OPTIONS, prefix, NULL, &m, &err), ELMO_OK);
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    CHECK_INT(info.vocab_size, 0);
    elmo_model_free(m);
}

/* The file reader (1 MiB chunks, lines carried across them) reads what the text reader
 * reads: 300,000 lines of 1..40 bytes, CRLF line ends, the specials at the end. */
static void test_vocabulary_chunks(void) {
    size_t cap = (size_t)300000 * 48, used = 0;
    char *text = malloc(cap);
    if (!text) return;
    for (int i = 0; i < 300000; i++) {
        int len = 1 + (int)((unsigned)i * 2654435761u % 40);
        used += (size_t)snprintf(text + used, cap - used, "w%d%.*s\r\n", i, len,
                                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    }
    used += (size_t)snprintf(text + used, cap - used, "<S>\n</S>\n<UNK>");
    const char *path = gmu_write("chunks", "vocab.txt", text, used);
    elmo_vocab a, b;
    CHECK_INT(elmo_vocab_load_text(text, used, "text", &a, NULL), ELMO_OK);
    CHECK_INT(path ? elmo_vocab_load_file(path, &b, NULL) : -1, ELMO_OK);
    CHECK_INT(a.n, 300003);
    CHECK_INT(b.n, a.n);
    int same = a.n == b.n && a.bos == b.bos && a.unk == b.unk;
    for (int64_t r = 0; same && r < a.n; r++)
        same = strcmp(elmo_vocab_token(&a, r, NULL), elmo_vocab_token(&b, r, NULL)) == 0;
    CHECK(same);
    CHECK_INT(elmo_vocab_find(&b, "w299999", 7), -1); /* its line is "w299999x..." */
    CHECK_INT(a.bos, 300000);
    elmo_vocab_free(&a);
    elmo_vocab_free(&b);
    free(text);
}

/* A head of BIG_V rows: the tiny vocabulary, then made-up words. */
static elmo_model *big_head(void) {
    size_t n = 0, cap = 64 * BIG_V, used = 0;
    char **lines = fx_read_lines(TINY_VOCAB, &n);
    char *text = malloc(cap);
    for (size_t v = 0; text && lines && v < BIG_V; v++) {
        if (v < n) used += (size_t)snprintf(text + used, cap - used, "%s\n", lines[v]);
        else used += (size_t)snprintf(text + used, cap - used, "extra%zu\n", v);
    }
    if (lines) fx_free_strings(lines, n);
    const char *vocab = text ? gmu_write("big", "vocab.txt", text, used) : NULL;
    free(text);
    char flags[600];
    snprintf(flags, sizeof flags, "--shape tiny --softmax-only --seed 7 --vocab %s",
             vocab ? vocab : "(none)");
    CHECK(vocab && gmu_gen("big", flags) == 0);
    return load(gmu_path("big", "softmax_weights.hdf5"), gmu_path("big", "vocab.txt"),
                ELMO_PRECISION_FP32);
}

int main(void) {
    make_batch();
    elmo_model *m = load(TINY_SOFTMAX, TINY_VOCAB, ELMO_PRECISION_FP32);
    elmo_model *big = big_head();
    if (m && big) {
        elmo_lm_params lp = elmo_lm_default_params();
        check_same_bytes(m, &lp, "V 458");
        check_same_bytes(big, &lp, "V 5000");
        lp.use_bias = 0;
        lp.vocab_limit = 3000;
        check_same_bytes(big, &lp, "V 5000, no bias, vocab_limit 3000");
        test_identities(m, big);
        test_vocabulary(m);
        test_interrupt(m);
        test_tf_checkpoint(m);
    }
    test_vocabulary_chunks();
    if (m && big) { /* another head, another fingerprint; the biLM's is the same */
        elmo_model_info x, y;
        elmo_model_get_info(m, &x);
        elmo_model_get_info(big, &y);
        CHECK(strcmp(x.head_fingerprint, y.head_fingerprint) != 0);
        CHECK_STR(x.fingerprint, y.fingerprint);
    }
    if (elmo_precision_supported(ELMO_PRECISION_BF16)) {
        elmo_model *h = load(TINY_SOFTMAX, TINY_VOCAB, ELMO_PRECISION_BF16);
        elmo_lm_params lp = elmo_lm_default_params();
        if (h) check_same_bytes(h, &lp, "V 458, bf16");
        double a[MAX_SENT], b[MAX_SENT];
        if (h && m) {
            CHECK_INT(elmo_lm_perplexity(h, NULL, NULL, B.s, B.n, a, NULL), ELMO_OK);
            CHECK_INT(elmo_lm_perplexity(m, NULL, NULL, B.s, B.n, b, NULL), ELMO_OK);
            for (size_t i = 0; i < B.n; i++)
                CHECK(isnan(a[i]) ? isnan(b[i]) : fabs(log(a[i]) - log(b[i])) < 0.02);
        }
        elmo_model_free(h);
    } else {
        printf("  bf16: skipped (no AVX512-BF16 on this CPU)\n");
    }
    elmo_model_free(m);
    elmo_model_free(big);
    for (size_t i = 0; i < B.n; i++) free(B.text[i]);
    gmu_cleanup();
    return harness_report("test_lm");
}
