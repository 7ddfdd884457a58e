/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Socket I/O (lib/io.c) over real AF_UNIX socketpairs: what io_out_flush()
 * writes, io_in_read() + io_in_pop_message() on the other end must turn back
 * into the same messages, whatever way the stream is split, however big the
 * message, with fds arriving with the message that announced them, and with
 * a full socket making the writer stop and resume where it left off.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "data/wire/wire-samples.h"
#include "io.h"
#include "message.h"
#include "test.h"
#include "util.h"

#define SCRATCH_SIZE (64 * 1024)
/* The tests run twice: with a caller's array lent to every read, and with an owned buffer that big
 * messages take over (main()). */
static uint8_t scratch_buf[SCRATCH_SIZE];
static struct io_scratch lent_scratch = {.data = scratch_buf, .size = SCRATCH_SIZE};
static struct io_scratch owned_scratch = {.size = SCRATCH_SIZE, .owned = true};
static struct io_scratch *scratch = &lent_scratch;

static void socketpair_nb(int sv[2])
{
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* The bytes a peer must receive for m: its outgoing header and body. */
static uint8_t *wire_bytes(const struct message *m, size_t *n)
{
        *n = m->out_header_size + m->body_size;
        uint8_t *p = malloc(*n);
        CHECK(p);
        memcpy(p, m->out_header, m->out_header_size);
        memcpy(p + m->out_header_size, m->data + m->body_offset, m->body_size);
        return p;
}

static void check_same(const struct message *got, const struct message *sent)
{
        size_t n;
        _cleanup_free_ uint8_t *want = wire_bytes(sent, &n);
        CHECK_EQ(got->size, n);
        CHECK(memcmp(got->data, want, n) == 0);
        CHECK_EQ(got->serial, sent->serial);
        CHECK_EQ(got->big_endian, sent->big_endian);
}

static struct message *built(uint32_t serial, const char *text)
{
        struct msg_builder b;
        struct message *m = NULL;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, serial);
        b.path = "/io/test";
        b.member = "Echo";
        b.destination = "org.example.Io";
        CHECK_EQ(msg_builder_append(&b, "su", text, serial), 0);
        CHECK_EQ(msg_builder_finish(&b, &m), 0);
        return m;
}

/* A call whose body is an array of n bytes, each telling its position. */
static struct message *built_bytes(uint32_t serial, size_t n)
{
        struct msg_builder b;
        struct message *m = NULL;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, serial);
        b.path = "/io/test";
        b.member = "Bytes";
        CHECK_EQ(msg_builder_open(&b, 'a', "y"), 0);
        for (size_t i = 0; i < n; i++) {
                uint8_t y = (uint8_t)(i * 13 + serial);
                CHECK_EQ(msg_builder_append_basic(&b, 'y', &y), 0);
        }
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_finish(&b, &m), 0);
        return m;
}

/* A GLib message as the bus receives it, stamped for forwarding (header and body in separate buffers). */
static struct message *stamped_sample(size_t i, const char *sender)
{
        const struct wire_sample *w = &wire_samples[i % ELEMENTSOF(wire_samples)];
        struct message *m = NULL;
        uint8_t *p = malloc(w->size);
        CHECK(p);
        memcpy(p, w->data, w->size);
        CHECK_EQ(message_new_from_data(p, w->size, &m), 0);
        if (w->n_unix_fds) {
                int *fds = new0(int, w->n_unix_fds);
                CHECK(fds);
                for (size_t k = 0; k < w->n_unix_fds; k++)
                        CHECK((fds[k] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
                message_attach_fds(m, fds, w->n_unix_fds);
        }
        CHECK_EQ(message_stamp(m, sender), 0);
        CHECK(m->out_header != m->data);
        return m;
}

/* Like stamped_sample(), skipping samples that announce fds (for streams written without them). */
static struct message *stamped_sample_nofds(size_t i, const char *sender)
{
        while (wire_samples[i % ELEMENTSOF(wire_samples)].n_unix_fds)
                i++;
        return stamped_sample(i, sender);
}

/* Read and pop until n messages arrived (or fail after many idle rounds). */
static void receive(struct io_in *in, int fd, bool fds_allowed, struct message **got, size_t n)
{
        size_t have = 0;
        unsigned idle = 0;
        while (have < n) {
                struct message *m = NULL;
                int r = io_in_pop_message(in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m);
                CHECK(r >= 0);
                if (r == 1) {
                        got[have++] = m;
                        continue;
                }
                ssize_t k = io_in_read(in, fd, scratch, fds_allowed);
                if (k == -EAGAIN) {
                        CHECK(++idle < 1000);
                        continue;
                }
                CHECK(k > 0);
                idle = 0;
        }
}

static void test_queue_flush_read(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct message *sent[40], *got[40];
        size_t n = ELEMENTSOF(sent), bytes = 0;

        socketpair_nb(sv);
        for (size_t i = 0; i < n; i++) {
                /* alternate built messages (one buffer) and stamped GLib/libdbus ones (two, either byte
                 * order) */
                if (i % 2 == 0) {
                        char text[64];
                        snprintf(text, sizeof(text), "message number %zu", i);
                        sent[i] = built((uint32_t)i + 1, text);
                } else {
                        sent[i] = stamped_sample(i * 3, ":1.77");
                }
                CHECK_EQ(io_out_queue(&out, sent[i], NULL), 0);
                CHECK_EQ(sent[i]->n_ref, 2);
                bytes += sent[i]->out_header_size + sent[i]->body_size;
                CHECK_EQ(out.n_bytes, bytes);
        }
        CHECK(!io_out_empty(&out));
        CHECK_EQ(io_out_flush(&out, sv[0]), 0);
        CHECK(io_out_empty(&out));
        CHECK_EQ(out.n_bytes, 0);
        CHECK_EQ(out.n_fds, 0);
        for (size_t i = 0; i < n; i++)
                CHECK_EQ(sent[i]->n_ref, 1); /* the queue dropped its references */

        receive(&in, sv[1], true, got, n);
        for (size_t i = 0; i < n; i++) {
                check_same(got[i], sent[i]);
                /* stamped messages arrive with the bus's sender */
                if (i % 2)
                        CHECK_STREQ(got[i]->sender, ":1.77");
                CHECK_EQ(got[i]->n_fds, sent[i]->n_fds);
                message_unref(got[i]);
                message_unref(sent[i]);
        }
        /* nothing more, and nothing held */
        struct message *m = NULL;
        CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m), 0);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, true), -EAGAIN);
        CHECK_EQ(io_in_memory(&in), 0);
        CHECK_EQ(in.n_fds, 0);

        /* EOF */
        close(sv[0]);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, true), 0);
        io_in_done(&in);
        io_out_done(&out);
        close(sv[1]);
}

