/* options.c - reads and validates an AllenNLP/bilm-tf options JSON (docs/model.md §2). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "file_read.h"
#include "json_scan.h"
#include "model.h"

#define OPTIONS_MAX_BYTES (1 << 20) /* real options files are a few hundred bytes */
#define OPTIONS_MAX_VALUES 4096     /* they hold a few dozen JSON values */

/* Reads a whole small file; *out is NUL-terminated and owned by the caller. */
static int read_small_file(const char *path, char **out, size_t *len, elmo_error *err) {
    elmo_file f;
    int rc = elmo_file_open(&f, path, "options file", err);
    if (rc) return rc;
    char *buf = NULL;
    if (f.size > OPTIONS_MAX_BYTES)
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "options file '%s' is larger than 1 MiB; an ELMo options file is a "
                       "small JSON object (did you swap the options and weights paths?)",
                       path);
    else if (!(buf = malloc((size_t)f.size + 1)))
        rc = elmo_fail(err, ELMO_ERR_NOMEM, "out of memory reading '%s'", path);
    else rc = elmo_file_read(&f, 0, buf, (size_t)f.size, err);
    /* A NUL byte would end the text for every later reader: refuse it here. */
    const char *nul = rc ? NULL : memchr(buf, '\0', (size_t)f.size);
    if (nul)
        rc = elmo_fail(err, ELMO_ERR_FORMAT,
                       "options file '%s' holds a NUL byte at byte %zu; an options file is "
                       "JSON text",
                       path, (size_t)(nul - buf));
    if (rc) {
        free(buf);
    } else {
        buf[f.size] = '\0';
        *out = buf;
        *len = (size_t)f.size;
    }
    elmo_file_close(&f);
    return rc;
}

/* A short rendering of a JSON value for error messages. */
static void describe(const cJSON *item, char *buf, size_t cap) {
    char *s = item ? cJSON_PrintUnformatted(item) : NULL;
    if (!s) {
        snprintf(buf, cap, "%s", item ? "(unprintable)" : "nothing");
        return;
    }
    if (strlen(s) > 40) strcpy(s + 37, "...");
    snprintf(buf, cap, "%s", s);
    cJSON_free(s);
}

typedef struct parse_ctx {
    const char *path;
    elmo_error *err;
} parse_ctx;

static int bad_value(parse_ctx *c, const char *key, const char *expected, const cJSON *v) {
    char found[64];
    describe(v, found, sizeof found);
    return elmo_fail(c->err, ELMO_ERR_FORMAT, "options file '%s': %s must be %s, found %s", c->path,
                     key, expected, found);
}

static int missing(parse_ctx *c, const char *key) {
    return elmo_fail(c->err, ELMO_ERR_FORMAT, "options file '%s': required key %s is missing",
                     c->path, key);
}

static int get_object(parse_ctx *c, const cJSON *parent, const char *name, const char *key,
                      const cJSON **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, name);
    if (!v) return missing(c, key);
    if (!cJSON_IsObject(v)) return bad_value(c, key, "an object", v);
    *out = v;
    return ELMO_OK;
}

static int is_integer(const cJSON *v) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

/* Integer in [lo, hi]. An absent or null key takes `dflt` when `required` is 0. */
static int get_int(parse_ctx *c, const cJSON *obj, const char *name, const char *key, int required,
                   int dflt, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v)) {
        if (required) return missing(c, key);
        *out = dflt;
        return ELMO_OK;
    }
    if (!is_integer(v) || v->valuedouble < lo || v->valuedouble > hi) {
        char expected[80];
        snprintf(expected, sizeof expected, "an integer from %d to %d", lo, hi);
        return bad_value(c, key, expected, v);
    }
    *out = (int)v->valuedouble;
    return ELMO_OK;
}

