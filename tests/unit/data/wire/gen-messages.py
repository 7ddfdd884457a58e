#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Generate wire-samples.h: D-Bus messages marshalled by other implementations
(GLib's GDBusMessage in both byte orders, libdbus through ctypes in its native
order), each with the header values the generator set and a canonical dump of
the body that test-message.c reproduces with msg_reader. The test never runs
python; rerun this after changing the sample list:

    /usr/bin/python3 tests/unit/data/wire/gen-messages.py > tests/unit/data/wire/wire-samples.h

Dump format (tokens separated by one space): y:N b:N n:N q:N i:N u:N x:N t:N
h:INDEX d:<16 hex digits of the IEEE bits> s:<hex of the UTF-8 bytes> o:PATH
g:SIG, "v(SIG)" before a variant's value, "a[" ... "]", "(" ... ")", "{" ... "}".
"""
import ctypes
import math
import os
import struct
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

V = GLib.Variant

# ---- canonical body dump ----


def dump(v, out):
    t = v.get_type_string()
    c = t[0]
    if c == "y":
        out.append("y:%d" % v.get_byte())
    elif c == "b":
        out.append("b:%d" % int(v.get_boolean()))
    elif c == "n":
        out.append("n:%d" % v.get_int16())
    elif c == "q":
        out.append("q:%d" % v.get_uint16())
    elif c == "i":
        out.append("i:%d" % v.get_int32())
    elif c == "u":
        out.append("u:%d" % v.get_uint32())
    elif c == "x":
        out.append("x:%d" % v.get_int64())
    elif c == "t":
        out.append("t:%d" % v.get_uint64())
    elif c == "h":
        out.append("h:%d" % v.get_handle())
    elif c == "d":
        out.append("d:%016x" % struct.unpack("<Q", struct.pack("<d", v.get_double()))[0])
    elif c == "s":
        out.append("s:" + v.get_string().encode("utf-8").hex())
    elif c == "o":
        out.append("o:" + v.get_string())
    elif c == "g":
        out.append("g:" + v.get_string())
    elif c == "v":
        inner = v.get_variant()
        out.append("v(%s)" % inner.get_type_string())
        dump(inner, out)
    elif c == "a":
        out.append("a[")
        for i in range(v.n_children()):
            dump(v.get_child_value(i), out)
        out.append("]")
    elif c in "({":
        out.append(c)
        for i in range(v.n_children()):
            dump(v.get_child_value(i), out)
        out.append(")" if c == "(" else "}")
    else:
        raise ValueError(t)


def max_handle(v):
    """Highest handle index in v plus one: how many fds the message must carry."""
    c = v.get_type_string()[0]
    if c == "h":
        return v.get_handle() + 1
    if c == "v":
        return max_handle(v.get_variant())
    if c in "a({":
        return max([0] + [max_handle(v.get_child_value(i)) for i in range(v.n_children())])
    return 0


def body_dump(body):
    out = []
    if body is not None:
        for i in range(body.n_children()):
            dump(body.get_child_value(i), out)
    return " ".join(out)


# ---- bodies ----

NAN = float("nan")
UTF8 = "h\u00e9llo w\u00f6rld \u2713 \U0001d11e \u007f\u0080\u07ff\u0800\ud7ff\ue000\ufffd\uffff\U00010000\U0010ffff"


def nest_arrays(depth):
    sig, val = "y", 7
    for _ in range(depth):
        sig, val = "a" + sig, [val]
    return sig, val


def nest_structs(depth):
    sig, val = "u", 0xDEADBEEF
    for _ in range(depth):
        sig, val = "(" + sig + ")", (val,)
    return sig, val


def nest_variants(depth):
    v = V("s", "core")
    for _ in range(depth):
        v = V("v", v)
    return v


ARRAY_SIG = "ayabanaqaiauaxatadasaoagav"
ARRAYS_FULL = (
    [0, 1, 127, 128, 255],
    [True, False, True],
    [-32768, -1, 0, 32767],
    [0, 1, 65535],
    [-(2**31), -1, 0, 2**31 - 1],
    [0, 1, 2**32 - 1],
    [-(2**63), -1, 0, 2**63 - 1],
    [0, 1, 2**64 - 1],
    [0.5, -1e-300, math.inf],
    ["", "one", UTF8],
    ["/", "/a", "/a/b_c/D9"],
    ["", "s", "a{sv}", "(yyy)"],
    [V("i", 1), V("s", "two"), V("ay", b"\x03"), V("(bd)", (True, 4.0))],
)

# Put a byte before each array so the length word and the element padding
# (8 for ax/at/ad) sit at interesting offsets.
ARRAYS_AFTER_BYTE_SIG = "".join("y" + ARRAY_SIG[i:i + 2] for i in range(0, len(ARRAY_SIG), 2))

aa_sig, aa_val = nest_arrays(32)
ss_sig, ss_val = nest_structs(32)

BODIES = {
    "empty": None,
    "basic-min": V(
        "(ybnqiuxtdsog)", (0, False, -32768, 0, -(2**31), 0, -(2**63), 0, -0.0, "", "/", "")
    ),
    "basic-max": V(
        "(ybnqiuxtdsog)",
        (255, True, 32767, 65535, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1, 1.7976931348623157e308,
         UTF8, "/org/example/Obj_1/x9", "a{sv}(ii)aah"),
    ),
    "doubles": V("(ddddddddd)", (math.pi, 5e-324, 2.2250738585072014e-308, -math.inf, math.inf, NAN, 1.0,
                                 -2.5, 0.1)),
    "padding": V("(yqyuyxytydynybyhysyoygyv)",
                 (1, 2, 3, 4, 5, -6, 7, 8, 9, 10.5, 11, -12, 13, True, 15, 0, 17, "s", 19, "/o", 21, "g", 23,
                  V("y", 24))),
    "arrays": V("(" + ARRAY_SIG + ")", ARRAYS_FULL),
    "arrays-empty": V("(" + ARRAY_SIG + ")", tuple([] for _ in ARRAYS_FULL)),
    "arrays-empty-after-byte": V("(" + ARRAYS_AFTER_BYTE_SIG + ")",
                                 tuple(x for i in range(len(ARRAYS_FULL)) for x in (i + 1, []))),
    "arrays-after-byte": V("(" + ARRAYS_AFTER_BYTE_SIG + ")",
                           tuple(x for i, a in enumerate(ARRAYS_FULL) for x in (i + 1, a))),
    "structs": V("((i)(yx)((y)(x))(s(b(d)))a(yt)a(sa(ii)))",
                 ((1,), (2, -3), ((4,), (5,)), ("six", (True, (7.5,))), [(8, 9), (10, 11)],
                  [("a", [(1, 2), (3, 4)]), ("b", [])])),
    "dicts": V("(a{sv}a{ss}a{sv}a{ss}a{ias}a{yv}a{xd}a{ta{sv}}a{oa{sa{sv}}})",
               ({"Name": V("s", "x"), "Count": V("u", 3), "Big": V("x", -(2**63)), "List": V("as", ["a", "b"]),
                 "Nested": V("a{sv}", {"k": V("d", 1.5)})},
                {"a": "1", "b": "", "\u00e9": UTF8},
                {}, {},
                {1: ["x"], -1: [], 2**31 - 1: ["y", "z"]},
                {0: V("y", 0), 255: V("b", False)},
                {-(2**63): -0.0, 2**63 - 1: 1e10},
                {0: {}, 2**64 - 1: {"t": V("t", 2**64 - 1)}},
                {"/org/example/A": {"org.example.I": {"P": V("o", "/x")}}, "/": {}})),
    "dicts-small": V("(ya{sv}ya{ss}a{ias}a{sa{sv}})",
                     (1, {"a": V("i", 1), "bb": V("x", -2), "ccc": V("(yd)", (3, 0.5))}, 2, {},
                      {7: ["x", "y"], -1: []}, {"k": {"in": V("ay", b"\x01\x02")}, "e": {}})),
    "variants": V("(vvvvvv)",
                  (V("v", V("v", V("i", -42))),
                   V("a{sv}", {"k": V("v", V("s", "deep"))}),
                   V("(ybx)", (1, True, 2**40)),
                   V("ax", []),
                   V("ad", [0.25, -0.0]),
                   V("g", "a{sv}"))),
    "variant-chain": V("(v)", (nest_variants(30),)),
    "deep-arrays": V("(" + aa_sig + ")", (aa_val,)),
    "deep-structs": V("(" + ss_sig + ")", (ss_val,)),
    "deep-mixed": V("(a(a{sa(v)}))", ([({"k": [(V("a(i)", [(1,), (2,)]),)]},), ({},)],)),
}

# ---- GLib ----

CALL = dict(type=1, path="/org/example/Obj", interface="org.example.Iface", member="Method",
            destination="org.example.Dest")


def glib_message(kind, serial, body, big, flags=0, sender=None, fds=0):
    if kind == "call":
        m = Gio.DBusMessage.new_method_call("org.example.Dest", "/org/example/Obj", "org.example.Iface", "Method")
        meta = dict(CALL)
    elif kind == "call-nodest":
        m = Gio.DBusMessage.new_method_call(None, "/", None, "Ping")
        meta = dict(type=1, path="/", member="Ping")
    elif kind == "signal":
        m = Gio.DBusMessage.new_signal("/org/example/Sig", "org.example.Signals", "Changed")
        meta = dict(type=4, path="/org/example/Sig", interface="org.example.Signals", member="Changed")
    elif kind == "return":
        m = Gio.DBusMessage.new()
        m.set_message_type(Gio.DBusMessageType.METHOD_RETURN)
        m.set_reply_serial(0xFFFFFFFF)
        m.set_destination(":1.7")
        meta = dict(type=2, reply_serial=0xFFFFFFFF, destination=":1.7")
    elif kind == "error":
        m = Gio.DBusMessage.new()
        m.set_message_type(Gio.DBusMessageType.ERROR)
        m.set_error_name("org.example.Error.Failed")
        m.set_reply_serial(12345)
        m.set_destination(":1.7")
        meta = dict(type=3, error_name="org.example.Error.Failed", reply_serial=12345, destination=":1.7")
    else:
        raise ValueError(kind)
    if sender:
        m.set_sender(sender)
        meta["sender"] = sender
    if body is not None:
        m.set_body(body)
    if body is not None:
        fds = max(fds, max_handle(body))
    if fds:
        fl = Gio.UnixFDList.new()
        for _ in range(fds):
            fd = os.open("/dev/null", os.O_RDONLY)
            fl.append(fd)
            os.close(fd)
        m.set_unix_fd_list(fl)
    m.set_serial(serial)
    m.set_flags(Gio.DBusMessageFlags(flags))
    m.set_byte_order(Gio.DBusMessageByteOrder.BIG_ENDIAN if big else Gio.DBusMessageByteOrder.LITTLE_ENDIAN)
    blob = bytes(m.to_blob(Gio.DBusCapabilityFlags.UNIX_FD_PASSING))
    sig = body.get_type_string()[1:-1] if body is not None else ""
    meta.update(serial=serial, flags=flags, signature=sig, n_unix_fds=fds, big=big)
    return blob, meta


# ---- libdbus through ctypes (native byte order only; it offers no other) ----


class LibDBus:
    def __init__(self):
        self.l = ctypes.CDLL("libdbus-1.so.3")
        l = self.l
        l.dbus_message_new_method_call.restype = ctypes.c_void_p
        l.dbus_message_new_method_call.argtypes = [ctypes.c_char_p] * 4
        l.dbus_message_new_signal.restype = ctypes.c_void_p
        l.dbus_message_new_signal.argtypes = [ctypes.c_char_p] * 3
        l.dbus_message_iter_init_append.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        l.dbus_message_iter_append_basic.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        l.dbus_message_iter_open_container.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p,
                                                       ctypes.c_void_p]
        l.dbus_message_iter_close_container.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        l.dbus_message_set_serial.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        l.dbus_message_set_no_reply.argtypes = [ctypes.c_void_p, ctypes.c_int]
        l.dbus_message_set_sender.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        l.dbus_message_marshal.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                           ctypes.POINTER(ctypes.c_int)]
        l.dbus_message_unref.argtypes = [ctypes.c_void_p]
        l.dbus_free.argtypes = [ctypes.c_void_p]

    @staticmethod
    def new_iter():
        return ctypes.create_string_buffer(256)  # DBusMessageIter is ~72 bytes

    def append(self, it, v):
        l = self.l
        t = v.get_type_string()
        c = t[0]
        ok = 1
        if c in "ybnqiuxth":
            ctype = {"y": ctypes.c_uint8, "b": ctypes.c_uint32, "n": ctypes.c_int16, "q": ctypes.c_uint16,
                     "i": ctypes.c_int32, "u": ctypes.c_uint32, "x": ctypes.c_int64, "t": ctypes.c_uint64,
                     "h": ctypes.c_int}[c]
            val = {"y": v.get_byte, "b": v.get_boolean, "n": v.get_int16, "q": v.get_uint16, "i": v.get_int32,
                   "u": v.get_uint32, "x": v.get_int64, "t": v.get_uint64, "h": v.get_handle}[c]()
            if c == "h":
                # libdbus dups a real fd and numbers it in append order; the samples use 0, 1, ...
                assert val == self.n_handles
                self.n_handles += 1
                val = os.open("/dev/null", os.O_RDONLY)
                self.opened.append(val)
            x = ctype(int(val))
            ok = l.dbus_message_iter_append_basic(it, ord(c), ctypes.byref(x))
        elif c == "d":
            x = ctypes.c_double(v.get_double())
            ok = l.dbus_message_iter_append_basic(it, ord(c), ctypes.byref(x))
        elif c in "sog":
            x = ctypes.c_char_p(v.get_string().encode("utf-8"))
            ok = l.dbus_message_iter_append_basic(it, ord(c), ctypes.byref(x))
        elif c in "av({":
            sub = self.new_iter()
            if c == "a":
                contained = t[1:].encode()
            elif c == "v":
                contained = v.get_variant().get_type_string().encode()
            else:
                contained = None
            ok = l.dbus_message_iter_open_container(it, ord("r" if c == "(" else "e" if c == "{" else c),
                                                    contained, sub)
            if c == "v":
                self.append(sub, v.get_variant())
            else:
                for i in range(v.n_children()):
                    self.append(sub, v.get_child_value(i))
            ok = ok and l.dbus_message_iter_close_container(it, sub)
        if not ok:
            raise RuntimeError("libdbus append failed for " + t)

    def message(self, kind, serial, body, no_reply=False, sender=None):
        l = self.l
        if kind == "call":
            m = l.dbus_message_new_method_call(b"org.example.Dest", b"/org/example/Obj", b"org.example.Iface",
                                               b"Method")
            meta = dict(CALL)
        else:
            m = l.dbus_message_new_signal(b"/org/example/Sig", b"org.example.Signals", b"Changed")
            meta = dict(type=4, path="/org/example/Sig", interface="org.example.Signals", member="Changed")
        if no_reply:
            l.dbus_message_set_no_reply(m, 1)
        if sender:
            l.dbus_message_set_sender(m, sender.encode())
            meta["sender"] = sender
        self.n_handles = 0
        self.opened = []
        if body is not None:
            it = self.new_iter()
            l.dbus_message_iter_init_append(m, it)
            for i in range(body.n_children()):
                self.append(it, body.get_child_value(i))
        l.dbus_message_set_serial(m, serial)
        p = ctypes.c_void_p()
        n = ctypes.c_int()
        if not l.dbus_message_marshal(m, ctypes.byref(p), ctypes.byref(n)):
            raise RuntimeError("dbus_message_marshal failed")
        blob = ctypes.string_at(p, n.value)
        l.dbus_free(p)
        l.dbus_message_unref(m)
        for fd in self.opened:
            os.close(fd)
        sig = body.get_type_string()[1:-1] if body is not None else ""
        meta.update(serial=serial, flags=1 if no_reply else 0, signature=sig, n_unix_fds=self.n_handles,
                    big=sys.byteorder == "big")
        return blob, meta


# ---- unknown header fields, spliced in by hand (neither library writes them) ----


def add_unknown_field(blob, code, sig, value_bytes_le, value_bytes_be, align):
    """Append header field (code, variant of sig) after the existing fields; value already encoded."""
    big = blob[0:1] == b"B"
    fmt = ">" if big else "<"
    fields_len = struct.unpack(fmt + "I", blob[12:16])[0]
    body_size = struct.unpack(fmt + "I", blob[4:8])[0]
    body = blob[len(blob) - body_size:]
    fields = bytearray(blob[16:16 + fields_len])
    while len(fields) % 8:
        fields.append(0)
    fields += bytes([code, len(sig)]) + sig.encode() + b"\0"
    while (16 + len(fields)) % align:
        fields.append(0)
    fields += value_bytes_be if big else value_bytes_le
    hdr = bytearray(blob[:16])
    hdr[12:16] = struct.pack(fmt + "I", len(fields))
    out = bytes(hdr) + bytes(fields)
    out += b"\0" * ((8 - len(out) % 8) % 8)
    return out + body


# ---- output ----

samples = []


def add(name, blob, meta, body, unknown=0):
    fmt = ">" if meta["big"] else "<"
    body_size = struct.unpack(fmt + "I", blob[4:8])[0]
    fields_len = struct.unpack(fmt + "I", blob[12:16])[0]
    assert len(blob) == 16 + ((fields_len + 7) & ~7) + body_size, name
    assert blob[0:1] == (b"B" if meta["big"] else b"l"), name
    samples.append((name, blob, meta, body_size, body_dump(body), unknown))


def cstr(s):
    return "NULL" if s is None else '"' + s + '"'


def main():
    for big in (False, True):
        bo = "be" if big else "le"
        serial = 1
        for bname, body in BODIES.items():
            blob, meta = glib_message("call", serial, body, big)
            add("glib-%s-call-%s" % (bo, bname), blob, meta, body)
            serial += 1
        for kind, flags, ser, sender, body in (
            ("call-nodest", 0x1 | 0x2 | 0x4, 0xFFFFFFFF, None, None),
            ("signal", 0, 0x12345678, ":1.99", BODIES["dicts"]),
            ("signal", 0x1, 2, "org.example.WellKnown", BODIES["basic-max"]),
            ("return", 0x1, 77, None, BODIES["variants"]),
            ("return", 0, 78, None, None),
            ("error", 0x1, 79, ":1.1", V("(s)", ("something failed",))),
            ("error", 0, 80, None, None),
        ):
            blob, meta = glib_message(kind, ser, body, big, flags=flags, sender=sender)
            add("glib-%s-%s-%u" % (bo, kind, ser), blob, meta, body)
        fdbody = V("(hahhah)", (2, [0, 1, 2], 0, []))
        blob, meta = glib_message("call", 500, fdbody, big, fds=3)
        add("glib-%s-fds" % bo, blob, meta, fdbody)

        blob, meta = glib_message("call", 600, V("(su)", ("kept", 5)), big)
        le = struct.pack("<I", 3) + b"abc\0"
        be = struct.pack(">I", 3) + b"abc\0"
        # 11, not 10: libdbus 1.14 knows 10 as the proposed CONTAINER_INSTANCE ('o') and would reject
        # an 's' there; these samples stay valid for every implementation.
        blob = add_unknown_field(blob, 11, "s", le, be, 4)
        blob = add_unknown_field(blob, 255, "ai", struct.pack("<Iii", 8, 1, -1), struct.pack(">Iii", 8, 1, -1), 4)
        blob = add_unknown_field(blob, 42, "(yv)", b"\x07\x01y\0\x09", b"\x07\x01y\0\x09", 8)
        add("glib-%s-unknown-fields" % bo, blob, meta, V("(su)", ("kept", 5)), unknown=3)

    ld = LibDBus()
    serial = 1000
    for bname in ("basic-min", "basic-max", "doubles", "padding", "arrays", "arrays-empty",
                  "arrays-empty-after-byte", "structs", "dicts", "variants", "deep-mixed", "empty"):
        blob, meta = ld.message("call", serial, BODIES[bname])
        add("libdbus-call-" + bname, blob, meta, BODIES[bname])
        serial += 1
    blob, meta = ld.message("signal", 0xFFFFFFFE, BODIES["dicts"], no_reply=True, sender=":1.5")
    add("libdbus-signal-dicts", blob, meta, BODIES["dicts"])

    w = sys.stdout.write
    w("/* SPDX-License-Identifier: LGPL-2.1-or-later */\n")
    w("/* Generated by gen-messages.py (GLib %d.%d.%d, libdbus via ctypes); do not edit. */\n"
      % (GLib.MAJOR_VERSION, GLib.MINOR_VERSION, GLib.MICRO_VERSION))
    w("#pragma once\n#include <stddef.h>\n#include <stdint.h>\n\n")
    w("struct wire_sample {\n"
      "        const char *name;\n"
      "        const uint8_t *data;\n"
      "        size_t size;\n"
      "        int big_endian;\n"
      "        uint8_t type, flags;\n"
      "        uint32_t serial, reply_serial, body_size, n_unix_fds;\n"
      "        const char *path, *interface, *member, *error_name, *destination, *sender, *signature;\n"
      "        unsigned n_unknown_fields;\n"
      "        const char *dump;\n"
      "};\n\n")
    for i, (name, blob, meta, body_size, d, unknown) in enumerate(samples):
        w("/* %s */\nstatic const uint8_t wire_sample_%d[%d] = {\n" % (name, i, len(blob)))
        for off in range(0, len(blob), 16):
            w("        " + " ".join("0x%02x," % b for b in blob[off:off + 16]) + "\n")
        w("};\n")
    w("\nstatic const struct wire_sample wire_samples[] = {\n")
    for i, (name, blob, meta, body_size, d, unknown) in enumerate(samples):
        w("        {\n")
        w('                .name = "%s",\n' % name)
        w("                .data = wire_sample_%d,\n" % i)
        w("                .size = sizeof(wire_sample_%d),\n" % i)
        w("                .big_endian = %d,\n" % int(meta["big"]))
        w("                .type = %d,\n" % meta["type"])
        w("                .flags = 0x%x,\n" % meta["flags"])
        w("                .serial = %uu,\n" % meta["serial"])
        w("                .reply_serial = %uu,\n" % meta.get("reply_serial", 0))
        w("                .body_size = %uu,\n" % body_size)
        w("                .n_unix_fds = %uu,\n" % meta["n_unix_fds"])
        for k in ("path", "interface", "member", "error_name", "destination", "sender"):
            w("                .%s = %s,\n" % (k, cstr(meta.get(k))))
        w('                .signature = "%s",\n' % meta["signature"])
        w("                .n_unknown_fields = %d,\n" % unknown)
        assert '"' not in d and "\\" not in d, name
        parts = [d[k:k + 88] for k in range(0, len(d), 88)] or [""]
        w("                .dump = " + "\n                        ".join('"%s"' % p for p in parts) + ",\n")
        w("        },\n")
    w("};\n")


if __name__ == "__main__":
    main()
