/*
 * check.h - the C tests' one assertion: CHECK(cond) counts a pass or
 * prints the failed condition with its place and counts a failure;
 * CHECK_SUMMARY() prints "N passed, N failed" and is main's exit status.
 * For a single test program (the counters are its own statics).
 */
#ifndef ITC_TEST_CHECK_H
#define ITC_TEST_CHECK_H

#include <stdio.h>

static int passed;
static int failed;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (cond) {                                                         \
            passed++;                                                       \
        } else {                                                            \
            failed++;                                                       \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                   \
    } while (0)

#define CHECK_SUMMARY() (printf("%d passed, %d failed\n", passed, failed), failed ? 1 : 0)

#endif /* ITC_TEST_CHECK_H */
