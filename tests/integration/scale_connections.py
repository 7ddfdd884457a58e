#!/usr/bin/python3
"""Open many idle connections with many match rules, then check the bus still routes.

Usage: scale_connections.py BUS_PID [CONNECTIONS] [RULES_PER_CONNECTION]

Each connection does SASL + Hello + its AddMatch calls in one pipelined write, in
batches, so 10,000 connections take seconds.  Every connection's rules are of the
form interface='org.nsbus.Scale',member='Broadcast',arg0='c<i>r<j>': all in the
same interface, so the bus has to tell them apart by arg0, and each is matched by
exactly one test signal.  Prints the bus's RSS before and after and the cost per
idle connection; exits non-zero on any failure.
"""

import os
import resource
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_client import (Conn, Message, build_message, message_size, sasl_external,  # noqa: E402
                        parse_address, METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL, F_PATH,
                        F_INTERFACE, F_MEMBER, F_DESTINATION)

IFACE = 'org.nsbus.Scale'
DRIVER = {F_PATH: '/org/freedesktop/DBus', F_INTERFACE: 'org.freedesktop.DBus',
          F_DESTINATION: 'org.freedesktop.DBus'}
BATCH = 250


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS for pid %d' % pid)


def rule(i, j):
    return "type='signal',interface='%s',member='Broadcast',arg0='c%dr%d'" % (IFACE, i, j)


def opening_bytes(i, rules):
    out = [b'\0', sasl_external(), b'BEGIN\r\n',
           build_message(METHOD_CALL, 1, dict(DRIVER) | {F_MEMBER: 'Hello'})]
    for j in range(rules):
        out.append(build_message(METHOD_CALL, 2 + j, dict(DRIVER) | {F_MEMBER: 'AddMatch'}, 's', [rule(i, j)]))
    return b''.join(out)


def finish_opening(sock, rules, deadline):
    """Read the OK line and the replies to Hello and every AddMatch.  Returns the
    unique name; raises on an error reply."""
    buf = b''
    while b'\r\n' not in buf:
        buf += recv_some(sock, deadline)
    line, _, buf = buf.partition(b'\r\n')
    if not line.startswith(b'OK '):
        raise RuntimeError('SASL answered %r' % line)
    buf = bytearray(buf)
    returns, unique = 0, None
    while returns < 1 + rules:
        n = message_size(buf)
        if n is None or len(buf) < n:
            buf += recv_some(sock, deadline)
            continue
        mtype = buf[1]
        if mtype == ERROR:
            m = Message(bytes(buf[:n]))
            raise RuntimeError('error reply %s %r' % (m.error_name, m.body))
        if mtype == METHOD_RETURN:
            if unique is None:
                    unique = Message(bytes(buf[:n])).body[0]
            returns += 1
        del buf[:n]
    return unique


def recv_some(sock, deadline):
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    data = sock.recv(65536)
    if not data:
        raise EOFError('the bus closed the connection')
    return data


