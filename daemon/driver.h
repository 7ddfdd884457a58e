/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus driver, org.freedesktop.DBus: its methods and the signals it
 * emits (see driver.c).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "message.h"
#include "util.h"

struct bus;
struct peer;

int driver_handle(struct bus *b, struct peer *p, struct message *m);
/* Whether m calls one of nsbus's own driver interfaces (org.nsbus.Container1, org.nsbus.Checkpoint1), whose
 * methods the driver grants by itself: to the host's root, to the bridge once it has shown its key, or
 * (Resume) to a restored connection with its checkpoint token. Send rules do not apply to them: no
 * dbus-daemon configuration knows them, and a system bus's would refuse every call it has no hole for. */
bool driver_guards_itself(const struct message *m);
/* ReloadConfig and SIGHUP: the configuration file and the service directories are read again and
 * ActivatableServicesChanged announced. 0, or -errno (the old configuration stays). */
int driver_reload_config(struct bus *b);
/* The bus lets p go: the connection closes (peer_close(), which logs the reason unless fmt is NULL), its
 * rules go, its names pass to the next in line, callers waiting on it get NoReply, and everyone hears
 * NameOwnerChanged for its unique name. */
void driver_disconnect_peer(struct bus *b, struct peer *p, const char *fmt, ...) _printf_(3, 4);
/* Disconnect the peers that routing doomed (peer_disconnect_later()), now that routing is done. */
void driver_disconnect_doomed(struct bus *b);
int driver_assign_unique_name(struct bus *b, struct peer *p);
/* announce: emit NameOwnerChanged for the unique name (not for monitors, which already lost it). */
void driver_peer_gone(struct bus *b, struct peer *p, bool announce);
void driver_emit_name_owner_changed(struct bus *b, const char *name, const char *old_owner,
                                    const char *new_owner);
void driver_emit_activatable_services_changed(struct bus *b);
/* Systemd activation: ask systemd to start unit (the signal org.freedesktop.systemd1.Activator.
 * ActivationRequest to org.freedesktop.systemd1, held until systemd is on the bus). 0, or -ENOMEM. */
int driver_request_systemd_unit(struct bus *b, const char *unit);
void driver_emit_name_acquired(struct bus *b, struct peer *p, const char *name);
void driver_emit_name_lost(struct bus *b, struct peer *p, const char *name);
uint32_t driver_next_serial(struct bus *b);
