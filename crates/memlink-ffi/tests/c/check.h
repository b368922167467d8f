/* What the C tests share: pass / fail counting, and the checks that end a
 * test function with 1 and say why on stderr. Included by abi.c and
 * waitset.c (after stdio.h and memlink.h). */
#ifndef MEMLINK_TEST_CHECK_H
#define MEMLINK_TEST_CHECK_H

static int passed, failed;

static void fail_at(const char *what, ml_result r, int line) {
    char msg[512] = {0};
    ml_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "line %d: %s: got %s (%s)\n", line, what, ml_result_name(r), msg);
}

/* A call that must succeed; on failure the test function returns 1. */
#define OK(call)                                                             \
    do {                                                                     \
        ml_result r_ = (call);                                               \
        if (r_ != ML_OK) { fail_at(#call, r_, __LINE__); return 1; }         \
    } while (0)
/* A call that must fail with `code`. */
#define FAILS(code, call)                                                    \
    do {                                                                     \
        ml_result r_ = (call);                                               \
        if (r_ != (code)) { fail_at(#call " (expected " #code ")", r_, __LINE__); return 1; } \
        if (ml_last_error_code() != (code)) { fprintf(stderr, "line %d: last error\n", __LINE__); return 1; } \
    } while (0)
#define TRUE(cond)                                                           \
    do {                                                                     \
        if (!(cond)) { fprintf(stderr, "line %d: %s is false\n", __LINE__, #cond); return 1; } \
    } while (0)

static void run(const char *name, int (*test)(void)) {
    if (test() == 0) {
        passed++;
        printf("ok %s\n", name);
    } else {
        failed++;
        printf("FAILED %s\n", name);
    }
    fflush(stdout);
}

#endif
