/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nsbusctl introspect and tree: busctl's table of an object's members
 * (NAME TYPE SIGNATURE RESULT/VALUE FLAGS, property values read with
 * Properties.GetAll) and busctl's tree of a service's objects, found by
 * following the <node> children of each introspected object from "/".
 * Introspection XML is parsed with expat, which nsbusd already uses for its
 * configuration.
 */
#include <errno.h>
#include <expat.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "connect.h"
#include "format.h"
#include "verbs.h"

#define NODE_DEPTH_MAX 16

enum {
        FLAG_DEPRECATED = 1 << 0,
        FLAG_NO_REPLY = 1 << 1,
        FLAG_CONST = 1 << 2,
        FLAG_EMITS_CHANGE = 1 << 3,
        FLAG_EMITS_INVALIDATION = 1 << 4,
        FLAG_WRITABLE = 1 << 5,
};

struct member {
        const char *type; /* "interface", "method", "property", "signal": sorted as strings, as busctl */
        char *interface, *name;
        char signature[256], result[256];
        char *value;
        unsigned flags;
};

/* What one Introspect reply says: members of its own node, and the paths of its children. */
struct parsed {
        const char *path;
        struct member *members;
        size_t n_members;
        char **children;
        size_t n_children;
        unsigned depth;         /* <node> nesting: members count only at depth 1 */
        struct member *cur;     /* the member being read, or the interface */
        size_t interface_index; /* the interface's own entry in members */
        char *interface;
        bool failed;
};

static const char *attr(const char **atts, const char *name)
{
        for (size_t i = 0; atts[i]; i += 2)
                if (streq(atts[i], name))
                        return atts[i + 1];
        return NULL;
}

static struct member *add_member(struct parsed *p, const char *type, const char *name)
{
        struct member *more = realloc(p->members, (p->n_members + 1) * sizeof(*more));
        if (!more) {
                p->failed = true;
                return NULL;
        }
        p->members = more;
        struct member *m = &more[p->n_members++];
        *m = (struct member){
                .type = type, .interface = strdup(p->interface), .name = name ? strdup(name) : NULL};
        if (!m->interface || (name && !m->name))
                p->failed = true;
        return m;
}

static void append_sig(char *to, size_t size, const char *type)
{
        size_t n = strlen(to);
        snprintf(to + n, size - n, "%s", type ? type : "");
}

static void annotate(struct member *m, const char *name, const char *value)
{
        if (!m || !name || !value)
                return;
        if (streq(name, "org.freedesktop.DBus.Deprecated") && streq(value, "true"))
                m->flags |= FLAG_DEPRECATED;
        else if (streq(name, "org.freedesktop.DBus.Method.NoReply") && streq(value, "true"))
                m->flags |= FLAG_NO_REPLY;
        else if (streq(name, "org.freedesktop.DBus.Property.EmitsChangedSignal")) {
                unsigned emits = FLAG_CONST | FLAG_EMITS_CHANGE | FLAG_EMITS_INVALIDATION;
                if (streq(value, "const"))
                        m->flags = (m->flags & ~emits) | FLAG_CONST;
                else if (streq(value, "invalidates"))
                        m->flags = (m->flags & ~emits) | FLAG_EMITS_INVALIDATION;
                else if (streq(value, "false"))
                        m->flags &= ~emits;
        }
}

static void child_node(struct parsed *p, const char *name)
{
        char *path;
        if (name[0] == '/')
                path = strdup(name);
        else if (asprintf(&path, "%s%s%s", p->path, streq(p->path, "/") ? "" : "/", name) < 0)
                path = NULL;
        char **more = path ? realloc(p->children, (p->n_children + 1) * sizeof(*more)) : NULL;
        if (!more) {
                free(path);
                p->failed = true;
                return;
        }
        p->children = more;
        p->children[p->n_children++] = path;
}