/* Clip value: absent, null or 0 mean no clipping (AllenNLP and bilm-tf both accept these). */
static int get_clip(parse_ctx *c, const cJSON *obj, const char *name, const char *key, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = 0;
    if (!v || cJSON_IsNull(v)) return ELMO_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 1e30)
        return bad_value(c, key, "a non-negative number or null", v);
    *out = (float)v->valuedouble;
    return ELMO_OK;
}

static int parse_filters(parse_ctx *c, const cJSON *cnn, elmo_config *cfg) {
    const cJSON *filters = cJSON_GetObjectItemCaseSensitive(cnn, "filters");
    if (!filters) return missing(c, "char_cnn.filters");
    int n = cJSON_GetArraySize(filters);
    if (!cJSON_IsArray(filters) || n < 1 || n > ELMO_MAX_FILTER_BANKS)
        return bad_value(c, "char_cnn.filters", "a list of 1 to 64 [width, count] pairs", filters);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *pair = cJSON_GetArrayItem(filters, i);
        const cJSON *w = cJSON_GetArrayItem(pair, 0), *k = cJSON_GetArrayItem(pair, 1);
        char key[48];
        snprintf(key, sizeof key, "char_cnn.filters[%d]", i);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !is_integer(w) ||
            !is_integer(k) || w->valuedouble < 1 || w->valuedouble > cfg->max_chars ||
            k->valuedouble < 1 || k->valuedouble > 65536) {
            char expected[128];
            snprintf(expected, sizeof expected,
                     "a [width, count] pair with 1 <= width <= %d "
                     "(max_characters_per_token) and 1 <= count <= 65536",
                     cfg->max_chars);
            return bad_value(c, key, expected, pair);
        }
        cfg->bank_width[i] = (int)w->valuedouble;
        cfg->bank_count[i] = (int)k->valuedouble;
        total += cfg->bank_count[i];
    }
    if (total > 65536)
        return elmo_fail(c->err, ELMO_ERR_FORMAT,
                         "options file '%s': char_cnn.filters total %lld filters; at most "
                         "65536 are supported",
                         c->path, (long long)total);
    cfg->n_banks = n;
    cfg->n_filters = (int)total;
    return ELMO_OK;
}

static int parse_char_cnn(parse_ctx *c, const cJSON *root, elmo_config *cfg) {
    const cJSON *cnn = NULL, *emb = NULL;
    int rc;
    if ((rc = get_object(c, root, "char_cnn", "char_cnn", &cnn))) return rc;
    if ((rc = get_object(c, cnn, "embedding", "char_cnn.embedding", &emb))) return rc;
    if ((rc =
             get_int(c, emb, "dim", "char_cnn.embedding.dim", 1, 0, 1, 4096, &cfg->char_embed_dim)))
        return rc;
    if ((rc = get_int(c, cnn, "max_characters_per_token", "char_cnn.max_characters_per_token", 1, 0,
                      3, 1024, &cfg->max_chars)))
        return rc;
    if ((rc = parse_filters(c, cnn, cfg))) return rc;
    if ((rc = get_int(c, cnn, "n_highway", "char_cnn.n_highway", 0, 0, 0, ELMO_MAX_HIGHWAY,
                      &cfg->n_highway)))
        return rc;
    /* 262 at inference (261 rows + padding); 261 is the training value. Both mean the same
     * weights, anything else is a different alphabet. */
    int n_chars;
    if ((rc = get_int(c, cnn, "n_characters", "char_cnn.n_characters", 0, 262, 261, 262, &n_chars)))
        return rc;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cnn, "activation");
    if (!act) return missing(c, "char_cnn.activation");
    if (cJSON_IsString(act) && strcmp(act->valuestring, "relu") == 0) cfg->relu_activation = 1;
    else if (cJSON_IsString(act) && strcmp(act->valuestring, "tanh") == 0) cfg->relu_activation = 0;
    else return bad_value(c, "char_cnn.activation", "\"relu\" or \"tanh\"", act);
    return ELMO_OK;
}

