/* run_text.c - one tokenized text through a registered model: the run and layer mix shared
 * by elmo_embed and elmo_tokens. */
#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* An SQL result code and message for a failed core call. The core's out-of-memory errors
 * are SQLITE_ERROR with its message (what it was allocating, how much): SQLITE_NOMEM would
 * make SQLite replace the message with a bare "out of memory". */
int elmo_core_failure(const char *fn, const elmo_error *err, char **msg) {
    if (err->code == ELMO_ERR_INTERRUPTED) {
        *msg = sqlite3_mprintf("interrupted");
        return SQLITE_INTERRUPT;
    }
    *msg = sqlite3_mprintf("%s: %s", fn, err->message);
    return err->code == ELMO_ERR_LIMIT ? SQLITE_TOOBIG : SQLITE_ERROR;
}

int elmo_embed_tokens(sqlite3 *db, const char *fn, const elmo_call_options *opts,
                      const elmo_text *text, float **out, size_t *width, char **msg) {
    *out = NULL;
    *width = 0;
    elmo_handle *handle = NULL;
    int rc = elmo_registry_acquire(fn, elmo_options_model(opts), &handle, msg);
    if (rc) return rc;
    const elmo_model *model = elmo_handle_model(handle);
    elmo_mix mix;
    elmo_result *result = NULL;
    elmo_error err;
    size_t n = text->sentence.n_tokens;
    elmo_interrupt interrupt = {0};
    elmo_run_params run = elmo_run_default_params();
    if ((rc = elmo_options_mix(fn, opts, model, &mix, msg)) != SQLITE_OK) goto done;
    if ((rc = elmo_interrupt_open(fn, db, &interrupt, msg)) != SQLITE_OK) goto done;
    run.interrupt = elmo_interrupt_poll;
    run.interrupt_arg = &interrupt;
    if (elmo_run(model, &run, &text->sentence, 1, NULL, &result, &err) != ELMO_OK) {
        rc = elmo_core_failure(fn, &err, msg);
        goto done;
    }
    *width = elmo_mix_dim(model, &mix);
    *out = sqlite3_malloc64((n ? n : 1) * *width * sizeof **out); /* [n, width] */
    if (!*out) {
        rc = SQLITE_NOMEM;
    } else if (elmo_result_mix(result, 0, &mix, *out, &err) != ELMO_OK) {
        rc = elmo_core_failure(fn, &err, msg);
    }
    if (rc) {
        sqlite3_free(*out);
        *out = NULL;
    }
done:
    elmo_interrupt_close(&interrupt);
    elmo_result_free(result);
    elmo_registry_release(handle);
    return rc;
}
