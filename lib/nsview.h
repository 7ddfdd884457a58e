/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Identity as a viewer in other namespaces sees it: the kernel's SO_PEERCRED
 * rules as pure functions. The bus stores every id and pid in its own
 * namespaces and translates on the way out, for whoever asks.
 *
 * User namespaces are described by their uid_map/gid_map relative to the
 * bus's own user namespace. Reading /proc/<pid>/uid_map from an ancestor
 * namespace already gives the composed map (the kernel keeps extents in
 * kernel ids and prints them in the reader's namespace), so a container in a
 * container needs no chain walk: one lookup maps through every level.
 *
 * Pid namespaces are described by the ids of their ancestors from the bus's
 * own namespace (level 0) down to themselves. A peer is visible to a viewer
 * exactly when the viewer's namespace is on that chain, and then its pid is
 * the one at the viewer's level of the peer's NSpid list.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The kernel's limit on lines in a uid_map (UID_GID_MAP_MAX_EXTENTS). */
#define IDMAP_MAX_EXTENTS 340

struct idmap_extent {
        uint32_t inside;  /* first id inside the namespace */
        uint32_t outside; /* first id in the bus's namespace */
        uint32_t count;
};

struct idmap {
        unsigned n;
        struct idmap_extent *extents;
};

/* Parse the text of a uid_map/gid_map (empty: nothing mapped yet). 0, or -EINVAL for a malformed line, an
 * extent that wraps around 2^32 or one that overlaps another (the kernel refuses those when the map is
 * written, so seeing one means we read something else), -E2BIG above IDMAP_MAX_EXTENTS, -ENOMEM. */
int idmap_parse(const char *text, struct idmap *ret);
void idmap_done(struct idmap *m);
struct msg_reader;
/* An a(uuu) of (inside, outside, count) extents, as Container1.GetInfo sends a map, appended to m: 0,
 * -EBADMSG (not that, or more than IDMAP_MAX_EXTENTS), -ENOMEM. */
int idmap_read(struct msg_reader *r, struct idmap *m);
/* The map of a namespace that is the bus's own: every id is itself. */
int idmap_identity(struct idmap *ret);

/* The id inside the namespace for an id of the bus's namespace (the kernel's from_kuid()). */
bool idmap_to_inside(const struct idmap *m, uint32_t outside, uint32_t *inside);
/* The id in the bus's namespace for an id inside (make_kuid()). */
bool idmap_to_outside(const struct idmap *m, uint32_t inside, uint32_t *outside);
/* from_kuid_munged(): what a viewer with this map sees for an id of the bus's; unmapped -> overflow. */
uint32_t idmap_view(const struct idmap *viewer, uint32_t outside, uint32_t overflow);

/* The kernel's MAX_PID_NS_LEVEL is 32 (and user namespaces nest at most 32 deep); with the bus's own level
 * there are at most 33 entries. */
#define PIDNS_MAX_LEVELS 33

/* A pid or user namespace as seen from the bus's. chain[i] is the id of its ancestor at level i relative
 * to the bus's namespace of that kind (chain[0] is the bus's own) and chain[level] its own id. A namespace
 * that is not below the bus's (an ancestor or a sibling branch) is "foreign": nothing is known of its
 * levels. */
struct ns_chain {
        unsigned level;
        bool foreign;
        uint64_t chain[PIDNS_MAX_LEVELS];
};

/* Is ns the namespace `ancestor` or one below it? Never for a foreign one: the kernel's rule for who is
 * inside a container (its user namespace, or one created in it, owns what it does). */
bool ns_chain_within(const struct ns_chain *ns, const struct ns_chain *ancestor);

/*
 * The pid a viewer sees for a subject, as SO_PEERCRED does: the subject's pid at the viewer's level
 * (nspid[0] is at the bus's level, as in the fdinfo NSpid list read by the bus), or 0 when the subject is
 * not in the viewer's pid namespace or one below it.
 */
pid_t pidns_view_pid(const struct ns_chain *viewer, const struct ns_chain *subject, const pid_t *nspid,
                     unsigned n_nspid);
