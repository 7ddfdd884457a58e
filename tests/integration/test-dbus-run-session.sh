#!/bin/bash
# dbus-run-session can spawn the daemon as "a dbus-daemon": it passes
# --config-file=FILE --nofork --print-address=FD, the program runs with
# DBUS_SESSION_BUS_ADDRESS set, and the daemon goes away when the program exits.
. "$(dirname "$0")/lib.sh"
need dbus-run-session dbus-send dbus-test-tool pgrep

bus_write_config
unset DBUS_SESSION_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS DBUS_STARTER_ADDRESS DBUS_STARTER_BUS_TYPE

out=$(TMO=30 t dbus-run-session --dbus-daemon="$NSBUSD" --config-file="$CONF" -- \
	sh -c 'echo "addr=$DBUS_SESSION_BUS_ADDRESS"
	       dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId' 2>"$TMP/drs.err")
rc=$?
echo "$out" >&2
expect_eq "dbus-run-session exit code" "$rc" 0
expect_match "bus address" "$out" "^addr=unix:path=$TMP/bus,guid=[0-9a-f]{32}$"
expect_match "GetId reply" "$out" '^method return time=[0-9.]+ sender=org\.freedesktop\.DBus -> destination=:1\.0 serial=[0-9]+ reply_serial=[0-9]+$'
expect_match "GetId" "$out" '^   string "[0-9a-f]{32}"$'

# The program's exit status is passed through, and so is a failing client's.
TMO=30 t dbus-run-session --dbus-daemon="$NSBUSD" --config-file="$CONF" -- sh -c 'exit 7' 2>>"$TMP/drs.err"
expect_eq "exit status of the program" "$?" 7
TMO=30 t dbus-run-session --dbus-daemon="$NSBUSD" --config-file="$CONF" -- \
	dbus-send --session --print-reply --dest=com.example.Missing / com.example.X.Y 2>"$TMP/err.out"
expect_eq "exit status of a failing dbus-send" "$?" 1
expect_match "error" "$(cat "$TMP/err.out")" '^Error org\.freedesktop\.DBus\.Error\.ServiceUnknown: '

# Several clients in one session share the bus and see each other.
out=$(TMO=30 t dbus-run-session --dbus-daemon="$NSBUSD" --config-file="$CONF" -- sh -c '
	dbus-test-tool echo --name=com.example.Echo & echo_pid=$!
	for i in $(seq 1 100); do
		dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus / \
			org.freedesktop.DBus.NameHasOwner string:com.example.Echo | grep -q true && break
		sleep 0.05
	done
	dbus-test-tool spam --dest=com.example.Echo --count=100 && echo spam-ok
	kill $echo_pid' 2>>"$TMP/drs.err")
expect_eq "echo + spam inside dbus-run-session" "$out" "spam-ok"

# The daemon exits with the session: no process is left using our config
# (dbus-run-session passes it as "--config-file FILE", two arguments).
sleep 0.5
if pgrep -f -- "$CONF" >/dev/null; then
	fail "a daemon for $CONF is still running after dbus-run-session returned: $(pgrep -af -- "$CONF")"
fi
# The daemon must not have complained about its command line.
expect_no_match "dbus-run-session stderr" "$(cat "$TMP/drs.err")" '(nrecognized|nknown) (option|argument)|usage'
echo "$TEST_NAME: PASS"
