/* precision.c - which precision `elmo embed --precision auto` loads, and the guidance that
 * `elmo embed --help` prints: one table of CPU families with the batch speed of bf16
 * against fp32 measured on each. README.md ("Which precision") holds the same table with
 * the machine of each figure; tests/sql/test_cli_embed.py checks that they agree. */
#include <stdio.h>

#include "cli.h"
#include "elmo.h"

/* Update the figures here and in README.md together. */
static const struct {
    const char *cpu;         /* the CPU family */
    const char *bf16_kernel; /* the kernel bf16 runs on there */
    const char *speed;       /* bf16 batch throughput / fp32, as measured */
    const char *picks;       /* what --precision auto loads there */
} guide[] = {
    {"Intel Xeon with AMX (Sapphire Rapids+)", "amx-bf16", "2.8-4.0x", "bf16"},
    {"AMD Zen 4 / Zen 5 (AVX512-BF16)", "avx512-bf16", "1.6-1.8x", "bf16"},
    {"Intel with AVX512-BF16, no usable AMX", "avx512-bf16", "0.5-0.6x", "fp32"},
    {"Other x86-64 (no AVX512-BF16)", "none", "-", "fp32"},
};

const char *cli_precision_auto(void) {
    return elmo_precision_name(elmo_precision_fastest());
}

void cli_precision_guide(FILE *f) {
    fputs("Precision: fp32 gives the same bytes on every x86-64 CPU; bf16 stays within cosine\n"
          "0.9999 of it, halves the model's memory, and is faster or slower depending on the "
          "CPU\n(batch throughput of bf16 / fp32, measured; README.md says on which machines):\n"
          "  CPU family                              bf16 kernel  bf16/fp32  auto\n",
          f);
    for (size_t i = 0; i < sizeof guide / sizeof guide[0]; i++)
        fprintf(f, "  %-39s %-12s %-10s %s\n", guide[i].cpu, guide[i].bf16_kernel, guide[i].speed,
                guide[i].picks);
    const char *fp32 = elmo_precision_kernel(ELMO_PRECISION_FP32);
    const char *bf16 = elmo_precision_kernel(ELMO_PRECISION_BF16);
    fprintf(f, "This CPU: fp32 runs on %s, bf16 %s%s; --precision auto loads %s.\n",
            fp32 ? fp32 : "?", bf16 ? "on " : "", bf16 ? bf16 : "is not available",
            cli_precision_auto());
}
