/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Match rule grammar, equality and matching. The expected canonical strings
 * and the accept/reject verdicts were recorded from a real dbus-daemon
 * 1.14.10 (AddMatch, then Debug.Stats.GetAllMatchRules), so these tests pin
 * nsbus to its behaviour, quirks included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match-rule.h"
#include "test.h"
#include "util.h"

#define _cleanup_keys_ _cleanup_match_rule_keys_

static void check_parse_fails(const char *rule, int expected)
{
        struct match_rule_keys k = {};
        int r = match_rule_parse(rule, &k);

        if (r != expected) {
                fprintf(stderr, "rule \"%s\": expected %d, got %d\n", rule, expected, r);
                exit(1);
        }
        /* failure leaves the output untouched */
        CHECK(k.type == 0 && !k.sender && !k.interface && !k.member && !k.path && !k.path_namespace &&
              !k.destination && !k.arg0namespace && !k.eavesdrop && !k.args && k.n_args == 0);
}

static void check_invalid(const char *rule)
{
        check_parse_fails(rule, -EINVAL);
}

/* Parse, print, check the printed form, and check that it parses back to an equal rule. */
static void check_canonical(const char *rule, const char *canonical)
{
        _cleanup_keys_ struct match_rule_keys k = {}, again = {};
        _cleanup_free_ char *s = NULL;
        int r = match_rule_parse(rule, &k);

        if (r != 0) {
                fprintf(stderr, "rule \"%s\" failed to parse: %d\n", rule, r);
                exit(1);
        }
        s = match_rule_keys_to_string(&k);
        CHECK(s);
        if (!streq(s, canonical)) {
                fprintf(stderr, "rule \"%s\" printed as \"%s\", expected \"%s\"\n", rule, s, canonical);
                exit(1);
        }
        CHECK_EQ(match_rule_parse(s, &again), 0);
        CHECK(match_rule_keys_equal(&k, &again));
        CHECK(match_rule_keys_equal(&again, &k));
}

static bool rules_equal(const char *a, const char *b)
{
        _cleanup_keys_ struct match_rule_keys ka = {}, kb = {};

        CHECK_EQ(match_rule_parse(a, &ka), 0);
        CHECK_EQ(match_rule_parse(b, &kb), 0);
        CHECK_EQ(match_rule_keys_equal(&ka, &kb), match_rule_keys_equal(&kb, &ka));
        return match_rule_keys_equal(&ka, &kb);
}

static void check_error_message(const char *rule, int expected, const char *message)
{
        _cleanup_keys_ struct match_rule_keys k = {};
        char error[256] = "";

        CHECK_EQ(match_rule_parse_full(rule, &k, error, sizeof(error)), expected);
        CHECK_STREQ(error, message);
}

static struct message message_make(uint8_t type, const char *path, const char *interface, const char *member)
{
        return (struct message){
                .type = type,
                .path = path,
                .interface = interface,
                .member = member,
                .signature = "",
                .args_parsed = true,
        };
}

/* Set argument index; type is 's', 'o', 'g', or 0 for a non-string argument. Only the indexed ones:
 * arguments further on are read from a real body (see the arg63 case). */
static void message_set_arg(struct message *m, unsigned index, char type, const char *value)
{
        CHECK(index < MESSAGE_CACHED_ARGS);
        m->args[index] = type ? value : NULL;
        m->arg_types[index] = type;
        if (m->n_args <= index)
                m->n_args = (uint8_t)(index + 1);
}

static bool rule_matches(const char *rule, const struct message *m)
{
        _cleanup_keys_ struct match_rule_keys k = {};

        if (match_rule_parse(rule, &k) != 0) {
                fprintf(stderr, "rule \"%s\" failed to parse\n", rule);
                exit(1);
        }
        return match_rule_keys_match_message(&k, m);
}

#define CHECK_MATCH(rule, m) CHECK(rule_matches((rule), (m)))
#define CHECK_NO_MATCH(rule, m) CHECK(!rule_matches((rule), (m)))

