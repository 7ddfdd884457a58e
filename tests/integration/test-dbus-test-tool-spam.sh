#!/bin/bash
# dbus-test-tool: spam against the echo service (sequential, pipelined, reconnecting)
# gets every reply; a --no-reply flood to black-hole is routed in full.  spam
# prints nothing on success, so a raw monitor counts what the bus routed.
. "$(dirname "$0")/lib.sh"
need dbus-test-tool dbus-send python3-dbus

bus_start
spawn dbus-test-tool echo --name=com.example.Echo
spawn dbus-test-tool black-hole --name=com.example.Hole
wait_for_name com.example.Echo
wait_for_name com.example.Hole
echo_unique=$(t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.GetNameOwner string:com.example.Echo | tr -d ' ')

spawn $PY "$IT_DIR/count_monitor.py" "type='method_call',member='Spam'" \
	"type='method_return',sender='com.example.Echo'" "type='error'" \
	>"$TMP/count.out"
COUNT_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/count.out" '^(ready|BecomeMonitor failed)' 10 || fail "count monitor did not start"
grep -q '^ready' "$TMP/count.out" || fail "$(cat "$TMP/count.out")"

# spam exits 0 even when calls fail, so its stderr ("Failed to receive reply #N")
# is part of the result.
spam() {
	t dbus-test-tool spam "$@" 2>"$TMP/spam.err"
	local rc=$?
	expect_eq "spam $* exit code" "$rc" 0
	[ ! -s "$TMP/spam.err" ] || fail "spam $* reported errors: $(head -3 "$TMP/spam.err")"
}
spam --dest=com.example.Echo --count=2000 --queue=1
spam --dest=com.example.Echo --count=3000 --queue=32
spam --dest=com.example.Echo --count=500 --queue=4 --messages-per-conn=50 --bytes --payload=0123456789abcdef
spam --dest=com.example.Echo --count=200 --empty
spam --dest=com.example.Hole --count=5000 --no-reply
spam --dest=com.example.Echo --count=100 --flood

# Errors: a missing destination makes spam say so for every call.
t dbus-test-tool spam --dest=com.example.Missing --count=3 2>"$TMP/spam.err"
expect_eq "spam to a missing name: failures reported" "$(grep -c 'Failed to receive reply #[0-9]*: org\.freedesktop\.DBus\.Error\.ServiceUnknown' "$TMP/spam.err")" 3

t dbus-send --session --type=signal /stop com.example.Sentinel.Stop || fail "sentinel failed"
wait "$COUNT_PID"
expect_eq "count monitor exit code" "$?" 0
counts=$(grep -v '^ready' "$TMP/count.out")
echo "$counts" >&2

count_of() { printf '%s\n' "$counts" | awk -v k="$1" '{v=$NF; $NF=""; sub(/ $/, ""); if ($0 == k) print v}'; }
# (--flood sends everything at once but still expects replies; only --no-reply
# sets NO_REPLY_EXPECTED.)
expect_eq "calls routed to the echo service" "$(count_of "call com.example.Echo Spam 0")" $((2000 + 3000 + 500 + 200 + 100))
expect_eq "no-reply calls routed to the echo service" "$(count_of "call com.example.Echo Spam 1")" ""
expect_eq "no-reply calls routed to black-hole" "$(count_of "call com.example.Hole Spam 1")" 5000
expect_eq "calls with a reply expected to black-hole" "$(count_of "call com.example.Hole Spam 0")" ""
expect_eq "calls to the missing name" "$(count_of "call com.example.Missing Spam 0")" 3
# Replies: the echo service answered every call, and each answer was routed to
# a spam client (the monitor's rule selects returns sent by com.example.Echo).
replies=$(printf '%s\n' "$counts" | awk '$1 == "return" && $2 != "'"$echo_unique"'" {n += $NF} END {print n+0}')
expect_eq "method returns" "$replies" $((2000 + 3000 + 500 + 200 + 100))
expect_eq "reply destinations (one per spam connection)" "$(printf '%s\n' "$counts" | grep -c '^return ')" $((1 + 1 + 10 + 1 + 1))
errors=$(printf '%s\n' "$counts" | awk '$1 == "error" && $3 == "org.freedesktop.DBus.Error.ServiceUnknown" {n += $NF} END {print n+0}')
expect_eq "ServiceUnknown errors" "$errors" 3
other_errors=$(printf '%s\n' "$counts" | awk '$1 == "error" && $3 != "org.freedesktop.DBus.Error.ServiceUnknown" {n += $NF} END {print n+0}')
expect_eq "other errors" "$other_errors" 0

# Both services are still there.
name_has_owner com.example.Echo || fail "echo service lost its name"
name_has_owner com.example.Hole || fail "black-hole lost its name"
pass