static void XMLCALL on_start(void *userdata, const XML_Char *el, const XML_Char **atts)
{
        struct parsed *p = userdata;
        const char *name = attr(atts, "name");
        if (streq(el, "node")) {
                if (++p->depth == 2 && name)
                        child_node(p, name);
                if (p->depth > NODE_DEPTH_MAX)
                        p->failed = true;
                return;
        }
        if (p->depth != 1)
                return;
        if (streq(el, "interface") && name) {
                free(p->interface);
                p->interface = strdup(name);
                p->cur = p->interface ? add_member(p, "interface", NULL) : NULL;
                p->interface_index = p->n_members - 1;
        } else if (p->interface && name &&
                   (streq(el, "method") || streq(el, "signal") || streq(el, "property"))) {
                p->cur = add_member(p,
                                    streq(el, "method")   ? "method"
                                    : streq(el, "signal") ? "signal"
                                                          : "property",
                                    name);
                if (p->cur && streq(el, "property")) {
                        append_sig(p->cur->signature, sizeof(p->cur->signature), attr(atts, "type"));
                        const char *access = attr(atts, "access");
                        p->cur->flags |= FLAG_EMITS_CHANGE;
                        if (access && strstr(access, "write"))
                                p->cur->flags |= FLAG_WRITABLE;
                }
        } else if (streq(el, "arg") && p->cur && !streq(p->cur->type, "interface")) {
                const char *dir = attr(atts, "direction");
                bool out = streq(p->cur->type, "method") ? dir && streq(dir, "out") : false;
                if (out)
                        append_sig(p->cur->result, sizeof(p->cur->result), attr(atts, "type"));
                else
                        append_sig(p->cur->signature, sizeof(p->cur->signature), attr(atts, "type"));
        } else if (streq(el, "annotation")) {
                annotate(p->cur, name, attr(atts, "value"));
        }
}

static void XMLCALL on_end(void *userdata, const XML_Char *el)
{
        struct parsed *p = userdata;
        if (streq(el, "node"))
                p->depth--;
        else if (p->depth == 1 && streq(el, "interface")) {
                free(p->interface);
                p->interface = NULL;
                p->cur = NULL;
        } else if (p->depth == 1 && (streq(el, "method") || streq(el, "signal") || streq(el, "property")) &&
                   p->interface) {
                /* Annotations after the member are the interface's again. */
                p->cur = p->n_members > p->interface_index ? &p->members[p->interface_index] : NULL;
        }
}

static void parsed_done(struct parsed *p)
{
        for (size_t i = 0; i < p->n_members; i++) {
                free(p->members[i].interface);
                free(p->members[i].name);
                free(p->members[i].value);
        }
        free(p->members);
        for (size_t i = 0; i < p->n_children; i++)
                free(p->children[i]);
        free(p->children);
        free(p->interface);
}

/* Introspect path of service and parse what it says: 0, or negative after saying why. */
static int introspect(const struct cli_options *o, struct client *c, const char *service, const char *path,
                      struct parsed *p)
{
        *p = (struct parsed){.path = path};
        struct msg_builder b;
        struct message *reply;
        char what[512];
        snprintf(what, sizeof(what), "cannot introspect object %s of service %s", path, service);
        cli_call_init(c, &b, service, path, "org.freedesktop.DBus.Introspectable", "Introspect");
        int r = cli_call(o, c, &b, what, &reply);
        if (r < 0)
                return r;
        const char *xml;
        if (message_read(reply, "s", &xml) < 0) {
                message_unref(reply);
                return cli_fail(-EBADMSG, "%s: the reply is not a string", what);
        }
        XML_Parser parser = XML_ParserCreate(NULL);
        if (!parser) {
                message_unref(reply);
                return -ENOMEM;
        }
        XML_SetUserData(parser, p);
        XML_SetElementHandler(parser, on_start, on_end);
        bool ok = XML_Parse(parser, xml, (int)strlen(xml), 1) == XML_STATUS_OK;
        if (!ok)
                cli_fail(-EBADMSG, "%s: invalid XML at line %lu: %s", what,
                         (unsigned long)XML_GetCurrentLineNumber(parser),
                         XML_ErrorString(XML_GetErrorCode(parser)));
        XML_ParserFree(parser);
        message_unref(reply);
        if (ok && p->failed)
                return cli_fail(-ENOMEM, "%s: out of memory", what);
        return ok ? 0 : -EBADMSG;
}