static void test_every_key(void)
{
        _cleanup_keys_ struct match_rule_keys k = {};

        CHECK_EQ(match_rule_parse("type='signal',sender='org.freedesktop.DBusSender',"
                                  "interface='org.freedesktop.DBusInterface',member='Foo',path='/bar/foo',"
                                  "destination=':452345.34',eavesdrop='true',arg0namespace='com.example',"
                                  "arg2='bar',arg1path='/a/'",
                                  &k),
                 0);
        CHECK_EQ(k.type, MESSAGE_SIGNAL);
        CHECK_STREQ(k.sender, "org.freedesktop.DBusSender");
        CHECK_STREQ(k.interface, "org.freedesktop.DBusInterface");
        CHECK_STREQ(k.member, "Foo");
        CHECK_STREQ(k.path, "/bar/foo");
        CHECK(!k.path_namespace);
        CHECK_STREQ(k.destination, ":452345.34");
        CHECK(k.eavesdrop);
        CHECK_STREQ(k.arg0namespace, "com.example");
        CHECK_EQ(k.n_args, 2);
        CHECK_EQ(k.args[0].index, 1);
        CHECK(k.args[0].is_path);
        CHECK_STREQ(k.args[0].value, "/a/");
        CHECK_EQ(k.args[1].index, 2);
        CHECK(!k.args[1].is_path);
        CHECK_STREQ(k.args[1].value, "bar");
        CHECK(match_rule_keys_has_args(&k));

        match_rule_keys_free(&k);
        CHECK_EQ(match_rule_parse("path_namespace='/foo/bar'", &k), 0);
        CHECK_STREQ(k.path_namespace, "/foo/bar");
        CHECK(!k.path);
        CHECK(!match_rule_keys_has_args(&k));

        const char *types[] = {"method_call", "method_return", "error", "signal"};
        for (unsigned i = 0; i < ELEMENTSOF(types); i++) {
                char rule[64];
                match_rule_keys_free(&k);
                snprintf(rule, sizeof(rule), "type='%s'", types[i]);
                CHECK_EQ(match_rule_parse(rule, &k), 0);
                CHECK_EQ(k.type, i + 1);
                check_canonical(rule, rule);
        }

        check_canonical("type='signal',interface='a.b',member='M',path='/p',sender='a.b',destination=':1.1',"
                        "eavesdrop=true,arg2='z',arg1path='/y',arg0namespace='n.x'",
                        "type='signal',interface='a.b',member='M',path='/p',sender='a.b',destination=':1.1',"
                        "eavesdrop='true',arg0namespace='n.x',arg1path='/y',arg2='z'");
        check_canonical("path_namespace='/'", "path_namespace='/'");
        check_canonical("arg63='foo'", "arg63='foo'");
        check_canonical("arg7path='/foo'", "arg7path='/foo'");
        check_canonical("arg0namespace='foo.bar'", "arg0namespace='foo.bar'");
}

static void test_empty_and_whitespace(void)
{
        check_canonical("", "");
        check_canonical("    \t", "");
        check_canonical("\t\n\r type='signal'", "type='signal'");
        check_canonical(
                "    type='signal',  \tsender='org.freedes''ktop.DBusSender',   "
                "interface='org.freedesktop.DBusInterface''''', \tmember='Foo',path='/bar/foo',"
                "destination=':452345.34'''''",
                "type='signal',interface='org.freedesktop.DBusInterface',member='Foo',path='/bar/foo',"
                "sender='org.freedesktop.DBusSender',destination=':452345.34'");
        /* whitespace around '=' belongs to the key side only before it; after it, to the value */
        check_canonical("arg0 = 'x'", "arg0=' x'");
        check_canonical(" arg0\t=\t'x'", "arg0='\tx'");
        check_canonical("arg0='a'  ,member='b'", "member='b',arg0='a  '");
        check_canonical("arg1=' x ',arg0=y", "arg0='y',arg1=' x '");
        check_invalid("type= 'signal'");
        check_invalid("member='Foo' ");
        check_invalid("type='signal' member='x'");
        /* a trailing comma or trailing whitespace is fine */
        check_canonical("type='signal',member='x',", "type='signal',member='x'");
        check_canonical("type='signal',member='x',   ", "type='signal',member='x'");
        /* an empty key ends the rule; whatever follows is ignored, as in dbus-daemon */
        check_canonical("='x',member='Foo'", "");
        check_canonical("='x'", "");
        check_canonical("type='signal', ='x',bogus='y'", "type='signal'");
        /* but a key needs its '=' and is anything up to '=' or whitespace */
        check_invalid("type");
        check_invalid(",");
        check_invalid(",type='signal'");
        check_invalid("type='signal',,member='x'");
        check_invalid("'type'='signal'");
        check_invalid("type='signal',member='a' ,x");
        check_invalid("arg0=a,b");
}

static void test_quoting(void)
{
        check_canonical("type=signal", "type='signal'");
        check_canonical("member=escape", "member='escape'");
        check_canonical("member=ice'cream'", "member='icecream'");
        check_canonical("member=a'b'c", "member='abc'");
        check_canonical("arg0='a''b'", "arg0='ab'");
        check_canonical("arg0=''", "arg0=''");
        check_canonical("arg0='a,b'", "arg0='a,b'");
        check_canonical("arg0='comma,type=comma',type=signal", "type='signal',arg0='comma,type=comma'");

        /* Inside quotes a backslash is literal and an apostrophe always closes. */
        check_canonical("arg0='\\'", "arg0='\\'");
        check_invalid("arg0='\\''");
        check_invalid("arg0='a\\'b'");
        check_invalid("arg0='abc");
        check_invalid("member='a'\\'b'");

        /* Outside quotes \' is an apostrophe and any other backslash stands for itself. */
        check_canonical("arg0=\\'", "arg0=''\\'''");
        check_canonical("arg0=\\", "arg0='\\'");
        check_canonical("arg0=abc\\", "arg0='abc\\'");
        check_canonical("arg0=\\\\", "arg0='\\\\'");
        check_canonical("arg0=a\\b", "arg0='a\\b'");
        check_canonical("arg0=escap\\e", "arg0='escap\\e'");
        check_canonical("arg0=a\\'b", "arg0='a'\\''b'");
        check_canonical("arg0=Time: 8 o\\'clock", "arg0='Time: 8 o'\\''clock'");
        CHECK(rules_equal("arg0=Time: 8 o\\'clock", "arg0='Time: 8 o'\\''clock'"));
        check_canonical("arg0='a\\nb'", "arg0='a\\nb'");
        /* a backslash escapes a comma too: it stays in the value and does not end it */
        check_canonical("arg0='a'\\,b", "arg0='a\\,b'");

        /* The specification's first example gives ', \, "," and \\ as arguments 0 to 3. */
        {
                _cleanup_keys_ struct match_rule_keys k = {};
                CHECK_EQ(match_rule_parse("arg0=''\\''',arg1='\\',arg2=',',arg3='\\\\'", &k), 0);
                CHECK_EQ(k.n_args, 4);
                CHECK_STREQ(k.args[0].value, "'");
                CHECK_STREQ(k.args[1].value, "\\");
                CHECK_STREQ(k.args[2].value, ",");
                CHECK_STREQ(k.args[3].value, "\\\\");
                check_canonical("arg0=''\\''',arg1='\\',arg2=',',arg3='\\\\'",
                                "arg0=''\\''',arg1='\\',arg2=',',arg3='\\\\'");
        }
        /* Its second example claims the same, but in dbus-daemon "\," does not end arg1's value, so arg1 is
         * "\,arg2=," and there is no arg2. nsbus follows dbus-daemon. */
        check_canonical("arg0=\\',arg1=\\,arg2=',',arg3=\\\\", "arg0=''\\''',arg1='\\,arg2=,',arg3='\\\\'");
}

