#!/bin/bash
# Connection floods are held in the kernel's backlog, not in the bus:
#  - at max_incomplete_connections the bus stops accepting until a handshake
#    completes or a stalled connection leaves (as dbus-daemon since fd.o#80919),
#    and then the waiting client is served;
#  - when the bus runs out of file descriptors it stops accepting, without spinning,
#    and the clients waiting in the listen backlog are served once fds are free
#    again (nsbusd-specific; dbus-daemon is not checked for this part).
set -u
. "$(dirname "$0")/lib.sh"
need python3-dbus
bus_write_config '<limit name="max_incomplete_connections">3</limit>'
bus_start

REF=0
is_reference_daemon && REF=1
TMO=60 t $PY - "$ADDR" "$IT_DIR" "$BUS_PID" "$REF" <<'PY' || fail "flood scenario failed (see above)"
import os, resource, socket, sys, time
sys.path.insert(0, sys.argv[2])
from raw_client import (Conn, parse_address, sasl_external, build_message, Message, message_size,
                        METHOD_CALL, METHOD_RETURN, F_PATH, F_INTERFACE, F_MEMBER, F_DESTINATION)
addr, bus_pid, reference = sys.argv[1], int(sys.argv[3]), sys.argv[4] == '1'
failures = []
path = parse_address(addr)

def raw_socket():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def eof_within(s, secs):
    s.settimeout(secs)
    try:
        return s.recv(1) == b''
    except (socket.timeout, ConnectionResetError):
        return False

def cpu_seconds(pid):
    f = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')

def sasl_answer(s, secs):
    s.settimeout(secs)
    try:
        return s.recv(4096)
    except socket.timeout:
        return b''

# 1. Three connections stall before SASL; a fourth waits in the backlog, unanswered,
#    until one of the three leaves.
stalled = [raw_socket() for _ in range(3)]
time.sleep(0.3)
fourth = raw_socket()
fourth.sendall(b'\0' + sasl_external())
if sasl_answer(fourth, 0.7):
    failures.append('a fourth connection was served past max_incomplete_connections=3')
if eof_within(stalled[0], 0.3):
    failures.append('a stalled connection was dropped instead of the newcomer waiting')
stalled[0].close()
if not sasl_answer(fourth, 3).startswith(b'OK '):
    failures.append('the waiting connection was not served after a stalled one left')
for s in stalled[1:] + [fourth]:
    s.close()
c = Conn(addr); c.connect_bus()
if c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId').type != METHOD_RETURN:
    failures.append('a well-behaved client after the flood got no GetId')
c.close()

if not reference:
    # 2. Out of fds: the daemon gets a small fd limit, clients keep connecting.
    # Only the soft limit: raising a hard limit again needs CAP_SYS_RESOURCE.
    soft, hard = resource.prlimit(bus_pid, resource.RLIMIT_NOFILE)
    resource.prlimit(bus_pid, resource.RLIMIT_NOFILE, (40, hard))
    opening = b'\0' + sasl_external() + b'BEGIN\r\n' + build_message(
        METHOD_CALL, 1, {F_PATH: '/org/freedesktop/DBus', F_INTERFACE: 'org.freedesktop.DBus',
                         F_DESTINATION: 'org.freedesktop.DBus', F_MEMBER: 'Hello'})
    socks = []
    for _ in range(60):
        s = raw_socket()          # the kernel's backlog accepts these even when the bus cannot
        s.sendall(opening)
        socks.append(s)
    time.sleep(0.5)
    before = cpu_seconds(bus_pid)
    time.sleep(1.0)
    spent = cpu_seconds(bus_pid) - before
    if spent > 0.3:
        failures.append('the bus spun while out of fds: %.2f s of CPU in 1 s' % spent)
    # Free fds: the first 30 leave; every one still waiting must now be served.
    for s in socks[:30]:
        s.close()
    def served(s, secs):
        """The OK line and then the complete Hello reply, read within secs."""
        s.settimeout(secs)
        buf = b''
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                buf += chunk
                head, sep, rest = buf.partition(b'\r\n')
                if sep and head.startswith(b'OK '):
                    n = message_size(rest)
                    if n and len(rest) >= n:
                        return Message(rest[:n]).body[0].startswith(':1.')
        except socket.timeout:
            return False
    for i, s in enumerate(socks[30:], 30):
        if not served(s, 10):
            failures.append('client %d waiting in the backlog was not served after fds were freed' % i)
            break
    for s in socks[30:]:
        s.close()
    resource.prlimit(bus_pid, resource.RLIMIT_NOFILE, (soft, hard))

for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
PY
if ! is_reference_daemon; then
	grep -q "not accepting until a connection closes" "$TMP/bus.log" || fail "no log line about pausing accept"
fi
pass
