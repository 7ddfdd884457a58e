/* connect-rate: the cost of a whole client connection to a bus, and idle peers.
 *
 *   connect-rate ADDRESS N        N sequential connect / AUTH EXTERNAL / BEGIN / Hello /
 *                                 wait for the Hello reply / close cycles; prints
 *                                 "us_per_cycle <float>".
 *   connect-rate --watches K ADDRESS N
 *                                 the same, timed after K NameOwnerChanged watches (one arg0
 *                                 each, as every client that watches a name installs them, 400
 *                                 per connection) are installed and answered: every connect and
 *                                 every disconnect is a NameOwnerChanged broadcast.
 *   connect-rate --hold ADDRESS N open N connections (each with its Hello answered), print
 *                                 "held N" and sleep until killed: the bus's idle peers.
 *
 * The client pipelines its opening in one write, as sd-bus does, so what is timed is
 * the bus's accept + SASL + Hello path plus the kernel's socket set-up and teardown. */
#include "rawbus.h"

#include <signal.h>

#define WATCHES_PER_CONN 400

/* An AddMatch call (body: one string) to the driver. */
static size_t build_add_match(uint8_t *out, uint32_t serial, const char *rule) {
	struct rawbuf h = {.len = 16};
	uint8_t fixed[16] = {'l', 1, 0, 1};
	memcpy(h.data, fixed, 16);
	memcpy(h.data + 8, &serial, 4);
	rawbuf_put_field(&h, 1, 'o', "/org/freedesktop/DBus");
	rawbuf_put_field(&h, 2, 's', "org.freedesktop.DBus");
	rawbuf_put_field(&h, 3, 's', "AddMatch");
	rawbuf_put_field(&h, 6, 's', "org.freedesktop.DBus");
	rawbuf_put_field(&h, 8, 'g', "s");
	uint32_t fields_len = h.len - 16;
	memcpy(h.data + 12, &fields_len, 4);
	rawbuf_align(&h, 8);
	size_t body_start = h.len;
	rawbuf_put_string(&h, rule);
	uint32_t body_len = h.len - body_start;
	memcpy(h.data + 4, &body_len, 4);
	memcpy(out, h.data, h.len);
	return h.len;
}

/* After the opening: read the SASL OK line, then until want method returns have arrived (signals
 * skipped); -EPROTO on a rejected SASL or an error reply. */
static int read_returns(int fd, long want) {
	static uint8_t buf[1 << 16];
	size_t len = 0;
	int sasl_done = 0;
	while (want > 0) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		len += k;
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
		while ((m = raw_message_size(buf, len)) && m <= len) {
			if (buf[1] == 3)
				return -EPROTO;
			want -= buf[1] == 2;
			memmove(buf, buf + m, len - m);
			len -= m;
		}
		if (m > sizeof(buf))
			return -EMSGSIZE;
	}
	return 0;
}

/* K NameOwnerChanged watches on connections that stay open until exit. */
static int install_watches(const char *address, long k) {
	static uint8_t out[WATCHES_PER_CONN * 512 + 1024];
	for (long i = 0; i < k;) {
		int fd = raw_connect_path(address);
		if (fd < 0)
			return fd;
		size_t len = raw_build_opening(out);
		long n = 0;
		for (; n < WATCHES_PER_CONN && i < k; n++, i++) {
			char rule[256];
			snprintf(rule, sizeof(rule),
				 "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
				 "member='NameOwnerChanged',path='/org/freedesktop/DBus',arg0='org.nsbus.Watched%ld'",
				 i);
			len += build_add_match(out + len, 2 + n, rule);
		}
		int r = raw_write_all(fd, out, len);
		if (r == 0)
			r = read_returns(fd, 1 + n); /* Hello and every AddMatch */
		if (r < 0)
			return r;
	}
	return 0;
}

int main(int argc, char **argv) {
	int hold = argc > 1 && strcmp(argv[1], "--hold") == 0;
	int watching = !hold && argc > 2 && strcmp(argv[1], "--watches") == 0;
	int skip = hold ? 1 : watching ? 2 : 0;
	if (argc != 3 + skip) {
		fprintf(stderr, "usage: connect-rate [--hold | --watches K] ADDRESS N\n");
		return 2;
	}
	const char *address = argv[1 + skip];
	long n = strtol(argv[2 + skip], NULL, 10);
	if (watching) {
		int r = install_watches(address, strtol(argv[2], NULL, 10));
		if (r < 0) {
			fprintf(stderr, "connect-rate: installing the watches: %s\n", strerror(-r));
			return 1;
		}
	}
	uint8_t opening[1024];
	size_t olen = raw_build_opening(opening);

	double t0 = raw_now();
	for (long i = 0; i < n; i++) {
		int fd = raw_connect_path(address);
		if (fd < 0) {
			fprintf(stderr, "connect-rate: connection %ld: connect: %s\n", i, strerror(-fd));
			return 1;
		}
		int r = raw_write_all(fd, opening, olen);
		if (r == 0)
			r = raw_read_hello_reply(fd);
		if (r < 0) {
			fprintf(stderr, "connect-rate: connection %ld: %s\n", i, strerror(-r));
			return 1;
		}
		if (!hold)
			close(fd);
	}
	double t = raw_now() - t0;
	if (hold) {
		printf("held %ld\n", n);
		fflush(stdout);
		for (;;)
			pause();
	}
	printf("us_per_cycle %.2f\n", t * 1e6 / n);
	return 0;
}
