/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge policy language of nsbus-policy(5): its parser, its compiled
 * form, and the questions nsbusd and nsbridge ask it.
 *
 * The compiled form keeps one entry per import name as written ("a.b" and
 * "a.b.*" are two entries), in a hash map keyed by that text. A query for a
 * host name looks up the name itself and then each of its word-prefixes with
 * ".*" appended ("a.b.c.*", "a.b.*"), and combines the entries it finds: the
 * highest level, any rule that permits. A query therefore costs one lookup
 * per dot in the name, however long the policy is, and the same name written
 * on many lines merges into one entry in constant time.
 *
 * Everything is checked while the text is read, line by line, including what
 * involves two lines (a name exported twice, an export that an import also
 * matches, which would make the bridge forward its own traffic in a loop):
 * the error reported is always the first one in file order, and a policy
 * that parses needs no further checks by its users.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "bridge-policy.h"
#include "bus-policy.h"
#include "hashmap.h"
#include "message.h"
#include "util.h"

/* One RULE of an `import call` or `import broadcast` line, [METHOD][@PATH]. The strings point into text,
 * the rule's own copy of its token cut up with NULs. NULL means "any". */
struct import_rule {
        char *text;
        const char *interface; /* NULL: any interface, and messages without one */
        const char *member;    /* NULL: any member; only ever set together with interface */
        const char *path;      /* NULL: any path */
        bool path_subtree;     /* path and every path below it; "/" with this set is every path */
};

struct rule_array {
        struct import_rule *v;
        size_t n, allocated;
};

struct import_entry {
        struct bridge_import_name name; /* name.name is name_storage */
        char *name_storage;
        char *key;     /* as written, the hash map key: "a.b" or "a.b.*" */
        unsigned line; /* where it was first written */
        enum bridge_level level;
        struct rule_array calls;
        struct rule_array broadcasts;
};

struct export_entry {
        struct bridge_export export; /* points at the two strings below */
        char *container_name;
        char *host_name;
        unsigned line;
};

struct bridge_policy {
        struct import_entry **imports; /* in the order of their first line */
        size_t n_imports, allocated_imports;
        struct hashmap *imports_by_key;

        struct export_entry **exports; /* in file order */
        size_t n_exports, allocated_exports;
        struct hashmap *exports_by_container_name;
        struct hashmap *exports_by_host_name;
};

/* The most entries one name can match: itself, and one subtree per word-prefix of a name of at most
 * DBUS_MAXIMUM_NAME_LENGTH bytes (whose elements are at least one byte long). */
#define IMPORT_MATCHES_MAX (DBUS_MAXIMUM_NAME_LENGTH / 2 + 2)

static void rule_array_clear(struct rule_array *a)
{
        for (size_t i = 0; i < a->n; i++)
                free(a->v[i].text);
        free(a->v);
}

static void import_entry_free(struct import_entry *e)
{
        if (!e)
                return;
        rule_array_clear(&e->calls);
        rule_array_clear(&e->broadcasts);
        free(e->name_storage);
        free(e->key);
        free(e);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct import_entry *, import_entry_free);

static void export_entry_free(struct export_entry *e)
{
        if (!e)
                return;
        free(e->container_name);
        free(e->host_name);
        free(e);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct export_entry *, export_entry_free);

struct bridge_policy *bridge_policy_free(struct bridge_policy *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_imports; i++)
                import_entry_free(p->imports[i]);
        free(p->imports);
        hashmap_free(p->imports_by_key);
        for (size_t i = 0; i < p->n_exports; i++)
                export_entry_free(p->exports[i]);
        free(p->exports);
        hashmap_free(p->exports_by_container_name);
        hashmap_free(p->exports_by_host_name);
        free(p);
        return NULL;
}

