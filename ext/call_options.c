/* call_options.c - the `options` argument of elmo_embed / elmo_tokens / elmo_batch: NULL, a
 * bare output name ('top'), a bare JSON array of mix weights, or a JSON object with the keys
 * below (elmo_batch also takes on_error). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

#define VALID_OPTIONS "model, output, gamma, layer_norm, tokenizer, pooling"
#define VALID_BATCH_OPTIONS VALID_OPTIONS ", on_error"
#define VALID_OUTPUTS                                                                              \
    "average, top, word, lstm1 ... lstmL (L = the model's LSTM layers), all, hub, or a "           \
    "JSON array of L+1 mix weights"
#define OPTIONS_EXAMPLE                                                                            \
    "an output name such as 'top' or a JSON object such as "                                       \
    "'{\"output\":\"top\",\"gamma\":1}'"

/* A short rendering of a JSON value for messages (into buf [cap]). */
static const char *describe(const cJSON *item, char *buf, size_t cap) {
    char *s = cJSON_PrintUnformatted(item), shown[EXT_SHOWN_MAX + 1];
    snprintf(buf, cap, "%s", s ? ext_shown(s, shown) : "(a JSON value)");
    cJSON_free(s);
    return buf;
}

int ext_option_bad_value(const char *fn, const char *key, const char *valid,
                         const struct cJSON *item, char **msg) {
    char shown[EXT_SHOWN_MAX + 1];
    *msg = sqlite3_mprintf("%s: option '%s' must be %s, got %s", fn, key, valid,
                           describe(item, shown, sizeof shown));
    return SQLITE_ERROR;
}

int ext_option_tokenizer(const char *fn, const struct cJSON *item, elmo_tokenizer *out,
                         char **msg) {
    const char *s = cJSON_IsString(item) ? item->valuestring : "";
    if (strcmp(s, "default") == 0) *out = ELMO_TOKENIZER_DEFAULT;
    else if (strcmp(s, "whitespace") == 0) *out = ELMO_TOKENIZER_WHITESPACE;
    else if (strcmp(s, "space") == 0) *out = ELMO_TOKENIZER_SPACE;
    else
        return ext_option_bad_value(fn, "tokenizer", "'default', 'whitespace' or 'space'", item,
                                    msg);
    return SQLITE_OK;
}

/* 'lstmK' with K a positive decimal without leading zeros; returns K or 0. */
static int lstm_layer(const char *s) {
    if (strncmp(s, "lstm", 4) != 0 || s[4] < '1' || s[4] > '9') return 0;
    int k = 0;
    for (const char *p = s + 4; *p; p++) {
        if (*p < '0' || *p > '9' || k > 99999) return 0;
        k = k * 10 + (*p - '0');
    }
    return k;
}

