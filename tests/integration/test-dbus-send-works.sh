#!/bin/bash
# libdbus's dbus-send works against the bus: driver calls and their exact errors,
# typed arguments to a service, and --type=signal delivery (broadcast and unicast).
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start

drv() { t dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus "$@"; }
drv_lit() { t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus "$@"; }

# expect_dbus_error WHAT ERROR-NAME MESSAGE-ERE CMD...: CMD exits 1 printing "Error NAME: MESSAGE".
expect_dbus_error() {
	local what=$1 name=$2 msg=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	expect_eq "$what: exit code" "$rc" 1
	expect_match "$what" "$out" "^Error ${name//./\\.}: $msg"
}

spawn $PY "$IT_DIR/service.py" --name org.nsbus.Test >"$TMP/svc.out"
wait_for_name org.nsbus.Test
SVC_UNIQUE=$(awk '/^ready/ {print $2}' "$TMP/svc.out")

# ListNames: the driver's own name, the service's names, and the caller itself.
out=$(drv org.freedesktop.DBus.ListNames) || fail "ListNames failed"
expect_match "ListNames reply" "$out" '^method return .*sender=org\.freedesktop\.DBus -> destination=:[0-9]+\.[0-9]+ '
expect_match "ListNames" "$out" 'string "org\.freedesktop\.DBus"'
expect_match "ListNames" "$out" 'string "org\.nsbus\.Test"'
expect_match "ListNames" "$out" "string \"$SVC_UNIQUE\""
caller=$(printf '%s\n' "$out" | sed -n 's/.*-> destination=\(:[0-9.]*\) .*/\1/p')
expect_match "ListNames includes the caller" "$out" "string \"$caller\""

# GetId: 32 lowercase hex digits, stable across connections.
id1=$(drv_lit org.freedesktop.DBus.GetId | tr -d ' ') || fail "GetId failed"
id2=$(drv_lit org.freedesktop.DBus.GetId | tr -d ' ') || fail "GetId failed"
[[ "$id1" =~ ^[0-9a-f]{32}$ ]] || fail "GetId returned '$id1'"
expect_eq "GetId is stable" "$id2" "$id1"
# (The bus id is not the address guid: the spec says they are unrelated, and
# dbus-daemon makes them differ.)

# NameHasOwner / GetNameOwner.
out=$(drv_lit org.freedesktop.DBus.NameHasOwner string:org.nsbus.Test) || fail "NameHasOwner failed"
expect_eq "NameHasOwner(org.nsbus.Test)" "$(echo $out)" "boolean true"
out=$(drv_lit org.freedesktop.DBus.NameHasOwner string:org.freedesktop.DBus) || fail "NameHasOwner failed"
expect_eq "NameHasOwner(org.freedesktop.DBus)" "$(echo $out)" "boolean true"
out=$(drv_lit org.freedesktop.DBus.NameHasOwner string:com.example.Missing) || fail "NameHasOwner failed"
expect_eq "NameHasOwner(missing)" "$(echo $out)" "boolean false"
out=$(drv_lit org.freedesktop.DBus.GetNameOwner string:org.nsbus.Test) || fail "GetNameOwner failed"
expect_eq "GetNameOwner(org.nsbus.Test)" "$(echo $out)" "$SVC_UNIQUE"
out=$(drv_lit org.freedesktop.DBus.GetNameOwner string:org.freedesktop.DBus) || fail "GetNameOwner failed"
expect_eq "GetNameOwner(org.freedesktop.DBus)" "$(echo $out)" "org.freedesktop.DBus"

# Errors, with the names (and the messages dbus-daemon 1.14 gives).
expect_dbus_error "GetNameOwner(missing)" org.freedesktop.DBus.Error.NameHasNoOwner \
	"Could not get owner of name 'com\.example\.Missing': no such name" \
	drv org.freedesktop.DBus.GetNameOwner string:com.example.Missing
expect_dbus_error "call to a missing destination" org.freedesktop.DBus.Error.ServiceUnknown \
	"The name com\.example\.Missing was not provided by any \.service files" \
	t dbus-send --session --print-reply --dest=com.example.Missing /x com.example.Iface.Method
expect_dbus_error "call to a missing unique name" org.freedesktop.DBus.Error.ServiceUnknown \
	"The name :1\.9999 was not provided by any \.service files" \
	t dbus-send --session --print-reply --dest=:1.9999 /x com.example.Iface.Method
expect_dbus_error "unknown driver method" org.freedesktop.DBus.Error.UnknownMethod \
	"org\.freedesktop\.DBus does not understand message NoSuchMethod" \
	drv org.freedesktop.DBus.NoSuchMethod
expect_dbus_error "unknown driver interface" org.freedesktop.DBus.Error.UnknownInterface \
	"org\.freedesktop\.DBus does not understand message GetId" \
	drv org.freedesktop.DBus.NoSuchInterface.GetId
