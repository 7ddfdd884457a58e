/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event loop: fd sources, urgent ones first, removal inside a batch, timers, signals, prepare. */
#include <sys/epoll.h>
#include <sys/socket.h>

#include "event.h"
#include "test.h"
#include "util.h"

struct probe {
        struct event_source source;
        struct event_loop *loop;
        struct probe *victim; /* removed by this probe's callback */
        int order[8];
        int *n_order;
        int id;
        int calls;
};

static void probe_io(struct event_source *s, uint32_t events)
{
        struct probe *p = container_of(s, struct probe, source);
        CHECK(events & EPOLLIN);
        p->calls++;
        p->order[(*p->n_order)++] = p->id;
        if (p->victim)
                event_source_remove(p->loop, &p->victim->source);
}

static void test_sources(void)
{
        struct event_loop *loop;
        CHECK_EQ(event_loop_new(&loop), 0);
        int sv[3][2];
        int n_order = 0;
        struct probe pr[3];
        memset(pr, 0, sizeof(pr));
        for (int i = 0; i < 3; i++) {
                CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[i]), 0);
                pr[i].loop = loop;
                pr[i].id = i;
                pr[i].n_order = &n_order;
                CHECK_EQ(event_source_add(loop, &pr[i].source, sv[i][0], EPOLLIN, probe_io), 0);
        }
        /* Nothing ready, no timer: a zero wait returns at once with nothing. */
        CHECK_EQ(event_loop_run_once(loop, 0), 0);

        /* The urgent source is served first, whatever order epoll reports in. */
        pr[2].source.urgent = true;
        for (int i = 0; i < 3; i++)
                CHECK_EQ(write(sv[i][1], "x", 1), 1);
        CHECK_EQ(event_loop_run_once(loop, 1000), 3);
        CHECK_EQ(pr[2].order[0], 2);
        CHECK_EQ(n_order, 3);

        /* Level-triggered: unread data wakes the loop again. Muting stops that; epoll is asked once. */
        CHECK_EQ(event_source_watch(loop, &pr[0].source, 0), 0);
        CHECK_EQ(event_source_watch(loop, &pr[0].source, 0), 0);
        pr[2].victim = &pr[1];
        n_order = 0;
        CHECK_EQ(event_loop_run_once(loop, 1000), 2);
        /* pr[2] ran first and removed pr[1]: pr[1]'s event in the same batch is skipped. */
        CHECK_EQ(pr[1].calls, 1);
        CHECK_EQ(pr[1].source.fd, -1);
        CHECK_EQ(pr[0].calls, 1);
        CHECK_EQ(event_source_watch(loop, &pr[0].source, EPOLLIN), 0);
        pr[2].victim = NULL;
        CHECK_EQ(event_loop_run_once(loop, 1000), 2);
        CHECK_EQ(pr[0].calls, 2);
        event_source_remove(loop, &pr[1].source); /* twice is harmless */
        event_loop_free(loop);
        for (int i = 0; i < 3; i++) {
                close(sv[i][0]);
                close(sv[i][1]);
        }
}

struct tick {
        struct event_timer timer;
        struct event_loop *loop;
        int *log;
        int *n_log;
        int id;
        int rearm; /* times left to re-arm itself, 1 ms later */
};

static void tick_fire(struct event_timer *t, uint64_t now)
{
        struct tick *k = container_of(t, struct tick, timer);
        CHECK(now >= t->deadline_usec);
        CHECK(!event_timer_armed(t));
        k->log[(*k->n_log)++] = k->id;
        if (k->rearm-- > 0)
                event_timer_arm(k->loop, t, now + 1000);
}

