/* provenance.h - what made an output table of `elmo embed`: one row per table in
 * elmo_embed_provenance, a table of the database the program owns. A run adds to a table
 * only what the same source, output kind, options, model, language-model head, precision
 * and width would make. */
#ifndef ELMO_CLI_PROVENANCE_H
#define ELMO_CLI_PROVENANCE_H

#include <stdio.h>
#include <sqlite3.h>

#define PROVENANCE_TABLE "elmo_embed_provenance"

typedef struct provenance {
    /* The source: a table's column (its key, and a filter), or a query. */
    char *source_table, *source_column, *source_id, *source_where, *source_query;
    char *output;  /* what the table holds: "vector" or "perplexity" (--output) */
    char *options; /* the options, canonical JSON; NULL: the defaults */
    char *model;   /* where the model was loaded from (shown, not compared) */
    char *fingerprint, *precision, *kernel;
    char *head_fingerprint;            /* the language-model head's (perplexities), or NULL */
    long long dim;                     /* floats per vector (1 for a perplexity) */
    char *created, *updated, *version; /* as read back */
} provenance;

void provenance_free(provenance *p);

/* Creates elmo_embed_provenance if it does not exist, and adds the columns a table made
 * before perplexities lacks (output 'vector', no head). */
int provenance_create_table(sqlite3 *db);

/* Reads the record of `into`: SQLITE_OK with *found 0 or 1. */
int provenance_read(sqlite3 *db, const char *into, provenance *p, int *found);

/* Records (or replaces) the record of `into`, made now. */
int provenance_write(sqlite3 *db, const char *into, const char *errors, const provenance *p);

/* Marks the record of `into` as updated now. */
int provenance_touch(sqlite3 *db, const char *into);

/* 1 when two records name the same source. */
int provenance_same_source(const provenance *a, const provenance *b);

/* What the table holds, for messages: "vectors" or "perplexities". */
const char *provenance_holds(const provenance *p);

/* What differs between the vectors `was` made and those `now` makes, as text such as
 * "the model changed (fingerprint 1a2b... -> 3c4d...)", or NULL when nothing does
 * (sqlite3_malloc'd). The source is not compared here. */
char *provenance_changes(const provenance *was, const provenance *now);

/* The source in words: "docs.body" (", key id", ", where lang = 'en'"), or "the query
 * 'SELECT ...'" (sqlite3_malloc'd). */
char *provenance_source_text(const provenance *p);

/* `elmo embed DB --info TABLE`: the record and the table's counts, on f. */
int provenance_print(sqlite3 *db, const char *into, FILE *f);

#endif
