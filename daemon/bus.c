/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus object and its event loop: one thread, one epoll set, every socket
 * non-blocking. An iteration reads from every ready socket and routes what
 * it reads; output is queued, then written once per peer at the end of the
 * iteration (the flush list), so a fan-out of N messages to one receiver
 * costs one writev. Peers disconnected during the iteration are freed only
 * after it, when nothing can still point at them.
 *
 * Signals arrive through a signalfd (SIGCHLD for activation, SIGHUP for
 * reload, SIGTERM/SIGINT to exit); no signal handler ever runs bus code.
 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>

#include "errors.h"
#include "activation.h"
#include "container.h"
#include "address.h"
#include "bus.h"
#include "checkpoint.h"
#include "log.h"
#include "policy-check.h"
#include "quotas.h"
#include "driver.h"
#include "machine-id.h"
#include "names.h"
#include "routing.h"

static void random_hex(char *out, size_t n_hex)
{
        uint8_t raw[32];
        size_t n = n_hex / 2;
        _cleanup_close_ int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, raw, n) != (ssize_t)n) {
                uint64_t v = now_usec() ^ ((uint64_t)getpid() << 40);
                for (size_t i = 0; i < n; i++) {
                        v = v * 6364136223846793005ULL + 1442695040888963407ULL;
                        raw[i] = (uint8_t)(v >> 56);
                }
        }
        for (size_t i = 0; i < n; i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static bool read_machine_id(char out[33])
{
        const char *files[] = {"/etc/machine-id", "/var/lib/dbus/machine-id"};
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_fclose_ FILE *f = fopen(files[i], "re");
                char buf[64];
                if (f && fgets(buf, sizeof(buf), f) && machine_id_parse(buf, out))
                        return true;
        }
        return false;
}

/* One connection per wakeup, as dbus-broker does: the listener is level-triggered, so a backlog brings the
 * loop back here after the other ready peers have had their turn, and a lone connection does not pay for
 * a second accept4() that can only say EAGAIN. */
static void bus_listener_io(struct event_source *s, uint32_t events)
{
        struct listener *l = container_of(s, struct listener, source);
        struct bus *b = l->bus;
        if (b->n_peers_authenticating >= bus_limit(b->limits.max_incomplete_connections))
                return; /* the gate closes at the end of this iteration */
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                        /* Waiting clients stay in the backlog until a connection closes. */
                        log_warning("accept failed: %m; not accepting until a connection closes");
                        b->fds_exhausted = true;
                } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                        log_warning("accept failed: %m");
                }
                return;
        }
        bus_add_peer(b, fd, l->origin);
}

/*
 * The accept gate. Listeners are off while the bus holds max_incomplete_connections peers in SASL
 * (as dbus-daemon since fd.o#80919: a flood of stalled handshakes waits in the kernel's backlog
 * instead of costing the bus memory) and while it is out of fds (level-triggered listeners would
 * otherwise spin on EMFILE). New listeners join the loop here too. Called before every wait; it
 * touches epoll only on a change.
 */
static void bus_update_accepting(struct bus *b)
{
        bool want = !b->fds_exhausted &&
                    b->n_peers_authenticating < bus_limit(b->limits.max_incomplete_connections);
        if (want == b->accepting && !b->listeners_changed)
                return;
        struct listener *l;
        list_for_each_entry(l, &b->listeners, link)
        {
                int r;
                if (l->source.fd < 0) {
                        l->source.urgent = true; /* a client waits for its Hello reply */
                        r = event_source_add(b->loop, &l->source, l->fd, want ? EPOLLIN : 0,
                                             bus_listener_io);
                } else {
                        r = event_source_watch(b->loop, &l->source, want ? EPOLLIN : 0);
                }
                if (r < 0)
                        log_error("cannot watch %s: %s", l->address, strerror(-r));
        }
        b->accepting = want;
        b->listeners_changed = false;
}

static void free_dead_peers(struct bus *b)
{
        size_t freed = 0;
        while (!list_empty(&b->dead_peers)) {
                struct peer *p = list_first_entry(&b->dead_peers, struct peer, dead_link);
                policy_peer_detach(p);
                peer_free(p);
                freed++;
        }
        /* After a crowd leaves, give the pages back: one bus per container must stay small. */
        b->n_freed_since_trim += freed;
        if (b->n_freed_since_trim >= 256 && list_empty(&b->dead_peers)) {
                malloc_trim(0);
                b->n_freed_since_trim = 0;
        }
        if (freed && b->fds_exhausted) {
                log_info("file descriptors available again: accepting connections");
                b->fds_exhausted = false;
        }
}

/* Write p's queued output; a peer whose socket fails, or whose last answer was a refusal, goes. */
static void bus_flush_peer(struct bus *b, struct peer *p)
{
        const char *why = NULL;
        int r = peer_flush(p, &why);
        if (r == -ECANCELED && p->refusal)
                driver_disconnect_peer(b, p, "refused: %s", p->refusal);
        else if (r == -ECANCELED)
                driver_disconnect_peer(b, p, "%s", why);
        else if (r < 0)
                driver_disconnect_peer(b, p, "%s: %s", why, strerror(-r));
}

