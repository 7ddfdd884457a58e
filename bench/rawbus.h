/* Minimal raw D-Bus client pieces shared by the bench helpers.
 *
 * The helpers talk to the bus with hand-built messages instead of libdbus so that
 * the client side costs next to nothing and is identical for every bus measured:
 * what is timed is the bus, not a client library.  Only little-endian messages
 * and unix:path= addresses are handled; that is all the bench produces. */
#pragma once

#define _GNU_SOURCE /* memmem */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct rawbuf {
	uint8_t data[4096];
	size_t len;
};

static inline void rawbuf_align(struct rawbuf *b, size_t a) {
	while (b->len % a)
		b->data[b->len++] = 0;
}

static inline void rawbuf_put_u32(struct rawbuf *b, uint32_t v) {
	rawbuf_align(b, 4);
	memcpy(b->data + b->len, &v, 4);
	b->len += 4;
}

static inline void rawbuf_put_string(struct rawbuf *b, const char *s) {
	uint32_t n = strlen(s);
	rawbuf_put_u32(b, n);
	memcpy(b->data + b->len, s, n + 1);
	b->len += n + 1;
}

/* One header field: (code, variant of type sig) inside the a(yv) array. */
static inline void rawbuf_put_field(struct rawbuf *b, uint8_t code, char sig, const char *s) {
	rawbuf_align(b, 8);
	b->data[b->len++] = code;
	b->data[b->len++] = 1;
	b->data[b->len++] = (uint8_t)sig;
	b->data[b->len++] = 0;
	if (sig == 'g') {
		b->data[b->len++] = (uint8_t)strlen(s);
		memcpy(b->data + b->len, s, strlen(s) + 1);
		b->len += strlen(s) + 1;
	} else {
		rawbuf_put_string(b, s);
	}
}

/* A method call to the driver: member with a body of signature sig, "" (none), "s" (str) or "su" (str, u). */
static inline size_t raw_build_driver_call_sig(uint8_t *out, uint32_t serial, const char *member, const char *sig,
					       const char *str, uint32_t u) {
	struct rawbuf h = {.len = 0};
	uint8_t fixed[16] = {'l', 1, 0, 1};
	memcpy(h.data, fixed, 16);
	h.len = 16;
	memcpy(h.data + 8, &serial, 4);
	size_t fields_start = 16;
	rawbuf_put_field(&h, 1, 'o', "/org/freedesktop/DBus");
	rawbuf_put_field(&h, 2, 's', "org.freedesktop.DBus");
	rawbuf_put_field(&h, 3, 's', member);
	rawbuf_put_field(&h, 6, 's', "org.freedesktop.DBus");
	if (sig[0])
		rawbuf_put_field(&h, 8, 'g', sig);
	uint32_t fields_len = h.len - fields_start;
	memcpy(h.data + 12, &fields_len, 4);
	rawbuf_align(&h, 8);
	size_t body_start = h.len;
	if (sig[0])
		rawbuf_put_string(&h, str);
	if (sig[0] && sig[1])
		rawbuf_put_u32(&h, u);
	uint32_t body_len = h.len - body_start;
	memcpy(h.data + 4, &body_len, 4);
	memcpy(out, h.data, h.len);
	return h.len;
}

/* A driver call with an optional body of signature "su" (Hello, RequestName). */
static inline size_t raw_build_driver_call(uint8_t *out, uint32_t serial, const char *member, const char *name,
					   uint32_t flags) {
	return raw_build_driver_call_sig(out, serial, member, name ? "su" : "", name, flags);
}

static inline size_t raw_build_add_match(uint8_t *out, uint32_t serial, const char *rule) {
	return raw_build_driver_call_sig(out, serial, "AddMatch", "s", rule, 0);
}

/* Total size of the message at p, or 0 if fewer than 16 bytes are there. */
static inline size_t raw_message_size(const uint8_t *p, size_t avail) {
	if (avail < 16)
		return 0;
	uint32_t body, fields;
	memcpy(&body, p + 4, 4);
	memcpy(&fields, p + 12, 4);
	return 16 + ((fields + 7) & ~7u) + body;
}

static inline int raw_connect_path(const char *address) {
	const char *p = strstr(address, "path=");
	if (!p)
		return -EINVAL;
	p += 5;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strcspn(p, ",;");
	if (n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, p, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static inline int raw_write_all(int fd, const void *buf, size_t len) {
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* The bytes a client sends to open a connection: NUL, AUTH EXTERNAL, BEGIN and a
 * Hello call, all in one write (the pipelining the spec allows and sd-bus does). */
static inline size_t raw_build_opening(uint8_t *out) {
	char auth[128];
	char uid[32], hex[64] = "";
	snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
	for (size_t i = 0; uid[i]; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)uid[i]);
	int n = snprintf(auth, sizeof(auth), "AUTH EXTERNAL %s\r\nBEGIN\r\n", hex);
	out[0] = 0;
	memcpy(out + 1, auth, n);
	return 1 + n + raw_build_driver_call(out + 1 + n, 1, "Hello", NULL, 0);
}

/* After the opening: read until the OK line, then until want method returns have arrived (signals
 * skipped). Returns 0, -EPROTO on a rejected SASL or an error reply, -EPIPE on EOF. */
static inline int raw_read_returns(int fd, long want) {
	uint8_t buf[8192];
	size_t len = 0;
	int sasl_done = 0;
	while (want > 0) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		len += n;
		if (!sasl_done) {
			uint8_t *e = memmem(buf, len, "\r\n", 2);
			if (!e)
				continue;
			if (memcmp(buf, "OK ", 3) != 0)
				return -EPROTO;
			size_t used = e + 2 - buf;
			memmove(buf, buf + used, len - used);
			len -= used;
			sasl_done = 1;
		}
		size_t m;
		while (want > 0 && (m = raw_message_size(buf, len)) && m <= len) {
			if (buf[1] == 3)
				return -EPROTO;
			want -= buf[1] == 2;
			memmove(buf, buf + m, len - m);
			len -= m;
		}
		if (len >= 16 && raw_message_size(buf, len) > sizeof(buf))
			return -EMSGSIZE;
	}
	return 0;
}

/* The reply to the Hello of raw_build_opening(). */
static inline int raw_read_hello_reply(int fd) {
	return raw_read_returns(fd, 1);
}

static inline double raw_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