static int parse_lstm(parse_ctx *c, const cJSON *root, elmo_config *cfg) {
    const cJSON *lstm = NULL;
    int rc;
    if ((rc = get_object(c, root, "lstm", "lstm", &lstm))) return rc;
    if ((rc = get_int(c, lstm, "dim", "lstm.dim", 1, 0, 1, 65536, &cfg->lstm_dim))) return rc;
    if ((rc = get_int(c, lstm, "projection_dim", "lstm.projection_dim", 1, 0, 1, 65536,
                      &cfg->projection_dim)))
        return rc;
    if ((rc = get_int(c, lstm, "n_layers", "lstm.n_layers", 0, 1, 1, ELMO_MAX_LSTM_LAYERS,
                      &cfg->n_layers)))
        return rc;
    if ((rc = get_clip(c, lstm, "cell_clip", "lstm.cell_clip", &cfg->cell_clip))) return rc;
    if ((rc = get_clip(c, lstm, "proj_clip", "lstm.proj_clip", &cfg->proj_clip))) return rc;
    const cJSON *skip = cJSON_GetObjectItemCaseSensitive(lstm, "use_skip_connections");
    if (!skip) return missing(c, "lstm.use_skip_connections");
    if (!cJSON_IsBool(skip))
        return bad_value(c, "lstm.use_skip_connections", "true or false", skip);
    cfg->skip_connections = cJSON_IsTrue(skip);
    if (cfg->projection_dim > cfg->lstm_dim)
        return elmo_fail(c->err, ELMO_ERR_FORMAT,
                         "options file '%s': lstm.projection_dim (%d) is larger than lstm.dim "
                         "(%d); ELMo projects the LSTM cell down, so projection_dim <= dim",
                         c->path, cfg->projection_dim, cfg->lstm_dim);
    return ELMO_OK;
}

int elmo_options_parse_text(const char *text, size_t len, const char *path, elmo_config *cfg,
                            elmo_error *err) {
    elmo_json_stats scan;
    elmo_json_scan(text, len, &scan);
    if (scan.nul >= 0)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "options file '%s' holds a NUL character (a \\u0000 escape or a NUL "
                         "byte) at byte %lld; no key or value of the options may contain one",
                         path, scan.nul);
    if (scan.values > OPTIONS_MAX_VALUES)
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "options file '%s' holds over %d JSON values; an ELMo options file "
                         "holds a few dozen",
                         path, OPTIONS_MAX_VALUES);
    const char *end = NULL;
    /* Parsing len + 1 bytes includes the terminating NUL, so trailing garbage is rejected. */
    cJSON *root =
        len <= OPTIONS_MAX_BYTES ? cJSON_ParseWithLengthOpts(text, len + 1, &end, 1) : NULL;
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        int line = 1;
        for (size_t i = 0; i < at; i++) line += text[i] == '\n';
        return elmo_fail(err, ELMO_ERR_FORMAT,
                         "options file '%s' is not valid JSON (error near byte %zu, line %d)", path,
                         at, line);
    }
    memset(cfg, 0, sizeof *cfg);
    parse_ctx c = {path, err};
    int rc = ELMO_OK;
    if (!cJSON_IsObject(root))
        rc = bad_value(&c, "the top level", "a JSON object with char_cnn and lstm", root);
    if (!rc) rc = parse_char_cnn(&c, root, cfg);
    if (!rc) rc = parse_lstm(&c, root, cfg);
    cJSON_Delete(root);
    return rc ? rc : elmo_ok(err);
}

int elmo_options_load(const char *path, elmo_config *cfg, elmo_error *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = read_small_file(path, &text, &len, err);
    if (rc) return rc;
    rc = elmo_options_parse_text(text, len, path, cfg, err);
    free(text);
    return rc;
}

int elmo_options_read_text(const char *path, char **text, elmo_error *err) {
    size_t len = 0;
    return read_small_file(path, text, &len, err);
}
