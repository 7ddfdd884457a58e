#!/bin/bash
# The bytes and fds of messages waiting in receivers' queues are charged to a uid, over all of its
# connections: the sender's for an unsolicited message, the receiver's for one it asked for.
#  - root spreads big calls to a receiver that never reads over three connections: once root's
#    messages in waiting pass max_bytes_per_user, its calls get LimitsExceeded naming that limit, while
#    every connection is far below its own max_outgoing_bytes;
#  - uid 1000 can still queue a call to the same receiver: root's total is not its problem;
#  - when the receiver goes, root gets its charge back;
#  - fds: the same with max_unix_fds_per_user;
#  - a uid 1000 client that asks for big replies and never reads them is disconnected once its uid is
#    over the limit; the root service that answered it keeps working;
#  - messages still arriving count for their sender's uid apart from its queued ones: a second
#    connection that starts a 1.5 MiB message while the first is still sending one is disconnected,
#    the first finishes and gets its answer.
# (nsbusd's own limits: dbus-daemon has no per-uid byte or fd totals.)
set -u
. "$(dirname "$0")/lib.sh"
need python3-dbus setpriv
is_reference_daemon && skip "max_bytes_per_user and max_unix_fds_per_user are nsbusd's limits; dbus-daemon has none"
bus_write_config '<policy context="default"><allow user="*"/></policy>' \
	'<limit name="max_outgoing_bytes">67108864</limit>' \
	'<limit name="max_outgoing_unix_fds">64</limit>' \
	'<limit name="max_bytes_per_user">2097152</limit>' \
	'<limit name="max_unix_fds_per_user">8</limit>'
bus_start

