/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The translation rules of lib/nsview.c on synthetic namespaces: a host, a
 * container mapped 0 100000 65536 with its own pid namespace, a container
 * nested in it mapped 0 1000 1000, and a sibling container. Every expected
 * value is what the kernel's SO_PEERCRED would report to that viewer.
 */
#include <errno.h>
#include <stdint.h>

#include "nsview.h"
#include "test.h"
#include "util.h"

#define OVERFLOW 65534

/* ---- idmap_parse ---- */

static void test_parse(void)
{
        struct idmap m;

        CHECK_EQ(idmap_parse("         0     100000      65536\n", &m), 0);
        CHECK_EQ(m.n, 1);
        CHECK_EQ(m.extents[0].inside, 0);
        CHECK_EQ(m.extents[0].outside, 100000);
        CHECK_EQ(m.extents[0].count, 65536);
        idmap_done(&m);
        CHECK(!m.extents);

        CHECK_EQ(idmap_parse("0 1000 1\n1 100001 65535\n", &m), 0);
        CHECK_EQ(m.n, 2);
        idmap_done(&m);

        /* the identity map of the initial namespace, and a missing final newline */
        CHECK_EQ(idmap_parse("0 0 4294967295", &m), 0);
        CHECK_EQ(m.extents[0].count, UINT32_MAX);
        idmap_done(&m);

        /* a namespace whose map was not written yet maps nothing */
        CHECK_EQ(idmap_parse("", &m), 0);
        CHECK_EQ(m.n, 0);
        uint32_t x;
        CHECK(!idmap_to_inside(&m, 0, &x));
        idmap_done(&m);

        static const char *const bad[] = {
                "0 100000\n",                  /* two fields */
                "0 100000 65536 7\n",          /* four */
                "0 100000 0\n",                /* empty extent */
                "a 100000 1\n",                /* not a number */
                "-1 100000 1\n",               /* negative */
                "0 4294967295 2\n",            /* outside range wraps */
                "4294967295 0 2\n",            /* inside range wraps */
                "0 4294967296 1\n",            /* above 32 bits */
                "0 100000 10\n5 200000 10\n",  /* inside ranges overlap */
                "0 100000 10\n20 100005 10\n", /* outside ranges overlap */
                "0 1 1\n\n",                   /* an empty line */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (idmap_parse(bad[i], &m) != -EINVAL) {
                        fprintf(stderr, "accepted bad map: \"%s\"\n", bad[i]);
                        CHECK(false);
                }
        }

        /* the kernel's limit on extents */
        char big[341 * 16 + 1], *p = big, *last = big;
        for (unsigned i = 0; i < 341; i++) {
                last = p;
                p += sprintf(p, "%u %u 1\n", i, 1000 + i);
        }
        CHECK_EQ(idmap_parse(big, &m), -E2BIG);
        *last = 0; /* 340 extents are fine */
        CHECK_EQ(idmap_parse(big, &m), 0);
        CHECK_EQ(m.n, IDMAP_MAX_EXTENTS);
        CHECK(idmap_to_inside(&m, 1339, &x));
        CHECK_EQ(x, 339);
        idmap_done(&m);
}

/* ---- ids ---- */

static struct idmap map_of(const char *text)
{
        struct idmap m;
        CHECK_EQ(idmap_parse(text, &m), 0);
        return m;
}

static void test_ids(void)
{
        struct idmap host, c1, nested, sibling;
        CHECK_EQ(idmap_identity(&host), 0);
        c1 = map_of("0 100000 65536\n");
        /* nested "0 1000 1000" inside c1, as the bus (on the host) reads it: composed by the kernel */
        nested = map_of("0 101000 1000\n");
        sibling = map_of("0 200000 65536\n");

        /* the host sees host ids */
        CHECK_EQ(idmap_view(&host, 101000, OVERFLOW), 101000);
        CHECK_EQ(idmap_view(&host, 0, OVERFLOW), 0);

        /* the container sees its own: its root, its uid 1000, and host root as overflow */
        CHECK_EQ(idmap_view(&c1, 100000, OVERFLOW), 0);
        CHECK_EQ(idmap_view(&c1, 101000, OVERFLOW), 1000);
        CHECK_EQ(idmap_view(&c1, 165535, OVERFLOW), 65535);
        CHECK_EQ(idmap_view(&c1, 165536, OVERFLOW), OVERFLOW);
        CHECK_EQ(idmap_view(&c1, 99999, OVERFLOW), OVERFLOW);
        CHECK_EQ(idmap_view(&c1, 0, OVERFLOW), OVERFLOW);

        /* through both levels: c1's uid 1000 is the nested root; c1's root is not mapped there */
        CHECK_EQ(idmap_view(&nested, 101000, OVERFLOW), 0);
        CHECK_EQ(idmap_view(&nested, 101999, OVERFLOW), 999);
        CHECK_EQ(idmap_view(&nested, 100000, OVERFLOW), OVERFLOW);
        CHECK_EQ(idmap_view(&nested, 102000, OVERFLOW), OVERFLOW);

        /* a sibling container sees none of c1's ids */
        CHECK_EQ(idmap_view(&sibling, 100000, OVERFLOW), OVERFLOW);
        CHECK_EQ(idmap_view(&sibling, 200000, OVERFLOW), 0);

        /* (uid_t)-1 is invalid everywhere, even through the identity map */
        CHECK_EQ(idmap_view(&host, UINT32_MAX, OVERFLOW), OVERFLOW);

        /* a peer's uid as its own namespace sees it (what SASL EXTERNAL may claim), and back */
        uint32_t x;
        CHECK(idmap_to_inside(&c1, 101000, &x));
        CHECK_EQ(x, 1000);
        CHECK(idmap_to_outside(&c1, 1000, &x));
        CHECK_EQ(x, 101000);
        CHECK(!idmap_to_outside(&c1, 65536, &x));
        CHECK(idmap_to_outside(&nested, 0, &x));
        CHECK_EQ(x, 101000);

        /* several extents: each maps on its own */
        struct idmap multi = map_of("0 100000 10\n1000 300000 5\n");
        CHECK_EQ(idmap_view(&multi, 300004, OVERFLOW), 1004);
        CHECK_EQ(idmap_view(&multi, 300005, OVERFLOW), OVERFLOW);
        CHECK_EQ(idmap_view(&multi, 100009, OVERFLOW), 9);
        CHECK_EQ(idmap_view(&multi, 100010, OVERFLOW), OVERFLOW);

        idmap_done(&host);
        idmap_done(&c1);
        idmap_done(&nested);
        idmap_done(&sibling);
        idmap_done(&multi);
}