/* One message at a time lives in the queue's inline slot: no array, and none left after the flush. A
 * second message moves the first into an array, a message queued in front goes ahead of both, and the
 * order survives each move. */
static void test_queue_inline_slot(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct message *sent[4], *got[5];

        socketpair_nb(sv);
        for (int round = 0; round < 2; round++) {
                sent[0] = built(1, "alone");
                CHECK_EQ(io_out_queue(&out, sent[0], NULL), 0);
                CHECK(out.queue == &out.one);
                CHECK_EQ(io_out_flush(&out, sv[0]), 0);
                CHECK(!out.queue);
                receive(&in, sv[1], true, got, 1);
                check_same(got[0], sent[0]);
                message_unref(got[0]);
                message_unref(sent[0]);
        }

        sent[0] = built(2, "first");
        sent[1] = stamped_sample_nofds(1, ":1.5");
        sent[2] = built(3, "third");
        sent[3] = built(4, "in front");
        CHECK_EQ(io_out_queue(&out, sent[0], NULL), 0);
        CHECK(out.queue == &out.one);
        CHECK_EQ(io_out_queue(&out, sent[1], NULL), 0);
        CHECK(out.queue != &out.one);
        CHECK_EQ(io_out_queue(&out, sent[2], NULL), 0);
        CHECK_EQ(io_out_queue_front(&out, sent[3]), 0);
        CHECK_EQ(io_out_flush(&out, sv[0]), 0);
        CHECK(!out.queue);
        receive(&in, sv[1], true, got, 4);
        check_same(got[0], sent[3]);
        check_same(got[1], sent[0]);
        check_same(got[2], sent[1]);
        check_same(got[3], sent[2]);
        for (size_t i = 0; i < 4; i++) {
                CHECK_EQ(sent[i]->n_ref, 1);
                message_unref(got[i]);
                message_unref(sent[i]);
        }

        /* A message in front of one in the inline slot, and io_out_done() with the slot in use. */
        sent[0] = built(5, "queued");
        sent[1] = built(6, "front");
        CHECK_EQ(io_out_queue(&out, sent[0], NULL), 0);
        CHECK_EQ(io_out_queue_front(&out, sent[1]), 0);
        CHECK(out.queue != &out.one);
        io_out_done(&out);
        sent[2] = built(7, "dropped");
        CHECK_EQ(io_out_queue(&out, sent[2], NULL), 0);
        CHECK(out.queue == &out.one);
        io_out_done(&out);
        for (size_t i = 0; i < 3; i++) {
                CHECK_EQ(sent[i]->n_ref, 1);
                message_unref(sent[i]);
        }
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);
}

/* Write the concatenated wire bytes of msgs in chunks of the sizes next_chunk() picks, reading after each.
 */
static void stream_in_chunks(struct message **msgs, size_t n, size_t (*next_chunk)(size_t), bool check_stash)
{
        int sv[2];
        struct io_in in = {0};
        struct message *got[64];
        size_t total = 0, have = 0;

        CHECK(n <= ELEMENTSOF(got));
        socketpair_nb(sv);
        for (size_t i = 0; i < n; i++)
                total += msgs[i]->out_header_size + msgs[i]->body_size;
        uint8_t *all = malloc(total);
        CHECK(all);
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
                size_t l;
                _cleanup_free_ uint8_t *w = wire_bytes(msgs[i], &l);
                memcpy(all + off, w, l);
                off += l;
        }

        size_t msg_start = 0, msg_index = 0;
        for (off = 0; off < total;) {
                size_t c = next_chunk(off); /* once: MIN() evaluates its arguments twice */
                c = MIN(c, total - off);
                CHECK_EQ(write(sv[0], all + off, c), (ssize_t)c);
                off += c;
                /* A read stops at the end of a message being assembled; read until the socket is empty. */
                size_t got_bytes = 0;
                for (;;) {
                        ssize_t k = io_in_read(&in, sv[1], scratch, false);
                        if (k == -EAGAIN)
                                break;
                        CHECK(k > 0);
                        got_bytes += (size_t)k;
                        for (;;) {
                                struct message *m = NULL;
                                int r = io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m);
                                CHECK(r >= 0);
                                if (r == 0)
                                        break;
                                got[have++] = m;
                                msg_start += msgs[msg_index]->out_header_size + msgs[msg_index]->body_size;
                                msg_index++;
                        }
                }
                CHECK_EQ(got_bytes, c);
                /* Fewer than 16 bytes of the next message: they are stashed, nothing else is held. */
                if (check_stash && off - msg_start < DBUS_MINIMUM_HEADER_SIZE) {
                        CHECK_EQ(in.n_pending, off - msg_start);
                        CHECK(!in.msg);
                        CHECK_EQ(io_in_memory(&in), off - msg_start);
                        if (in.n_pending)
                                CHECK(memcmp(in.pending, all + msg_start, in.n_pending) == 0);
                } else if (check_stash) {
                        /* past the fixed header: the message has its own full-size buffer */
                        CHECK(in.msg);
                        CHECK_EQ(in.n_pending, 0);
                        CHECK_EQ(in.msg_have, off - msg_start);
                        CHECK_EQ(in.msg_size, msgs[msg_index]->out_header_size + msgs[msg_index]->body_size);
                }
        }
        CHECK_EQ(have, n);
        for (size_t i = 0; i < n; i++) {
                check_same(got[i], msgs[i]);
                message_unref(got[i]);
        }
        CHECK_EQ(io_in_memory(&in), 0);
        free(all);
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);
}

