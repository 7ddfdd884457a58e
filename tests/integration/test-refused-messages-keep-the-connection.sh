#!/bin/bash
# Some messages are refused with an error, not a disconnect, as dbus-daemon does:
# a method call before Hello (AccessDenied, then Hello still works) and a message
# of a type the bus does not know (the spec says unknown types are to be ignored;
# the bus answers AccessDenied and keeps serving the connection).
set -u
. "$(dirname "$0")/lib.sh"
need python3-dbus
bus_start

TMO=30 t $PY - "$ADDR" "$IT_DIR" <<'PY' || fail "refusal scenario failed (see above)"
import sys
sys.path.insert(0, sys.argv[2])
from raw_client import Conn, build_message, METHOD_CALL, METHOD_RETURN, ERROR, F_PATH, F_INTERFACE, F_MEMBER, F_DESTINATION

addr = sys.argv[1]
failures = []
DRIVER = {F_PATH: '/org/freedesktop/DBus', F_INTERFACE: 'org.freedesktop.DBus', F_DESTINATION: 'org.freedesktop.DBus'}

# A call before Hello: AccessDenied, and the connection may still say Hello.
c = Conn(addr)
c.auth()
serial = c.send_call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId')
r = c.wait_reply(serial)
if r.type != ERROR or r.error_name != 'org.freedesktop.DBus.Error.AccessDenied':
    failures.append('call before Hello: %r' % r)
c.hello()
r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId')
if r.type != METHOD_RETURN or len(r.body[0]) != 32:
    failures.append('GetId after Hello: %r' % r)

# A message of unknown type 9: AccessDenied, the connection keeps working.
serial = c.next_serial()
c.send_raw(build_message(9, serial, dict(DRIVER) | {F_MEMBER: 'GetId'}))
r = c.wait_reply(serial)
if r.type != ERROR or r.error_name != 'org.freedesktop.DBus.Error.AccessDenied':
    failures.append('unknown type 9: %r' % r)
r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId')
if r.type != METHOD_RETURN:
    failures.append('GetId after an unknown type: %r' % r)

for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
PY
pass