/* ---- pids ---- */

static void test_pids(void)
{
        /* namespace ids: host 1, c1 2 (child of host), nested 3 (child of c1), sibling 4 (child of host),
         * nested2 5 (another child of c1) */
        const struct ns_chain host = {.level = 0, .chain = {1}};
        const struct ns_chain c1 = {.level = 1, .chain = {1, 2}};
        const struct ns_chain nested = {.level = 2, .chain = {1, 2, 3}};
        const struct ns_chain sibling = {.level = 1, .chain = {1, 4}};
        const struct ns_chain nested2 = {.level = 2, .chain = {1, 2, 5}};
        const struct ns_chain foreign = {.foreign = true};

        const pid_t p_host[] = {500};
        const pid_t p_c1[] = {4000, 7};
        const pid_t p_nested[] = {4100, 30, 2};
        const pid_t p_nested2[] = {4200, 40, 9};

        /* a host peer: only the host sees it */
        CHECK_EQ(pidns_view_pid(&host, &host, p_host, 1), 500);
        CHECK_EQ(pidns_view_pid(&c1, &host, p_host, 1), 0);
        CHECK_EQ(pidns_view_pid(&nested, &host, p_host, 1), 0);

        /* a container peer: the host sees the host pid, the container its own, siblings nothing */
        CHECK_EQ(pidns_view_pid(&host, &c1, p_c1, 2), 4000);
        CHECK_EQ(pidns_view_pid(&c1, &c1, p_c1, 2), 7);
        CHECK_EQ(pidns_view_pid(&sibling, &c1, p_c1, 2), 0);
        CHECK_EQ(pidns_view_pid(&nested, &c1, p_c1, 2), 0);

        /* a nested peer: every ancestor sees it at its own level */
        CHECK_EQ(pidns_view_pid(&host, &nested, p_nested, 3), 4100);
        CHECK_EQ(pidns_view_pid(&c1, &nested, p_nested, 3), 30);
        CHECK_EQ(pidns_view_pid(&nested, &nested, p_nested, 3), 2);
        CHECK_EQ(pidns_view_pid(&sibling, &nested, p_nested, 3), 0);
        /* ... but not a nested sibling at the same depth */
        CHECK_EQ(pidns_view_pid(&nested2, &nested, p_nested, 3), 0);
        CHECK_EQ(pidns_view_pid(&nested, &nested2, p_nested2, 3), 0);
        CHECK_EQ(pidns_view_pid(&c1, &nested2, p_nested2, 3), 40);

        /* nothing is visible to or from a foreign namespace */
        CHECK_EQ(pidns_view_pid(&foreign, &host, p_host, 1), 0);
        CHECK_EQ(pidns_view_pid(&host, &foreign, p_host, 1), 0);

        /* an NSpid list shorter than the chain (a peer whose levels are unknown) never yields a pid */
        CHECK_EQ(pidns_view_pid(&c1, &c1, p_c1, 1), 0);
        CHECK_EQ(pidns_view_pid(&host, &c1, p_c1, 0), 0);
}

/* Who is inside a container: its namespace and those below it, never a sibling, an ancestor or a foreign
 * one. */
static void test_within(void)
{
        const struct ns_chain host = {.level = 0, .chain = {1}};
        const struct ns_chain c1 = {.level = 1, .chain = {1, 2}};
        const struct ns_chain nested = {.level = 2, .chain = {1, 2, 3}};
        const struct ns_chain sibling = {.level = 1, .chain = {1, 4}};
        const struct ns_chain under_sibling = {.level = 2, .chain = {1, 4, 3}};
        const struct ns_chain foreign = {.foreign = true};

        CHECK(ns_chain_within(&c1, &c1));
        CHECK(ns_chain_within(&nested, &c1));
        CHECK(ns_chain_within(&c1, &host));
        CHECK(!ns_chain_within(&host, &c1));
        CHECK(!ns_chain_within(&sibling, &c1));
        /* the same id deeper down a sibling branch is not inside: the whole path must match */
        CHECK(!ns_chain_within(&under_sibling, &c1));
        CHECK(!ns_chain_within(&foreign, &c1));
        CHECK(!ns_chain_within(&c1, &foreign));
        CHECK(!ns_chain_within(&foreign, &foreign));
}

int main(void)
{
        int failed = 0;

        RUN(test_parse);
        RUN(test_ids);
        RUN(test_pids);
        RUN(test_within);
        return failed != 0;
}
