/* safetensors_source.c - tensors from a safetensors file.
 *
 * The file may come from anywhere, so nothing in it is trusted: the header length is
 * checked against the file size and a cap, the JSON is scanned (no NUL characters, a
 * bounded number of values, so parsing costs a small multiple of the header) and parsed by
 * cJSON within those bytes, and every tensor's dtype, shape and byte range is checked (in
 * range, size = elements x dtype size, no overlaps, no gaps, no duplicate names) before
 * any data is touched.
 *
 * The file is read, not mapped: each tensor's bytes are read once, straight into the
 * caller's buffer, and every read checks that the file is still the one that was opened
 * (file_read.h). A file truncated or rewritten during the load is an error; with a mapping
 * it was a SIGBUS that killed the host process. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "file_read.h"
#include "json_scan.h"
#include "safetensors.h"

#define MAX_DIM ((int64_t)1 << 40) /* far beyond any tensor; keeps products in range */
#define MAX_NAME 256
/* JSON values of a header: a tensor takes about 16, and a model has at most a few hundred
 * tensors. Bounds the parse to about 8 MiB of nodes whatever the header's size. */
#define MAX_HEADER_VALUES 100000
#define BF16_CHUNK 8192 /* values converted per read */

typedef struct st_tensor {
    const char *name; /* into the cJSON tree */
    int bf16;         /* 0: F32, 1: BF16 */
    int rank;
    int64_t dims[ELMO_MAX_RANK];
    uint64_t begin, end; /* bytes into the data section */
} st_tensor;

typedef struct st_source {
    elmo_tensor_source base;
    char *path;
    elmo_file file;
    uint64_t size;       /* the file's bytes */
    uint64_t data_start; /* where the data section starts: 8 + header bytes */
    char *text;          /* [header bytes + 1] the header JSON */
    cJSON *header;
    st_tensor *t; /* [n] */
    int n;
} st_source;

static void st_close(elmo_tensor_source *base) {
    st_source *s = (st_source *)base;
    elmo_file_close(&s->file);
    cJSON_Delete(s->header);
    free(s->text);
    free(s->t);
    free(s->path);
    free(s);
}

static const st_tensor *lookup(const st_source *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

static int st_find(elmo_tensor_source *base, const char *name, int *rank,
                   int64_t dims[ELMO_MAX_RANK], elmo_error *err) {
    (void)err;
    const st_tensor *t = lookup((st_source *)base, name);
    if (!t) return 0;
    *rank = t->rank;
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return 1;
}

/* Reads `count` values of tensor t from its byte `at` into dst as float32, straight from
 * the file (bf16 widened a chunk at a time); every read checks the file is unchanged. */
static int read_values(st_source *s, const st_tensor *t, uint64_t at, float *dst, size_t count,
                       elmo_error *err) {
    if (!t->bf16) /* little-endian hosts only (checked at open) */
        return elmo_file_read(&s->file, at, dst, count * 4, err);
    uint16_t half[BF16_CHUNK]; /* [BF16_CHUNK] little-endian bfloat16 as read */
    for (size_t done = 0; done < count;) {
        size_t n = count - done < BF16_CHUNK ? count - done : BF16_CHUNK;
        int rc = elmo_file_read(&s->file, at + 2 * done, half, 2 * n, err);
        if (rc) return rc;
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)half[i] << 16;
            memcpy(&dst[done + i], &bits, 4);
        }
        done += n;
    }
    return ELMO_OK;
}

static int st_read(elmo_tensor_source *base, const char *name, float *dst, size_t count,
                   elmo_error *err) {
    st_source *s = (st_source *)base;
    const st_tensor *t = lookup(s, name);
    size_t esize = t && t->bf16 ? 2 : 4;
    if (!t || (t->end - t->begin) / esize != count)
        return elmo_fail(err, ELMO_ERR_INTERNAL,
                         "safetensors file '%s': tensor '%s' read with "
                         "the wrong size",
                         s->path, name);
    return read_values(s, t, s->data_start + t->begin, dst, count, err);
}

