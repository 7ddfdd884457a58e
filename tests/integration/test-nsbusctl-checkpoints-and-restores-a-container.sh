#!/bin/bash
# nsbusctl checkpoint and restore (libcriu, with the nsbus CRIU plugin): lib-criu.sh's container, whose bus
# nsbusctl up runs.
#
# 1. `nsbusctl checkpoint c1 DIR` while a client inside waits for a slow call and a signal waits unread:
#    the container ends, the bus waits for it, ls shows c1 "checkpointed". Its nsbusd is stopped (down),
#    and `nsbusctl restore c1 DIR --bus=fresh` starts a fresh one and restores the container onto it:
#    nothing is lost (criu_check_restored: the reply to the call made before the dump, the unread signal,
#    the same unique name for the service's name, its match rule, a new client's call).
# 2. `nsbusctl checkpoint c1 DIR2 --leave-running`, then `nsbusctl restore c2 DIR2`: a migration on one
#    host. c1's container goes on; the copy runs under c2 with c2's own bus, where the service has its old
#    unique name and name, and answers a new client inside the copy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-criu.sh"
criu_need
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"
"$NSBUSCTL" checkpoint 2>&1 | grep -q "without libcriu" && skip "nsbusctl was built without libcriu"
export NSBUS_NSBUSD=$NSBUSD NSBUS_NSBRIDGE=$NSBRIDGE
# libcriu's criu loads the plugin of this build, not one installed on the machine.
export CRIU_LIBS_DIR=$CRIU_PLUGINS
ctl() { t "$NSBUSCTL" --runtime-dir="$CTR_RT" "$@"; }
# jfield KEY...: the values of a JSON object's keys read from stdin, space-separated.
jfield() { /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); print(*(d.get(k) for k in sys.argv[1:]))' "$@"; }
ctl_cleanup() {
	local n
	for n in c1 c2; do
		[ -d "$CTR_RT/$n" ] && "$NSBUSCTL" --runtime-dir="$CTR_RT" down "$n" >/dev/null 2>&1
	done
}
trap 'ctl_cleanup; criu_cleanup; ctr_cleanup; cleanup; [ -z "${ctr_cleanup_failed:-}" ] || exit 1' EXIT

# The bus of lib-criu's container, brought up by nsbusctl (no policy: no bridge).
ctl_bus_up() {
	ctl up "$CTR_NAME" --pid="$1" --log="$TMP/bus.log" >"$TMP/up.out" 2>"$TMP/up.err" ||
		fail "nsbusctl up: $(cat "$TMP/up.err")"
	HOST_ADDR=unix:path=$CTR_RT/$CTR_NAME/host.sock
	export DBUS_SESSION_BUS_ADDRESS=$HOST_ADDR
	BUS_PID=$(jfield bus_pid <"$CTR_RT/$CTR_NAME/state.json")
}
CRIU_BUS_START=ctl_bus_up

# 1. checkpoint, stop the bus, restore onto a fresh one.
criu_start_container
ctl checkpoint "$CTR_NAME" "$CRIU_IMG" >"$TMP/ck.out" 2>"$TMP/ck.err" ||
	criu_fail "nsbusctl checkpoint: $(cat "$TMP/ck.err")"
for i in $(seq 1 40); do kill -0 "$CRIU_INIT" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$CRIU_INIT" 2>/dev/null || criu_fail "the checkpointed container still runs"
expect_eq "connection images in the checkpoint" "$(find "$CRIU_IMG" -name 'nsbus-sk-*.img' | wc -l)" 2
state=$(ctl --json=short ls "$CTR_NAME" | jfield state checkpoint)
expect_eq "ls after the checkpoint" "$state" "checkpointed $(realpath "$CRIU_IMG")"
ctl down "$CTR_NAME" >/dev/null 2>"$TMP/down.err" || fail "nsbusctl down: $(cat "$TMP/down.err")"
[ ! -e "$CTR_RT/$CTR_NAME" ] || fail "down left $CTR_RT/$CTR_NAME"
ctl restore "$CTR_NAME" "$CRIU_IMG" --bus=fresh >"$TMP/rs.out" 2>"$TMP/rs.err" ||
	criu_fail "nsbusctl restore --bus=fresh: $(cat "$TMP/rs.err")"