static void test_invalid_values(void)
{
        /* type */
        check_invalid("type='chouin'");
        check_invalid("type='Signal'");
        check_invalid("type=''");
        check_invalid("type='invalid'");

        /* sender and destination: bus names as libdbus checks them, which lets odd unique names through */
        check_canonical("sender=':'", "sender=':'");
        check_canonical("sender=':abc'", "sender=':abc'");
        check_canonical("sender=':.1'", "sender=':.1'");
        check_canonical("sender='-a.b'", "sender='-a.b'");
        check_canonical("sender=org.freedesktop.DBus", "sender='org.freedesktop.DBus'");
        check_canonical("destination=':1'", "destination=':1'");
        check_canonical("destination='org.freedesktop.DBus'", "destination='org.freedesktop.DBus'");
        check_invalid("sender=':1.'");
        check_invalid("sender=':1..2'");
        check_canonical("sender=':1.-'", "sender=':1.-'"); /* '-' may follow a dot in a unique name */
        check_invalid("sender='a.1b'");
        check_invalid("sender='a'");
        check_invalid("sender=''");
        check_invalid("sender='.a.b'");
        check_invalid("sender='a..b'");
        check_invalid("sender='a.b/c'");
        check_invalid("destination='a'");
        check_invalid("destination=':1.2 '");
        {
                /* at most 255 bytes */
                _cleanup_keys_ struct match_rule_keys k = {};
                char rule[300] = "sender='a.";
                memset(rule + strlen(rule), 'b', 253);
                strcat(rule, "'");
                CHECK_EQ(match_rule_parse(rule, &k), 0);
                CHECK_EQ(strlen(k.sender), 255u);
                strcpy(rule + strlen(rule) - 1, "b'");
                check_invalid(rule);
        }

        /* interface and member */
        check_invalid("interface='abc@def++'");
        check_invalid("interface='a'");
        check_invalid("interface='a.1'");
        check_invalid("interface='a-b.c'");
        check_invalid("interface=''");
        check_canonical("interface='_.b'", "interface='_.b'");
        check_invalid("member='1a'");
        check_invalid("member='a-b'");
        check_invalid("member=''");
        check_invalid("member='a.b'");

        /* path and path_namespace */
        check_invalid("path=''");
        check_invalid("path='/a/'");
        check_invalid("path='//'");
        check_invalid("path='/a//b'");
        check_invalid("path='/a-b'");
        check_invalid("path='a'");
        check_invalid("path_namespace='/foo/'");
        check_invalid("path_namespace=''");
        check_canonical("path='/'", "path='/'");

        /* eavesdrop */
        check_invalid("eavesdrop='TRUE'");
        check_invalid("eavesdrop=''");
        check_invalid("eavesdrop='1'");
        check_canonical("eavesdrop=true", "eavesdrop='true'");
        check_canonical("eavesdrop='false'", "");
        check_canonical("eavesdrop='true',eavesdrop='false'", "");
        check_canonical("eavesdrop='false',eavesdrop='true'", "eavesdrop='true'");

        /* unknown keys */
        check_invalid("blah='signal'");
        check_invalid("service='youpi'");
        check_invalid("Type='signal'");
        check_invalid("path_namespaces='/'");
}

static void test_duplicates(void)
{
        check_invalid("type='signal',type='method_call'");
        check_invalid("type='signal',type='signal'");
        check_invalid("sender='a.b',sender='a.b'");
        check_invalid("interface='a.b',interface='a.c'");
        check_invalid("member='a',member='b'");
        check_invalid("destination=':1.1',destination=':1.2'");
        check_invalid("path='/a',path='/b'");
        check_invalid("path_namespace='/a',path_namespace='/a'");
        check_invalid("path='/foo',path_namespace='/foo'");
        check_invalid("path_namespace='/a',path='/a'");
        check_invalid("arg0='foo',arg0='bar'");
        check_invalid("arg3='foo',arg3='bar'");
        check_invalid("arg30='foo',arg30='bar'");
        check_invalid("arg0='b',arg0path='b'");
        check_invalid("arg0namespace='a',arg0='b'");
        check_invalid("arg0='b',arg0namespace='a'");
        check_invalid("arg0path='/',arg0namespace='a'");
        check_invalid("arg1='x',arg01='y'");
}

