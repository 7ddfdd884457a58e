/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checkpoint and restore of container connections (daemon/checkpoint.c), through org.nsbus.Checkpoint1 on a
 * bus in the test's process: connections are exported while things are in flight on them (a call waiting
 * for its reply, a signal the client has not read, half a message the bus has), disconnected, prepared
 * back from their images and resumed on new sockets with a raw exchange, as the CRIU plugin does it; then
 * everything in flight must arrive, once, in order. Hostile images must be refused with the bus unchanged.
 */
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "bridge-policy.h"
#include "bus-harness.h"
#include "checkpoint.h"
#include "ckpt-image.h"
#include "container.h"
#include "namespaces.h"

/* A container bus without a container process: enough for the driver's Checkpoint1 (the harness's peers
 * are the test process, host root when it runs as root, which the container boundary lets in). */
static void make_container_bus(struct harness *h)
{
        harness_init(h);
        struct container *c = calloc(1, sizeof(*c));
        CHECK(c);
        c->bus = h->bus;
        c->source.fd = -1;
        c->pidfd = -1;
        c->root_fd = -1;
        c->name = strdup("ck");
        c->dir = strdup("/run/nsbus/ck");
        c->bus_dir = strdup("/run/nsbus/ck/bus");
        c->user_ns = ns_user_ref(h->bus->namespaces->bus_user);
        c->pid_ns = ns_pid_ref(h->bus->namespaces->bus_pid);
        c->privileges_dropped = true;
        h->bus->container = c;
}

/* A call of org.nsbus.Checkpoint1 with one "ay" argument, or an "aay" when n > 1 or many is set. */
static struct message *checkpoint_call(uint32_t serial, const char *member, const uint8_t *const *bufs,
                                       const size_t *lens, size_t n, bool many)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, serial);
        b.destination = DRIVER_NAME;
        b.path = DRIVER_PATH;
        b.interface = "org.nsbus.Checkpoint1";
        b.member = member;
        if (many)
                msg_builder_open(&b, 'a', "ay");
        for (size_t i = 0; i < n; i++)
                msg_builder_append_bytes(&b, bufs[i], lens[i]);
        if (many)
                msg_builder_close(&b);
        struct message *m;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        return m;
}

struct prepared {
        uint8_t token[CHECKPOINT_TOKEN_SIZE];
        uint32_t flags;
        bool fds;
        uint8_t input[256];
        size_t n_input;
};

/* Prepare(images) from c: the answer, NULL results for an error (its name in *error). */
static void prepare(struct harness *h, struct client *c, const uint8_t *const *bufs, const size_t *lens,
                    size_t n, struct prepared *out, char error[128])
{
        struct message *call = checkpoint_call(client_next_serial(c), "Prepare", bufs, lens, n, true);
        uint32_t serial = call->serial;
        CHECK(client_queue(c, call) >= 0);
        message_unref(call);
        struct harness_inbox box = {0};
        harness_collect(h, c, &box);
        struct message *m = harness_take_reply(&box, serial);
        CHECK(m);
        harness_inbox_clear(&box);
        error[0] = 0;
        if (m->type == MESSAGE_ERROR) {
                snprintf(error, 128, "%s", m->error_name);
                const char *text = "";
                message_read(m, "s", &text);
                fprintf(stderr, "Prepare refused: %s: %s\n", m->error_name, text);
                message_unref(m);
                return;
        }
        struct msg_reader rd;
        msg_reader_init(&rd, m);
        CHECK(msg_reader_enter(&rd, 'a', "(ayubay)") >= 0);
        for (size_t i = 0; i < n; i++) {
                const uint8_t *p;
                size_t len;
                int fds;
                CHECK(msg_reader_enter(&rd, '(', "ayubay") >= 0);
                CHECK(msg_reader_read_bytes(&rd, &p, &len) >= 0);
                CHECK_EQ(len, CHECKPOINT_TOKEN_SIZE);
                memcpy(out[i].token, p, len);
                CHECK(msg_reader_read_basic(&rd, 'u', &out[i].flags) >= 0);
                CHECK(msg_reader_read_basic(&rd, 'b', &fds) >= 0);
                out[i].fds = fds;
                CHECK(msg_reader_read_bytes(&rd, &p, &len) >= 0);
                CHECK(len <= sizeof(out[i].input));
                memcpy(out[i].input, p, len);
                out[i].n_input = len;
                CHECK(msg_reader_exit(&rd) >= 0);
        }
        message_unref(m);
}