static size_t one_byte(size_t off)
{
        return 1;
}

static uint32_t rng_state = 12345;
static size_t random_chunk(size_t off)
{
        rng_state = rng_state * 1103515245u + 12345u;
        return 1 + (rng_state >> 16) % 97;
}

static size_t big_chunk(size_t off)
{
        return 5000;
}

static void test_split_reads(void)
{
        struct message *msgs[12];
        size_t n = ELEMENTSOF(msgs);
        for (size_t i = 0; i < n; i++)
                msgs[i] = i % 3 == 0 ? built((uint32_t)i + 1, "split across writes")
                                     : stamped_sample_nofds(i * 5, ":1.9");

        stream_in_chunks(msgs, n, one_byte, true);
        stream_in_chunks(msgs, n, random_chunk, false);
        stream_in_chunks(msgs, n, big_chunk, false); /* many messages per read, tails carried over */
        for (size_t i = 0; i < n; i++)
                message_unref(msgs[i]);
}

/* A partial fixed header survives across reads in io_in_stash()'s buffer, and only there. */
static void test_stash_partial_header(void)
{
        int sv[2];
        struct io_in in = {0};
        struct message *m = built(7, "stash"), *got = NULL;
        size_t n;
        _cleanup_free_ uint8_t *w = wire_bytes(m, &n);

        socketpair_nb(sv);
        CHECK_EQ(write(sv[0], w, 10), 10);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), 10);
        CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 0);
        CHECK_EQ(in.n_pending, 10);
        CHECK(memcmp(in.pending, w, 10) == 0);
        /* the scratch buffer is shared: it may be reused by another connection in between */
        memset(scratch->data, 0xAA, scratch->size);
        CHECK_EQ(write(sv[0], w + 10, 5), 5);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), 5);
        CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 0);
        CHECK_EQ(in.n_pending, 15);
        memset(scratch->data, 0x55, scratch->size);
        CHECK_EQ(write(sv[0], w + 15, n - 15), (ssize_t)(n - 15));
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), (ssize_t)(n - 15));
        CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 1);
        check_same(got, m);
        CHECK_EQ(in.n_pending, 0);
        CHECK_EQ(io_in_memory(&in), 0);

        /* the SASL-phase view: peek and consume, stash the rest */
        CHECK_EQ(write(sv[0], "AUTH\r\nBEGIN", 11), 11);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), 11);
        size_t len;
        const uint8_t *p = io_in_peek(&in, &len);
        CHECK_EQ(len, 11);
        CHECK(memcmp(p, "AUTH\r\n", 6) == 0);
        io_in_consume(&in, 6);
        CHECK_EQ(io_in_stash(&in), 0);
        CHECK_EQ(in.n_pending, 5);
        memset(scratch->data, 0, scratch->size);
        CHECK_EQ(write(sv[0], "\r\n", 2), 2);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), 2);
        p = io_in_peek(&in, &len);
        CHECK_EQ(len, 7);
        CHECK(memcmp(p, "BEGIN\r\n", 7) == 0);

        message_unref(got);
        message_unref(m);
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);
}

/* Flush with the writer and read on the reader, alternating, until n messages arrived. */
static void pump(struct io_out *out, int wfd, struct io_in *in, int rfd, bool fds_allowed,
                 struct message **got, size_t n, unsigned *n_eagain)
{
        size_t have = 0;
        unsigned rounds = 0;
        while (have < n) {
                CHECK(++rounds < 1000000);
                if (!io_out_empty(out)) {
                        int r = io_out_flush(out, wfd);
                        CHECK(r == 0 || r == -EAGAIN);
                        if (r == -EAGAIN) {
                                (*n_eagain)++;
                                CHECK(!io_out_empty(out));
                                CHECK(out->n_bytes > 0);
                        }
                }
                for (;;) {
                        struct message *m = NULL;
                        int r = io_in_pop_message(in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m);
                        CHECK(r >= 0);
                        if (r == 1) {
                                got[have++] = m;
                                continue;
                        }
                        ssize_t k = io_in_read(in, rfd, scratch, fds_allowed);
                        if (k == -EAGAIN)
                                break;
                        CHECK(k > 0);
                }
        }
}

