/* embed_usage.c - the help text of `elmo embed`. */
#include <stdio.h>

#include "cli.h"

void embed_usage(FILE *f) {
    fputs(
        "usage: elmo embed DB --table TABLE --column COLUMN [options]\n"
        "       elmo embed --stream [--model PATH] [--format json|base64] [--input auto|tsv|json]\n"
        "                  [--options JSON] [--batch N] [--on-error=skip|fail]\n"
        "\n"
        "Embeds the text in TABLE.COLUMN of the SQLite database DB into the table --into (one\n"
        "vector per row, made by the extension's elmo_batch, equal to elmo_embed(COLUMN)), in\n"
        "chunks, each committed on its own. Rerunning the same command resumes where it stopped.\n"
        "\n"
        "  --table TABLE        source table (in DB's main schema)\n"
        "  --column COLUMN      its text column\n"
        "  --id COLUMN          unique, non-NULL row key (default: the rowid, i.e. the INTEGER\n"
        "                       PRIMARY KEY when there is one); index it if it is not the key\n"
        "  --into TABLE         output table (default TABLE_elmo): id PRIMARY KEY, vector BLOB,\n"
        "                       text_hash INTEGER; rows that fail go to INTO_errors (id, message)\n"
        "  --model PATH         any model elmo_load reads: a .safetensors file, a directory with\n"
        "                       options.json + weights.hdf5, a TF-Hub module (default: the\n"
        "                       ELMO_MODEL environment variable)\n"
        "  --precision P        fp32 or bf16 (needs --model; default: fp32, or bf16 for a bf16 "
        "file)\n"
        "  --options JSON       elmo_embed options, e.g. '{\"output\":\"top\"}' or 'top'\n"
        "  --chunk N            rows per chunk and transaction (default 256)\n"
        "  --refresh            also re-embed rows whose text (or --options) changed\n"
        "  --prune              delete output and error rows whose source row is gone\n"
        "  --on-error=skip|fail skip (default): a bad row goes to INTO_errors and the job goes "
        "on;\n"
        "                       fail: stop with exit code 7, naming the row\n"
        "  --busy-timeout MS    wait this long for other writers (default 30000)\n"
        "  --progress-interval S  seconds between progress updates (default 1 on a terminal, else "
        "5)\n"
        "  --quiet              no progress and no summary\n"
        "\n"
        "Ctrl-C (SIGINT) or SIGTERM rolls back the current chunk, keeps the finished ones and\n"
        "prints the command that resumes; exit 130 / 143.\n"
        "\n"
        "Exit codes: 0 done (failed rows, if any, are in INTO_errors); 1 other error; 2 bad "
        "flags;\n"
        "3 database, table or column missing; 4 no model, model load error or bad --options;\n"
        "5 database locked; 6 disk full; 7 a row failed with --on-error=fail; 130 SIGINT; 143 "
        "SIGTERM.\n",
        f);
}
