#!/bin/bash
# A container bus that was killed (SIGKILL: it removes nothing) leaves its sockets in RUNTIME_DIR/NAME, with
# nobody listening on them. nsbusctl must not take that for a running bus:
# 1. under `nsbusctl up`, nsbusd killed while its container runs: the supervisor stops and removes the
#    sockets, but keeps bus/ (the container's /run/dbus), so that `up` again serves the container in the
#    same place; `down` then removes everything;
#    and with its supervisor killed instead, down stops the nsbusd it left (by pid, checked against the
#    program up started) and removes everything;
# 2. nsbusd run by hand with --runtime-dir (no lock): `down` refuses at once while it runs, and once it is
#    killed, `down` removes what it left at once and succeeds (an LXC stop hook runs down on every stop);
# 3. a first `up` whose bus fails before it serves (here: exits at once) fails and leaves nothing, bus/
#    included: no container has it at /run/dbus yet.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
ctr_need
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"
export NSBUS_NSBUSD=$NSBUSD
ctl() { t "$NSBUSCTL" --runtime-dir="$CTR_RT" "$@"; }
jfield() { /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); print(*(d.get(k) for k in sys.argv[1:]))' "$@"; }
down_at_exit() {
	local n
	for n in up-killed by-hand never-served; do
		[ -d "$CTR_RT/$n" ] && "$NSBUSCTL" --runtime-dir="$CTR_RT" down "$n" >/dev/null 2>&1
	done
	ctr_cleanup
	cleanup
	[ -z "${ctr_cleanup_failed:-}" ] || exit 1
}
trap down_at_exit EXIT
# ms CMD...: run CMD, print how long it took in milliseconds; its status is ms's.
ms() {
	local t0 rc
	t0=$(date +%s%N)
	"$@"
	rc=$?
	echo $((($(date +%s%N) - t0) / 1000000))
	return $rc
}
mkdir -p "$CTR_RT"

# 1. Under up: kill the bus; the supervisor clears all but bus/, which the container has at /run/dbus.
ctr_start C1
ctl up up-killed --pid="$C1" --log="$TMP/up.log" >"$TMP/up.out" 2>"$TMP/up.err" ||
	fail "nsbusctl up: $(cat "$TMP/up.err")"
read -r sup bus < <(jfield supervisor_pid bus_pid <"$CTR_RT/up-killed/state.json")
[ -S "$CTR_RT/up-killed/host.sock" ] || fail "up made no host.sock: $(ls -la "$CTR_RT/up-killed")"
t nsenter -t "$C1" -m -- mount --no-mtab --bind "$CTR_RT/up-killed/bus" /run/dbus ||
	fail "bind-mounting the bus directory at /run/dbus in the container failed"
bus_dir_inode=$(stat -c %i "$CTR_RT/up-killed/bus")
kill -KILL "$bus"
for i in $(seq 1 50); do pid_alive "$sup" || break; sleep 0.1; done
pid_alive "$sup" && fail "the supervisor (pid $sup) still runs 5 s after its bus was killed"
expect_match "the supervisor's log" "$(cat "$TMP/up.log")" "was killed by KILL"
left=$(cd "$CTR_RT/up-killed" && find . | sort | tr '\n' ' ')
expect_eq "what the supervisor left of the killed bus" "$left" ". ./bus "
# Up again: the same bus/ (the container sees the new socket), then down removes all of it.
ctl up up-killed --pid="$C1" --log="$TMP/up.log" >"$TMP/up.out" 2>"$TMP/up.err" ||
	fail "nsbusctl up after the bus was killed: $(cat "$TMP/up.err")"
expect_eq "bus/ kept across the restart" "$(stat -c %i "$CTR_RT/up-killed/bus")" "$bus_dir_inode"
t nsenter -t "$C1" -m -- test -S /run/dbus/system_bus_socket ||
	fail "the container does not see the new bus's socket at /run/dbus"
ctl down up-killed >/dev/null 2>"$TMP/down.err" || fail "down: $(cat "$TMP/down.err")"
[ -e "$CTR_RT/up-killed" ] && fail "down left $(ls -laR "$CTR_RT/up-killed" 2>&1)"

# Its supervisor killed instead: down stops the bus it left (the pid is still that nsbusd) and removes all.
ctl up up-killed --pid="$C1" --log="$TMP/up.log" >"$TMP/up.out" 2>"$TMP/up.err" ||
	fail "nsbusctl up, third time: $(cat "$TMP/up.err")"
read -r sup bus < <(jfield supervisor_pid bus_pid <"$CTR_RT/up-killed/state.json")
kill -KILL "$sup"
for i in $(seq 1 50); do pid_alive "$sup" || break; sleep 0.1; done
pid_alive "$bus" || fail "nsbusd ended with its supervisor: nothing left for down to stop"
ctl down up-killed >/dev/null 2>"$TMP/down.err" || fail "down after the supervisor was killed: $(cat "$TMP/down.err")"
pid_alive "$bus" && fail "down left the bus (pid $bus) of a killed supervisor running"
[ -e "$CTR_RT/up-killed" ] && fail "down left $(ls -laR "$CTR_RT/up-killed" 2>&1)"

# 2. By hand: down refuses a live bus it did not start, and clears one that was killed.
CTR_NAME=by-hand
ctr_start C2 # C1's /run/dbus is the directory down removed
ctr_bus_start "$C2"
took=$(ms "$NSBUSCTL" --runtime-dir="$CTR_RT" down by-hand 2>"$TMP/down.err") &&
	fail "down stopped a bus nsbusctl up did not start"
expect_match "down's refusal" "$(cat "$TMP/down.err")" "holds a bus that nsbusctl up did not start"
[ "${took##*$'\n'}" -lt 1000 ] || fail "down took ${took##*$'\n'} ms to refuse a live bus"
[ -S "$CTR_RT/by-hand/host.sock" ] || fail "down's refusal removed the live bus's host.sock"
kill -KILL "$BUS_PID"
wait "$BUS_PID" 2>/dev/null
[ -S "$CTR_RT/by-hand/host.sock" ] && [ -S "$CTR_RT/by-hand/bus/system_bus_socket" ] ||
	fail "the killed nsbusd removed its sockets: this test no longer tests anything"
took=$(ms "$NSBUSCTL" --runtime-dir="$CTR_RT" down by-hand 2>"$TMP/down.err") ||
	fail "down on a killed bus's directory: $(cat "$TMP/down.err")"
[ "${took##*$'\n'}" -lt 1000 ] || fail "down took ${took##*$'\n'} ms on a killed bus's directory"
[ -e "$CTR_RT/by-hand" ] && fail "down left $(ls -laR "$CTR_RT/by-hand" 2>&1)"

# 3. A first up whose bus never serves.
printf '#!/bin/sh\necho "nsbusd: refusing to start (test)" >&2\nexit 1\n' >"$TMP/failing-nsbusd"
chmod +x "$TMP/failing-nsbusd"
NSBUS_NSBUSD=$TMP/failing-nsbusd ctl up never-served --pid="$C2" --log="$TMP/up3.log" >"$TMP/up3.out" \
	2>"$TMP/up3.err" && fail "nsbusctl up succeeded with a bus that exits at once"
expect_match "up's error" "$(cat "$TMP/up3.err" "$TMP/up3.log" 2>/dev/null)" "refusing to start|exited"
[ -e "$CTR_RT/never-served" ] && fail "a failed first up left $(ls -laR "$CTR_RT/never-served" 2>&1)"
echo "$TEST_NAME: PASS"
exit 0
