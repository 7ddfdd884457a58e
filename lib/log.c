/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The logger (log.h). A line is formatted once into a fixed buffer, so logging never allocates and can
 * report running out of memory; an over-long line is cut, never split.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static struct log_config config = {.prefix = "nsbus", .to_stderr = true, .max_priority = LOG_INFO};

void log_setup(const struct log_config *c)
{
        config = *c;
}

void log_set_prefix(const char *prefix)
{
        config.prefix = prefix;
}

bool log_enabled(int priority)
{
        return priority <= config.max_priority && (config.to_stderr || config.to_syslog);
}

void log_msg(int priority, const char *fmt, ...)
{
        if (!log_enabled(priority))
                return;
        char text[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (config.to_stderr)
                fprintf(stderr, "%s: %s\n", config.prefix, text);
        if (config.to_syslog)
                syslog(priority, "%s", text);
}