static void write_all(int fd, const void *buf, size_t n)
{
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                CHECK(w > 0);
                p += w;
                n -= (size_t)w;
        }
}

/* Exactly n bytes from fd, turning the bus while they are not there. */
static void read_exactly(struct harness *h, int fd, void *buf, size_t n)
{
        size_t have = 0;
        for (int tries = 0; have < n; tries++) {
                CHECK(tries < 1000);
                harness_settle(h);
                ssize_t r = recv(fd, (uint8_t *)buf + have, n - have, MSG_DONTWAIT);
                CHECK(r != 0);
                if (r > 0)
                        have += (size_t)r;
        }
}

/* The next message on a raw socket. */
static struct message *read_message(struct harness *h, int fd)
{
        uint8_t head[DBUS_MINIMUM_HEADER_SIZE];
        read_exactly(h, fd, head, sizeof(head));
        size_t size;
        CHECK(message_peek_size(head, &size) >= 0);
        uint8_t *data = malloc(size + 1);
        CHECK(data);
        memcpy(data, head, sizeof(head));
        read_exactly(h, fd, data + sizeof(head), size - sizeof(head));
        struct message *m;
        CHECK(message_new_from_data(data, size, &m) >= 0);
        return m;
}

static void read_line(struct harness *h, int fd, const char *prefix)
{
        char line[256];
        size_t n = 0;
        do {
                CHECK(n < sizeof(line) - 1);
                read_exactly(h, fd, &line[n++], 1);
        } while (line[n - 1] != '\n');
        line[n] = 0;
        CHECK(strncmp(line, prefix, strlen(prefix)) == 0);
}

/* What the CRIU plugin does in a restored process: a new connection on the container socket, SASL, and
 * Resume(token) instead of Hello; the answer is read exactly. Returns the socket; *reply is the answer. */
static int resume_with(struct harness *h, const struct prepared *pp, bool pipelined, struct message **reply)
{
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK(bus_add_peer(h->bus, sv[0], ORIGIN_BUS) == 0);
        const uint8_t *tok = pp->token;
        size_t len = sizeof(pp->token);
        struct message *call = checkpoint_call(1, "Resume", &tok, &len, 1, false);
        char auth[64];
        int n = snprintf(auth, sizeof(auth), "%cAUTH EXTERNAL 30\r\n", 0);
        if (pipelined) {
                /* Everything in one write, as a client that does not wait for the bus's lines: they
                 * must still come, ahead of the answer. */
                uint8_t all[1024];
                size_t k = 0;
                memcpy(all, auth, (size_t)n);
                k += (size_t)n;
                if (pp->fds) {
                        memcpy(all + k, "NEGOTIATE_UNIX_FD\r\n", 19);
                        k += 19;
                }
                memcpy(all + k, "BEGIN\r\n", 7);
                k += 7;
                CHECK(k + call->body_offset + call->body_size <= sizeof(all));
                memcpy(all + k, call->data, call->body_offset + call->body_size);
                k += call->body_offset + call->body_size;
                write_all(sv[1], all, k);
                read_line(h, sv[1], "OK ");
                if (pp->fds)
                        read_line(h, sv[1], "AGREE_UNIX_FD");
        } else {
                write_all(sv[1], auth, (size_t)n);
                read_line(h, sv[1], "OK ");
                if (pp->fds) {
                        write_all(sv[1], "NEGOTIATE_UNIX_FD\r\n", 19);
                        read_line(h, sv[1], "AGREE_UNIX_FD");
                }
                write_all(sv[1], "BEGIN\r\n", 7);
                write_all(sv[1], call->data, call->body_offset + call->body_size);
        }
        message_unref(call);
        *reply = read_message(h, sv[1]);
        CHECK_EQ((*reply)->reply_serial, 1);
        if ((*reply)->type == MESSAGE_METHOD_RETURN) {
                /* What the client had sent and the bus had not taken goes first. */
                write_all(sv[1], pp->input, pp->n_input);
        }
        return sv[1];
}

static int resume(struct harness *h, const struct prepared *pp, struct message **reply)
{
        return resume_with(h, pp, false, reply);
}

