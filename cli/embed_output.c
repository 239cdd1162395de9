/* embed_output.c - what `elmo embed` writes: vectors (elmo_batch's vector, elmo_embed), or
 * with --output perplexity each row's perplexity (elmo_batch's perplexity with the output
 * 'perplexity', elmo_perplexity). */
#include <cJSON.h>
#include <string.h>

#include "cli.h"

static const embed_output outputs[] = {
    {"vector", "BLOB", "elmo_embed", "_elmo", "vectors"},
    {"perplexity", "REAL", "elmo_perplexity", "_perplexity", "perplexities"},
};

const embed_output *embed_output_named(const char *name) {
    if (!name || strcmp(name, "vector") == 0) return &outputs[0];
    if (strcmp(name, "perplexity") == 0) return &outputs[1];
    return NULL;
}

char *embed_batch_options(const embed_output *out, const char *options) {
    if (out == &outputs[0]) return NULL;
    cJSON *o = options ? cJSON_Parse(options) : cJSON_CreateObject();
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(o, "output");
    char *text = NULL, *merged = NULL;
    if (cJSON_IsObject(o) && !given && cJSON_AddStringToObject(o, "output", "perplexity"))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text) merged = sqlite3_mprintf("%s", text);
    cJSON_free(text);
    return merged;
}
