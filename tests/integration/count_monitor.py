#!/usr/bin/python3
"""A raw monitor that counts what the bus routes, for tests that must check how
many messages got through (dbus-test-tool spam prints nothing on success).

Usage: count_monitor.py RULE...   (BecomeMonitor match rules; empty list = all)
Prints "ready" once it is a monitor, then counts until it sees the signal
com.example.Sentinel.Stop and then nothing more for 1.5 s (messages that another
connection sent before the sentinel may be routed after it), and prints one line
per counter, sorted:

    call <destination> <member> <flags> <n>    method calls
    return <destination> <n>                   method returns
    error <destination> <error name> <n>       errors
    signal <interface>.<member> <n>            other signals
"""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_client import (Conn, METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL)  # noqa: E402


def main():
    rules = sys.argv[1:]
    c = Conn(os.environ['DBUS_SESSION_BUS_ADDRESS'], timeout=60)
    c.connect_bus()
    if rules:
        rules.append("type='signal',interface='com.example.Sentinel'")
    r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.Monitoring',
               'BecomeMonitor', 'asu', (rules, 0))
    if r.type != METHOD_RETURN:
        print('BecomeMonitor failed: %s %r' % (r.error_name, r.body), flush=True)
        return 1
    print('ready', flush=True)
    counts = collections.Counter()
    stopping = False
    while True:
        try:
            m = c.recv(1.5 if stopping else 60)
        except TimeoutError:
            if stopping:
                break
            raise
        if m.type == SIGNAL and m.interface == 'com.example.Sentinel' and m.member == 'Stop':
            stopping = True
            continue
        if m.type == METHOD_CALL:
            counts['call %s %s %d' % (m.destination, m.member, m.flags & 1)] += 1
        elif m.type == METHOD_RETURN:
            counts['return %s' % m.destination] += 1
        elif m.type == ERROR:
            counts['error %s %s' % (m.destination, m.error_name)] += 1
        elif m.type == SIGNAL:
            counts['signal %s.%s' % (m.interface, m.member)] += 1
    for k in sorted(counts):
        print(k, counts[k])
    return 0


if __name__ == '__main__':
    sys.exit(main())
