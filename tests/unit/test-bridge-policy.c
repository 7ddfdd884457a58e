/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for policy/bridge-policy.c: the language of nsbus-policy(5). The
 * import semantics follow xdg-dbus-proxy's --see/--talk/--call/--broadcast
 * (flatpak-proxy.c: filter_new_from_rule() and filter_matches()); every error
 * is checked with its exact "FILE:LINE: reason" text, since that text is what
 * an administrator sees when a container does not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "bridge-policy.h"
#include "test.h"

#define FILENAME "c1.policy"

static struct bridge_policy *parse_len(const char *text, size_t len)
{
        struct bridge_policy *p = NULL;
        char error[1024] = "untouched";
        int r;

        r = bridge_policy_parse(text, len, FILENAME, &p, error, sizeof(error));
        if (r != 0)
                fprintf(stderr, "unexpected parse error %d: %s\n", r, error);
        CHECK_EQ(r, 0);
        CHECK(p);
        CHECK_STREQ(error, "");
        return p;
}

static struct bridge_policy *parse(const char *text)
{
        return parse_len(text, strlen(text));
}

static void check_error_len(const char *text, size_t len, const char *expected)
{
        struct bridge_policy *p = NULL;
        char error[1024];

        CHECK_EQ(bridge_policy_parse(text, len, FILENAME, &p, error, sizeof(error)), -EINVAL);
        CHECK(!p);
        CHECK_STREQ(error, expected);
}

static void check_error(const char *text, const char *expected)
{
        check_error_len(text, strlen(text), expected);
}

/* The call and broadcast answers for one message, which the tests below mostly want together. */
static bool may_call(const struct bridge_policy *p, const char *name, const char *interface,
                     const char *member, const char *path)
{
        return bridge_policy_may_call(p, name, interface, member, path);
}

static bool may_broadcast(const struct bridge_policy *p, const char *name, const char *interface,
                          const char *member, const char *path)
{
        return bridge_policy_may_broadcast(p, name, interface, member, path);
}

static const char EXAMPLE[] =
        "# one file per container\n"
        "import talk org.example.Host                                # all calls/signals of that name\n"
        "import see  org.example.Visible                             # listed and tracked, no calls\n"
        "import call org.example.Other org.example.Other.Get@/org/example/Other    # [METHOD][@PATH]\n"
        "import broadcast org.example.Other org.example.Other.Changed@/org/example/*\n"
        "export own com.example.Web as com.example.Web.c1            # container name published on the host "
        "bus\n";

static void test_example(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = parse(EXAMPLE);
        const struct bridge_import_name *n;
        const struct bridge_export *x;

        CHECK_EQ(bridge_policy_import_level(p, "org.example.Host"), BRIDGE_LEVEL_TALK);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Visible"), BRIDGE_LEVEL_SEE);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Other"), BRIDGE_LEVEL_FILTERED);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Unknown"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Host.Sub"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "org.example"), BRIDGE_LEVEL_NONE);
        CHECK(bridge_policy_is_imported(p, "org.example.Host"));
        CHECK(bridge_policy_is_imported(p, "org.example.Visible"));
        CHECK(bridge_policy_is_imported(p, "org.example.Other"));
        CHECK(!bridge_policy_is_imported(p, "org.example.Unknown"));
        CHECK(!bridge_policy_is_imported(p, "com.example.Web"));

        /* talk: anything, in both directions. */
        CHECK(may_call(p, "org.example.Host", "org.example.Anything", "Do", "/"));
        CHECK(may_call(p, "org.example.Host", NULL, "Do", "/x/y"));
        CHECK(may_broadcast(p, "org.example.Host", "org.example.Anything", "Happened", "/x"));

        /* see: visible, nothing else. */
        CHECK(!may_call(p, "org.example.Visible", "org.freedesktop.DBus.Peer", "Ping", "/"));
        CHECK(!may_call(p, "org.example.Visible", NULL, "Ping", "/"));
        CHECK(!may_broadcast(p, "org.example.Visible", "org.example.Visible", "Changed", "/"));

        /* call: exactly that method at exactly that path. */
        CHECK(may_call(p, "org.example.Other", "org.example.Other", "Get", "/org/example/Other"));
        CHECK(!may_call(p, "org.example.Other", "org.example.Other", "Set", "/org/example/Other"));
        CHECK(!may_call(p, "org.example.Other", "org.example.Other", "Get", "/org/example/Other/Sub"));
        CHECK(!may_call(p, "org.example.Other", "org.example.Other", "Get", "/org/example"));
        CHECK(!may_call(p, "org.example.Other", "org.example.Otherx", "Get", "/org/example/Other"));
        CHECK(!may_call(p, "org.example.Other", NULL, "Get", "/org/example/Other"));
        CHECK(!may_call(p, "org.example.Other", "org.example.Other", "Get", NULL));
        /* The call rule is not a broadcast rule. */
        CHECK(!may_broadcast(p, "org.example.Other", "org.example.Other", "Get", "/org/example/Other"));

        /* broadcast: that signal, at /org/example and below. */
        CHECK(may_broadcast(p, "org.example.Other", "org.example.Other", "Changed", "/org/example"));
        CHECK(may_broadcast(p, "org.example.Other", "org.example.Other", "Changed", "/org/example/Other"));
        CHECK(may_broadcast(p, "org.example.Other", "org.example.Other", "Changed", "/org/example/a/b/c"));
        CHECK(!may_broadcast(p, "org.example.Other", "org.example.Other", "Changed", "/org/examples"));
        CHECK(!may_broadcast(p, "org.example.Other", "org.example.Other", "Changed", "/org"));
        CHECK(!may_broadcast(p, "org.example.Other", "org.example.Other", "Removed", "/org/example"));
        /* And the broadcast rule is not a call rule. */
        CHECK(!may_call(p, "org.example.Other", "org.example.Other", "Changed", "/org/example"));

        /* Nothing leaks to names that are not imported. */
        CHECK(!may_call(p, "org.example.Unknown", "org.example.Other", "Get", "/org/example/Other"));
        CHECK(!may_broadcast(p, "org.example.Unknown", "org.example.Other", "Changed", "/org/example"));
        CHECK(!may_call(p, "com.example.Web", NULL, "Get", "/"));

        /* Import names: three, in the order of their first line; the two Other lines merged. */
        CHECK_EQ(bridge_policy_n_imports(p), 3);
        n = bridge_policy_import_name(p, 0);
        CHECK(n);
        CHECK_STREQ(n->name, "org.example.Host");
        CHECK(!n->subtree);
        CHECK_STREQ(bridge_policy_import_name(p, 1)->name, "org.example.Visible");
        CHECK_STREQ(bridge_policy_import_name(p, 2)->name, "org.example.Other");
        CHECK(!bridge_policy_import_name(p, 3));

        CHECK_EQ(bridge_policy_n_exports(p), 1);
        x = bridge_policy_export(p, 0);
        CHECK(x);
        CHECK_STREQ(x->container_name, "com.example.Web");
        CHECK_STREQ(x->host_name, "com.example.Web.c1");
        CHECK(!bridge_policy_export(p, 1));
        CHECK(bridge_policy_export_by_container_name(p, "com.example.Web") == x);
        CHECK(bridge_policy_export_by_host_name(p, "com.example.Web.c1") == x);
        CHECK(!bridge_policy_export_by_host_name(p, "com.example.Web"));
        CHECK(!bridge_policy_export_by_container_name(p, "com.example.Web.c1"));
}