/* Rows [row0, row0 + rows) of a tensor: one contiguous byte range of the file. */
static int st_read_rows(elmo_tensor_source *base, const char *name, int64_t row0, int64_t rows,
                        float *dst, elmo_error *err) {
    st_source *s = (st_source *)base;
    const st_tensor *t = lookup(s, name);
    if (!t || t->rank < 1 || t->dims[0] < 1 || row0 < 0 || rows < 0 || row0 + rows > t->dims[0])
        return elmo_fail(err, ELMO_ERR_INTERNAL,
                         "safetensors file '%s': rows %lld..%lld of tensor '%s' read out of "
                         "range",
                         s->path, (long long)row0, (long long)(row0 + rows - 1), name);
    uint64_t esize = t->bf16 ? 2 : 4, row_bytes = (t->end - t->begin) / (uint64_t)t->dims[0];
    size_t count = (size_t)((uint64_t)rows * (row_bytes / esize));
    return read_values(s, t, s->data_start + t->begin + (uint64_t)row0 * row_bytes, dst, count,
                       err);
}

int elmo_safetensors_metadata(elmo_tensor_source *base, const char *key, const char **value) {
    if (!base || strcmp(base->format, "safetensors") != 0) return 0;
    const st_source *s = (const st_source *)base;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(s->header, "__metadata__");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
    if (!cJSON_IsString(v)) return 0;
    *value = v->valuestring;
    return 1;
}

static const char *st_name_at(const void *ctx, int i) {
    return ((const st_source *)ctx)->t[i].name;
}

static int st_exists(elmo_tensor_source *base, const char *name) {
    st_source *s = (st_source *)base;
    return elmo_tensor_names_have(st_name_at, s, s->n, name);
}

static int st_check_unused(elmo_tensor_source *base, const char *const *used, int n,
                           elmo_error *err) {
    st_source *s = (st_source *)base;
    int i = elmo_tensor_names_unused(st_name_at, s, s->n, used, n);
    if (i >= 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s' holds tensor '%s', which the model does "
                         "not use; check that the file was written for these options",
                         s->path, s->t[i].name);
    return ELMO_OK;
}

/* ---- header validation ----------------------------------------------------------------- */

static int bad(st_source *s, elmo_error *err, const char *name, const char *what) {
    return elmo_fail(err, ELMO_ERR_FORMAT, "safetensors file '%s': tensor '%.*s' %s", s->path,
                     MAX_NAME, name, what);
}

