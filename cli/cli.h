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
    EXIT_MISMATCH = 8,   /* --into was made from another source, model, precision or options */
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

/* The model flags: --model (any model path elmo_load reads; NULL: the one ELMO_MODEL, or
 * ELMO_OPTIONS + ELMO_WEIGHTS, names), --precision ("fp32", "bf16", "auto": the faster one
 * on this CPU; NULL: fp32, or bf16 for a bf16 file), and a language-model head's --softmax
 * and --vocab (NULL: none), loaded with the model. */
typedef struct cli_model {
    const char *model, *precision, *softmax, *vocab;
} cli_model;

/* Makes the model the connection's 'default' model, then checks the options (or NULL) by
 * running probe_sql with them as ?1 (e.g. "SELECT elmo_embed('probe', ?1)"). Returns an
 * exit code, having printed the message (naming the flag or variable at fault) on
 * failure. */
int cli_load_model(sqlite3 *db, const cli_model *model, const char *probe_sql, const char *options);

/* Sets the connection's text limits (elmo_limit) where given (> 0); prints why on failure
 * and returns an exit code. */
int cli_set_limits(sqlite3 *db, long long max_tokens, long long max_text_bytes);

/* Parses a flag's value as a whole number from lo to hi; prints why and returns 0 when it
 * is not one. */
int cli_parse_number(const char *flag, const char *value, long long lo, long long hi,
                     long long *out);

/* ---- cli/messages.c ----------------------------------------------------------------- */

/* n with thousands separators ("99,492") in buf. */
const char *cli_count(char buf[32], long long n);

/* The extension's message as the program's user should read it (sqlite3_malloc'd): without
 * the SQL function's name and row, with the flags that replace SQL advice (--max-tokens for
 * elmo_limit), and for a value that is not text, `cast_hint` (may be NULL). */
char *cli_message(const char *msg, const char *cast_hint);

/* ---- cli/precision.c ---------------------------------------------------------------- */

/* "fp32" or "bf16": the precision whose products run fastest on this CPU. */
const char *cli_precision_auto(void);

/* The guidance of --help: bf16 against fp32 by CPU family, and this CPU's kernels. */
void cli_precision_guide(FILE *f);

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