static void test_wildcard_names(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = parse("import talk org.example.*\n"
                                                                "import see net.example.Exact\n");
        const struct bridge_import_name *n;

        /* NAME.* is the name itself and every name below it, by whole elements. */
        CHECK_EQ(bridge_policy_import_level(p, "org.example"), BRIDGE_LEVEL_TALK);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Foo"), BRIDGE_LEVEL_TALK);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Foo.Bar"), BRIDGE_LEVEL_TALK);
        CHECK_EQ(bridge_policy_import_level(p, "org.exampleX"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "org.exampleX.Foo"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "org.exampl"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "org"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "net.org.example"), BRIDGE_LEVEL_NONE);
        CHECK(may_call(p, "org.example.Foo.Bar", "org.example.Foo", "Baz", "/"));
        CHECK(!may_call(p, "org.exampleX", "org.example.Foo", "Baz", "/"));

        /* Without .* a name is only itself. */
        CHECK_EQ(bridge_policy_import_level(p, "net.example.Exact"), BRIDGE_LEVEL_SEE);
        CHECK_EQ(bridge_policy_import_level(p, "net.example.Exact.Sub"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "net.example"), BRIDGE_LEVEL_NONE);

        CHECK_EQ(bridge_policy_n_imports(p), 2);
        n = bridge_policy_import_name(p, 0);
        CHECK_STREQ(n->name, "org.example");
        CHECK(n->subtree);
        n = bridge_policy_import_name(p, 1);
        CHECK_STREQ(n->name, "net.example.Exact");
        CHECK(!n->subtree);

        /* Queries never match by accident on odd input. */
        CHECK_EQ(bridge_policy_import_level(p, NULL), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, ""), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.*"), BRIDGE_LEVEL_TALK); /* below org.example */
        CHECK_EQ(bridge_policy_import_level(p, "net.example.Exact.*"), BRIDGE_LEVEL_NONE);
        CHECK(!may_call(p, NULL, "org.example.Foo", "Baz", "/"));
}

/* Wildcard names whose subtrees nest: the level of a name is the highest of every entry that matches it. */
static void test_nested_wildcards(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p =
                parse("import see org.example.*\n"
                      "import talk org.example.Foo.*\n"
                      "import call org.example.Bar org.example.Bar.Get\n"
                      "import see org.example.Foo.Bar\n");

        CHECK_EQ(bridge_policy_import_level(p, "org.example"), BRIDGE_LEVEL_SEE);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Baz"), BRIDGE_LEVEL_SEE);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Foo"), BRIDGE_LEVEL_TALK);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Foo.Bar"), BRIDGE_LEVEL_TALK);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Bar"), BRIDGE_LEVEL_FILTERED);
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Bar.Sub"), BRIDGE_LEVEL_SEE);

        CHECK(may_call(p, "org.example.Foo.Bar", "any.Iface", "Any", "/"));
        CHECK(!may_call(p, "org.example.Baz", "any.Iface", "Any", "/"));
        CHECK(may_call(p, "org.example.Bar", "org.example.Bar", "Get", "/"));
        CHECK(!may_call(p, "org.example.Bar.Sub", "org.example.Bar", "Get", "/"));
        CHECK_EQ(bridge_policy_n_imports(p), 4);
}