CRIU_RESTORED=$(sed -n 's/.*(init \([0-9]*\)).*/\1/p' "$TMP/rs.out")
[ -n "$CRIU_RESTORED" ] || fail "nsbusctl restore said no init: $(cat "$TMP/rs.out")"
CTR_INITS+=("$CRIU_RESTORED")
CTR_OWN_ROOT[$CRIU_RESTORED]=$CRIU_ROOT
BUS_PID=$(jfield bus_pid <"$CTR_RT/$CTR_NAME/state.json")
expect_eq "the restored init's pid inside" "$(ctr_nspid "$CRIU_RESTORED" 2)" 1
criu_check_restored
for i in $(seq 1 40); do
	[ "$(jfield init_pid <"$CTR_RT/$CTR_NAME/state.json")" = "$CRIU_RESTORED" ] && break
	sleep 0.05
done
expect_eq "ls after the restore" "$(ctl --json=short ls "$CTR_NAME" | jfield state init_pid)" \
	"up $CRIU_RESTORED"

# 2. --leave-running, restored into c2: a migration.
IMG2=$TMP/images2
mkdir -p "$CTR_RT/c2/bus"
chmod 0700 "$CTR_RT/c2"
ctl checkpoint "$CTR_NAME" "$IMG2" --leave-running >"$TMP/ck2.out" 2>"$TMP/ck2.err" ||
	criu_fail "nsbusctl checkpoint --leave-running: $(cat "$TMP/ck2.err")"
kill -0 "$CRIU_RESTORED" 2>/dev/null || fail "the container ended although --leave-running"
expect_eq "c1's service still answers inside c1" \
	"$(ctr_exec "$CRIU_RESTORED" 0 0 /usr/bin/python3 "$IT_DIR/criu_peers.py" call "$CTR_ADDR" "$CRIU_NAME" \
		still-c1 2>&1)" "reply echo:still-c1"
CRIU_IMG=$IMG2
ctl restore c2 "$IMG2" >"$TMP/rs2.out" 2>"$TMP/rs2.err" || criu_fail "nsbusctl restore c2: $(cat "$TMP/rs2.err")"
COPY=$(sed -n 's/.*(init \([0-9]*\)).*/\1/p' "$TMP/rs2.out")
[ -n "$COPY" ] || fail "nsbusctl restore c2 said no init: $(cat "$TMP/rs2.out")"
CTR_INITS+=("$COPY")
CTR_OWN_ROOT[$COPY]=$CRIU_ROOT
[ "$COPY" != "$CRIU_RESTORED" ] || fail "the copy is the original"
owner=$(words "$(DBUS_SESSION_BUS_ADDRESS=unix:path=$CTR_RT/c2/host.sock t dbus-send --session --print-reply=literal \
	--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetNameOwner "string:$CRIU_NAME" 2>&1)")
expect_eq "the owner of $CRIU_NAME on c2's bus" "$owner" "$CRIU_UNIQUE"
expect_eq "the copy's service answers inside the copy" \
	"$(ctr_exec "$COPY" 0 0 /usr/bin/python3 "$IT_DIR/criu_peers.py" call "$CTR_ADDR" "$CRIU_NAME" in-c2 2>&1)" \
	"reply echo:in-c2"
expect_eq "and c1's still answers inside c1" \
	"$(ctr_exec "$CRIU_RESTORED" 0 0 /usr/bin/python3 "$IT_DIR/criu_peers.py" call "$CTR_ADDR" "$CRIU_NAME" \
		again-c1 2>&1)" "reply echo:again-c1"
pass
