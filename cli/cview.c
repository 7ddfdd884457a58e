/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A container's view of host ids (cview.h): what nsbusctl creds and list show in the container column. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cview.h"
#include "message.h"
#include "util.h"

int cview_from_info(const struct message *info, struct cview *v)
{
        if (info->type != MESSAGE_METHOD_RETURN)
                return 0;
        struct msg_reader rd;
        const char *name;
        uint32_t pid;
        msg_reader_init(&rd, info);
        if (!streq(info->signature, "sua(uuu)a(uuu)") || msg_reader_read_basic(&rd, 's', &name) < 0 ||
            msg_reader_read_basic(&rd, 'u', &pid) < 0 || idmap_read(&rd, &v->uid_map) < 0 ||
            idmap_read(&rd, &v->gid_map) < 0)
                return -EBADMSG;
        snprintf(v->name, sizeof(v->name), "%s", name);
        v->init = (pid_t)pid;
        return 1;
}

void cview_done(struct cview *v)
{
        idmap_done(&v->uid_map);
        idmap_done(&v->gid_map);
}

/* The peer's pid namespace is the container's or below it: its parents, up to the depth, include it. */
static bool pid_ns_within(pid_t pid, pid_t init)
{
        char path[64];
        struct stat want, st;
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
        if (stat(path, &want) < 0)
                return false;
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        for (int depth = 0; fd >= 0 && depth < 33; depth++) {
                if (fstat(fd, &st) == 0 && st.st_ino == want.st_ino && st.st_dev == want.st_dev) {
                        close(fd);
                        return true;
                }
                int parent = ioctl(fd, NS_GET_PARENT);
                close(fd);
                fd = parent;
        }
        if (fd >= 0)
                close(fd);
        return false;
}

/* NSpid of /proc/PID/status: the pid in each pid namespace, outermost first. */
static size_t ns_pids(pid_t pid, pid_t *out, size_t max)
{
        char path[64], line[512];
        size_t n = 0;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "NSpid:", 6) == 0) {
                        char *p = line + 6, *end;
                        long v;
                        while (n < max && (v = strtol(p, &end, 10), end != p)) {
                                out[n++] = (pid_t)v;
                                p = end;
                        }
                        break;
                }
        return n;
}

int64_t cview_uid(const struct cview *v, int64_t host_uid)
{
        uint32_t in;
        if (host_uid < 0)
                return -1;
        return idmap_to_inside(&v->uid_map, (uint32_t)host_uid, &in) ? (int64_t)in : CVIEW_OVERFLOW_ID;
}

uint32_t cview_gid(const struct cview *v, uint32_t host_gid)
{
        uint32_t in;
        return idmap_to_inside(&v->gid_map, host_gid, &in) ? in : CVIEW_OVERFLOW_ID;
}

int64_t cview_pid(const struct cview *v, int64_t host_pid)
{
        if (host_pid <= 0)
                return -1;
        pid_t peer[33], init[33];
        size_t n_peer = ns_pids((pid_t)host_pid, peer, ELEMENTSOF(peer));
        size_t n_init = ns_pids(v->init, init, ELEMENTSOF(init));
        if (n_init > 0 && n_peer >= n_init && pid_ns_within((pid_t)host_pid, v->init))
                return peer[n_init - 1];
        return 0;
}