static void test_merge(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p =
                parse("import see org.example.A\n"
                      "import call org.example.A org.example.A.One\n"
                      "import call org.example.A org.example.A.Two@/two\n"
                      "import broadcast org.example.A org.example.A.Sig\n"
                      "import talk org.example.B\n"
                      "import see org.example.B\n"
                      "import call org.example.B org.example.B.Only\n"
                      "import see org.example.C\n"
                      "import see org.example.C\n"
                      "import see org.example.C.*\n");

        /* Rules add up; the level is the highest. */
        CHECK_EQ(bridge_policy_import_level(p, "org.example.A"), BRIDGE_LEVEL_FILTERED);
        CHECK(may_call(p, "org.example.A", "org.example.A", "One", "/anywhere"));
        CHECK(may_call(p, "org.example.A", "org.example.A", "Two", "/two"));
        CHECK(!may_call(p, "org.example.A", "org.example.A", "Two", "/three"));
        CHECK(!may_call(p, "org.example.A", "org.example.A", "Three", "/two"));
        CHECK(may_broadcast(p, "org.example.A", "org.example.A", "Sig", "/"));
        CHECK(!may_broadcast(p, "org.example.A", "org.example.A", "One", "/"));

        /* A later see or call does not lower talk. */
        CHECK_EQ(bridge_policy_import_level(p, "org.example.B"), BRIDGE_LEVEL_TALK);
        CHECK(may_call(p, "org.example.B", "org.example.B", "Other", "/"));
        CHECK(may_broadcast(p, "org.example.B", "org.example.B", "Other", "/"));

        /* One entry per name as written: "C" twice is one, "C.*" is another. */
        CHECK_EQ(bridge_policy_import_level(p, "org.example.C"), BRIDGE_LEVEL_SEE);
        CHECK_EQ(bridge_policy_n_imports(p), 4);
        CHECK_STREQ(bridge_policy_import_name(p, 0)->name, "org.example.A");
        CHECK_STREQ(bridge_policy_import_name(p, 1)->name, "org.example.B");
        CHECK_STREQ(bridge_policy_import_name(p, 2)->name, "org.example.C");
        CHECK(!bridge_policy_import_name(p, 2)->subtree);
        CHECK_STREQ(bridge_policy_import_name(p, 3)->name, "org.example.C");
        CHECK(bridge_policy_import_name(p, 3)->subtree);
}

static void test_level_order(void)
{
        static const char *const lines[] = {
                "import see a.b\n",
                "import call a.b *\n",
                "import broadcast a.b *\n",
                "import talk a.b\n",
        };
        static const enum bridge_level levels[] = {
                BRIDGE_LEVEL_SEE,
                BRIDGE_LEVEL_FILTERED,
                BRIDGE_LEVEL_FILTERED,
                BRIDGE_LEVEL_TALK,
        };

        CHECK(BRIDGE_LEVEL_NONE < BRIDGE_LEVEL_SEE);
        CHECK(BRIDGE_LEVEL_SEE < BRIDGE_LEVEL_FILTERED);
        CHECK(BRIDGE_LEVEL_FILTERED < BRIDGE_LEVEL_TALK);

        /* Every pair, in both orders: the result is the higher level. */
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                for (size_t j = 0; j < ELEMENTSOF(lines); j++) {
                        char text[128];
                        struct bridge_policy *p;

                        snprintf(text, sizeof(text), "%s%s", lines[i], lines[j]);
                        p = parse(text);
                        CHECK_EQ(bridge_policy_import_level(p, "a.b"),
                                 levels[i] > levels[j] ? levels[i] : levels[j]);
                        CHECK_EQ(bridge_policy_n_imports(p), 1);
                        bridge_policy_free(p);
                }
}

static void test_call_and_broadcast_stay_apart(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *calls = parse("import call a.b *\n");
        _cleanup_bridge_policy_ struct bridge_policy *signals = parse("import broadcast a.b *\n");

        CHECK(may_call(calls, "a.b", "a.b.I", "M", "/"));
        CHECK(may_call(calls, "a.b", NULL, "M", "/x"));
        CHECK(!may_broadcast(calls, "a.b", "a.b.I", "M", "/"));
        CHECK(!may_broadcast(calls, "a.b", NULL, "M", "/"));

        CHECK(may_broadcast(signals, "a.b", "a.b.I", "M", "/"));
        CHECK(!may_call(signals, "a.b", "a.b.I", "M", "/"));
        CHECK(!may_call(signals, "a.b", NULL, "M", "/"));
}