static int member_compare(const void *a, const void *b)
{
        const struct member *x = a, *y = b;
        int d = strcmp(x->interface, y->interface);
        if (d == 0)
                d = strcmp(x->type, y->type);
        if (d == 0)
                d = strcmp(x->name ? x->name : "", y->name ? y->name : "");
        return d ? d : strcmp(x->signature, y->signature);
}

/* Every property's value of interface iface, from one GetAll, into p's members. */
static int read_properties(const struct cli_options *o, struct client *c, const char *service,
                           const char *path, const char *iface, struct parsed *p)
{
        struct msg_builder b;
        struct message *reply;
        char what[512];
        snprintf(what, sizeof(what), "cannot get all properties on interface %s", iface);
        cli_call_init(c, &b, service, path, "org.freedesktop.DBus.Properties", "GetAll");
        msg_builder_append(&b, "s", iface);
        int r = cli_call(o, c, &b, what, &reply);
        if (r < 0)
                return r;
        struct msg_reader rd;
        msg_reader_init(&rd, reply);
        r = streq(reply->signature, "a{sv}") ? msg_reader_enter(&rd, 'a', "{sv}") : -EBADMSG;
        while (r >= 0 && msg_reader_peek(&rd)) {
                const char *name;
                char *text = NULL;
                size_t len = 0;
                if ((r = msg_reader_enter(&rd, '{', "sv")) < 0 ||
                    (r = msg_reader_read_basic(&rd, 's', &name)) < 0 ||
                    (r = msg_reader_enter(&rd, 'v', NULL)) < 0)
                        break;
                FILE *f = open_memstream(&text, &len);
                r = f ? format_cmdline(&rd, f) : -ENOMEM;
                if (f)
                        fclose(f);
                for (size_t i = 0; r >= 0 && i < p->n_members; i++) {
                        struct member *m = &p->members[i];
                        if (streq(m->type, "property") && streq(m->interface, iface) &&
                            streq(m->name, name) && !m->value) {
                                m->value = TAKE_PTR(text);
                                break;
                        }
                }
                free(text);
                if (r >= 0 && (r = msg_reader_exit(&rd)) >= 0)
                        r = msg_reader_exit(&rd);
        }
        message_unref(reply);
        return r < 0 ? cli_fail(r, "%s: unreadable reply", what) : 0;
}

static const char *or_dash(const char *s)
{
        return s && s[0] ? s : "-";
}

static void member_flags(const struct member *m, char *buf, size_t size)
{
        static const char *const names[] = {"deprecated",   "no-reply",           "const",
                                            "emits-change", "emits-invalidation", "writable"};
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (m->flags & (1u << i)) {
                        size_t n = strlen(buf);
                        snprintf(buf + n, size - n, "%s%s", n ? " " : "", names[i]);
                }
}

/* --json: one object per row of the table, the interface rows included, values as the table shows them. */
static int print_members_json(const struct cli_options *o, const struct parsed *p, const char *only)
{
        static const char *const names[] = {"deprecated",   "no-reply",           "const",
                                            "emits-change", "emits-invalidation", "writable"};
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; a && i < p->n_members; i++) {
                const struct member *m = &p->members[i];
                if (only && !streq(only, m->interface))
                        continue;
                bool is_interface = streq(m->type, "interface");
                const char *value = m->value ? m->value : m->result;
                struct json_object *e = json_object_new_object(), *flags = json_object_new_array();
                json_object_object_add(e, "interface", json_object_new_string(m->interface));
                json_object_object_add(e, "type", json_object_new_string(m->type));
                json_object_object_add(e, "name",
                                       json_object_new_string(is_interface ? m->interface : m->name));
                json_object_object_add(e, "signature",
                                       m->signature[0] ? json_object_new_string(m->signature) : NULL);
                json_object_object_add(e, "value", value && value[0] ? json_object_new_string(value) : NULL);
                for (size_t k = 0; k < ELEMENTSOF(names); k++)
                        if (m->flags & (1u << k))
                                json_object_array_add(flags, json_object_new_string(names[k]));
                json_object_object_add(e, "flags", flags);
                json_object_array_add(a, e);
        }
        return format_json_print(a, o->json == CLI_JSON_PRETTY);
}