/* Every peer with output queued during this iteration, once: a burst to one receiver is one writev(). */
static void bus_flush_all(struct bus *b)
{
        while (!list_empty(&b->flush_list))
                bus_flush_peer(b, list_first_entry(&b->flush_list, struct peer, flush_link));
}

/* A peer's socket is ready: write what waits, then route each message it sent until its socket is empty,
 * its turn is over, or it is gone. */
static void bus_peer_io(struct event_source *s, uint32_t events)
{
        struct peer *p = container_of(s, struct peer, source);
        struct bus *b = p->bus;
        if (p->held) { /* exported for a dump: only its hang-up counts */
                if ((events & (EPOLLHUP | EPOLLERR)) && checkpoint_held_hangup(b, p) < 0)
                        driver_disconnect_peer(b, p, "out of memory keeping it for its restore");
                return;
        }
        if (events & EPOLLOUT) {
                bus_flush_peer(b, p);
                if (p->state == PEER_DEAD)
                        return;
        }
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return;
        peer_receive_begin(p);
        for (;;) {
                struct message *m = NULL;
                const char *why = NULL;
                int r = peer_receive(p, &m, &why);
                if (r == 0)
                        return;
                if (r < 0) {
                        driver_disconnect_peer(b, p, why ? "%s" : NULL, why);
                        return;
                }
                routing_dispatch(b, p, m);
                message_unref(m);
                driver_disconnect_doomed(b);
                if (p->state == PEER_DEAD)
                        return;
        }
}

int bus_add_peer(struct bus *b, int fd, enum listener_origin origin)
{
        struct peer *p;
        int r = peer_new(b, fd, origin, &p);
        if (r < 0) {
                struct ucred uc = {0};
                socklen_t len = sizeof(uc);
                getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len);
                log_warning("connection (pid %d, uid %u): refused: %s", (int)uc.pid, (unsigned)uc.uid,
                            r == -ERR_LIMIT_USER ? "too many connections (limits in the configuration)"
                                                 : strerror(-r));
                close(fd);
                return r;
        }
        r = event_source_add(b->loop, &p->source, fd, EPOLLIN, bus_peer_io);
        if (r < 0) {
                driver_disconnect_peer(b, p, "cannot watch its socket: %s", strerror(-r));
                return r;
        }
        event_timer_arm_by(b->loop, &b->auth_timer, p->auth_deadline_usec);
        /* A peer the container boundary refuses still gets to authenticate, so that it learns why: its Hello
         * is answered with AccessDenied and the reason, then the connection ends. Until then it is only a
         * connection in SASL, charged to its uid like any other. */
        p->refusal = container_admit(b, p);
        if (!policy_check_connect(b, p)) {
                driver_disconnect_peer(b, p, "not allowed to connect by the bus policy");
                return -EPERM;
        }
        if (policy_peer_attach(b, p) < 0) {
                driver_disconnect_peer(b, p, "out of memory");
                return -ENOMEM;
        }
        /* Clients write their opening right after connect(), usually before the bus gets to accept():
         * read it now rather than one more epoll_wait() later (a read that finds nothing costs one
         * recvmsg(), and epoll reports the peer as usual). */
        bus_peer_io(&p->source, EPOLLIN);
        return 0;
}

static void bus_signals_io(struct event_source *s, uint32_t events)
{
        struct bus *b = container_of(s, struct bus, signals);
        struct signalfd_siginfo si;
        while (event_signal_read(s, &si) > 0) {
                switch (si.ssi_signo) {
                case SIGCHLD:
                        activation_reap_children(b);
                        break;
                case SIGHUP:
                        driver_reload_config(b);
                        break;
                case SIGTERM:
                case SIGINT:
                        b->exiting = true;
                        break;
                }
        }
}

/* Disconnect peers that have not finished authenticating in time (b->authenticating is oldest first). */
static void bus_auth_timer_fire(struct event_timer *t, uint64_t now)
{
        struct bus *b = container_of(t, struct bus, auth_timer);
        while (!list_empty(&b->authenticating)) {
                struct peer *p = list_first_entry(&b->authenticating, struct peer, auth_link);
                if (p->auth_deadline_usec > now) {
                        event_timer_arm(b->loop, t, p->auth_deadline_usec);
                        return;
                }
                driver_disconnect_peer(b, p, "did not authenticate within %d ms", b->limits.auth_timeout);
        }
}

static void bus_reply_timer_fire(struct event_timer *t, uint64_t now)
{
        struct bus *b = container_of(t, struct bus, reply_timer);
        uint64_t next = routing_check_reply_timeouts(b, now);
        if (next)
                event_timer_arm(b->loop, t, next);
}

static void bus_checkpoint_timer_fire(struct event_timer *t, uint64_t now)
{
        struct bus *b = container_of(t, struct bus, checkpoint_timer);
        uint64_t next = checkpoint_check_held(b, now);
        if (next)
                event_timer_arm(b->loop, t, next);
}

