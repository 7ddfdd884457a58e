/* bus-start: how long a per-container nsbusd takes from exec until it accepts clients, for N buses
 * serving the same container, and how much memory they take together once all are up.
 *
 *   bus-start NSBUSD INIT_PID RUNTIME_DIR N
 *
 * For each bus: fork, exec `NSBUSD --container-pid=INIT_PID --name=bI --runtime-dir=RUNTIME_DIR
 * --nofork --print-address=3`, wait for the address line (printed once the sockets listen), then
 * connect to its host.sock; the time from fork to that connect is the start time. All N stay up until
 * their summed VmRSS and PSS have been read; then they are stopped. Prints "start_ms_median X",
 * "start_ms_max X", "rss_total_kib X" and "pss_total_kib X". */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A "Key: N kB" line of a /proc file, or -1. */
static long proc_kib(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256], fmt[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	snprintf(fmt, sizeof(fmt), "%s %%ld", key);
	FILE *f = fopen(path, "r");
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bus-start NSBUSD INIT_PID RUNTIME_DIR N\n");
		return 2;
	}
	int n = atoi(argv[4]);
	pid_t *pids = calloc(n, sizeof(pid_t));
	double *ms = calloc(n, sizeof(double));
	int failed = 0;

	for (int i = 0; i < n && !failed; i++) {
		int pfd[2];
		if (pipe(pfd) < 0)
			return 1;
		char pid_arg[64], name_arg[64], dir_arg[4096];
		snprintf(pid_arg, sizeof(pid_arg), "--container-pid=%s", argv[2]);
		snprintf(name_arg, sizeof(name_arg), "--name=b%d", i);
		snprintf(dir_arg, sizeof(dir_arg), "--runtime-dir=%s", argv[3]);
		double t0 = now_ms();
		pid_t pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			if (pfd[1] != 3) {
				dup2(pfd[1], 3);
				close(pfd[1]);
			}
			execl(argv[1], argv[1], pid_arg, name_arg, dir_arg, "--nofork", "--print-address=3",
			      (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		pids[i] = pid;
		char buf[512];
		size_t have = 0;
		while (have < sizeof(buf) - 1 && !memchr(buf, '\n', have)) {
			ssize_t r = read(pfd[0], buf + have, sizeof(buf) - 1 - have);
			if (r <= 0)
				break;
			have += (size_t)r;
		}
		close(pfd[0]);
		if (!memchr(buf, '\n', have)) {
			fprintf(stderr, "bus %d printed no address\n", i);
			failed = 1;
			break;
		}
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/b%d/host.sock", argv[3], i);
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "bus %d: connect %s: %s\n", i, sa.sun_path, strerror(errno));
			failed = 1;
		}
		ms[i] = now_ms() - t0;
		close(s);
	}

	/* RSS counts the shared library pages in every process; PSS divides them among their users, so its
	 * sum is what the buses really take together. */
	long total = 0, total_pss = 0;
	for (int i = 0; i < n && pids[i]; i++) {
		long r = proc_kib(pids[i], "status", "VmRSS:"), p = proc_kib(pids[i], "smaps_rollup", "Pss:");
		total += r > 0 ? r : 0;
		total_pss += p > 0 ? p : 0;
	}
	for (int i = 0; i < n && pids[i]; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < n && pids[i]; i++)
		waitpid(pids[i], NULL, 0);
	if (failed)
		return 1;
	qsort(ms, n, sizeof(double), cmp_double);
	printf("start_ms_median %.2f\nstart_ms_max %.2f\nrss_total_kib %ld\npss_total_kib %ld\n", ms[n / 2],
	       ms[n - 1], total, total_pss);
	return 0;
}
