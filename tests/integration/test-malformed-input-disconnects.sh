#!/bin/bash
# Malformed input from one connection gets that connection disconnected -- bad
# SASL, bad headers, bad bodies, lying lengths, fds it did not negotiate -- while a
# well-behaved client connected before, and one connected after, keep getting
# correct replies.  Some SASL mistakes are not fatal: those get ERROR and the
# client may carry on.
#
# nsbusd-specific: the daemon's stderr names each offender by pid, as
# "nsbusd: peer :1.N (pid P, uid U): disconnected: <reason>" after Hello, or
# "nsbusd: connection (pid P, uid U): ..." before it.  dbus-daemon logs nothing
# of the kind, so that part is skipped for it.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_write_config '<limit name="auth_timeout">2000</limit>'
bus_start
if is_reference_daemon; then
	CHECK_LOG=0
	echo "skipped: the per-offender log line check (nsbusd-specific; $NSBUSD does not write it)"
else
	CHECK_LOG=1
fi

TMO=200 t $PY - "$IT_DIR" "$TMP/bus.log" "$CHECK_LOG" <<'EOF' || fail "malformed input scenario failed (see above)"
import os, re, socket, struct, sys, time
sys.path.insert(0, sys.argv[1])
from raw_client import *

addr = os.environ['DBUS_SESSION_BUS_ADDRESS']
log_path, check_log = sys.argv[2], sys.argv[3] == '1'
failures = []
D = {F_PATH: '/org/freedesktop/DBus', F_INTERFACE: 'org.freedesktop.DBus', F_MEMBER: 'GetId',
     F_DESTINATION: 'org.freedesktop.DBus'}

def call_fields(member='NameHasOwner', sig=None):
    f = [(F_PATH, 'o', '/org/freedesktop/DBus'), (F_INTERFACE, 's', 'org.freedesktop.DBus'),
         (F_MEMBER, 's', member), (F_DESTINATION, 's', 'org.freedesktop.DBus')]
    if sig is not None:
        f.append((F_SIGNATURE, 'g', sig))
    return f

def with_body(sig, body_bytes, **kw):
    """A call whose body is given as raw bytes, with the signature field saying sig."""
    return build_message(METHOD_CALL, 7, None, raw_fields=call_fields(sig=sig),
                         body_len=len(body_bytes), **kw) + body_bytes

def lstr(data):
    """A string as marshalled, but from raw bytes (so it can lack its NUL)."""
    return struct.pack('<I', len(data)) + data

GOOD = build_message(METHOD_CALL, 7, D)

# name -> (stage, action).  stage: 'sasl' (connected, nothing sent), 'auth' (after
# BEGIN, before Hello) or 'hello' (a full peer).  action(conn) misbehaves.
def send(data):
    return lambda c: c.sock.sendall(data)

def half_close_after(data):
    def act(c):
        c.sock.sendall(data)
        c.sock.shutdown(socket.SHUT_WR)
    return act

def fd_without_negotiation(c):
    r, w = os.pipe()
    fields = dict(D)
    fields[F_UNIX_FDS] = 1
    c.send_raw(build_message(METHOD_CALL, 7, fields), [r])

def stall(c):
    c.sock.sendall(b'\0')  # and then nothing: the auth timeout must end it

