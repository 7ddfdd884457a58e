/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Minimal assertion helpers for unit tests: a failed check prints where and exits non-zero. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#define CHECK_STREQ(a, b)                                                                                   \
        do {                                                                                                \
                const char *a_ = (a), *b_ = (b);                                                            \
                if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                    \
                        fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,                    \
                                a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                    \
                        exit(1);                                                                            \
                }                                                                                           \
        } while (0)
