/* multiversion.h - MULTIVERSION: build an elementwise loop for several x86 levels at once
 * (target_clones), so that it vectorizes wherever it runs. The clones give the same bits:
 * ISO C mode keeps -ffp-contract=off (no FMA contraction), the loops do not reassociate,
 * and fused steps are written as fmaf (fastmath.h: one rounding on every level). Off under
 * the sanitizers (their runtimes start after the clones' resolvers run); those builds
 * compile the files that use it for the host's AVX2 + FMA instead (Makefile). */
#ifndef ELMO_CORE_MULTIVERSION_H
#define ELMO_CORE_MULTIVERSION_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

#endif
