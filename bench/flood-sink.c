/* flood-sink: the receiver of the one-way flood.
 *
 *   flood-sink ADDRESS NAME N [IDLE_TIMEOUT_S]
 *
 * Connects, takes NAME, prints "ready", then counts method calls until N have
 * arrived and exits 0 printing "received N".  It exits 1 ("received K of N") if
 * nothing arrives for IDLE_TIMEOUT_S seconds (default 10): a bus that drops part of
 * a flood must not be reported as fast.  Messages are only framed, never parsed. */
#include "rawbus.h"

#include <poll.h>

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: flood-sink ADDRESS NAME N [IDLE_TIMEOUT_S]\n");
		return 2;
	}
	long want = strtol(argv[3], NULL, 10);
	int idle_ms = (argc > 4 ? atoi(argv[4]) : 10) * 1000;
	int fd = raw_connect_path(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "flood-sink: connect: %s\n", strerror(-fd));
		return 1;
	}
	uint8_t out[2048];
	size_t olen = raw_build_opening(out);
	olen += raw_build_driver_call(out + olen, 2, "RequestName", argv[2], 4 /* DO_NOT_QUEUE */);
	if (raw_write_all(fd, out, olen) < 0)
		return 1;

	static uint8_t buf[1 << 20];
	size_t len = 0;
	int sasl_done = 0, returns = 0;
	long calls = 0;
	while (calls < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, idle_ms) == 0) {
			printf("received %ld of %ld\n", calls, want);
			return 1;
		}
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0) {
			printf("received %ld of %ld (connection closed)\n", calls, want);
			return 1;
		}
		len += n;
		size_t off = 0;
		if (!sasl_done) {
			uint8_t *e = memmem(buf, len, "\r\n", 2);
			if (!e)
				continue;
			off = e + 2 - buf;
			sasl_done = 1;
		}
		for (;;) {
			size_t m = raw_message_size(buf + off, len - off);
			if (m == 0 || len - off < m)
				break;
			if (m > sizeof(buf)) {
				fprintf(stderr, "flood-sink: message of %zu bytes\n", m);
				return 1;
			}
			uint8_t type = buf[off + 1];
			if (type == 1)
				calls++;
			else if (type == 3) {
				fprintf(stderr, "flood-sink: error reply during set-up\n");
				return 1;
			} else if (type == 2 && ++returns == 2) {
				printf("ready\n");
				fflush(stdout);
			}
			off += m;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
	}
	printf("received %ld\n", calls);
	return 0;
}
