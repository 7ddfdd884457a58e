/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every fuzz target shares: the libFuzzer entry point and FUZZ_CHECK(). A broken invariant aborts, so
 * libFuzzer (and replay.c) report it like any memory error, with the input that caused it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional; libFuzzer and replay.c call it once before the first input. Only constant setup belongs here. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(expr)                                                                                    \
        do {                                                                                                \
                if (!(expr)) {                                                                              \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #expr);        \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

/* The input as a C string, cut at its first NUL byte as a C caller would see it. NULL when out of memory. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
        return strndup((const char *)data, size);
}