/* Export through diag_fd (< 0: the bus's own sock_diag socket). */
static uint8_t *export_image_through(struct harness *h, struct client *c, int diag_fd, size_t *len)
{
        uint8_t *buf = NULL;
        char err[256] = "";
        int r = checkpoint_export(h->bus, NULL, c->fd, diag_fd, &buf, len, err, sizeof(err));
        if (r < 0)
                fprintf(stderr, "export: %s: %s\n", strerror(-r), err);
        CHECK_EQ(r, 0);
        return buf;
}

static uint8_t *export_image(struct harness *h, struct client *c, size_t *len)
{
        return export_image_through(h, c, -1, len);
}

/* A NETLINK_SOCK_DIAG socket as the checkpoint tool hands it over, with the kernel's answer to someone
 * else's question still queued in it: the bus must take only the answer to its own. */
static int used_diag_socket(void)
{
        int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        CHECK(fd >= 0);
        struct {
                struct nlmsghdr nlh;
                struct unix_diag_req req;
        } q = {
                .nlh = {.nlmsg_len = sizeof(q),
                        .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                        .nlmsg_seq = 4242},
                .req = {.sdiag_family = AF_UNIX, .udiag_states = ~0u},
        };
        struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
        CHECK(sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&nl, sizeof(nl)) == (ssize_t)sizeof(q));
        return fd;
}

static struct message *call_message(uint32_t serial, const char *dest, const char *member)
{
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, serial);
        b.destination = dest;
        b.path = "/org/example";
        b.interface = "org.example.Test";
        b.member = member;
        CHECK(msg_builder_append(&b, "s", "arg") >= 0);
        struct message *m;
        CHECK(msg_builder_finish(&b, &m) >= 0);
        return m;
}

static char *owner_of(struct harness *h, struct client *c, const char *name)
{
        uint32_t serial = harness_call_driver(c, "GetNameOwner", "s", name);
        struct message *m = harness_expect_reply(h, c, serial);
        char *owner = NULL;
        const char *s;
        if (m->type == MESSAGE_METHOD_RETURN && message_read(m, "s", &s) >= 0)
                owner = strdup(s);
        message_unref(m);
        return owner;
}

#define N_TICKS 200

/* The whole story: a service that owes a reply, a queued owner, and a client with a call out, a signal
 * unread and half a message sent, exported, gone, prepared back and resumed. */
