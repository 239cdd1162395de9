/* fixture_io.c - see fixture_io.h. */
#include "fixture_io.h"

#include <cJSON.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *fx_read_h5(const char *path, const char *name, size_t *dims, int *rank) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    float *data = NULL;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds >= 0) {
        hid_t sp = H5Dget_space(ds);
        hsize_t d[4];
        int r = H5Sget_simple_extent_ndims(sp);
        if (r >= 1 && r <= 4) {
            H5Sget_simple_extent_dims(sp, d, NULL);
            size_t total = 1;
            for (int i = 0; i < r; i++) total *= (size_t)(dims[i] = (size_t)d[i]);
            *rank = r;
            data = malloc(total * sizeof *data);
            if (data && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
                free(data);
                data = NULL;
            }
        }
        H5Sclose(sp);
        H5Dclose(ds);
    }
    H5Fclose(f);
    return data;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

char **fx_read_sentences(const char *path, int *n_streams, int *per_stream) {
    char *text = slurp(path, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!root) return NULL;
    int streams = cJSON_GetArraySize(root);
    int per = streams ? cJSON_GetArraySize(cJSON_GetArrayItem(root, 0)) : 0;
    char **out = calloc((size_t)(streams * per) + 1, sizeof *out);
    for (int s = 0; out && s < streams; s++)
        for (int i = 0; i < per; i++) {
            const cJSON *v = cJSON_GetArrayItem(cJSON_GetArrayItem(root, s), i);
            out[s * per + i] = strdup(cJSON_IsString(v) ? v->valuestring : "");
        }
    cJSON_Delete(root);
    *n_streams = streams;
    *per_stream = per;
    return out;
}

void fx_free_strings(char **strings, size_t n) {
    if (!strings) return;
    for (size_t i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

char **fx_read_lines(const char *path, size_t *n) {
    size_t len;
    char *text = slurp(path, &len);
    if (!text) return NULL;
    size_t count = 0;
    for (size_t i = 0; i < len; i++) count += text[i] == '\n';
    if (len && text[len - 1] != '\n') count++;
    char **lines = calloc(count + 1, sizeof *lines);
    size_t k = 0;
    for (char *p = text; lines && k < count; k++) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        lines[k] = strndup(p, l);
        p = nl ? nl + 1 : p + l;
    }
    free(text);
    *n = count;
    return lines;
}