def main():
    bus_pid = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    rules = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    addr = os.environ['DBUS_SESSION_BUS_ADDRESS']
    path = parse_address(addr)
    failures = []

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < n + 200:
        print('skipped: RLIMIT_NOFILE hard limit %d is below %d' % (hard, n + 200))
        return 77
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    # Generous timeouts: dbus-daemon needs seconds to process 10,000 hangups,
    # longer on a loaded machine, and answers nothing meanwhile.
    subscriber = Conn(addr, timeout=60)
    subscriber.connect_bus()
    subscriber.driver('AddMatch', 's', ("type='signal',interface='%s',member='Broadcast'" % IFACE,))
    subscriber.queue.clear()  # NameAcquired
    sender = Conn(addr)
    sender.connect_bus()
    time.sleep(0.2)
    rss_before = rss_kib(bus_pid)
    print('bus RSS before: %d KiB' % rss_before)

    t0 = time.monotonic()
    deadline = t0 + 120  # for all of them, so a stuck bus fails the test in time
    socks, uniques = [], []
    try:
        for start in range(0, n, BATCH):
            batch = []
            for i in range(start, min(n, start + BATCH)):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                batch.append(s)
                s.settimeout(max(0.01, deadline - time.monotonic()))
                s.connect(path)
                s.sendall(opening_bytes(i, rules))
            for s in batch:
                uniques.append(finish_opening(s, rules, deadline))
            socks.extend(batch)
    except (OSError, EOFError, RuntimeError) as e:
        print('FAIL: connection %d of %d: %r (after %.1f s)' % (len(uniques) + 1, n, e, time.monotonic() - t0))
        return 1
    t_open = time.monotonic() - t0
    print('%d connections with %d match rules each (%d rules) in %.1f s' % (n, rules, n * rules, t_open))
    time.sleep(0.5)
    rss_after = rss_kib(bus_pid)
    print('bus RSS with them: %d KiB' % rss_after)
    print('bytes per idle connection (with %d rules): %d' % (rules, (rss_after - rss_before) * 1024 // n))

    if len(set(uniques)) != n:
        failures.append('%d distinct unique names for %d connections' % (len(set(uniques)), n))
    r = subscriber.driver('ListNames')
    names = set(r.body[0]) if r.type == METHOD_RETURN else set()
    missing = [u for u in uniques if u not in names]
    if missing:
        failures.append('ListNames lacks %d of the connections, e.g. %s' % (len(missing), missing[:3]))

    # A broadcast none of the 10,000 matches reaches the subscriber.
    t1 = time.monotonic()
    sender.send_signal('/scale', IFACE, 'Broadcast', 's', ['to-subscriber'])
    try:
        m = subscriber.recv(10)
        if not (m.type == SIGNAL and m.body == ['to-subscriber'] and m.sender == sender.unique_name):
            failures.append('subscriber got %r' % m)
    except (TimeoutError, EOFError) as e:
        failures.append('subscriber did not get the broadcast: %r' % e)
    print('broadcast to the subscriber past %d rules: %.2f ms' % (n * rules, (time.monotonic() - t1) * 1000))

    # A broadcast exactly one of them matches (its rule number 5 of 10).
    target = n // 2 + 17 if n > 40 else 0
    sender.send_signal('/scale', IFACE, 'Broadcast', 's', ['c%dr%d' % (target, rules // 2)])
    r = sender.driver('GetId')  # the bus has routed the signal once this returns
    bus_id = r.body[0] if r.type == METHOD_RETURN else None
    socks[target].settimeout(10)
    data = b''
    try:
        while message_size(data) is None or len(data) < message_size(data):
            chunk = socks[target].recv(65536)
            if not chunk:
                raise EOFError('closed')
            data += chunk
        m = Message(data[:message_size(data)])
        if not (m.type == SIGNAL and m.body == ['c%dr%d' % (target, rules // 2)]):
            failures.append('connection %d got %r instead of its signal' % (target, m))
    except (socket.timeout, EOFError) as e:
        failures.append('connection %d did not get the signal its rule matches: %r' % (target, e))
    try:
        m = subscriber.recv(10)
        if m.body != ['c%dr%d' % (target, rules // 2)]:
            failures.append('subscriber got %r' % m)
    except (TimeoutError, EOFError) as e:
        failures.append('subscriber missed the second broadcast: %r' % e)
    # Its neighbours did not get it: the first thing they receive is their GetId reply.
    for other in (target - 1, target + 1, 0, n - 1):
        if other == target or not 0 <= other < n:
            continue
        s = socks[other]
        s.sendall(build_message(METHOD_CALL, 100, dict(DRIVER) | {F_MEMBER: 'GetId'}))
        s.settimeout(10)
        data = b''
        try:
            while message_size(data) is None or len(data) < message_size(data):
                data += s.recv(65536)
            m = Message(data[:message_size(data)])
            if not (m.type == METHOD_RETURN and m.reply_serial == 100 and m.body == [bus_id]):
                failures.append('connection %d got %r before its GetId reply' % (other, m))
        except socket.timeout:
            failures.append('connection %d: no GetId reply' % other)

    # A fresh connection still gets through quickly.
    t2 = time.monotonic()
    c = Conn(addr, timeout=60)
    c.connect_bus()
    r = c.driver('GetId')
    if r.type != METHOD_RETURN or r.body != [bus_id]:
        failures.append('GetId from a new connection: %r' % r)
    print('connect + Hello + GetId with %d peers: %.2f ms' % (n, (time.monotonic() - t2) * 1000))
    t3 = time.monotonic()
    for _ in range(100):
        r = c.driver('GetId')
    print('GetId round trip: %.3f ms' % ((time.monotonic() - t3) * 10))

    # Everyone leaves; the bus notices and keeps working.
    for s in socks:
        s.close()
    t4 = time.monotonic()
    deadline = t4 + 120
    while True:
        r = c.driver('ListNames')
        listed = set(r.body[0])
        left = [u for u in uniques if u in listed]
        if not left:
            break
        if time.monotonic() > deadline:
            failures.append('%d connections still listed 120 s after closing, e.g. %s' % (len(left), left[:3]))
            break
        time.sleep(0.1)
    print('all %d gone from ListNames after %.1f s' % (n, time.monotonic() - t4))
    time.sleep(0.5)
    print('bus RSS after they left: %d KiB' % rss_kib(bus_pid))
    r = subscriber.driver('GetId')
    if r.body != [bus_id]:
        failures.append('subscriber GetId at the end: %r' % r)

    for f in failures:
        print('FAIL:', f)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