static struct bridge_policy *bridge_policy_new(void)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = new0(struct bridge_policy, 1);

        if (!p)
                return NULL;
        p->imports_by_key = hashmap_new(&string_hash_ops);
        p->exports_by_container_name = hashmap_new(&string_hash_ops);
        p->exports_by_host_name = hashmap_new(&string_hash_ops);
        if (!p->imports_by_key || !p->exports_by_container_name || !p->exports_by_host_name)
                return NULL;
        return TAKE_PTR(p);
}

/* ---- Queries ---- */

/* The entries that match name: the one written as name itself, then those written as a word-prefix of name
 * followed by ".*", longest first. ret must hold IMPORT_MATCHES_MAX entries; returns how many it got. */
static size_t policy_match_imports(const struct bridge_policy *p, const char *name,
                                   const struct import_entry **ret)
{
        char key[DBUS_MAXIMUM_NAME_LENGTH + sizeof(".*")];
        const struct import_entry *e;
        size_t n = 0, len;

        if (!p || !name)
                return 0;
        len = strnlen(name, DBUS_MAXIMUM_NAME_LENGTH + 1);
        if (len > DBUS_MAXIMUM_NAME_LENGTH)
                return 0; /* not a bus name, and no entry is longer */

        e = hashmap_get(p->imports_by_key, name);
        if (e && !e->name.subtree)
                ret[n++] = e;
        for (size_t i = len; i > 0; i--) {
                if (i < len && name[i] != '.')
                        continue;
                memcpy(key, name, i);
                memcpy(key + i, ".*", sizeof(".*"));
                e = hashmap_get(p->imports_by_key, key);
                if (e)
                        ret[n++] = e;
        }
        return n;
}

enum bridge_level bridge_policy_import_level(const struct bridge_policy *p, const char *name)
{
        const struct import_entry *matches[IMPORT_MATCHES_MAX];
        size_t n = policy_match_imports(p, name, matches);
        enum bridge_level level = BRIDGE_LEVEL_NONE;

        for (size_t i = 0; i < n; i++)
                level = MAX(level, matches[i]->level);
        return level;
}

bool bridge_policy_is_imported(const struct bridge_policy *p, const char *name)
{
        return bridge_policy_import_level(p, name) != BRIDGE_LEVEL_NONE;
}

/* "/a" as a subtree covers "/a" and "/a/b", not "/ab"; "/" as a subtree covers every path. */
static bool rule_matches_path(const struct import_rule *r, const char *path)
{
        const char *rest;

        if (!r->path)
                return true;
        if (!path)
                return false;
        if (!r->path_subtree)
                return streq(path, r->path);
        if (streq(r->path, "/"))
                return path[0] == '/';
        rest = startswith(path, r->path);
        return rest && (*rest == '\0' || *rest == '/');
}

static bool rule_matches(const struct import_rule *r, const char *interface, const char *member,
                         const char *path)
{
        /* As in xdg-dbus-proxy: a rule that names an interface never matches a message without one. */
        if (r->interface && !streq_ptr(r->interface, interface))
                return false;
        if (r->member && !streq_ptr(r->member, member))
                return false;
        return rule_matches_path(r, path);
}

static bool policy_permits(const struct bridge_policy *p, const char *name, bool call, const char *interface,
                           const char *member, const char *path)
{
        const struct import_entry *matches[IMPORT_MATCHES_MAX];
        size_t n = policy_match_imports(p, name, matches);

        for (size_t i = 0; i < n; i++) {
                const struct import_entry *e = matches[i];
                const struct rule_array *a = call ? &e->calls : &e->broadcasts;

                if (e->level == BRIDGE_LEVEL_TALK)
                        return true;
                for (size_t j = 0; j < a->n; j++)
                        if (rule_matches(&a->v[j], interface, member, path))
                                return true;
        }
        return false;
}

bool bridge_policy_may_call(const struct bridge_policy *p, const char *name, const char *interface,
                            const char *member, const char *path)
{
        return policy_permits(p, name, true, interface, member, path);
}

bool bridge_policy_may_broadcast(const struct bridge_policy *p, const char *name, const char *interface,
                                 const char *member, const char *path)
{
        return policy_permits(p, name, false, interface, member, path);
}

