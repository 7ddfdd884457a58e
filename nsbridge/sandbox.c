/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbridge's sandbox. The bridge handles bytes from an untrusted container,
 * so after set-up it is the container's mapped root with no capabilities at
 * all, no-new-privs, and a seccomp filter that allows exactly what its event
 * loop does: epoll, unix sockets, reads and writes, the clock, memory. The
 * allowlist is the one table below; anything else fails with EPERM, except
 * clone3, which fails with ENOSYS so that a libc that tries it falls back
 * to clone, which is refused too.
 */
#include <errno.h>
#include <grp.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox.h"

/* The syscalls of a running bridge, and why each is needed. */
static const struct {
        const char *name;
        const char *why;
} allowed[] = {
        {"epoll_wait", "the event loop"},
        {"epoll_pwait", "the event loop (glibc may use it for epoll_wait)"},
        {"epoll_ctl", "watching and unwatching connections"},
        {"poll", "asking, without waiting, whether the container's init has exited"},
        {"ppoll", "the same (glibc may use it for poll)"},
        {"recvmsg", "reading messages and fds"},
        {"sendmsg", "writing messages and fds"},
        {"sendto", "the SASL request (send())"},
        {"read", "signalfd wakeups"},
        {"write", "log lines on stderr"},
        {"writev", "log lines on stderr (stdio may use it)"},
        {"close", "closing connections and passed fds"},
        {"connect", "(re)connecting to a bus"},
        {"fcntl", "making a new connection non-blocking"},
        {"getsockopt", "socket errors"},
        {"clock_gettime", "timestamps (when the vDSO cannot answer)"},
        {"clock_nanosleep", "never slept on, but glibc's sleep paths end here"},
        {"getuid", "the uid for SASL EXTERNAL"},
        {"geteuid", "the uid for SASL EXTERNAL"},
        {"getpid", "log lines"},
        {"gettid", "abort()"},
        {"tgkill", "abort()"},
        {"rt_sigprocmask", "abort() and libc internals"},
        {"rt_sigreturn", "returning from a signal"},
        {"brk", "malloc"},
        {"mmap", "malloc of large blocks"},
        {"munmap", "free of large blocks"},
        {"mremap", "realloc of large blocks"},
        {"madvise", "malloc trimming"},
        {"futex", "libc locks"},
        {"getrandom", "hash seeds"},
        {"newfstatat", "stdio's first write to stderr"},
        {"fstat", "stdio's first write to stderr"},
        {"lseek", "stdio"},
        {"restart_syscall", "a syscall interrupted by a signal"},
        {"exit", "ending a thread"},
        {"exit_group", "exiting"},
};

int sandbox_drop_privileges(uid_t uid, gid_t gid)
{
        /* The bounding set first, while CAP_SETPCAP is still there: nothing ever executed afterwards
         * could regain a capability from a file. */
        for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (cap_drop_bound(cap) < 0 && errno != EINVAL)
                        return -errno;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return -errno;

        /* Changing every uid away from 0 clears the permitted and effective sets already; make it
         * explicit, and make sure of it. */
        cap_t none = cap_init();
        if (!none)
                return -ENOMEM;
        int r = cap_set_proc(none) < 0 ? -errno : 0;
        cap_free(none);
        if (r < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

int sandbox_enter(char *err, size_t errlen)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!ctx) {
                snprintf(err, errlen, "seccomp_init failed");
                return -ENOMEM;
        }
        int r = 0;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && r >= 0; i++) {
                int nr = seccomp_syscall_resolve_name(allowed[i].name);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* not on this architecture (fstat on arm64, ...) */
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                if (r < 0)
                        snprintf(err, errlen, "seccomp: cannot allow %s: %s", allowed[i].name, strerror(-r));
        }
        /* Sockets: unix only. */
        if (r >= 0 && (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                                            SCMP_A0(SCMP_CMP_EQ, AF_UNIX))) < 0)
                snprintf(err, errlen, "seccomp: cannot allow socket: %s", strerror(-r));
        if (r >= 0 && (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
                snprintf(err, errlen, "seccomp: cannot refuse clone3: %s", strerror(-r));
        if (r >= 0 && (r = seccomp_load(ctx)) < 0)
                snprintf(err, errlen, "seccomp: cannot load the filter: %s", strerror(-r));
        seccomp_release(ctx);
        return r;
}
