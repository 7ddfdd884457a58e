/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge policy language (policy/bridge-policy.c): the text of one container's policy file.
 *
 * A file that does not parse must say so as "fuzz.policy:LINE: reason", LINE being a line of the input,
 * and a smaller error buffer must give the same verdict and a prefix of the same message.
 *
 * A file that parses is asked every question nsbusd and nsbridge ask, about the names and methods the file
 * itself mentions, and the answers must agree with each other and with the text:
 *   - is_imported(name) == (import_level(name) != NONE), for every import name, a name below it, its
 *     parent and a name that merely starts with it;
 *   - a TALK name permits every call and every signal, a SEE (or unimported) name none;
 *   - every name written on an import line is imported at least at that line's level (exactly TALK for
 *     talk), and a NAME.* import also covers NAME.Sub;
 *   - every RULE of a call (broadcast) line permits a call (signal) built from it: its interface and
 *     member, or any when it has none, at its path, or at its subtree's root and a path below it;
 *   - the import names are distinct, the exports are found by both of their names, and no exported name
 *     is also imported (the bridge would loop).
 */
#include <errno.h>

#include "bridge-policy.h"
#include "fuzz.h"
#include "message.h"
#include "util.h"

#define FUZZ_FILENAME "fuzz.policy"

/* Room for any name or path of an accepted line, plus a suffix. */
#define FUZZ_BUF (BRIDGE_POLICY_MAX_LINE_LENGTH + 16)

struct fuzz_token {
        const char *s;
        size_t n;
};

/* Splits a line as the parser does: tokens separated by spaces and tabs, up to a token that starts a
 * comment. Returns the number of tokens, at most max. */
static size_t fuzz_split(const char *s, size_t n, struct fuzz_token *tokens, size_t max)
{
        size_t count = 0, i = 0;

        while (count < max) {
                while (i < n && (s[i] == ' ' || s[i] == '\t'))
                        i++;
                if (i == n || s[i] == '#')
                        break;
                tokens[count].s = s + i;
                while (i < n && s[i] != ' ' && s[i] != '\t')
                        i++;
                tokens[count].n = (size_t)(s + i - tokens[count].s);
                count++;
        }
        return count;
}

static bool fuzz_token_is(struct fuzz_token t, const char *word)
{
        return t.n == strlen(word) && memcmp(t.s, word, t.n) == 0;
}

static void fuzz_copy(char buf[static FUZZ_BUF], const char *s, size_t n)
{
        FUZZ_CHECK(n < FUZZ_BUF);
        memcpy(buf, s, n);
        buf[n] = '\0';
}

/* What the policy says about one name must be consistent, whatever the message. */
static void fuzz_check_name(const struct bridge_policy *p, const char *name)
{
        static const char *const interfaces[] = {NULL, "org.example.Iface",
                                                 "org.freedesktop.DBus.Properties"};
        static const char *const paths[] = {"/", "/org/example", NULL};
        enum bridge_level level = bridge_policy_import_level(p, name);

        FUZZ_CHECK(level >= BRIDGE_LEVEL_NONE && level <= BRIDGE_LEVEL_TALK);
        FUZZ_CHECK(bridge_policy_is_imported(p, name) == (level != BRIDGE_LEVEL_NONE));
        for (size_t i = 0; i < ELEMENTSOF(interfaces); i++)
                for (size_t j = 0; j < ELEMENTSOF(paths); j++) {
                        bool call = bridge_policy_may_call(p, name, interfaces[i], "Get", paths[j]);
                        bool signal =
                                bridge_policy_may_broadcast(p, name, interfaces[i], "Changed", paths[j]);

                        if (level == BRIDGE_LEVEL_TALK)
                                FUZZ_CHECK(call && signal);
                        if (level <= BRIDGE_LEVEL_SEE)
                                FUZZ_CHECK(!call && !signal);
                }
}

