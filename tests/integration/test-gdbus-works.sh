#!/bin/bash
# GLib's gdbus works against the bus: introspect, call (driver and a python
# service, including typed values and errors), emit, monitor, wait.
. "$(dirname "$0")/lib.sh"
need gdbus dbus-send python3-dbus

bus_start

# gdbus wait: blocks until a name appears (NameOwnerChanged through GDBus's watch).
spawn t gdbus wait --session --timeout 15 org.nsbus.Test
WAIT_PID=${BG_PIDS[-1]}
sleep 0.3
kill -0 "$WAIT_PID" 2>/dev/null || fail "gdbus wait returned before the name existed"

spawn $PY "$IT_DIR/service.py" --name org.nsbus.Test >"$TMP/svc.out"
wait "$WAIT_PID"
expect_eq "gdbus wait exit code" "$?" 0
wait_for_name org.nsbus.Test
SVC_UNIQUE=$(awk '/^ready/ {print $2}' "$TMP/svc.out")

out=$(t gdbus introspect --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus) ||
	fail "gdbus introspect failed"
expect_match "introspect" "$out" '^node /org/freedesktop/DBus \{'
expect_match "introspect" "$out" '^  interface org\.freedesktop\.DBus \{'
expect_match "introspect" "$out" '^  interface org\.freedesktop\.DBus\.Introspectable \{'
expect_match "introspect" "$out" '^  interface org\.freedesktop\.DBus\.Peer \{'
for m in 'Hello\(out s' 'RequestName\(in  s' 'ReleaseName\(in  s' 'ListNames\(out as' 'NameHasOwner\(in  s' \
	'GetNameOwner\(in  s' 'AddMatch\(in  s' 'RemoveMatch\(in  s' 'GetId\(out s' 'ListQueuedOwners\(in  s' \
	'GetConnectionCredentials\(in  s' 'NameOwnerChanged\(s' 'NameLost\(s' 'NameAcquired\(s' \
	'readonly as Features' 'readonly as Interfaces'; do
	expect_match "introspect" "$out" "^ +$m"
done

gcall() { t gdbus call --session "$@"; }
out=$(gcall --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.GetNameOwner org.nsbus.Test) || fail "gdbus call GetNameOwner failed"
expect_eq "GetNameOwner" "$out" "('$SVC_UNIQUE',)"
out=$(gcall --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.NameHasOwner com.example.Missing) || fail "gdbus call NameHasOwner failed"
expect_eq "NameHasOwner(missing)" "$out" "(false,)"
out=$(gcall --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.Properties.Get org.freedesktop.DBus Interfaces) || fail "gdbus Properties.Get failed"
expect_match "Properties.Get Interfaces" "$out" "^\(<\[.*'org\.freedesktop\.DBus\.Monitoring'.*\]>,\)$"
out=$(gcall --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.GetNameOwner com.example.Missing 2>&1)
expect_eq "failed call exit code" "$?" 1
expect_match "failed call" "$out" "GDBus\.Error:org\.freedesktop\.DBus\.Error\.NameHasNoOwner: Could not get owner of name 'com\.example\.Missing': no such name"

# A python service: plain values, a dict of variants, nested containers.
out=$(gcall --dest org.nsbus.Test --object-path /org/nsbus/Test --method org.nsbus.Test.Sum 20 22) ||
	fail "gdbus call Sum failed"
expect_eq "Sum" "$out" "(42,)"
out=$(gcall --dest org.nsbus.Test --object-path /org/nsbus/Test --method org.nsbus.Test.EchoDictSV \
	"{'int': <int32 -5>, 'str': <'x y'>, 'list': <[byte 1, 2]>, 'nested': <<uint64 7>>}") ||
	fail "gdbus call EchoDictSV failed"
for want in "'int': <-5>" "'str': <'x y'>" "'list': <\[byte 0x01, 0x02\]>" "'nested': <<uint64 7>>"; do
	expect_match "EchoDictSV" "$out" "$want"
done
out=$(gcall --dest org.nsbus.Test --object-path /org/nsbus/Test --method org.nsbus.Test.EchoDictOfDicts \
	"{'outer': {'inner': <(int32 1, 'two')>}, 'empty': @a{sv} {}}") || fail "gdbus call EchoDictOfDicts failed"
expect_match "EchoDictOfDicts" "$out" "'outer': \{'inner': <\(1, 'two'\)>\}"
expect_match "EchoDictOfDicts" "$out" "'empty': \{\}"
out=$(gcall --dest org.nsbus.Test --object-path /org/nsbus/Test --method org.nsbus.Test.WhoAmI) ||
	fail "gdbus call WhoAmI failed"
expect_match "WhoAmI" "$out" "^\(':[0-9]+\.[0-9]+',\)$"
out=$(gcall --dest org.nsbus.Test --object-path /org/nsbus/Test --method org.nsbus.Test.Fail com.example.Error.G 2>&1)
expect_eq "service error exit code" "$?" 1
expect_match "service error" "$out" "GDBus\.Error:com\.example\.Error\.G: requested failure"

# gdbus monitor sees a signal from the service, and not one from someone else.
spawn timeout 20 gdbus monitor --session --dest org.nsbus.Test >"$TMP/mon.out" 2>&1
MON_PID=${BG_PIDS[-1]}
# GDBus adds its match rule before it asks who owns the name, so once it prints
# the owner, the rule is in place.
wait_for_file "$TMP/mon.out" "owned by $SVC_UNIQUE" 10 || fail "gdbus monitor did not start: $(cat "$TMP/mon.out")"
t gdbus emit --session --object-path /org/nsbus/Test --signal org.nsbus.Test.Pong "'impostor'" ||
	fail "gdbus emit failed"
gcall --dest org.nsbus.Test --object-path /org/nsbus/Test --method org.nsbus.Test.Emit sig-marker-9 >/dev/null ||
	fail "Emit failed"
wait_for_file "$TMP/mon.out" 'sig-marker-9' 10 || fail "gdbus monitor missed the signal: $(cat "$TMP/mon.out")"
kill "$MON_PID" 2>/dev/null
mon=$(cat "$TMP/mon.out")
expect_match "gdbus monitor" "$mon" "^/org/nsbus/Test: org\.nsbus\.Test\.Pong \('sig-marker-9',\)$"
expect_no_match "gdbus monitor (signal from another sender)" "$mon" "impostor"

# gdbus emit with --dest reaches that peer only.
spawn $PY "$IT_DIR/listen.py" --count 1 >"$TMP/listen.out"
LISTEN_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/listen.out" '^ready ' 10 || fail "listener did not start"
LISTEN_UNIQUE=$(awk '/^ready/ {print $2}' "$TMP/listen.out")
t gdbus emit --session --dest "$LISTEN_UNIQUE" --object-path /com/example/G --signal com.example.G.Direct \
	"'to-you'" "uint32 3" || fail "gdbus emit --dest failed"
wait "$LISTEN_PID"
expect_eq "listener exit code" "$?" 0
expect_match "unicast gdbus signal" "$(cat "$TMP/listen.out")" "^signal :[0-9.]+ /com/example/G com\.example\.G\.Direct \['to-you', 3\]$"

pass
