/* char_cnn.c - character CNN, highway layers and projection (docs/model.md §5) as GEMMs. */
#include "char_cnn.h"

#include <string.h>

#include "gemm.h"
#include "kernels.h"

/* Tokens per convolution GEMM: keeps the [tokens * positions, n_i] product small. */
#define CONV_TOKENS 16

typedef struct cnn_scratch {
    float *chars;  /* [CHUNK, C, d_c] embedded characters */
    float *im2col; /* [CONV_TOKENS * (C-w+1), w*d_c] for the widest bank */
    float *conv;   /* [CONV_TOKENS * (C-w+1), n_i] for the largest bank */
    float *x;      /* [CHUNK, F] highway state */
    float *gate;   /* [CHUNK, F] */
    float *trans;  /* [CHUNK, F] */
} cnn_scratch;

static size_t max_im2col(const elmo_config *c) {
    size_t best = 0;
    for (int i = 0; i < c->n_banks; i++) {
        size_t rows = (size_t)(c->max_chars - c->bank_width[i] + 1) * CONV_TOKENS;
        size_t v = rows * (size_t)(c->bank_width[i] * c->char_embed_dim);
        if (v > best) best = v;
    }
    return best;
}

static size_t max_conv(const elmo_config *c) {
    size_t best = 0;
    for (int i = 0; i < c->n_banks; i++) {
        size_t v =
            (size_t)(c->max_chars - c->bank_width[i] + 1) * CONV_TOKENS * (size_t)c->bank_count[i];
        if (v > best) best = v;
    }
    return best;
}

static cnn_scratch split_scratch(const elmo_config *c, float *base) {
    cnn_scratch s;
    size_t F = (size_t)c->n_filters;
    s.chars = base;
    s.im2col = s.chars + (size_t)ELMO_CNN_CHUNK * c->max_chars * c->char_embed_dim;
    s.conv = s.im2col + max_im2col(c);
    s.x = s.conv + max_conv(c);
    s.gate = s.x + ELMO_CNN_CHUNK * F;
    s.trans = s.gate + ELMO_CNN_CHUNK * F;
    return s;
}

size_t elmo_cnn_scratch_floats(const elmo_config *c) {
    return (size_t)ELMO_CNN_CHUNK * c->max_chars * c->char_embed_dim + max_im2col(c) + max_conv(c) +
           3 * (size_t)ELMO_CNN_CHUNK * c->n_filters;
}

/* Convolution bank i over tokens [t0, t0+nt): writes x[t, offset .. offset+n_i). */
static void conv_bank(const elmo_config *c, const elmo_weights *w, const cnn_scratch *s, int bank,
                      size_t t0, size_t nt, size_t offset) {
    size_t C = (size_t)c->max_chars, dc = (size_t)c->char_embed_dim;
    size_t width = (size_t)c->bank_width[bank], n = (size_t)c->bank_count[bank];
    size_t positions = C - width + 1, k = width * dc;
    /* im2col: row p of token t is chars[t, p .. p+width) flattened, which is contiguous. */
    for (size_t t = 0; t < nt; t++)
        for (size_t p = 0; p < positions; p++)
            memcpy(s->im2col + (t * positions + p) * k, s->chars + ((t0 + t) * C + p) * dc,
                   k * sizeof(float));
    size_t rows = nt * positions;
    /* conv [rows, n] = im2col [rows, k] . W [k, n] */
    elmo_gemm(s->im2col, k, rows, &w->conv_w[bank], s->conv, n, 0);
    for (size_t t = 0; t < nt; t++)
        elmo_conv_max(s->conv + t * positions * n, positions, n, w->conv_b[bank],
                      c->relu_activation, s->x + (t0 + t) * (size_t)c->n_filters + offset);
}

void elmo_cnn_embed(const elmo_config *c, const elmo_weights *w, const uint16_t *ids, size_t n,
                    float *out, float *scratch) {
    if (n == 0) return;
    cnn_scratch s = split_scratch(c, scratch);
    size_t C = (size_t)c->max_chars, dc = (size_t)c->char_embed_dim;
    size_t F = (size_t)c->n_filters, P = (size_t)c->projection_dim;

    /* chars [n, C, d_c]: shifted id u+1 selects row u of char_embed (docs/model.md §3.3). */
    for (size_t i = 0; i < n * C; i++) {
        unsigned id = ids[i];
        unsigned row = id >= 1 && id <= ELMO_CHAR_VOCAB ? id - 1 : ELMO_CHAR_VOCAB - 1;
        memcpy(s.chars + i * dc, w->char_embed + row * dc, dc * sizeof(float));
    }
    /* x [n, F] = concatenated max-pooled convolutions, in filter-list order. */
    size_t offset = 0;
    for (int b = 0; b < c->n_banks; b++) {
        for (size_t t0 = 0; t0 < n; t0 += CONV_TOKENS) {
            size_t nt = n - t0 < CONV_TOKENS ? n - t0 : CONV_TOKENS;
            conv_bank(c, w, &s, b, t0, nt, offset);
        }
        offset += (size_t)c->bank_count[b];
    }
    /* Highway: gate [rows, F] = x W_carry, trans [rows, F] = x W_transform, combine. */
    size_t rows = n;
    for (int k = 0; k < c->n_highway; k++) {
        const elmo_highway *hw = &w->highway[k];
        elmo_gemm(s.x, F, rows, &hw->w_carry, s.gate, F, 0);
        elmo_gemm(s.x, F, rows, &hw->w_transform, s.trans, F, 0);
        elmo_highway_combine(s.x, s.gate, hw->b_carry, s.trans, hw->b_transform, rows, F);
    }
    /* out [n, P] = x W_proj + b_proj; without a projection (F == P) x is the embedding. */
    if (w->proj_w.data) {
        elmo_gemm(s.x, F, rows, &w->proj_w, out, P, 0);
        elmo_add_bias_rows(out, w->proj_b, n, P);
    } else {
        memcpy(out, s.x, n * P * sizeof(float));
    }
}
