/*
 * cli.h - shared declarations of the `elmo` command-line program (cli/).
 *
 * The program links the SQLite extension statically and registers it with
 * sqlite3_auto_extension() before opening any database, so every connection it opens has
 * the extension's SQL functions, and embedding goes through the extension's own SQL
 * (elmo_batch, elmo_embed): options, limits, errors and vectors are exactly those of SQL.
 */
#ifndef ELMO_CLI_H
#define ELMO_CLI_H

#include <signal.h>
#include <stdio.h>
#include <sqlite3.h>

/* Exit codes of every subcommand (documented in README.md, "Batch embedding"). */
enum {
    EXIT_DONE = 0,       /* finished (rows that failed, if any, are in the errors table) */
    EXIT_ERROR = 1,      /* another error (the message says which) */
    EXIT_USAGE = 2,      /* bad flags or arguments */
    EXIT_INPUT = 3,      /* database, table or column missing or unusable */
    EXIT_MODEL = 4,      /* no model, a model that does not load, or bad --options */
    EXIT_LOCKED = 5,     /* the database stayed locked by another connection */
    EXIT_FULL = 6,       /* disk full */
    EXIT_ROW_FAILED = 7, /* a row failed and --on-error=fail was given */
    EXIT_SIGINT = 130,
    EXIT_SIGTERM = 143
};

/* The extension's entry point (ext/sqlite_elmo.c), linked into the program. */
int sqlite3_elmo_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);

/* A subcommand: `elmo NAME ARGS...`; argv[0] is NAME. Returns the exit code. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cmd_embed(int argc, char **argv);  /* cli/embed.c (table mode) */
int cmd_stream(int argc, char **argv); /* cli/stream.c (elmo embed --stream) */
void embed_usage(FILE *f);             /* cli/embed_usage.c */

/* argv[0] of the program, for the resume command. */
extern const char *cli_program;

/* ---- cli/common.c ------------------------------------------------------------------- */

/* Prints "elmo embed: <message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Matches argv[*i] against "--name" (value in the next argument) or "--name=value".
 * Returns 1 and sets *value on a match, -1 (after printing why) when the value is missing,
 * 0 when argv[*i] is another flag. Advances *i past a separate value. */
int cli_flag_value(int argc, char **argv, int *i, const char *name, const char **value);

/* The exit code for an SQLite result code (busy -> EXIT_LOCKED, full -> EXIT_FULL...). */
int cli_exit_for(int sqlite_rc);

/* Opens an existing database read-write with a busy timeout (or ":memory:"). */
int cli_open(const char *path, int busy_ms, sqlite3 **db);

/* The model flags: --model (NULL: the environment's ELMO_MODEL), --precision ("fp32",
 * "bf16" or NULL), and a language-model head's --softmax and --vocab (NULL: none). */
typedef struct cli_model {
    const char *model, *precision, *softmax, *vocab;
} cli_model;

/* Makes the model the connection's 'default' model, then checks the options (or NULL) by
 * running probe_sql with them as ?1 (e.g. "SELECT elmo_embed('probe', ?1)"). Returns an
 * exit code, having printed the extension's message on failure. */
int cli_load_model(sqlite3 *db, const cli_model *model, const char *probe_sql, const char *options);

/* ---- cli/embed_output.c -------------------------------------------------------------- */

/* What `elmo embed` writes (--output vector or perplexity). */
typedef struct embed_output {
    const char *column;   /* the output table's value column, also elmo_batch's */
    const char *type;     /* its SQL type */
    const char *function; /* the SQL function of one row (elmo_embed, elmo_perplexity) */
    const char *suffix;   /* the default --into: TABLE + suffix */
    const char *plural;   /* for messages */
} embed_output;

/* The output for --output NAME (NULL: vector), or NULL for an unknown name. */
const embed_output *embed_output_named(const char *name);

/* For perplexities, the options elmo_batch gets (sqlite3_malloc'd): --options (a JSON
 * object without "output", or none) with "output":"perplexity" added; NULL for vectors (it
 * gets --options as given), for other --options, or when out of memory. */
char *embed_batch_options(const embed_output *out, const char *options);

/* ---- cli/signals.c ------------------------------------------------------------------ */

/* Installs SIGINT/SIGTERM handlers that record the signal and interrupt `db` (may be NULL;
 * set later with cli_signals_db). No SA_RESTART: a blocking read returns EINTR. */
void cli_signals_install(sqlite3 *db);
void cli_signals_db(sqlite3 *db);
/* The first signal received (SIGINT, SIGTERM) or 0. */
int cli_signal_received(void);
/* 130 for SIGINT, 143 for SIGTERM. */
int cli_signal_exit_code(int sig);

#endif
