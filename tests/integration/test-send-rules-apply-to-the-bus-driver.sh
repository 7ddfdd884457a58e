#!/bin/bash
# Send rules apply to messages for the bus driver as to any other (dbus-daemon's bus/dispatch.c checks
# them before the driver sees a call): send_destination="org.freedesktop.DBus" and rules without a
# destination refuse driver calls with AccessDenied, counted as dbus-daemon counts them. The Hello of a
# new connection passes whatever the rules say, as in dbus-daemon, so that a bus whose policy refuses
# everything to the driver still gives names. nsbus's own driver interfaces (org.nsbus.*) are not subject
# to send rules; the driver guards them itself. The script also runs against dbus-daemon
# (NSBUSD=/usr/bin/dbus-daemon), without that last check.
set -u
. "$(dirname "$0")/lib.sh"
need python3-dbus

# After lib.sh's catch-all allow: one driver method refused by name, and an interface refused whatever
# the destination.
bus_write_config '<policy context="default">' \
	'  <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="ListNames"/>' \
	'  <deny send_interface="org.freedesktop.DBus.Introspectable"/>' \
	'</policy>'
bus_start

scenario() { # PHASE: the checks of one policy
	TMO=30 t $PY - "$ADDR" "$IT_DIR" "$1" "$(is_reference_daemon && echo reference)" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[2])
from raw_client import Conn, METHOD_RETURN, ERROR

addr, phase, reference = sys.argv[1], sys.argv[3], sys.argv[4] == 'reference'
failures = []
DBUS = 'org.freedesktop.DBus'

def call(c, iface, member):
    return c.wait_reply(c.send_call(DBUS, '/org/freedesktop/DBus', iface, member))

def refused(c, iface, member, n):
    r = call(c, iface, member)
    want = 'Rejected send message, %d matched rules;' % n
    if r.type != ERROR or r.error_name != DBUS + '.Error.AccessDenied':
        failures.append('%s.%s: not refused: %r' % (iface, member, r))
    elif not r.body or not r.body[0].startswith(want) or 'destination="org.freedesktop.DBus"' not in r.body[0]:
        failures.append('%s.%s: wanted "%s ... destination=org.freedesktop.DBus", got %r' % (iface, member, want, r.body))

def answered(c, iface, member):
    r = call(c, iface, member)
    if r.type != METHOD_RETURN:
        failures.append('%s.%s: wanted a reply, got %r' % (iface, member, r))

if phase == 'some':
    c = Conn(addr)
    c.connect_bus()
    refused(c, DBUS, 'ListNames', 2)
    refused(c, DBUS + '.Introspectable', 'Introspect', 2)
    answered(c, DBUS, 'GetId')
    answered(c, DBUS, 'ListActivatableNames')
else:
    # Everything to the driver refused: a new connection still gets its name. The reload may take a
    # moment to be in force.
    deadline = time.time() + 10
    while True:
        c = Conn(addr)
        c.connect_bus()
        r = call(c, DBUS, 'GetId')
        if r.type == ERROR or time.time() > deadline:
            break
        time.sleep(0.1)
    if not c.unique_name or not c.unique_name.startswith(':'):
        failures.append('Hello: no unique name: %r' % c.unique_name)
    refused(c, DBUS, 'GetId', 2)
    refused(c, DBUS + '.Peer', 'Ping', 2)
    if not reference:
        # nsbus's own interface: the driver's answer, not the policy's (this bus serves no container).
        r = call(c, 'org.nsbus.Container1', 'GetInfo')
        if r.type != ERROR or r.error_name != DBUS + '.Error.NotSupported':
            failures.append('org.nsbus.Container1.GetInfo: wanted NotSupported from the driver, got %r' % r)

for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
PY
}
scenario some || fail "driver calls under some denies (see above)"

bus_write_config '<policy context="default">' \
	'  <deny send_destination="org.freedesktop.DBus"/>' \
	'</policy>'
kill -HUP "$BUS_PID"
scenario all || fail "driver calls under a deny of everything to the driver (see above)"

# The first policy again, so that the bus can show it still answers (pass asks GetId).
bus_write_config
kill -HUP "$BUS_PID"
for _ in $(seq 1 100); do
	dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetId >/dev/null 2>&1 && break
	sleep 0.1
done
pass
