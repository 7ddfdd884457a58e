#!/usr/bin/python3
"""Subscribe to signals with python3-dbus and print each one received, one per line:

    signal <sender> <path> <interface>.<member> <args as python repr>

Usage: listen.py [--match RULE]... [--count N] [--timeout S]
It prints "ready <unique name>" once every match rule is installed (AddMatch has
replied), exits 0 after --count signals, and exits 3 on --timeout.
"""

import argparse
import sys

import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib


def plain(v):
    """dbus-python values as plain python values, so the output is stable."""
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, dict):
        return {plain(k): plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, tuple):
        return tuple(plain(x) for x in v)
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--match', action='append', default=[])
    ap.add_argument('--count', type=int, default=1)
    ap.add_argument('--timeout', type=float, default=20)
    args = ap.parse_args()
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    loop = GLib.MainLoop()
    seen = [0]
    status = [0]

    def on_message(_conn, msg):
        if msg.get_type() != 4:  # signals only
            return
        if msg.get_sender() == 'org.freedesktop.DBus' and msg.get_member() == 'NameAcquired':
            return
        print('signal %s %s %s.%s %r' % (msg.get_sender(), msg.get_path(), msg.get_interface(),
                                         msg.get_member(), [plain(a) for a in msg.get_args_list()]),
              flush=True)
        seen[0] += 1
        if seen[0] >= args.count:
            loop.quit()

    def on_timeout():
        print('timeout after %d signals' % seen[0], flush=True)
        status[0] = 3
        loop.quit()

    bus.add_message_filter(on_message)
    for rule in args.match:
        # A synchronous AddMatch: when it returns, the bus has installed the rule.
        bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                          'AddMatch', 's', (rule,))
    print('ready', bus.get_unique_name(), flush=True)
    GLib.timeout_add(int(args.timeout * 1000), on_timeout)
    loop.run()
    return status[0]


if __name__ == '__main__':
    sys.exit(main())
