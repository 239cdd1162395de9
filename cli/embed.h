/* embed.h - the table mode of `elmo embed` (cli/embed*.c): the job and what its files
 * share. embed_flags.c reads the flags, embed_source.c checks the source and writes the SQL
 * that reads it, embed_output.c prepares the output tables and their provenance, embed.c
 * runs the chunks. */
#ifndef ELMO_CLI_EMBED_H
#define ELMO_CLI_EMBED_H

#include "cli.h"
#include "locks.h"
#include "provenance.h"

typedef struct job {
    /* flags */
    const char *db_path, *table, *column, *id, *where, *query, *into, *model, *options, *precision,
        *info;
    long long max_tokens, max_text_bytes; /* 0: the extension's defaults */
    int chunk, refresh, prune, fail, quiet, busy_ms;
    double interval;
    int argc;
    char **argv;
    /* derived */
    char *default_into;  /* TABLE_elmo when --into is not given */
    char *errors;        /* the errors table: INTO_errors */
    char *src;           /* "WITH elmo_src(id, body) AS (...)": the source rows, keyed */
    char *cast_hint;     /* how to embed values that are not text, for messages */
    int int_key;         /* the key is the rowid: the output key is INTEGER PRIMARY KEY */
    char *batch_options; /* the options for elmo_batch: --options + on_error 'skip' */
    provenance made;     /* what this run makes */
    sqlite3 *db;
    cli_busy busy;
} job;

/* cli/embed_flags.c: fills the job from argv; EXIT_DONE or EXIT_USAGE (after a message). */
int embed_parse_flags(job *j, int argc, char **argv);

/* cli/embed_source.c: checks the source (a table or view and its columns, or a query) and
 * its key, and sets src, int_key, cast_hint and the source fields of `made`. */
int embed_source_open(job *j);

/* cli/embed_output.c: switches the database to WAL, creates the output and errors tables,
 * and checks (or records) their provenance: a table made from another source is refused;
 * one made by other options, model or precision is refused unless --refresh, which empties
 * it first. Sets `made` from the loaded model. */
int embed_output_open(job *j);

/* cli/embed_output.c: within a write transaction, whether the output table is still made
 * as this run makes it (another run may have refreshed it meanwhile); marks it updated. */
int embed_output_still_ours(job *j, int *ours);

/* Prints why a statement failed (locks and full disks with what to do) and returns the
 * exit code. */
int embed_sql_fail(job *j, int rc, const char *what);

#endif