static void print_members(const struct cli_options *o, const struct parsed *p, const char *only)
{
        int w[4] = {4, 9, 9, 12}; /* TYPE as wide as "interface", as busctl always makes it */
        char name[512], flags[128];
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 1 && o->legend)
                        printf("%-*s %-*s %-*s %-*s FLAGS\n", w[0], "NAME", w[1], "TYPE", w[2], "SIGNATURE",
                               w[3], "RESULT/VALUE");
                for (size_t i = 0; i < p->n_members; i++) {
                        const struct member *m = &p->members[i];
                        bool is_interface = streq(m->type, "interface");
                        /* With one interface, its own row is not shown, but its width counts (as busctl). */
                        if (only && (!streq(only, m->interface) || (is_interface && pass == 1)))
                                continue;
                        snprintf(name, sizeof(name), "%s%s", is_interface ? "" : ".",
                                 is_interface ? m->interface : m->name);
                        const char *cells[4] = {name, m->type, or_dash(m->signature),
                                                or_dash(m->value ? m->value : m->result)};
                        if (pass == 0) {
                                for (int k = 0; k < 4; k++)
                                        w[k] = MAX(w[k], (int)strlen(cells[k]));
                                continue;
                        }
                        member_flags(m, flags, sizeof(flags));
                        printf("%-*s %-*s %-*s %-*s %s\n", w[0], cells[0], w[1], cells[1], w[2], cells[2],
                               w[3], cells[3], or_dash(flags));
                }
        }
}

int verb_introspect(const struct cli_options *o, int argc, char **argv)
{
        if (argc < 3 || argc > 4)
                return cli_fail(-EINVAL, "introspect: needs SERVICE OBJECT [INTERFACE]");
        _cleanup_(client_freep) struct client *c = NULL;
        int r = cli_connect(o, &c);
        if (r < 0)
                return r;
        struct parsed p;
        r = introspect(o, c, argv[1], argv[2], &p);
        for (size_t i = 0; r >= 0 && i < p.n_members; i++) {
                const struct member *m = &p.members[i];
                if (!streq(m->type, "interface") || (argc == 4 && !streq(argv[3], m->interface)))
                        continue;
                bool has_properties = false;
                for (size_t j = 0; j < p.n_members && !has_properties; j++)
                        has_properties = streq(p.members[j].type, "property") &&
                                         streq(p.members[j].interface, m->interface);
                if (has_properties)
                        r = read_properties(o, c, argv[1], argv[2], m->interface, &p);
        }
        if (r >= 0) {
                qsort(p.members, p.n_members, sizeof(*p.members), member_compare);
                if (o->json)
                        r = print_members_json(o, &p, argc == 4 ? argv[3] : NULL);
                else
                        print_members(o, &p, argc == 4 ? argv[3] : NULL);
        }
        parsed_done(&p);
        return r;
}

