#!/bin/bash
# Names, match rules and pending replies are charged to the uid behind a connection, not only to the
# connection: a uid that spreads its requests over several connections hits max_*_per_user and gets
# org.freedesktop.DBus.Error.LimitsExceeded naming that limit; another uid is not affected; what a
# connection held is given back when it closes.  (nsbusd's own limits: dbus-daemon has none.)
set -u
. "$(dirname "$0")/lib.sh"
need python3-dbus setpriv
is_reference_daemon && skip "max_*_per_user are nsbusd's limits; dbus-daemon has none"
bus_write_config '<policy context="default"><allow user="*"/></policy>' \
	'<limit name="max_match_rules_per_connection">10</limit>' \
	'<limit name="max_match_rules_per_user">25</limit>' \
	'<limit name="max_names_per_connection">10</limit>' \
	'<limit name="max_names_per_user">12</limit>' \
	'<limit name="max_replies_per_user">5</limit>'
bus_start
chmod 755 "$TMP"

# A client as uid 1000 that must not feel root's quota.
cat >"$TMP/other.py" <<'PY'
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
for i in range(5):
    bus.add_match_string("type='signal',member='Other%d'" % i)
bus.request_name('org.test.Other', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
print('other uid: 5 rules and a name')
PY

TMO=60 t $PY - "$ADDR" "$TMP/other.py" <<'PY' || fail "quota scenario failed (see above)"
import subprocess, sys, dbus, dbus.mainloop.glib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
addr, other = sys.argv[1], sys.argv[2]
failures = []

def expect_limit(what, fn, limit_name):
    try:
        fn()
    except dbus.exceptions.DBusException as e:
        if e.get_dbus_name() == 'org.freedesktop.DBus.Error.LimitsExceeded' and limit_name in str(e):
            print('%s: refused: %s' % (what, e.get_dbus_message()))
            return
        failures.append('%s: wrong error %s: %s' % (what, e.get_dbus_name(), e.get_dbus_message()))
        return
    failures.append('%s: was allowed, expected LimitsExceeded (%s)' % (what, limit_name))

def conn():
    return dbus.bus.BusConnection(addr)

# Match rules: 10 per connection, 25 per uid.
a, b, c = conn(), conn(), conn()
for i in range(10):
    a.add_match_string("type='signal',member='A%d'" % i)
expect_limit('11th rule on one connection', lambda: a.add_match_string("type='signal',member='A10'"),
             'max_match_rules_per_connection')
for i in range(10):
    b.add_match_string("type='signal',member='B%d'" % i)
for i in range(5):
    c.add_match_string("type='signal',member='C%d'" % i)
expect_limit("uid's 26th rule, third connection", lambda: c.add_match_string("type='signal',member='C5'"),
             'max_match_rules_per_user')

# Names: 12 per uid (each connection could own 9 besides its unique name).
for i in range(8):
    a.request_name('org.test.A%d' % i, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
for i in range(4):
    b.request_name('org.test.B%d' % i, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
expect_limit("uid's 13th name", lambda: b.request_name('org.test.B4', dbus.bus.NAME_FLAG_DO_NOT_QUEUE),
             'max_names_per_user')

# Another uid is not affected while root is at every limit.
r = subprocess.run(['setpriv', '--reuid=1000', '--regid=1000', '--clear-groups', sys.executable, other, addr],
                   capture_output=True, text=True, timeout=30)
if r.returncode != 0:
    failures.append('uid 1000 was refused while root is at its limits: ' + r.stderr.strip()[-300:])
else:
    print(r.stdout.strip())

# Pending replies: 5 per uid. org.test.A0's owner (connection a) never answers; b and c call it.
pending = []
def call_async(bus, tag):
    pending.append(tag)
    bus.call_async('org.test.A0', '/', 'org.test.Silent', 'Wait', '', (), lambda *x: None,
                   lambda e: failures.append('%s: %s' % (tag, e)), timeout=30)
for i in range(3):
    call_async(b, 'b%d' % i)
for i in range(2):
    call_async(c, 'c%d' % i)
b.flush(); c.flush()
# A synchronous call from a fresh connection of the same uid must be refused at once.
d = conn()
expect_limit("uid's 6th pending reply", lambda: d.call_blocking('org.test.A0', '/', 'org.test.Silent', 'Wait',
                                                               '', (), timeout=10),
             'max_replies_per_user')

# Closing a connection gives back what it held: a's 10 rules and 8 names.
a.close()
import time
time.sleep(0.3)
for i in range(5):
    c.add_match_string("type='signal',member='C%d'" % (i + 5))
for i in range(5):
    c.request_name('org.test.C%d' % i, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
print('after a connection closed, its rules and names could be taken by another')

for f in failures:
    print('FAIL: ' + f)
sys.exit(1 if failures else 0)
PY
pass