static void test_arg_keys(void)
{
        check_canonical("arg0='foo'", "arg0='foo'");
        check_canonical("arg40='foo'", "arg40='foo'");
        check_canonical("arg0path=''", "arg0path=''");
        check_canonical("arg0path='/a/',arg1path='',arg2path='x y'",
                        "arg0path='/a/',arg1path='',arg2path='x y'");
        check_invalid("arg64='foo'");
        check_invalid("arg300='foo'");
        check_invalid("arg64path='/'");
        check_invalid("arg='foo'");
        check_invalid("argv='foo'");
        check_invalid("argpath='foo'");
        check_invalid("arg3junk='foo'");
        check_invalid("argument='foo'");
        check_invalid("arg0Path='x'");
        check_invalid("arg99999999999999999999999='x'");
        check_invalid("arg-1='x'");

        /* The number is read the way strtoul(..., 0) reads it, as dbus-daemon does. */
        check_canonical("arg00='x'", "arg0='x'");
        check_canonical("arg010='x'", "arg8='x'");
        check_canonical("arg0x3f='x'", "arg63='x'");
        check_invalid("arg0x40='x'");
        check_canonical("arg+1='x'", "arg1='x'");
        check_canonical("arg-0='x'", "arg0='x'");
        check_canonical("arg\v1='x'", "arg1='x'");
        check_canonical("arg0x1path='x'", "arg1path='x'");
        check_invalid("arg0xpath='x'");

        /* arg0namespace: only argument 0, a bus name that may lack a dot, no trailing dot */
        check_canonical("arg0namespace='foo'", "arg0namespace='foo'");
        check_canonical("arg0namespace='a-b'", "arg0namespace='a-b'");
        check_canonical("arg0namespace=':1'", "arg0namespace=':1'");
        check_canonical("arg0namespace=':'", "arg0namespace=':'");
        check_invalid("arg1namespace='foo'");
        check_invalid("arg00namespace='foo'");
        check_invalid("arg0namespace=''");
        check_invalid("arg0namespace='foo.'");
        check_invalid("arg0namespace='foo.bar.'");
        check_invalid("arg0namespace='foo..'");
        check_invalid("arg0namespace='foo.bar..'");
        check_invalid("arg0namespace='a.1'");
        check_invalid("arg0namespace='1a'");
        check_invalid("arg0namespace='.a'");

        /* at most 16 keys are read; the rest is ignored, even an unknown key */
        {
                char rule[512] = "";
                for (int i = 0; i < 20; i++)
                        snprintf(rule + strlen(rule), sizeof(rule) - strlen(rule), "%sarg%d='v%d'",
                                 i ? "," : "", i, i);
                check_canonical(rule,
                                "arg0='v0',arg1='v1',arg2='v2',arg3='v3',arg4='v4',arg5='v5',arg6='v6',"
                                "arg7='v7',arg8='v8',arg9='v9',arg10='v10',arg11='v11',arg12='v12',"
                                "arg13='v13',arg14='v14',arg15='v15'");
                rule[0] = '\0';
                for (int i = 0; i < 16; i++)
                        snprintf(rule + strlen(rule), sizeof(rule) - strlen(rule), "arg%d='v%d',", i, i);
                strcat(rule, "bogus='x'");
                CHECK(rules_equal(rule,
                                  "arg0='v0',arg1='v1',arg2='v2',arg3='v3',arg4='v4',arg5='v5',arg6='v6',"
                                  "arg7='v7',arg8='v8',arg9='v9',arg10='v10',arg11='v11',arg12='v12',"
                                  "arg13='v13',arg14='v14',arg15='v15'"));
                rule[0] = '\0';
                for (int i = 0; i < 15; i++)
                        snprintf(rule + strlen(rule), sizeof(rule) - strlen(rule), "arg%d='v%d',", i, i);
                strcat(rule, "bogus='x'");
                check_invalid(rule);
        }
}

static void test_length_limit(void)
{
        char rule[MATCH_RULE_MAX_LENGTH + 16];

        /* arg0='xxx...x' of exactly 1024 bytes is fine, 1025 is LimitsExceeded */
        strcpy(rule, "arg0='");
        memset(rule + 6, 'x', MATCH_RULE_MAX_LENGTH - 7);
        strcpy(rule + MATCH_RULE_MAX_LENGTH - 1, "'");
        CHECK_EQ(strlen(rule), MATCH_RULE_MAX_LENGTH);
        {
                _cleanup_keys_ struct match_rule_keys k = {};
                CHECK_EQ(match_rule_parse(rule, &k), 0);
                CHECK_EQ(strlen(k.args[0].value), MATCH_RULE_MAX_LENGTH - 7);
        }
        strcpy(rule + MATCH_RULE_MAX_LENGTH - 1, "x'");
        check_parse_fails(rule, -E2BIG);

        /* the length is checked before anything else */
        memset(rule, 'a', MATCH_RULE_MAX_LENGTH + 1);
        rule[MATCH_RULE_MAX_LENGTH + 1] = '\0';
        check_parse_fails(rule, -E2BIG);
        check_error_message(rule, -E2BIG, "Match rule text is 1025 bytes, maximum is 1024");
}

