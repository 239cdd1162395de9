/* embed_flags.c - the flags of `elmo embed DB ...` (table mode; see embed_usage.c). */
#include <stdlib.h>
#include <string.h>

#include "embed.h"

/* Checks how the flags go together. */
static int check_combination(const job *j) {
    if (j->info) {
        if (j->table || j->query || j->column || j->into) {
            cli_error("--info TABLE prints what made an output table; give it with the database "
                      "alone, e.g. elmo embed docs.db --info docs_elmo");
            return EXIT_USAGE;
        }
        if (j->db_path) return EXIT_DONE;
        cli_error("give the database before --info, e.g. elmo embed docs.db --info docs_elmo");
        return EXIT_USAGE;
    }
    if (j->query && (j->table || j->column || j->id || j->where)) {
        cli_error("--query replaces --table, --column, --id and --where: give either --query, or "
                  "--table and --column");
        return EXIT_USAGE;
    }
    if (j->query && !j->into) {
        cli_error("--query needs --into TABLE, the output table");
        return EXIT_USAGE;
    }
    if (!j->db_path || (!j->query && (!j->table || !j->column))) {
        cli_error("give the database, --table and --column (or --query), e.g. elmo embed docs.db "
                  "--table docs --column body (see elmo embed --help)");
        return EXIT_USAGE;
    }
    if (j->precision && strcmp(j->precision, "fp32") && strcmp(j->precision, "bf16") &&
        strcmp(j->precision, "auto")) {
        cli_error("--precision must be fp32, bf16 or auto, got '%s'", j->precision);
        return EXIT_USAGE;
    }
    if (!j->kind) {
        cli_error("--output must be vector or perplexity, got '%s'", j->output);
        return EXIT_USAGE;
    }
    return embed_kind_check_options(j->kind, j->options);
}

int embed_parse_flags(job *j, int argc, char **argv) {
    memset(j, 0, sizeof *j);
    j->chunk = 256;
    j->busy_ms = 30000;
    j->argc = argc;
    j->argv = argv;
    struct {
        const char *name;
        const char **dest;
    } text[] = {{"--table", &j->table}, {"--column", &j->column},   {"--id", &j->id},
                {"--where", &j->where}, {"--query", &j->query},     {"--into", &j->into},
                {"--model", &j->model}, {"--options", &j->options}, {"--precision", &j->precision},
                {"--info", &j->info},   {"--output", &j->output},   {"--softmax", &j->softmax},
                {"--vocab", &j->vocab}};
    struct {
        const char *name;
        long long lo, hi, *dest;
    } numbers[] = {{"--max-tokens", 1, 2147483647, &j->max_tokens},
                   {"--max-text-bytes", 1, 2147483647, &j->max_text_bytes}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int m = 0;
        for (size_t k = 0; !m && k < sizeof text / sizeof text[0]; k++)
            if ((m = cli_flag_value(argc, argv, &i, text[k].name, &v)) > 0) *text[k].dest = v;
        for (size_t k = 0; !m && k < sizeof numbers / sizeof numbers[0]; k++)
            if ((m = cli_flag_value(argc, argv, &i, numbers[k].name, &v)) > 0 &&
                !cli_parse_number(numbers[k].name, v, numbers[k].lo, numbers[k].hi,
                                  numbers[k].dest))
                return EXIT_USAGE;
        long long n;
        if (m < 0) return EXIT_USAGE;
        if (m) continue;
        if ((m = cli_flag_value(argc, argv, &i, "--chunk", &v)) != 0) {
            if (m < 0 || !cli_parse_number("--chunk", v, 1, 1000000, &n)) return EXIT_USAGE;
            j->chunk = (int)n;
        } else if ((m = cli_flag_value(argc, argv, &i, "--busy-timeout", &v)) != 0) {
            if (m < 0 || !cli_parse_number("--busy-timeout", v, 0, 86400000, &n)) return EXIT_USAGE;
            j->busy_ms = (int)n;
        } else if ((m = cli_flag_value(argc, argv, &i, "--progress-interval", &v)) != 0) {
            char *end;
            double s = m > 0 ? strtod(v, &end) : 0;
            if (m < 0 || *end || !(s > 0) || s > 3600) {
                if (m > 0) cli_error("--progress-interval must be seconds, got '%s'", v);
                return EXIT_USAGE;
            }
            j->interval = s;
        } else if ((m = cli_flag_value(argc, argv, &i, "--on-error", &v)) != 0) {
            if (m < 0) return EXIT_USAGE;
            if (!strcmp(v, "fail")) j->fail = 1;
            else if (!strcmp(v, "skip")) j->fail = 0;
            else {
                cli_error("--on-error must be 'skip' or 'fail', got '%s'", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--refresh")) j->refresh = 1;
        else if (!strcmp(a, "--prune")) j->prune = 1;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) j->quiet = 1;
        else if (a[0] == '-' && a[1] != '\0') {
            cli_error("unknown flag '%s'", a);
            return EXIT_USAGE;
        } else if (!j->db_path) j->db_path = a;
        else {
            cli_error("unexpected argument '%s' (the database is '%s')", a, j->db_path);
            return EXIT_USAGE;
        }
    }
    j->kind = embed_kind_named(j->output);
    return check_combination(j);
}
