#!/bin/bash
# When a service process dies, the bus releases its names: NameOwnerChanged tells
# everyone (old owner -> next in queue, or -> ""), the queued service gets the name
# and NameAcquired, and the unique name disappears.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start
N=com.example.Svc

spawn $PY "$IT_DIR/service.py" --name $N --flags 0 >"$TMP/a.out"
A_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/a.out" '^ready ' 10 || fail "service A did not start"
A=$(awk '/^ready/ {print $2}' "$TMP/a.out")
spawn $PY "$IT_DIR/service.py" --name $N --flags 0 >"$TMP/b.out"
B_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/b.out" '^ready ' 10 || fail "service B did not start"
B=$(awk '/^ready/ {print $2}' "$TMP/b.out")

drv() { t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus "$@"; }
out=$(drv org.freedesktop.DBus.ListQueuedOwners string:$N) || fail "ListQueuedOwners failed"
expect_eq "queue" "$(echo $out)" "array [ $A $B ]"
out=$(drv org.freedesktop.DBus.GetConnectionUnixProcessID string:$A) || fail "GetConnectionUnixProcessID failed"
expect_eq "pid of A" "$(echo $out)" "uint32 $A_PID"
out=$(t dbus-send --session --print-reply=literal --dest=$N /org/nsbus/Test org.nsbus.Test.Pid) || fail "call to A failed"
expect_eq "the name is served by A" "$(echo $out)" "int32 $A_PID"

NOC="type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'"
spawn $PY "$IT_DIR/listen.py" --count 4 --timeout 20 --match "$NOC,arg0='$N'" --match "$NOC,arg0='$A'" \
	--match "$NOC,arg0='$B'" >"$TMP/listen.out"
LISTEN_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/listen.out" '^ready ' 10 || fail "listener did not start"

# A dies without a chance to clean up.
kill -KILL "$A_PID"
{ wait "$A_PID"; } 2>/dev/null
wait_for_file "$TMP/listen.out" "'$A', '$A', ''" 10 || fail "no NameOwnerChanged for A's unique name: $(cat "$TMP/listen.out")"
out=$(drv org.freedesktop.DBus.GetNameOwner string:$N) || fail "GetNameOwner failed"
expect_eq "owner after A died" "$(echo $out)" "$B"
out=$(drv org.freedesktop.DBus.ListQueuedOwners string:$N) || fail "ListQueuedOwners failed"
expect_eq "queue after A died" "$(echo $out)" "array [ $B ]"
out=$(drv org.freedesktop.DBus.NameHasOwner string:$A) || fail "NameHasOwner failed"
expect_eq "A's unique name after it died" "$(echo $out)" "boolean false"
out=$(t dbus-send --session --print-reply=literal --dest=$N /org/nsbus/Test org.nsbus.Test.Pid) || fail "call to B failed"
expect_eq "the name is served by B" "$(echo $out)" "int32 $B_PID"
out=$(t dbus-send --session --print-reply --dest=$A /org/nsbus/Test org.nsbus.Test.Pid 2>&1)
expect_match "call to the dead unique name" "$out" '^Error org\.freedesktop\.DBus\.Error\.ServiceUnknown: '

# B is terminated too; now nobody owns the name.
kill -TERM "$B_PID"
wait "$LISTEN_PID"
expect_eq "listener exit code" "$?" 0
got=$(grep '^signal' "$TMP/listen.out")
echo "$got" >&2
expect_eq "NameOwnerChanged signals" "$(echo "$got" | sed 's/^signal org\.freedesktop\.DBus \/org\/freedesktop\/DBus org\.freedesktop\.DBus\.NameOwnerChanged //')" \
	"['$N', '$A', '$B']
['$A', '$A', '']
['$N', '$B', '']
['$B', '$B', '']"
out=$(drv org.freedesktop.DBus.NameHasOwner string:$N) || fail "NameHasOwner failed"
expect_eq "name after both died" "$(echo $out)" "boolean false"
out=$(drv org.freedesktop.DBus.GetNameOwner string:$N 2>&1)
expect_match "GetNameOwner after both died" "$out" "^Error org\.freedesktop\.DBus\.Error\.NameHasNoOwner: Could not get owner of name '$N': no such name"

pass
