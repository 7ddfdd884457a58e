/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one logger of every nsbus program: a line per event, "PROGRAM: text" on stderr and/or the same
 * text to syslog, filtered by priority. Libraries below the programs never log (they return errors);
 * the programs and the bus logic do, through these.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "util.h"

struct log_config {
        const char *prefix; /* "nsbusd", or "nsbridge[web]"; borrowed */
        bool to_stderr;
        bool to_syslog;
        int max_priority; /* LOG_INFO normally, LOG_DEBUG when verbose */
};

/* Borrowed, not copied: the strings must outlive the logging. */
void log_setup(const struct log_config *c);
void log_set_prefix(const char *prefix);
bool log_enabled(int priority);
void log_msg(int priority, const char *fmt, ...) _printf_(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
