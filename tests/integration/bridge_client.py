#!/usr/bin/python3
"""The caller's side of the bridge tests: one connection to ADDRESS, then COMMANDs in order.

    bridge_client.py ADDRESS [--by-name] COMMAND...

Inside the container ADDRESS is the container's bus and the callee is what the bridge imports
(bridge_host_service.py on the host bus); on the host it is the host bus and the callee is what the
bridge exports.  Output: KEY=VALUE lines, flushed as they come; a failed call is ERROR:<error name>.
Calls go to the unique name that owns the callee's name, as python3-dbus and GDBus proxies send them;
with --by-name, to the well-known name itself, as dbus-send and busctl do.

    types       every D-Bus type through org.example.Host's Echo methods (the values of
                test-python-dbus-all-types.sh); checks each reply itself: types.checked=N, and a
                "FAIL: ..." line (and exit status 1) for each one that came back different
    fds         fd.read= (ReadFd of a pipe we wrote), fd.written= (WriteFd into a pipe we read) and
                fd.written.eof=yes once every copy of its write end is closed, fd.made= (read from
                MakeFd's fd)
    error       error.name=, error.message= of Fail("it failed on purpose")
    slow        Slow("slow reply") with a 10 s timeout while EchoString is called meanwhile:
                slow.reply=, slow.seconds=, echo.meanwhile.seconds=
    signals     subscribes to every signal of org.example.Other and of org.example.Host, asks
                org.example.Host to have org.example.Other emit (in this order) early-ok (Changed at
                /org/example/Other), bad-member (Removed), bad-path (Changed at /elsewhere/Other),
                bad-iface (org.example.Sneaky.Changed), deep-ok (Changed at /org/example/Other/deep),
                late-ok (Changed at /org/example/Other), then org.example.Host to emit Ping(host-ping);
                waits (10 s at most) for late-ok and host-ping, then 0.5 s more: signals.other= what
                the match on org.example.Other heard (but host-ping), signals.host= host-ping and any
                bad-* the match on org.example.Host heard, signals.crosstalk= the rest (which:TEXT), in
                arrival order
    policy      policy.<call>=the reply or ERROR:name, for calls the test policy permits or not
    visibility  listnames=, has.<name>=true|false, owner.<name>= for the test names,
                call.org.example.Hidden=
    whoami      whoami.N.sender=, .uid=, .gids=, .pid= (or absent): org.example.Host's WhoAmI
    echo        echo=EchoString("through the bridge")
    web DEST    web.N.sender=, web.N.<credential>= : com.example.Web.Creds() of DEST (an exported
                container service), and web.N.pid= its Pid()
    wait:FILE   block until FILE exists (20 s at most)
"""

import math
import os
import select
import sys
import time

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service import ECHO_SIGNATURES  # noqa: E402

HOST = 'org.example.Host'
BY_NAME = False
failed = []
counters = {}


def say(key, value):
    print('%s=%s' % (key, value), flush=True)


def failure(text):
    failed.append(text)
    if len(failed) <= 5:
        print('FAIL: %s' % text[:400], flush=True)
    elif len(failed) == 6:
        print('FAIL: (further failures not shown)', flush=True)


def call(key, fn, *args, quiet=False, **kw):
    """Print KEY=the reply (or "ok" if quiet or void) or KEY=ERROR:<error name>; return the reply."""
    try:
        value = fn(*args, **kw)
    except dbus.DBusException as e:
        say(key, 'ERROR:%s' % e.get_dbus_name())
        return None
    say(key, 'ok' if quiet or value is None else value)
    return value


def nth(cmd):
    counters[cmd] = counters.get(cmd, 0) + 1
    return counters[cmd]


def proxy(bus, name, path):
    # dbus-python (like GDBus's proxies) sends to the unique name that owns NAME when the proxy is
    # made; with --by-name it sends to NAME itself, as dbus-send and busctl do.
    return bus.get_object(name, path, introspect=False, follow_name_owner_changes=BY_NAME)


def iface(bus, name, path, interface):
    return dbus.Interface(proxy(bus, name, path), interface)


