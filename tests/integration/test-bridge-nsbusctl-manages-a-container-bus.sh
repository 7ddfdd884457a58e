#!/bin/bash
# nsbusctl's manager verbs run a container's bus and bridge end to end, against a real host bus:
# - `up NAME --pid=INIT --policy=FILE` prints the container's socket once it accepts; a second `up`
#   reports the running bus, prints the same socket and changes nothing;
# - `ls` and `ls --json` show it (init, bus and bridge pids, bridge running, the policy);
# - a client inside the container calls the host's org.example.Host through the bridge;
# - `reload` with a changed policy: org.example.Extra, not imported before, becomes callable inside,
#   (a container process that owned it under the old policy loses it to the bridge), while a service
#   connected before the reload keeps its unique name and keeps answering, and the
#   bridge keeps its pid (the policy changes in place, no connection is dropped); an export withdrawn
#   by a reload leaves the host bus while another export of the same container peer stays;
# - a policy with a syntax error is refused by `reload` with its file and line, and nothing changes;
# - the bridge killed with SIGKILL is started again by the supervisor and `ls` counts the restart, and
#   so is one stopped with SIGTERM while its container runs;
# - `down` leaves no process (supervisor, nsbusd, nsbridge) and no directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"
export NSBUS_NSBUSD=$NSBUSD NSBUS_NSBRIDGE=$NSBRIDGE
UP_LOG=$TMP/up.log
# The host bus knows uid 100000 from its own passwd copy (lib-bridge.sh), so up need not add a user to
# this host's (test-nsbusctl-up-on-a-stock-system-bus does that).
UP_ARGS=(--add-user=no)
BRIDGE_LOG=$UP_LOG # what fail() shows: the bus, the bridge and the supervisor all write there

ctl() { t "$NSBUSCTL" --runtime-dir="$CTR_RT" "$@"; }
# The supervisor and what it runs are stopped by `down` even when the test fails half-way.
down_at_exit() {
	[ -d "$CTR_RT/$CTR_NAME" ] && "$NSBUSCTL" --runtime-dir="$CTR_RT" down "$CTR_NAME" >/dev/null 2>&1
		ctr_cleanup
	bridge_cleanup
	cleanup
	[ -z "${ctr_cleanup_failed:-}${bridge_cleanup_failed:-}" ] || exit 1
}
trap down_at_exit EXIT

hostbus_start
hostsvc_start "${HOSTSVC_NAMES[@]}" org.example.Extra
ctr_start C1
bridge_write_policy
mkdir -p "$CTR_RT"

out=$(ctl up "$CTR_NAME" --pid="$C1" --policy="$BRIDGE_POLICY" --host-bus="$HOSTBUS_ADDR" --log="$UP_LOG" "${UP_ARGS[@]}" \
	2>"$TMP/up.err") || fail "nsbusctl up: $(cat "$TMP/up.err")"
sock=$CTR_RT/$CTR_NAME/bus/system_bus_socket
expect_eq "up prints the container's socket" "$out" "$sock"
[ -S "$sock" ] || fail "up returned, but $sock is no socket"
HOST_ADDR=unix:path=$CTR_RT/$CTR_NAME/host.sock
t nsenter -t "$C1" -m -- mount --no-mtab --bind "$CTR_RT/$CTR_NAME/bus" /run/dbus ||
	fail "bind-mounting the bus directory at /run/dbus in the container failed"

state() { "$PY" -c 'import json, sys; s = json.load(sys.stdin); print(s[sys.argv[1]])' "$1"; }
js=$(ctl ls "$CTR_NAME" --json=short) || fail "nsbusctl ls NAME --json: $js"
sup=$(state supervisor_pid <<<"$js") bus=$(state bus_pid <<<"$js") bridge=$(state bridge_pid <<<"$js")
expect_eq "ls --json: init" "$(state init_pid <<<"$js")" "$C1"
expect_eq "ls --json: state" "$(state state <<<"$js")/$(state bridge <<<"$js")" "up/running"
expect_eq "ls --json: policy" "$(state policy <<<"$js")" "$(realpath "$BRIDGE_POLICY")"
for p in "$sup" "$bus" "$bridge"; do
	pid_alive "$p" || fail "ls says pid $p runs, but it does not: $js"
done
expect_match "the bus is nsbusd" "$(tr '\0' ' ' </proc/"$bus"/cmdline)" "--container-pid=$C1 "

out=$(ctl up "$CTR_NAME" --pid="$C1" --policy="$BRIDGE_POLICY" --host-bus="$HOSTBUS_ADDR" --log="$UP_LOG" "${UP_ARGS[@]}" \
	2>"$TMP/up2.err") || fail "a second nsbusctl up failed: $(cat "$TMP/up2.err")"
expect_eq "a second up prints the same socket" "$out" "$sock"
expect_match "a second up says so" "$(cat "$TMP/up2.err")" "already up"
expect_eq "a second up changes nothing" "$(ctl ls "$CTR_NAME" --json=short | state bus_pid)" "$bus"

out=$(ctl ls) || fail "nsbusctl ls: $out"
expect_match "ls: the row" "$out" "^$CTR_NAME +$C1 +$bus +$bridge +up/running +[0-9]+ "

# Through the bridge, from inside.
bridge_wait_name "$C1" org.example.Host
inside_call() { # inside_call DEST PATH IFACE.METHOD [ARGS...]: dbus-send inside, as the container's root
	TMO=10 ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest="$1" "$2" "${@:3}" 2>&1
}
out=$(inside_call org.example.Host /org/example/Host org.example.Host.EchoString string:hello) ||
	fail "call through the bridge: $out"
