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
 *   connect-rate --hold-named K ADDRESS N
 *                                 the same, the first K of them owning a well-known name each
 *                                 (org.nsbus.Bench.PeerI, asked for right behind the Hello and
 *                                 answered): the peers a bus listing shows.
 *
 * The client pipelines its opening in one write, as sd-bus does, so what is timed is
 * the bus's accept + SASL + Hello path plus the kernel's socket set-up and teardown. */
#include "rawbus.h"

#include <signal.h>

#define WATCHES_PER_CONN 400

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
			len += raw_build_add_match(out + len, 2 + n, rule);
		}
		int r = raw_write_all(fd, out, len);
		if (r == 0)
			r = raw_read_returns(fd, 1 + n); /* Hello and every AddMatch */
		if (r < 0)
			return r;
	}
	return 0;
}

int main(int argc, char **argv) {
	int named_hold = argc > 2 && strcmp(argv[1], "--hold-named") == 0;
	int hold = named_hold || (argc > 1 && strcmp(argv[1], "--hold") == 0);
	int watching = !hold && argc > 2 && strcmp(argv[1], "--watches") == 0;
	int skip = named_hold || watching ? 2 : hold ? 1 : 0;
	if (argc != 3 + skip) {
		fprintf(stderr, "usage: connect-rate [--hold | --hold-named K | --watches K] ADDRESS N\n");
		return 2;
	}
	const char *address = argv[1 + skip];
	long n = strtol(argv[2 + skip], NULL, 10);
	long named = named_hold ? strtol(argv[2], NULL, 10) : 0;
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
		size_t len = olen;
		if (i < named) {
			char name[64];
			snprintf(name, sizeof(name), "org.nsbus.Bench.Peer%ld", i);
			len += raw_build_driver_call(opening + olen, 2, "RequestName", name, 4 /* DO_NOT_QUEUE */);
		}
		int r = raw_write_all(fd, opening, len);
		if (r == 0)
			r = raw_read_returns(fd, i < named ? 2 : 1); /* Hello, and RequestName */
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
