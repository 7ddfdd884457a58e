#!/bin/bash
# sd-bus's busctl works against the bus: list, status, introspect, call, monitor.
. "$(dirname "$0")/lib.sh"
need busctl dbus-send python3-dbus

bus_start
spawn $PY "$IT_DIR/service.py" --name org.nsbus.Test >"$TMP/svc.out"
SVC_PID=${BG_PIDS[-1]}
wait_for_name org.nsbus.Test
SVC_UNIQUE=$(awk '/^ready/ {print $2}' "$TMP/svc.out")
[[ "$SVC_UNIQUE" =~ ^:[0-9]+\.[0-9]+$ ]] || fail "service printed no unique name: $(cat "$TMP/svc.out")"

bctl() { t busctl --address="$ADDR" --no-pager "$@"; }

# list: the driver with the daemon's pid, our service with its pid and unique name.
out=$(bctl list) || fail "busctl list failed"
expect_match "busctl list" "$out" "^org\.freedesktop\.DBus +$BUS_PID "
line=$(printf '%s\n' "$out" | grep '^org\.nsbus\.Test ') || fail "busctl list lacks org.nsbus.Test: $out"
read -r l_name l_pid l_proc l_user l_conn _ <<<"$line"
expect_eq "list: pid of org.nsbus.Test" "$l_pid" "$SVC_PID"
expect_eq "list: user of org.nsbus.Test" "$l_user" "$(id -un)"
expect_eq "list: connection of org.nsbus.Test" "$l_conn" "$SVC_UNIQUE"
expect_match "busctl list" "$out" "^$SVC_UNIQUE +$SVC_PID "

# status of a peer: the kernel-given credentials, through the bus.
out=$(bctl status org.nsbus.Test) || fail "busctl status failed"
expect_match "status PID" "$out" "^PID=$SVC_PID$"
expect_match "status UID" "$out" "^UID=$(id -u)$"
expect_match "status UniqueName" "$out" "^UniqueName=$SVC_UNIQUE$"
expect_match "status Exe" "$out" "^Exe=.*python3"

# introspect the driver: its methods with their signatures.
out=$(bctl introspect org.freedesktop.DBus /org/freedesktop/DBus) || fail "busctl introspect failed"
for m in 'Hello +method +- +s' 'RequestName +method +su +u' 'ReleaseName +method +s +u' \
	'ListNames +method +- +as' 'ListActivatableNames +method +- +as' 'NameHasOwner +method +s +b' \
	'GetNameOwner +method +s +s' 'ListQueuedOwners +method +s +as' 'AddMatch +method +s +-' \
	'RemoveMatch +method +s +-' 'GetId +method +- +s' 'StartServiceByName +method +su +u' \
	'GetConnectionUnixUser +method +s +u' 'GetConnectionUnixProcessID +method +s +u' \
	'GetConnectionCredentials +method +s +a\{sv\}' 'UpdateActivationEnvironment +method +a\{ss\} +-' \
	'ReloadConfig +method +- +-' 'NameOwnerChanged +signal +sss' 'NameAcquired +signal +s' \
	'NameLost +signal +s' 'Features +property +as' 'Interfaces +property +as'; do
	expect_match "introspect org.freedesktop.DBus" "$out" "^\.$m"
done
expect_match "introspect" "$out" "^org\.freedesktop\.DBus +interface"
expect_match "introspect" "$out" "^org\.freedesktop\.DBus\.Introspectable +interface"
expect_match "introspect" "$out" "^org\.freedesktop\.DBus\.Peer +interface"

# call: driver methods and a python service.
out=$(bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s org.nsbus.Test) ||
	fail "busctl call GetNameOwner failed"
expect_eq "GetNameOwner" "$out" "s \"$SVC_UNIQUE\""
out=$(bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListNames) ||
	fail "busctl call ListNames failed"
expect_match "ListNames" "$out" '^as [0-9]+ '
expect_match "ListNames" "$out" ' "org\.freedesktop\.DBus"'
expect_match "ListNames" "$out" ' "org\.nsbus\.Test"'
expect_match "ListNames" "$out" " \"$SVC_UNIQUE\""
out=$(bctl call org.nsbus.Test /org/nsbus/Test org.nsbus.Test Sum ii 40 2) || fail "busctl call Sum failed"
expect_eq "Sum" "$out" "i 42"
out=$(bctl call -- org.nsbus.Test /org/nsbus/Test org.nsbus.Test EchoStruct '(ybnqiuxtdsog)' \
	255 true -32768 65535 -2147483648 4294967295 -9223372036854775808 18446744073709551615 \
	2.5 'hé llo' /a/b 'a{sv}') || fail "busctl call EchoStruct failed"
expect_eq "EchoStruct" "$out" '(ybnqiuxtdsog) 255 true -32768 65535 -2147483648 4294967295 -9223372036854775808 18446744073709551615 2.5 "h\303\251 llo" "/a/b" "a{sv}"'
# An error: exit code 1 and the driver's message.
out=$(bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s com.example.Missing 2>&1)
rc=$?
expect_eq "busctl exit code for a failed call" "$rc" 1
expect_match "failed GetNameOwner" "$out" "Could not get owner of name 'com\.example\.Missing': no such name"
out=$(bctl call org.nsbus.Test /org/nsbus/Test org.nsbus.Test Fail s com.example.Error.Custom 2>&1)
expect_eq "busctl exit code for a service error" "$?" 1
expect_match "service error" "$out" "requested failure"

# get-property through busctl.
out=$(bctl get-property org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus Interfaces) ||
	fail "busctl get-property Interfaces failed"
expect_match "Interfaces" "$out" '^as [0-9]+ .*"org\.freedesktop\.DBus\.Monitoring"'

# monitor: captures a call made while it runs (it stops by itself via timeout).
spawn timeout 15 busctl --address="$ADDR" monitor --match "interface=org.nsbus.Test" >"$TMP/mon.out" 2>"$TMP/mon.err"
MON_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/mon.err" 'Monitoring bus message stream' 10 || fail "busctl monitor did not start: $(cat "$TMP/mon.err")"
out=$(bctl call org.nsbus.Test /org/nsbus/Test org.nsbus.Test EchoString s marker-4711) || fail "call during monitor failed"
expect_eq "EchoString" "$out" 's "marker-4711"'
bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s not.matched.Marker >/dev/null
wait_for_file "$TMP/mon.out" 'STRING "marker-4711"' 10 || fail "busctl monitor missed the call: $(cat "$TMP/mon.out")"
kill "$MON_PID" 2>/dev/null
wait "$MON_PID" 2>/dev/null
mon=$(cat "$TMP/mon.out")
expect_match "monitor" "$mon" "Path=/org/nsbus/Test +Interface=org\.nsbus\.Test +Member=EchoString"
expect_match "monitor" "$mon" "Destination=org\.nsbus\.Test"
# The match limits what the monitor sees: the driver call does not match it.
expect_no_match "monitor --match" "$mon" 'not\.matched\.Marker'

pass