static void test_big_message(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct msg_builder b;
        struct message *m = NULL, *got[2];
        size_t n = 10 * 1024 * 1024;
        uint8_t *bytes = malloc(n);
        unsigned n_eagain = 0;

        CHECK(bytes);
        for (size_t i = 0; i < n; i++)
                bytes[i] = (uint8_t)(i ^ (i >> 8) ^ (i >> 16));
        msg_builder_init(&b, MESSAGE_METHOD_CALL, 1);
        b.path = "/big";
        b.member = "Big";
        CHECK_EQ(msg_builder_open(&b, 'a', "y"), 0);
        for (size_t i = 0; i < n; i++)
                CHECK_EQ(msg_builder_append_basic(&b, 'y', &bytes[i]), 0);
        CHECK_EQ(msg_builder_close(&b), 0);
        CHECK_EQ(msg_builder_finish(&b, &m), 0);
        struct message *small = built(2, "after the big one");

        socketpair_nb(sv);
        /* The socket keeps its default buffer, so the message takes many buffer-fulls (growing the
         * buffer is test_sndbuf_grows'). */
        out.sndbuf_final = true;
        CHECK_EQ(io_out_queue(&out, m, NULL), 0);
        CHECK_EQ(io_out_queue(&out, small, NULL), 0);

        /* First read: the header tells the size, the message gets its own buffer. */
        CHECK_EQ(io_out_flush(&out, sv[0]), -EAGAIN);
        CHECK(io_in_read(&in, sv[1], scratch, false) > 0);
        struct message *none = NULL;
        CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &none), 0);
        CHECK(in.msg);
        CHECK_EQ(in.msg_size, m->size);
        CHECK(io_in_memory(&in) >= m->size);
        /* ... and the rest is read straight into it */
        ssize_t k = io_in_read(&in, sv[1], scratch, false);
        CHECK(k > 0 || k == -EAGAIN);
        CHECK(!in.cur || in.cur_len == in.cur_pos);

        pump(&out, sv[0], &in, sv[1], false, got, 2, &n_eagain);
        CHECK(n_eagain > 0);
        check_same(got[0], m);
        check_same(got[1], small);
        CHECK(memcmp(got[0]->data + got[0]->body_offset + 4, bytes, n) == 0);
        CHECK_EQ(io_in_memory(&in), 0);

        /* A max_size below the message's: refused from the header alone. */
        CHECK_EQ(io_out_queue(&out, m, NULL), 0);
        CHECK_EQ(io_out_flush(&out, sv[0]), -EAGAIN);
        CHECK(io_in_read(&in, sv[1], scratch, false) > 0);
        CHECK_INVALID(io_in_pop_message(&in, 1024 * 1024, &none));
        CHECK(!none);

        message_unref(got[0]);
        message_unref(got[1]);
        message_unref(m);
        message_unref(small);
        io_out_done(&out);
        io_in_done(&in);
        free(bytes);
        close(sv[0]);
        close(sv[1]);
}

static void test_big_message_reads(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct message *m = built_bytes(1, SCRATCH_SIZE + SCRATCH_SIZE / 2), *got = NULL;
        struct message *small = built(2, "right behind it");
        size_t n_small = io_out_message_size(small);

        socketpair_nb(sv);
        for (int lead = 0; lead <= 1; lead++) {
                /* lead: a small message goes first, so the big one starts inside the first read */
                if (lead)
                        CHECK_EQ(io_out_queue(&out, small, NULL), 0);
                CHECK_EQ(io_out_queue(&out, m, NULL), 0);
                CHECK_EQ(io_out_queue(&out, small, NULL), 0);
                CHECK_EQ(io_out_flush(&out, sv[0]), 0); /* all of it fits the default socket buffer */

                CHECK_EQ(io_in_read(&in, sv[1], scratch, false), (ssize_t)SCRATCH_SIZE);
                CHECK(!in.short_read);
                if (lead) {
                        CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 1);
                        check_same(got, small);
                        got = message_unref(got);
                }
                CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 0);
                CHECK(in.msg);
                CHECK_EQ(in.msg_size, m->size);
                CHECK_EQ(in.msg_have, SCRATCH_SIZE - (lead ? n_small : 0));

                size_t rest = m->size - in.msg_have;
                CHECK_EQ(io_in_read(&in, sv[1], scratch, false), (ssize_t)(rest + n_small));
                CHECK(in.short_read);
                CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 1);
                check_same(got, m);
                got = message_unref(got);
                CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 1);
                check_same(got, small);
                got = message_unref(got);
                CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 0);
                CHECK_EQ(io_in_memory(&in), 0);
                CHECK_EQ(io_in_read(&in, sv[1], scratch, false), -EAGAIN);
        }

        message_unref(m);
        message_unref(small);
        io_out_done(&out);
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);
}

/* A message of IO_ADOPT_MIN or more that a read begins with and ends with (or goes on past) takes the
 * owned buffer over instead of being copied out of it; anything else in the read, before or behind it,
 * keeps it where it is. A lent buffer is never taken. */
