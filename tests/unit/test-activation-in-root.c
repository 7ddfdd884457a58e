/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon/activation.c: which service files a bus loads, and what it reads from them. A container bus
 * reads them inside the container's root (activation_load_in_root): a tree under /tmp plays that root,
 * and files next to it play the host's, which no path or link inside the root may lead to.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "activation.h"
#include "bus-harness.h"
#include "names.h"
#include "test.h"

static char dir[] = "/tmp/test-activation.XXXXXX";
static char root[300], host_services[300];

static void mkdirs(const char *path)
{
        char buf[600];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        mkdir(buf, 0755);
                        *p = '/';
                }
        mkdir(buf, 0755);
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        CHECK(f);
        CHECK(fputs(text, f) >= 0);
        CHECK_EQ(fclose(f), 0);
}

static void service(const char *dir_path, const char *file, const char *text)
{
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir_path, file);
        write_file(path, text);
}

static void setup(void)
{
        CHECK(mkdtemp(dir));
        char path[600], target[600];
        snprintf(root, sizeof(root), "%s/root", dir);
        snprintf(host_services, sizeof(host_services), "%s/host-services", dir);
        mkdirs(host_services);
        service(host_services, "org.test.Host.service",
                "[D-BUS Service]\nName=org.test.Host\nExec=/usr/bin/host-only\nUser=root\n");

        /* The container's standard directory, with a valid file, files that are not valid, and links
         * that would lead to the host's file if followed on the host. */
        snprintf(path, sizeof(path), "%s/usr/share/dbus-1/system-services", root);
        mkdirs(path);
        service(path, "org.test.Inside.service",
                "# a comment\n[D-BUS Service]\nName=org.test.Inside\nExec=/opt/svc/run --flag 'two words'\n"
                "User=svc\nSystemdService=inside.service\n");
        service(path, "org.test.NoExec.service", "[D-BUS Service]\nName=org.test.NoExec\nUser=svc\n");
        service(path, "org.test.BadName.service", "[D-BUS Service]\nName=not a name\nExec=/x\nUser=svc\n");
        service(path, "org.test.OtherGroup.service", "[Other]\nName=org.test.OtherGroup\nExec=/x\n");
        service(path, "readme.txt", "[D-BUS Service]\nName=org.test.NotAServiceFile\nExec=/x\n");
        snprintf(target, sizeof(target), "%s/org.test.Host.service", host_services);
        snprintf(path, sizeof(path), "%s/usr/share/dbus-1/system-services/org.test.Host.service", root);
        CHECK_EQ(symlink(target, path), 0);
        snprintf(target, sizeof(target), "../../../../../../../../../..%s/org.test.Host.service",
                 host_services);
        snprintf(path, sizeof(path), "%s/usr/share/dbus-1/system-services/org.test.HostRel.service", root);
        CHECK_EQ(symlink(target, path), 0);
        /* A directory the config names that is a link to the host's directory. */
        snprintf(path, sizeof(path), "%s/usr/local/share/dbus-1", root);
        mkdirs(path);
        snprintf(path, sizeof(path), "%s/usr/local/share/dbus-1/system-services", root);
        CHECK_EQ(symlink(host_services, path), 0);
        /* A second directory: its copy of an earlier name loses. */
        snprintf(path, sizeof(path), "%s/lib/dbus-1/system-services", root);
        mkdirs(path);
        service(path, "org.test.Inside.service",
                "[D-BUS Service]\nName=org.test.Inside\nExec=/late\nUser=x\n");
        service(path, "org.test.Late.service", "[D-BUS Service]\nName=org.test.Late\nExec=/late\nUser=x\n");
}

static char *dirs[] = {"/usr/local/share/dbus-1/system-services", "/usr/share/dbus-1/system-services",
                       "/lib/dbus-1/system-services", NULL};

static void test_in_root(void)
{
        struct harness h;
        harness_init(&h);
        int r = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(r >= 0);
        CHECK_EQ(activation_load_in_root(h.bus, r, dirs, 3), 0);

        CHECK(activation_is_activatable(h.bus, "org.test.Inside"));
        struct activation_entry *e = names_get(h.bus, "org.test.Inside")->activatable;
        CHECK_STREQ(e->exec, "/opt/svc/run --flag 'two words'");
        CHECK_STREQ(e->user, "svc");
        CHECK_STREQ(e->file, "/usr/share/dbus-1/system-services/org.test.Inside.service");
        CHECK(activation_is_activatable(h.bus, "org.test.Late"));
        CHECK(!activation_is_activatable(h.bus, "org.test.NoExec"));
        CHECK(!activation_is_activatable(h.bus, "org.test.OtherGroup"));
        CHECK(!activation_is_activatable(h.bus, "org.test.NotAServiceFile"));
        /* Nothing of the host's: not through a link to its file, nor through a link to its directory. */
        CHECK(!activation_is_activatable(h.bus, "org.test.Host"));

        /* A reload reads the root again; the host's file is as far away as before. */
        char path[600];
        snprintf(path, sizeof(path), "%s/usr/share/dbus-1/system-services/org.test.Added.service", root);
        write_file(path, "[D-BUS Service]\nName=org.test.Added\nExec=/added\nUser=svc\n");
        CHECK_EQ(activation_load_in_root(h.bus, r, dirs, 3), 0);
        CHECK(activation_is_activatable(h.bus, "org.test.Added"));
        CHECK(activation_is_activatable(h.bus, "org.test.Inside"));
        CHECK(!activation_is_activatable(h.bus, "org.test.Host"));
        CHECK_EQ(unlink(path), 0);
        CHECK_EQ(activation_load_in_root(h.bus, r, dirs, 3), 0);
        CHECK(!activation_is_activatable(h.bus, "org.test.Added"));
        close(r);
        harness_done(&h);
}

/* The same directories read on the host do reach the host's file: the test above can fail. */
static void test_on_host(void)
{
        struct harness h;
        harness_init(&h);
        char a[600];
        snprintf(a, sizeof(a), "%s/usr/share/dbus-1/system-services", root);
        char *host_dirs[] = {a, NULL};
        CHECK_EQ(activation_load(h.bus, host_dirs, 1), 0);
        CHECK(activation_is_activatable(h.bus, "org.test.Inside"));
        CHECK(activation_is_activatable(h.bus, "org.test.Host"));
        harness_done(&h);
}

int main(void)
{
        int failed = 0;
        setup();
        RUN(test_in_root);
        RUN(test_on_host);
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
        return failed ? 1 : 0;
}