/* An integer-valued JSON number in [0, max]. */
static int get_count(const cJSON *v, int64_t max, int64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > (double)max || d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

static int parse_tensor(st_source *s, const cJSON *item, st_tensor *t, uint64_t data_size,
                        elmo_error *err) {
    char what[160];
    t->name = item->string;
    if (strlen(item->string) > MAX_NAME)
        return bad(s, err, item->string, "has a name longer than 256 bytes");
    if (!cJSON_IsObject(item)) return bad(s, err, t->name, "is not a JSON object");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype)) return bad(s, err, t->name, "has no string \"dtype\"");
    if (strcmp(dtype->valuestring, "F32") == 0) {
        t->bf16 = 0;
    } else if (strcmp(dtype->valuestring, "BF16") == 0) {
        t->bf16 = 1;
    } else {
        snprintf(what, sizeof what, "has dtype '%.32s'; valid dtypes: F32, BF16",
                 dtype->valuestring);
        return bad(s, err, t->name, what);
    }
    if (!cJSON_IsArray(shape)) return bad(s, err, t->name, "has no \"shape\" array");
    int rank = cJSON_GetArraySize(shape);
    if (rank > ELMO_MAX_RANK) return bad(s, err, t->name, "has more than 8 dimensions");
    t->rank = rank;
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (!get_count(cJSON_GetArrayItem(shape, i), MAX_DIM, &t->dims[i]))
            return bad(s, err, t->name, "has a dimension that is not an integer from 0 to 2^40");
        if (t->dims[i] && numel > (uint64_t)MAX_DIM / (uint64_t)t->dims[i])
            return bad(s, err, t->name, "has more than 2^40 elements");
        numel *= (uint64_t)t->dims[i];
    }
    int64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !get_count(cJSON_GetArrayItem(offs, 0), INT64_C(1) << 53, &b) ||
        !get_count(cJSON_GetArrayItem(offs, 1), INT64_C(1) << 53, &e))
        return bad(s, err, t->name, "has no \"data_offsets\" pair of integers");
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    if (t->begin > t->end || t->end > data_size) {
        snprintf(what, sizeof what,
                 "has data_offsets [%llu, %llu] outside the %llu-byte data "
                 "section (the file is truncated or corrupted)",
                 (unsigned long long)t->begin, (unsigned long long)t->end,
                 (unsigned long long)data_size);
        return bad(s, err, t->name, what);
    }
    uint64_t want = numel * (t->bf16 ? 2 : 4);
    if (t->end - t->begin != want) {
        snprintf(what, sizeof what, "has %llu data bytes, but its shape and dtype need %llu",
                 (unsigned long long)(t->end - t->begin), (unsigned long long)want);
        return bad(s, err, t->name, what);
    }
    return ELMO_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int by_begin(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Names unique, byte ranges exactly tiling the data section. */
static int check_layout(st_source *s, uint64_t data_size, elmo_error *err) {
    qsort(s->t, (size_t)s->n, sizeof *s->t, by_name);
    for (int i = 1; i < s->n; i++)
        if (strcmp(s->t[i - 1].name, s->t[i].name) == 0)
            return bad(s, err, s->t[i].name, "appears twice in the header");
    qsort(s->t, (size_t)s->n, sizeof *s->t, by_begin);
    uint64_t at = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->t[i].begin < at)
            return bad(s, err, s->t[i].name, "overlaps the previous tensor's bytes");
        if (s->t[i].begin > at)
            return bad(s, err, s->t[i].name, "starts after a gap in the data section");
        at = s->t[i].end;
    }
    if (at != data_size)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s': the data section has %llu bytes but the "
                         "tensors use %llu (the file is corrupted)",
                         s->path, (unsigned long long)data_size, (unsigned long long)at);
    return ELMO_OK;
}

static int parse_metadata(st_source *s, const cJSON *meta, char **options_json, elmo_error *err) {
    const cJSON *options = NULL;
    if (meta && !cJSON_IsObject(meta))
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s': __metadata__ is not a JSON object", s->path);
    for (const cJSON *v = meta ? meta->child : NULL; v; v = v->next) {
        if (!cJSON_IsString(v))
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "safetensors file '%s': metadata value '%.*s' is not a string",
                             s->path, MAX_NAME, v->string);
        if (strcmp(v->string, ELMO_SAFETENSORS_OPTIONS_KEY) == 0) {
            if (options)
                return elmo_fail(err, ELMO_ERR_FORMAT,
                                 "safetensors file '%s': metadata key 'elmo_options' appears "
                                 "twice",
                                 s->path);
            options = v;
        }
    }
    if (!options_json) return ELMO_OK;
    if (!options)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s' has no 'elmo_options' in its __metadata__; "
                         "write it with 'elmo convert', which stores the model's options there",
                         s->path);
    size_t n = strlen(options->valuestring) + 1;
    if (!(*options_json = malloc(n))) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    memcpy(*options_json, options->valuestring, n);
    return ELMO_OK;
}