/* A message without an INTERFACE field matches only a rule whose METHOD is "*" or empty. */
static void test_interfaceless_messages(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = parse("import call a.star *@/star\n"
                                                                "import call a.empty @/empty\n"
                                                                "import call a.iface org.example.I.*\n"
                                                                "import call a.method org.example.I.M\n"
                                                                "import talk a.talk\n");

        CHECK(may_call(p, "a.star", NULL, "M", "/star"));
        CHECK(!may_call(p, "a.star", NULL, "M", "/other"));
        CHECK(may_call(p, "a.empty", NULL, "M", "/empty"));
        CHECK(may_call(p, "a.empty", "org.example.I", "M", "/empty"));
        CHECK(!may_call(p, "a.iface", NULL, "M", "/"));
        CHECK(may_call(p, "a.iface", "org.example.I", "M", "/"));
        CHECK(!may_call(p, "a.method", NULL, "M", "/"));
        CHECK(may_call(p, "a.method", "org.example.I", "M", "/"));
        CHECK(may_call(p, "a.talk", NULL, "M", "/"));
}

static void test_path_subtrees(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = parse("import call a.sub @/a/*\n"
                                                                "import call a.exact @/a\n"
                                                                "import call a.all @/*\n"
                                                                "import call a.root @/\n"
                                                                "import call a.deep *@/a/b/c/*\n");

        CHECK(may_call(p, "a.sub", "i.f", "M", "/a"));
        CHECK(may_call(p, "a.sub", "i.f", "M", "/a/b"));
        CHECK(may_call(p, "a.sub", "i.f", "M", "/a/b/c"));
        CHECK(!may_call(p, "a.sub", "i.f", "M", "/ab"));
        CHECK(!may_call(p, "a.sub", "i.f", "M", "/"));
        CHECK(!may_call(p, "a.sub", "i.f", "M", "/b/a"));

        CHECK(may_call(p, "a.exact", "i.f", "M", "/a"));
        CHECK(!may_call(p, "a.exact", "i.f", "M", "/a/b"));
        CHECK(!may_call(p, "a.exact", "i.f", "M", "/"));

        CHECK(may_call(p, "a.all", "i.f", "M", "/"));
        CHECK(may_call(p, "a.all", "i.f", "M", "/a"));
        CHECK(may_call(p, "a.all", "i.f", "M", "/x/y/z"));
        CHECK(!may_call(p, "a.all", "i.f", "M", NULL));

        CHECK(may_call(p, "a.root", "i.f", "M", "/"));
        CHECK(!may_call(p, "a.root", "i.f", "M", "/a"));

        CHECK(may_call(p, "a.deep", "i.f", "M", "/a/b/c"));
        CHECK(may_call(p, "a.deep", "i.f", "M", "/a/b/c/d"));
        CHECK(!may_call(p, "a.deep", "i.f", "M", "/a/b"));
        CHECK(!may_call(p, "a.deep", "i.f", "M", "/a/b/cd"));
}

static void test_method_wildcards(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p =
                parse("import call a.b org.example.Iface.*\n"
                      "import broadcast a.b org.example.Iface.*@/obj "
                      "org.freedesktop.DBus.Properties.PropertiesChanged\n");

        CHECK(may_call(p, "a.b", "org.example.Iface", "Anything", "/"));
        CHECK(may_call(p, "a.b", "org.example.Iface", "Other", "/deep/path"));
        CHECK(!may_call(p, "a.b", "org.example.Iface2", "Anything", "/"));
        CHECK(!may_call(p, "a.b", "org.example.Iface.Sub", "Anything", "/"));
        CHECK(!may_call(p, "a.b", "org.example", "Iface", "/"));

        /* Two rules on one line; the path applies to its own rule only. */
        CHECK(may_broadcast(p, "a.b", "org.example.Iface", "Sig", "/obj"));
        CHECK(!may_broadcast(p, "a.b", "org.example.Iface", "Sig", "/obj2"));
        CHECK(may_broadcast(p, "a.b", "org.freedesktop.DBus.Properties", "PropertiesChanged", "/any"));
        CHECK(!may_broadcast(p, "a.b", "org.freedesktop.DBus.Properties", "Get", "/any"));
}

static void test_exports(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p =
                parse("export own com.example.Web as com.example.Web.c1\n"
                      "export own com.example.Db\n"
                      "export\town\tnet.example.X\tas\tcom.example.Web\n");
        const struct bridge_export *x;

        CHECK_EQ(bridge_policy_n_exports(p), 3);
        CHECK_EQ(bridge_policy_n_imports(p), 0);
        x = bridge_policy_export(p, 1);
        CHECK_STREQ(x->container_name, "com.example.Db");
        CHECK_STREQ(x->host_name, "com.example.Db");
        CHECK(bridge_policy_export_by_container_name(p, "com.example.Db") == x);
        CHECK(bridge_policy_export_by_host_name(p, "com.example.Db") == x);

        /* A host name may be another export's container name: they live on different buses. */
        x = bridge_policy_export(p, 2);
        CHECK_STREQ(x->container_name, "net.example.X");
        CHECK_STREQ(x->host_name, "com.example.Web");
        CHECK(bridge_policy_export_by_host_name(p, "com.example.Web") == x);
        CHECK(bridge_policy_export_by_container_name(p, "com.example.Web") == bridge_policy_export(p, 0));
        CHECK(!bridge_policy_export_by_container_name(p, NULL));
        CHECK(!bridge_policy_export_by_host_name(p, "net.example.X"));

        /* Exports are not imports. */
        CHECK(!bridge_policy_is_imported(p, "com.example.Web"));
        CHECK(!bridge_policy_is_imported(p, "com.example.Web.c1"));
}