static void test_adopt_scratch(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct io_scratch owned = io_scratch_owned(SCRATCH_SIZE);
        struct message *got = NULL;
        struct message *small = built(1, "small");
        struct message *mid = built_bytes(2, IO_ADOPT_MIN);                    /* fits a read */
        struct message *below = built_bytes(3, IO_ADOPT_MIN - 1024);           /* fits, too small to take */
        struct message *big = built_bytes(4, SCRATCH_SIZE + SCRATCH_SIZE / 2); /* goes on past a read */
        const struct {
                struct message *before, *m, *after;
                struct io_scratch *s;
                bool taken;
        } cases[] = {
                {NULL, mid, NULL, &owned, true},         {NULL, big, NULL, &owned, true},
                {small, mid, NULL, &owned, false},       {NULL, mid, small, &owned, false},
                {NULL, below, NULL, &owned, false},      {NULL, mid, NULL, &lent_scratch, false},
                {NULL, big, NULL, &lent_scratch, false}, {small, big, small, &owned, false},
        };

        socketpair_nb(sv);
        int big_buf = 1 << 20;
        CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big_buf, sizeof(big_buf)), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct message *const want[] = {cases[i].before, cases[i].m, cases[i].after};
                for (size_t k = 0; k < ELEMENTSOF(want); k++)
                        if (want[k])
                                CHECK_EQ(io_out_queue(&out, want[k], NULL), 0);
                CHECK_EQ(io_out_flush(&out, sv[0]), 0);

                struct io_scratch *s = cases[i].s;
                CHECK(io_in_read(&in, sv[1], s, false) > 0);
                bool taken = false;
                for (size_t k = 0; k < ELEMENTSOF(want); k++) {
                        if (!want[k])
                                continue;
                        int r;
                        while ((r = io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got)) == 0) {
                                taken |= s->data == NULL;
                                CHECK(io_in_read(&in, sv[1], s, false) > 0);
                        }
                        CHECK_EQ(r, 1);
                        taken |= s->data == NULL;
                        check_same(got, want[k]);
                        got = message_unref(got);
                }
                CHECK_EQ(taken, cases[i].taken);
                CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 0);
                CHECK_EQ(io_in_memory(&in), 0);
                /* The next read has a buffer again. */
                CHECK_EQ(io_in_read(&in, sv[1], s, false), -EAGAIN);
                CHECK(s->data);
                CHECK(s == &lent_scratch ? s->data == scratch_buf : true);
        }

        /* The daemon's buffer size: a 64 KiB body and its header come in one read, and the message takes
         * the buffer over. */
        struct io_scratch daemon = io_scratch_owned(IO_SCRATCH_SIZE);
        struct message *k64 = built_bytes(5, 64 * 1024);
        CHECK_EQ(io_out_queue(&out, k64, NULL), 0);
        CHECK_EQ(io_out_flush(&out, sv[0]), 0);
        CHECK_EQ(io_in_read(&in, sv[1], &daemon, false), (ssize_t)io_out_message_size(k64));
        CHECK_EQ(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got), 1);
        CHECK(!daemon.data); /* taken (whether realloc() kept it in place is the allocator's business) */
        check_same(got, k64);
        got = message_unref(got);
        message_unref(k64);
        io_scratch_done(&daemon);

        message_unref(small);
        message_unref(mid);
        message_unref(below);
        message_unref(big);
        io_out_done(&out);
        io_in_done(&in);
        io_scratch_done(&owned);
        close(sv[0]);
        close(sv[1]);
}

/* Raw bytes (the end of a SASL exchange) queued ahead of a message go out first, in the same write. */
static void test_queue_bytes(void)
{
        int sv[2];
        struct io_out out = {0};
        const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\nAGREE_UNIX_FD\r\n";
        struct message *m = built(1, "Hello's reply");
        size_t n_wire;
        uint8_t *wire = wire_bytes(m, &n_wire);

        socketpair_nb(sv);
        CHECK_EQ(io_out_queue_bytes(&out, ok, strlen(ok)), 0);
        CHECK_EQ(io_out_queue(&out, m, NULL), 0);
        CHECK_EQ(out.n_bytes, strlen(ok) + n_wire);
        CHECK_EQ(io_out_flush(&out, sv[0]), 0);
        CHECK(io_out_empty(&out));
        CHECK_EQ(out.n_bytes, 0);

        uint8_t buf[4096];
        ssize_t n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
        CHECK_EQ(n, (ssize_t)(strlen(ok) + n_wire)); /* one write, one read */
        CHECK(memcmp(buf, ok, strlen(ok)) == 0);
        CHECK(memcmp(buf + strlen(ok), wire, n_wire) == 0);

        free(wire);
        message_unref(m);
        io_out_done(&out);
        close(sv[0]);
        close(sv[1]);
}

static int sndbuf_of(int fd)
{
        int v = 0;
        socklen_t len = sizeof(v);
        CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
        return v;
}

/* A message bigger than the socket's send buffer grows the buffer, so it goes in one write instead of
 * one per buffer-full; a backlog of small messages leaves it alone. */
static void test_sndbuf_grows(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct message *got[1];
        unsigned n_eagain = 0;
        size_t n = 1024 * 1024;
        char *text = malloc(n + 1);
        CHECK(text);
        memset(text, 'x', n);
        text[n] = 0;
        struct message *big = built(1, text);

        /* May this process force a buffer past net.core.wmem_max? */
        socketpair_nb(sv);
        int probe = 4096;
        bool force = setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &probe, sizeof(probe)) == 0;
        close(sv[0]);
        close(sv[1]);
        long wmem_max = 0;
        FILE *f = fopen("/proc/sys/net/core/wmem_max", "re");
        CHECK(f);
        CHECK_EQ(fscanf(f, "%ld", &wmem_max), 1);
        fclose(f);

        /* Small messages that fill the socket: the buffer is not the problem, it stays as it is. */
        socketpair_nb(sv);
        int initial = sndbuf_of(sv[0]);
        struct message *small = built(2, "a small one");
        size_t n_small = 0;
        for (; n_small < 100000; n_small++) {
                CHECK_EQ(io_out_queue(&out, small, NULL), 0);
                if (n_small % 64 == 63 && io_out_flush(&out, sv[0]) == -EAGAIN)
                        break;
        }
        CHECK(n_small < 100000);
        CHECK_EQ(sndbuf_of(sv[0]), initial);
        io_out_done(&out);
        close(sv[0]);
        close(sv[1]);

        /* A 1 MiB message with nobody reading yet. */
        socketpair_nb(sv);
        CHECK(initial < (int)io_out_message_size(big)); /* else this proves nothing */
        CHECK_EQ(io_out_queue(&out, big, NULL), 0);
        int r = io_out_flush(&out, sv[0]);
        if (force) {
                /* The kernel doubles what it is given: room for this message and the next. */
                CHECK_EQ(r, 0);
                CHECK(sndbuf_of(sv[0]) >= 2 * (int)io_out_message_size(big));
        } else {
                /* Without CAP_NET_ADMIN the buffer grows only as far as net.core.wmem_max lets it. */
                CHECK(r == 0 || r == -EAGAIN);
                CHECK(sndbuf_of(sv[0]) >= (int)MIN(2 * (long)io_out_message_size(big), 2 * wmem_max));
                printf("  (no CAP_NET_ADMIN: the buffer grew to %d within wmem_max %ld)\n", sndbuf_of(sv[0]),
                       wmem_max);
        }
        CHECK_EQ(out.sndbuf, (size_t)sndbuf_of(sv[0]));
        /* and the message arrives whole */
        pump(&out, sv[0], &in, sv[1], false, got, 1, &n_eagain);
        check_same(got[0], big);
        message_unref(got[0]);

        message_unref(small);
        message_unref(big);
        io_out_done(&out);
        io_in_done(&in);
        free(text);
        close(sv[0]);
        close(sv[1]);
}