static void test_error_messages(void)
{
        check_error_message("type", -EINVAL, "Match rule has a key with no subsequent '=' character");
        check_error_message("arg0='abc", -EINVAL, "Unbalanced quotation marks in match rule");
        /* tokenizing errors come before any key is looked at */
        check_error_message("type='bogus',member", -EINVAL,
                            "Match rule has a key with no subsequent '=' character");
        check_error_message("type='signal',type='error'", -EINVAL,
                            "Key type specified twice in match rule\n");
        check_error_message("type= 'signal'", -EINVAL, "Invalid message type ( signal) in match rule\n");
        check_error_message("sender='a'", -EINVAL, "Sender name 'a' is invalid\n");
        check_error_message("interface='a'", -EINVAL, "Interface name 'a' is invalid\n");
        check_error_message("member='a.b'", -EINVAL, "Member name 'a.b' is invalid\n");
        check_error_message("path='/a/'", -EINVAL, "Path '/a/' is invalid\n");
        check_error_message("path='/a',path_namespace='/a'", -EINVAL,
                            "path or path_namespace specified twice in match rule\n");
        check_error_message("destination='x'", -EINVAL, "Destination name 'x' is invalid\n");
        check_error_message("eavesdrop='TRUE'", -EINVAL,
                            "eavesdrop='TRUE' is invalid, it should be 'true' or 'false'\n");
        check_error_message("bogus='x'", -EINVAL, "Unknown key \"bogus\" in match rule");
        check_error_message(
                "arg='x'", -EINVAL,
                "Key 'arg' in match rule starts with 'arg' but lacks an arg number. Should be 'arg0' "
                "or 'arg7' for example.\n");
        check_error_message(
                "argpath='x'", -EINVAL,
                "Key 'argpath' in match rule starts with 'arg' but could not parse arg number. Should "
                "be 'arg0' or 'arg7' for example.\n");
        check_error_message(
                "arg1namespace='a'", -EINVAL,
                "Key 'arg1namespace' in match rule contains junk after argument number (1). Only "
                "'arg1path' (for example) or 'arg0namespace' are valid");
        check_error_message("arg0namespace='a.'", -EINVAL,
                            "arg0namespace='a.' is not a valid prefix of a bus name");
        check_error_message("arg0x40='x'", -EINVAL,
                            "Key 'arg0x40' in match rule has arg number 64 but the maximum "
                            "is 63.\n");
        check_error_message("arg0='b',arg0path='b'", -EINVAL,
                            "Argument arg0path matched more than once in match rule\n");

        /* the buffer is optional and truncation is safe */
        {
                _cleanup_keys_ struct match_rule_keys k = {};
                char small[8];
                CHECK_EQ(match_rule_parse_full("bogus='x'", &k, NULL, 0), -EINVAL);
                CHECK_EQ(match_rule_parse_full("bogus='x'", &k, small, sizeof(small)), -EINVAL);
                CHECK_STREQ(small, "Unknown");
        }
}

static void test_equality(void)
{
        /* dbus-daemon's own pairs (bus/signals.c test_equality): each equal to its partner only */
        static const char *const pairs[][2] = {
                {"type='signal'", "type='signal'"},
                {"type='signal',interface='foo.bar'", "interface='foo.bar',type='signal'"},
                {"type='signal',member='bar'", "member='bar',type='signal'"},
                {"type='method_call',sender=':1.0'", "sender=':1.0',type='method_call'"},
                {"type='method_call',destination=':1.0'", "destination=':1.0',type='method_call'"},
                {"type='method_call',path='/foo/bar'", "path='/foo/bar',type='method_call'"},
                {"type='method_call',arg0='blah'", "arg0='blah',type='method_call'"},
                {"type='method_call',arg0='boo'", "arg0='boo',type='method_call'"},
                {"type='method_call',arg0='blah',arg1='baz'", "arg0='blah',arg1='baz',type='method_call'"},
                {"type='method_call',arg3='foosh'", "arg3='foosh',type='method_call'"},
                {"arg3='fool'", "arg3='fool'"},
                {"arg0namespace='fool'", "arg0namespace='fool'"},
                {"member='food'", "member='food'"},
                {"member=escape", "member='escape'"},
                {"member=icecream", "member=ice'cream'"},
                {"arg0='comma,type=comma',type=signal", "type=signal,arg0='comma,type=comma'"},
                {"arg0=escap\\e", "arg0='escap\\e'"},
                {"arg0=Time: 8 o\\'clock", "arg0='Time: 8 o'\\''clock'"},
                {"path_namespace='/a'", "path_namespace='/a'"},
                {"path_namespace='/b'", "path_namespace='/b'"},
                {"path='/a'", "path='/a'"},
                {"arg1path='x'", "arg1path='x'"},
                {"arg1='x'", "arg1='x'"},
                {"arg0='x'", "arg0='x'"},
                {"eavesdrop=true", "eavesdrop='true'"},
                {"", "eavesdrop='false'"},
                {"type='signal',path_namespace='/org',sender='a.b',arg2='z',arg0namespace='c.d'",
                 "arg0namespace='c.d',arg2='z',sender='a.b',path_namespace='/org',type='signal'"},
        };

        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                if (!rules_equal(pairs[i][0], pairs[i][1])) {
                        fprintf(stderr, "\"%s\" and \"%s\" should be equal\n", pairs[i][0], pairs[i][1]);
                        exit(1);
                }
                for (size_t j = 0; j < ELEMENTSOF(pairs); j++)
                        if (i != j && rules_equal(pairs[i][0], pairs[j][1])) {
                                fprintf(stderr, "\"%s\" and \"%s\" should differ\n", pairs[i][0],
                                        pairs[j][1]);
                                exit(1);
                        }
        }

        CHECK(rules_equal("type='signal',eavesdrop='false'", "type='signal'"));
        CHECK(rules_equal("arg0='x',arg3='y'", "arg3='y',arg0='x'"));
        CHECK(rules_equal("arg010='x'", "arg8='x'"));
        CHECK(!rules_equal("arg0='x'", "arg0path='x'"));
        CHECK(!rules_equal("arg0='x'", "arg0namespace='x'"));
        CHECK(!rules_equal("arg0='x'", "arg0='x',arg1='y'"));
        CHECK(!rules_equal("arg0='x',arg2='y'", "arg0='x',arg1='y'"));
        CHECK(!rules_equal("path='/a'", "path_namespace='/a'"));
        CHECK(!rules_equal("sender='a.b'", "destination='a.b'"));
        CHECK(!rules_equal("type='signal'", "type='error'"));
        CHECK(!rules_equal("type='signal'", ""));
        /* dbus-daemon 1.14 treats these two as equal (it never compares path_namespace values); nsbus does
         * not */
        CHECK(!rules_equal("path_namespace='/a'", "path_namespace='/b'"));
}

