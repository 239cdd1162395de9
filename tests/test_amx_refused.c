/* test_amx_refused.c - when Linux refuses the AMX tile state, bf16 falls back to the next
 * kernel (avx512-bf16) with a message that says why, and runs: nothing executes a tile
 * instruction without the permission (that would kill the process with SIGILL).
 *
 * The refusal is real: a seccomp filter makes arch_prctl(ARCH_REQ_XCOMP_PERM) fail with
 * EPERM before the library asks, as a sandbox that forbids it would. Skipped (once,
 * visibly) on CPUs without AMX-BF16. */
#include <cpuid.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "elmo.h"
#include "harness.h"

#define ARCH_REQ_XCOMP_PERM 0x1023

static int cpu_has_amx(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 24)) && (d & (1u << 22));
}

/* arch_prctl(ARCH_REQ_XCOMP_PERM, ...) fails with EPERM; every other call is allowed. */
static int refuse_tile_permission(void) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_arch_prctl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_REQ_XCOMP_PERM, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

int main(void) {
    if (!cpu_has_amx()) {
        printf("test_amx_refused: skipped: no AMX\n");
        return 0;
    }
    CHECK_INT(refuse_tile_permission(), 0);
    CHECK_STR(elmo_precision_kernel(ELMO_PRECISION_BF16), "avx512-bf16");
    CHECK_INT(elmo_precision_fastest(), ELMO_PRECISION_FP32);

    elmo_load_params lp = elmo_load_default_params();
    lp.precision = ELMO_PRECISION_BF16;
    elmo_model *m = NULL;
    elmo_error err;
    CHECK_INT(elmo_model_load("models/elmo-tiny/options.json", "models/elmo-tiny/weights.hdf5", &lp,
                              &m, &err),
              ELMO_OK);
    if (!m) return harness_report("test_amx_refused");
    elmo_model_info info;
    elmo_model_get_info(m, &info);
    CHECK_STR(info.kernel, "avx512-bf16");
    CHECK_STR(info.notice,
              "bf16 products run on AVX512-BF16 (Linux refused the AMX tile state (arch_prctl "
              "ARCH_REQ_XCOMP_PERM: Operation not permitted)), whose dot products run at half the "
              "fp32 rate on this Intel CPU: bf16 is faster than fp32 for single sentences (half "
              "the bytes to read) but slower for batches; load with precision 'fp32' for batch "
              "work");
    /* and it runs: a tile instruction here would end the process */
    const char *text = "The bank raised interest rates .";
    elmo_span spans[8];
    size_t n = elmo_tokenize(ELMO_TOKENIZER_WHITESPACE, text, strlen(text), spans, 8);
    elmo_sentence s = {text, spans, n};
    elmo_result *r = NULL;
    CHECK_INT(elmo_run(m, NULL, &s, 1, NULL, &r, &err), ELMO_OK);
    CHECK_INT(elmo_result_tokens(r, 0), 6);
    elmo_result_free(r);
    elmo_model_free(m);
    printf("test_amx_refused: bf16 fell back to avx512-bf16 and said why\n");
    return harness_report("test_amx_refused");
}