static int string_compare(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether path is below prefix ("/" is above everything). */
static bool path_below(const char *path, const char *prefix)
{
        size_t n = strlen(prefix);
        if (streq(prefix, "/"))
                return path[0] == '/';
        return strncmp(path, prefix, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* busctl's tree: the paths below path, "├─" before a child with a sibling after it, "└─" before the last. */
static void print_subtree(const char *prefix, const char *path, char **l, size_t n)
{
        size_t i = 0;
        while (i < n && streq(l[i], path))
                i++;
        while (i < n && path_below(l[i], path)) {
                size_t next = i + 1;
                while (next < n && path_below(l[next], l[i]))
                        next++;
                bool has_more = next < n && path_below(l[next], path);
                printf("%s%s%s\n", prefix, has_more ? "├─" : "└─", l[i]);
                char sub[1024];
                snprintf(sub, sizeof(sub), "%s%s", prefix, has_more ? "│ " : "  ");
                print_subtree(sub, l[i], l + i, next - i);
                i = next;
        }
}

/* The paths of service's objects, from "/" down: a failed node is reported and left out. */
/* The object tree of service, drawn as busctl draws it, or (json not NULL) added to json as a sorted array
 * of paths under the service's name. */
static int tree_one(const struct cli_options *o, struct client *c, const char *service,
                    struct json_object *json)
{
        char **queue = malloc(sizeof(char *)), **done = NULL;
        size_t n_queue = 1, n_done = 0;
        int r = 0;
        if (!queue || !(queue[0] = strdup("/"))) {
                free(queue);
                return -ENOMEM;
        }
        while (n_queue > 0) {
                char *path = queue[--n_queue];
                bool seen = false;
                for (size_t i = 0; i < n_done && !seen; i++)
                        seen = streq(done[i], path);
                struct parsed p;
                int q = seen ? -EEXIST : introspect(o, c, service, path, &p);
                if (q != -EEXIST) {
                        for (size_t i = 0; q >= 0 && i < p.n_children; i++) {
                                char **more = realloc(queue, (n_queue + 1) * sizeof(*more));
                                if (!more)
                                        break;
                                queue = more;
                                queue[n_queue++] = TAKE_PTR(p.children[i]);
                        }
                        parsed_done(&p);
                }
                char **more = q >= 0 ? realloc(done, (n_done + 1) * sizeof(*more)) : NULL;
                if (more) {
                        done = more;
                        done[n_done++] = path;
                } else {
                        free(path);
                        if (q < 0 && q != -EEXIST && r >= 0)
                                r = q;
                }
        }
        free(queue);
        qsort(done, n_done, sizeof(*done), string_compare);
        if (json) {
                struct json_object *paths = json_object_new_array();
                for (size_t i = 0; i < n_done; i++)
                        json_object_array_add(paths, json_object_new_string(done[i]));
                json_object_object_add(json, service, paths);
        } else if (n_done == 0)
                printf("No objects discovered.\n");
        else if (n_done == 1 && streq(done[0], "/"))
                printf("Only root object discovered.\n");
        else
                print_subtree("", "/", done, n_done);
        for (size_t i = 0; i < n_done; i++)
                free(done[i]);
        free(done);
        return r;
}

/* Print what tree_one() collected (nothing without --json); r is the walk's result, returned. */
static int tree_json_print(const struct cli_options *o, struct json_object *json, const char *only, int r)
{
        if (!json)
                return r;
        struct json_object *out = json;
        if (only) {
                struct json_object *paths = NULL;
                json_object_object_get_ex(json, only, &paths);
                out = json_object_get(paths);
                json_object_put(json);
        }
        int q = format_json_print(out, o->json == CLI_JSON_PRETTY);
        return r < 0 ? r : q;
}

int verb_tree(const struct cli_options *o, int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                if (!dbus_validate_bus_name(argv[i], strlen(argv[i])))
                        return cli_fail(-EINVAL, "%s: not a valid bus name", argv[i]);
        _cleanup_(client_freep) struct client *c = NULL;
        int r = cli_connect(o, &c);
        if (r < 0)
                return r;
        /* --json: {"SERVICE": ["/", "/a", ...], ...}, or the array alone for one SERVICE. */
        struct json_object *json = o->json ? json_object_new_object() : NULL;
        if (argc > 1) {
                for (int i = 1; i < argc; i++) {
                        if (i > 1 && !json)
                                puts("");
                        if (argc > 2 && !json)
                                printf("Service %s:\n", argv[i]);
                        int q = tree_one(o, c, argv[i], json);
                        r = r < 0 ? r : q;
                }
                return tree_json_print(o, json, argc == 2 ? argv[1] : NULL, r);
        }
        struct msg_builder b;
        struct message *reply;
        cli_call_init(c, &b, DRIVER_NAME, DRIVER_PATH, DRIVER_NAME, "ListNames");
        if ((r = cli_call(o, c, &b, "ListNames", &reply)) < 0)
                return r;
        _cleanup_free_ char **names = NULL;
        if (message_read(reply, "as", &names) < 0) {
                message_unref(reply);
                return cli_fail(-EBADMSG, "ListNames: unreadable reply");
        }
        bool first = true;
        for (size_t i = 0; names[i]; i++) {
                if (names[i][0] == ':' && !o->unique)
                        continue;
                if (!first && !json)
                        puts("");
                first = false;
                if (!json)
                        printf("Service %s:\n", names[i]);
                int q = tree_one(o, c, names[i], json);
                r = r < 0 ? r : q;
        }
        message_unref(reply);
        return tree_json_print(o, json, NULL, r);
}
