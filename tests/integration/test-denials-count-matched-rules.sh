#!/bin/bash
# An AccessDenied error says how many rules matched the refused message, as dbus-daemon's does
# ("Rejected send message, 3 matched rules; ..."): an admin reading it learns whether the deny came
# from one rule or from several. The counts below are what dbus-daemon 1.14 reports for these rules;
# the script runs against it too (NSBUSD=/usr/bin/dbus-daemon).
set -u
. "$(dirname "$0")/lib.sh"
need python3-dbus

# After lib.sh's default policy (a catch-all allow of sends and one of receives, with eavesdrop), denies
# that name some of the calls below.
bus_write_config '<policy context="default">' \
	'  <deny send_interface="com.example.Locked"/>' \
	'  <deny send_path="/" send_member="Forbidden"/>' \
	'  <deny receive_path="/" receive_member="Unwanted"/>' \
	'  <deny receive_interface="com.example.Unwanted"/>' \
	'</policy>'
bus_start

TMO=30 t $PY - "$ADDR" "$IT_DIR" <<'PY' || fail "denial scenario failed (see above)"
import sys
sys.path.insert(0, sys.argv[2])
from raw_client import Conn, build_message, METHOD_CALL, METHOD_RETURN, ERROR, F_REPLY_SERIAL, F_DESTINATION

addr = sys.argv[1]
failures = []
caller, service = Conn(addr), Conn(addr)
caller.connect_bus()
service.connect_bus()

def refused(iface, member, kind, n):
    serial = caller.send_call(service.unique_name, '/', iface, member)
    r = caller.wait_reply(serial)
    want = 'Rejected %s message, %d matched rules;' % (kind, n)
    if r.type != ERROR or r.error_name != 'org.freedesktop.DBus.Error.AccessDenied':
        failures.append('%s.%s: not refused: %r' % (iface, member, r))
    elif not r.body or not r.body[0].startswith(want):
        failures.append('%s.%s: wanted "%s", got %r' % (iface, member, want, r.body))

# Send rules: the catch-all allow matches, then each deny that names the call.
refused('com.example.Locked', 'Forbidden', 'send', 3)
refused('com.example.Locked', 'Open', 'send', 2)
refused('com.example.Other', 'Forbidden', 'send', 2)
# Receive rules, the send rules having allowed the call (one match, an allow: not counted).
refused('com.example.Unwanted', 'Unwanted', 'receive', 3)
refused('com.example.Other', 'Unwanted', 'receive', 2)

# A call no deny names reaches the service, and its reply the caller.
serial = caller.send_call(service.unique_name, '/', 'com.example.Other', 'Open')
while True:
    m = service.recv(timeout=10)
    if m.type == METHOD_CALL and m.member == 'Open':
        break
service.send_raw(build_message(METHOD_RETURN, service.next_serial(),
                               {F_REPLY_SERIAL: m.serial, F_DESTINATION: caller.unique_name}))
r = caller.wait_reply(serial)
if r.type != METHOD_RETURN:
    failures.append('allowed call: %r' % r)

for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
PY
pass