# A receiver that never reads: it owns a name, says so, and sleeps.
cat >"$TMP/sink.py" <<'PY'
import sys, time, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
bus.request_name(sys.argv[2], dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
print('ready', bus.get_unique_name(), flush=True)
time.sleep(120)
PY

# A root service answering Big(n) with n bytes.
cat >"$TMP/big_service.py" <<'PY'
import sys, dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
class Big(dbus.service.Object):
    @dbus.service.method('org.test.Big', in_signature='u', out_signature='ay', byte_arrays=True)
    def Big(self, n):
        return b'x' * n
obj = Big(bus, '/org/test/Big')
bus.request_name('org.test.Big', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
print('ready', bus.get_unique_name(), flush=True)
GLib.MainLoop().run()
PY

# uid 1000 asks for 8 replies of 512 KiB each and never reads them.
cat >"$TMP/greedy.py" <<'PY'
import sys, time, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
print('ready', bus.get_unique_name(), flush=True)
for i in range(8):
    bus.call_async('org.test.Big', '/org/test/Big', 'org.test.Big', 'Big', 'u', (512 * 1024,),
                   None, None, timeout=60)
bus.flush()
time.sleep(120)
PY

# uid 1000 queues one 1 MiB call to a receiver whose queue root has filled to root's limit.
cat >"$TMP/other.py" <<'PY'
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
try:
    bus.call_blocking(sys.argv[2], '/', 'org.test.Sink', 'Take', 'ay', (b'y' * 1024 * 1024,), timeout=1.5)
except dbus.exceptions.DBusException as e:
    if e.get_dbus_name() != 'org.freedesktop.DBus.Error.NoReply':
        print('REFUSED: %s: %s' % (e.get_dbus_name(), e.get_dbus_message()))
        sys.exit(1)
    print('queued (no reply from a receiver that never reads)')
    sys.exit(0)
print('a reply from a receiver that never reads?')
sys.exit(1)
PY

TMO=120 t env PYTHONPATH="$IT_DIR" $PY - "$ADDR" "$TMP" <<'PY' || fail "scenario failed (see above)"
import os, subprocess, sys, time, dbus, dbus.mainloop.glib
import raw_client
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
addr, tmp = sys.argv[1], sys.argv[2]
failures = []
procs = []

def as_user(uid, script, *args):
    cmd = [sys.executable, os.path.join(tmp, script), addr] + list(args)
    if uid:
        cmd = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % uid, '--clear-groups'] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    procs.append(p)
    line = p.stdout.readline().split()
    if line[:1] != ['ready']:
        sys.exit('%s did not start' % script)
    return p, line[1]

def run_loop(seconds):
    loop = GLib.MainLoop()
    GLib.timeout_add(int(seconds * 1000), loop.quit)
    loop.run()

def conn():
    return dbus.bus.BusConnection(addr)

def flood(conns, dest, iface, n, make_args, sig):
    """n async calls round-robin over conns; returns the errors, in order of the calls."""
    results = [None] * n
    def err(i):
        return lambda e: results.__setitem__(i, (e.get_dbus_name(), e.get_dbus_message()))
    for i in range(n):
        conns[i % len(conns)].call_async(dest, '/', iface, 'Take', sig, make_args(i),
                                         lambda *a: None, err(i), timeout=60)
    for c in conns:
        c.flush()
    run_loop(2.5)
    return results

root = conn()

# 1. Bytes, unsolicited: three root connections, 16 calls of 256 KiB (4 MiB) to a receiver that never
#    reads. The kernel's socket buffer takes a few hundred KiB; the rest waits in nsbusd, charged to root.
sink, sink_name = as_user(1000, 'sink.py', 'org.test.Sink')
a, b, c = conn(), conn(), conn()
res = flood([a, b, c], 'org.test.Sink', 'org.test.Sink', 16, lambda i: (dbus.ByteArray(b'z' * 256 * 1024),), 'ay')
refused = [r for r in res if r and r[0] == 'org.freedesktop.DBus.Error.LimitsExceeded']
wrong = [r for r in res if r and r[0] != 'org.freedesktop.DBus.Error.LimitsExceeded']
if not refused:
    failures.append('root queued 4 MiB for a receiver that never reads: no LimitsExceeded')
elif not all('max_bytes_per_user' in r[1] for r in refused):
    failures.append('refused, but not for max_bytes_per_user: %s' % refused[0][1])
else:
    accepted = sum(1 for r in res if r is None)
    print('root: %d calls waiting, %d refused: %s' % (accepted, len(refused), refused[0][1]))
    if accepted * 256 > 2048 + 1024:
        failures.append('%d KiB accepted: more than the 2 MiB limit and a socket buffer' % (accepted * 256))
if wrong:
    failures.append('unexpected errors: %s' % wrong[:2])

# 2. Root's total is root's problem: uid 1000 can still queue for the same receiver.
r = subprocess.run(['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', sys.executable,
                    os.path.join(tmp, 'other.py'), addr, sink_name], capture_output=True, text=True, timeout=30)
if r.returncode != 0:
    failures.append('uid 1000 was refused because of root: ' + (r.stdout + r.stderr).strip()[-300:])
else:
    print('uid 1000: ' + r.stdout.strip())

# 3. The receiver goes: its queue is dropped and root gets its charge back.
sink.kill()
sink.wait()
time.sleep(0.5)
sink2, sink2_name = as_user(1000, 'sink.py', 'org.test.Sink2')
res = flood([a], 'org.test.Sink2', 'org.test.Sink', 4, lambda i: (dbus.ByteArray(b'z' * 256 * 1024),), 'ay')
if any(res):
    failures.append('after the receiver went, root is still charged: %s' % [r for r in res if r][0][1])
else:
    print('the receiver went: root could queue 1 MiB again')

# 4. fds: the 1 MiB above fills the socket of Sink2, so each fd waits in nsbusd. 12 calls with one fd
#    each over two connections: at most 8 fds may wait for root.
rfd, wfd = os.pipe()
res = flood([b, c], 'org.test.Sink2', 'org.test.Sink', 12, lambda i: (dbus.types.UnixFd(rfd),), 'h')
os.close(rfd); os.close(wfd)
refused = [i for i, r in enumerate(res) if r and r[0] == 'org.freedesktop.DBus.Error.LimitsExceeded']
if not refused:
    failures.append('12 fds waiting for root: no LimitsExceeded')
elif 'max_unix_fds_per_user' not in res[refused[0]][1]:
    failures.append('fds refused, but not for max_unix_fds_per_user: %s' % res[refused[0]][1])
elif refused[0] > 8:
    failures.append('%d fds were queued for root, the limit is 8' % refused[0])
else:
    print('fds: the call with fd #%d was refused: %s' % (refused[0] + 1, res[refused[0]][1]))
sink2.kill()
sink2.wait()

# 5. Solicited: uid 1000 asks a root service for 8 x 512 KiB and never reads. The replies are charged to
#    uid 1000, which is disconnected once over its 2 MiB; the service and root are unaffected.
service, service_name = as_user(0, 'big_service.py')
gone = []
root.add_signal_receiver(lambda name, old, new: gone.append(name) if old and not new else None,
                         'NameOwnerChanged', 'org.freedesktop.DBus', 'org.freedesktop.DBus',
                         '/org/freedesktop/DBus')
greedy, greedy_name = as_user(1000, 'greedy.py')
deadline = time.time() + 10
while greedy_name not in gone and time.time() < deadline:
    run_loop(0.2)
if greedy_name not in gone:
    failures.append('uid 1000 did not read 4 MiB of replies it asked for and was not disconnected')
else:
    print('uid 1000 was disconnected for not reading the replies it asked for')
try:
    got = root.call_blocking('org.test.Big', '/org/test/Big', 'org.test.Big', 'Big', 'u', (1024,), timeout=10)
    if len(got) != 1024:
        failures.append('the service answered %d bytes, not 1024' % len(got))
    else:
        print('the root service still answers')
except dbus.exceptions.DBusException as e:
    failures.append('the service stopped working: %s' % e)
if service.poll() is not None:
    failures.append('the service exited')

# 6. Messages still arriving: two root connections each start a call with a 1.5 MiB body and send only
#    its first 64 KiB. The second takes root over 2 MiB of arriving messages and is disconnected; the
#    first sends the rest and gets its answer.
def partial_call(c):
    serial = c.next_serial()
    msg = raw_client.build_message(raw_client.METHOD_CALL, serial,
                                   {raw_client.F_PATH: '/org/freedesktop/DBus',
                                    raw_client.F_DESTINATION: 'org.freedesktop.DBus',
                                    raw_client.F_INTERFACE: 'org.freedesktop.DBus.Peer',
                                    raw_client.F_MEMBER: 'Ping'}, 'ay', (b'p' * (1536 * 1024),))
    c.send_raw(msg[:64 * 1024])
    return msg, serial
first, second = raw_client.Conn(addr), raw_client.Conn(addr)
first.connect_bus()
second.connect_bus()
msg, serial = partial_call(first)
time.sleep(0.3)
partial_call(second)
if not second.wait_eof(5):
    failures.append('a second 1.5 MiB message arriving for root was not refused')
else:
    first.send_raw(msg[64 * 1024:])
    reply = first.wait_reply(serial, 10)
    if reply is None:
        failures.append('the first connection got no answer to its message: %r' % (reply,))
    else:
        print('arriving: the second 1.5 MiB message was refused, the first was answered (%s)' %
              (reply.error_name or 'a reply'))

for p in procs:
    p.kill()
for f in failures:
    print('FAIL: ' + f)
sys.exit(1 if failures else 0)
PY
grep -q "max_bytes_per_user" "$TMP/bus.log" || fail "the bus did not log why uid 1000 was disconnected"
bus_alive || fail "the bus died"
pass