static void fuzz_check_imports(const struct bridge_policy *p)
{
        size_t n = bridge_policy_n_imports(p);

        for (size_t i = 0; i < n; i++) {
                const struct bridge_import_name *in = bridge_policy_import_name(p, i);
                char buf[FUZZ_BUF];
                size_t len;
                char *dot;

                FUZZ_CHECK(in && in->name);
                len = strlen(in->name);
                FUZZ_CHECK(dbus_validate_well_known_name(in->name, len));
                FUZZ_CHECK(bridge_policy_import_level(p, in->name) >= BRIDGE_LEVEL_SEE);
                fuzz_check_name(p, in->name);
                for (size_t j = 0; j < i; j++) {
                        const struct bridge_import_name *other = bridge_policy_import_name(p, j);
                        FUZZ_CHECK(other->subtree != in->subtree || !streq(other->name, in->name));
                }

                snprintf(buf, sizeof(buf), "%s.Sub", in->name);
                if (in->subtree)
                        FUZZ_CHECK(bridge_policy_import_level(p, buf) >= BRIDGE_LEVEL_SEE);
                fuzz_check_name(p, buf);
                snprintf(buf, sizeof(buf), "%sX", in->name);
                fuzz_check_name(p, buf);
                fuzz_copy(buf, in->name, len);
                dot = strrchr(buf, '.');
                FUZZ_CHECK(dot);
                *dot = '\0';
                fuzz_check_name(p, buf);
        }
        FUZZ_CHECK(!bridge_policy_import_name(p, n));
}

static void fuzz_check_exports(const struct bridge_policy *p)
{
        size_t n = bridge_policy_n_exports(p);

        for (size_t i = 0; i < n; i++) {
                const struct bridge_export *x = bridge_policy_export(p, i);

                FUZZ_CHECK(x && x->container_name && x->host_name);
                FUZZ_CHECK(dbus_validate_well_known_name(x->container_name, strlen(x->container_name)));
                FUZZ_CHECK(dbus_validate_well_known_name(x->host_name, strlen(x->host_name)));
                FUZZ_CHECK(bridge_policy_export_by_container_name(p, x->container_name) == x);
                FUZZ_CHECK(bridge_policy_export_by_host_name(p, x->host_name) == x);
                FUZZ_CHECK(!bridge_policy_is_imported(p, x->container_name));
                FUZZ_CHECK(!bridge_policy_is_imported(p, x->host_name));
                fuzz_check_name(p, x->container_name);
                fuzz_check_name(p, x->host_name);
                for (size_t j = 0; j < i; j++) {
                        const struct bridge_export *other = bridge_policy_export(p, j);
                        FUZZ_CHECK(!streq(other->container_name, x->container_name));
                        FUZZ_CHECK(!streq(other->host_name, x->host_name));
                }
        }
        FUZZ_CHECK(!bridge_policy_export(p, n));
}

/* A message the rule must permit, for the name (which the line imports) and the kind of the line. */
static void fuzz_check_rule_permits(const struct bridge_policy *p, const char *name, bool call,
                                    struct fuzz_token rule)
{
        const char *at = memchr(rule.s, '@', rule.n);
        size_t method_len = at ? (size_t)(at - rule.s) : rule.n;
        char interface[FUZZ_BUF] = "org.fuzz.Any", member[FUZZ_BUF] = "Any";
        char path[FUZZ_BUF] = "/fuzz/any", below[FUZZ_BUF + 8] = "/fuzz/any";
        bool any_interface = method_len == 0 || (method_len == 1 && rule.s[0] == '*');

        if (!any_interface) {
                const char *dot = memrchr(rule.s, '.', method_len);

                FUZZ_CHECK(dot);
                fuzz_copy(interface, rule.s, (size_t)(dot - rule.s));
                if (!(method_len - (size_t)(dot - rule.s) == 2 && dot[1] == '*'))
                        fuzz_copy(member, dot + 1, method_len - (size_t)(dot - rule.s) - 1);
        }
        if (at) {
                size_t n = rule.n - method_len - 1;

                fuzz_copy(path, at + 1, n);
                strcpy(below, path);
                if (n >= 2 && streq(path + n - 2, "/*")) {
                        path[n == 2 ? 1 : n - 2] = '\0';
                        snprintf(below, sizeof(below), "%s/sub", streq(path, "/") ? "" : path);
                }
        }

        if (call) {
                FUZZ_CHECK(bridge_policy_may_call(p, name, interface, member, path));
                FUZZ_CHECK(bridge_policy_may_call(p, name, interface, member, below));
                if (any_interface)
                        FUZZ_CHECK(bridge_policy_may_call(p, name, NULL, member, path));
        } else {
                FUZZ_CHECK(bridge_policy_may_broadcast(p, name, interface, member, path));
                FUZZ_CHECK(bridge_policy_may_broadcast(p, name, interface, member, below));
                if (any_interface)
                        FUZZ_CHECK(bridge_policy_may_broadcast(p, name, NULL, member, path));
        }
        FUZZ_CHECK(bridge_policy_import_level(p, name) >= BRIDGE_LEVEL_FILTERED);
}