static int parse_output_name(const char *fn, const char *name, ext_call_options *o, char **msg) {
    int k;
    if (strcmp(name, "average") == 0) o->mix.kind = ELMO_MIX_AVERAGE;
    else if (strcmp(name, "top") == 0) o->mix.kind = ELMO_MIX_TOP;
    else if (strcmp(name, "all") == 0) o->mix.kind = ELMO_MIX_ALL;
    else if (strcmp(name, "hub") == 0) {
        o->mix.kind = ELMO_MIX_WEIGHTS; /* the weights come from the model */
        o->hub = 1;
    } else if (strcmp(name, "word") == 0) {
        o->mix.kind = ELMO_MIX_LAYER;
        o->mix.layer = 0;
    } else if ((k = lstm_layer(name)) > 0) {
        o->mix.kind = ELMO_MIX_LAYER;
        o->mix.layer = k;
    } else if (strcmp(name, "perplexity") == 0) {
        *msg = sqlite3_mprintf("%s: output 'perplexity' is elmo_batch's (a column's perplexities); "
                               "for one text use elmo_perplexity(text)",
                               fn);
        return SQLITE_ERROR;
    } else {
        char shown[EXT_SHOWN_MAX + 1];
        *msg = sqlite3_mprintf("%s: unknown output '%s'; valid outputs: " VALID_OUTPUTS, fn,
                               ext_shown(name, shown));
        return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

static int parse_weights(const char *fn, const cJSON *array, ext_call_options *o, char **msg) {
    size_t n = 0;
    char shown[EXT_SHOWN_MAX + 1];
    for (const cJSON *w = array->child; w; w = w->next, n++) {
        float f = cJSON_IsNumber(w) ? (float)w->valuedouble : NAN;
        if (!isfinite(f)) {
            *msg = sqlite3_mprintf("%s: output weights must be finite numbers; element %d is %s",
                                   fn, (int)n, describe(w, shown, sizeof shown));
            return SQLITE_ERROR;
        }
        if (n < EXT_MAX_MIX_WEIGHTS) o->weights[n] = f;
    }
    if (n == 0) {
        *msg = sqlite3_mprintf("%s: output weights are an empty array; give one number per "
                               "layer (L+1 numbers)",
                               fn);
        return SQLITE_ERROR;
    }
    o->mix.kind = ELMO_MIX_WEIGHTS;
    o->mix.n_weights = n;
    return SQLITE_OK;
}

static int parse_output(const char *fn, const cJSON *item, ext_call_options *o, char **msg) {
    if (cJSON_IsString(item)) return parse_output_name(fn, item->valuestring, o, msg);
    if (cJSON_IsArray(item)) return parse_weights(fn, item, o, msg);
    return ext_option_bad_value(fn, "output", "an output name or a JSON array of numbers", item,
                                msg);
}

/* One key of the options object (already known to be valid and not repeated); a JSON
 * null keeps the default. */
static int parse_key(const char *fn, const cJSON *item, ext_call_options *o, char **msg) {
    const char *key = item->string;
    if (cJSON_IsNull(item)) return SQLITE_OK;
    if (strcmp(key, "output") == 0) return parse_output(fn, item, o, msg);
    if (strcmp(key, "model") == 0) {
        if (!cJSON_IsString(item) || !item->valuestring[0])
            return ext_option_bad_value(fn, key, "the name of a loaded model (a non-empty string)",
                                        item, msg);
        o->model = sqlite3_mprintf("%s", item->valuestring);
        return o->model ? SQLITE_OK : SQLITE_NOMEM;
    }
    if (strcmp(key, "gamma") == 0) {
        float g = cJSON_IsNumber(item) ? (float)item->valuedouble : NAN;
        if (!isfinite(g)) return ext_option_bad_value(fn, key, "a finite number", item, msg);
        o->mix.gamma = g;
        return SQLITE_OK;
    }
    if (strcmp(key, "layer_norm") == 0) {
        if (!cJSON_IsBool(item)) return ext_option_bad_value(fn, key, "true or false", item, msg);
        o->mix.layer_norm = cJSON_IsTrue(item);
        return SQLITE_OK;
    }
    if (strcmp(key, "tokenizer") == 0) return ext_option_tokenizer(fn, item, &o->tokenizer, msg);
    if (strcmp(key, "pooling") == 0) {
        const char *s = cJSON_IsString(item) ? item->valuestring : "";
        if (strcmp(s, "mean") == 0) o->pooling = ELMO_POOL_MEAN;
        else if (strcmp(s, "max") == 0) o->pooling = ELMO_POOL_MAX;
        else return ext_option_bad_value(fn, key, "'mean' or 'max'", item, msg);
        return SQLITE_OK;
    }
    if (strcmp(key, "on_error") == 0) {
        const char *s = cJSON_IsString(item) ? item->valuestring : "";
        if (strcmp(s, "fail") == 0) o->on_error_skip = 0;
        else if (strcmp(s, "skip") == 0) o->on_error_skip = 1;
        else return ext_option_bad_value(fn, key, "'fail' or 'skip'", item, msg);
        return SQLITE_OK;
    }
    return SQLITE_OK; /* not reached: parse_object checked the key */
}

/* The keys every function takes, then the one only elmo_batch takes. */
static const char *const option_keys[] = {"model",     "output",  "gamma",   "layer_norm",
                                          "tokenizer", "pooling", "on_error"};
#define N_OPTION_KEYS (int)(sizeof option_keys / sizeof option_keys[0])
#define N_COMMON_KEYS (N_OPTION_KEYS - 1)

/* Index of a valid key in option_keys, or -1. */
static int key_index(const char *key, int batch) {
    for (int i = 0; i < (batch ? N_OPTION_KEYS : N_COMMON_KEYS); i++)
        if (strcmp(key, option_keys[i]) == 0) return i;
    return -1;
}

/* One pass over the keys: each is checked against the valid ones and a bit set of those
 * already seen, so the cost is linear in the object's size and the first unknown or
 * repeated key (whatever its value, null included) stops the parse. */
static int parse_object(const char *fn, const cJSON *root, int batch, ext_call_options *o,
                        char **msg) {
    unsigned seen = 0;
    for (const cJSON *item = root->child; item; item = item->next) {
        char shown[EXT_SHOWN_MAX + 1];
        int k = key_index(item->string, batch);
        if (k < 0) {
            *msg = sqlite3_mprintf("%s: unknown option '%s'; valid options: %s", fn,
                                   ext_shown(item->string, shown),
                                   batch ? VALID_BATCH_OPTIONS : VALID_OPTIONS);
            return SQLITE_ERROR;
        }
        if (seen & 1u << k) {
            *msg = sqlite3_mprintf("%s: option '%s' is given twice", fn,
                                   ext_shown(item->string, shown));
            return SQLITE_ERROR;
        }
        seen |= 1u << k;
        int rc = parse_key(fn, item, o, msg);
        if (rc) return rc;
    }
    return SQLITE_OK;
}

/* Whether valid JSON text has a \u0000 escape (in a key or string value): cJSON would
 * decode it to a NUL that silently ends the string ("default\u0000x" -> "default").
 * Backslashes occur only inside strings, so skipping each escape is enough. */
static int has_nul_escape(const char *text, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\') continue;
        if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0) return 1;
        i++; /* the escaped character */
    }
    return 0;
}

