/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl's options and its way onto a bus: --address, --system (the
 * default), --user, -C NAME (a container's bus, through its host.sock) and
 * --pid PID (the bus of the container PID lives in). Calls are blocking,
 * with --timeout; an error reply is printed as busctl does and fails the
 * command.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "client.h"

/* The system bus when DBUS_SYSTEM_BUS_ADDRESS does not say. */
#define SYSTEM_BUS_DEFAULT "unix:path=/run/dbus/system_bus_socket"

struct cli_options {
        const char *address;
        bool user;
        const char *container;
        pid_t pid;
        const char *runtime_dir; /* where container buses live: /run/nsbus */
        const char *destination; /* emit --destination */
        int timeout_ms;
        bool timeout_set; /* --timeout given: monitor and capture stop after it */
        enum { CLI_JSON_OFF, CLI_JSON_SHORT, CLI_JSON_PRETTY } json; /* --json */
        bool legend, quiet, verbose, expect_reply, auto_start;
        bool unique, acquired, activatable, show_machine;
        /* up */
        const char *policy, *config, *host_bus, *log;
        const char *policy_dir; /* where NAME.policy is looked for without --policy (NULL: the default) */
        bool add_user;          /* give the container's root a passwd entry if it has none */
        bool no_unix_fds;       /* connect without asking for fd passing */
        /* checkpoint, restore */
        bool leave_running;
        const char *restore_bus; /* "same", "fresh", or NULL: same if a bus is up */
};

/* The name errors start with: "nsbusctl", or "nsbus-hook" in the runtime hook. */
extern const char *cli_program;
/* Where errors are written too, if >= 0 (the hook's: the bus's log, as runtimes may not show stderr). */
extern int cli_log_fd;

/* "nsbusctl: <what>: <why>" on stderr; returns r (negative), so that `return cli_fail(r, ...)` works. */
int cli_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connect where the options say, past Hello: 0, or a negative errno after saying why. */
int cli_connect(const struct cli_options *o, struct client **ret);
/* The init that the bus of container name serves, asked over RUNTIME_DIR/NAME/host.sock: 0 and *ret (0 while
 * the bus waits for the container's restore: its init exited after a checkpoint), or -errno (no bus there,
 * or it did not answer within timeout_ms). Says nothing. */
int cli_container_init(const char *runtime_dir, const char *name, int timeout_ms, pid_t *ret);
/* The address the options name: 0 and *ret, or a negative errno after saying why. */
int cli_bus_address(const struct cli_options *o, char **ret);
/* A method call to dest (serial from c). The caller appends arguments and finishes it. */
void cli_call_init(struct client *c, struct msg_builder *b, const char *dest, const char *path,
                   const char *iface, const char *member);
/* Finish b, send it and wait for the reply: 0 and *reply (a method return), or negative after saying why
 * (an error reply is "nsbusctl: <what>: <error name>: <text>"). what names the call in that line. */
int cli_call(const struct cli_options *o, struct client *c, struct msg_builder *b, const char *what,
             struct message **reply);
