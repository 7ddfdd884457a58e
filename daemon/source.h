/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What an epoll event's data points at: the first member of each kind of event source, so the loop
 * knows what it woke for without searching. */
enum source_kind {
        SOURCE_SIGNALS,
        SOURCE_LISTENER,
        SOURCE_PEER,
        SOURCE_CONTAINER,
};

struct source {
        enum source_kind kind;
};