static void test_matching_basic(void)
{
        /* dbus-daemon's message 1: signal Frobated("foobar", int32 3) */
        struct message m = message_make(MESSAGE_SIGNAL, NULL, NULL, "Frobated");
        message_set_arg(&m, 0, 's', "foobar");
        message_set_arg(&m, 1, 0, NULL);

        static const char *const should_match[] = {
                "", "type='signal'", "member='Frobated'", "arg0='foobar'", "type='signal',member='Frobated'",
                "type='signal',member='Frobated',arg0='foobar'", "member='Frobated',arg0='foobar'",
                "type='signal',arg0='foobar'",
                /* "if the argument is exactly equal to the string given in the match rule then the rule is
                 * satisfied", even when it is not a path */
                "arg0path='foobar'", "arg0namespace='foobar'", "eavesdrop='true'",
                "sender='a.b',destination=':1.1'", /* left to the caller */
        };
        static const char *const should_not_match[] = {
                "type='method_call'",
                "type='error'",
                "type='method_return'",
                "type='signal',member='Oopsed'",
                "arg0='blah'",
                "arg1='foobar'",
                "arg2='foobar'",
                "arg3='foobar'",
                "arg0='3'",
                "arg1='3'",
                "arg0='foobar',arg1='abcdef'",
                "arg0='foobar',arg1='abcdef',arg2='abcdefghi',arg3='abcdefghi',arg4='abcdefghi'",
                "arg0='foobar',arg1='abcdef',arg4='abcdefghi',arg3='abcdefghi',arg2='abcdefghi'",
                "arg0path='foo'",
                "arg0path='foobar/'",
                "arg1path='3'",
                "arg0namespace='foo'",
                "arg0namespace='foo',arg1='abcdef'",
                "arg0namespace='moo'",
                "interface='a.b'",
                "path='/'",
                "path_namespace='/'", /* a message without a path is in no namespace */
        };
        for (size_t i = 0; i < ELEMENTSOF(should_match); i++)
                CHECK_MATCH(should_match[i], &m);
        for (size_t i = 0; i < ELEMENTSOF(should_not_match); i++)
                CHECK_NO_MATCH(should_not_match[i], &m);

        /* interface, member, path and type each filter */
        struct message call = message_make(MESSAGE_METHOD_CALL, "/org/x", "org.x.Iface", "Do");
        CHECK_MATCH("type='method_call',interface='org.x.Iface',member='Do',path='/org/x'", &call);
        CHECK_NO_MATCH("interface='org.x.Other'", &call);
        CHECK_NO_MATCH("member='Done'", &call);
        CHECK_NO_MATCH("member='D'", &call);
        CHECK_NO_MATCH("path='/org'", &call);
        CHECK_NO_MATCH("path='/org/x/y'", &call);
        CHECK_NO_MATCH("type='signal'", &call);
        struct message ret = message_make(MESSAGE_METHOD_RETURN, NULL, NULL, NULL);
        CHECK_MATCH("type='method_return'", &ret);
        CHECK_NO_MATCH("type='error'", &ret);
        CHECK_NO_MATCH("member='Do'", &ret);
        struct message err = message_make(MESSAGE_ERROR, NULL, NULL, NULL);
        CHECK_MATCH("type='error'", &err);
}