expect_dbus_error "driver method with wrong args" org.freedesktop.DBus.Error.InvalidArgs \
	"" drv org.freedesktop.DBus.GetNameOwner uint32:5
for rule in "type='bogus'" "arg64='x'" "sender='unbalanced" "eavesdrop='maybe'" "path='/a/'" \
	"path='/a',path_namespace='/a'" "nonsense" "member='1bad'" "interface='noperiod'" \
	"type='signal',type='signal'"; do
	expect_dbus_error "AddMatch $rule" org.freedesktop.DBus.Error.MatchRuleInvalid "" \
		drv org.freedesktop.DBus.AddMatch "string:$rule"
done
expect_dbus_error "RemoveMatch of a rule never added" org.freedesktop.DBus.Error.MatchRuleNotFound "" \
	drv org.freedesktop.DBus.RemoveMatch "string:type='signal',member='Never'"
# A valid rule is accepted (empty reply).
out=$(drv org.freedesktop.DBus.AddMatch "string:type='signal',sender='org.nsbus.Test',path_namespace='/a',arg0='x',arg3path='/b/'") ||
	fail "a valid AddMatch was rejected"

# Typed arguments reach a service and come back with their types.
out=$(t dbus-send --session --print-reply --dest=org.nsbus.Test /org/nsbus/Test org.nsbus.Test.EchoAllButSignature \
	byte:255 boolean:true int16:-32768 uint16:65535 int32:-2147483648 uint32:4294967295 \
	int64:-9223372036854775808 uint64:18446744073709551615 double:-1.5 string:"héllo wörld" \
	objpath:/org/x/y) || fail "EchoAllButSignature failed"
for want in 'byte 255' 'boolean true' 'int16 -32768' 'uint16 65535' 'int32 -2147483648' 'uint32 4294967295' \
	'int64 -9223372036854775808' 'uint64 18446744073709551615' 'double -1.5' 'string "héllo wörld"' \
	'object path "/org/x/y"'; do
	expect_match "EchoAllButSignature reply" "$out" "^ +${want//\{/\\\{}$"
done
out=$(t dbus-send --session --print-reply --dest=org.nsbus.Test /org/nsbus/Test org.nsbus.Test.EchoDictIS \
	dict:int32:string:1,one,2,two) || fail "EchoDictIS failed"
expect_match "EchoDictIS" "$out" 'int32 2'
expect_match "EchoDictIS" "$out" 'string "two"'
out=$(t dbus-send --session --print-reply=literal --dest=org.nsbus.Test /org/nsbus/Test org.nsbus.Test.EchoVariant \
	variant:uint64:12345678901) || fail "EchoVariant failed"
expect_eq "EchoVariant" "$(echo $out)" "variant uint64 12345678901"
# The service sees the caller's unique name as the sender.
out=$(t dbus-send --session --print-reply --dest=org.nsbus.Test /org/nsbus/Test org.nsbus.Test.WhoAmI) || fail "WhoAmI failed"
caller=$(printf '%s\n' "$out" | sed -n 's/.*-> destination=\(:[0-9.]*\) .*/\1/p')
expect_match "WhoAmI" "$out" "string \"$caller\""
# An error from a service reaches the caller with its name.
expect_dbus_error "service error" com.example.Error.Custom "requested failure" \
	t dbus-send --session --print-reply --dest=org.nsbus.Test /org/nsbus/Test org.nsbus.Test.Fail \
	string:com.example.Error.Custom

# --type=signal: a broadcast reaches a subscriber with a matching rule ...
spawn $PY "$IT_DIR/listen.py" --match "type='signal',interface='com.example.Sig'" --count 2 >"$TMP/listen.out"
LISTEN_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/listen.out" '^ready ' 10 || fail "listener did not start"
LISTEN_UNIQUE=$(awk '/^ready/ {print $2}' "$TMP/listen.out")
t dbus-send --session --type=signal /com/example/Obj com.example.Other.Noise string:not-for-you ||
	fail "dbus-send --type=signal failed"
t dbus-send --session --type=signal /com/example/Obj com.example.Sig.Hello string:broadcast int32:7 ||
	fail "dbus-send --type=signal failed"
# ... and so does a unicast signal (--dest) without any match on the member.
t dbus-send --session --type=signal --dest="$LISTEN_UNIQUE" /com/example/Obj com.example.Unicast.Direct \
	string:unicast || fail "dbus-send --type=signal --dest failed"
wait "$LISTEN_PID"
rc=$?
expect_eq "listener exit code" "$rc" 0
got=$(grep '^signal' "$TMP/listen.out")
expect_eq "signals received" "$(echo "$got" | wc -l)" 2
expect_match "broadcast signal" "$got" "^signal :[0-9.]+ /com/example/Obj com\.example\.Sig\.Hello \['broadcast', 7\]$"
expect_match "unicast signal" "$got" "^signal :[0-9.]+ /com/example/Obj com\.example\.Unicast\.Direct \['unicast'\]$"
expect_no_match "non-matching signal" "$got" 'not-for-you'

pass
