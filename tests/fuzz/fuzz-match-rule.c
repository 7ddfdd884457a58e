/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Match-rule parsing (daemon/match-rule.c), fed the text of an AddMatch or RemoveMatch argument.
 *
 * The bus identifies a rule by its canonical text (match.c keys AddMatch and RemoveMatch by it), so
 * canonical text that parses into a different rule, or prints differently the second time, would let
 * RemoveMatch miss a rule or remove the wrong one. Every rule that parses is therefore printed, parsed
 * again, and must give an equal rule with the same text that matches the same messages. The exception
 * is canonical text longer than MATCH_RULE_MAX_LENGTH (quoting can lengthen a rule): like dbus-daemon's,
 * it is refused with -E2BIG, which is harmless because the bus only compares canonical text, never
 * parses it.
 */
#include <errno.h>

#include "fuzz.h"
#include "match-rule.h"
#include "message.h"
#include "util.h"

/* A few messages with the header fields and leading arguments that rules look at. */
static const struct message fuzz_messages[] = {
        {
                .type = MESSAGE_SIGNAL,
                .path = "/org/example/Obj",
                .interface = "org.example.Iface",
                .member = "Changed",
                .sender = ":1.7",
                .signature = "sosgiss",
                .args_parsed = true,
                .n_args = 7,
                .args = {"org.example.Name.Sub", "/org/example/Obj/", "", "a{sv}", NULL, "it's", "/aa/bb"},
                .arg_types = {'s', 'o', 's', 'g', 0, 's', 's'},
        },
        {
                .type = MESSAGE_METHOD_CALL,
                .path = "/",
                .interface = "org.freedesktop.DBus",
                .member = "AddMatch",
                .destination = "org.freedesktop.DBus",
                .signature = "s",
                .args_parsed = true,
                .n_args = 1,
                .args = {"type='signal'"},
                .arg_types = {'s'},
        },
        {
                .type = MESSAGE_ERROR,
                .error_name = "org.example.Error.Failed",
                .reply_serial = 3,
                .destination = ":1.7",
                .signature = "",
                .args_parsed = true,
        },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_match_rule_keys_ struct match_rule_keys k = {};
        _cleanup_match_rule_keys_ struct match_rule_keys again = {};
        _cleanup_free_ char *canonical = NULL;
        _cleanup_free_ char *canonical_again = NULL;
        char error[256] = "";
        int r;

        if (!text)
                return 0;
        r = match_rule_parse_full(text, &k, error, sizeof(error));
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM);
                FUZZ_CHECK(r == -ENOMEM ||
                           (error[0] != '\0' && strnlen(error, sizeof(error)) < sizeof(error)));
                return 0;
        }
        FUZZ_CHECK(strlen(text) <= MATCH_RULE_MAX_LENGTH);
        FUZZ_CHECK(!k.path || !k.path_namespace);
        for (size_t i = 0; i < k.n_args; i++) {
                FUZZ_CHECK(k.args[i].index <= MATCH_RULE_MAX_ARG);
                FUZZ_CHECK(i == 0 || k.args[i - 1].index < k.args[i].index);
                FUZZ_CHECK(!k.arg0namespace || k.args[i].index != 0);
        }

        canonical = match_rule_keys_to_string(&k);
        if (!canonical)
                return 0;
        r = match_rule_parse(canonical, &again);
        if (strlen(canonical) > MATCH_RULE_MAX_LENGTH) {
                FUZZ_CHECK(r == -E2BIG);
                return 0;
        }
        if (r == -ENOMEM)
                return 0;
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(match_rule_keys_equal(&k, &again) && match_rule_keys_equal(&again, &k));
        canonical_again = match_rule_keys_to_string(&again);
        if (!canonical_again)
                return 0;
        FUZZ_CHECK(streq(canonical, canonical_again));

        for (size_t i = 0; i < ELEMENTSOF(fuzz_messages); i++)
                FUZZ_CHECK(match_rule_keys_match_message(&k, &fuzz_messages[i]) ==
                           match_rule_keys_match_message(&again, &fuzz_messages[i]));
        return 0;
}