/* Imports and exports that do not overlap by whole elements are not loops. */
static void test_exports_next_to_imports(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p =
                parse("import talk com.example.Web.c1.Sub\n"
                      "import talk com.example.*\n"
                      "export own com.exampleX.Web as org.host.c1\n"
                      "import see org.host.c1.Sub\n"
                      "import see org.host.c\n");

        CHECK_EQ(bridge_policy_n_exports(p), 1);
        CHECK_EQ(bridge_policy_n_imports(p), 4);
}

static void test_comments(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = parse("\n"
                                                                "   \t \n"
                                                                "#import talk not.Imported\n"
                                                                "  # indented comment\n"
                                                                "\timport\t\ttalk   a.b\t# comment\n"
                                                                "import call c.d *   #\n"
                                                                "export own e.f # as g.h\n"
                                                                "import see x.y"); /* no final newline */
        _cleanup_bridge_policy_ struct bridge_policy *empty = parse("");

        CHECK_EQ(bridge_policy_n_imports(p), 3);
        CHECK_EQ(bridge_policy_import_level(p, "not.Imported"), BRIDGE_LEVEL_NONE);
        CHECK_EQ(bridge_policy_import_level(p, "a.b"), BRIDGE_LEVEL_TALK);
        CHECK_EQ(bridge_policy_import_level(p, "c.d"), BRIDGE_LEVEL_FILTERED);
        CHECK_EQ(bridge_policy_import_level(p, "x.y"), BRIDGE_LEVEL_SEE);
        CHECK_STREQ(bridge_policy_export(p, 0)->host_name, "e.f");

        CHECK_EQ(bridge_policy_n_imports(empty), 0);
        CHECK_EQ(bridge_policy_n_exports(empty), 0);
        CHECK_EQ(bridge_policy_import_level(empty, "a.b"), BRIDGE_LEVEL_NONE);
}

static void test_errors_syntax(void)
{
        check_error("frobnicate talk a.b\n",
                    FILENAME ":1: unknown directive \"frobnicate\" (expected import or export)");
        check_error("Import talk a.b\n",
                    FILENAME ":1: unknown directive \"Import\" (expected import or export)");
        check_error("import\n", FILENAME ":1: import needs a level: see, talk, call or broadcast");
        check_error("import # talk a.b\n",
                    FILENAME ":1: import needs a level: see, talk, call or broadcast");
        check_error("import own a.b\n",
                    FILENAME ":1: unknown import level \"own\" (expected see, talk, call or broadcast)");
        check_error("import talk\n", FILENAME ":1: import talk needs a bus name");
        check_error("import see # a.b\n", FILENAME ":1: import see needs a bus name");
        check_error("import talk a.b extra\n",
                    FILENAME ":1: unexpected \"extra\" after \"a.b\" (import talk takes no rules)");
        check_error("import see a.b *\n",
                    FILENAME ":1: unexpected \"*\" after \"a.b\" (import see takes no rules)");
        check_error("import call org.example.Other\n", FILENAME
                    ":1: import call \"org.example.Other\" needs at least one rule, [METHOD][@PATH]");
        check_error("import broadcast a.b # org.example.I.Sig\n",
                    FILENAME ":1: import broadcast \"a.b\" needs at least one rule, [METHOD][@PATH]");

        /* '#' starts a comment only outside a token. */
        check_error("import talk a.b# comment\n", FILENAME ":1: \"a.b#\" is not a valid bus name");
}

static void test_errors_names(void)
{
        check_error("# comment\n\nimport talk org..x\n", FILENAME ":3: \"org..x\" is not a valid bus name");
        check_error("import talk org\n", FILENAME ":1: \"org\" is not a valid bus name");
        check_error("import talk org.*\n", FILENAME ":1: \"org.*\" is not a valid bus name");
        check_error("import talk *\n", FILENAME ":1: \"*\" is not a valid bus name");
        check_error("import talk .*\n", FILENAME ":1: \".*\" is not a valid bus name");
        check_error("import talk org.example.*.Foo\n",
                    FILENAME ":1: \"org.example.*.Foo\" is not a valid bus name");
        check_error("import talk org.example*\n", FILENAME ":1: \"org.example*\" is not a valid bus name");
        check_error("import talk org.1example\n", FILENAME ":1: \"org.1example\" is not a valid bus name");
        check_error("import talk :1.5\n",
                    FILENAME ":1: \":1.5\" is a unique name; the policy takes only well-known names");
        check_error("import see :1.*\n",
                    FILENAME ":1: \":1.*\" is a unique name; the policy takes only well-known names");
        check_error("export own :1.5\n",
                    FILENAME ":1: \":1.5\" is a unique name; the policy takes only well-known names");
        /* Offending bytes are shown escaped: a CR from a CRLF file, a quote, a control character, non-ASCII.
         */
        check_error("import talk a.b\r\n", FILENAME ":1: \"a.b\\x0d\" is not a valid bus name");
        check_error("import talk a.\"b\x01\xc3\xa9\\\n",
                    FILENAME ":1: \"a.\\\"b\\x01\\xc3\\xa9\\\\\" is not a valid bus name");
}