/* Many messages into a small socket buffer: flush stops with -EAGAIN and resumes mid-message. */
static void test_flush_eagain(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct message *sent[300], *got[300];
        size_t n = ELEMENTSOF(sent);
        unsigned n_eagain = 0;
        int small = 4096;

        socketpair_nb(sv);
        CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        CHECK_EQ(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        for (size_t i = 0; i < n; i++) {
                if (i % 4 == 0) {
                        char text[3000];
                        size_t l = 1 + (i * 37) % (sizeof(text) - 1);
                        memset(text, 'a' + (int)(i % 26), l);
                        text[l] = 0;
                        sent[i] = built((uint32_t)i + 1, text);
                } else {
                        sent[i] = stamped_sample(i, ":1.5");
                }
                CHECK_EQ(io_out_queue(&out, sent[i], NULL), 0);
        }
        /* Before reading anything: the socket fills, part of the queue is written. */
        size_t before = out.n_bytes;
        CHECK_EQ(io_out_flush(&out, sv[0]), -EAGAIN);
        CHECK(out.n_bytes < before);
        CHECK(out.head > 0 || out.offset > 0);
        CHECK_EQ(io_out_flush(&out, sv[0]), -EAGAIN); /* still full: nothing lost by asking again */

        /* Queue more while the socket is full; the FIFO keeps the order. */
        pump(&out, sv[0], &in, sv[1], true, got, n, &n_eagain);
        CHECK(n_eagain > 1);
        CHECK(io_out_empty(&out));
        CHECK_EQ(out.n_bytes, 0);
        for (size_t i = 0; i < n; i++) {
                check_same(got[i], sent[i]);
                CHECK_EQ(got[i]->n_fds, sent[i]->n_fds);
                message_unref(got[i]);
                message_unref(sent[i]);
        }
        CHECK_EQ(in.n_fds, 0);
        io_out_done(&out);
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);
}

/* Queue more messages while a flush is pending: io_out_queue() compacts the FIFO, order is kept. */
static void test_queue_while_blocked(void)
{
        int sv[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct message *sent[200], *got[200];
        size_t n = ELEMENTSOF(sent), queued = 0, have = 0;
        int small = 4096;

        socketpair_nb(sv);
        CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        for (size_t i = 0; i < n; i++)
                sent[i] = built((uint32_t)i + 1,
                                "0123456789012345678901234567890123456789012345678901234567890123"
                                "0123456789012345678901234567890123456789012345678901234567890123");
        while (have < n) {
                /* queue a few, flush, read a few */
                for (int k = 0; k < 7 && queued < n; k++)
                        CHECK_EQ(io_out_queue(&out, sent[queued++], NULL), 0);
                int r = io_out_flush(&out, sv[0]);
                CHECK(r == 0 || r == -EAGAIN);
                for (int k = 0; k < 3; k++) {
                        struct message *m = NULL;
                        int p = io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m);
                        CHECK(p >= 0);
                        if (p == 1) {
                                got[have++] = m;
                                continue;
                        }
                        static struct io_scratch small_scratch = {.data = scratch_buf, .size = 700};
                        ssize_t rd = io_in_read(&in, sv[1], &small_scratch, false);
                        CHECK(rd > 0 || rd == -EAGAIN);
                }
        }
        for (size_t i = 0; i < n; i++) {
                check_same(got[i], sent[i]);
                message_unref(got[i]);
                message_unref(sent[i]);
        }
        io_out_done(&out);
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);
}

