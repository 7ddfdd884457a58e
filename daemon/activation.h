/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bus activation: .service files from the configured service directories,
 * starting the service when a message or StartServiceByName asks for its
 * name, and holding those messages until the name has an owner.
 */
#pragma once

#include "bus.h"

struct activation_entry {
        char *name;
        char *exec;
        char *user; /* User=, honoured only when the bus runs as root */
        char *file;
};

/*
 * What starting a service leaves to the caller. Activation sends nothing itself at that point, so
 * that the caller can show monitors what happened in dbus-daemon's order: the message that caused
 * the start, then an error for it.
 */
struct activation_start {
        const char *error_name; /* the start failed at once: the message gets this error */
        char error_text[512];
};

int activation_new(struct bus *b);
void activation_free(struct bus *b);
/* (Re)load every *.service file of the given directories; later directories do not override earlier ones. */
int activation_load(struct bus *b, char *const *dirs, size_t n_dirs);
/* The same with every directory and file resolved inside root_fd (a container's root: rootfs.h). */
int activation_load_in_root(struct bus *b, int root_fd, char *const *dirs, size_t n_dirs);
bool activation_is_activatable(struct bus *b, const char *name);
/* Hold m until name has an owner, starting the service if it is not already starting: 0 with *ret
 * filled in, or -ENOMEM. */
int activation_queue_message(struct bus *b, struct peer *sender, struct message *m,
                             struct activation_start *ret);
/* StartServiceByName: the reply is sent when the name appears or activation fails. 0 with *ret, or
 * -ENOMEM. */
int activation_start_by_name(struct bus *b, struct peer *p, struct message *call, const char *name,
                             struct activation_start *ret);
void activation_name_acquired(struct bus *b, const char *name);
int activation_set_env(struct bus *b, const char *key, const char *value);
/* The child reaper: call when SIGCHLD arrived. */
void activation_reap_children(struct bus *b);
/* Fail activations past service_start_timeout; returns the next deadline (now_usec()), 0 for none. */
uint64_t activation_check_timeouts(struct bus *b, uint64_t now);
/* (Re)load the service directories c names (on a container bus, inside the container's root): 0 or
 * -errno. */
int activation_load_config(struct bus *b, const struct bus_config *c);
