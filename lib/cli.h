/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the command line of every nsbus program has in common. */
#pragma once

#include <errno.h>
#include <stdio.h>

/* getopt_long()'s value for --version (no short option: dbus-daemon has none). */
#define CLI_ARG_VERSION 'V'

/* --help, --version, or an option getopt_long() did not know (it said so on stderr): 0 to exit
 * successfully, or -EINVAL after the usage on stderr. */
static inline int cli_common_option(int c, const char *program, void (*usage)(FILE *f))
{
        if (c == 'h') {
                usage(stdout);
                return 0;
        }
        if (c == CLI_ARG_VERSION) {
                printf("%s %s\n", program, NSBUS_VERSION);
                return 0;
        }
        usage(stderr);
        return -EINVAL;
}