static bool same_file(int a, int b)
{
        struct stat sa, sb;
        CHECK_EQ(fstat(a, &sa), 0);
        CHECK_EQ(fstat(b, &sb), 0);
        return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static struct message *with_fds(uint32_t serial, const int *fds, size_t n)
{
        struct msg_builder b;
        struct message *m = NULL;
        msg_builder_init(&b, MESSAGE_METHOD_CALL, serial);
        b.path = "/fd";
        b.member = "Pass";
        CHECK_EQ(msg_builder_append(&b, "s", "fds follow"), 0);
        for (size_t i = 0; i < n; i++)
                CHECK_EQ(msg_builder_append(&b, "h", fds[i]), 0);
        CHECK_EQ(msg_builder_finish(&b, &m), 0);
        CHECK_EQ(m->n_unix_fds, n);
        CHECK_EQ(m->n_fds, n);
        return m;
}

static void test_fd_passing(void)
{
        int sv[2], pipefd[2];
        struct io_out out = {0};
        struct io_in in = {0};
        struct message *sent[5], *got[5];
        unsigned n_eagain = 0;
        char tmpl[] = "/tmp/nsbus-test-io-XXXXXX";

        int file = mkstemp(tmpl);
        CHECK(file >= 0);
        unlink(tmpl);
        CHECK_EQ(pipe2(pipefd, O_CLOEXEC), 0);

        socketpair_nb(sv);
        int two[2] = {pipefd[1], file};
        sent[0] = built(1, "no fds before");
        sent[1] = with_fds(2, two, 2);
        sent[2] = built(3, "no fds between");
        sent[3] = with_fds(4, &pipefd[0], 1);
        sent[4] = with_fds(5, two, 2);
        for (size_t i = 0; i < ELEMENTSOF(sent); i++)
                CHECK_EQ(io_out_queue(&out, sent[i], NULL), 0);
        CHECK_EQ(out.n_fds, 5);
        pump(&out, sv[0], &in, sv[1], true, got, ELEMENTSOF(sent), &n_eagain);
        CHECK_EQ(out.n_fds, 0);

        for (size_t i = 0; i < ELEMENTSOF(sent); i++) {
                check_same(got[i], sent[i]);
                CHECK_EQ(got[i]->n_fds, got[i]->n_unix_fds);
        }
        CHECK_EQ(got[0]->n_fds, 0);
        CHECK_EQ(got[2]->n_fds, 0);
        CHECK_EQ(got[1]->n_fds, 2);
        CHECK(same_file(got[1]->fds[0], pipefd[1]));
        CHECK(same_file(got[1]->fds[1], file));
        CHECK(got[1]->fds[0] != pipefd[1]);
        CHECK_EQ(got[3]->n_fds, 1);
        CHECK(same_file(got[3]->fds[0], pipefd[0]));
        CHECK_EQ(got[4]->n_fds, 2);
        CHECK(same_file(got[4]->fds[0], pipefd[1]));
        CHECK(same_file(got[4]->fds[1], file));
        /* received with MSG_CMSG_CLOEXEC */
        CHECK(fcntl(got[1]->fds[0], F_GETFD) & FD_CLOEXEC);

        /* the received fds work: write through the received pipe end, read it from ours */
        CHECK_EQ(write(got[1]->fds[0], "x", 1), 1);
        char c;
        CHECK_EQ(read(pipefd[0], &c, 1), 1);
        CHECK_EQ(c, 'x');
        /* and the reader reads them as 'h' */
        struct msg_reader r;
        const char *s;
        int h0, h1;
        msg_reader_init(&r, got[4]);
        CHECK_EQ(msg_reader_read_basic(&r, 's', &s), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 'h', &h0), 0);
        CHECK_EQ(msg_reader_read_basic(&r, 'h', &h1), 0);
        CHECK_EQ(h0, got[4]->fds[0]);
        CHECK_EQ(h1, got[4]->fds[1]);
        CHECK_EQ(in.n_fds, 0);

        for (size_t i = 0; i < ELEMENTSOF(sent); i++) {
                message_unref(got[i]);
                message_unref(sent[i]);
        }
        io_out_done(&out);
        io_in_done(&in);
        close(pipefd[0]);
        close(pipefd[1]);
        close(file);
        close(sv[0]);
        close(sv[1]);
}

/* sendmsg() bytes with n fds attached. */
static void send_with_fds(int sock, const void *data, size_t len, const int *fds, size_t n)
{
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * 64)];
        } control;
        struct iovec iov = {(void *)data, len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        CHECK(n <= 64);
        if (n) {
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        }
        CHECK_EQ(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* fds on a connection that did not negotiate them: -EPROTO, and every one of them is closed. */
static void test_fds_refused(void)
{
        static const size_t counts[] = {1, 3, 10};
        for (size_t t = 0; t < ELEMENTSOF(counts); t++) {
                int sv[2], pipes[10][2], wr[10];
                struct io_in in = {0};
                size_t n = counts[t];

                socketpair_nb(sv);
                for (size_t i = 0; i < n; i++) {
                        CHECK_EQ(pipe2(pipes[i], O_CLOEXEC | O_NONBLOCK), 0);
                        wr[i] = pipes[i][1];
                }
                send_with_fds(sv[0], "l", 1, wr, n);
                /* Only the received copies keep the write ends open now. */
                for (size_t i = 0; i < n; i++)
                        close(pipes[i][1]);
                char c;
                CHECK_EQ(read(pipes[0][0], &c, 1), -1);
                CHECK_EQ(errno, EAGAIN);

                CHECK_EQ(io_in_read(&in, sv[1], scratch, false), -EPROTO);
                for (size_t i = 0; i < n; i++) {
                        /* EOF: no write end is left open anywhere */
                        if (read(pipes[i][0], &c, 1) != 0)
                                fprintf(stderr, "fd %zu of %zu still open after -EPROTO\n", i, n);
                        CHECK_EQ(read(pipes[i][0], &c, 1), 0);
                        close(pipes[i][0]);
                }
                CHECK_EQ(in.n_fds, 0);
                io_in_done(&in);
                close(sv[0]);
                close(sv[1]);
        }
}

/* A message whose UNIX_FDS promises more fds than arrived is malformed. */
static void test_missing_fds(void)
{
        int fds[2] = {-1, -1};
        fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(fds[0] >= 0 && fds[1] >= 0);

        for (size_t sent_fds = 0; sent_fds <= 2; sent_fds++) {
                int sv[2];
                struct io_in in = {0};
                struct message *m = with_fds(1, fds, 2), *got = NULL;
                size_t n;
                _cleanup_free_ uint8_t *w = wire_bytes(m, &n);

                socketpair_nb(sv);
                send_with_fds(sv[0], w, n, fds, sent_fds);
                CHECK_EQ(io_in_read(&in, sv[1], scratch, true), (ssize_t)n);
                CHECK_EQ(in.n_fds, sent_fds);
                int r = io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &got);
                if (sent_fds < 2) {
                        CHECK_INVALID(r);
                        CHECK(!got);
                } else {
                        CHECK_EQ(r, 1);
                        CHECK_EQ(got->n_fds, 2);
                        CHECK(same_file(got->fds[1], fds[1]));
                        message_unref(got);
                }
                message_unref(m);
                io_in_done(&in);
                close(sv[0]);
                close(sv[1]);
        }
        close(fds[0]);
        close(fds[1]);
}

static void test_bad_stream(void)
{
        int sv[2];
        struct io_in in = {0};
        struct message *m = NULL;

        /* not a D-Bus header */
        socketpair_nb(sv);
        CHECK_EQ(write(sv[0], "GET / HTTP/1.1\r\n\r\n", 18), 18);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), 18);
        CHECK_INVALID(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m));
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);

        /* a complete message that fails validation */
        struct message *good = built(1, "x");
        size_t n;
        _cleanup_free_ uint8_t *w = wire_bytes(good, &n);
        w[good->body_offset + 4 + 1] = 'y'; /* the NUL after "x" */
        socketpair_nb(sv);
        CHECK_EQ(write(sv[0], w, n), (ssize_t)n);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), (ssize_t)n);
        CHECK_INVALID(io_in_pop_message(&in, DBUS_MAXIMUM_MESSAGE_LENGTH, &m));
        CHECK(!m);
        message_unref(good);
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);

        /* a header announcing more than max_size */
        good = built(1, "a message of a few dozen bytes");
        socketpair_nb(sv);
        free(w);
        w = wire_bytes(good, &n);
        CHECK_EQ(write(sv[0], w, n), (ssize_t)n);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), (ssize_t)n);
        CHECK_INVALID(io_in_pop_message(&in, n - 1, &m));
        io_in_done(&in);
        CHECK_EQ(write(sv[0], w, n), (ssize_t)n);
        CHECK_EQ(io_in_read(&in, sv[1], scratch, false), (ssize_t)n);
        CHECK_EQ(io_in_pop_message(&in, n, &m), 1);
        message_unref(m);
        message_unref(good);
        io_in_done(&in);
        close(sv[0]);
        close(sv[1]);
}

