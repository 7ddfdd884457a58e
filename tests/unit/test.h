/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Minimal assertion helpers for unit tests: a failed check prints where and exits non-zero. */
#pragma once
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define CHECK(expr)                                                                                         \
        do {                                                                                                \
                if (!(expr)) {                                                                              \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);            \
                        exit(1);                                                                            \
                }                                                                                           \
        } while (0)
#define CHECK_EQ(a, b)                                                                                      \
        do {                                                                                                \
                long long a_ = (long long)(a), b_ = (long long)(b);                                         \
                if (a_ != b_) {                                                                             \
                        fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a,   \
                                #b, a_, b_);                                                                \
                        exit(1);                                                                            \
                }                                                                                           \
        } while (0)
/* A received message refused for breaking a rule of the specification: one of errors.h's -ERR_MSG_*. */
#define CHECK_INVALID(expr)                                                                                 \
        do {                                                                                                \
                int r_ = (expr);                                                                            \
                if (!error_is_invalid_message(r_)) {                                                        \
                        fprintf(stderr, "%s:%d: %s: %d is not an invalid-message code\n", __FILE__,         \
                                __LINE__, #expr, r_);                                                       \
                        exit(1);                                                                            \
                }                                                                                           \
        } while (0)
#define CHECK_STREQ(a, b)                                                                                   \
        do {                                                                                                \
                const char *a_ = (a), *b_ = (b);                                                            \
                if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                    \
                        fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,                    \
                                a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                    \
                        exit(1);                                                                            \
                }                                                                                           \
        } while (0)

/* Each test runs in its own process, so one failure does not hide the next and a hang (60 s) fails
 * that test instead of the whole run. Use as: int failed = 0; RUN(test_x); ... return failed != 0; */
#include <sys/wait.h>
#include <unistd.h>

static inline int test_run_forked(const char *name, void (*fn)(void))
{
        int status;
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                alarm(60);
                fn();
                fflush(NULL);
                _exit(0);
        }
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                fprintf(stderr, "ok   %s\n", name);
                return 0;
        }
        if (WIFSIGNALED(status))
                fprintf(stderr, "FAIL %s (signal %d)\n", name, WTERMSIG(status));
        else
                fprintf(stderr, "FAIL %s\n", name);
        return 1;
}
#define RUN(fn) failed += test_run_forked(#fn, fn)