CASES = [
    # SASL
    ('sasl: first byte is not NUL', 'sasl', send(b'AUTH EXTERNAL 30\r\n')),
    ('sasl: overlong line', 'sasl', send(b'\0AUTH ' + b'A' * 65536 + b'\r\n')),
    ('sasl: overlong line without end', 'sasl', send(b'\0AUTH EXTERNAL ' + b'3' * 100000)),
    ('sasl: no BEGIN before the auth timeout', 'sasl', stall),
    ('sasl: BEGIN before AUTH', 'sasl', send(b'\0BEGIN\r\n')),
    # headers
    ('header: invalid endianness byte', 'hello', send(b'X' + GOOD[1:])),
    ('header: protocol version 2', 'hello', send(build_message(METHOD_CALL, 7, D, version=2))),
    ('header: message type 0', 'hello', send(build_message(0, 7, D))),
    ('header: serial 0', 'hello', send(build_message(METHOD_CALL, 0, D))),
    ('header: PATH field typed s', 'hello', send(build_message(METHOD_CALL, 7, None, raw_fields=[
        (F_PATH, 's', '/org/freedesktop/DBus'), (F_MEMBER, 's', 'GetId'), (F_DESTINATION, 's', 'org.freedesktop.DBus')]))),
    ('header: MEMBER field typed u', 'hello', send(build_message(METHOD_CALL, 7, None, raw_fields=[
        (F_PATH, 'o', '/org/freedesktop/DBus'), (F_MEMBER, 'u', 5), (F_DESTINATION, 's', 'org.freedesktop.DBus')]))),
    ('header: method call without MEMBER', 'hello', send(build_message(METHOD_CALL, 7, None, raw_fields=[
        (F_PATH, 'o', '/org/freedesktop/DBus'), (F_DESTINATION, 's', 'org.freedesktop.DBus')]))),
    ('header: invalid object path', 'hello', send(build_message(METHOD_CALL, 7, None, raw_fields=[
        (F_PATH, 'o', '/org//x'), (F_MEMBER, 's', 'GetId'), (F_DESTINATION, 's', 'org.freedesktop.DBus')]))),
    ('header: invalid destination name', 'hello', send(build_message(METHOD_CALL, 7, None, raw_fields=[
        (F_PATH, 'o', '/x'), (F_MEMBER, 's', 'GetId'), (F_DESTINATION, 's', '1bad..name')]))),
    ('header: signal without INTERFACE', 'hello', send(build_message(SIGNAL, 7, {F_PATH: '/a', F_MEMBER: 'S'}))),
    ('header: signal on the reserved Local path', 'hello', send(build_message(SIGNAL, 7, {
        F_PATH: '/org/freedesktop/DBus/Local', F_INTERFACE: 'com.example.X', F_MEMBER: 'S'}))),
    ('header: absurd header field array length', 'hello', send(b'l\1\0\1' + struct.pack('<III', 0, 7, 0xfffffff0))),
    ('header: invalid body signature', 'hello', send(with_body('(', b'\0' * 8))),
    ('header: SIGNATURE says s, body empty', 'hello', send(build_message(METHOD_CALL, 7, None,
                                                                          raw_fields=call_fields('GetId', 's')))),
    # bodies
    ('body: string without its NUL', 'hello', send(with_body('s', lstr(b'abcd') + b'X' + b'\0' * 3))),
    ('body: string with invalid UTF-8', 'hello', send(with_body('s', lstr(b'a\xff\xfeb') + b'\0'))),
    ('body: string with an embedded NUL', 'hello', send(with_body('s', lstr(b'a\0b') + b'\0'))),
    ('body: boolean 2', 'hello', send(with_body('b', struct.pack('<I', 2)))),
    ('body: array longer than 64 MiB', 'hello', send(with_body('ay', struct.pack('<I', 64 * 1024 * 1024 + 1)))),
    ('body: arrays nested 33 deep', 'hello', send(with_body('a' * 33 + 'y', struct.pack('<I', 0)))),
    # lengths
    ('length: body shorter than announced, then close', 'hello', half_close_after(
        build_message(METHOD_CALL, 7, None, raw_fields=call_fields(sig='s'), body_len=100) + lstr(b'abc') + b'\0')),
    ('length: 4 GiB body', 'hello', send(build_message(METHOD_CALL, 7, None, raw_fields=call_fields(sig='s'),
                                                       body_len=0xffffffff))),
    ('length: 256 MiB message', 'hello', send(build_message(METHOD_CALL, 7, None, raw_fields=call_fields(sig='ay'),
                                                            body_len=256 * 1024 * 1024))),
    # fds
    ('fds: SCM_RIGHTS and UNIX_FDS without NEGOTIATE_UNIX_FD', 'hello', fd_without_negotiation),
    # before Hello
    ('before Hello: invalid endianness byte', 'auth', send(b'X' + GOOD[1:])),
    ('before Hello: a signal', 'auth', send(build_message(SIGNAL, 7, {
        F_PATH: '/a', F_INTERFACE: 'com.example.X', F_MEMBER: 'S'}))),
]