static void test_timers(void)
{
        struct event_loop *loop;
        CHECK_EQ(event_loop_new(&loop), 0);
        int log[16], n_log = 0;
        struct tick k[3];
        for (int i = 0; i < 3; i++) {
                k[i] = (struct tick){.loop = loop, .log = log, .n_log = &n_log, .id = i};
                event_timer_init(&k[i].timer, tick_fire);
        }
        uint64_t now = now_usec();
        event_timer_arm(loop, &k[0].timer, now + 30000);
        event_timer_arm(loop, &k[1].timer, now + 10000);
        event_timer_arm(loop, &k[2].timer, now + 20000);
        /* arm_by never moves a timer later, but does move it earlier. */
        event_timer_arm_by(loop, &k[1].timer, now + 50000);
        CHECK_EQ(k[1].timer.deadline_usec, now + 10000);
        event_timer_arm_by(loop, &k[0].timer, now + 5000);
        CHECK_EQ(k[0].timer.deadline_usec, now + 5000);
        event_timer_disarm(&k[2].timer);
        CHECK(!event_timer_armed(&k[2].timer));
        k[1].rearm = 2;

        /* With no fd ready, the waits end at the deadlines and the timers fire in order (a wait after
         * the last one would be for ever: hence the 200 ms bound). */
        while (n_log < 4)
                CHECK(event_loop_run_once(loop, 200) >= 0);
        CHECK(now_usec() >= now + 12000);
        CHECK_EQ(log[0], 0);
        CHECK_EQ(log[1], 1);
        CHECK_EQ(log[2], 1);
        CHECK_EQ(log[3], 1);
        CHECK(!event_timer_armed(&k[1].timer));
        event_timer_arm(loop, &k[2].timer, now);
        event_loop_free(loop); /* disarms what is left */
        CHECK(!event_timer_armed(&k[2].timer));
}

static int prepared;

static bool prepare_three_times(struct event_loop *loop, void *userdata)
{
        (void)loop;
        CHECK(userdata == &prepared);
        return ++prepared < 3;
}

static void signal_io(struct event_source *s, uint32_t events)
{
        (void)events;
        struct signalfd_siginfo si;
        while (event_signal_read(s, &si) > 0)
                CHECK_EQ(si.ssi_signo, SIGUSR1);
        prepared = 0; /* each signal buys three more turns */
}

struct spin {
        struct event_timer timer;
        struct event_loop *loop;
        int fired;
};

static void spin_fire(struct event_timer *t, uint64_t now)
{
        struct spin *sp = container_of(t, struct spin, timer);
        sp->fired++;
        event_timer_arm(sp->loop, t, now);
}

static void test_signals_and_prepare(void)
{
        struct event_loop *loop;
        struct event_source sig = {0};
        CHECK_EQ(event_loop_new(&loop), 0);
        int signals[] = {SIGUSR1};
        CHECK_EQ(event_signals_add(loop, &sig, signals, 1, signal_io), 0);
        CHECK_EQ(event_signals_add(loop, &sig, signals, 1, signal_io), -EBUSY);
        event_loop_set_prepare(loop, prepare_three_times, &prepared);
        CHECK_EQ(raise(SIGUSR1), 0); /* blocked: it waits in the signalfd */
        CHECK_EQ(event_loop_run_once(loop, 0), 1);
        CHECK_EQ(prepared, 0);
        CHECK_EQ(event_loop_run_once(loop, 0), 0);
        CHECK_EQ(event_loop_run_once(loop, 0), 0);
        CHECK_EQ(event_loop_run_once(loop, 0), -ECANCELED);

        /* run() turns until prepare says stop; a timer that is always due keeps the waits short. */
        struct spin spin = {.loop = loop};
        event_timer_init(&spin.timer, spin_fire);
        event_timer_arm(loop, &spin.timer, 0);
        prepared = 0;
        CHECK_EQ(event_loop_run(loop), 0);
        CHECK_EQ(prepared, 3);
        CHECK_EQ(spin.fired, 3);
        event_loop_free(loop);
}

static int forked_signals;

static void forked_signal_io(struct event_source *s, uint32_t events)
{
        (void)events;
        struct signalfd_siginfo si;
        while (event_signal_read(s, &si) > 0)
                forked_signals++;
}

/* A loop whose signals source was added before fork() (nsbusd --fork): the child's own signal does not wake
 * it until event_signals_forked(); then it does. The child reports by exit status. */
static void test_signals_after_fork(void)
{
        struct event_loop *loop;
        struct event_source sig = {0};
        CHECK_EQ(event_loop_new(&loop), 0);
        int signals[] = {SIGUSR2};
        CHECK_EQ(event_signals_add(loop, &sig, signals, 1, forked_signal_io), 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                raise(SIGUSR2);
                int before = event_loop_run_once(loop, 50); /* the parent's wait queue: nothing wakes */
                if (event_signals_forked(loop, &sig) < 0)
                        _exit(3);
                int after = event_loop_run_once(loop, 1000);
                _exit(before == 0 && after == 1 && forked_signals == 1 ? 0 : 1);
        }
        int status;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_EQ(event_signals_forked(loop, &sig), 0); /* and a second registration is harmless */
        event_loop_free(loop);
}

int main(void)
{
        int failed = 0;
        RUN(test_sources);
        RUN(test_timers);
        RUN(test_signals_and_prepare);
        RUN(test_signals_after_fork);
        return failed != 0;
}