size_t bridge_policy_n_imports(const struct bridge_policy *p)
{
        return p ? p->n_imports : 0;
}

const struct bridge_import_name *bridge_policy_import_name(const struct bridge_policy *p, size_t i)
{
        return p && i < p->n_imports ? &p->imports[i]->name : NULL;
}

size_t bridge_policy_n_exports(const struct bridge_policy *p)
{
        return p ? p->n_exports : 0;
}

const struct bridge_export *bridge_policy_export(const struct bridge_policy *p, size_t i)
{
        return p && i < p->n_exports ? &p->exports[i]->export : NULL;
}

const struct bridge_export *bridge_policy_export_by_container_name(const struct bridge_policy *p,
                                                                   const char *name)
{
        const struct export_entry *e = p && name ? hashmap_get(p->exports_by_container_name, name) : NULL;

        return e ? &e->export : NULL;
}

const struct bridge_export *bridge_policy_export_by_host_name(const struct bridge_policy *p,
                                                              const char *name)
{
        const struct export_entry *e = p && name ? hashmap_get(p->exports_by_host_name, name) : NULL;

        return e ? &e->export : NULL;
}

/* ---- Parser ---- */

struct parser {
        struct bridge_policy *policy;
        const char *filename;
        unsigned line;
        size_t n_rules;
        char *errbuf;
        size_t errlen;
};

/* A token: a run of bytes other than space and tab, inside the text (not NUL-terminated). */
struct token {
        const char *s;
        size_t n;
};

struct cursor {
        const char *p, *end;
};

/* The next token of the line, false at its end or at a comment: a '#' that begins a token. */
static bool cursor_next(struct cursor *c, struct token *ret)
{
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
                c->p++;
        if (c->p == c->end || *c->p == '#') {
                c->p = c->end;
                return false;
        }
        ret->s = c->p;
        while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
                c->p++;
        ret->n = (size_t)(c->p - ret->s);
        return true;
}

static bool token_is(struct token t, const char *word)
{
        return t.n == strlen(word) && memcmp(t.s, word, t.n) == 0;
}

static bool token_has_suffix(struct token t, const char *suffix)
{
        size_t l = strlen(suffix);

        return t.n >= l && memcmp(t.s + t.n - l, suffix, l) == 0;
}

/* The most bytes of a token an error message shows, and the room that needs once escaped and quoted. */
#define QUOTE_MAX_BYTES 128
#define QUOTE_SIZE (QUOTE_MAX_BYTES * 4 + sizeof("\"\"..."))

/* A token in double quotes for an error message. Bytes that a terminal or a log could misread (control
 * characters, non-ASCII, quote and backslash) are escaped C-style, and a long token is cut with "...". */
static const char *quote(struct token t, char buf[static QUOTE_SIZE])
{
        size_t o = 0;

        buf[o++] = '"';
        for (size_t i = 0; i < t.n && i < QUOTE_MAX_BYTES; i++) {
                unsigned char c = (unsigned char)t.s[i];

                if (c == '"' || c == '\\') {
                        buf[o++] = '\\';
                        buf[o++] = (char)c;
                } else if (c < 0x20 || c >= 0x7f) {
                        snprintf(buf + o, 5, "\\x%02x", c);
                        o += 4;
                } else
                        buf[o++] = (char)c;
        }
        buf[o++] = '"';
        if (t.n > QUOTE_MAX_BYTES) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
        return buf;
}

