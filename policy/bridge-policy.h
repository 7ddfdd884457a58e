/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge policy of one container (/etc/nsbus/containers/<name>.policy,
 * format in nsbus-policy(5)): which host bus names the container sees and
 * may talk to (import), and which container names are published on the host
 * bus (export). Pure logic: the parser produces an immutable compiled form,
 * and nsbusd (which reserves imported names for the bridge) and nsbridge
 * (which forwards calls and signals) ask it questions. The import semantics
 * are those of xdg-dbus-proxy's --see, --talk, --call and --broadcast.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Limits on the input; exceeding one is a parse error, not a truncation. */
#define BRIDGE_POLICY_MAX_FILE_SIZE (1024u * 1024u)
#define BRIDGE_POLICY_MAX_LINE_LENGTH 4096u /* bytes, without the newline */
#define BRIDGE_POLICY_MAX_RULES 10000u      /* see/talk/export lines, and each call/broadcast RULE */

struct bridge_policy;

enum bridge_level {
        BRIDGE_LEVEL_NONE = 0, /* not imported: invisible */
        BRIDGE_LEVEL_SEE,      /* visible, no calls, no signals */
        BRIDGE_LEVEL_FILTERED, /* call/broadcast rules decide */
        BRIDGE_LEVEL_TALK,     /* every call and broadcast */
};

/*
 * Parse text (len bytes, need not be NUL-terminated). filename is used only in
 * error messages. Returns 0 and *ret, -EINVAL with "FILE:LINE: reason" in
 * errbuf (always NUL-terminated, truncated to errlen), or -ENOMEM. The first
 * error in file order is the one reported; on error *ret is left alone.
 * errbuf may be NULL if errlen is 0; on success it holds an empty string.
 */
int bridge_policy_parse(const char *text, size_t len, const char *filename, struct bridge_policy **ret,
                        char *errbuf, size_t errlen);
/* Read a policy file whole, for bridge_policy_parse(): 0 with *ret_text (NUL-terminated, *ret_len bytes
 * before the NUL; at most BRIDGE_POLICY_MAX_FILE_SIZE + 1 of them, so the parser reports a file that is
 * too large), or -errno with "FILE: cannot read: strerror" in errbuf. */
int bridge_policy_read(const char *path, char **ret_text, size_t *ret_len, char *errbuf, size_t errlen);
/* Read and parse a file (open failures: "FILE: cannot read: strerror", returns -errno). At most
 * BRIDGE_POLICY_MAX_FILE_SIZE + 1 bytes are read, so a huge file costs no more than a too-large one. */
int bridge_policy_load(const char *path, struct bridge_policy **ret, char *errbuf, size_t errlen);
/* Returns NULL; NULL is fine. */
struct bridge_policy *bridge_policy_free(struct bridge_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct bridge_policy *, bridge_policy_free);
#define _cleanup_bridge_policy_ _cleanup_(bridge_policy_freep)

/*
 * Import side. name is a host bus name; it matches an import written as that
 * name, and every import written as a word-prefix of it with ".*" ("a.b.*"
 * matches "a.b" and "a.b.c", not "a.bc"). NULL, or a name longer than a bus
 * name can be, matches nothing.
 */

/* The level for a host name: the highest over all import rules matching it. */
enum bridge_level bridge_policy_import_level(const struct bridge_policy *p, const char *name);
/* May a container caller call this method on the host name? interface may be NULL (no INTERFACE field),
 * and then only rules that name no interface ("*" or an empty METHOD) permit the call. */
bool bridge_policy_may_call(const struct bridge_policy *p, const char *name, const char *interface,
                            const char *member, const char *path);
/* May a broadcast signal that the host name emitted be re-emitted on the container bus? */
bool bridge_policy_may_broadcast(const struct bridge_policy *p, const char *name, const char *interface,
                                 const char *member, const char *path);
/* Would any import rule match this name (so the container bus reserves it for the bridge)? Same as
 * import_level != NONE. */
bool bridge_policy_is_imported(const struct bridge_policy *p, const char *name);

/* Import names as written (for the bus to reserve and the bridge to watch), in the order of their first
 * line: i < n, else NULL. A name written on several lines appears once; "a.b" and "a.b.*" are two names. */
size_t bridge_policy_n_imports(const struct bridge_policy *p);
struct bridge_import_name {
        const char *name; /* without the trailing ".*" */
        bool subtree;     /* written as NAME.* */
};
const struct bridge_import_name *bridge_policy_import_name(const struct bridge_policy *p, size_t i);

/* Exports, in file order: i < n, else NULL. */
struct bridge_export {
        const char *container_name;
        const char *host_name;
};
size_t bridge_policy_n_exports(const struct bridge_policy *p);
const struct bridge_export *bridge_policy_export(const struct bridge_policy *p, size_t i);
/* The export whose container_name (resp. host_name) equals name, or NULL. */
const struct bridge_export *bridge_policy_export_by_container_name(const struct bridge_policy *p,
                                                                   const char *name);
const struct bridge_export *bridge_policy_export_by_host_name(const struct bridge_policy *p,
                                                              const char *name);
