/* vectors.c - float32 vectors in SQL: little-endian BLOBs (subtype 223, the format of
 * sqlite-vec) or JSON array text; elmo_cosine() and elmo_json(). */
#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

void ext_vector_encode(const float *x, size_t n, unsigned char *out) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        for (int b = 0; b < 4; b++) out[4 * i + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
}

static float decode_one(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void ext_result_vector(sqlite3_context *ctx, const float *x, size_t n) {
    unsigned char *blob = sqlite3_malloc64(n ? 4 * n : 1); /* [4n] */
    if (!blob) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    ext_vector_encode(x, n, blob);
    sqlite3_result_blob64(ctx, blob, 4 * n, sqlite3_free);
    sqlite3_result_subtype(ctx, EXT_VECTOR_SUBTYPE);
}

static int not_finite(const char *fn, const char *which, size_t i, char **msg) {
    *msg = sqlite3_mprintf("%s: %s has a value at index %lld that is NaN, infinite or beyond "
                           "float32 range",
                           fn, which, (long long)i);
    return SQLITE_ERROR;
}

static int read_blob(const char *fn, const char *which, sqlite3_value *v, float **x, size_t *n,
                     char **msg) {
    size_t bytes = (size_t)sqlite3_value_bytes(v);
    const unsigned char *p = sqlite3_value_blob(v);
    if (bytes % 4 != 0) {
        *msg = sqlite3_mprintf("%s: %s is a BLOB of %lld bytes, which is not a float32 vector "
                               "(its length must be a multiple of 4)",
                               fn, which, (long long)bytes);
        return SQLITE_ERROR;
    }
    if (bytes == 0) {
        *msg = sqlite3_mprintf("%s: %s is an empty vector", fn, which);
        return SQLITE_ERROR;
    }
    if (!p) return SQLITE_NOMEM;
    *n = bytes / 4;
    *x = sqlite3_malloc64(*n * sizeof **x); /* [n] */
    if (!*x) return SQLITE_NOMEM;
    for (size_t i = 0; i < *n; i++) {
        (*x)[i] = decode_one(p + 4 * i);
        if (!isfinite((*x)[i])) return not_finite(fn, which, i, msg);
    }
    return SQLITE_OK;
}

static int read_json(const char *fn, const char *which, sqlite3_value *v, float **x, size_t *n,
                     char **msg) {
    const char *text = (const char *)sqlite3_value_text(v);
    if (!text) return SQLITE_NOMEM;
    cJSON *root = cJSON_ParseWithLength(text, (size_t)sqlite3_value_bytes(v));
    int rc = SQLITE_OK;
    if (!cJSON_IsArray(root)) {
        *msg = sqlite3_mprintf("%s: %s is TEXT but not a JSON array of numbers such as "
                               "'[0.5, -1.25]'",
                               fn, which);
        rc = SQLITE_ERROR;
    } else if ((*n = (size_t)cJSON_GetArraySize(root)) == 0) {
        *msg = sqlite3_mprintf("%s: %s is an empty vector", fn, which);
        rc = SQLITE_ERROR;
    } else if (!(*x = sqlite3_malloc64(*n * sizeof **x))) { /* [n] */
        rc = SQLITE_NOMEM;
    } else {
        size_t i = 0;
        for (const cJSON *e = root->child; e && rc == SQLITE_OK; e = e->next, i++) {
            if (!cJSON_IsNumber(e)) {
                *msg = sqlite3_mprintf("%s: %s is a JSON array whose element %lld is not a "
                                       "number",
                                       fn, which, (long long)i);
                rc = SQLITE_ERROR;
            } else if (!isfinite((*x)[i] = (float)e->valuedouble)) {
                rc = not_finite(fn, which, i, msg);
            }
        }
    }
    cJSON_Delete(root);
    return rc;
}

/* Reads a vector argument into *x [*n] (sqlite3_malloc'd); SQL NULL leaves *x NULL. */
static int read_vector(const char *fn, const char *which, sqlite3_value *v, float **x, size_t *n,
                       char **msg) {
    *x = NULL;
    *n = 0;
    int type = sqlite3_value_type(v), rc;
    if (type == SQLITE_NULL) return SQLITE_OK;
    if (type == SQLITE_BLOB) rc = read_blob(fn, which, v, x, n, msg);
    else if (type == SQLITE_TEXT) rc = read_json(fn, which, v, x, n, msg);
    else {
        *msg = sqlite3_mprintf("%s: %s must be a float32 BLOB or a JSON array, got %s", fn, which,
                               ext_type_name(type));
        rc = SQLITE_ERROR;
    }
    if (rc) {
        sqlite3_free(*x);
        *x = NULL;
    }
    return rc;
}

void ext_cosine_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    float *a = NULL, *b = NULL; /* [na], [nb] */
    size_t na = 0, nb = 0;
    char *msg = NULL;
    int rc = read_vector("elmo_cosine", "the first argument", argv[0], &a, &na, &msg);
    if (!rc) rc = read_vector("elmo_cosine", "the second argument", argv[1], &b, &nb, &msg);
    if (!rc && a && b && na != nb) {
        msg = sqlite3_mprintf("elmo_cosine: vectors have different dimensions (%lld and %lld)",
                              (long long)na, (long long)nb);
        rc = SQLITE_ERROR;
    }
    if (rc) {
        ext_result_failure(ctx, rc, msg);
    } else if (a && b) {
        double dot = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < na; i++) {
            dot += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        if (aa > 0 && bb > 0) { /* zero norm: no direction, NULL */
            double c = dot / (sqrt(aa) * sqrt(bb));
            sqlite3_result_double(ctx, c > 1 ? 1 : c < -1 ? -1 : c);
        }
    }
    sqlite3_free(a);
    sqlite3_free(b);
}

/* Writes the shortest "%g" text of f that reads back as the same float32; returns its
 * length. The decimal point is always '.', whatever the host's locale. */
static int format_float(float f, char *buf, size_t cap) {
    if (f == 0 && signbit(f)) /* "-0" parses as the integer 0 in many JSON readers */
        return snprintf(buf, cap, "-0.0");
    int len = 0;
    for (int digits = 6; digits <= 9; digits++) {
        len = snprintf(buf, cap, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    for (int i = 0; i < len; i++)
        if (buf[i] == ',') buf[i] = '.';
    return len;
}

void ext_json_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    float *x = NULL; /* [n] */
    size_t n = 0;
    char *msg = NULL;
    int rc = read_vector("elmo_json", "the argument", argv[0], &x, &n, &msg);
    if (rc) {
        ext_result_failure(ctx, rc, msg);
        return;
    }
    if (!x) return; /* NULL */
    enum { PER_NUMBER = 24 };
    char *out = sqlite3_malloc64(n * PER_NUMBER + 3), *p = out;
    if (!out) {
        sqlite3_free(x);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *p++ = ',';
        p += format_float(x[i], p, PER_NUMBER);
    }
    *p++ = ']';
    sqlite3_free(x);
    sqlite3_result_text64(ctx, out, (sqlite3_uint64)(p - out), sqlite3_free, SQLITE_UTF8);
    sqlite3_result_subtype(ctx, EXT_JSON_SUBTYPE); /* json_object() etc. nest it as JSON */
}
