/* run_text.c - one tokenized text through a registered model: the run and layer mix shared
 * by elmo_embed and elmo_tokens, and the interrupt check that lets sqlite3_interrupt() stop
 * a run (elmo_batch uses it too). */
#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

/* Noticing sqlite3_interrupt() while the model runs.
 *
 * SQLite 3.40 has no sqlite3_is_interrupted(). But while a statement of the connection is
 * running, the interrupt flag stays set, and any statement stepped on that connection
 * stops with SQLITE_INTERRUPT at its first jump. So the core's interrupt callback steps a
 * trivial "SELECT 1" (about a microsecond). The core calls it only from the thread that
 * called it, which is the thread SQLite is running the statement on. */

int ext_interrupt_open(const char *fn, sqlite3 *db, ext_interrupt *it, char **msg) {
    it->probe = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &it->probe, NULL);
    if (rc == SQLITE_INTERRUPT) /* the connection is already interrupted */
        *msg = sqlite3_mprintf("interrupted");
    else if (rc != SQLITE_OK && rc != SQLITE_NOMEM)
        *msg =
            sqlite3_mprintf("%s: cannot prepare the interrupt check: %s", fn, sqlite3_errmsg(db));
    return rc;
}

int ext_interrupt_poll(void *arg) {
    ext_interrupt *it = arg;
    if (!it || !it->probe) return 0;
    int rc = sqlite3_step(it->probe);
    sqlite3_reset(it->probe);
    return rc == SQLITE_INTERRUPT;
}

void ext_interrupt_close(ext_interrupt *it) {
    sqlite3_finalize(it->probe);
    it->probe = NULL;
}

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
