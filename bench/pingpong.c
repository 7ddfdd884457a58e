/* pingpong: the physical limit under any bus.  Two processes on a socketpair
 * (SOCK_STREAM, like a bus connection) bounce SIZE bytes N times; prints
 * "round_trips_per_s <float>".  A method call through a bus is two such round
 * trips (caller -> bus -> callee and back), so a bus can at best do half this
 * many sequential calls per second.
 *
 *   pingpong N SIZE */
#include "rawbus.h"

#include <sys/wait.h>

static int read_all(int fd, uint8_t *p, size_t len) {
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: pingpong N SIZE\n");
		return 2;
	}
	long n = strtol(argv[1], NULL, 10);
	size_t size = strtoul(argv[2], NULL, 10);
	uint8_t *buf = calloc(1, size);
	int sv[2];
	if (!buf || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(sv[0]);
		while (read_all(sv[1], buf, size) == 0)
			if (raw_write_all(sv[1], buf, size) < 0)
				break;
		_exit(0);
	}
	close(sv[1]);
	double t0 = raw_now();
	for (long i = 0; i < n; i++)
		if (raw_write_all(sv[0], buf, size) < 0 || read_all(sv[0], buf, size) < 0)
			return 1;
	double t = raw_now() - t0;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	printf("round_trips_per_s %.0f\n", n / t);
	return 0;
}