static void test_errors_rules(void)
{
        check_error("import call a.b Get\n", FILENAME
                    ":1: \"Get\" is not a valid method (expected *, INTERFACE.MEMBER or INTERFACE.*)");
        check_error("import call a.b org..x.Get\n", FILENAME ":1: \"org..x\" is not a valid interface name");
        check_error("import call a.b Iface.Get\n", FILENAME ":1: \"Iface\" is not a valid interface name");
        check_error("import call a.b .*\n", FILENAME ":1: \"\" is not a valid interface name");
        check_error("import call a.b *.*\n", FILENAME ":1: \"*\" is not a valid interface name");
        check_error("import call a.b org.x.1Get\n", FILENAME ":1: \"1Get\" is not a valid member name");
        check_error("import call a.b org.x.Get-It\n", FILENAME ":1: \"Get-It\" is not a valid member name");
        check_error("import call a.b org.x.\n", FILENAME ":1: \"\" is not a valid member name");
        check_error("import broadcast a.b org.x.Sig@/a//b\n",
                    FILENAME ":1: \"/a//b\" is not a valid object path");
        check_error("import call a.b @relative\n", FILENAME ":1: \"relative\" is not a valid object path");
        check_error("import call a.b @/a/\n", FILENAME ":1: \"/a/\" is not a valid object path");
        check_error("import call a.b @/a/*/b\n", FILENAME ":1: \"/a/*/b\" is not a valid object path");
        check_error("import call a.b @/a*\n", FILENAME ":1: \"/a*\" is not a valid object path");
        check_error("import call a.b @/a@/b\n", FILENAME ":1: \"/a@/b\" is not a valid object path");
        check_error("import call a.b org.x.Get@\n",
                    FILENAME ":1: \"org.x.Get@\": \"@\" must be followed by an object path");
        check_error("import call a.b @\n", FILENAME ":1: \"@\": \"@\" must be followed by an object path");
        /* The first bad rule of a line is the one reported. */
        check_error("import call a.b * org.x.Get@/ok Bad @bad\n", FILENAME
                    ":1: \"Bad\" is not a valid method (expected *, INTERFACE.MEMBER or INTERFACE.*)");
}

static void test_errors_exports(void)
{
        check_error("export\n", FILENAME ":1: export needs a kind: own");
        check_error("export talk a.b\n", FILENAME ":1: unknown export kind \"talk\" (expected own)");
        check_error("export own\n", FILENAME ":1: export own needs a bus name");
        check_error("export own a.b as\n", FILENAME ":1: \"as\" needs a host bus name after it");
        check_error("export own a.b as # c.d\n", FILENAME ":1: \"as\" needs a host bus name after it");
        check_error("export own a.b as c.d extra\n",
                    FILENAME ":1: unexpected \"extra\" after the host name \"c.d\"");
        check_error("export own a.b c.d\n",
                    FILENAME ":1: unexpected \"c.d\" after \"a.b\" (expected \"as\" HOSTNAME)");
        check_error("export own a.b.*\n",
                    FILENAME ":1: \"a.b.*\" is not a valid bus name (exports take no wildcards)");
        check_error("export own a.b as c.*\n",
                    FILENAME ":1: \"c.*\" is not a valid bus name (exports take no wildcards)");
        check_error("export own a..b\n", FILENAME ":1: \"a..b\" is not a valid bus name");
        check_error("export own a.b as c..d\n", FILENAME ":1: \"c..d\" is not a valid bus name");
        check_error("export own a.b\n# two\nexport own a.b as c.d\n",
                    FILENAME ":3: \"a.b\" is already exported on line 1");
        check_error("export own a.b as c.d\nexport own e.f as c.d\n",
                    FILENAME ":2: \"c.d\" is already the host name of the export on line 1");
        check_error("export own a.b\nexport own e.f as a.b\n",
                    FILENAME ":2: \"a.b\" is already the host name of the export on line 1");
}

/* An export that an import also matches would have the bridge forward its own name to itself. The error
 * is on whichever of the two lines comes second. */
static void test_errors_loops(void)
{
        check_error("import see com.example.*\nexport own com.example.Web\n",
                    FILENAME ":2: \"com.example.Web\" is also matched by import \"com.example.*\" on line 1 "
                             "(the bridge would loop)");
        check_error("import talk org.host.Name\nexport own com.example.Web as org.host.Name\n",
                    FILENAME ":2: \"org.host.Name\" is also matched by import \"org.host.Name\" on line 1 "
                             "(the bridge would loop)");
        check_error("import call com.example.Web *\nexport own com.example.Web as org.host.Web\n", FILENAME
                    ":2: \"com.example.Web\" is also matched by import \"com.example.Web\" on line 1 "
                    "(the bridge would loop)");
        check_error("export own com.example.Web as org.host.Web\nimport talk org.host.*\n",
                    FILENAME ":2: import \"org.host.*\" matches \"org.host.Web\", exported on line 1 "
                             "(the bridge would loop)");
        check_error("export own com.example.Web as org.host.Web\nimport broadcast com.example.Web.* *\n",
                    FILENAME
                    ":2: import \"com.example.Web.*\" matches \"com.example.Web\", exported on line 1 "
                    "(the bridge would loop)");
        check_error("export own a.b\n\nimport see a.b\n", FILENAME
                    ":3: import \"a.b\" matches \"a.b\", exported on line 1 (the bridge would loop)");
        check_error("export own a.b as c.d\nimport see c.d\n", FILENAME
                    ":2: import \"c.d\" matches \"c.d\", exported on line 1 (the bridge would loop)");
}

