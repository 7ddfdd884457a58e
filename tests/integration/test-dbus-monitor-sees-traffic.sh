#!/bin/bash
# dbus-monitor (libdbus, BecomeMonitor) sees other peers' method calls, the replies
# and their signals; a monitor with a match rule sees only what matches.
. "$(dirname "$0")/lib.sh"
need dbus-monitor dbus-send python3-dbus

bus_start
spawn $PY "$IT_DIR/service.py" --name org.nsbus.Test >"$TMP/svc.out"
wait_for_name org.nsbus.Test
SVC_UNIQUE=$(awk '/^ready/ {print $2}' "$TMP/svc.out")

spawn timeout 30 dbus-monitor --session >"$TMP/all.out" 2>"$TMP/all.err"
MON_ALL=${BG_PIDS[-1]}
spawn timeout 30 dbus-monitor --session "type='signal',interface='com.example.Only'" \
	"type='signal',interface='com.example.Probe'" >"$TMP/only.out" 2>"$TMP/only.err"
MON_ONLY=${BG_PIDS[-1]}

# Both monitors are active once they see a probe signal.
ready=
for i in $(seq 1 100); do
	t dbus-send --session --type=signal /probe com.example.Probe.Ready
	if grep -q 'interface=com.example.Probe; member=Ready' "$TMP/all.out" &&
		grep -q 'interface=com.example.Probe; member=Ready' "$TMP/only.out"; then
		ready=1
		break
	fi
	sleep 0.1
done
[ -n "$ready" ] || fail "dbus-monitor did not start: $(cat "$TMP/all.err" "$TMP/only.err")"

# A method call with its reply, and two signals, all between other peers.
out=$(t dbus-send --session --print-reply --dest=org.nsbus.Test /org/nsbus/Test \
	org.nsbus.Test.EchoString string:call-marker-1) || fail "EchoString failed"
caller=$(printf '%s\n' "$out" | sed -n 's/.*-> destination=\(:[0-9.]*\) serial=.*/\1/p')
reply_serial=$(printf '%s\n' "$out" | sed -n 's/.* reply_serial=\([0-9]*\).*/\1/p')
[ -n "$caller" ] && [ -n "$reply_serial" ] || fail "could not parse dbus-send's reply: $out"
t dbus-send --session --type=signal /com/example/A com.example.Only.Sig string:signal-marker-2 ||
	fail "dbus-send signal failed"
t dbus-send --session --type=signal /com/example/B com.example.Elsewhere.Sig string:signal-marker-3 ||
	fail "dbus-send signal failed"
t dbus-send --session --type=signal /probe com.example.Probe.Done || fail "dbus-send signal failed"
wait_for_file "$TMP/all.out" 'com.example.Probe; member=Done' 10 || fail "monitor missed the last probe"
wait_for_file "$TMP/only.out" 'com.example.Probe; member=Done' 10 || fail "filtered monitor missed the last probe"
kill "$MON_ALL" "$MON_ONLY" 2>/dev/null

all=$(cat "$TMP/all.out")
only=$(cat "$TMP/only.out")
# The call: from the caller to the well-known name, with its argument on the next line.
expect_match "monitor: call" "$all" "^method call time=[0-9.]+ sender=$caller -> destination=org\.nsbus\.Test serial=$reply_serial path=/org/nsbus/Test; interface=org\.nsbus\.Test; member=EchoString$"
expect_match "monitor: call argument" "$(grep -A1 'member=EchoString$' "$TMP/all.out")" '^   string "call-marker-1"$'
# The reply: from the service's unique name back to the caller.
expect_match "monitor: reply" "$all" "^method return time=[0-9.]+ sender=$SVC_UNIQUE -> destination=$caller serial=[0-9]+ reply_serial=$reply_serial$"
# The signals, with a null destination (broadcast).
expect_match "monitor: signal" "$all" '^signal time=[0-9.]+ sender=:[0-9.]+ -> destination=\(null destination\) serial=[0-9]+ path=/com/example/A; interface=com\.example\.Only; member=Sig$'
expect_match "monitor: signal argument" "$all" 'string "signal-marker-2"'
expect_match "monitor: other signal" "$all" 'string "signal-marker-3"'
# The bus's own traffic about the caller: NameOwnerChanged when it connected.
expect_match "monitor: NameOwnerChanged" "$(grep -A3 'member=NameOwnerChanged$' "$TMP/all.out")" "string \"$caller\""

# The filtered monitor saw the signal it asked for and nothing else.
expect_match "filtered monitor: signal" "$only" 'string "signal-marker-2"'
expect_no_match "filtered monitor: other signal" "$only" 'signal-marker-3'
expect_no_match "filtered monitor: method call" "$only" 'call-marker-1'
expect_no_match "filtered monitor: method call" "$only" '^method (call|return)'

pass
