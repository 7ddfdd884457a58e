#!/bin/bash
# nsbusctl reaches a container's bus from the host by the container's name (-C, through host.sock) and
# by the pid of any process in the container (--pid), and sees the container's peers as the host sees
# them: a service inside a uid-shifted container (map 0 100000 65536), run as container uid 1000, is
# uid 101000 with its host pid.  A host process's pid names no container bus: a clear error.
# nsbusctl creds shows both views side by side: container root's service is uid 0 and its own pid
# inside, 100000 and its host pid outside; it came through the container's socket; a host peer on
# host.sock is the host's root, and the container sees it as the overflow uid with no pid.  list on a
# container bus adds those container-side columns (CPID, CUID).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need python3-dbus
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"
ctr_need

ctr_start C1
ctr_bus_start "$C1"
ctr_service "$C1" 1000 1000 org.test.Inside
ctr_service "$C1" 0 0 org.test.Root
ctr_service host 0 0 org.test.Host
in_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Inside.info")")
in_unique=$(kv unique "$(cat "$CTR_DIR/org.test.Inside.info")")
in_host_pid=$(ctr_host_pid "$C1" "$in_pid") || fail "no host process is pid $in_pid in container $C1"

ctl() { t "$NSBUSCTL" --runtime-dir="$CTR_RT" "$@"; }
check_list() { # check_list WHAT OUTPUT
	local row
	row=$(awk '$1 == "org.test.Inside" {print $2, $4, $5}' <<<"$2")
	expect_eq "$1: org.test.Inside's host pid, host uid and connection" "$row" "$in_host_pid 101000 $in_unique"
	row=$(awk '$1 == "org.test.Inside" {print $(NF - 1), $NF}' <<<"$2")
	expect_eq "$1: org.test.Inside's pid and uid inside (CPID, CUID)" "$row" "$in_pid 1000"
	row=$(awk '$1 == "org.test.Host" {print $(NF - 1), $NF}' <<<"$2")
	expect_eq "$1: a host peer, as the container sees it" "$row" "0 65534"
	expect_match "$1: the bus itself" "$2" "^org\.freedesktop\.DBus +$BUS_PID nsbusd "
}

out=$(ctl -C "$CTR_NAME" list) || fail "nsbusctl -C $CTR_NAME list: $out"
check_list "-C $CTR_NAME list" "$out"
out=$(ctl --pid="$in_host_pid" list) || fail "nsbusctl --pid=$in_host_pid list: $out"
check_list "--pid=(the service) list" "$out"
out=$(ctl --pid="$C1" list) || fail "nsbusctl --pid=$C1 list: $out"
check_list "--pid=(the container's init) list" "$out"

out=$(ctl -C "$CTR_NAME" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
	GetConnectionUnixUser s org.test.Inside) || fail "nsbusctl -C call: $out"
expect_eq "-C call GetConnectionUnixUser" "$out" "u 101000"
out=$(ctl -C "$CTR_NAME" call org.test.Inside / org.freedesktop.DBus.Peer GetMachineId) ||
	fail "nsbusctl -C call of the service inside: $out"
expect_match "-C call of the service inside" "$out" '^s "[0-9a-f]{32}"$'

out=$(ctl --pid=$$ list 2>&1) && fail "--pid of a host process found a bus: $out"
expect_eq "--pid of a host process" "$out" \
	"nsbusctl: --pid=$$: no running container bus serves the container of that process"
# creds: both views.
root_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Root.info")")
root_host_pid=$(ctr_host_pid "$C1" "$root_pid") || fail "no host process is pid $root_pid in container $C1"
out=$(ctl -C "$CTR_NAME" creds org.test.Root) || fail "nsbusctl creds org.test.Root: $out"
log "creds org.test.Root: $out"
expect_match "creds: the uids" "$out" '^UID +100000 +0$'
expect_match "creds: the pids" "$out" "^PID +$root_host_pid +$root_pid\$"
expect_match "creds: the gids" "$out" '^GIDs +100000 +0$'
expect_match "creds: the listener" "$out" "^Listener: +the container's socket\$"
expect_match "creds: the trust" "$out" '^Trust: +peer$'
expect_match "creds: the user namespace" "$out" "^user ns +$(readlink "/proc/$C1/ns/user" | sed 's/[][]/\\&/g')\$"
out=$(ctl -C "$CTR_NAME" --json=short creds org.test.Inside) || fail "nsbusctl --json creds: $out"
$PY - "$out" "$in_host_pid" "$in_pid" <<'PYEOF' || fail "nsbusctl --json creds: $out"
import json, sys
v = json.loads(sys.argv[1])
assert v["host"]["uid"] == 101000 and v["container"]["uid"] == 1000, v
assert v["host"]["pid"] == int(sys.argv[2]) and v["container"]["pid"] == int(sys.argv[3]), v
assert v["listener"] == "container" and v["trust"] == "peer" and v["proxied"] is False, v
PYEOF
out=$(ctl -C "$CTR_NAME" creds org.test.Host) || fail "nsbusctl creds org.test.Host: $out"
log "creds org.test.Host: $out"
expect_match "creds of a host peer: uids" "$out" '^UID +0 +65534$'
expect_match "creds of a host peer: pid" "$out" '^PID +[0-9]+ +0$'
expect_match "creds of a host peer: listener" "$out" '^Listener: +host\.sock$'
expect_match "creds of a host peer: trust" "$out" '^Trust: +host-root$'
out=$(ctl -C "$CTR_NAME" creds org.test.Nobody 2>&1) && fail "creds of no peer succeeded: $out"
expect_match "creds of no peer" "$out" '^nsbusctl: creds: org\.test\.Nobody: '
pass