int ext_json_options(const char *fn, const char *text, size_t len, const char *example,
                     struct cJSON **out, char **msg) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    *out = NULL;
    if (root && end) /* only whitespace may follow the value */
        while (end < text + len && strchr(" \t\r\n", *end) && *end) end++;
    if (!root || !end || end != text + len) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        cJSON_Delete(root);
        if (at + strspn(text + at, " \t\r\n") < len)
            *msg = sqlite3_mprintf("%s: options are not valid JSON (near byte %d: '%.20s'); "
                                   "expected %s",
                                   fn, (int)at, text + at, example);
        else
            *msg = sqlite3_mprintf("%s: options are not valid JSON (the text ends early); "
                                   "expected %s",
                                   fn, example);
        return SQLITE_ERROR;
    }
    if (has_nul_escape(text, len)) {
        cJSON_Delete(root);
        *msg = sqlite3_mprintf("%s: options contain a NUL character (\\u0000); no option name "
                               "or value may contain one",
                               fn);
        return SQLITE_ERROR;
    }
    *out = root;
    return SQLITE_OK;
}

/* Parses JSON text (an object, or an array of weights) that fills the whole argument. */
static int parse_json(const char *fn, const char *text, size_t len, int batch, ext_call_options *o,
                      char **msg) {
    cJSON *root = NULL;
    int rc = ext_json_options(fn, text, len, OPTIONS_EXAMPLE, &root, msg);
    if (rc) return rc;
    rc = cJSON_IsArray(root) ? parse_weights(fn, root, o, msg)
                             : parse_object(fn, root, batch, o, msg);
    cJSON_Delete(root);
    return rc;
}

int ext_options_text(const char *fn, sqlite3_value *value, const char *example, const char **text,
                     size_t *len, char **msg) {
    *text = NULL;
    *len = 0;
    int type = value ? sqlite3_value_type(value) : SQLITE_NULL;
    if (type == SQLITE_NULL) return SQLITE_OK;
    if (type != SQLITE_TEXT) {
        *msg = sqlite3_mprintf("%s: options must be TEXT (%s) or NULL, got %s", fn, example,
                               ext_type_name(type));
        return SQLITE_ERROR;
    }
    const char *t = (const char *)sqlite3_value_text(value);
    if (!t) return SQLITE_NOMEM;
    size_t n = (size_t)sqlite3_value_bytes(value);
    if (ext_check_no_nul(fn, "options", t, n, msg)) return SQLITE_ERROR;
    if (n == 0) {
        *msg = sqlite3_mprintf("%s: options are empty; pass NULL for the defaults, or %s", fn,
                               example);
        return SQLITE_ERROR;
    }
    *text = t;
    *len = n;
    return SQLITE_OK;
}

