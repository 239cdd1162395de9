/*
 * char_ids.c - character ids of one token (elmo_char_ids, elmo_boundary_char_ids).
 *
 * Follows AllenNLP's ELMoCharacterMapper with its +1 shift (docs/model.md §3.2): a token of
 * n_chars slots is [BOW, byte_0+1, ..., byte_{k-1}+1, EOW, PAD, PAD, ...] with
 * k = min(len, n_chars-2). The sentence boundaries are [BOW, BOS|EOS, EOW, PAD, ...].
 *
 * n_chars < 3 is a caller error (no room for one byte plus BOW and EOW). It never writes
 * more than n_chars ids: 0 writes nothing, 1 writes [BOW], 2 writes [BOW, EOW] for a
 * token (no bytes) and [BOW, BOS|EOS] for a boundary, i.e. the first n_chars ids of the
 * pattern.
 */
#include <string.h>

#include "elmo.h"

/* Shifted ids (unshifted + 1; 0 is reserved for padding tokens in a batch). */
enum {
    CHAR_ID_BOS = 257, /* begin-of-sentence character (unshifted 256) */
    CHAR_ID_EOS = 258, /* end-of-sentence character (unshifted 257) */
    CHAR_ID_BOW = 259, /* begin-of-word (unshifted 258) */
    CHAR_ID_EOW = 260, /* end-of-word (unshifted 259) */
    CHAR_ID_PAD = 261  /* padding character (unshifted 260), a learned symbol */
};

/* Writes the first n_chars ids of [BOW, middle, EOW, PAD, PAD, ...]. */
static void write_boundary(uint16_t middle, size_t n_chars, uint16_t *ids /* [n_chars] */) {
    for (size_t i = 0; i < n_chars; i++) {
        if (i == 0) ids[i] = CHAR_ID_BOW;
        else if (i == 1) ids[i] = middle;
        else if (i == 2) ids[i] = CHAR_ID_EOW;
        else ids[i] = CHAR_ID_PAD;
    }
}

void elmo_boundary_char_ids(int end, size_t n_chars, uint16_t *ids /* [n_chars] */) {
    write_boundary(end ? CHAR_ID_EOS : CHAR_ID_BOS, n_chars, ids);
}

void elmo_char_ids(const char *token, size_t len, size_t n_chars, uint16_t *ids /* [n_chars] */) {
    if (n_chars == 0) return;
    if (token == NULL) len = 0; /* defensive: a NULL token reads as the empty token */

    /* AllenNLP maps the literal tokens <S> and </S> to the sentence boundaries. */
    if (len == 3 && memcmp(token, "<S>", 3) == 0) {
        write_boundary(CHAR_ID_BOS, n_chars, ids);
        return;
    }
    if (len == 4 && memcmp(token, "</S>", 4) == 0) {
        write_boundary(CHAR_ID_EOS, n_chars, ids);
        return;
    }

    /* Byte truncation to n_chars-2 bytes; it may cut a UTF-8 sequence, as upstream does. */
    size_t room = n_chars >= 2 ? n_chars - 2 : 0;
    size_t k = len < room ? len : room;
    const unsigned char *bytes = (const unsigned char *)token;

    ids[0] = CHAR_ID_BOW;
    for (size_t i = 0; i < k; i++) ids[1 + i] = (uint16_t)(bytes[i] + 1);
    if (k + 1 < n_chars) ids[k + 1] = CHAR_ID_EOW;
    for (size_t i = k + 2; i < n_chars; i++) ids[i] = CHAR_ID_PAD;
}