expect_eq "a call through the bridge" "$(words "$out")" "hello"
ctr_service "$C1" 1000 1000 org.test.Inside
before=$(kv unique "$(cat "$CTR_DIR/org.test.Inside.info")")
# A container process takes org.example.Extra while no policy reserves it.  Once a reload imports it, the
# squatter loses it and the host's service answers under that name inside.
ctr_service "$C1" 1000 1000 org.example.Extra

# A broken policy: reload refuses it, naming the line, and the one in force stays.
cp "$BRIDGE_POLICY" "$TMP/good.policy"
echo "import frobnicate org.example.Extra" >>"$BRIDGE_POLICY"
out=$(ctl reload "$CTR_NAME" 2>&1) && fail "reload took a broken policy: $out"
expect_match "reload names the broken line" "$out" "$(basename "$BRIDGE_POLICY"):[0-9]+"
cp "$TMP/good.policy" "$BRIDGE_POLICY"

echo "import talk org.example.Extra" >>"$BRIDGE_POLICY"
out=$(ctl reload "$CTR_NAME" 2>&1) || fail "nsbusctl reload: $out"
bridge_wait_name "$C1" org.example.Extra
out=$(inside_call org.example.Extra /org/example/Extra org.example.Extra.Get) ||
	fail "call to the newly imported name: $out"
expect_eq "the newly imported name answers" "$(words "$out")" "org.example.Extra:/org/example/Extra"
after=$(TMO=5 ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.GetNameOwner string:org.test.Inside) || fail "GetNameOwner after reload"
expect_eq "a peer connected before the reload keeps its unique name" "$(words "$after")" "$before"
out=$(inside_call org.test.Inside / org.freedesktop.DBus.Peer.Ping) ||
	fail "the peer connected before the reload does not answer: $out"
expect_eq "the bridge kept running through the reload" "$(ctl ls "$CTR_NAME" --json=short | state bridge_pid)" "$bridge"
out=$(inside_call org.example.Host /org/example/Host org.example.Host.EchoString string:still) ||
	fail "org.example.Host after reload: $out"

# Exports follow reloads too. One container connection owns com.example.Web and com.example.Two; the
# policy exports both, then only Web: Two leaves the host bus and Web, owned by the same peer, stays.
ctr_spawn "$C1" 0 0 /usr/bin/python3 -c '
import sys, dbus, dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
for n in ("com.example.Web", "com.example.Two"):
    bus.request_name(n, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
GLib.MainLoop().run()' "$CTR_ADDR"
hostbus_wait_name "com.example.Web.$CTR_NAME" 10
echo "export own com.example.Two as com.example.Two.$CTR_NAME" >>"$BRIDGE_POLICY"
out=$(ctl reload "$CTR_NAME" 2>&1) || fail "reload exporting com.example.Two: $out"
hostbus_wait_name "com.example.Two.$CTR_NAME" 10
sed -i '/com\.example\.Two/d' "$BRIDGE_POLICY"
out=$(ctl reload "$CTR_NAME" 2>&1) || fail "reload no longer exporting com.example.Two: $out"
hostbus_wait_name_gone "com.example.Two.$CTR_NAME" 10
sleep 0.5
hostbus_has_owner "com.example.Web.$CTR_NAME" ||
	fail "com.example.Web.$CTR_NAME left the host bus when only com.example.Two's export was withdrawn"

# The bridge dies: the supervisor starts a new one, and ls counts it.
kill -KILL "$bridge"
for i in $(seq 1 100); do
	js=$(ctl ls "$CTR_NAME" --json=short)
	new=$(state bridge_pid <<<"$js")
	[ "$new" != 0 ] && [ "$new" != "$bridge" ] && [ "$(state bridge <<<"$js")" = running ] && break
	sleep 0.1
done
[ "$new" != 0 ] && [ "$new" != "$bridge" ] || fail "no new bridge 10 s after the old one was killed: $js"
expect_eq "ls counts the restart" "$(state bridge_restarts <<<"$js")" 1
expect_match "ls says why it restarted" "$(state bridge_error <<<"$js")" "killed by KILL"
expect_match "the table marks it" "$(ctl ls)" "up/running\*"
bridge_wait_name "$C1" org.example.Extra 15
out=$(inside_call org.example.Extra /org/example/Extra org.example.Extra.Get) ||
	fail "the restarted bridge does not carry calls: $out"

# A bridge stopped with SIGTERM (it exits 0, as when its container ends) while the container runs is
# started again too.
kill -TERM "$new"
for i in $(seq 1 100); do
	js=$(ctl ls "$CTR_NAME" --json=short)
	again=$(state bridge_pid <<<"$js")
	[ "$again" != 0 ] && [ "$again" != "$new" ] && break
	sleep 0.1
done
[ "$again" != 0 ] && [ "$again" != "$new" ] || fail "no new bridge after SIGTERM to the old one: $js"
new=$again

out=$(ctl down "$CTR_NAME" 2>&1) || fail "nsbusctl down: $out"
for p in "$sup" "$bus" "$new"; do
	pid_alive "$p" && fail "pid $p still runs after down"
done
[ -e "$CTR_RT/$CTR_NAME" ] && fail "down left $CTR_RT/$CTR_NAME: $(ls -la "$CTR_RT/$CTR_NAME")"
out=$(ctl ls) || fail "ls after down: $out"
expect_no_match "ls after down" "$out" "^$CTR_NAME "
out=$(ctl down "$CTR_NAME" 2>&1) || fail "a second down failed: $out"
# The bus is gone by design, so lib.sh's pass() (which asks it) does not apply; the host bus must live.
pid_alive "$HOSTBUS_PID" || fail "the host bus died during the test"
echo "$TEST_NAME: PASS"
