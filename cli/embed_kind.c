/* embed_kind.c - what `elmo embed` writes (--output): vectors (elmo_batch's vector, equal to
 * elmo_embed), or each row's perplexity under the model's language-model head (elmo_batch's
 * perplexity with the output 'perplexity', equal to elmo_perplexity); and each kind's
 * options in the canonical form the provenance records. */
#include <cJSON.h>
#include <string.h>

#include "embed.h"

/* The option keys of each kind, in the canonical order. */
static const char *const vector_keys[] = {"model",      "output",    "gamma",
                                          "layer_norm", "tokenizer", "pooling"};
static const char *const perplexity_keys[] = {"model", "tokenizer", "vocab_limit", "bias",
                                              "direction"};

static const embed_kind kinds[] = {
    {"vector", "vector", "BLOB", "elmo_embed", "_elmo", "vectors", vector_keys,
     sizeof vector_keys / sizeof vector_keys[0]},
    {"perplexity", "perplexity", "REAL", "elmo_perplexity", "_perplexity", "perplexities",
     perplexity_keys, sizeof perplexity_keys / sizeof perplexity_keys[0]},
};

const embed_kind *embed_kind_named(const char *name) {
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (!name || strcmp(name, kinds[k].name) == 0) return &kinds[k];
    return NULL;
}

int embed_kind_is_vector(const embed_kind *k) {
    return k == &kinds[0];
}

/* The given options as a JSON object: vectors also take an output name ('top') or an
 * array of weights, which are the object's "output". NULL when out of memory or when the
 * text is not such options (the model's probe has said why, or the flags check did). */
static cJSON *given_object(const embed_kind *k, const char *o) {
    size_t at = strspn(o, " \t\r\n");
    cJSON *given = o[at] == '{' || o[at] == '[' ? cJSON_Parse(o) : NULL;
    if (!embed_kind_is_vector(k)) return given;
    if (!given && o[at] != '{' && o[at] != '[') given = cJSON_CreateString(o); /* 'top' */
    if (given && !cJSON_IsObject(given)) { /* an output name or an array of weights */
        cJSON *wrap = cJSON_CreateObject();
        if (wrap) cJSON_AddItemToObject(wrap, "output", given);
        else cJSON_Delete(given);
        given = wrap;
    }
    return given;
}

int embed_kind_check_options(const embed_kind *k, const char *options) {
    if (embed_kind_is_vector(k) || !options) return EXIT_DONE;
    cJSON *given = given_object(k, options);
    int ok = cJSON_IsObject(given) && !cJSON_GetObjectItemCaseSensitive(given, "output");
    cJSON_Delete(given);
    if (ok) return EXIT_DONE;
    cli_error("with --output perplexity, --options must be a JSON object such as "
              "'{\"vocab_limit\":50000}' (elmo_perplexity's options, without \"output\"), got "
              "'%s'",
              options);
    return EXIT_USAGE;
}

/* The kind's keys of `given` into canon, in order, without nulls and the default model. */
static int copy_keys(const embed_kind *k, const cJSON *given, cJSON *canon) {
    for (size_t i = 0; given && i < k->n_keys; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(given, k->keys[i]);
        if (!v || cJSON_IsNull(v)) continue;
        if (!strcmp(k->keys[i], "model") && cJSON_IsString(v) && !strcmp(v->valuestring, "default"))
            continue;
        cJSON *copy = cJSON_Duplicate(v, 1);
        if (!copy || !cJSON_AddItemToObject(canon, k->keys[i], copy)) {
            cJSON_Delete(copy);
            return SQLITE_NOMEM;
        }
    }
    return SQLITE_OK;
}

/* canon as text (sqlite3_malloc'd) into *out; an empty object is NULL (the defaults). */
static int print_object(const cJSON *canon, int empty_is_null, char **out) {
    *out = NULL;
    if (empty_is_null && !canon->child) return SQLITE_OK;
    char *text = cJSON_PrintUnformatted(canon);
    *out = text ? sqlite3_mprintf("%s", text) : NULL;
    cJSON_free(text);
    return *out ? SQLITE_OK : SQLITE_NOMEM;
}

int embed_kind_options(const embed_kind *k, const char *options, char **canonical, char **batch) {
    *canonical = *batch = NULL;
    cJSON *given = options ? given_object(k, options) : NULL, *canon = cJSON_CreateObject();
    int rc = canon && (!options || given) ? copy_keys(k, given, canon) : SQLITE_NOMEM;
    if (rc == SQLITE_OK) rc = print_object(canon, 1, canonical);
    /* elmo_batch's: the output kind, and a bad row fails alone. */
    if (rc == SQLITE_OK && !embed_kind_is_vector(k) &&
        !cJSON_AddStringToObject(canon, "output", k->name))
        rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK && !cJSON_AddStringToObject(canon, "on_error", "skip")) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK) rc = print_object(canon, 0, batch);
    cJSON_Delete(given);
    cJSON_Delete(canon);
    if (rc != SQLITE_OK) {
        sqlite3_free(*canonical);
        *canonical = NULL;
    }
    return rc;
}