static void test_round_trip(void)
{
        struct harness h;
        make_container_bus(&h);
        struct client *s = harness_connect(&h), *q = harness_connect(&h), *c = harness_connect(&h);
        char *s_name = strdup(s->unique_name), *q_name = strdup(q->unique_name),
             *c_name = strdup(c->unique_name);
        CHECK_EQ(harness_request_name(&h, s, "org.example.S"), NAME_REPLY_PRIMARY_OWNER);
        CHECK_EQ(harness_request_name(&h, q, "org.example.S"), NAME_REPLY_IN_QUEUE);
        harness_expect_reply_empty(
                &h, c,
                harness_call_driver(c, "AddMatch", "s", "type='signal',interface='org.example.Ping'"));
        /* c calls s, which does not answer yet. */
        uint32_t call_serial = harness_call(c, "org.example.S", "Slow", "x");
        struct harness_inbox box = {0};
        harness_collect(&h, s, &box);
        struct message *call = harness_take_signal(&box, "Slow") ?: harness_inbox_take(&box, 0);
        CHECK(call);
        CHECK_STREQ(call->member, "Slow");
        CHECK_EQ(call->serial, call_serial);
        harness_inbox_clear(&box);
        harness_collect(&h, q, &box);
        harness_inbox_clear(&box);
        /* A signal for c that c does not read; half a message from c that the bus has. */
        /* Signals for c that c does not read, more than the bus's socket takes (its send buffer made
         * small): the first ones wait in c's socket, the rest in the bus's queue. */
        struct peer *cp = names_find_peer(h.bus, c_name);
        CHECK(cp);
        int small = 4096;
        CHECK(setsockopt(cp->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
        char text[N_TICKS][16];
        for (int i = 0; i < N_TICKS; i++) {
                snprintf(text[i], sizeof(text[i]), "tick-%d", i);
                const char *tick[] = {text[i]};
                harness_signal(s, NULL, "/", "org.example.Ping", "Tick", "s", tick);
        }
        harness_settle(&h);
        CHECK(!io_out_empty(&cp->out)); /* some are still the bus's */
        struct message *half = call_message(client_next_serial(c), "org.example.S", "Later");
        size_t half_size = half->body_offset + half->body_size;
        write_all(c->fd, half->data, 10);
        harness_settle(&h);

        size_t ls, lq, lc;
        /* The first through a sock_diag socket of the tool's, which the bus's index then serves the others
         * from. */
        int diag = used_diag_socket();
        uint8_t *is = export_image_through(&h, s, diag, &ls), *iq = export_image(&h, q, &lq),
                *ic = export_image(&h, c, &lc);
        close(diag);
        struct ckpt_image img;
        char err[256];
        CHECK(ckpt_image_parse(ic, lc, &img, err, sizeof(err)) == 0);
        CHECK_STREQ(img.unique_name, c_name);
        CHECK_EQ(img.n_input, 10);
        CHECK(memcmp(img.input, half->data, 10) == 0);
        CHECK_EQ(img.n_awaited, 1);
        CHECK_STREQ(img.awaited[0].peer, s_name);
        CHECK_EQ(img.awaited[0].serial, call_serial);
        CHECK_EQ(img.n_matches, 1);
        CHECK(img.n_output > 0); /* the Ticks */
        /* A next unique id no name could carry (the bus would hand out ids nobody can address): refused. */
        uint64_t next_id = img.next_id;
        for (int past = 0; past <= 1; past++) {
                uint8_t *rebuilt;
                size_t rebuilt_len;
                struct ckpt_image again;
                img.next_id = DBUS_UNIQUE_ID_MAX + (uint64_t)past;
                CHECK_EQ(ckpt_image_build(&img, &rebuilt, &rebuilt_len), 0);
                int r = ckpt_image_parse(rebuilt, rebuilt_len, &again, err, sizeof(err));
                CHECK(past ? r < 0 && strstr(err, "past the last one") : r == 0);
                if (r == 0)
                        ckpt_image_done(&again);
                free(rebuilt);
        }
        img.next_id = next_id;
        ckpt_image_done(&img);
        CHECK(ckpt_image_parse(iq, lq, &img, err, sizeof(err)) == 0);
        CHECK_EQ(img.n_names, 1);
        CHECK_EQ(img.names[0].position, 1);
        ckpt_image_done(&img);
        CHECK(ckpt_image_parse(is, ls, &img, err, sizeof(err)) == 0);
        CHECK_EQ(img.n_owed, 1);
        CHECK_STREQ(img.owed[0].peer, c_name);
        CHECK_EQ(img.names[0].position, 0);
        ckpt_image_done(&img);

        /* The container goes (CRIU kills it after the dump). */
        client_free(s);
        client_free(q);
        client_free(c);
        harness_settle(&h);
        struct client *p = harness_connect(&h);
        CHECK(owner_of(&h, p, "org.example.S") == NULL);

        /* Prepare, in another order than the export. */
        const uint8_t *bufs[] = {ic, is, iq};
        size_t lens[] = {lc, ls, lq};
        struct prepared pp[3];
        char error[128];
        prepare(&h, p, bufs, lens, 3, pp, error);
        CHECK_STREQ(error, "");
        char *owner = owner_of(&h, p, "org.example.S");
        CHECK_STREQ(owner, s_name);
        free(owner);
        /* The same images again: their unique names are in use. */
        prepare(&h, p, bufs, lens, 3, pp + 0, error); /* pp untouched on error */
        CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");

        /* c comes back: Tick first, then its half message can be finished. */
        struct message *reply;
        int cfd = resume(&h, &pp[0], &reply);
        CHECK_EQ(reply->type, MESSAGE_METHOD_RETURN);
        message_unref(reply);
        struct message *m;
        for (int i = 0; i < N_TICKS; i++) {
                m = read_message(&h, cfd);
                const char *arg;
                CHECK_STREQ(m->member, "Tick");
                CHECK(message_read(m, "s", &arg) >= 0);
                CHECK_STREQ(arg, text[i]); /* every one, in order, once */
                message_unref(m);
        }
        write_all(cfd, half->data + 10, half_size - 10);
        message_unref(half);

        /* s comes back: the "Later" call reaches it, and its reply to the old call reaches c. */
        int sfd = resume_with(&h, &pp[1], true, &reply);
        CHECK_EQ(reply->type, MESSAGE_METHOD_RETURN);
        message_unref(reply);
        m = read_message(&h, sfd);
        CHECK_STREQ(m->member, "Later");
        CHECK_STREQ(m->sender, c_name);
        message_unref(m);
        struct msg_builder b;
        msg_builder_init(&b, MESSAGE_METHOD_RETURN, 77);
        b.destination = c_name;
        b.reply_serial = call_serial;
        msg_builder_append(&b, "s", "slow answer");
        CHECK(msg_builder_finish(&b, &m) >= 0);
        write_all(sfd, m->data, m->body_offset + m->body_size);
        message_unref(m);
        m = read_message(&h, cfd);
        CHECK_EQ(m->type, MESSAGE_METHOD_RETURN);
        CHECK_EQ(m->reply_serial, call_serial);
        CHECK_STREQ(m->sender, s_name);
        message_unref(m);
        message_unref(call);

        /* c's rule still matches. */
        const char *tock[] = {"after"};
        harness_signal(p, NULL, "/", "org.example.Ping", "Tock", "s", tock);
        m = read_message(&h, cfd);
        CHECK_STREQ(m->member, "Tock");
        message_unref(m);

        /* A wrong token: refused, and that connection closes. */
        struct prepared bad = pp[2];
        bad.token[0] ^= 1;
        int xfd = resume(&h, &bad, &reply);
        CHECK_EQ(reply->type, MESSAGE_ERROR);
        CHECK_STREQ(reply->error_name, "org.nsbus.Checkpoint1.Error.ResumeRefused");
        message_unref(reply);
        close(xfd);

        /* q is never resumed: when its preparer leaves, it goes, and the name's queue with it. */
        struct client *watcher = harness_connect(&h);
        harness_expect_reply_empty(
                &h, watcher,
                harness_call_driver(watcher, "AddMatch", "s", "type='signal',member='NameOwnerChanged'"));
        client_free(p);
        harness_settle(&h);
        harness_collect(&h, watcher, &box);
        bool q_gone = false;
        while (box.n) {
                m = harness_inbox_take(&box, 0);
                const char *name, *old, *new;
                if (message_read(m, "sss", &name, &old, &new) >= 0 && streq(name, q_name) && !new[0])
                        q_gone = true;
                message_unref(m);
        }
        CHECK(q_gone);
        CHECK(owner_of(&h, watcher, q_name) == NULL);

        client_free(watcher);
        close(cfd);
        close(sfd);
        free(is);
        free(iq);
        free(ic);
        free(s_name);
        free(q_name);
        free(c_name);
        harness_done(&h);
}

/* Images that must be refused, each leaving the bus as it was. */
static void test_hostile_images(void)
{
        struct harness h;
        make_container_bus(&h);
        struct client *s = harness_connect(&h);
        CHECK_EQ(harness_request_name(&h, s, "org.example.S"), NAME_REPLY_PRIMARY_OWNER);
        size_t len;
        /* A second handle that is not a sock_diag socket is refused before anything is read. */
        int pair[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
        uint8_t *none = NULL;
        char why[256] = "";
        CHECK_EQ(checkpoint_export(h.bus, NULL, s->fd, pair[0], &none, &len, why, sizeof(why)), -EINVAL);
        CHECK(strstr(why, "NETLINK_SOCK_DIAG") != NULL);
        CHECK(none == NULL);
        close(pair[0]);
        close(pair[1]);
        uint8_t *good = export_image(&h, s, &len);
        struct client *p = harness_connect(&h);
        size_t peers_before = h.bus->n_peers_connected;
        struct prepared pp;
        char error[128];
        const uint8_t *bufs[1];
        size_t lens[1];

        /* s still holds its unique name: in use. */
        bufs[0] = good;
        lens[0] = len;
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");

        /* Once s is gone, another connection owns its name: refused too. */
        client_free(s);
        harness_settle(&h);
        struct client *squatter = harness_connect(&h);
        CHECK_EQ(harness_request_name(&h, squatter, "org.example.S"), NAME_REPLY_PRIMARY_OWNER);
        peers_before = h.bus->n_peers_connected;
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");
        CHECK_EQ(h.bus->n_peers_connected, peers_before);
        client_free(squatter);
        harness_settle(&h);

        /* The same image twice in one batch. */
        const uint8_t *twice[] = {good, good};
        size_t twice_lens[] = {len, len};
        struct prepared pp2[2];
        peers_before = h.bus->n_peers_connected;
        prepare(&h, p, twice, twice_lens, 2, pp2, error);
        CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");
        CHECK_EQ(h.bus->n_peers_connected, peers_before);

        /* Truncated, every length. */
        peers_before = h.bus->n_peers_connected;
        for (size_t cut = 0; cut < len; cut += 7) {
                lens[0] = cut;
                prepare(&h, p, bufs, lens, 1, &pp, error);
                CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");
        }
        /* Another version; a byte flipped in the record's header. */
        uint8_t *bad = malloc(len);
        memcpy(bad, good, len);
        bad[8] = 2;
        bufs[0] = bad;
        lens[0] = len;
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");
        memcpy(bad, good, len);
        bad[CKPT_IMAGE_HEADER_SIZE + 1] = 9; /* message type */
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");
        CHECK_EQ(h.bus->n_peers_connected, peers_before);

        /* A name the container's bridge policy now imports from the host: not the image's to take. */
        const char *text = "import see org.example.S\n";
        CHECK(bridge_policy_parse(text, strlen(text), "test.policy", &h.bus->container->policy, NULL, 0) ==
              0);
        bufs[0] = good;
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "org.nsbus.Checkpoint1.Error.BadImage");
        CHECK_EQ(h.bus->n_peers_connected, peers_before);
        h.bus->container->policy = bridge_policy_free(h.bus->container->policy);

        /* The good one still goes in after all that. */
        bufs[0] = good;
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "");
        free(bad);
        free(good);
        client_free(p);
        harness_done(&h);
}

/* Bytes unread in a socket, without reading them. */
static int unread_bytes(int fd)
{
        int n = 0;
        CHECK(ioctl(fd, SIOCINQ, &n) == 0);
        return n;
}

static void send_tick(struct harness *h, struct client *from, const char *text)
{
        const char *arg[] = {text};
        harness_signal(from, NULL, "/", "org.example.Ping", "Tick", "s", arg);
        harness_settle(h);
}

/* An export by a connection (CRIU's) holds the exported one; killed after the dump, it is kept, parked,
 * and the restore onto this bus takes it back as it is: what it had sent and the bus had not read is taken
 * once (from the image), what was sent to it after the export is delivered, in order, after what was
 * unread, and its names never went. A dump that leaves the process running gives it back untouched. */
static void test_held_across_restore(void)
{
        struct harness h;
        make_container_bus(&h);
        struct client *s = harness_connect(&h), *c = harness_connect(&h), *x = harness_connect(&h),
                      *watcher = harness_connect(&h), *asker = harness_connect(&h);
        char *c_name = strdup(c->unique_name), *s_name = strdup(s->unique_name);
        CHECK_EQ(harness_request_name(&h, c, "org.example.C"), NAME_REPLY_PRIMARY_OWNER);
        harness_expect_reply_empty(
                &h, c,
                harness_call_driver(c, "AddMatch", "s", "type='signal',interface='org.example.Ping'"));
        harness_expect_reply_empty(
                &h, watcher,
                harness_call_driver(watcher, "AddMatch", "s", "type='signal',member='NameOwnerChanged'"));
        struct peer *xp = names_find_peer(h.bus, x->unique_name), *cp = names_find_peer(h.bus, c_name);
        CHECK(xp && cp);

        send_tick(&h, s, "unread-at-export"); /* waits in c's socket */
        int unread = unread_bytes(c->fd);
        CHECK(unread > 0);
        /* A whole call from c that the bus has not read yet when the dump saves c. */
        struct message *later = call_message(client_next_serial(c), "org.example.S", "Later");
        CHECK_EQ(harness_request_name(&h, s, "org.example.S"), NAME_REPLY_PRIMARY_OWNER);
        write_all(c->fd, later->data, later->body_offset + later->body_size);
        uint8_t *image = NULL;
        size_t len = 0;
        char err[256] = "";
        CHECK_EQ(checkpoint_export(h.bus, xp, c->fd, -1, &image, &len, err, sizeof(err)), 0);
        struct ckpt_image img;
        CHECK(ckpt_image_parse(image, len, &img, err, sizeof(err)) == 0);
        CHECK_EQ(img.n_input, later->body_offset + later->body_size);
        ckpt_image_done(&img);

        /* Held: the bus neither takes Later nor writes to c. */
        send_tick(&h, s, "after-export");
        CHECK_EQ(unread_bytes(c->fd), unread);
        struct harness_inbox box = {0};
        harness_collect(&h, s, &box);
        for (size_t i = 0; i < box.n; i++)
                CHECK(!box.v[i]->member || !streq(box.v[i]->member, "Later"));
        harness_inbox_clear(&box);

        /* CRIU ends its plugins (x goes), kills c, exits: c stays, with its name, and what comes for it
         * queues. */
        client_free(x);
        harness_settle(&h);
        client_free(c);
        harness_settle(&h);
        send_tick(&h, s, "after-kill");
        CHECK_EQ(checkpoint_check_held(h.bus, now_usec() + 2 * CHECKPOINT_RELEASE_USEC), 0);
        harness_settle(&h);
        char *owner = owner_of(&h, asker, "org.example.C");
        CHECK_STREQ(owner, c_name);
        free(owner);
        harness_collect(&h, watcher, &box);
        for (size_t i = 0; i < box.n; i++) {
                const char *name, *old, *new;
                if (message_read(box.v[i], "sss", &name, &old, &new) >= 0)
                        CHECK(!streq(name, c_name) && !streq(name, "org.example.C"));
        }
        harness_inbox_clear(&box);

        /* A restore that fails before c resumes (its preparer goes): c goes on waiting. */
        struct client *p = harness_connect(&h);
        const uint8_t *bufs[] = {image};
        size_t lens[] = {len};
        struct prepared pp;
        char error[128];
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "");
        client_free(p);
        harness_settle(&h);
        owner = owner_of(&h, asker, "org.example.C");
        CHECK_STREQ(owner, c_name);
        free(owner);

        /* The restore onto this bus: no NameOwnerChanged, since c never left. */
        p = harness_connect(&h);
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "");
        CHECK_EQ(pp.n_input, later->body_offset + later->body_size);
        struct message *reply;
        int cfd = resume(&h, &pp, &reply); /* writes the input back, as the plugin does */
        CHECK_EQ(reply->type, MESSAGE_METHOD_RETURN);
        message_unref(reply);
        const char *expect[] = {"unread-at-export", "after-export", "after-kill"};
        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                struct message *m = read_message(&h, cfd);
                const char *arg;
                CHECK_STREQ(m->member, "Tick");
                CHECK(message_read(m, "s", &arg) >= 0);
                CHECK_STREQ(arg, expect[i]);
                message_unref(m);
        }
        /* Later reaches s once: from the restored input, never from the held socket. */
        harness_collect(&h, s, &box);
        size_t n_later = 0;
        for (size_t i = 0; i < box.n; i++)
                n_later += box.v[i]->member && streq(box.v[i]->member, "Later");
        CHECK_EQ(n_later, 1);
        harness_inbox_clear(&box);
        harness_collect(&h, watcher, &box);
        for (size_t i = 0; i < box.n; i++) {
                const char *name, *old, *new;
                if (message_read(box.v[i], "sss", &name, &old, &new) >= 0)
                        CHECK(!streq(name, c_name));
        }
        harness_inbox_clear(&box);
        close(cfd);
        client_free(p);
        free(image);
        message_unref(later);

        /* --leave-running: the exporter goes while the connection is alive, which goes on as before. */
        struct client *d = harness_connect(&h);
        x = harness_connect(&h);
        xp = names_find_peer(h.bus, x->unique_name);
        harness_expect_reply_empty(
                &h, d,
                harness_call_driver(d, "AddMatch", "s", "type='signal',interface='org.example.Ping'"));
        image = NULL;
        CHECK_EQ(checkpoint_export(h.bus, xp, d->fd, -1, &image, &len, err, sizeof(err)), 0);
        send_tick(&h, s, "while-dumped");
        CHECK_EQ(unread_bytes(d->fd), 0);
        client_free(x);
        harness_settle(&h);
        CHECK_EQ(unread_bytes(d->fd), 0); /* held a moment longer: the bus cannot tell yet */
        CHECK_EQ(checkpoint_check_held(h.bus, now_usec() + 2 * CHECKPOINT_RELEASE_USEC), 0);
        harness_settle(&h);
        CHECK(unread_bytes(d->fd) > 0);
        struct message *m = read_message(&h, d->fd);
        CHECK_STREQ(m->member, "Tick");
        message_unref(m);
        CHECK(owner_of(&h, d, "org.example.S") != NULL); /* it is read again too */
        free(image);
        client_free(d);
        client_free(s);
        client_free(watcher);
        client_free(asker);
        free(c_name);
        free(s_name);
        harness_done(&h);
}

