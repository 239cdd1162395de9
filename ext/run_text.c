/* run_text.c - one tokenized text through a registered model: the run and layer mix shared
 * by elmo_embed and elmo_tokens. */
#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* An SQL result code and message for a failed core call. The core's out-of-memory errors
 * are SQLITE_ERROR with its message (what it was allocating, how much): SQLITE_NOMEM would
 * make SQLite replace the message with a bare "out of memory". */
int ext_core_failure(const char *fn, const elmo_error *err, char **msg) {
    if (err->code == ELMO_ERR_INTERRUPTED) {
        *msg = sqlite3_mprintf("interrupted");
        return SQLITE_INTERRUPT;
    }
    *msg = sqlite3_mprintf("%s: %s", fn, err->message);
    return err->code == ELMO_ERR_LIMIT ? SQLITE_TOOBIG : SQLITE_ERROR;
}

int ext_embed_tokens(sqlite3 *db, const char *fn, const ext_call_options *opts,
                     const ext_text *text, float **out, size_t *width, char **msg) {
    *out = NULL;
    *width = 0;
    ext_handle *handle = NULL;
    int rc = ext_registry_acquire(fn, ext_options_model(opts), &handle, msg);
    if (rc) return rc;
    const elmo_model *model = ext_handle_model(handle);
    elmo_mix mix;
    elmo_result *result = NULL;
    elmo_error err;
    size_t n = text->sentence.n_tokens;
    ext_interrupt interrupt = {0};
    elmo_run_params run = elmo_run_default_params();
    if ((rc = ext_options_mix(fn, opts, model, &mix, msg)) != SQLITE_OK) goto done;
    if ((rc = ext_interrupt_open(fn, db, &interrupt, msg)) != SQLITE_OK) goto done;
    run.interrupt = ext_interrupt_poll;
    run.interrupt_arg = &interrupt;
    if (elmo_run(model, &run, &text->sentence, 1, NULL, &result, &err) != ELMO_OK) {
        rc = ext_core_failure(fn, &err, msg);
        goto done;
    }
    *width = elmo_mix_dim(model, &mix);
    *out = sqlite3_malloc64((n ? n : 1) * *width * sizeof **out); /* [n, width] */
    if (!*out) {
        rc = SQLITE_NOMEM;
    } else if (elmo_result_mix(result, 0, &mix, *out, &err) != ELMO_OK) {
        rc = ext_core_failure(fn, &err, msg);
    }
    if (rc) {
        sqlite3_free(*out);
        *out = NULL;
    }
done:
    ext_interrupt_close(&interrupt);
    elmo_result_free(result);
    ext_registry_release(handle);
    return rc;
}
