/* broadcast: the cost of delivering a signal to its subscribers while other match rules are installed.
 *
 *   broadcast ADDRESS SUBSCRIBERS RULES N [WINDOW]
 *
 * Opens SUBSCRIBERS connections that each add the rule
 *     type='signal',interface='org.nsbus.Bench',member='Tick'
 * and enough further connections to install RULES rules that do not match a Tick (at most 400 per
 * connection, below every bus's default max_match_rules_per_connection). Then one more connection
 * emits N Tick signals, keeping at most WINDOW (default 32) ahead of the slowest subscriber, and the
 * clock runs from the first Tick until every subscriber has received the Nth. Prints
 *     broadcasts_per_s <float>
 *     us_per_broadcast <float>
 *
 * The non-matching rules are four kinds in turn, the shapes real clients install: a Properties
 * subscription for another sender and object; the same interface with another member; the same
 * interface and member on another object path; a NameOwnerChanged watch for one name (arg0). The
 * third kind is the one an index by sender and member alone cannot skip.
 *
 * Everything runs in one process on non-blocking sockets, so the client side is the same small cost
 * for every bus: messages are framed, counted, never parsed beyond the type byte. */
#include "rawbus.h"

#include <fcntl.h>
#include <poll.h>

#define RULES_PER_CONN 400

struct conn {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	int sasl_done;
	long returns, errors, signals;
	long want_returns; /* Hello and the AddMatch calls sent */
};

/* A message with string fields and an optional body of one string argument. */
static size_t build(uint8_t *out, uint8_t type, uint32_t serial, const char *dest, const char *path,
		    const char *iface, const char *member, const char *arg) {
	struct rawbuf h = {.len = 16};
	uint8_t fixed[16] = {'l', type, type == 4 ? 1 : 0, 1};
	memcpy(h.data, fixed, 16);
	memcpy(h.data + 8, &serial, 4);
	rawbuf_put_field(&h, 1, 'o', path);
	rawbuf_put_field(&h, 2, 's', iface);
	rawbuf_put_field(&h, 3, 's', member);
	if (dest)
		rawbuf_put_field(&h, 6, 's', dest);
	if (arg)
		rawbuf_put_field(&h, 8, 'g', "s");
	uint32_t fields_len = h.len - 16;
	memcpy(h.data + 12, &fields_len, 4);
	rawbuf_align(&h, 8);
	size_t body_start = h.len;
	if (arg)
		rawbuf_put_string(&h, arg);
	uint32_t body_len = h.len - body_start;
	memcpy(h.data + 4, &body_len, 4);
	memcpy(out, h.data, h.len);
	return h.len;
}

static void noise_rule(char *out, size_t n, long i) {
	switch (i % 4) {
	case 0:
		snprintf(out, n,
			 "type='signal',sender='org.nsbus.Noise.N%ld',interface='org.freedesktop.DBus.Properties',"
			 "member='PropertiesChanged',path='/org/nsbus/noise/%ld'",
			 i, i);
		break;
	case 1:
		snprintf(out, n, "type='signal',interface='org.nsbus.Bench',member='Other%ld'", i);
		break;
	case 2:
		snprintf(out, n, "type='signal',interface='org.nsbus.Bench',member='Tick',path='/org/nsbus/noise/%ld'",
			 i);
		break;
	default:
		snprintf(out, n,
			 "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
			 "member='NameOwnerChanged',arg0='org.nsbus.Noise.N%ld'",
			 i);
		break;
	}
}

static void die(const char *what) {
	fprintf(stderr, "broadcast: %s\n", what);
	exit(1);
}