static void test_errors_limits(void)
{
        const size_t big = BRIDGE_POLICY_MAX_FILE_SIZE + 1;
        _cleanup_free_ char *text = malloc(big + 1);
        struct bridge_policy *p;
        size_t n;

        CHECK(text);

        /* NUL bytes, wherever they are in a line. */
        check_error_len("import talk a.b\nimport see a\0.c\n", 32, FILENAME ":2: NUL byte in the line");
        check_error_len("import talk a.b\n# \0\n", 20, FILENAME ":2: NUL byte in the line");
        check_error_len("\0", 1, FILENAME ":1: NUL byte in the line");

        /* Lines: 4096 bytes are fine, 4097 are not, comments included. */
        n = 0;
        n += (size_t)sprintf(text, "import see a.b\n");
        memset(text + n, '#', 4096);
        n += 4096;
        text[n++] = '\n';
        p = parse_len(text, n);
        bridge_policy_free(p);
        memset(text + n, '#', 4097);
        n += 4097;
        check_error_len(text, n, FILENAME ":3: line longer than 4096 bytes");

        /* The file: 1 MiB of 8-byte comment lines is fine; one byte more is not, and the error names the
         * line that byte is on. */
        for (n = 0; n < BRIDGE_POLICY_MAX_FILE_SIZE; n += 8)
                memcpy(text + n, "#234567\n", 8);
        p = parse_len(text, n);
        bridge_policy_free(p);
        text[n++] = '#';
        check_error_len(text, n, FILENAME ":131073: the file is larger than 1048576 bytes");
        /* That check comes before any other: line 1 is now "bad4567". */
        memcpy(text, "bad", 3);
        check_error_len(text, n, FILENAME ":131073: the file is larger than 1048576 bytes");
}

static void test_errors_rule_count(void)
{
        const size_t max = BRIDGE_POLICY_MAX_RULES;
        _cleanup_free_ char *text = malloc(max * 32 + 64);
        struct bridge_policy *p;
        size_t n = 0;

        CHECK(text);
        for (size_t i = 0; i < max; i++)
                n += (size_t)sprintf(text + n, "import see a.n%zu\n", i);
        p = parse_len(text, n);
        CHECK_EQ(bridge_policy_n_imports(p), max);
        CHECK_EQ(bridge_policy_import_level(p, "a.n9999"), BRIDGE_LEVEL_SEE);
        bridge_policy_free(p);
        n += (size_t)sprintf(text + n, "export own b.c\n");
        check_error_len(text, n, FILENAME ":10001: more than 10000 rules");

        /* Each RULE of a call line counts, and so does a line that merges into an existing name. */
        n = 0;
        for (size_t i = 0; i < max - 2; i++)
                n += (size_t)sprintf(text + n, "import see a.b\n");
        n += (size_t)sprintf(text + n, "import call a.b * * *\n");
        check_error_len(text, n, FILENAME ":9999: more than 10000 rules");
}

/* Parsing stops at the first error, in file order. */
static void test_errors_first_wins(void)
{
        check_error("import talk a.b\n"
                    "\n"
                    "import talk :bad\n"
                    "bogus\n",
                    FILENAME ":3: \":bad\" is a unique name; the policy takes only well-known names");
        check_error("export own a.b.c\nimport see a.b.*\nexport own a.b.c\n", FILENAME
                    ":2: import \"a.b.*\" matches \"a.b.c\", exported on line 1 (the bridge would loop)");
}

static void test_error_buffer(void)
{
        static const char text[] = "import talk :1.1\n";
        struct bridge_policy *p = (struct bridge_policy *)&p; /* must be left alone */
        char small[10];

        memset(small, 'x', sizeof(small));
        CHECK_EQ(bridge_policy_parse(text, strlen(text), FILENAME, &p, small, sizeof(small)), -EINVAL);
        CHECK_STREQ(small, "c1.policy");
        CHECK(p == (struct bridge_policy *)&p);

        CHECK_EQ(bridge_policy_parse(text, strlen(text), FILENAME, &p, NULL, 0), -EINVAL);
        CHECK_EQ(bridge_policy_parse(text, strlen(text), FILENAME, &p, small, 1), -EINVAL);
        CHECK_STREQ(small, "");

        /* The length, not a NUL, ends the text. */
        p = parse_len("import talk a.b\nbogus", 16);
        CHECK_EQ(bridge_policy_import_level(p, "a.b"), BRIDGE_LEVEL_TALK);
        bridge_policy_free(p);
}