/* Every accepted line must be reflected in the policy. */
static void fuzz_check_line(const struct bridge_policy *p, const char *s, size_t n)
{
        struct fuzz_token t[BRIDGE_POLICY_MAX_LINE_LENGTH / 2 + 1];
        size_t count = fuzz_split(s, n, t, ELEMENTSOF(t));
        char name[FUZZ_BUF], sub[FUZZ_BUF + 8];
        bool subtree;

        if (count == 0)
                return;
        if (fuzz_token_is(t[0], "export")) {
                const struct bridge_export *x;

                FUZZ_CHECK(count == 3 || count == 5);
                fuzz_copy(name, t[2].s, t[2].n);
                x = bridge_policy_export_by_container_name(p, name);
                FUZZ_CHECK(x);
                fuzz_copy(name, t[count - 1].s, t[count - 1].n);
                FUZZ_CHECK(streq(x->host_name, name));
                return;
        }

        FUZZ_CHECK(fuzz_token_is(t[0], "import") && count >= 3);
        subtree = t[2].n >= 2 && memcmp(t[2].s + t[2].n - 2, ".*", 2) == 0;
        fuzz_copy(name, t[2].s, subtree ? t[2].n - 2 : t[2].n);
        snprintf(sub, sizeof(sub), "%s.Sub", name);

        if (fuzz_token_is(t[1], "see") || fuzz_token_is(t[1], "talk")) {
                enum bridge_level level = fuzz_token_is(t[1], "see") ? BRIDGE_LEVEL_SEE : BRIDGE_LEVEL_TALK;

                FUZZ_CHECK(count == 3);
                FUZZ_CHECK(bridge_policy_import_level(p, name) >= level);
                if (subtree)
                        FUZZ_CHECK(bridge_policy_import_level(p, sub) >= level);
                return;
        }

        FUZZ_CHECK(fuzz_token_is(t[1], "call") || fuzz_token_is(t[1], "broadcast"));
        for (size_t i = 3; i < count; i++) {
                fuzz_check_rule_permits(p, name, fuzz_token_is(t[1], "call"), t[i]);
                if (subtree)
                        fuzz_check_rule_permits(p, sub, fuzz_token_is(t[1], "call"), t[i]);
        }
}

/* "fuzz.policy:LINE: reason" with 1 <= LINE <= the number of lines of the input. */
static void fuzz_check_error(const char *error, const uint8_t *data, size_t size)
{
        const char *rest = startswith(error, FUZZ_FILENAME ":");
        unsigned long line, lines = 1;
        char *end;

        FUZZ_CHECK(rest && *rest >= '1' && *rest <= '9');
        line = strtoul(rest, &end, 10);
        FUZZ_CHECK(startswith(end, ": ") && end[2] != '\0');
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
        FUZZ_CHECK(line >= 1 && line <= lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = NULL;
        struct bridge_policy *q = NULL;
        const char *text = (const char *)data;
        char error[2048], small[24];
        int r;

        r = bridge_policy_parse(text, size, FUZZ_FILENAME, &p, error, sizeof(error));
        FUZZ_CHECK(strnlen(error, sizeof(error)) < sizeof(error));
        FUZZ_CHECK(bridge_policy_parse(text, size, FUZZ_FILENAME, &q, small, sizeof(small)) == r);
        FUZZ_CHECK(strnlen(small, sizeof(small)) < sizeof(small));
        FUZZ_CHECK(strncmp(small, error, strlen(small)) == 0);
        FUZZ_CHECK(strlen(small) == MIN(strlen(error), sizeof(small) - 1));
        q = bridge_policy_free(q);

        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
                FUZZ_CHECK(!p);
                if (r == -EINVAL)
                        fuzz_check_error(error, data, size);
                return 0;
        }

        FUZZ_CHECK(r == 0 && p && error[0] == '\0');
        fuzz_check_imports(p);
        fuzz_check_exports(p);
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(text + i, '\n', size - i);
                size_t n = nl ? (size_t)(nl - (text + i)) : size - i;

                FUZZ_CHECK(n <= BRIDGE_POLICY_MAX_LINE_LENGTH);
                fuzz_check_line(p, text + i, n);
                i += n + 1;
        }
        return 0;
}
