#!/bin/bash
# nsbusctl monitor prints the traffic of a name as busctl monitor does (the same lines, timestamps
# aside), --json gives one object per message that python reads, and nsbusctl capture writes a pcap
# stream that tshark decodes: the method call with its member, and its reply.  nsbusctl wait prints
# the first signal that matches and exits (busctl 252 has no wait to compare with).
. "$(dirname "$0")/lib.sh"
need busctl python3-dbus tshark
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"

bus_start
spawn $PY "$IT_DIR/cli_service.py" >"$TMP/svc.out"
wait_for_name org.nsbus.CliTest
OBJ=(org.nsbus.CliTest /org/nsbus/CliTest org.nsbus.CliTest)

# Three watchers for 4 s each; then one exchange while all of them watch.
spawn "$NSBUSCTL" --address="$ADDR" --timeout=4 monitor org.nsbus.CliTest >"$TMP/ours.txt" 2>"$TMP/ours.err"
spawn "$NSBUSCTL" --address="$ADDR" --timeout=4 --json=short monitor org.nsbus.CliTest >"$TMP/ours.json" 2>&1
spawn "$NSBUSCTL" --address="$ADDR" --timeout=4 capture >"$TMP/capture.pcap" 2>"$TMP/capture.err"
spawn timeout 4 busctl --address="$ADDR" --no-pager monitor org.nsbus.CliTest >"$TMP/theirs.txt" 2>&1
wait_for_file "$TMP/ours.err" "Monitoring bus message stream" || fail "nsbusctl monitor did not start: $(cat "$TMP/ours.err")"
wait_for_file "$TMP/theirs.txt" "Monitoring bus message stream" || fail "busctl monitor did not start: $(cat "$TMP/theirs.txt")"
sleep 0.3 # capture says nothing when it is ready
out=$(t "$NSBUSCTL" --address="$ADDR" call "${OBJ[@]}" EchoDict 'a{sv}' 2 K s v N u 5) || fail "call: $out"
for p in "${BG_PIDS[@]:1}"; do
	wait "$p" 2>/dev/null
done

strip() { sed -e 's/  Timestamp="[^"]*"//' -e '/^Monitoring bus message stream\.$/d' "$1"; }
[ -s "$TMP/ours.txt" ] || fail "nsbusctl monitor showed nothing: $(cat "$TMP/ours.err")"
expect_eq "monitor, as busctl monitor" "$(strip "$TMP/ours.txt")" "$(strip "$TMP/theirs.txt")"
expect_match "monitor shows the call" "$(cat "$TMP/ours.txt")" 'Member=EchoDict$'
expect_match "monitor shows a value" "$(cat "$TMP/ours.txt")" '^ +STRING "K";$'

$PY - "$TMP/ours.json" <<'PYEOF' || fail "nsbusctl --json monitor: $(cat "$TMP/ours.json")"
import json, sys
msgs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
call = [m for m in msgs if m["type"] == "method_call" and m.get("member") == "EchoDict"]
assert len(call) == 1, msgs
assert call[0]["payload"] == {"type": "a{sv}", "data": [{"K": {"type": "s", "data": "v"},
                                                          "N": {"type": "u", "data": 5}}]}, call
ret = [m for m in msgs if m["type"] == "method_return" and m.get("reply_cookie") == call[0]["cookie"]]
assert len(ret) == 1, msgs
PYEOF

[ -s "$TMP/capture.pcap" ] || fail "capture wrote nothing: $(cat "$TMP/capture.err")"
summary=$(t tshark -r "$TMP/capture.pcap" 2>"$TMP/tshark.err") || fail "tshark cannot read the capture: $(cat "$TMP/tshark.err")"
expect_match "tshark: the call" "$summary" 'D-Bus .*EchoDict\(\) @ /org/nsbus/CliTest'
expect_match "tshark: its reply" "$summary" "D-Bus .*-> 'a\{sv\}'"
detail=$(t tshark -r "$TMP/capture.pcap" -V 2>/dev/null)
expect_match "tshark -V: the member field" "$detail" 'Member: EchoDict'

# wait: a signal emitted by another client, the one asked for and not the others.
spawn "$NSBUSCTL" --address="$ADDR" --timeout=10 wait /org/nsbus/W org.nsbus.W Ping >"$TMP/wait.out" 2>&1
WAIT_PID=${BG_PIDS[-1]}
for i in $(seq 1 50); do # until its match is in place: the bus lists it
	t busctl --address="$ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.Debug.Stats GetAllMatchRules 2>/dev/null | grep -q 'org\.nsbus\.W' && break
	sleep 0.1
done
t "$NSBUSCTL" --address="$ADDR" emit /org/nsbus/W org.nsbus.W Other s not-this || fail "emit Other"
t "$NSBUSCTL" --address="$ADDR" emit /org/nsbus/W org.nsbus.W Ping 'sa{sv}' hello 1 k u 3 || fail "emit Ping"
wait "$WAIT_PID" || fail "nsbusctl wait failed: $(cat "$TMP/wait.out")"
expect_eq "wait prints the signal" "$(cat "$TMP/wait.out")" 'sa{sv} "hello" 1 "k" u 3'
pass
