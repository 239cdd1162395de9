/* lm_call.c - what every language-model function does around the core call: take the
 * model, check that it has a head and that the options fit it, turn the options into
 * elmo_lm_params, poll interrupts; and elmo_perplexity(text [, options]) itself. */
#include <math.h>
#include <string.h>

#include "elmo_ext.h"
SQLITE_EXTENSION_INIT3

int ext_lm_check_model(const char *fn, const ext_lm_options *o, const elmo_model *model,
                       int needs_targets, char **msg) {
    char shown[EXT_SHOWN_MAX + 1];
    const char *name = ext_shown(o->model ? o->model : EXT_DEFAULT_MODEL, shown);
    elmo_model_info info;
    elmo_model_get_info(model, &info);
    if (info.vocab_size == 0) {
        *msg = sqlite3_mprintf(
            "%s: model '%s' has no language-model head; load it with its softmax weights and "
            "vocabulary, e.g. SELECT elmo_load('%s', 'options.json', 'weights.hdf5', "
            "'{\"softmax\":\"softmax_weights.hdf5\",\"vocab\":\"vocab.txt\"}')",
            fn, name, name);
        return SQLITE_ERROR;
    }
    if (o->lm.vocab_limit > info.vocab_size) {
        *msg = sqlite3_mprintf("%s: vocab_limit %lld is more than the %lld words of model '%s'; "
                               "give 1 to %lld",
                               fn, (long long)o->lm.vocab_limit, (long long)info.vocab_size, name,
                               (long long)info.vocab_size);
        return SQLITE_ERROR;
    }
    /* Scoring has <S>, </S> and <UNK> as targets: a limit must keep their rows. */
    static const char *const special[] = {"<S>", "</S>", "<UNK>"};
    for (int i = 0; i < 3 && needs_targets && o->lm.vocab_limit; i++) {
        int64_t row = elmo_vocab_id(model, special[i], strlen(special[i]));
        if (row < o->lm.vocab_limit) continue;
        *msg = sqlite3_mprintf("%s: vocab_limit %lld leaves out '%s' (row %lld), which every "
                               "sentence needs as a target; give a vocab_limit above %lld",
                               fn, (long long)o->lm.vocab_limit, special[i], (long long)row,
                               (long long)row);
        return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

/* The rows of the words to exclude (words outside the vocabulary cannot be predicted
 * anyway and are left out). */
static int exclusions(const ext_lm_options *o, ext_lm_call *c) {
    if (!o->have_exclude) return SQLITE_OK; /* the core's default: <S>, </S>, <UNK> */
    c->exclude = sqlite3_malloc64((o->n_exclude ? o->n_exclude : 1) * sizeof *c->exclude);
    if (!c->exclude) return SQLITE_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < o->n_exclude; i++) {
        int64_t row = elmo_vocab_id(c->model, o->exclude[i], strlen(o->exclude[i]));
        if (row >= 0) c->exclude[n++] = row;
    }
    c->lm.exclude = c->exclude;
    c->lm.n_exclude = n;
    return SQLITE_OK;
}

int ext_lm_begin(const char *fn, sqlite3 *db, const ext_lm_options *o, int needs_targets,
                 ext_lm_call *c, char **msg) {
    memset(c, 0, sizeof *c);
    int rc = ext_registry_acquire(fn, o->model ? o->model : EXT_DEFAULT_MODEL, &c->handle, msg);
    if (rc) return rc;
    c->model = ext_handle_model(c->handle);
    c->lm = o->lm;
    if ((rc = ext_lm_check_model(fn, o, c->model, needs_targets, msg)) || (rc = exclusions(o, c)) ||
        (rc = ext_interrupt_open(fn, db, &c->interrupt, msg))) {
        ext_lm_end(c);
        return rc;
    }
    c->run = elmo_run_default_params();
    c->run.interrupt = ext_interrupt_poll;
    c->run.interrupt_arg = &c->interrupt;
    return SQLITE_OK;
}

void ext_lm_end(ext_lm_call *c) {
    ext_interrupt_close(&c->interrupt);
    ext_registry_release(c->handle);
    sqlite3_free(c->exclude);
    memset(c, 0, sizeof *c);
}

/* elmo_perplexity(text [, options]) -> REAL (NULL for NULL or a text without tokens). */
void ext_perplexity_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    static const char fn[] = "elmo_perplexity";
    ext_conn *conn = sqlite3_user_data(ctx);
    ext_lm_options opts;
    ext_text text = {0};
    ext_lm_call call = {0};
    char *msg = NULL;
    int rc = ext_lm_options_parse(fn, EXT_LM_PERPLEXITY, argc > 1 ? argv[1] : NULL, &opts, &msg);
    if (rc) {
        ext_result_failure(ctx, rc, msg);
        return;
    }
    rc = ext_text_read(fn, argv[0], &conn->limits, opts.tokenizer, &text, &msg);
    if (rc == SQLITE_OK && !text.is_null && text.sentence.n_tokens > 0) {
        rc = ext_lm_begin(fn, sqlite3_context_db_handle(ctx), &opts, 1, &call, &msg);
        double ppl = NAN;
        elmo_error err;
        if (rc == SQLITE_OK &&
            elmo_lm_perplexity(call.model, &call.run, &call.lm, &text.sentence, 1, &ppl, &err))
            rc = ext_core_failure(fn, &err, &msg);
        if (rc == SQLITE_OK) sqlite3_result_double(ctx, ppl);
        ext_lm_end(&call);
    } /* else NULL text or no tokens: the result stays NULL */
    if (rc) ext_result_failure(ctx, rc, msg);
    ext_text_free(&text);
    ext_lm_options_free(&opts);
}