static void test_matching_arg_types(void)
{
        struct message m = message_make(MESSAGE_SIGNAL, "/x", "t.T", "M");

        /* argN: strings only; argNpath: strings and object paths; signatures never */
        message_set_arg(&m, 0, 'o', "/a");
        CHECK_NO_MATCH("arg0='/a'", &m);
        CHECK_MATCH("arg0path='/a'", &m);
        CHECK_NO_MATCH("arg0namespace='a'", &m);
        message_set_arg(&m, 0, 's', "/a");
        CHECK_MATCH("arg0='/a'", &m);
        CHECK_MATCH("arg0path='/a'", &m);
        message_set_arg(&m, 0, 'g', "s");
        CHECK_NO_MATCH("arg0='s'", &m);
        CHECK_NO_MATCH("arg0path='s'", &m);

        /* a non-string argument before a string one */
        struct message is = message_make(MESSAGE_SIGNAL, "/x", "t.T", "M");
        message_set_arg(&is, 0, 0, NULL);
        message_set_arg(&is, 1, 's', "x");
        CHECK_MATCH("arg1='x'", &is);
        CHECK_NO_MATCH("arg0='x'", &is);
        CHECK_NO_MATCH("arg0=''", &is);
        CHECK_NO_MATCH("arg2='x'", &is);

        /* an empty string argument and an empty expected value */
        struct message e = message_make(MESSAGE_SIGNAL, "/x", "t.T", "M");
        message_set_arg(&e, 0, 's', "");
        CHECK_MATCH("arg0=''", &e);
        CHECK_NO_MATCH("arg0='x'", &e);
        CHECK_NO_MATCH("arg1=''", &e);

        /* argument 63 is reachable: past the indexed ones, found in the body */
        struct msg_builder b;
        struct message *far = NULL;
        msg_builder_init(&b, MESSAGE_SIGNAL, 1);
        b.path = "/x";
        b.interface = "t.T";
        b.member = "M";
        for (unsigned i = 0; i < 63; i++)
                CHECK_EQ(i % 2 ? msg_builder_append(&b, "u", (uint32_t)i)
                               : msg_builder_append(&b, "s", "not"),
                         0);
        CHECK_EQ(msg_builder_append(&b, "s", "last"), 0);
        CHECK_EQ(msg_builder_finish(&b, &far), 0);
        CHECK_EQ(message_parse_args(far), 0);
        CHECK_MATCH("arg63='last'", far);
        CHECK_NO_MATCH("arg62='last'", far);
        CHECK_MATCH("arg62='not'", far);
        CHECK_NO_MATCH("arg61='not'", far);
        message_unref(far);

        /* without parsed arguments nothing with argument keys matches */
        struct message none = message_make(MESSAGE_SIGNAL, "/x", "t.T", "M");
        none.args_parsed = false;
        none.n_args = 1;
        none.args[0] = "x";
        none.arg_types[0] = 's';
        CHECK_NO_MATCH("arg0='x'", &none);
        CHECK_MATCH("member='M'", &none);
}

static void test_matching_arg_path(void)
{
        /* The specification's arg0path='/aa/bb/' table, for string and object path arguments. */
        static const char *const matched[] = {"/aa/", "/aa/bb/", "/aa/bb/cc/", "/", "/aa/bb/cc"};
        static const char *const not_matched[] = {"/aa/b", "/aa", "/aa/bb"};

        for (size_t i = 0; i < ELEMENTSOF(matched); i++)
                for (int t = 0; t < 2; t++) {
                        struct message m = message_make(MESSAGE_SIGNAL, "/x", "t.T", "M");
                        message_set_arg(&m, 0, t ? 'o' : 's', matched[i]);
                        CHECK_MATCH("arg0path='/aa/bb/'", &m);
                }
        for (size_t i = 0; i < ELEMENTSOF(not_matched); i++)
                for (int t = 0; t < 2; t++) {
                        struct message m = message_make(MESSAGE_SIGNAL, "/x", "t.T", "M");
                        message_set_arg(&m, 0, t ? 'o' : 's', not_matched[i]);
                        CHECK_NO_MATCH("arg0path='/aa/bb/'", &m);
                }

        struct message m = message_make(MESSAGE_SIGNAL, "/x", "t.T", "M");
        message_set_arg(&m, 0, 's', "/a/");
        CHECK_MATCH("arg0path='/a/b'", &m);
        CHECK_NO_MATCH("arg0path='/ab'", &m);
        message_set_arg(&m, 0, 's', "/a");
        CHECK_NO_MATCH("arg0path='/a/b'", &m);
        CHECK_NO_MATCH("arg0path='/a/'", &m);
        /* an empty string is a prefix of everything but ends in no '/' */
        message_set_arg(&m, 0, 's', "");
        CHECK_MATCH("arg0path=''", &m);
        CHECK_NO_MATCH("arg0path='/'", &m);
        message_set_arg(&m, 0, 's', "/a");
        CHECK_NO_MATCH("arg0path=''", &m);
        /* argNpath at other indexes */
        message_set_arg(&m, 2, 'o', "/org/example/Obj");
        CHECK_MATCH("arg2path='/org/example/'", &m);
        CHECK_MATCH("arg0path='/a',arg2path='/org/'", &m);
        CHECK_NO_MATCH("arg1path='/'", &m);
}

