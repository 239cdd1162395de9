/* main.c - the `elmo` command: `elmo SUBCOMMAND [ARGS...]`. */
#include <stdio.h>
#include <string.h>

#include "convert.h"
#include "elmo.h"

typedef struct subcommand {
    const char *name;
    const char *help;  /* one line */
    int (*fn)(int argc, char **argv);
} subcommand;

static const subcommand commands[] = {
    {"convert", "convert any model elmo_load accepts to one .safetensors file", cli_convert},
};

static int usage(FILE *out) {
    fprintf(out, "usage: elmo SUBCOMMAND [ARGS...]   (%s)\n", elmo_version());
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) return usage(stdout);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "elmo: unknown subcommand '%s'\n", argv[1]);
    return usage(stderr);
}
