/* safetensors_write.c - writes a model as one safetensors file (header JSON padded with
 * spaces to a multiple of 8 bytes, then the tensors in the given order). */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "safetensors.h"

static int64_t numel(const elmo_tensor_out *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

/* float32 -> bfloat16, rounded to nearest even (inputs are finite weights). */
static uint16_t to_bf16(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    bits += 0x7fffu + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

static char *header_json(const char *options_json, const char *vocab, const elmo_tensor_out *t,
                         int n, int bf16) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    int ok = root && meta && cJSON_AddItemToObject(root, "__metadata__", meta);
    if (!ok) cJSON_Delete(meta);
    ok = ok && cJSON_AddStringToObject(meta, ELMO_SAFETENSORS_OPTIONS_KEY, options_json);
    ok = ok && (!vocab || cJSON_AddStringToObject(meta, ELMO_SAFETENSORS_VOCAB_KEY, vocab));
    double at = 0, esize = bf16 ? 2 : 4;
    for (int i = 0; ok && i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name), *shape = NULL, *offs = NULL;
        ok = e && cJSON_AddStringToObject(e, "dtype", bf16 ? "BF16" : "F32") &&
             (shape = cJSON_AddArrayToObject(e, "shape")) &&
             (offs = cJSON_AddArrayToObject(e, "data_offsets"));
        for (int k = 0; ok && k < t[i].rank; k++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].dims[k]));
        double end = at + (double)numel(&t[i]) * esize;
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber(at)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber(end));
        at = end;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static int write_data(FILE *f, const elmo_tensor_out *t, int bf16) {
    size_t n = (size_t)numel(t);
    if (!bf16) return fwrite(t->data, 4, n, f) == n;
    unsigned char buf[4096];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t v = to_bf16(t->data[i]);
        buf[used++] = (unsigned char)(v & 0xff);
        buf[used++] = (unsigned char)(v >> 8);
        if (used == sizeof buf) {
            if (fwrite(buf, 1, used, f) != used) return 0;
            used = 0;
        }
    }
    return fwrite(buf, 1, used, f) == used;
}

int elmo_safetensors_write(const char *path, const char *options_json,
                           const elmo_tensor_out *tensors, int n, int bf16, elmo_error *err) {
    return elmo_safetensors_write_vocab(path, options_json, NULL, tensors, n, bf16, err);
}

int elmo_safetensors_write_vocab(const char *path, const char *options_json, const char *vocab,
                                 const elmo_tensor_out *tensors, int n, int bf16, elmo_error *err) {
    char *json = header_json(options_json, vocab, tensors, n, bf16);
    if (!json) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    char why[128];
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(json);
        return elmo_fail(err, ELMO_ERR_IO, "cannot create '%s': %s", path,
                         elmo_errno_text(errno, why, sizeof why));
    }
    unsigned char head[8];
    for (int i = 0; i < 8; i++) head[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(head, 1, 8, f) == 8 && fwrite(json, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; ok && i < n; i++) ok = write_data(f, &tensors[i], bf16);
    int e = errno;
    if (fclose(f) != 0) ok = 0;
    free(json);
    if (!ok)
        return elmo_fail(err, ELMO_ERR_IO, "cannot write '%s': %s", path,
                         elmo_errno_text(e, why, sizeof why));
    return ELMO_OK;
}