/* Reads the header length and the header's bytes, and scans the JSON text. */
static int read_header(st_source *s, uint64_t *len, elmo_error *err) {
    unsigned char head[8];
    if (s->size < 8)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s' is %llu bytes, shorter than its 8-byte header "
                         "length (the file is truncated)",
                         s->path, (unsigned long long)s->size);
    int rc = elmo_file_read(&s->file, 0, head, 8, err);
    if (rc) return rc;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | head[i];
    if (n > ELMO_SAFETENSORS_HEADER_MAX)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s' declares a %llu-byte header; at most 100 MiB "
                         "is accepted (the file is corrupted or not safetensors)",
                         s->path, (unsigned long long)n);
    if (n > s->size - 8)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s' declares a %llu-byte header but has only %llu "
                         "bytes after the length (the file is truncated)",
                         s->path, (unsigned long long)n, (unsigned long long)(s->size - 8));
    if (!(s->text = malloc((size_t)n + 1)))
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading the %llu-byte header of '%s'",
                         (unsigned long long)n, s->path);
    if ((rc = elmo_file_read(&s->file, 8, s->text, (size_t)n, err))) return rc;
    s->text[n] = '\0';
    elmo_json_stats scan;
    elmo_json_scan(s->text, (size_t)n, &scan);
    if (scan.nul >= 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s': the header holds a NUL character (a \\u0000 "
                         "escape or a NUL byte) at byte %lld; names and values must not contain "
                         "one (the file is corrupted or hostile)",
                         s->path, 8 + scan.nul);
    if (scan.values > MAX_HEADER_VALUES)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s': the %llu-byte header holds over %d JSON values; "
                         "an ELMo model's header holds a few thousand (the file is corrupted or "
                         "not an ELMo model)",
                         s->path, (unsigned long long)n, MAX_HEADER_VALUES);
    *len = n;
    return ELMO_OK;
}

static int parse_header(st_source *s, char **options_json, elmo_error *err) {
    uint64_t n = 0;
    int rc = read_header(s, &n, err);
    if (rc) return rc;
    const char *text = s->text, *end = NULL;
    s->header = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
    if (!s->header || !cJSON_IsObject(s->header))
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "safetensors file '%s': the header is not a JSON object (the file is "
                         "corrupted or not safetensors)",
                         s->path);
    for (const char *p = end; p && p < text + n; p++) /* only padding may follow */
        if (*p != ' ')
            return elmo_fail(err, ELMO_ERR_FORMAT,
                             "safetensors file '%s': bytes follow the header's JSON object",
                             s->path);
    s->data_start = 8 + n;
    uint64_t data_size = s->size - 8 - n;
    int count = 0;
    const cJSON *meta = NULL;
    for (const cJSON *v = s->header->child; v; v = v->next) {
        if (strcmp(v->string, "__metadata__") == 0) {
            if (meta)
                return elmo_fail(err, ELMO_ERR_FORMAT,
                                 "safetensors file '%s': __metadata__ appears twice", s->path);
            meta = v;
        } else {
            count++;
        }
    }
    s->t = calloc(count ? (size_t)count : 1, sizeof *s->t);
    if (!s->t) return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    int bf16 = 0;
    for (const cJSON *v = s->header->child; v && !rc; v = v->next) {
        if (v == meta) continue;
        rc = parse_tensor(s, v, &s->t[s->n], data_size, err);
        bf16 += !rc && s->t[s->n].bf16;
        s->n++;
    }
    if (!rc) rc = check_layout(s, data_size, err);
    if (!rc) rc = parse_metadata(s, meta, options_json, err);
    s->base.stores_bf16 = s->n > 0 && bf16 == s->n;
    return rc;
}

int elmo_safetensors_source_open(const char *path, elmo_tensor_source **out, char **options_json,
                                 elmo_error *err) {
    *out = NULL;
    if (options_json) *options_json = NULL;
    const uint16_t one = 1;
    if (*(const unsigned char *)&one != 1)
        return elmo_fail(err, ELMO_ERR_ARG, "safetensors files need a little-endian CPU");
    st_source *s = calloc(1, sizeof *s);
    if (s) s->file.fd = -1;
    if (!s || !(s->path = malloc(strlen(path) + 1))) {
        free(s);
        return elmo_fail(err, ELMO_ERR_NOMEM, "out of memory");
    }
    strcpy(s->path, path);
    s->base = (elmo_tensor_source){.path = s->path,
                                   .format = "safetensors",
                                   .find = st_find,
                                   .read = st_read,
                                   .exists = st_exists,
                                   .check_unused = st_check_unused,
                                   .close = st_close,
                                   .read_rows = st_read_rows};
    int rc = elmo_file_open(&s->file, s->path, "safetensors file", err);
    s->size = s->file.size;
    if (!rc) rc = parse_header(s, options_json, err);
    if (rc) {
        if (options_json) {
            free(*options_json);
            *options_json = NULL;
        }
        st_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return ELMO_OK;
}
