/* lm_options.c - the `options` argument of elmo_lm, elmo_perplexity, elmo_predict and of
 * elmo_batch's output 'perplexity': NULL or a JSON object; each function takes its own keys
 * (ext_lm_kind in elmo_ext.h). */
#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

#define LM_EXAMPLE "a JSON object such as '{\"vocab_limit\":50000}'"

enum {
    K_MODEL,
    K_TOKENIZER,
    K_VOCAB_LIMIT,
    K_BIAS,
    K_DIRECTION,
    K_EXCLUDE,
    K_MASK,
    K_OUTPUT,
    K_ON_ERROR
};

static const char *const key_names[] = {"model", "tokenizer", "vocab_limit",
                                        "bias",  "direction", "exclude",
                                        "mask",  "output",    "on_error"};
#define N_KEYS (int)(sizeof key_names / sizeof key_names[0])

/* The keys each function accepts (bit K_x), in key_names order. */
static unsigned keys_of(ext_lm_kind kind) {
    unsigned common = 1u << K_MODEL | 1u << K_TOKENIZER | 1u << K_VOCAB_LIMIT | 1u << K_BIAS;
    switch (kind) {
    case EXT_LM_SCORE: return common;
    case EXT_LM_PERPLEXITY: return common | 1u << K_DIRECTION;
    case EXT_LM_PREDICT: return common | 1u << K_EXCLUDE | 1u << K_MASK;
    case EXT_LM_BATCH: return common | 1u << K_DIRECTION | 1u << K_OUTPUT | 1u << K_ON_ERROR;
    }
    return common;
}

static char *valid_keys(unsigned keys) {
    char *s = NULL;
    for (int k = 0; k < N_KEYS; k++) {
        if (!(keys & 1u << k)) continue;
        char *t =
            s ? sqlite3_mprintf("%s, %s", s, key_names[k]) : sqlite3_mprintf("%s", key_names[k]);
        sqlite3_free(s);
        if (!(s = t)) return NULL;
    }
    return s;
}

static int parse_exclude(const char *fn, const cJSON *item, ext_lm_options *o, char **msg) {
    if (!cJSON_IsArray(item))
        return ext_option_bad_value(fn, "exclude", "a JSON array of words", item, msg);
    size_t n = (size_t)cJSON_GetArraySize(item);
    o->exclude = sqlite3_malloc64((n ? n : 1) * sizeof *o->exclude); /* [n] */
    if (!o->exclude) return SQLITE_NOMEM;
    o->have_exclude = 1;
    for (const cJSON *w = item->child; w; w = w->next) {
        if (!cJSON_IsString(w))
            return ext_option_bad_value(fn, "exclude", "a JSON array of words (strings)", item,
                                        msg);
        if (!(o->exclude[o->n_exclude] = sqlite3_mprintf("%s", w->valuestring)))
            return SQLITE_NOMEM;
        o->n_exclude++;
    }
    return SQLITE_OK;
}

/* One key (known to be valid for the function and not repeated); null keeps the default. */
static int parse_key(const char *fn, int key, const cJSON *item, ext_lm_options *o, char **msg) {
    if (cJSON_IsNull(item)) return SQLITE_OK;
    const char *s = cJSON_IsString(item) ? item->valuestring : NULL;
    double d = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    switch (key) {
    case K_MODEL:
        if (!s || !*s)
            return ext_option_bad_value(
                fn, "model", "the name of a loaded model (a non-empty string)", item, msg);
        return (o->model = sqlite3_mprintf("%s", s)) ? SQLITE_OK : SQLITE_NOMEM;
    case K_TOKENIZER: return ext_option_tokenizer(fn, item, &o->tokenizer, msg);
    case K_VOCAB_LIMIT:
        if (!(d >= 1 && d <= 9007199254740992.0 && d == floor(d)))
            return ext_option_bad_value(
                fn, "vocab_limit", "an integer >= 1 (score only the first N words)", item, msg);
        o->lm.vocab_limit = (int64_t)d;
        return SQLITE_OK;
    case K_BIAS:
        if (!cJSON_IsBool(item))
            return ext_option_bad_value(fn, "bias", "true or false", item, msg);
        o->lm.use_bias = cJSON_IsTrue(item);
        return SQLITE_OK;
    case K_DIRECTION:
        if (s && !strcmp(s, "both")) o->lm.direction = ELMO_LM_BOTH;
        else if (s && !strcmp(s, "forward")) o->lm.direction = ELMO_LM_FORWARD;
        else if (s && !strcmp(s, "backward")) o->lm.direction = ELMO_LM_BACKWARD;
        else
            return ext_option_bad_value(fn, "direction", "'both', 'forward' or 'backward'", item,
                                        msg);
        return SQLITE_OK;
    case K_EXCLUDE: return parse_exclude(fn, item, o, msg);
    case K_MASK:
        if (!s || !*s)
            return ext_option_bad_value(fn, "mask", "a non-empty string (the mask token)", item,
                                        msg);
        return (o->mask = sqlite3_mprintf("%s", s)) ? SQLITE_OK : SQLITE_NOMEM;
    case K_OUTPUT:
        if (!s || strcmp(s, "perplexity") != 0) /* not reached: chosen by ext_lm_options_wanted */
            return ext_option_bad_value(fn, "output", "'perplexity'", item, msg);
        return SQLITE_OK;
    case K_ON_ERROR: /* as elmo_batch's embedding options take it (call_options.c) */
        if (s && !strcmp(s, "fail")) o->on_error_skip = 0;
        else if (s && !strcmp(s, "skip")) o->on_error_skip = 1;
        else return ext_option_bad_value(fn, "on_error", "'fail' or 'skip'", item, msg);
        return SQLITE_OK;
    }
    return SQLITE_OK;
}