static void bus_activation_timer_fire(struct event_timer *t, uint64_t now)
{
        struct bus *b = container_of(t, struct bus, activation_timer);
        uint64_t next = activation_check_timeouts(b, now);
        if (next)
                event_timer_arm(b->loop, t, next);
}

/* Before every wait: drop the peers that failed mid-routing, write what the last turn queued, read the
 * namespaces of the peers it accepted (after the writes: a new client's answers do not wait for them), free
 * the peers it let go of (nothing points at them any more) and open or close the accept gate. */
static bool bus_prepare(struct event_loop *loop, void *userdata)
{
        struct bus *b = userdata;
        driver_disconnect_doomed(b);
        bus_flush_all(b);
        peers_read_namespaces(b);
        free_dead_peers(b);
        bus_update_accepting(b);
        return !b->exiting;
}

int bus_run_once(struct bus *b, int max_timeout_ms)
{
        int r = event_loop_run_once(b->loop, max_timeout_ms);
        return r == -ECANCELED ? 0 : r;
}

int bus_run(struct bus *b)
{
        return event_loop_run(b->loop);
}

int bus_forked(struct bus *b)
{
        return event_signals_forked(b->loop, &b->signals);
}

int bus_new(struct bus **ret)
{
        struct bus *b = zalloc(sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->scratch = io_scratch_owned(IO_SCRATCH_SIZE);
        list_init(&b->listeners);
        list_init(&b->peers);
        list_init(&b->monitors);
        list_init(&b->parked);
        list_init(&b->dead_peers);
        list_init(&b->doomed_peers);
        list_init(&b->authenticating);
        list_init(&b->namespaces_unread);
        list_init(&b->flush_list);
        list_init(&b->reply_timeouts);
        list_init(&b->activating);
        match_registry_init(&b->wildcard_matches);
        match_registry_init(&b->driver_matches);
        match_registry_init(&b->eavesdrop_matches);
        b->next_id = 0; /* dbus-daemon's first peer is :1.0 */
        b->allow_external = true;
        b->accepting = true;
        b->listeners_changed = true;
        bus_limits_init_default(&b->limits);
        random_hex(b->guid, 32);
        if (!read_machine_id(b->machine_id))
                /* No machine id on this system: a random one, stable for this bus's lifetime. */
                random_hex(b->machine_id, 32);

        b->peers_by_id = hashmap_new(&id_hash_ops);
        b->names = hashmap_new(&string_hash_ops);
        b->users = hashmap_new(&uint64_hash_ops);
        int r = -ENOMEM;
        if (!b->peers_by_id || !b->names || !b->users || activation_new(b) < 0)
                goto fail;
        r = bus_policy_new_allow_all(&b->policy);
        if (r < 0)
                goto fail;
        r = ns_registry_new(&b->namespaces);
        if (r < 0)
                goto fail;
        r = creds_from_self(b->namespaces, &b->self_creds);
        if (r < 0)
                goto fail;

        r = event_loop_new(&b->loop);
        if (r < 0)
                goto fail;
        event_loop_set_prepare(b->loop, bus_prepare, b);
        event_timer_init(&b->auth_timer, bus_auth_timer_fire);
        event_timer_init(&b->reply_timer, bus_reply_timer_fire);
        event_timer_init(&b->activation_timer, bus_activation_timer_fire);
        event_timer_init(&b->checkpoint_timer, bus_checkpoint_timer_fire);
        static const int signals[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};
        r = event_signals_add(b->loop, &b->signals, signals, ELEMENTSOF(signals), bus_signals_io);
        if (r < 0)
                goto fail;
        *ret = b;
        return 0;
fail:
        bus_free(b);
        return r;
}

void bus_free(struct bus *b)
{
        if (!b)
                return;
        while (!list_empty(&b->peers)) {
                struct peer *p = list_first_entry(&b->peers, struct peer, link);
                driver_disconnect_peer(b, p, NULL);
                free_dead_peers(b);
        }
        while (!list_empty(&b->listeners))
                listener_free(list_first_entry(&b->listeners, struct listener, link));
        checkpoint_forget(b);
        activation_free(b); /* before the container: it watches the container's spawner */
        container_free(b);  /* after the listeners: it removes the directories that held them */
        /* Names can only be left over through registries that referenced them. */
        struct hashmap_iter it;
        struct name *n;
        HASHMAP_FOREACH(n, b->names, it)
        {
                hashmap_remove(b->names, n->name);
                match_registry_done(&n->matches);
                free(n->name);
                free(n);
        }
        hashmap_free(b->names);
        hashmap_free(b->peers_by_id);
        quotas_done(b);
        hashmap_free(b->users);
        match_registry_done(&b->wildcard_matches);
        match_registry_done(&b->driver_matches);
        match_registry_done(&b->eavesdrop_matches);
        bus_policy_unref(b->policy);
        creds_done(&b->self_creds);
        ns_registry_free(b->namespaces); /* after every peer: they hold references */
        if (b->config)
                bus_config_free(b->config);
        free(b->config_file);
        free(b->bus_type);
        event_loop_free(b->loop);
        io_scratch_done(&b->scratch);
        free(b);
}
