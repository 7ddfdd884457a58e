/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A configuration applied to a running bus (settings.c). */
#pragma once

#include <stdbool.h>

struct bus;
struct bus_config;

/* Make c the bus's configuration (the bus takes it). */
void settings_apply(struct bus *b, struct bus_config *c);
/* Load the configuration file again and apply it (without a file: nothing to do). A peer whose new policy
 * view cannot be made is doomed (peer_disconnect_later). 0, or -errno for a file that does not load: the
 * old configuration stays, and the reason is logged. */
int settings_reload(struct bus *b);
