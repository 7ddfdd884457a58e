/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus.h"

struct bridge_policy;
struct spawner;

struct container {
        struct event_source source; /* the init's pidfd: readable when it exits */
        struct bus *bus;
        pid_t pid; /* the container's init, in the bus's pid namespace */
        int pidfd;
        char *name;
        char *dir;           /* RUNTIME_DIR/NAME: host.sock lives here */
        char *bus_dir;       /* RUNTIME_DIR/NAME/bus: bind-mounted at /run/dbus in the container */
        bool made_dirs;      /* the sockets are ours: remove bus_dir at exit, and dir if made_dir */
        bool made_dir;       /* dir did not exist before (nsbusctl up makes it first, for its state) */
        char machine_id[33]; /* the container's own, or "" if it has none */
        uid_t root_uid;      /* the container's root as the host sees it: the bridge runs as this */
        gid_t root_gid;
        int root_fd; /* the init's root directory (O_PATH): the container's files, see rootfs.h */
        struct spawner *spawner; /* starts activated services inside the container (container-spawn.h) */
        struct ns_user *user_ns; /* the init's: its maps answer org.nsbus.Container1.GetInfo */
        struct ns_pid *pid_ns;   /* the init's: who is inside, for a container without a user ns */
        uint8_t bridge_key[32];  /* the bridge proves itself with it (ClaimBridge); host root reads it */
        struct bridge_policy *policy; /* --policy: the names it imports are reserved for the bridge */
        char *policy_file;            /* NULL without one; ReloadConfig reads it again */
        char *policy_text;            /* what policy was parsed from: the bridge asks for it */
        size_t policy_len;
        uint64_t checkpoint_usec; /* when a connection was last exported for a checkpoint */
        bool awaiting;            /* no init: the container is being restored (checkpoint.h) */
        bool privileges_dropped;  /* container_drop_capabilities() is done */
};

/* Refusal of every connection on the container socket while the container is being restored. */
extern const char container_refusal_restoring[];

struct container_args {
        pid_t pid; /* the init; 0: a container that is about to be restored (awaiting its init) */
        const char *name;
        const char *runtime_dir;
        const char *policy_file;
        uid_t root_uid; /* without an init: the container's root as the host sees it (from the images) */
        gid_t root_gid;
};

#define CONTAINER_RUNTIME_DIR "/run/nsbus"
/* The bus as processes inside the container reach it: where the runtime bind-mounts RUNTIME_DIR/NAME/bus. */
#define CONTAINER_BUS_ADDRESS "unix:path=/run/dbus/system_bus_socket"

/* A memfd holding the built-in configuration of a container bus, or -errno. */
int container_builtin_config_fd(void);
/* Create the container's sockets, watch its init and fork the spawner of its services (before
 * container_drop_capabilities()). On failure the error has been logged. */
int container_setup(struct bus *b, const struct container_args *a);
/* A connection exported for a checkpoint: if the init exits soon after, the bus waits for the restore. */
void container_note_checkpoint(struct bus *b);
/* Take the init's exit now if it has happened and the loop has not seen it yet: what the bus says of its
 * container (GetInfo) is then never behind what the runtime that saw the exit knows. */
void container_check_init(struct bus *b);
/* A restored connection p resumes on a bus awaiting its container: the init of p's pid namespace becomes
 * the container's. 0 (also when the bus was not awaiting), or -errno with err. */
int container_attach_restored(struct bus *b, struct peer *p, char *err, size_t errlen);
/* NULL if p may connect through the listener it came in on (and p->trust says as what), else why not (a
 * static string). Every peer of a container bus passes here at accept. */
const char *container_admit(const struct bus *b, struct peer *p);
/* The host's root, or a bridge that proved itself: may own the names the policy imports and speak for the
 * host callers it forwards (org.nsbus.Container1). */
bool container_peer_is_bridge(const struct bus *b, const struct peer *p);
/* A bridge candidate presents the bridge key: 0 (it is the bridge now), -EACCES for a wrong key, -EPERM
 * for a peer that is no candidate, -EOPNOTSUPP on a bus that serves no container. */
int container_claim_bridge(const struct bus *b, struct peer *p, const uint8_t *key, size_t len);
/* May p own name? A container bus reserves the names its bridge imports from the host. */
bool container_may_own(const struct bus *b, const struct peer *p, const char *name);
/* Read the bridge policy file again (ReloadConfig, SIGHUP): 1 when the new one is in force, 0 when the bus
 * has no policy file, -errno (logged) when it cannot be read or parsed and the old one stays. */
int container_reload_policy(struct bus *b);
/* Keep CAP_SYS_PTRACE only (see container.c); set no-new-privs. */
int container_drop_capabilities(struct bus *b);
void container_free(struct bus *b);