static void test_matching_arg0namespace(void)
{
        static const char *const should_match[] = {
                "arg0namespace='com.example.backend'",
                "arg0namespace='com.example'",
                "arg0namespace='com'",
                "arg0namespace='com.example.backend.foo'",
                "member='NameOwnerChanged',arg0namespace='com.example.backend'",
        };
        static const char *const should_not_match[] = {
                "arg0namespace='com.example.backend.foo.bar'",
                "arg0namespace='com.example.backend.foobar'",
                "arg0namespace='com.example.backend.fo'",
                "arg0namespace='com.example.backen'",
                "arg0namespace='com.exampl'",
                "arg0namespace='co'",
                "arg0namespace='com.example',arg1=''",
        };
        struct message m = message_make(MESSAGE_SIGNAL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "NameOwnerChanged");
        message_set_arg(&m, 0, 's', "com.example.backend.foo");

        for (size_t i = 0; i < ELEMENTSOF(should_match); i++)
                CHECK_MATCH(should_match[i], &m);
        for (size_t i = 0; i < ELEMENTSOF(should_not_match); i++)
                CHECK_NO_MATCH(should_not_match[i], &m);

        /* with NameOwnerChanged's real shape (sss) the other arguments do not get in the way */
        message_set_arg(&m, 1, 's', "");
        message_set_arg(&m, 2, 's', ":1.7");
        CHECK_MATCH("arg0namespace='com.example',arg2=':1.7'", &m);
        CHECK_MATCH("arg0namespace='com.example',arg1=''", &m);

        /* unique names: ':1' holds ':1.7'... and ':1' itself, but not ':10' */
        message_set_arg(&m, 0, 's', ":1.7");
        CHECK_MATCH("arg0namespace=':1'", &m);
        message_set_arg(&m, 0, 's', ":10.7");
        CHECK_NO_MATCH("arg0namespace=':1'", &m);
}

static void test_matching_path_namespace(void)
{
        struct message m1 = message_make(MESSAGE_SIGNAL, "/foo/TheObjectManager", "t.T", "M");
        struct message m2 = message_make(MESSAGE_SIGNAL, "/foo/TheObjectManager/child_object", "t.T", "M");
        struct message m3 = message_make(MESSAGE_SIGNAL, "/foo/TheObjectManagerOther", "t.T", "M");
        struct message m4 = message_make(MESSAGE_SIGNAL, "/", "t.T", "M");

        CHECK_MATCH("type='signal',path_namespace='/'", &m1);
        CHECK_MATCH("type='signal',path_namespace='/foo'", &m1);
        CHECK_MATCH("type='signal',path_namespace='/foo/TheObjectManager'", &m1);
        CHECK_NO_MATCH("type='signal',path_namespace='/bar'", &m1);
        CHECK_NO_MATCH("type='signal',path_namespace='/bar/TheObjectManager'", &m1);
        CHECK_NO_MATCH("type='signal',path_namespace='/fo'", &m1);

        CHECK_MATCH("type='signal',path_namespace='/'", &m2);
        CHECK_MATCH("type='signal',path_namespace='/foo/TheObjectManager'", &m2);
        CHECK_NO_MATCH("type='signal',path_namespace='/foo/TheObjectManager/child'", &m2);

        CHECK_MATCH("type='signal',path_namespace='/'", &m3);
        CHECK_NO_MATCH("type='signal',path_namespace='/foo/TheObjectManager'", &m3);

        CHECK_MATCH("type='signal',path_namespace='/'", &m4);
        CHECK_NO_MATCH("type='signal',path_namespace='/foo/TheObjectManager'", &m4);
        CHECK_NO_MATCH("type='signal',path_namespace='/foo'", &m4);

        /* the specification's example */
        struct message a = message_make(MESSAGE_SIGNAL, "/com/example/foo", "t.T", "M");
        struct message b = message_make(MESSAGE_SIGNAL, "/com/example/foo/bar", "t.T", "M");
        struct message c = message_make(MESSAGE_SIGNAL, "/com/example/foobar", "t.T", "M");
        CHECK_MATCH("path_namespace='/com/example/foo'", &a);
        CHECK_MATCH("path_namespace='/com/example/foo'", &b);
        CHECK_NO_MATCH("path_namespace='/com/example/foobar/x'", &c);
        CHECK_NO_MATCH("path_namespace='/com/example/foo'", &c);
        /* path is exact */
        CHECK_NO_MATCH("path='/com/example/foo'", &b);
        CHECK_MATCH("path='/com/example/foo'", &a);
}

static void test_free(void)
{
        _cleanup_keys_ struct match_rule_keys k = {};

        CHECK_EQ(match_rule_parse("type='signal',sender=':1.1',arg3='x',arg0namespace='a'", &k), 0);
        match_rule_keys_free(&k);
        CHECK(!k.sender && !k.args && k.n_args == 0 && k.type == 0 && !k.arg0namespace);
        match_rule_keys_free(&k); /* twice is fine */

        _cleanup_free_ char *s = match_rule_keys_to_string(&k);
        CHECK_STREQ(s, "");
}

int main(void)
{
        test_every_key();
        test_empty_and_whitespace();
        test_quoting();
        test_invalid_values();
        test_duplicates();
        test_arg_keys();
        test_length_limit();
        test_error_messages();
        test_equality();
        test_matching_basic();
        test_matching_arg_types();
        test_matching_arg_path();
        test_matching_arg0namespace();
        test_matching_path_namespace();
        test_free();
        return 0;
}