static void test_peer_gone(void)
{
        int sv[2];
        struct io_out out = {0};
        struct message *m = built(1, "nobody listens");

        socketpair_nb(sv);
        close(sv[1]);
        CHECK_EQ(io_out_queue(&out, m, NULL), 0);
        CHECK_EQ(io_out_flush(&out, sv[0]), -EPIPE); /* and no SIGPIPE */
        io_out_done(&out);
        CHECK_EQ(m->n_ref, 1);
        message_unref(m);
        close(sv[0]);
}

/* Every charged message is released exactly once, in queue order, when it is written or dropped; the
 * charge and the message are handed back so the payer can be credited with its size. */
static struct {
        size_t n;
        uintptr_t charges[64];
        size_t bytes;
} released;

static void record_release(void *charge, const struct message *m)
{
        CHECK(released.n < ELEMENTSOF(released.charges));
        released.charges[released.n++] = (uintptr_t)charge;
        released.bytes += io_out_message_size(m);
}

static void test_release_charges(void)
{
        int sv[2], small = 4096;
        struct io_out out = {.release = record_release};
        struct message *sent[40];
        size_t n = ELEMENTSOF(sent), total = 0, n_charged = 0, charged_bytes = 0;

        released.n = 0;
        released.bytes = 0;
        socketpair_nb(sv);
        CHECK_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        CHECK_EQ(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
        for (size_t i = 0; i < n; i++) {
                char text[1500];
                memset(text, 'a' + (int)(i % 26), sizeof(text) - 1);
                text[sizeof(text) - 1] = 0;
                sent[i] = built((uint32_t)i + 1, text);
                /* Every third message is free (no charge): it must never reach release(). */
                void *charge = i % 3 == 2 ? NULL : (void *)(uintptr_t)(i + 1);
                CHECK_EQ(io_out_queue(&out, sent[i], charge), 0);
                total += io_out_message_size(sent[i]);
                if (charge) {
                        n_charged++;
                        charged_bytes += io_out_message_size(sent[i]);
                }
        }
        CHECK_EQ(out.n_bytes, total);

        /* A partly written message is not released yet: only whole ones are. */
        CHECK_EQ(io_out_flush(&out, sv[0]), -EAGAIN);
        size_t written_whole = out.head, expect = 0;
        CHECK(written_whole > 0 && written_whole < n);
        for (size_t i = 0; i < written_whole; i++)
                expect += i % 3 != 2;
        CHECK_EQ(released.n, expect);

        /* Drop the rest unwritten, as for a peer that goes away: io_out_done() releases what is left. */
        io_out_done(&out);
        CHECK(out.release == record_release);
        CHECK_EQ(released.n, n_charged);
        CHECK_EQ(released.bytes, charged_bytes);
        for (size_t i = 0, j = 0; i < n; i++)
                if (i % 3 != 2)
                        CHECK_EQ(released.charges[j++], i + 1);

        for (size_t i = 0; i < n; i++) {
                CHECK_EQ(sent[i]->n_ref, 1);
                message_unref(sent[i]);
        }
        close(sv[0]);
        close(sv[1]);
}

int main(void)
{
        int failed = 0;

        for (int pass = 0; pass < 2; pass++) {
                scratch = pass == 0 ? &lent_scratch : &owned_scratch;
                RUN(test_queue_flush_read);
                RUN(test_queue_inline_slot);
                RUN(test_split_reads);
                RUN(test_stash_partial_header);
                RUN(test_big_message);
                RUN(test_big_message_reads);
                RUN(test_flush_eagain);
                RUN(test_sndbuf_grows);
                RUN(test_queue_bytes);
                RUN(test_queue_while_blocked);
                RUN(test_fd_passing);
                RUN(test_fds_refused);
                RUN(test_missing_fds);
                RUN(test_bad_stream);
                RUN(test_peer_gone);
                RUN(test_release_charges);
        }
        RUN(test_adopt_scratch);
        io_scratch_done(&owned_scratch);
        return failed ? 1 : 0;
}
