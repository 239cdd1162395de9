/* result.c - the result object of a run: allocation, limits and the public accessors. */
#include <stdint.h>
#include <stdlib.h>

#include "bigbuf.h"
#include "error.h"
#include "result.h"

/* Bounds that keep every BLAS dimension within int and every size within size_t. */
#define MAX_SENTENCES ((size_t)1 << 24)
#define MAX_POSITIONS ((size_t)1 << 28)

void elmo_result_free(elmo_result *r) {
    if (!r) return;
    free(r->n_tokens);
    free(r->block);
    elmo_big_free(r->data);
    free(r);
}

int elmo_result_alloc(const elmo_model *m, const elmo_sentence *s, size_t n, int slots,
                      elmo_result **out, elmo_error *err) {
    size_t layers = (size_t)slots, D = 2 * (size_t)m->cfg.projection_dim;
    size_t positions = 0;
    for (size_t i = 0; i < n; i++) {
        positions += s[i].n_tokens + 2;
        if (s[i].n_tokens > MAX_POSITIONS || positions > MAX_POSITIONS)
            return elmo_fail(err, ELMO_ERR_LIMIT,
                             "%zu sentences with more than %zu token positions in one run; "
                             "split the input into smaller batches",
                             n, MAX_POSITIONS);
    }
    if (positions > SIZE_MAX / sizeof(float) / layers / D)
        return elmo_fail(err, ELMO_ERR_LIMIT, "the run's output would not fit in memory");
    elmo_result *r = calloc(1, sizeof *r);
    if (!r) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    r->n = n;
    r->dim = (int)D;
    r->n_layers = m->cfg.n_layers + 1;
    r->slots = slots;
    r->n_tokens = malloc((n ? n : 1) * sizeof *r->n_tokens);
    r->block = malloc((n ? n : 1) * sizeof *r->block);
    r->data = elmo_big_alloc((positions ? positions : 1) * layers * D * sizeof(float));
    if (!r->n_tokens || !r->block || !r->data) {
        elmo_result_free(r);
        return elmo_fail(err, ELMO_ERR_NOMEM,
                         "out of memory for the output of %zu token positions (%.1f MiB)",
                         positions, (double)positions * layers * D * 4 / (1 << 20));
    }
    for (size_t i = 0, at = 0; i < n; i++) {
        r->n_tokens[i] = s[i].n_tokens;
        r->block[i] = r->data + at;
        at += (s[i].n_tokens + 2) * layers * D;
    }
    *out = r;
    return ELMO_OK;
}

int elmo_check_sentences(const elmo_sentence *s, size_t n, elmo_error *err) {
    if (n > MAX_SENTENCES)
        return elmo_fail(err, ELMO_ERR_LIMIT, "%zu sentences in one run; at most %zu", n,
                         MAX_SENTENCES);
    if (n && !s) return elmo_fail(err, ELMO_ERR_ARG, "sentences is NULL but n is %zu", n);
    for (size_t i = 0; i < n; i++) {
        if (s[i].n_tokens && (!s[i].tokens || !s[i].text))
            return elmo_fail(err, ELMO_ERR_ARG, "sentence %zu has %zu tokens but no %s", i,
                             s[i].n_tokens, s[i].tokens ? "text" : "token spans");
        for (size_t t = 0; t < s[i].n_tokens; t++)
            if (s[i].tokens[t].end < s[i].tokens[t].start)
                return elmo_fail(err, ELMO_ERR_ARG,
                                 "sentence %zu token %zu has end %zu before start %zu", i, t,
                                 s[i].tokens[t].end, s[i].tokens[t].start);
    }
    return ELMO_OK;
}

size_t elmo_result_count(const elmo_result *r) {
    return r ? r->n : 0;
}
int elmo_result_dim(const elmo_result *r) {
    return r ? r->dim : 0;
}
int elmo_result_layers(const elmo_result *r) {
    return r ? r->n_layers : 0;
}

size_t elmo_result_tokens(const elmo_result *r, size_t i) {
    return r && i < r->n ? r->n_tokens[i] : 0;
}

const float *elmo_result_layer(const elmo_result *r, size_t i, int k) {
    if (!r || i >= r->n || k < 0 || k >= r->n_layers) return NULL;
    return elmo_result_rows(r, i, k) + r->dim; /* skip the <S> row */
}
