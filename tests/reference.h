/*
 * reference.h - a deliberately simple, double-precision reference implementation of the
 * ELMo biLM forward pass, written straight from docs/model.md (sections 2-7) with
 * plain loops. The test suite uses it as an oracle for the optimized engine in core/ on
 * model variants that have no golden outputs. It shares no code with core/ or elmo.h on
 * purpose: an independent second implementation is the point.
 *
 * Sizes: P = projection_dim, H = LSTM cell size, L = LSTM layers, n = tokens of a sentence.
 * Every symbol is prefixed ref_ because this file is linked into every test binary.
 */
#ifndef ELMO_TESTS_REFERENCE_H
#define ELMO_TESTS_REFERENCE_H

#include <stddef.h>

typedef struct ref_model ref_model;

/*
 * Loads an options JSON and its HDF5 weights (read as double). Handles every variant of
 * docs/model.md §2: clips absent / null / 0 (no clipping), n_highway absent (0), n_layers
 * absent (1, as bilm-tf), use_skip_connections true or false, relu or tanh, CNN_proj used
 * only when F != P, W_P_0 used only when P < H (P > H is rejected). Dataset shapes are
 * checked against the options. Returns NULL and writes a message to errbuf (if errlen > 0)
 * on failure.
 */
ref_model *ref_load(const char *options_path, const char *weights_path, char *errbuf,
                    size_t errlen);
void ref_free(ref_model *m);

int ref_n_layers(const ref_model *m); /* L */
int ref_proj_dim(const ref_model *m); /* P */

/* Carried state for streaming mode: (h [P], c [H]) per layer per direction, zero at
 * creation. */
typedef struct ref_state ref_state;
ref_state *ref_state_new(const ref_model *m);
void ref_state_free(ref_state *s);

/*
 * Runs one sentence of n tokens (token i = the len[i] bytes at tokens[i]; may be empty).
 * Writes out [L+1, n, 2P]: out[k][j] = layer k at token j, boundaries removed; layer 0 is
 * [e ; e], layer l >= 1 is [forward_l ; backward_l]. out may be NULL when n == 0.
 * state NULL = zero initial state; otherwise the run starts from *state and leaves the
 * final state there (forward: after </S>; backward: after <S>).
 * Returns 0 on success, -1 on a bad argument or allocation failure.
 */
int ref_run(const ref_model *m, const char *const *tokens, const size_t *lens, size_t n,
            ref_state *state, double *out);

/* Token embedding e [P] (layer 0) of one token on its own. Returns 0 or -1. */
int ref_token_embedding(const ref_model *m, const char *token, size_t len, double *out);

#endif