_printf_(2, 3) static int parser_error(struct parser *ps, const char *format, ...)
{
        va_list ap;
        int n;

        if (ps->errlen == 0)
                return -EINVAL;
        n = snprintf(ps->errbuf, ps->errlen, "%s:%u: ", ps->filename, ps->line);
        if (n >= 0 && (size_t)n < ps->errlen) {
                va_start(ap, format);
                vsnprintf(ps->errbuf + n, ps->errlen - (size_t)n, format, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static int parser_oom(struct parser *ps)
{
        if (ps->errlen > 0)
                snprintf(ps->errbuf, ps->errlen, "%s:%u: out of memory", ps->filename, ps->line);
        return -ENOMEM;
}

static int parser_count_rule(struct parser *ps)
{
        if (++ps->n_rules > BRIDGE_POLICY_MAX_RULES)
                return parser_error(ps, "more than %u rules", BRIDGE_POLICY_MAX_RULES);
        return 0;
}

/* A well-known name, as imports and exports take them; written is the token to quote (it may carry a ".*"
 * that name, the part to check, does not). */
static int parser_check_bus_name(struct parser *ps, struct token written, struct token name)
{
        char q[QUOTE_SIZE];

        if (dbus_validate_well_known_name(name.s, name.n))
                return 0;
        if (name.n > 0 && name.s[0] == ':')
                return parser_error(ps, "%s is a unique name; the policy takes only well-known names",
                                    quote(written, q));
        return parser_error(ps, "%s is not a valid bus name", quote(written, q));
}

/* The entry that imports a name already, if any: for the check that an export does not loop. */
static const struct import_entry *policy_find_import(const struct bridge_policy *p, const char *name)
{
        const struct import_entry *matches[IMPORT_MATCHES_MAX];

        return policy_match_imports(p, name, matches) > 0 ? matches[0] : NULL;
}

/* An import that would match an exported name makes the bridge forward its own name back to itself. */
static int parser_check_import_loop(struct parser *ps, const char *key, const char *name, bool subtree)
{
        const struct bridge_policy *p = ps->policy;
        const struct export_entry *x = NULL;
        const char *hit = NULL;

        if (!subtree) {
                x = hashmap_get(p->exports_by_container_name, name);
                if (!x)
                        x = hashmap_get(p->exports_by_host_name, name);
                hit = name;
        } else
                for (size_t i = 0; i < p->n_exports && !hit; i++) {
                        x = p->exports[i];
                        if (policy_name_has_prefix(x->container_name, name))
                                hit = x->container_name;
                        else if (policy_name_has_prefix(x->host_name, name))
                                hit = x->host_name;
                }
        if (x && hit)
                return parser_error(
                        ps, "import \"%s\" matches \"%s\", exported on line %u (the bridge would loop)", key,
                        hit, x->line);
        return 0;
}

/* The entry for an import name as written, made on its first line. */
static int parser_get_import(struct parser *ps, struct token written, struct import_entry **ret)
{
        struct bridge_policy *p = ps->policy;
        _cleanup_(import_entry_freep) struct import_entry *e = NULL;
        _cleanup_free_ char *key = NULL;
        bool subtree = token_has_suffix(written, ".*");
        struct token name = {written.s, subtree ? written.n - 2 : written.n};
        int r;

        r = parser_check_bus_name(ps, written, name);
        if (r < 0)
                return r;

        key = strndup(written.s, written.n);
        if (!key)
                return parser_oom(ps);
        *ret = hashmap_get(p->imports_by_key, key);
        if (*ret)
                return 0;

        e = new0(struct import_entry, 1);
        if (!e)
                return parser_oom(ps);
        e->name_storage = strndup(name.s, name.n);
        if (!e->name_storage)
                return parser_oom(ps);
        e->key = TAKE_PTR(key);
        e->name = (struct bridge_import_name){.name = e->name_storage, .subtree = subtree};
        e->line = ps->line;

        r = parser_check_import_loop(ps, e->key, e->name.name, subtree);
        if (r < 0)
                return r;
        if (GREEDY_REALLOC(p->imports, p->allocated_imports, p->n_imports + 1) < 0)
                return parser_oom(ps);
        r = hashmap_put(p->imports_by_key, e->key, e);
        if (r < 0)
                return parser_oom(ps);
        *ret = p->imports[p->n_imports++] = TAKE_PTR(e);
        return 0;
}

/*
 * RULE is [METHOD][@PATH], as xdg-dbus-proxy's --call and --broadcast take it. METHOD is empty or "*" (any
 * member of any interface, or of none), INTERFACE.* or INTERFACE.MEMBER (the last dot separates them);
 * PATH is an object path, or one followed by a slash and a star for that path and every path below it (a
 * lone slash and star: every path).
 */
static int parser_parse_rule(struct parser *ps, struct token t, struct rule_array *a)
{
        const char *at = memchr(t.s, '@', t.n);
        struct token method = {t.s, at ? (size_t)(at - t.s) : t.n};
        struct import_rule rule = {};
        _cleanup_free_ char *text = NULL;
        char q[QUOTE_SIZE];
        int r;

        r = parser_count_rule(ps);
        if (r < 0)
                return r;
        text = strndup(t.s, t.n);
        if (!text)
                return parser_oom(ps);

        if (method.n > 0 && !token_is(method, "*")) {
                const char *dot = memrchr(method.s, '.', method.n);
                struct token interface, member;

                if (!dot)
                        return parser_error(
                                ps, "%s is not a valid method (expected *, INTERFACE.MEMBER or INTERFACE.*)",
                                quote(method, q));
                interface = (struct token){method.s, (size_t)(dot - method.s)};
                member = (struct token){dot + 1, method.n - interface.n - 1};
                if (!dbus_validate_interface(interface.s, interface.n))
                        return parser_error(ps, "%s is not a valid interface name", quote(interface, q));
                if (!token_is(member, "*") && !dbus_validate_member(member.s, member.n))
                        return parser_error(ps, "%s is not a valid member name", quote(member, q));

                text[interface.n] = '\0';
                rule.interface = text;
                if (!token_is(member, "*")) {
                        text[method.n] = '\0';
                        rule.member = text + interface.n + 1;
                }
        }

        if (at) {
                struct token path = {at + 1, t.n - method.n - 1};
                char *p = text + method.n + 1;

                if (path.n == 0)
                        return parser_error(ps, "%s: \"@\" must be followed by an object path", quote(t, q));
                rule.path_subtree = token_has_suffix(path, "/*");
                if (rule.path_subtree && path.n == 2)
                        rule.path = "/";
                else {
                        size_t n = rule.path_subtree ? path.n - 2 : path.n;

                        if (!dbus_validate_object_path(path.s, n))
                                return parser_error(ps, "%s is not a valid object path", quote(path, q));
                        p[n] = '\0';
                        rule.path = p;
                }
        }

        if (GREEDY_REALLOC(a->v, a->allocated, a->n + 1) < 0)
                return parser_oom(ps);
        rule.text = TAKE_PTR(text);
        a->v[a->n++] = rule;
        return 0;
}

static int parser_parse_import(struct parser *ps, struct cursor *c)
{
        struct import_entry *e;
        struct token level, name, t;
        char q[QUOTE_SIZE], q2[QUOTE_SIZE];
        int r;

        if (!cursor_next(c, &level))
                return parser_error(ps, "import needs a level: see, talk, call or broadcast");
        if (!token_is(level, "see") && !token_is(level, "talk") && !token_is(level, "call") &&
            !token_is(level, "broadcast"))
                return parser_error(ps, "unknown import level %s (expected see, talk, call or broadcast)",
                                    quote(level, q));
        if (!cursor_next(c, &name))
                return parser_error(ps, "import %.*s needs a bus name", (int)level.n, level.s);

        r = parser_get_import(ps, name, &e);
        if (r < 0)
                return r;

        if (token_is(level, "see") || token_is(level, "talk")) {
                if (cursor_next(c, &t))
                        return parser_error(ps, "unexpected %s after %s (import %.*s takes no rules)",
                                            quote(t, q), quote(name, q2), (int)level.n, level.s);
                e->level = MAX(e->level, token_is(level, "see") ? BRIDGE_LEVEL_SEE : BRIDGE_LEVEL_TALK);
                return parser_count_rule(ps);
        }

        if (!cursor_next(c, &t))
                return parser_error(ps, "import %.*s %s needs at least one rule, [METHOD][@PATH]",
                                    (int)level.n, level.s, quote(name, q));
        do {
                r = parser_parse_rule(ps, t, token_is(level, "call") ? &e->calls : &e->broadcasts);
                if (r < 0)
                        return r;
        } while (cursor_next(c, &t));
        e->level = MAX(e->level, BRIDGE_LEVEL_FILTERED);
        return 0;
}

/* The container name and the host name of an export: one well-known name each, no wildcards. */
static int parser_check_export_name(struct parser *ps, struct token t)
{
        char q[QUOTE_SIZE];

        if (memchr(t.s, '*', t.n))
                return parser_error(ps, "%s is not a valid bus name (exports take no wildcards)",
                                    quote(t, q));
        return parser_check_bus_name(ps, t, t);
}

/* Neither side of an export may also be imported: the bridge would forward the name to itself. */
static int parser_check_export_loop(struct parser *ps, const char *name)
{
        const struct import_entry *i = policy_find_import(ps->policy, name);

        if (i)
                return parser_error(
                        ps, "\"%s\" is also matched by import \"%s\" on line %u (the bridge would loop)",
                        name, i->key, i->line);
        return 0;
}

static int parser_parse_export(struct parser *ps, struct cursor *c)
{
        struct bridge_policy *p = ps->policy;
        _cleanup_(export_entry_freep) struct export_entry *e = NULL;
        const struct export_entry *other;
        struct token kind, name, host, t;
        char q[QUOTE_SIZE], q2[QUOTE_SIZE];
        int r;

        if (!cursor_next(c, &kind))
                return parser_error(ps, "export needs a kind: own");
        if (!token_is(kind, "own"))
                return parser_error(ps, "unknown export kind %s (expected own)", quote(kind, q));
        if (!cursor_next(c, &name))
                return parser_error(ps, "export own needs a bus name");
        r = parser_check_export_name(ps, name);
        if (r < 0)
                return r;

        host = name;
        if (cursor_next(c, &t)) {
                if (!token_is(t, "as"))
                        return parser_error(ps, "unexpected %s after %s (expected \"as\" HOSTNAME)",
                                            quote(t, q), quote(name, q2));
                if (!cursor_next(c, &host))
                        return parser_error(ps, "\"as\" needs a host bus name after it");
                r = parser_check_export_name(ps, host);
                if (r < 0)
                        return r;
                if (cursor_next(c, &t))
                        return parser_error(ps, "unexpected %s after the host name %s", quote(t, q),
                                            quote(host, q2));
        }
        r = parser_count_rule(ps);
        if (r < 0)
                return r;

        e = new0(struct export_entry, 1);
        if (!e)
                return parser_oom(ps);
        e->container_name = strndup(name.s, name.n);
        e->host_name = strndup(host.s, host.n);
        if (!e->container_name || !e->host_name)
                return parser_oom(ps);
        e->export = (struct bridge_export){.container_name = e->container_name, .host_name = e->host_name};
        e->line = ps->line;

        other = hashmap_get(p->exports_by_container_name, e->container_name);
        if (other)
                return parser_error(ps, "\"%s\" is already exported on line %u", e->container_name,
                                    other->line);
        other = hashmap_get(p->exports_by_host_name, e->host_name);
        if (other)
                return parser_error(ps, "\"%s\" is already the host name of the export on line %u",
                                    e->host_name, other->line);
        r = parser_check_export_loop(ps, e->container_name);
        if (r < 0)
                return r;
        r = parser_check_export_loop(ps, e->host_name);
        if (r < 0)
                return r;

        if (GREEDY_REALLOC(p->exports, p->allocated_exports, p->n_exports + 1) < 0)
                return parser_oom(ps);
        r = hashmap_put(p->exports_by_container_name, e->container_name, e);
        if (r < 0)
                return parser_oom(ps);
        r = hashmap_put(p->exports_by_host_name, e->host_name, e);
        if (r < 0) {
                hashmap_remove(p->exports_by_container_name, e->container_name);
                return parser_oom(ps);
        }
        p->exports[p->n_exports++] = TAKE_PTR(e);
        return 0;
}

static int parser_parse_line(struct parser *ps, const char *s, size_t n)
{
        struct cursor c = {s, s + n};
        struct token t;
        char q[QUOTE_SIZE];

        if (n > BRIDGE_POLICY_MAX_LINE_LENGTH)
                return parser_error(ps, "line longer than %u bytes", BRIDGE_POLICY_MAX_LINE_LENGTH);
        if (memchr(s, '\0', n))
                return parser_error(ps, "NUL byte in the line");

        if (!cursor_next(&c, &t))
                return 0; /* blank or a comment */
        if (token_is(t, "import"))
                return parser_parse_import(ps, &c);
        if (token_is(t, "export"))
                return parser_parse_export(ps, &c);
        return parser_error(ps, "unknown directive %s (expected import or export)", quote(t, q));
}

int bridge_policy_parse(const char *text, size_t len, const char *filename, struct bridge_policy **ret,
                        char *errbuf, size_t errlen)
{
        _cleanup_bridge_policy_ struct bridge_policy *p = NULL;
        struct parser ps = {
                .filename = filename ? filename : "<policy>",
                .errbuf = errbuf,
                .errlen = errlen,
        };
        const char *end;
        int r;

        if (errlen > 0)
                errbuf[0] = '\0';
        if (!text)
                text = "";

        if (len > BRIDGE_POLICY_MAX_FILE_SIZE) {
                /* Reported on the line that crosses the limit, without parsing anything. */
                ps.line = 1;
                for (const char *s = text;
                     (s = memchr(s, '\n', (size_t)(text + BRIDGE_POLICY_MAX_FILE_SIZE - s))); s++)
                        ps.line++;
                return parser_error(&ps, "the file is larger than %u bytes", BRIDGE_POLICY_MAX_FILE_SIZE);
        }

        p = bridge_policy_new();
        if (!p)
                return parser_oom(&ps);
        ps.policy = p;

        end = text + len;
        for (const char *s = text; s < end;) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                const char *eol = nl ? nl : end;

                ps.line++;
                r = parser_parse_line(&ps, s, (size_t)(eol - s));
                if (r < 0)
                        return r;
                s = nl ? nl + 1 : end;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

static int load_error(const char *path, int error, char *errbuf, size_t errlen)
{
        if (errlen > 0)
                snprintf(errbuf, errlen, "%s: cannot read: %s", path, strerror(error));
        return -error;
}

int bridge_policy_read(const char *path, char **ret_text, size_t *ret_len, char *errbuf, size_t errlen)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return load_error(path, errno, errbuf, errlen);

        /* One byte more than the limit, so that the parser can tell a too-large file from one at the limit.
         */
        while (size <= BRIDGE_POLICY_MAX_FILE_SIZE) {
                ssize_t n;

                if (GREEDY_REALLOC(buf, allocated, MIN(size + 4096, BRIDGE_POLICY_MAX_FILE_SIZE + 1)) < 0)
                        return load_error(path, ENOMEM, errbuf, errlen);
                n = read(fd, buf + size, MIN(allocated, BRIDGE_POLICY_MAX_FILE_SIZE + 1) - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return load_error(path, errno, errbuf, errlen);
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        if (GREEDY_REALLOC(buf, allocated, size + 1) < 0)
                return load_error(path, ENOMEM, errbuf, errlen);
        buf[size] = 0;
        *ret_text = TAKE_PTR(buf);
        *ret_len = size;
        if (errlen)
                errbuf[0] = 0;
        return 0;
}

int bridge_policy_load(const char *path, struct bridge_policy **ret, char *errbuf, size_t errlen)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = bridge_policy_read(path, &text, &len, errbuf, errlen);
        return r < 0 ? r : bridge_policy_parse(text, len, path, ret, errbuf, errlen);
}
