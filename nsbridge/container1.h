/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nsbusd's org.nsbus.Container1 interface, as the bridge calls it (docs/nsbusd.8). */
#pragma once

#include "message.h"

#define CONTAINER1_INTERFACE "org.nsbus.Container1"

/* Start a call of Container1.member on the bus driver; the caller appends the arguments and finishes it. */
static inline void container1_call_init(struct msg_builder *b, uint32_t serial, const char *member)
{
        msg_builder_init(b, MESSAGE_METHOD_CALL, serial);
        b->destination = DRIVER_NAME;
        b->path = DRIVER_PATH;
        b->interface = CONTAINER1_INTERFACE;
        b->member = member;
}
