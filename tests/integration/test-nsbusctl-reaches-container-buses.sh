#!/bin/bash
# nsbusctl reaches a container's bus from the host by the container's name (-C, through host.sock) and
# by the pid of any process in the container (--pid), and sees the container's peers as the host sees
# them: a service inside a uid-shifted container (map 0 100000 65536), run as container uid 1000, is
# uid 101000 with its host pid.  A host process's pid names no container bus: a clear error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need python3-dbus
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"
ctr_need

ctr_start C1
ctr_bus_start "$C1"
ctr_service "$C1" 1000 1000 org.test.Inside
in_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Inside.info")")
in_unique=$(kv unique "$(cat "$CTR_DIR/org.test.Inside.info")")
in_host_pid=$(ctr_host_pid "$C1" "$in_pid") || fail "no host process is pid $in_pid in container $C1"

ctl() { t "$NSBUSCTL" --runtime-dir="$CTR_RT" "$@"; }
check_list() { # check_list WHAT OUTPUT
	local row
	row=$(awk '$1 == "org.test.Inside" {print $2, $4, $5}' <<<"$2")
	expect_eq "$1: org.test.Inside's host pid, host uid and connection" "$row" "$in_host_pid 101000 $in_unique"
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
pass
