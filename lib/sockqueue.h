/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What waits unread in a stream socket's receive queue, copied without taking it: a checkpoint saves what
 * the bus and a client had not read of each other, and both go on (or are killed) with their queues as
 * they were.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Every byte unread in fd's receive queue (SO_PEEK_OFF walks it across the kernel's message boundaries;
 * the peek offset is off again after): 0 and *ret (malloc'd) and *ret_len, -EBUSY when
 * file descriptors are in flight in it, or -errno. */
int sockqueue_peek(int fd, uint8_t **ret, size_t *ret_len);
