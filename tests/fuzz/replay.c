/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs a fuzz target's LLVMFuzzerTestOneInput() over files, without libFuzzer, so that every build (gcc,
 * the sanitizer build) exercises the checked-in corpora: replay-<target> FILE|DIRECTORY...
 *
 * Directories are read in name order, so a failure always shows up at the same input, and the name of each
 * input is printed before it runs: when one crashes, the last name printed is the culprit. An empty corpus
 * fails, since a replay of nothing checks nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util.h"

/* libFuzzer treats LLVMFuzzerInitialize() as optional, and so does the replay. */
extern __typeof__(LLVMFuzzerInitialize) LLVMFuzzerInitialize __attribute__((weak));

static int replay_file(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        for (;;) {
                if (GREEDY_REALLOC(buf, allocated, size + 4096) < 0)
                        return -ENOMEM;
                size_t n = fread(buf + size, 1, allocated - size, f);
                size += n;
                if (n == 0)
                        break;
        }
        if (ferror(f)) {
                fprintf(stderr, "%s: read error\n", path);
                return -EIO;
        }
        fprintf(stderr, "replay %s (%zu bytes)\n", path, size);
        /* A copy of exactly the input's size, as libFuzzer passes it, so ASan sees reads past its end. */
        _cleanup_free_ uint8_t *input = malloc(size ? size : 1);
        if (!input)
                return -ENOMEM;
        memcpy(input, buf, size);
        LLVMFuzzerTestOneInput(input, size);
        return 0;
}

static int replay_directory(const char *dir, unsigned *n_inputs)
{
        struct dirent **entries;
        int n = scandir(dir, &entries, NULL, alphasort);
        int r = 0;

        if (n < 0) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (r >= 0 && entries[i]->d_name[0] != '.' &&
                    asprintf(&path, "%s/%s", dir, entries[i]->d_name) >= 0 && stat(path, &st) == 0 &&
                    S_ISREG(st.st_mode)) {
                        r = replay_file(path);
                        if (r >= 0)
                                (*n_inputs)++;
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char **argv)
{
        unsigned n_inputs = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s FILE|DIRECTORY...\n", argv[0]);
                return 2;
        }
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (S_ISDIR(st.st_mode))
                        r = replay_directory(argv[i], &n_inputs);
                else if ((r = replay_file(argv[i])) >= 0)
                        n_inputs++;
                if (r < 0)
                        return 1;
        }
        if (n_inputs == 0) {
                fprintf(stderr, "no inputs to replay\n");
                return 1;
        }
        fprintf(stderr, "replayed %u inputs\n", n_inputs);
        return 0;
}
