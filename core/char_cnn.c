/* char_cnn.c - character CNN, highway layers and projection (docs/model.md §5) as GEMMs.
 *
 * Scratch is bounded whatever the options: tokens are embedded a pass at a time and the
 * convolution's im2col rows a block at a time, each part of the scratch held to
 * PART_BUDGET_FLOATS unless a single token or row needs more (then one of them: its size
 * is that of a weight matrix's row or of char_embed times C / 261, so the model's own
 * weights bound it). Options that pass validation (1,024 characters per token, a filter
 * of width 512, 128-wide character embeddings) once made every call allocate gigabytes.
 * The blocking changes no result: each GEMM row is computed alone (gemm.h) and the max
 * over positions compares the same values in the same order. */
#include "char_cnn.h"

#include <stdatomic.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"

/* Tokens per convolution GEMM: keeps the [tokens * positions, n_i] product small. */
#define CONV_TOKENS 16
/* Floats of each part of the scratch (4 MiB): the published models fit it whole, so their
 * passes and GEMMs are what they were without a budget. */
#define PART_BUDGET_FLOATS ((size_t)1 << 20)

static atomic_size_t budget_override; /* 0: PART_BUDGET_FLOATS */

void elmo_cnn_set_part_budget(size_t floats) {
    atomic_store(&budget_override, floats);
}

static size_t part_budget(void) {
    size_t b = atomic_load(&budget_override);
    return b ? b : PART_BUDGET_FLOATS;
}

/* How a call is cut to fit the budget. */
typedef struct cnn_plan {
    size_t tokens; /* tokens per pass: chars [tokens, C, d_c], x, gate, trans [tokens, F] */
    size_t rows;   /* im2col and conv rows per GEMM at most (>= 1) */
    size_t im2col; /* floats of im2col */
    size_t conv;   /* floats of conv */
} cnn_plan;

typedef struct cnn_scratch {
    float *chars;  /* [tokens, C, d_c] embedded characters of a pass */
    float *im2col; /* [rows, w*d_c] for the widest bank */
    float *conv;   /* [rows, n_i] for the largest bank */
    float *x;      /* [tokens, F] highway state */
    float *gate;   /* [tokens, F] */
    float *trans;  /* [tokens, F] */
} cnn_scratch;

static size_t max_sz(size_t a, size_t b) {
    return a > b ? a : b;
}

static size_t min_sz(size_t a, size_t b) {
    return a < b ? a : b;
}

/* Whole tokens per GEMM of bank i (0 when one token's positions exceed plan->rows). */
static size_t group_tokens(const elmo_config *c, const cnn_plan *plan, int i) {
    size_t positions = (size_t)(c->max_chars - c->bank_width[i] + 1);
    return min_sz(min_sz(CONV_TOKENS, plan->tokens), plan->rows / positions);
}

/* Rows of one GEMM of bank i. */
static size_t bank_rows(const elmo_config *c, const cnn_plan *plan, int i) {
    size_t positions = (size_t)(c->max_chars - c->bank_width[i] + 1);
    size_t group = group_tokens(c, plan, i);
    return group ? group * positions : plan->rows;
}

static cnn_plan make_plan(const elmo_config *c) {
    size_t per_token =
        max_sz((size_t)c->max_chars * (size_t)c->char_embed_dim, (size_t)c->n_filters);
    size_t k_max = 1, n_max = 1;
    for (int i = 0; i < c->n_banks; i++) {
        k_max = max_sz(k_max, (size_t)c->bank_width[i] * (size_t)c->char_embed_dim);
        n_max = max_sz(n_max, (size_t)c->bank_count[i]);
    }
    cnn_plan p = {0};
    size_t budget = part_budget();
    p.tokens = min_sz(max_sz(budget / per_token, 1), ELMO_CNN_CHUNK);
    p.rows = max_sz(min_sz(budget / k_max, budget / n_max), 1);
    for (int i = 0; i < c->n_banks; i++) {
        size_t rows = bank_rows(c, &p, i);
        p.im2col = max_sz(p.im2col, rows * (size_t)c->bank_width[i] * (size_t)c->char_embed_dim);
        p.conv = max_sz(p.conv, rows * (size_t)c->bank_count[i]);
    }
    return p;
}

static cnn_scratch split_scratch(const elmo_config *c, const cnn_plan *p, float *base) {
    cnn_scratch s;
    size_t F = (size_t)c->n_filters;
    s.chars = base;
    s.im2col = s.chars + p->tokens * (size_t)c->max_chars * (size_t)c->char_embed_dim;
    s.conv = s.im2col + p->im2col;
    s.x = s.conv + p->conv;
    s.gate = s.x + p->tokens * F;
    s.trans = s.gate + p->tokens * F;
    return s;
}

size_t elmo_cnn_scratch_floats(const elmo_config *c) {
    cnn_plan p = make_plan(c);
    return p.tokens * (size_t)c->max_chars * (size_t)c->char_embed_dim + p.im2col + p.conv +
           3 * p.tokens * (size_t)c->n_filters;
}

/* im2col rows for positions [p0, p0 + np) of token t of the pass: row p is chars[t, p ..
 * p+width) flattened, which is contiguous. */
