/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers shared by every nsbus module: scoped cleanup, checked
 * arithmetic and a few macros. Cleanup uses __attribute__((cleanup)) so that
 * error paths are a plain `return -errno` instead of a ladder of gotos; a
 * value is handed out of its scope with TAKE_PTR()/TAKE_FD().
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* Built with AddressSanitizer: gcc says so with __SANITIZE_ADDRESS__, clang only through __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define NSBUS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NSBUS_ASAN 1
#endif
#endif
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _cleanup_(f) __attribute__((cleanup(f)))

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
/* The length of a string literal, as a constant. */
#define STRLEN(lit) (sizeof("" lit "") - 1)
#define ALIGN_TO(x, a) (((x) + ((a)-1)) & ~((size_t)(a)-1))
#define ALIGN8(x) ALIGN_TO((x), 8)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Define a cleanup function `name##p` that calls `func` on a non-NULL pointer. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                             \
        static inline void func##p(type *p)                                                                 \
        {                                                                                                   \
                if (*p)                                                                                     \
                        func(*p);                                                                           \
        }

static inline void *take_ptr_(void **p)
{
        void *v = *p;
        *p = NULL;
        return v;
}
#define TAKE_PTR(p) ((__typeof__(p))take_ptr_((void **)&(p)))

static inline int take_fd_(int *fd)
{
        int v = *fd;
        *fd = -1;
        return v;
}
#define TAKE_FD(fd) take_fd_(&(fd))

/* Close fd if it is one; returns -1 so that `fd = safe_close(fd)` leaves nothing dangling. */
static inline int safe_close(int fd)
{
        if (fd >= 0)
                close(fd);
        return -1;
}

static inline void close_fds(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static inline bool streq(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static inline const char *startswith(const char *s, const char *prefix)
{
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* Allocation failure is not a condition nsbus tries to survive piecemeal: the
 * callers propagate -ENOMEM, and these helpers keep that path short. */
/* malloc() and memset(), not calloc(): glibc's calloc() (2.36) never takes a chunk from the thread's
 * cache, so a zeroed 80-byte struct cost about 400 instructions where malloc() costs about 20, and the
 * bus makes one per call (its reply slot). For arrays that may be large, new0() keeps calloc(). */
static inline void *zalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (p)
                memset(p, 0, n);
        return p;
}
#define new0(type, n) ((type *)calloc((n) ? (n) : 1, sizeof(type)))

/* Grow *p (holding *allocated elements of size sz) to hold at least need. */
static inline int greedy_realloc(void **p, size_t *allocated, size_t need, size_t sz)
{
        if (need <= *allocated)
                return 0;
        size_t n = MAX(need, *allocated * 2);
        n = MAX(n, (size_t)8);
        if (n > SIZE_MAX / sz)
                return -ENOMEM;
        void *q = realloc(*p, n * sz);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = n;
        return 0;
}
#define GREEDY_REALLOC(array, allocated, need)                                                              \
        greedy_realloc((void **)&(array), &(allocated), (need), sizeof((array)[0]))

/* The value of a hexadecimal digit, either case; -1 for anything else. */
static inline int hex_digit_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static inline uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}