/* raw_write_all() for a non-blocking socket: wait for room instead of failing. */
static void write_all(int fd, const uint8_t *p, size_t len) {
	while (len) {
		ssize_t k = write(fd, p, len);
		if (k < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			if (poll(&pf, 1, 10000) <= 0)
				die("the bus takes no more input for 10 s");
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("write failed");
		p += k;
		len -= k;
	}
}

static void conn_open(struct conn *c, const char *address) {
	*c = (struct conn){.cap = 1 << 16};
	c->fd = raw_connect_path(address);
	if (c->fd < 0) {
		fprintf(stderr, "broadcast: connect: %s\n", strerror(-c->fd));
		exit(1);
	}
	c->buf = malloc(c->cap);
	if (!c->buf)
		die("out of memory");
	uint8_t opening[1024];
	if (raw_write_all(c->fd, opening, raw_build_opening(opening)) < 0)
		die("write failed");
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

/* Read what is there and count it; 0, or -1 on EOF or error. */
static int conn_read(struct conn *c) {
	for (;;) {
		if (c->len == c->cap) {
			c->cap *= 2;
			c->buf = realloc(c->buf, c->cap);
			if (!c->buf)
				die("out of memory");
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		c->len += n;
		size_t off = 0;
		if (!c->sasl_done) {
			uint8_t *e = memmem(c->buf, c->len, "\r\n", 2);
			if (!e)
				continue;
			if (memcmp(c->buf, "OK ", 3) != 0)
				die("authentication rejected");
			off = e + 2 - c->buf;
			c->sasl_done = 1;
		}
		for (;;) {
			size_t m = raw_message_size(c->buf + off, c->len - off);
			if (m == 0 || c->len - off < m)
				break;
			switch (c->buf[off + 1]) {
			case 2:
				c->returns++;
				break;
			case 3:
				c->errors++;
				break;
			case 4:
				c->signals++;
				break;
			}
			off += m;
		}
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
}

/* Poll every connection until done() holds. */
static void pump(struct conn *cs, size_t n, int (*done)(struct conn *, size_t)) {
	struct pollfd *p = calloc(n, sizeof(*p));
	if (!p)
		die("out of memory");
	while (!done(cs, n)) {
		for (size_t i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
		if (poll(p, n, 10000) <= 0)
			die("no answer from the bus for 10 s");
		for (size_t i = 0; i < n; i++)
			if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && conn_read(&cs[i]) < 0)
				die("the bus closed a connection");
	}
	free(p);
}

static int all_answered(struct conn *cs, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (cs[i].errors)
			die("the bus refused an AddMatch");
		if (cs[i].returns < cs[i].want_returns)
			return 0;
	}
	return 1;
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: broadcast ADDRESS SUBSCRIBERS RULES N [WINDOW]\n");
		return 2;
	}
	const char *address = argv[1];
	long n_subs = strtol(argv[2], NULL, 10), n_rules = strtol(argv[3], NULL, 10);
	long n = strtol(argv[4], NULL, 10), window = argc > 5 ? strtol(argv[5], NULL, 10) : 32;
	if (n_subs < 1 || n_rules < 0 || n < 1 || window < 1)
		die("SUBSCRIBERS, N and WINDOW must be positive, RULES not negative");
	long n_noise = (n_rules + RULES_PER_CONN - 1) / RULES_PER_CONN;
	size_t n_conns = n_subs + n_noise + 1;
	struct conn *cs = calloc(n_conns, sizeof(*cs));
	if (!cs)
		die("out of memory");
	for (size_t i = 0; i < n_conns; i++)
		conn_open(&cs[i], address);
	struct conn *subs = cs, *noise = cs + n_subs, *sender = cs + n_subs + n_noise;

	/* Hello (serial 1), then the rules, pipelined per connection; every one answered before timing. */
	static uint8_t out[RULES_PER_CONN * 512];
	for (long i = 0; i < n_subs; i++) {
		size_t len = raw_build_add_match(out, 2, "type='signal',interface='org.nsbus.Bench',member='Tick'");
		write_all(subs[i].fd, out, len);
		subs[i].want_returns = 2;
	}
	long next_rule = 0;
	for (long c = 0; c < n_noise; c++) {
		size_t len = 0;
		uint32_t k = 0;
		for (; k < RULES_PER_CONN && next_rule < n_rules; k++, next_rule++) {
			char rule[512];
			noise_rule(rule, sizeof(rule), next_rule);
			len += raw_build_add_match(out + len, 2 + k, rule);
		}
		write_all(noise[c].fd, out, len);
		noise[c].want_returns = 1 + k;
	}
	sender->want_returns = 1;
	pump(cs, n_conns, all_answered);
	/* NameAcquired came before the AddMatch replies: from here on, every signal is a Tick. */
	for (long i = 0; i < n_subs; i++)
		subs[i].signals = 0;

	size_t tick_len = build(out, 4, 0, NULL, "/org/nsbus/bench", "org.nsbus.Bench", "Tick", "tick");
	struct pollfd *p = calloc(n_conns, sizeof(*p));
	if (!p)
		die("out of memory");
	long sent = 0;
	double t0 = raw_now();
	for (;;) {
		long slowest = n;
		for (long i = 0; i < n_subs; i++)
			slowest = subs[i].signals < slowest ? subs[i].signals : slowest;
		if (slowest == n)
			break;
		/* Stay at most WINDOW ahead of the slowest subscriber: a flood would only measure queues. */
		while (sent < n && sent - slowest < window) {
			uint32_t serial = (uint32_t)(2 + sent);
			memcpy(out + 8, &serial, 4);
			write_all(sender->fd, out, tick_len);
			sent++;
		}
		/* The subscribers and the sender only: the rule holders receive nothing, and polling them would
		 * add the client's cost of the rules to what is measured. */
		for (long i = 0; i < n_subs; i++)
			p[i] = (struct pollfd){.fd = subs[i].fd, .events = POLLIN};
		p[n_subs] = (struct pollfd){.fd = sender->fd, .events = POLLIN};
		if (poll(p, n_subs + 1, 10000) <= 0)
			die("subscribers received nothing for 10 s");
		for (long i = 0; i <= n_subs; i++)
			if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && conn_read(i < n_subs ? &subs[i] : sender) < 0)
				die("the bus closed a connection");
		if (sender->errors)
			die("the bus answered a Tick with an error");
	}
	double t = raw_now() - t0;
	printf("broadcasts_per_s %.1f\nus_per_broadcast %.3f\n", n / t, t * 1e6 / n);
	return 0;
}
