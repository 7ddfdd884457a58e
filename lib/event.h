/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event loop of nsbusd and nsbridge: one thread, one epoll set.
 *
 * An fd source is embedded in its owner (a peer, a listener, a link) and
 * carries the callback the loop calls when epoll reports it; the owner finds
 * itself with container_of(). Timers are deadlines on CLOCK_MONOTONIC kept
 * in order by the loop and turned into epoll_wait()'s timeout, so a timer
 * costs no fd and no syscall. Signals come through a signalfd, so no signal
 * handler ever runs program code. A prepare hook runs before every wait; it
 * is where the owner writes what it queued and frees what it let go of
 * during the last batch of events.
 *
 * A source removed while a batch is being dispatched is skipped for the rest
 * of that batch, provided its memory is still there: owners free such
 * objects from the prepare hook, not from inside a callback.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "list.h"

struct event_loop;
struct event_source;
struct event_timer;

typedef void (*event_io_fn)(struct event_source *s, uint32_t events);
/* Runs when the timer's deadline has passed; the timer is disarmed first, so the callback may re-arm it. */
typedef void (*event_timer_fn)(struct event_timer *t, uint64_t now_usec);
/* Runs before every wait, after due timers; returns false to end event_loop_run(). */
typedef bool (*event_prepare_fn)(struct event_loop *loop, void *userdata);

struct event_source {
        event_io_fn fn;
        int fd;          /* -1 once removed */
        uint32_t events; /* what epoll watches for now */
        bool urgent;     /* dispatched before the other sources of a batch (listeners: a client waits) */
};

struct event_timer {
        event_timer_fn fn;
        uint64_t deadline_usec;
        struct list_head link; /* in the loop's timers, earliest first; unlinked when disarmed */
};

int event_loop_new(struct event_loop **ret);
void event_loop_free(struct event_loop *loop);

/* Watch fd for events (0 is allowed: registered, but muted until event_source_watch()). 0 or -errno. */
int event_source_add(struct event_loop *loop, struct event_source *s, int fd, uint32_t events,
                     event_io_fn fn);
/* Change what s is watched for; epoll is told only when it differs. 0 or -errno. */
int event_source_watch(struct event_loop *loop, struct event_source *s, uint32_t events);
/* Stop watching s (the fd stays open: it is the owner's). Harmless on a source never added. */
void event_source_remove(struct event_loop *loop, struct event_source *s);

/* Block these signals and deliver them through s, a signalfd the loop owns; fn reads them with
 * event_signal_read(). Once per loop. 0 or -errno. */
int event_signals_add(struct event_loop *loop, struct event_source *s, const int *signals, size_t n,
                      event_io_fn fn);
/* After fork(), in the child that keeps the loop: watch the signals source s again. epoll polls a signalfd
 * on the wait queue of the process that added it, so until then the child's own signals would never wake
 * the loop (they stay pending; SIGTERM would do nothing). 0 or -errno. */
int event_signals_forked(struct event_loop *loop, struct event_source *s);
/* The next pending signal of a signals source: 1 with *si filled, 0 when none is left. */
int event_signal_read(struct event_source *s, struct signalfd_siginfo *si);

static inline void event_timer_init(struct event_timer *t, event_timer_fn fn)
{
        t->fn = fn;
        t->deadline_usec = 0;
        list_init(&t->link);
}

static inline bool event_timer_armed(const struct event_timer *t)
{
        return !list_unlinked(&t->link);
}

/* Fire t at deadline_usec (now_usec()'s clock), moving it if it was armed. */
void event_timer_arm(struct event_loop *loop, struct event_timer *t, uint64_t deadline_usec);
/* Fire t no later than deadline_usec: arms it, or moves it earlier; never later. */
void event_timer_arm_by(struct event_loop *loop, struct event_timer *t, uint64_t deadline_usec);
void event_timer_disarm(struct event_timer *t);

void event_loop_set_prepare(struct event_loop *loop, event_prepare_fn fn, void *userdata);

/* Fire due timers, run the prepare hook, wait at most max_timeout_ms (-1: until a source or timer is
 * due) and dispatch what epoll reported: the number of events dispatched, 0 on a timeout or EINTR,
 * -ECANCELED when the prepare hook asked to stop, or -errno. */
int event_loop_run_once(struct event_loop *loop, int max_timeout_ms);
/* Turn until the prepare hook returns false (0) or epoll fails (-errno). */
int event_loop_run(struct event_loop *loop);
