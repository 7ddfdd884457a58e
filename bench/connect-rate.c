/* connect-rate: the cost of a whole client connection to a bus, and idle peers.
 *
 *   connect-rate ADDRESS N        N sequential connect / AUTH EXTERNAL / BEGIN / Hello /
 *                                 wait for the Hello reply / close cycles; prints
 *                                 "us_per_cycle <float>".
 *   connect-rate --hold ADDRESS N open N connections (each with its Hello answered), print
 *                                 "held N" and sleep until killed: the bus's idle peers.
 *
 * The client pipelines its opening in one write, as sd-bus does, so what is timed is
 * the bus's accept + SASL + Hello path plus the kernel's socket set-up and teardown. */
#include "rawbus.h"

#include <signal.h>

int main(int argc, char **argv) {
	int hold = argc > 1 && strcmp(argv[1], "--hold") == 0;
	if (argc != 3 + hold) {
		fprintf(stderr, "usage: connect-rate [--hold] ADDRESS N\n");
		return 2;
	}
	const char *address = argv[1 + hold];
	long n = strtol(argv[2 + hold], NULL, 10);
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