def same(a, b):
    """Equal values of the same dbus type, recursively (NaN equals NaN, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if getattr(a, 'variant_level', 0) != getattr(b, 'variant_level', 0):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dbus.Dictionary):
        return (a.signature == b.signature and a.keys() == b.keys()
                and all(same(a[k], b[k]) for k in a))
    if isinstance(a, (dbus.Array, dbus.Struct)):
        if isinstance(a, dbus.Array) and a.signature != b.signature:
            return False
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def cmd_types(bus):
    svc = iface(bus, HOST, '/org/example/Host', HOST)
    checked = [0]
    A, S, D = dbus.Array, dbus.Struct, dbus.Dictionary

    def echo(name, value):
        try:
            got = getattr(svc, 'Echo' + name)(value)
        except dbus.DBusException as e:
            failure('%s(%r): %s' % (name, value, e))
            return
        checked[0] += 1
        if not same(got, value):
            failure('%s: sent %r (%s), got %r (%s)' % (name, value, type(value).__name__,
                                                       got, type(got).__name__))

    inf = float('inf')
    basic = {
        'Byte': [dbus.Byte(0), dbus.Byte(1), dbus.Byte(255)],
        'Boolean': [dbus.Boolean(True), dbus.Boolean(False)],
        'Int16': [dbus.Int16(-32768), dbus.Int16(0), dbus.Int16(32767)],
        'UInt16': [dbus.UInt16(0), dbus.UInt16(65535)],
        'Int32': [dbus.Int32(-2**31), dbus.Int32(-1), dbus.Int32(2**31 - 1)],
        'UInt32': [dbus.UInt32(0), dbus.UInt32(2**32 - 1)],
        'Int64': [dbus.Int64(-2**63), dbus.Int64(2**63 - 1)],
        'UInt64': [dbus.UInt64(0), dbus.UInt64(2**64 - 1)],
        'Double': [dbus.Double(x) for x in (0.0, -0.0, -1.5, 1.7976931348623157e308, 5e-324,
                                            2.2250738585072014e-308, inf, -inf, float('nan'))],
        'String': [dbus.String(x) for x in ('', 'hello', 'üñíçødé ✓ 𝄞 \u4e2d\u6587', '\x01\x7f tab\t nl\n',
                                            'x' * 300000)],
        'ObjectPath': [dbus.ObjectPath(x) for x in ('/', '/org/nsbus/Test_1/x9', '/' + '/'.join(['a'] * 500))],
        'Signature': [dbus.Signature(x) for x in ('', 'a{sv}', '(ybnqiuxtdsoghv)', 'a' * 32 + 'y',
                                                  '(' * 32 + 'i' + ')' * 32, 'y' * 255)],
    }
    for name, values in basic.items():
        for v in values:
            echo(name, v)
            echo('Variant', type(v)(v, variant_level=1))
        echo('Array' + name, A(values, signature=ECHO_SIGNATURES[name]))
        echo('Array' + name, A([], signature=ECHO_SIGNATURES[name]))
    maxs = S((dbus.Byte(255), dbus.Boolean(True), dbus.Int16(-32768), dbus.UInt16(65535), dbus.Int32(-2**31),
              dbus.UInt32(2**32 - 1), dbus.Int64(-2**63), dbus.UInt64(2**64 - 1), dbus.Double(-0.5),
              dbus.String('s\u00e9'), dbus.ObjectPath('/p'), dbus.Signature('a(ii)')), signature='ybnqiuxtdsog')
    echo('Struct', maxs)
    args = tuple(maxs)
    try:
        got = svc.EchoAllBasic(*args)
    except dbus.DBusException as e:
        got = e
    checked[0] += 1
    if not (isinstance(got, tuple) and len(got) == 12 and all(same(a, b) for a, b in zip(got, args))):
        failure('AllBasic: sent %r, got %r' % (args, got))
    echo('NestedStruct', S((dbus.Int32(1), S((dbus.String('two'), S((A([dbus.Byte(3)], signature='y'),
         S((dbus.Double(4.0),), signature='d')), signature='ay(d)')), signature='s(ay(d))')),
        signature='i(s(ay(d)))'))
    echo('ArrayOfStructs', A([S((dbus.Int32(i), dbus.String(str(i))), signature='is') for i in range(50)],
                             signature='(is)'))
    echo('ArrayOfStructs', A([], signature='(is)'))
    echo('ArrayOfArrays', A([A([dbus.Int32(1), dbus.Int32(2)], signature='i'), A([], signature='i')],
                            signature='ai'))
    echo('ArrayOfArrays', A([], signature='ai'))
    echo('DictIS', D({dbus.Int32(-1): dbus.String('minus'), dbus.Int32(7): dbus.String('')}, signature='is'))
    echo('DictIS', D({}, signature='is'))
    echo('DictSV', D({}, signature='sv'))
    echo('DictSV', D({
        dbus.String('y'): dbus.Byte(9, variant_level=1),
        dbus.String('b'): dbus.Boolean(False, variant_level=1),
        dbus.String('t'): dbus.UInt64(2**64 - 1, variant_level=1),
        dbus.String('d'): dbus.Double(2.5, variant_level=1),
        dbus.String('s'): dbus.String('str', variant_level=1),
        dbus.String('o'): dbus.ObjectPath('/x', variant_level=1),
        dbus.String('g'): dbus.Signature('v', variant_level=1),
        dbus.String('as'): A([dbus.String('a'), dbus.String('b')], signature='s', variant_level=1),
        dbus.String('empty'): A([], signature='i', variant_level=1),
        dbus.String('struct'): S((dbus.Int32(1), dbus.String('x')), signature='is', variant_level=1),
        dbus.String('dict'): D({dbus.String('k'): dbus.Int32(1, variant_level=1)}, signature='sv',
                               variant_level=1),
        dbus.String('vv'): dbus.Int32(5, variant_level=2),
        dbus.String('vvvv'): dbus.String('deep', variant_level=4),
    }, signature='sv'))
    echo('DictOfDicts', D({dbus.String('a'): D({dbus.String('x'): dbus.Int16(-3, variant_level=1)}, signature='sv'),
                           dbus.String('b'): D({}, signature='sv')}, signature='sa{sv}'))
    for depth in (1, 2, 3, 10, 30):
        echo('Variant', dbus.Int32(depth, variant_level=depth))
    echo('Variant', A([dbus.Int32(1, variant_level=1), dbus.String('two', variant_level=1)], signature='v',
                      variant_level=1))
    echo('ArrayVariant', A([dbus.Byte(1, variant_level=1), dbus.Int64(-1, variant_level=2)], signature='v'))
    big = os.urandom(4 * 1024 * 1024)
    for payload in (big, b''):
        try:
            got = bytes(svc.EchoBytes(dbus.ByteArray(payload), byte_arrays=True))
        except dbus.DBusException as e:
            failure('EchoBytes(%d bytes): %s' % (len(payload), e))
            continue
        checked[0] += 1
        if got != payload:
            failure('EchoBytes: %d bytes came back different (%d bytes)' % (len(payload), len(got)))
    say('types.checked', checked[0])
    say('types.failed', len(failed))


def cmd_fds(bus):
    svc = iface(bus, HOST, '/org/example/Host', HOST)
    r, w = os.pipe()
    os.write(w, b'through a pipe and the bridge')
    os.close(w)
    call('fd.read', svc.ReadFd, dbus.types.UnixFd(r))
    os.close(r)
    # The service writes into our pipe and closes its end: EOF then comes only if no copy of the write
    # end stays open anywhere on the way (the buses and the bridge must not keep passed fds).
    r, w = os.pipe()
    try:
        svc.WriteFd(dbus.types.UnixFd(w), 'written by the host')
        say('fd.write.call', 'ok')
    except dbus.DBusException as e:
        say('fd.write.call', 'ERROR:%s' % e.get_dbus_name())
    os.close(w)
    data, eof, end = b'', False, time.monotonic() + 5
    while time.monotonic() < end:
        ready, _, _ = select.select([r], [], [], max(0, end - time.monotonic()))
        if not ready:
            break
        chunk = os.read(r, 4096)
        if not chunk:
            eof = True
            break
        data += chunk
    os.close(r)
    say('fd.written', data.decode())
    say('fd.written.eof', 'yes' if eof else 'no within 5 s')
    try:
        made = svc.MakeFd('made on the host')
    except dbus.DBusException as e:
        say('fd.made', 'ERROR:%s' % e.get_dbus_name())
        return
    with os.fdopen(made.take(), 'rb') as f:
        say('fd.made', f.read().decode())


def cmd_error(bus):
    svc = iface(bus, HOST, '/org/example/Host', HOST)
    try:
        svc.Fail('it failed on purpose')
        say('error.name', 'none: the call succeeded')
    except dbus.DBusException as e:
        say('error.name', e.get_dbus_name())
        say('error.message', e.get_dbus_message())


def cmd_slow(bus):
    svc = iface(bus, HOST, '/org/example/Host', HOST)
    loop = GLib.MainLoop()
    result = {}
    start = time.monotonic()

    def ok(value):
        result['reply'] = value
        result['seconds'] = time.monotonic() - start
        loop.quit()

    def err(e):
        result['reply'] = 'ERROR:%s' % e.get_dbus_name()
        result['seconds'] = time.monotonic() - start
        loop.quit()

    svc.Slow('slow reply', reply_handler=ok, error_handler=err, timeout=10)
    t0 = time.monotonic()
    call('echo.meanwhile', svc.EchoString, 'while the slow call waits', timeout=10)
    say('echo.meanwhile.seconds', '%.2f' % (time.monotonic() - t0))
    GLib.timeout_add(12000, loop.quit)
    loop.run()
    say('slow.reply', result.get('reply', 'none within 12 s'))
    say('slow.seconds', '%.2f' % result.get('seconds', -1))


def cmd_signals(bus):
    got = {'other': [], 'host': []}
    loop = GLib.MainLoop()

    def handler(which):
        def h(*args, **kw):
            text = str(args[0]) if args else ''
            got[which].append(text)
            say('signal.%s' % which, '%s.%s@%s:%s' % (kw['interface'], kw['member'], kw['path'], text))
            if 'late-ok' in got['other'] and 'host-ping' in got['host']:
                GLib.timeout_add(500, loop.quit)
        return h

    for which, name in (('other', 'org.example.Other'), ('host', HOST)):
        bus.add_signal_receiver(handler(which), bus_name=name, path_keyword='path',
                                interface_keyword='interface', member_keyword='member')
    svc = iface(bus, HOST, '/org/example/Host', HOST)
    O = 'org.example.Other'
    signals = dbus.Array([
        (O, 'Changed', '/org/example/Other', 'early-ok'),
        (O, 'Removed', '/org/example/Other', 'bad-member'),
        (O, 'Changed', '/elsewhere/Other', 'bad-path'),
        ('org.example.Sneaky', 'Changed', '/org/example/Other', 'bad-iface'),
        (O, 'Changed', '/org/example/Other/deep', 'deep-ok'),
        (O, 'Changed', '/org/example/Other', 'late-ok'),
    ], signature='(ssss)')
    call('emit.other', svc.EmitOther, signals)
    call('emit.host', svc.Emit, 'Ping', 'host-ping')
    GLib.timeout_add(10000, loop.quit)
    loop.run()
    # A bridge that re-emitted every imported name's signals from one connection owning them all would
    # have a match on one sender hear the others too: signals.crosstalk.
    ours = {'other': lambda t: t != 'host-ping', 'host': lambda t: t == 'host-ping' or t.startswith('bad-')}
    for which in ('other', 'host'):
        say('signals.%s' % which, ','.join(t for t in got[which] if ours[which](t)))
    say('signals.crosstalk', ','.join('%s:%s' % (w, t) for w in got for t in got[w] if not ours[w](t)))


def cmd_policy(bus):
    other = proxy(bus, 'org.example.Other', '/org/example/Other')
    secret = proxy(bus, 'org.example.Other', '/org/example/Secret')
    call('policy.Other.Get', other.Get, dbus_interface='org.example.Other')
    call('policy.Other.Set', other.Set, 'x', dbus_interface='org.example.Other')
    call('policy.Other.Secret.Get', secret.Get, dbus_interface='org.example.Other')
    call('policy.Other.Sneaky.Get', other.Get, dbus_interface='org.example.Sneaky')
    xml = call('policy.Other.Introspect', other.Introspect, dbus_interface='org.freedesktop.DBus.Introspectable',
               quiet=True)
    visible = proxy(bus, 'org.example.Visible', '/org/example/Visible')
    call('policy.Visible.Get', visible.Get, dbus_interface='org.example.Visible')
    host = proxy(bus, HOST, '/org/example/Host')
    xml = call('policy.Host.Introspect', host.Introspect, dbus_interface='org.freedesktop.DBus.Introspectable',
               quiet=True)
    if xml is not None:
        say('policy.Host.Introspect.has_iface', 'yes' if 'interface name="%s"' % HOST in xml else 'no')
    nowhere = proxy(bus, HOST, '/org/example/Nowhere')
    call('policy.Host.Nowhere.Get', nowhere.Get, dbus_interface=HOST)


def cmd_visibility(bus):
    drv = iface(bus, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus')
    names = drv.ListNames()
    say('listnames', ','.join(sorted(str(n) for n in names)))
    for n in (HOST, 'org.example.Other', 'org.example.Visible', 'org.example.Hidden'):
        say('has.%s' % n, 'true' if drv.NameHasOwner(n) else 'false')
        call('owner.%s' % n, drv.GetNameOwner, n)
    # Without --by-name, making the proxy asks the bus for the owner: that is where it fails.
    call('call.org.example.Hidden', lambda: proxy(bus, 'org.example.Hidden', '/org/example/Hidden').Get(
        dbus_interface='org.example.Hidden'))


def cmd_whoami(bus):
    n = nth('whoami')
    svc = iface(bus, HOST, '/org/example/Host', HOST)
    try:
        sender, uid, creds = svc.WhoAmI()
    except dbus.DBusException as e:
        say('whoami.%d.sender' % n, 'ERROR:%s' % e.get_dbus_name())
        return
    say('whoami.%d.sender' % n, sender)
    say('whoami.%d.uid' % n, uid)
    say('whoami.%d.UnixUserID' % n, creds.get('UnixUserID', 'absent'))
    say('whoami.%d.gids' % n, ','.join(str(g) for g in creds.get('UnixGroupIDs', [])))
    say('whoami.%d.pid' % n, creds.get('ProcessID', 'absent'))


def cmd_echo(bus):
    call('echo', iface(bus, HOST, '/org/example/Host', HOST).EchoString, 'through the bridge')


def cmd_web(bus, dest):
    n = nth('web')
    web = iface(bus, dest, '/com/example/Web', 'com.example.Web')
    try:
        sender, creds = web.Creds()
    except dbus.DBusException as e:
        say('web.%d.sender' % n, 'ERROR:%s' % e.get_dbus_name())
        return
    say('web.%d.sender' % n, sender)
    say('web.%d.keys' % n, ','.join(sorted(creds)))
    for k, v in sorted(creds.items()):
        if isinstance(v, dbus.Array):
            v = ','.join(str(x) for x in v)
        say('web.%d.%s' % (n, k), v)
    call('web.%d.pid' % n, web.Pid)


def cmd_wait(path):
    end = time.monotonic() + 20
    while not os.path.exists(path):
        if time.monotonic() > end:
            failure('%s did not appear within 20 s' % path)
            return
        time.sleep(0.05)


def main():
    global BY_NAME
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(sys.argv[1])
    say('self.unique', bus.get_unique_name())
    args = sys.argv[2:]
    if args and args[0] == '--by-name':
        BY_NAME = True
        args.pop(0)
    while args:
        cmd = args.pop(0)
        if cmd.startswith('wait:'):
            cmd_wait(cmd[5:])
        elif cmd == 'web':
            cmd_web(bus, args.pop(0))
        else:
            globals()['cmd_' + cmd](bus)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