static int parse_object(const char *fn, ext_lm_kind kind, const cJSON *root, ext_lm_options *o,
                        char **msg) {
    char shown[EXT_SHOWN_MAX + 1];
    if (!cJSON_IsObject(root)) {
        *msg = sqlite3_mprintf("%s: options must be %s", fn, LM_EXAMPLE);
        return SQLITE_ERROR;
    }
    unsigned keys = keys_of(kind), seen = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        int k = 0;
        while (k < N_KEYS && strcmp(item->string, key_names[k]) != 0) k++;
        if (k == N_KEYS || !(keys & 1u << k)) {
            char *list = valid_keys(keys);
            *msg = list ? sqlite3_mprintf("%s: unknown option '%s'; valid options: %s", fn,
                                          ext_shown(item->string, shown), list)
                        : NULL;
            sqlite3_free(list);
            return list ? SQLITE_ERROR : SQLITE_NOMEM;
        }
        if (seen & 1u << k) {
            *msg = sqlite3_mprintf("%s: option '%s' is given twice", fn, key_names[k]);
            return SQLITE_ERROR;
        }
        seen |= 1u << k;
        int rc = parse_key(fn, k, item, o, msg);
        if (rc) return rc;
    }
    return SQLITE_OK;
}

int ext_lm_options_parse(const char *fn, ext_lm_kind kind, sqlite3_value *value, ext_lm_options *o,
                         char **msg) {
    memset(o, 0, sizeof *o);
    o->tokenizer = ELMO_TOKENIZER_DEFAULT;
    o->lm = elmo_lm_default_params();
    const char *text;
    size_t len;
    int rc = ext_options_text(fn, value, LM_EXAMPLE, &text, &len, msg);
    if (rc || !text) return rc;
    if (kind == EXT_LM_BATCH && text[strspn(text, " \t\r\n")] != '{') return SQLITE_OK; /* bare */
    cJSON *root = NULL;
    rc = ext_json_options(fn, text, len, LM_EXAMPLE, &root, msg);
    if (!rc) rc = parse_object(fn, kind, root, o, msg);
    cJSON_Delete(root);
    if (rc) ext_lm_options_free(o);
    return rc;
}

void ext_lm_options_free(ext_lm_options *o) {
    if (!o) return;
    for (size_t i = 0; i < o->n_exclude; i++) sqlite3_free(o->exclude[i]);
    sqlite3_free(o->exclude);
    sqlite3_free(o->model);
    sqlite3_free(o->mask);
    memset(o, 0, sizeof *o);
}

int ext_lm_options_wanted(sqlite3_value *value) {
    if (!value || sqlite3_value_type(value) != SQLITE_TEXT) return 0;
    const char *text = (const char *)sqlite3_value_text(value);
    if (!text) return 0;
    size_t len = (size_t)sqlite3_value_bytes(value), at = strspn(text, " \t\r\n");
    if (text[at] != '{')
        return len - at >= 10 && strncmp(text + at, "perplexity", 10) == 0 &&
               strspn(text + at + 10, " \t\r\n") == len - at - 10;
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(root, "output");
    int wanted = cJSON_IsString(output) && strcmp(output->valuestring, "perplexity") == 0;
    cJSON_Delete(root);
    return wanted;
}