static int parse_options(const char *fn, sqlite3_value *value, int batch, ext_call_options *o,
                         char **msg) {
    memset(o, 0, sizeof *o);
    o->mix = elmo_mix_default();
    o->tokenizer = ELMO_TOKENIZER_DEFAULT;
    o->pooling = ELMO_POOL_MEAN;
    const char *text;
    size_t len;
    int rc = ext_options_text(fn, value, OPTIONS_EXAMPLE, &text, &len, msg);
    if (rc || !text) return rc;
    size_t first = strspn(text, " \t\r\n");
    rc = text[first] == '{' || text[first] == '[' ? parse_json(fn, text, len, batch, o, msg)
                                                  : parse_output_name(fn, text, o, msg);
    if (rc) ext_options_free(o);
    return rc;
}

int ext_options_parse(const char *fn, sqlite3_value *value, ext_call_options *o, char **msg) {
    return parse_options(fn, value, 0, o, msg);
}

int ext_options_parse_batch(const char *fn, sqlite3_value *value, ext_call_options *o, char **msg) {
    return parse_options(fn, value, 1, o, msg);
}

const char *ext_options_model(const ext_call_options *o) {
    return o->model ? o->model : EXT_DEFAULT_MODEL;
}

/* "average, top, word, lstm1, ..., lstmL, all" for a model with L LSTM layers. */
static char *output_list(int L) {
    char *s = sqlite3_mprintf("average, top, word");
    for (int k = 1; s && k <= L; k++) {
        char *t = sqlite3_mprintf("%s, lstm%d", s, k);
        sqlite3_free(s);
        s = t;
    }
    if (s) {
        char *t = sqlite3_mprintf("%s, all", s);
        sqlite3_free(s);
        s = t;
    }
    return s;
}

int ext_options_mix(const char *fn, const ext_call_options *o, const elmo_model *model,
                    elmo_mix *mix, char **msg) {
    elmo_model_info info;
    elmo_model_get_info(model, &info);
    int layers = info.n_output_layers; /* L + 1 */
    *mix = o->mix;
    if (o->hub) { /* scaling x sum_k softmax(w)_k layer_k, with the model's w */
        float scaling = 1;
        if (!elmo_model_trained_mix(model, &mix->weights, &mix->n_weights, &scaling)) {
            char shown[EXT_SHOWN_MAX + 1];
            *msg = sqlite3_mprintf("%s: output 'hub' needs a model with a trained mix "
                                   "(aggregation/weights, as TF-Hub modules have); model '%s' "
                                   "has none",
                                   fn, ext_shown(ext_options_model(o), shown));
            return SQLITE_ERROR;
        }
        mix->gamma = o->mix.gamma * scaling;
    } else if (mix->kind == ELMO_MIX_LAYER && mix->layer >= layers) {
        char *list = output_list(layers - 1);
        if (!list) return SQLITE_NOMEM;
        char shown[EXT_SHOWN_MAX + 1];
        *msg = sqlite3_mprintf("%s: output 'lstm%d' does not exist; model '%s' has outputs %s", fn,
                               mix->layer, ext_shown(ext_options_model(o), shown), list);
        sqlite3_free(list);
        return SQLITE_ERROR;
    } else if (mix->kind == ELMO_MIX_WEIGHTS) {
        if (mix->n_weights != (size_t)layers) {
            char shown[EXT_SHOWN_MAX + 1];
            *msg = sqlite3_mprintf("%s: output weights need %d numbers (one per layer of model "
                                   "'%s': word and %d LSTM layers), got %lld",
                                   fn, layers, ext_shown(ext_options_model(o), shown), layers - 1,
                                   (long long)mix->n_weights);
            return SQLITE_ERROR;
        }
        mix->weights = o->weights;
    }
    elmo_error err;
    if (elmo_mix_check(model, mix, &err) != ELMO_OK) { /* not expected after the checks above */
        *msg = sqlite3_mprintf("%s: %s", fn, err.message);
        return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

void ext_options_free(ext_call_options *o) {
    if (!o) return;
    sqlite3_free(o->model);
    o->model = NULL;
}
