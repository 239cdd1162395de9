/* embed.h - the table mode of `elmo embed` (cli/embed*.c): the job and what its files
 * share. embed_flags.c reads the flags, embed_kind.c says what a run writes (vectors or
 * perplexities) and with which options, embed_source.c checks the source and writes the
 * SQL that reads it, embed_output.c prepares the output tables and their provenance,
 * embed.c runs the chunks. */
#ifndef ELMO_CLI_EMBED_H
#define ELMO_CLI_EMBED_H

#include "cli.h"
#include "locks.h"
#include "provenance.h"

/* What a run writes (--output), cli/embed_kind.c. */
typedef struct embed_kind {
    const char *name;        /* "vector" or "perplexity": --output, and the provenance's */
    const char *column;      /* the output table's value column, also elmo_batch's */
    const char *type;        /* its SQL type */
    const char *function;    /* the SQL function of one row: elmo_embed, elmo_perplexity */
    const char *suffix;      /* the default --into: TABLE + suffix */
    const char *plural;      /* "vectors", "perplexities": for messages */
    const char *const *keys; /* the option keys, in the canonical order */
    size_t n_keys;
} embed_kind;

typedef struct job {
    /* flags */
    const char *db_path, *table, *column, *id, *where, *query, *into, *model, *options, *precision,
        *info, *output, *softmax, *vocab;
    long long max_tokens, max_text_bytes; /* 0: the extension's defaults */
    int chunk, refresh, prune, fail, quiet, busy_ms;
    double interval;
    int argc;
    char **argv;
    /* derived */
    const embed_kind *kind; /* --output: vectors or perplexities */
    char *default_into;     /* TABLE_elmo (TABLE_perplexity) when --into is not given */
    char *errors;           /* the errors table: INTO_errors */
    char *src;              /* "WITH elmo_src(id, body) AS (...)": the source rows, keyed */
    char *cast_hint;        /* how to embed values that are not text, for messages */
    int int_key;            /* the key is the rowid: the output key is INTEGER PRIMARY KEY */
    char *batch_options;    /* the options for elmo_batch: --options (+ the output), on_error
                            'skip' */
    provenance made;        /* what this run makes */
    sqlite3 *db;
    cli_busy busy;
} job;

/* cli/embed_flags.c: fills the job from argv; EXIT_DONE or EXIT_USAGE (after a message). */
int embed_parse_flags(job *j, int argc, char **argv);

/* cli/embed_kind.c: the kind --output NAME names (NULL: vectors), or NULL for another name;
 * and whether it is vectors. */
const embed_kind *embed_kind_named(const char *name);
int embed_kind_is_vector(const embed_kind *kind);

/* cli/embed_kind.c: checks --options for the kind before anything is opened: perplexity
 * options are elmo_perplexity's, a JSON object without "output". Prints why and returns
 * EXIT_USAGE, or EXIT_DONE. */
int embed_kind_check_options(const embed_kind *kind, const char *options);

/* cli/embed_kind.c: the options (already checked by the model's probe) as one canonical
 * JSON object (the kind's keys in a fixed order, nulls and the default model left out, so
 * that 'top' and '{"output":"top"}' are the same options; NULL: the defaults), and the
 * options for elmo_batch: those, the output 'perplexity' for perplexities, and on_error
 * 'skip' so that a bad row fails alone (both sqlite3_malloc'd). SQLITE_OK or
 * SQLITE_NOMEM. */
int embed_kind_options(const embed_kind *kind, const char *options, char **canonical, char **batch);

/* cli/embed_source.c: checks the source (a table or view and its columns, or a query) and
 * its key, and sets src, int_key, cast_hint and the source fields of `made`. */
int embed_source_open(job *j);

/* cli/embed_output.c: switches the database to WAL, creates the output and errors tables,
 * and checks (or records) their provenance: a table made from another source is refused;
 * one made as another kind, or by other options, model, head or precision is refused unless
 * --refresh, which empties it first. Sets `made` from the loaded model. */
int embed_output_open(job *j);

/* cli/embed_output.c: within a write transaction, whether the output table is still made
 * as this run makes it (another run may have refreshed it meanwhile); marks it updated. */
int embed_output_still_ours(job *j, int *ours);

/* Prints why a statement failed (locks and full disks with what to do) and returns the
 * exit code. */
int embed_sql_fail(job *j, int rc, const char *what);

#endif
