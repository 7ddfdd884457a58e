/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * D-Bus address parsing (lib/address.c), fed what could come from --address, a <listen> element or
 * DBUS_SESSION_BUS_ADDRESS. Nothing here listens or connects.
 *
 * The bus prints addresses back (the connectable address it announces), so every address that parses
 * is printed entry by entry with address_entry_format(), and the printed form must parse into the same
 * entries and print identically again.
 */
#include <errno.h>

#include "address.h"
#include "fuzz.h"
#include "util.h"

static void fuzz_check_same(const struct address *a, const struct address *b)
{
        FUZZ_CHECK(a->n_entries == b->n_entries);
        for (size_t i = 0; i < a->n_entries; i++) {
                const struct address_entry *x = &a->entries[i], *y = &b->entries[i];

                FUZZ_CHECK(streq(x->transport, y->transport) && x->n_pairs == y->n_pairs);
                for (size_t j = 0; j < x->n_pairs; j++)
                        FUZZ_CHECK(streq(x->pairs[j].key, y->pairs[j].key) &&
                                   streq(x->pairs[j].value, y->pairs[j].value));
        }
}

/* Each entry printed, joined with ';' as in an address list. NULL when out of memory. */
static char *fuzz_format_address(const struct address *a)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        for (size_t i = 0; i < a->n_entries; i++) {
                _cleanup_free_ char *entry = NULL;

                if (address_entry_format(&a->entries[i], &entry) < 0)
                        return NULL;
                fprintf(f, "%s%s", i > 0 ? ";" : "", entry);
        }
        if (fclose(TAKE_PTR(f)) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

/* Escaped values hold only the bytes that may stay plain and %xx escapes, and unescape to the original. */
static void fuzz_check_escape(const char *value)
{
        _cleanup_free_ char *escaped = NULL;
        size_t n = 0;

        if (address_escape_value(value, &escaped) < 0)
                return;
        for (const char *p = escaped; *p; p++, n++) {
                if (*p == '%') {
                        unsigned v;
                        FUZZ_CHECK(sscanf(p + 1, "%2x", &v) == 1 && v != 0 && v == (unsigned char)value[n]);
                        p += 2;
                } else {
                        FUZZ_CHECK(strchr(",;:=%", *p) == NULL && *p > 0x20 && *p < 0x7f);
                        FUZZ_CHECK(*p == value[n]);
                }
        }
        FUZZ_CHECK(value[n] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_strndup(data, size);
        _cleanup_(address_freep) struct address *a = NULL;
        _cleanup_(address_freep) struct address *again = NULL;
        _cleanup_free_ char *printed = NULL;
        _cleanup_free_ char *printed_again = NULL;
        char error[256] = "";
        int r;

        if (!text)
                return 0;
        r = address_parse(text, &a, error, sizeof(error));
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
                FUZZ_CHECK(r == -ENOMEM ||
                           (error[0] != '\0' && strnlen(error, sizeof(error)) < sizeof(error)));
                FUZZ_CHECK(!a);
                return 0;
        }
        FUZZ_CHECK(a->n_entries > 0);
        for (size_t i = 0; i < a->n_entries; i++) {
                const struct address_entry *e = &a->entries[i];

                FUZZ_CHECK(e->transport[0] != '\0');
                for (size_t j = 0; j < e->n_pairs; j++) {
                        /* Keys are unique, so a lookup finds this very pair. */
                        FUZZ_CHECK(address_entry_get(e, e->pairs[j].key) == e->pairs[j].value);
                        fuzz_check_escape(e->pairs[j].value);
                }
        }

        printed = fuzz_format_address(a);
        if (!printed)
                return 0;
        r = address_parse(printed, &again, NULL, 0);
        if (r == -ENOMEM)
                return 0;
        FUZZ_CHECK(r == 0);
        fuzz_check_same(a, again);
        printed_again = fuzz_format_address(again);
        if (!printed_again)
                return 0;
        FUZZ_CHECK(streq(printed, printed_again));
        return 0;
}