def run_offender(stage, action):
    """Misbehave in a child process (so the log can name its pid).
    Returns (pid, unique name or None, 'eof' | 'open' | 'error: ...')."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            c = Conn(addr)
            unique = ''
            if stage in ('auth', 'hello'):
                c.auth()
            if stage == 'hello':
                unique = c.hello()
            try:
                action(c)
                result = 'eof' if c.wait_eof(10) else 'open'
            except (BrokenPipeError, ConnectionResetError):
                result = 'eof'
        except Exception as e:
            result, unique = 'error: %r' % e, ''
        os.write(wfd, ('%s %s' % (result.replace(' ', '_'), unique or '-')).encode())
        os._exit(0)
    os.close(wfd)
    data = b''
    while True:
        chunk = os.read(rfd, 4096)
        if not chunk:
            break
        data += chunk
    os.close(rfd)
    os.waitpid(pid, 0)
    result, unique = data.decode().split(' ', 1)
    return pid, (None if unique == '-' else unique), result.replace('_', ' ')

def log_names(pid, unique, secs=3):
    pat = (r'^nsbusd: peer %s \(pid %d, uid %d\): disconnected: .+' % (re.escape(unique), pid, os.getuid())
           if unique else r'^nsbusd: connection \(pid %d, uid %d\): .+' % (pid, os.getuid()))
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        with open(log_path, errors='replace') as f:
            if any(re.search(pat, line) for line in f):
                return True
        time.sleep(0.05)
    return pat

witness = Conn(addr)
witness.connect_bus()
bus_id = witness.driver('GetId').body[0]

for name, stage, action in CASES:
    pid, unique, result = run_offender(stage, action)
    if result != 'eof':
        failures.append('%s: offender (pid %d) not disconnected: %s' % (name, pid, result))
    r = witness.driver('GetId')
    if r.type != METHOD_RETURN or r.body != [bus_id]:
        failures.append('%s: the witness connected before got %r' % (name, r))
    try:
        after = Conn(addr)
        after.connect_bus()
        r = after.driver('GetId')
        if r.type != METHOD_RETURN or r.body != [bus_id]:
            failures.append('%s: a client connected after got %r' % (name, r))
        after.close()
    except Exception as e:
        failures.append('%s: a client connected after failed: %r' % (name, e))
    if check_log and result == 'eof':
        found = log_names(pid, unique)
        if found is not True:
            failures.append('%s: no log line matching %s' % (name, found))
    print('%-60s %s' % (name, 'ok' if result == 'eof' else result))

# SASL mistakes that are not fatal: the server answers ERROR and the client can go on.
def sasl_recovers(lines, what):
    try:
        sasl_recovers_or_raise(lines, what)
    except (OSError, EOFError, RuntimeError) as e:
        failures.append('%s: %r' % (what, e))
        print('%-60s %r' % (what, e))

def sasl_recovers_or_raise(lines, what):
    c = Conn(addr)
    c.sock.sendall(b'\0' + lines)
    for _ in range(lines.count(b'\r\n')):
        reply = c.read_line()
        if not reply.startswith(b'ERROR'):
            failures.append('%s: expected ERROR, got %r' % (what, reply))
            return
    c.sock.sendall(sasl_external())
    reply = c.read_line()
    if not reply.startswith(b'OK '):
        failures.append('%s: AUTH afterwards got %r' % (what, reply))
        return
    c.sock.sendall(b'BEGIN\r\n')
    c.hello()
    r = c.driver('GetId')
    if r.body != [bus_id]:
        failures.append('%s: GetId afterwards got %r' % (what, r))
    print('%-60s ok' % what)

sasl_recovers(b'GARBAGE LINE\r\n', 'sasl: unknown command gets ERROR, then auth works')
sasl_recovers(b'\x01\x02\xff\xfe\r\n', 'sasl: non-ASCII line gets ERROR, then auth works')
sasl_recovers(b'DATA 00\r\n', 'sasl: DATA before AUTH gets ERROR, then auth works')

# An unsupported mechanism or a uid that is not ours is REJECTED (with the list of
# mechanisms), and a correct AUTH still works afterwards.
c = Conn(addr)
c.sock.sendall(b'\0AUTH NOSUCHMECH\r\n')
reply = c.read_line()
if not (reply.startswith(b'REJECTED') and b'EXTERNAL' in reply.split()):
    failures.append('unknown mechanism: expected REJECTED listing EXTERNAL, got %r' % reply)
c.sock.sendall(b'AUTH EXTERNAL ' + str(os.getuid() + 4242).encode().hex().encode() + b'\r\n')
reply = c.read_line()
if not reply.startswith(b'REJECTED'):
    failures.append('EXTERNAL with a uid that is not ours: expected REJECTED, got %r' % reply)
c.sock.sendall(sasl_external())
if not c.read_line().startswith(b'OK '):
    failures.append('AUTH after REJECTED did not get OK')
print('%-60s ok' % 'sasl: REJECTED for a bad mechanism and a wrong uid')

# The whole SASL exchange and Hello pipelined in one write works.
c = Conn(addr)
c.sock.sendall(b'\0' + sasl_external() + b'NEGOTIATE_UNIX_FD\r\nBEGIN\r\n' + build_message(
    METHOD_CALL, 1, {F_PATH: '/org/freedesktop/DBus', F_INTERFACE: 'org.freedesktop.DBus',
                     F_MEMBER: 'Hello', F_DESTINATION: 'org.freedesktop.DBus'}) + GOOD)
ok, agree = c.read_line(), c.read_line()
if not ok.startswith(b'OK ') or agree != b'AGREE_UNIX_FD':
    failures.append('pipelined SASL: got %r %r' % (ok, agree))
else:
    got = [c.recv() for _ in range(3)]
    if not (got[0].reply_serial == 1 and got[2].reply_serial == 7 and got[2].body == [bus_id]):
        failures.append('pipelined Hello + GetId: %r' % got)
print('%-60s ok' % 'sasl: everything pipelined in one write')

# More answers than one write of the server's holds (30 ERRORs), then AUTH, BEGIN and Hello, all in one
# write: every line is answered once and the messages start where BEGIN ends.
c = Conn(addr)
c.sock.sendall(b'\0' + b'NOSUCHCOMMAND\r\n' * 30 + sasl_external() + b'BEGIN\r\n' + build_message(
    METHOD_CALL, 1, {F_PATH: '/org/freedesktop/DBus', F_INTERFACE: 'org.freedesktop.DBus',
                     F_MEMBER: 'Hello', F_DESTINATION: 'org.freedesktop.DBus'}))
try:
    lines = [c.read_line() for _ in range(31)]
    reply = c.recv()
    if not (all(x.startswith(b'ERROR') for x in lines[:30]) and lines[30].startswith(b'OK ') and
            reply.reply_serial == 1 and reply.type == METHOD_RETURN):
        failures.append('30 unknown commands pipelined before AUTH: got %r, then %r' % (lines, reply))
    print('%-60s ok' % 'sasl: 30 ERRORs pipelined before AUTH and Hello')
except (OSError, EOFError, RuntimeError) as e:
    failures.append('30 unknown commands pipelined before AUTH: %r' % e)
    print('%-60s %r' % ('sasl: 30 ERRORs pipelined before AUTH and Hello', e))

# A client that asked for fds may send a message carrying one right behind BEGIN, before AGREE_UNIX_FD
# reached it: one read of the bus then brings the end of the SASL exchange and the fd.
c = Conn(addr)
r, w = os.pipe()
c.sock.sendall(b'\0' + sasl_external() + b'NEGOTIATE_UNIX_FD\r\nBEGIN\r\n' + build_message(
    METHOD_CALL, 1, {F_PATH: '/org/freedesktop/DBus', F_INTERFACE: 'org.freedesktop.DBus',
                     F_MEMBER: 'Hello', F_DESTINATION: 'org.freedesktop.DBus'}))
c.send_raw(build_message(METHOD_CALL, 7, {**D, F_UNIX_FDS: 1}), [r])
os.close(r)
os.close(w)
try:
    ok, agree = c.read_line(), c.read_line()
    got = [c.recv() for _ in range(3)]
    if not (ok.startswith(b'OK ') and agree == b'AGREE_UNIX_FD' and got[2].reply_serial == 7 and
            got[2].body == [bus_id]):
        failures.append('fds right behind BEGIN: got %r %r %r' % (ok, agree, got))
except (OSError, EOFError) as e:
    failures.append('fds right behind BEGIN: %r' % e)
c.close()
print('%-60s ok' % 'sasl: fds right behind BEGIN, before AGREE_UNIX_FD came')

r = witness.driver('GetId')
if r.body != [bus_id]:
    failures.append('witness at the end: %r' % r)
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
EOF

pass