/* ExportAll: every container connection at once, each by its client socket's inode, all held; their
 * images hold the bus's side (what waits unread in a client socket is for the caller to add). */
static void test_export_all(void)
{
        struct harness h;
        make_container_bus(&h);
        struct client *a = harness_connect(&h), *c = harness_connect(&h);
        harness_expect_reply_empty(
                &h, c,
                harness_call_driver(c, "AddMatch", "s", "type='signal',interface='org.example.Ping'"));
        send_tick(&h, a, "unread"); /* in c's socket */
        int unread = unread_bytes(c->fd);
        CHECK(unread > 0);
        /* The exporter is CRIU's connection on host.sock, which is not one of the container's: a stand-in.
         */
        struct peer exporter = {0}, *xp = &exporter;
        int diag = used_diag_socket();
        struct checkpoint_export *v = NULL;
        size_t n = 0;
        char err[256] = "";
        CHECK_EQ(checkpoint_export_all(h.bus, xp, diag, &v, &n, err, sizeof(err)), 0);
        CHECK_EQ(n, 2); /* the harness's clients are the container's */
        struct client *clients[] = {a, c};
        for (size_t i = 0; i < ELEMENTSOF(clients); i++) {
                struct stat st;
                CHECK(fstat(clients[i]->fd, &st) == 0);
                const struct checkpoint_export *e = NULL;
                for (size_t k = 0; k < n; k++)
                        if (v[k].client_ino == (uint64_t)st.st_ino)
                                e = &v[k];
                CHECK(e);
                struct ckpt_image img;
                CHECK(ckpt_image_parse(e->image, e->len, &img, err, sizeof(err)) == 0);
                CHECK_STREQ(img.unique_name, clients[i]->unique_name);
                CHECK_EQ(img.n_output, 0); /* c's Tick is in its socket, not the bus's queue */
                ckpt_image_done(&img);
        }
        checkpoint_exports_free(v, n);
        /* Held: a Tick for c now stays with the bus. */
        send_tick(&h, a, "held");
        CHECK_EQ(unread_bytes(c->fd), unread);
        /* A second handle that is not a sock_diag socket: refused. */
        CHECK_EQ(checkpoint_export_all(h.bus, xp, c->fd, &v, &n, err, sizeof(err)), -EINVAL);
        close(diag);
        checkpoint_release(h.bus, xp); /* the exporter goes */
        harness_settle(&h);
        CHECK_EQ(unread_bytes(c->fd), unread);
        checkpoint_check_held(h.bus, now_usec() + 2 * CHECKPOINT_RELEASE_USEC);
        harness_settle(&h);
        CHECK(unread_bytes(c->fd) > unread); /* released: the held Tick came */
        client_free(a);
        client_free(c);
        harness_done(&h);
}

/* Only the host's root may export or prepare. */
static void test_not_for_others(void)
{
        struct harness h;
        make_container_bus(&h);
        struct client *p = harness_connect(&h);
        /* Pose as a container process: the bus decides by trust, which the kernel's facts set at accept. */
        struct peer *peer;
        list_for_each_entry(peer, &h.bus->peers, link) peer->trust = PEER_TRUST_NONE;
        uint8_t junk[16] = {0};
        const uint8_t *bufs[] = {junk};
        size_t lens[] = {sizeof(junk)};
        struct prepared pp;
        char error[128];
        prepare(&h, p, bufs, lens, 1, &pp, error);
        CHECK_STREQ(error, "org.freedesktop.DBus.Error.AccessDenied");
        client_free(p);
        harness_done(&h);
}

int main(void)
{
        if (geteuid() != 0) {
                printf("skipped: the harness's peers must be the host's root to use Checkpoint1\n");
                return 77;
        }
        int failed = 0;
        RUN(test_round_trip);
        RUN(test_held_across_restore);
        RUN(test_export_all);
        RUN(test_hostile_images);
        RUN(test_not_for_others);
        return failed != 0;
}
