/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bus activation: .service files from the configured service directories,
 * starting the service when a message or StartServiceByName asks for its
 * name, and holding those messages until the name has an owner.
 */
#pragma once

#include "bus.h"

/* The name systemd owns on the bus, and to which systemd activation sends its requests. */
#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_ACTIVATOR_INTERFACE "org.freedesktop.systemd1.Activator"

struct activation_entry {
        char *name;
        char *exec;
        char *user;            /* User=, honoured only when the bus runs as root */
        char *systemd_service; /* SystemdService=, the unit systemd starts when systemd activation is on */
        char *file;
};

/*
 * What starting a service leaves to the caller. Activation sends nothing itself at that point, so
 * that the caller can show monitors what happened in dbus-daemon's order: the ActivationRequest
 * first, then the message that caused it, then an error for it.
 */
struct activation_start {
        const char *systemd_unit; /* ask systemd to start this unit; valid until the activation ends */
        const char *error_name;   /* the start failed at once: the message gets this error */
        char error_text[512];
};

int activation_new(struct bus *b);
void activation_free(struct bus *b);
/* --systemd-activation: services with SystemdService= are started by systemd, asked through the
 * signal org.freedesktop.systemd1.Activator.ActivationRequest; org.freedesktop.systemd1 itself is
 * never started by the bus, only waited for. */
void activation_use_systemd(struct bus *b);
bool activation_uses_systemd(const struct bus *b);
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
/* Hold the bus's own message m (to systemd) until its destination has an owner, waiting for that
 * owner as for any activation: 0, or -ENOMEM. */
int activation_hold_bus_message(struct bus *b, struct message *m);
void activation_name_acquired(struct bus *b, const char *name);
/* systemd's ActivationFailure for unit: every activation waiting for that unit fails with this error. */
void activation_systemd_failed(struct bus *b, const char *unit, const char *error_name, const char *text);
int activation_set_env(struct bus *b, const char *key, const char *value);
/* The child reaper: call when SIGCHLD arrived. */
void activation_reap_children(struct bus *b);
/* Fail activations past service_start_timeout; returns the next deadline (now_usec()), 0 for none. */
uint64_t activation_check_timeouts(struct bus *b, uint64_t now);
/* (Re)load the service directories c names (on a container bus, inside the container's root): 0 or
 * -errno. */
int activation_load_config(struct bus *b, const struct bus_config *c);
