/* harness.h - minimal assertion helpers shared by the C unit tests.
 * A failed check prints file:line and the values, counts a failure and continues, so
 * one run shows every broken case; main() returns harness_report(). */
#ifndef ELMO_TEST_HARNESS_H
#define ELMO_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int harness_checks;
static int harness_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        harness_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            harness_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_INT(actual, expected)                                                                \
    do {                                                                                           \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                            \
        harness_checks++;                                                                          \
        if (a_ != e_) {                                                                            \
            harness_failures++;                                                                    \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #actual, a_, \
                    e_);                                                                           \
        }                                                                                          \
    } while (0)

#define CHECK_STR(actual, expected)                                                                \
    do {                                                                                           \
        const char *a_ = (actual), *e_ = (expected);                                               \
        harness_checks++;                                                                          \
        if (a_ == NULL || strcmp(a_, e_) != 0) {                                                   \
            harness_failures++;                                                                    \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #actual, \
                    a_ ? a_ : "(null)", e_);                                                       \
        }                                                                                          \
    } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(haystack, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                               \
        harness_checks++;                                                                          \
        if (h_ == NULL || strstr(h_, n_) == NULL) {                                                \
            harness_failures++;                                                                    \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,         \
                    h_ ? h_ : "(null)", n_);                                                       \
        }                                                                                          \
    } while (0)

/* Largest absolute difference of two float arrays. */
static inline double harness_max_abs_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d; /* NaN-propagating */
    }
    return worst;
}

/* Cosine similarity in double precision; 1 for two zero vectors, 0 for one. */
static inline double harness_cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1 : 0);
}

#define CHECK_CLOSE(a, b, n, tol)                                                                  \
    do {                                                                                           \
        double d_ = harness_max_abs_diff((a), (b), (n));                                           \
        harness_checks++;                                                                          \
        if (!(d_ <= (tol))) {                                                                      \
            harness_failures++;                                                                    \
            fprintf(stderr, "%s:%d: max |%s - %s| = %.3g > %.3g\n", __FILE__, __LINE__, #a, #b,    \
                    d_, (double)(tol));                                                            \
        }                                                                                          \
    } while (0)

static inline int harness_report(const char *name) {
    if (harness_failures)
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, harness_failures, harness_checks);
    else printf("%s: %d checks passed\n", name, harness_checks);
    return harness_failures ? 1 : 0;
}

#endif
