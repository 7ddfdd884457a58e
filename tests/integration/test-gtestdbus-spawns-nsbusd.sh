#!/bin/bash
# GLib's test harness, GTestDBus, spawns "a dbus-daemon" for the tests of GLib
# programs; G_TEST_DBUS_DAEMON makes it spawn the daemon under test instead.
# A GDBus client then connects, registers and calls the driver.
set -u
. "$(dirname "$0")/lib.sh"
need python3-dbus

out=$(G_TEST_DBUS_DAEMON="$NSBUSD" TMO=30 t $PY - <<'PY'
from gi.repository import Gio
t = Gio.TestDBus.new(Gio.TestDBusFlags.NONE)
t.up()
addr = t.get_bus_address()
c = Gio.DBusConnection.new_for_address_sync(
    addr, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
names = c.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                    'ListNames', None, None, 0, -1, None).unpack()[0]
print('unique', c.get_unique_name())
print('listed', c.get_unique_name() in names)
c.close_sync(None)
t.down()
print('down')
PY
) || fail "GTestDBus with $NSBUSD failed: $out"
expect_match "unique name" "$out" '^unique :1\.[0-9]+$'
expect_match "ListNames lists us" "$out" '^listed True$'
expect_match "the bus went down" "$out" '^down$'
echo "$TEST_NAME: PASS"
