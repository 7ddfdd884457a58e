/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Match rules: parse AddMatch/RemoveMatch text, compare parsed rules, print
 * them canonically and test a message against them.
 *
 * Parsing follows dbus-daemon 1.14's two passes (bus/signals.c): first the
 * text is cut into at most 16 key/value tokens, then each key is checked and
 * applied in order. Keeping that shape is what makes the corner cases agree
 * with dbus-daemon: a tokenizing error wins over a bad value, keys after the
 * 16th (or after an empty key) are ignored, and whitespace is only skipped
 * around keys, never inside values. Argument keys are kept as a short sorted
 * array rather than 64 slots, so a rule costs memory only for the keys it has.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match-rule.h"

struct match_rule_token {
        char *key;
        char *value;
};

struct match_rule_tokens {
        struct match_rule_token token[MATCH_RULE_MAX_KEYS];
        size_t n;
};

static void match_rule_tokens_free(struct match_rule_tokens *t)
{
        for (size_t i = 0; i < t->n; i++) {
                free(t->token[i].key);
                free(t->token[i].value);
        }
        t->n = 0;
}

_printf_(3, 4) static void match_rule_set_error(char *error, size_t error_size, const char *fmt, ...)
{
        va_list ap;

        if (!error || error_size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(error, error_size, fmt, ap);
        va_end(ap);
}

/* dbus-daemon's ISWHITE: the only characters skipped around keys. */
static bool match_rule_is_white(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Find the key starting at rule[*pos]: optional whitespace, the key (anything
 * up to '=' or whitespace), optional whitespace, '='. An empty key (end of
 * text, or '=' right away) yields *ret_key = NULL and ends tokenizing; that is
 * how "" and trailing whitespace or a trailing comma are accepted.
 */
static int match_rule_find_key(const char *rule, size_t *pos, char **ret_key, char *error, size_t error_size)
{
        const char *p = rule + *pos;
        const char *start, *end;

        while (*p && match_rule_is_white(*p))
                p++;
        start = p;
        while (*p && *p != '=' && !match_rule_is_white(*p))
                p++;
        end = p;
        while (*p && match_rule_is_white(*p))
                p++;

        if (start == end) {
                *pos = (size_t)(p - rule);
                *ret_key = NULL;
                return 0;
        }
        if (*p != '=') {
                match_rule_set_error(error, error_size,
                                     "Match rule has a key with no subsequent '=' character");
                return -EINVAL;
        }

        char *key = strndup(start, (size_t)(end - start));
        if (!key)
                return -ENOMEM;
        *pos = (size_t)(p + 1 - rule);
        *ret_key = key;
        return 0;
}

/*
 * Read the value starting at rule[*pos], up to an unquoted ',' (consumed) or
 * the end. Inside '...' every byte is literal; outside, \' is an apostrophe and
 * a backslash before anything else stands for itself. Unquoted whitespace is
 * part of the value. A value is never longer than the text it came from.
 */
static int match_rule_find_value(const char *rule, size_t *pos, char **ret_value, char *error,
                                 size_t error_size)
{
        _cleanup_free_ char *value = malloc(strlen(rule + *pos) + 1);
        const char *p = rule + *pos;
        size_t n = 0;
        char quote = 0;

        if (!value)
                return -ENOMEM;

        for (; *p; p++) {
                if (quote == 0) {
                        if (*p == '\'') {
                                quote = '\'';
                        } else if (*p == ',') {
                                p++;
                                break;
                        } else if (*p == '\\') {
                                quote = '\\';
                        } else {
                                value[n++] = *p;
                        }
                } else if (quote == '\\') {
                        if (*p != '\'')
                                value[n++] = '\\';
                        value[n++] = *p;
                        quote = 0;
                } else if (*p == '\'') {
                        quote = 0;
                } else {
                        value[n++] = *p;
                }
        }

        if (quote == '\\') {
                value[n++] = '\\';
        } else if (quote == '\'') {
                match_rule_set_error(error, error_size, "Unbalanced quotation marks in match rule");
                return -EINVAL;
        }
        value[n] = '\0';

        *pos = (size_t)(p - rule);
        *ret_value = TAKE_PTR(value);
        return 0;
}

/* Like dbus-daemon, stop quietly after MATCH_RULE_MAX_KEYS pairs or at an empty key. */
static int match_rule_tokenize(const char *rule, struct match_rule_tokens *t, char *error, size_t error_size)
{
        size_t pos = 0, len = strlen(rule);
        int r;

        while (t->n < MATCH_RULE_MAX_KEYS && pos < len) {
                struct match_rule_token *tok = &t->token[t->n];

                r = match_rule_find_key(rule, &pos, &tok->key, error, error_size);
                if (r < 0)
                        return r;
                if (!tok->key)
                        break;
                t->n++;
                r = match_rule_find_value(rule, &pos, &tok->value, error, error_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static uint8_t match_rule_type_from_string(const char *s)
{
        if (streq(s, "method_call"))
                return MESSAGE_METHOD_CALL;
        if (streq(s, "method_return"))
                return MESSAGE_METHOD_RETURN;
        if (streq(s, "error"))
                return MESSAGE_ERROR;
        if (streq(s, "signal"))
                return MESSAGE_SIGNAL;
        return MESSAGE_INVALID;
}

static bool match_rule_is_bus_name_initial(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
}

static bool match_rule_is_bus_name_char(char c)
{
        return match_rule_is_bus_name_initial(c) || (c >= '0' && c <= '9');
}

/*
 * Bus names exactly as libdbus's _dbus_validate_bus_name_full() checks them
 * for dbus-daemon's match rules: after ':' any run of name characters whose
 * dots are each followed by one (so ":" and ":abc" pass); a well-known name
 * needs a dot unless it is an arg0namespace, whose value may be a single
 * element. lib's dbus_validate_bus_name() is stricter about unique names.
 */
static bool match_rule_validate_bus_name(const char *s, bool is_namespace)
{
        size_t n = strlen(s);
        bool dotted = false;

        if (n == 0 || n > DBUS_MAXIMUM_NAME_LENGTH)
                return false;

        if (s[0] == ':') {
                for (size_t i = 1; i < n; i++) {
                        if (s[i] == '.') {
                                if (i + 1 == n || !match_rule_is_bus_name_char(s[i + 1]))
                                        return false;
                                i++;
                        } else if (!match_rule_is_bus_name_char(s[i])) {
                                return false;
                        }
                }
                return true;
        }

        if (!match_rule_is_bus_name_initial(s[0]))
                return false;
        for (size_t i = 1; i < n; i++) {
                if (s[i] == '.') {
                        if (i + 1 == n || !match_rule_is_bus_name_initial(s[i + 1]))
                                return false;
                        dotted = true;
                        i++;
                } else if (!match_rule_is_bus_name_char(s[i])) {
                        return false;
                }
        }
        return dotted || is_namespace;
}

static bool match_rule_has_arg(const struct match_rule_keys *k, unsigned long index)
{
        if (index == 0 && k->arg0namespace)
                return true;
        for (size_t i = 0; i < k->n_args; i++)
                if (k->args[i].index == index)
                        return true;
        return false;
}

static int match_rule_insert_arg(struct match_rule_keys *k, uint8_t index, bool is_path, char **value)
{
        struct match_rule_arg *args = realloc(k->args, (k->n_args + 1u) * sizeof(*args));
        size_t at = 0;

        if (!args)
                return -ENOMEM;
        k->args = args;
        while (at < k->n_args && args[at].index < index)
                at++;
        memmove(args + at + 1, args + at, (k->n_args - at) * sizeof(*args));
        args[at] = (struct match_rule_arg){.index = index, .is_path = is_path, .value = TAKE_PTR(*value)};
        k->n_args++;
        return 0;
}

/*
 * argN, argNpath, arg0namespace. N is read with strtoul(base 0) as
 * dbus-daemon does, so it also accepts "arg010" (8), "arg0x3f" (63) or
 * "arg+1"; what it prints back is always plain decimal.
 */
static int match_rule_apply_arg(struct match_rule_keys *k, const char *key, char **value, char *error,
                                size_t error_size)
{
        bool is_path = false, is_namespace = false;
        unsigned long index;
        char *end;

        if (strlen(key) < 4) {
                match_rule_set_error(error, error_size,
                                     "Key '%s' in match rule starts with 'arg' but lacks an arg number. "
                                     "Should be 'arg0' or 'arg7' for example.\n",
                                     key);
                return -EINVAL;
        }

        errno = 0;
        index = strtoul(key + 3, &end, 0);
        if (end == key + 3 || errno != 0) {
                match_rule_set_error(
                        error, error_size,
                        "Key '%s' in match rule starts with 'arg' but could not parse arg number. "
                        "Should be 'arg0' or 'arg7' for example.\n",
                        key);
                return -EINVAL;
        }

        if (*end != '\0') {
                if (streq(end, "path")) {
                        is_path = true;
                } else if (streq(key, "arg0namespace")) {
                        is_namespace = true;
                        if (!match_rule_validate_bus_name(*value, true)) {
                                match_rule_set_error(
                                        error, error_size,
                                        "arg0namespace='%s' is not a valid prefix of a bus name", *value);
                                return -EINVAL;
                        }
                } else {
                        match_rule_set_error(
                                error, error_size,
                                "Key '%s' in match rule contains junk after argument number (%lu). "
                                "Only 'arg%lupath' (for example) or 'arg0namespace' are valid",
                                key, index, index);
                        return -EINVAL;
                }
        }

        if (index > MATCH_RULE_MAX_ARG) {
                match_rule_set_error(error, error_size,
                                     "Key '%s' in match rule has arg number %lu but the maximum is %u.\n",
                                     key, index, MATCH_RULE_MAX_ARG);
                return -EINVAL;
        }

        if (match_rule_has_arg(k, index)) {
                match_rule_set_error(error, error_size, "Argument %s matched more than once in match rule\n",
                                     key);
                return -EINVAL;
        }

        if (is_namespace) {
                k->arg0namespace = TAKE_PTR(*value);
                return 0;
        }
        return match_rule_insert_arg(k, (uint8_t)index, is_path, value);
}

/* Store a string key that may appear once and whose value the caller found valid or not. */
static int match_rule_apply_name(char **field, const char *key, char **value, bool valid, const char *what,
                                 char *error, size_t error_size)
{
        if (*field) {
                match_rule_set_error(error, error_size, "Key %s specified twice in match rule\n", key);
                return -EINVAL;
        }
        if (!valid) {
                match_rule_set_error(error, error_size, "%s '%s' is invalid\n", what, *value);
                return -EINVAL;
        }
        *field = TAKE_PTR(*value);
        return 0;
}

/* Apply one key; takes *value when it stores it. The checks and messages are dbus-daemon's, in its order. */
static int match_rule_apply_key(struct match_rule_keys *k, const char *key, char **value, char *error,
                                size_t error_size)
{
        const char *v = *value;
        size_t n = strlen(v);

        if (streq(key, "type")) {
                if (k->type != MESSAGE_INVALID) {
                        match_rule_set_error(error, error_size, "Key %s specified twice in match rule\n",
                                             key);
                        return -EINVAL;
                }
                k->type = match_rule_type_from_string(v);
                if (k->type == MESSAGE_INVALID) {
                        match_rule_set_error(error, error_size, "Invalid message type (%s) in match rule\n",
                                             v);
                        return -EINVAL;
                }
                return 0;
        }
        if (streq(key, "sender"))
                return match_rule_apply_name(&k->sender, key, value, match_rule_validate_bus_name(v, false),
                                             "Sender name", error, error_size);
        if (streq(key, "interface"))
                return match_rule_apply_name(&k->interface, key, value, dbus_validate_interface(v, n),
                                             "Interface name", error, error_size);
        if (streq(key, "member"))
                return match_rule_apply_name(&k->member, key, value, dbus_validate_member(v, n),
                                             "Member name", error, error_size);
        if (streq(key, "path") || streq(key, "path_namespace")) {
                if (k->path || k->path_namespace) {
                        match_rule_set_error(error, error_size,
                                             "path or path_namespace specified twice in match rule\n");
                        return -EINVAL;
                }
                if (!dbus_validate_object_path(v, n)) {
                        match_rule_set_error(error, error_size, "Path '%s' is invalid\n", v);
                        return -EINVAL;
                }
                if (streq(key, "path"))
                        k->path = TAKE_PTR(*value);
                else
                        k->path_namespace = TAKE_PTR(*value);
                return 0;
        }
        if (streq(key, "destination"))
                return match_rule_apply_name(&k->destination, key, value,
                                             match_rule_validate_bus_name(v, false), "Destination name",
                                             error, error_size);
        if (streq(key, "eavesdrop")) {
                /* Repeating it is no error and the last one wins: tools such as dbus-monitor and
                 * bustle add eavesdrop to rules the user wrote, which may already have one. */
                if (streq(v, "true")) {
                        k->eavesdrop = true;
                } else if (streq(v, "false")) {
                        k->eavesdrop = false;
                } else {
                        match_rule_set_error(error, error_size,
                                             "eavesdrop='%s' is invalid, it should be 'true' or 'false'\n",
                                             v);
                        return -EINVAL;
                }
                return 0;
        }
        if (startswith(key, "arg"))
                return match_rule_apply_arg(k, key, value, error, error_size);

        match_rule_set_error(error, error_size, "Unknown key \"%s\" in match rule", key);
        return -EINVAL;
}

int match_rule_parse_full(const char *rule, struct match_rule_keys *ret, char *error, size_t error_size)
{
        _cleanup_(match_rule_tokens_free) struct match_rule_tokens tokens = {};
        _cleanup_match_rule_keys_ struct match_rule_keys k = {};
        size_t len = strlen(rule);
        int r;

        if (len > MATCH_RULE_MAX_LENGTH) {
                match_rule_set_error(error, error_size, "Match rule text is %zu bytes, maximum is %u", len,
                                     MATCH_RULE_MAX_LENGTH);
                return -E2BIG;
        }

        r = match_rule_tokenize(rule, &tokens, error, error_size);
        if (r < 0)
                return r;

        for (size_t i = 0; i < tokens.n; i++) {
                r = match_rule_apply_key(&k, tokens.token[i].key, &tokens.token[i].value, error, error_size);
                if (r < 0)
                        return r;
        }

        *ret = k;
        k = (struct match_rule_keys){};
        return 0;
}

int match_rule_parse(const char *rule, struct match_rule_keys *ret)
{
        return match_rule_parse_full(rule, ret, NULL, 0);
}

void match_rule_keys_free(struct match_rule_keys *k)
{
        free(k->sender);
        free(k->interface);
        free(k->member);
        free(k->path);
        free(k->path_namespace);
        free(k->destination);
        free(k->arg0namespace);
        for (size_t i = 0; i < k->n_args; i++)
                free(k->args[i].value);
        free(k->args);
        *k = (struct match_rule_keys){};
}

/*
 * dbus-daemon's match_rule_equal() compares the path only for path= rules, so
 * there RemoveMatch("path_namespace='/b'") removes a path_namespace='/a' rule.
 * That is a bug no client can rely on; here the namespace is compared too.
 */
bool match_rule_keys_equal(const struct match_rule_keys *a, const struct match_rule_keys *b)
{
        if (a->type != b->type || a->eavesdrop != b->eavesdrop || a->n_args != b->n_args)
                return false;
        if (!streq_ptr(a->sender, b->sender) || !streq_ptr(a->interface, b->interface) ||
            !streq_ptr(a->member, b->member) || !streq_ptr(a->path, b->path) ||
            !streq_ptr(a->path_namespace, b->path_namespace) || !streq_ptr(a->destination, b->destination) ||
            !streq_ptr(a->arg0namespace, b->arg0namespace))
                return false;
        for (size_t i = 0; i < a->n_args; i++)
                if (a->args[i].index != b->args[i].index || a->args[i].is_path != b->args[i].is_path ||
                    !streq(a->args[i].value, b->args[i].value))
                        return false;
        return true;
}

/* path_namespace: the path itself or below it; "/" is the only namespace with a trailing '/' and holds all.
 */
static bool match_rule_match_path_namespace(const char *ns, const char *path)
{
        size_t n = strlen(ns);

        if (!path || strncmp(path, ns, n) != 0)
                return false;
        return n == 1 || path[n] == '\0' || path[n] == '/';
}

/*
 * argNpath: equal, or one of the two ends in '/' and is a prefix of the other.
 * An empty string ends in nothing, so it only matches an empty string.
 */
static bool match_rule_match_arg_path(const char *expected, const char *actual)
{
        size_t el = strlen(expected), al = strlen(actual);

        if (al < el && (al == 0 || actual[al - 1] != '/'))
                return false;
        if (el < al && (el == 0 || expected[el - 1] != '/'))
                return false;
        return memcmp(expected, actual, MIN(el, al)) == 0;
}

/* arg0namespace: the name itself or a name below it ("a.b" holds "a.b.c", not "a.bc"). */
static bool match_rule_match_arg_namespace(const char *ns, const char *actual)
{
        size_t n = strlen(ns);

        if (strncmp(actual, ns, n) != 0)
                return false;
        return actual[n] == '\0' || actual[n] == '.';
}

const char *match_rule_message_arg(const struct message *m, unsigned index, bool allow_object_path)
{
        char t;
        const char *a = message_arg(m, index, &t);
        if (t == 's' || (allow_object_path && t == 'o'))
                return a;
        return NULL;
}

bool match_rule_keys_match_message(const struct match_rule_keys *k, const struct message *m)
{
        if (k->type != MESSAGE_INVALID && k->type != m->type)
                return false;
        if (k->interface && !streq_ptr(k->interface, m->interface))
                return false;
        if (k->member && !streq_ptr(k->member, m->member))
                return false;
        if (k->path && !streq_ptr(k->path, m->path))
                return false;
        if (k->path_namespace && !match_rule_match_path_namespace(k->path_namespace, m->path))
                return false;

        if (k->arg0namespace) {
                const char *actual = match_rule_message_arg(m, 0, false);
                if (!actual || !match_rule_match_arg_namespace(k->arg0namespace, actual))
                        return false;
        }
        for (size_t i = 0; i < k->n_args; i++) {
                const struct match_rule_arg *a = &k->args[i];
                const char *actual = match_rule_message_arg(m, a->index, a->is_path);

                if (!actual)
                        return false;
                if (a->is_path ? !match_rule_match_arg_path(a->value, actual) : !streq(a->value, actual))
                        return false;
        }
        return true;
}

/* key='value', with each apostrophe closed, escaped and reopened as '\'' (dbus-daemon's form). */
static void match_rule_print_key(FILE *f, bool *first, const char *key, const char *value)
{
        if (!*first)
                fputc(',', f);
        *first = false;
        fputs(key, f);
        fputs("='", f);
        for (const char *p = value; *p; p++) {
                if (*p == '\'')
                        fputs("'\\''", f);
                else
                        fputc(*p, f);
        }
        fputc('\'', f);
}

char *match_rule_keys_to_string(const struct match_rule_keys *k)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        bool first = true;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;

        /* dbus-daemon's order: type, interface, member, path, path_namespace, sender, destination,
         * eavesdrop (only when true), then the arguments by index. */
        if (k->type != MESSAGE_INVALID)
                match_rule_print_key(f, &first, "type", message_type_to_string(k->type));
        if (k->interface)
                match_rule_print_key(f, &first, "interface", k->interface);
        if (k->member)
                match_rule_print_key(f, &first, "member", k->member);
        if (k->path)
                match_rule_print_key(f, &first, "path", k->path);
        if (k->path_namespace)
                match_rule_print_key(f, &first, "path_namespace", k->path_namespace);
        if (k->sender)
                match_rule_print_key(f, &first, "sender", k->sender);
        if (k->destination)
                match_rule_print_key(f, &first, "destination", k->destination);
        if (k->eavesdrop)
                match_rule_print_key(f, &first, "eavesdrop", "true");
        if (k->arg0namespace)
                match_rule_print_key(f, &first, "arg0namespace", k->arg0namespace);
        for (size_t i = 0; i < k->n_args; i++) {
                char key[16];
                snprintf(key, sizeof(key), "arg%u%s", (unsigned)k->args[i].index,
                         k->args[i].is_path ? "path" : "");
                match_rule_print_key(f, &first, key, k->args[i].value);
        }

        if (ferror(f)) {
                fclose(f);
                return NULL;
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}
