/*
 * main.c - the `elmo` program: a table of subcommands. Adding one is a line here and a
 * file that defines its function (declared in cli.h).
 *
 *   elmo embed DB --table T --column C [...]    embed a column into a table, resumably
 *   elmo embed --stream [...]                   id<TAB>text lines in, id<TAB>vector out
 *   elmo convert INPUT... -o MODEL.safetensors  any model elmo_load accepts -> safetensors
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "elmo.h"

static const struct {
    const char *name;
    const char *help; /* one line */
    cli_command_fn run;
} commands[] = {
    {"embed", "embed a text column into a table (resumable), or stdin lines with --stream",
     cmd_embed},
    {"convert", "convert any model elmo_load accepts to one .safetensors file", cli_convert},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: elmo COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f,
            "\n`elmo COMMAND --help` describes a command; `elmo --version` prints the version.\n");
}

const char *cli_program = "elmo";

int main(int argc, char **argv) {
    cli_program = argv[0];
    /* Every connection the program opens gets the extension, as SQLite's shell does for
     * the extensions compiled into it. */
    sqlite3_auto_extension((void (*)(void))sqlite3_elmo_init);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_DONE;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("elmo %s (%s; SQLite %s)\n", ELMO_VERSION, elmo_version(), sqlite3_libversion());
        return EXIT_DONE;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "elmo: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