static void fill_rows(const elmo_config *c, const cnn_scratch *s, size_t width, size_t t, size_t p0,
                      size_t np, float *dst) {
    size_t C = (size_t)c->max_chars, dc = (size_t)c->char_embed_dim, k = width * dc;
    for (size_t p = 0; p < np; p++)
        memcpy(dst + p * k, s->chars + (t * C + p0 + p) * dc, k * sizeof(float));
}

/* Convolution bank i over the pass's tokens [0, nt): writes x[t, offset .. offset+n_i). */
static void conv_bank(const elmo_config *c, const elmo_weights *w, const cnn_plan *plan,
                      const cnn_scratch *s, int bank, size_t nt, size_t offset) {
    size_t C = (size_t)c->max_chars, dc = (size_t)c->char_embed_dim, F = (size_t)c->n_filters;
    size_t width = (size_t)c->bank_width[bank], n = (size_t)c->bank_count[bank];
    size_t positions = C - width + 1, k = width * dc, group = group_tokens(c, plan, bank);
    const elmo_packed *W = &w->conv_w[bank];
    if (group) { /* whole tokens per GEMM: conv [rows, n] = im2col [rows, k] . W [k, n] */
        for (size_t t0 = 0; t0 < nt; t0 += group) {
            size_t g = min_sz(group, nt - t0);
            for (size_t t = 0; t < g; t++)
                fill_rows(c, s, width, t0 + t, 0, positions, s->im2col + t * positions * k);
            elmo_gemm(s->im2col, k, g * positions, W, s->conv, n, 0);
            for (size_t t = 0; t < g; t++)
                elmo_conv_max(s->conv + t * positions * n, positions, n, w->conv_b[bank],
                              c->relu_activation, s->x + (t0 + t) * F + offset);
        }
        return;
    }
    for (size_t t = 0; t < nt; t++) {       /* one token's positions in blocks: a running max */
        float *acc = s->x + t * F + offset; /* [n] */
        for (size_t p0 = 0; p0 < positions; p0 += plan->rows) {
            size_t np = min_sz(plan->rows, positions - p0);
            fill_rows(c, s, width, t, p0, np, s->im2col);
            elmo_gemm(s->im2col, k, np, W, s->conv, n, 0);
            if (p0 == 0) memcpy(acc, s->conv, n * sizeof(float));
            elmo_max_rows(p0 == 0 ? s->conv + n : s->conv, p0 == 0 ? np - 1 : np, n, acc);
        }
        elmo_conv_max(acc, 1, n, w->conv_b[bank], c->relu_activation, acc); /* bias, act */
    }
}

/* Embeds the nt <= plan->tokens tokens of one pass: ids [nt, C] -> out [nt, P]. */
static void embed_pass(const elmo_config *c, const elmo_weights *w, const cnn_plan *plan,
                       const cnn_scratch *s, const uint16_t *ids, size_t nt, float *out) {
    size_t C = (size_t)c->max_chars, dc = (size_t)c->char_embed_dim;
    size_t F = (size_t)c->n_filters, P = (size_t)c->projection_dim;

    /* chars [nt, C, d_c]: shifted id u+1 selects row u of char_embed (docs/model.md §3.3). */
    for (size_t i = 0; i < nt * C; i++) {
        unsigned id = ids[i];
        unsigned row = id >= 1 && id <= ELMO_CHAR_VOCAB ? id - 1 : ELMO_CHAR_VOCAB - 1;
        memcpy(s->chars + i * dc, w->char_embed + row * dc, dc * sizeof(float));
    }
    /* x [nt, F] = concatenated max-pooled convolutions, in filter-list order. */
    size_t offset = 0;
    for (int b = 0; b < c->n_banks; b++) {
        conv_bank(c, w, plan, s, b, nt, offset);
        offset += (size_t)c->bank_count[b];
    }
    /* Highway: gate [nt, F] = x W_carry, trans [nt, F] = x W_transform, combine. */
    for (int k = 0; k < c->n_highway; k++) {
        const elmo_highway *hw = &w->highway[k];
        elmo_gemm(s->x, F, nt, &hw->w_carry, s->gate, F, 0);
        elmo_gemm(s->x, F, nt, &hw->w_transform, s->trans, F, 0);
        elmo_highway_combine(s->x, s->gate, hw->b_carry, s->trans, hw->b_transform, nt, F);
    }
    /* out [nt, P] = x W_proj + b_proj; without a projection (F == P) x is the embedding. */
    if (w->proj_w.data) {
        elmo_gemm(s->x, F, nt, &w->proj_w, out, P, 0);
        elmo_add_bias_rows(out, w->proj_b, nt, P);
    } else {
        memcpy(out, s->x, nt * P * sizeof(float));
    }
}

void elmo_cnn_embed(const elmo_config *c, const elmo_weights *w, const uint16_t *ids, size_t n,
                    float *out, float *scratch) {
    cnn_plan plan = make_plan(c);
    cnn_scratch s = split_scratch(c, &plan, scratch);
    size_t C = (size_t)c->max_chars, P = (size_t)c->projection_dim;
    for (size_t t0 = 0; t0 < n; t0 += plan.tokens) {
        size_t nt = min_sz(plan.tokens, n - t0);
        embed_pass(c, w, &plan, &s, ids + t0 * C, nt, out + t0 * P);
    }
}