static void test_null_safety(void)
{
        CHECK(!bridge_policy_free(NULL));
        CHECK_EQ(bridge_policy_import_level(NULL, "a.b"), BRIDGE_LEVEL_NONE);
        CHECK(!bridge_policy_is_imported(NULL, "a.b"));
        CHECK(!bridge_policy_may_call(NULL, "a.b", "a.b", "M", "/"));
        CHECK(!bridge_policy_may_broadcast(NULL, "a.b", "a.b", "M", "/"));
        CHECK_EQ(bridge_policy_n_imports(NULL), 0);
        CHECK_EQ(bridge_policy_n_exports(NULL), 0);
        CHECK(!bridge_policy_import_name(NULL, 0));
        CHECK(!bridge_policy_export(NULL, 0));
        CHECK(!bridge_policy_export_by_container_name(NULL, "a.b"));
        CHECK(!bridge_policy_export_by_host_name(NULL, "a.b"));
}

static void write_file(const char *path, const char *text, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        CHECK(fd >= 0);
        CHECK_EQ(write(fd, text, len), (ssize_t)len);
        CHECK_EQ(close(fd), 0);
}

static void test_load(void)
{
        char dir[] = "/tmp/test-bridge-policy-XXXXXX";
        char path[sizeof(dir) + 32], expected[256], error[512];
        struct bridge_policy *p = NULL;

        CHECK(mkdtemp(dir));

        snprintf(path, sizeof(path), "%s/missing.policy", dir);
        CHECK_EQ(bridge_policy_load(path, &p, error, sizeof(error)), -ENOENT);
        CHECK(!p);
        snprintf(expected, sizeof(expected), "%s: cannot read: No such file or directory", path);
        CHECK_STREQ(error, expected);

        CHECK_EQ(bridge_policy_load(dir, &p, error, sizeof(error)), -EISDIR);
        snprintf(expected, sizeof(expected), "%s: cannot read: Is a directory", dir);
        CHECK_STREQ(error, expected);

        /* Errors name the file as it was given. */
        snprintf(path, sizeof(path), "%s/c2.policy", dir);
        write_file(path, "import talk a.b\nimport talk b..c\n", 33);
        CHECK_EQ(bridge_policy_load(path, &p, error, sizeof(error)), -EINVAL);
        CHECK(!p);
        snprintf(expected, sizeof(expected), "%s:2: \"b..c\" is not a valid bus name", path);
        CHECK_STREQ(error, expected);

        write_file(path, EXAMPLE, strlen(EXAMPLE));
        CHECK_EQ(bridge_policy_load(path, &p, error, sizeof(error)), 0);
        CHECK_STREQ(error, "");
        CHECK_EQ(bridge_policy_import_level(p, "org.example.Other"), BRIDGE_LEVEL_FILTERED);
        p = bridge_policy_free(p);

        /* A file that is too large is read only up to the limit. */
        {
                const size_t size = 3 * BRIDGE_POLICY_MAX_FILE_SIZE;
                _cleanup_free_ char *big = malloc(size);

                CHECK(big);
                memset(big, '\n', size);
                write_file(path, big, size);
                CHECK_EQ(bridge_policy_load(path, &p, error, sizeof(error)), -EINVAL);
                snprintf(expected, sizeof(expected), "%s:1048577: the file is larger than 1048576 bytes",
                         path);
                CHECK_STREQ(error, expected);
        }

        CHECK_EQ(unlink(path), 0);
        CHECK_EQ(rmdir(dir), 0);
}

/* The example that ships in examples/containers/ must parse, and mean what its comments say. */
static void test_shipped_example(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = NULL;
        char error[512];

        if (bridge_policy_load(NSBUS_EXAMPLES_DIR "/c1.policy", &p, error, sizeof(error)) < 0) {
                fprintf(stderr, "%s\n", error);
                CHECK(false);
        }
        CHECK(bridge_policy_n_imports(p) > 0);
        CHECK(bridge_policy_n_exports(p) > 0);
        CHECK_EQ(bridge_policy_import_level(p, "org.freedesktop.hostname1"), BRIDGE_LEVEL_FILTERED);
        CHECK(may_call(p, "org.freedesktop.hostname1", "org.freedesktop.DBus.Properties", "Get",
                       "/org/freedesktop/hostname1"));
        CHECK(!may_call(p, "org.freedesktop.hostname1", "org.freedesktop.hostname1", "SetHostname",
                        "/org/freedesktop/hostname1"));
        CHECK(bridge_policy_export_by_host_name(p, "com.example.Web.c1"));
}

int main(void)
{
        int failed = 0;

        RUN(test_example);
        RUN(test_wildcard_names);
        RUN(test_nested_wildcards);
        RUN(test_merge);
        RUN(test_level_order);
        RUN(test_call_and_broadcast_stay_apart);
        RUN(test_interfaceless_messages);
        RUN(test_path_subtrees);
        RUN(test_method_wildcards);
        RUN(test_exports);
        RUN(test_exports_next_to_imports);
        RUN(test_comments);
        RUN(test_errors_syntax);
        RUN(test_errors_names);
        RUN(test_errors_rules);
        RUN(test_errors_exports);
        RUN(test_errors_loops);
        RUN(test_errors_limits);
        RUN(test_errors_rule_count);
        RUN(test_errors_first_wins);
        RUN(test_error_buffer);
        RUN(test_null_safety);
        RUN(test_load);
        RUN(test_shipped_example);
        return failed != 0;
}
