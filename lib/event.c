/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event loop (see event.h). epoll is level-triggered throughout: an owner
 * that stops reading a socket half-way (a peer's turn is over) is simply
 * woken again on the next wait, so no source can be starved or lost.
 *
 * Timers are few (a bus has three, a bridge one), so an ordered list beats
 * a heap: arming walks it from the end, where a timer with the same period
 * as the others lands at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "event.h"
#include "util.h"

struct event_loop {
        int epoll_fd;
        int signal_fd;
        struct list_head timers; /* armed timers, earliest deadline first */
        event_prepare_fn prepare;
        void *prepare_userdata;
};

int event_loop_new(struct event_loop **ret)
{
        struct event_loop *loop = calloc(1, sizeof(*loop));
        if (!loop)
                return -ENOMEM;
        loop->signal_fd = -1;
        list_init(&loop->timers);
        loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (loop->epoll_fd < 0) {
                int r = -errno;
                free(loop);
                return r;
        }
        *ret = loop;
        return 0;
}

void event_loop_free(struct event_loop *loop)
{
        if (!loop)
                return;
        while (!list_empty(&loop->timers))
                event_timer_disarm(list_first_entry(&loop->timers, struct event_timer, link));
        safe_close(loop->signal_fd);
        safe_close(loop->epoll_fd);
        free(loop);
}

int event_source_add(struct event_loop *loop, struct event_source *s, int fd, uint32_t events,
                     event_io_fn fn)
{
        struct epoll_event ev = {.events = events, .data.ptr = s};
        if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return -errno;
        s->fn = fn;
        s->fd = fd;
        s->events = events;
        return 0;
}

int event_source_watch(struct event_loop *loop, struct event_source *s, uint32_t events)
{
        if (s->events == events || s->fd < 0)
                return 0;
        struct epoll_event ev = {.events = events, .data.ptr = s};
        if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) < 0)
                return -errno;
        s->events = events;
        return 0;
}

void event_source_remove(struct event_loop *loop, struct event_source *s)
{
        if (s->fd < 0)
                return;
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        s->fd = -1;
        s->events = 0;
}

int event_signals_add(struct event_loop *loop, struct event_source *s, const int *signals, size_t n,
                      event_io_fn fn)
{
        if (loop->signal_fd >= 0)
                return -EBUSY;
        sigset_t mask;
        sigemptyset(&mask);
        for (size_t i = 0; i < n; i++)
                sigaddset(&mask, signals[i]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = event_source_add(loop, s, fd, EPOLLIN, fn);
        if (r < 0) {
                close(fd);
                return r;
        }
        loop->signal_fd = fd;
        return 0;
}

int event_signals_forked(struct event_loop *loop, struct event_source *s)
{
        struct epoll_event ev = {.events = s->events, .data.ptr = s};
        if (s->fd < 0 || s->fd != loop->signal_fd)
                return -EINVAL;
        if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, s->fd, NULL) < 0 ||
            epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
                return -errno;
        return 0;
}

int event_signal_read(struct event_source *s, struct signalfd_siginfo *si)
{
        return s->fd >= 0 && read(s->fd, si, sizeof(*si)) == (ssize_t)sizeof(*si);
}

void event_timer_arm(struct event_loop *loop, struct event_timer *t, uint64_t deadline_usec)
{
        list_del(&t->link);
        t->deadline_usec = deadline_usec;
        struct list_head *pos = loop->timers.prev;
        while (pos != &loop->timers &&
               list_entry(pos, struct event_timer, link)->deadline_usec > deadline_usec)
                pos = pos->prev;
        list_add_head(pos, &t->link);
}

void event_timer_arm_by(struct event_loop *loop, struct event_timer *t, uint64_t deadline_usec)
{
        if (!event_timer_armed(t) || deadline_usec < t->deadline_usec)
                event_timer_arm(loop, t, deadline_usec);
}

void event_timer_disarm(struct event_timer *t)
{
        list_del(&t->link);
}

void event_loop_set_prepare(struct event_loop *loop, event_prepare_fn fn, void *userdata)
{
        loop->prepare = fn;
        loop->prepare_userdata = userdata;
}

/* Fire every timer that was due when this turn began, in deadline order. A callback may arm or disarm
 * any timer; one armed for a deadline already past fires on the next turn, so a timer that keeps
 * re-arming itself cannot hold the loop here. */
static void event_loop_fire_timers(struct event_loop *loop)
{
        uint64_t now = now_usec();
        struct list_head due = LIST_HEAD_INIT(due);
        while (!list_empty(&loop->timers)) {
                struct event_timer *t = list_first_entry(&loop->timers, struct event_timer, link);
                if (t->deadline_usec > now)
                        break;
                list_del(&t->link);
                list_add_tail(&due, &t->link);
        }
        while (!list_empty(&due)) {
                struct event_timer *t = list_first_entry(&due, struct event_timer, link);
                event_timer_disarm(t);
                t->fn(t, now);
        }
}

/* Milliseconds until the earliest timer is due, rounded up so that it is due when the wait ends; 0 if it
 * is already; -1 for no timer. */
static int event_loop_timer_timeout(struct event_loop *loop)
{
        if (list_empty(&loop->timers))
                return -1;
        uint64_t deadline = list_first_entry(&loop->timers, struct event_timer, link)->deadline_usec;
        uint64_t now = now_usec();
        if (deadline <= now)
                return 0;
        return (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT32_MAX);
}

static int min_timeout(int a, int b)
{
        if (a < 0)
                return b;
        if (b < 0)
                return a;
        return MIN(a, b);
}

int event_loop_run_once(struct event_loop *loop, int max_timeout_ms)
{
        event_loop_fire_timers(loop);
        if (loop->prepare && !loop->prepare(loop, loop->prepare_userdata))
                return -ECANCELED;
        int timeout = min_timeout(event_loop_timer_timeout(loop), max_timeout_ms);

        struct epoll_event events[128];
        int n = epoll_wait(loop->epoll_fd, events, ELEMENTSOF(events), timeout);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        for (int i = 0, first = 0; i < n; i++) {
                if (((struct event_source *)events[i].data.ptr)->urgent) {
                        struct epoll_event t = events[first];
                        events[first++] = events[i];
                        events[i] = t;
                }
        }
        for (int i = 0; i < n; i++) {
                struct event_source *s = events[i].data.ptr;
                if (s->fd >= 0) /* not removed earlier in this batch */
                        s->fn(s, events[i].events);
        }
        return n;
}

int event_loop_run(struct event_loop *loop)
{
        for (;;) {
                int r = event_loop_run_once(loop, -1);
                if (r == -ECANCELED)
                        return 0;
                if (r < 0)
                        return r;
        }
}
