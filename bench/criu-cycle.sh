#!/bin/bash
# One timed checkpoint and restore of the bench's CRIU container (bench/README.md, "Checkpoint and
# restore"), for bench/run.sh's criu section:
#
#   criu-cycle.sh check          exit 0 if CRIU >= 4.1 and the nsbus plugin can run here; else
#                                "skipped: WHY" on stdout and exit 77
#   criu-cycle.sh bus N NAMED    the container's one process holds N connections to the container's bus
#                                (NAMED of them own a name)
#   criu-cycle.sh nobus          the same container and process, with no bus and no connection
#
# It prints "dump_ms V", "restore_ms V" and "images_kib V"; on a failure "FAIL: WHY" on stderr and exit 1.
# The container, its bus, CRIU's set-up and the cleanup are the integration tests' (lib.sh,
# lib-container.sh, lib-criu.sh: NSBUSD, NSRUN and NSBUS_CRIU_PLUGIN as there): user, pid and mount
# namespaces from nsrun, a pid namespace made inside with `unshare --pid --fork`, a root of its own with
# the host's programs bound in, the bus directory bound at /run/dbus (an empty one without a bus). At
# exit, whatever happened, their traps kill the containers (the restored one too) and the bus by pid,
# unmount what was mounted, and fail if a process or a mount of the container is left.
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT=$BENCH_DIR/../tests/integration
. "$IT/lib.sh"
. "$IT/lib-container.sh"
. "$IT/lib-criu.sh"

mode=${1:-}
case "$mode" in
check) criu_need; exit 0 ;;
bus) n=${2:?criu-cycle.sh bus N NAMED} named=${3:?criu-cycle.sh bus N NAMED} ;;
nobus) n=0 named=0 ;;
*) echo "usage: criu-cycle.sh check | bus N NAMED | nobus" >&2; exit 2 ;;
esac
criu_need

HOLDER_LOG=$CTR_DIR/holder.log
HOLDER_INFO=$CTR_DIR/holder.info

# What the holder said, then lib-criu.sh's criu_fail (CRIU's errors, the init's output, the bus log).
cycle_fail() {
	if [ -s "$HOLDER_LOG" ]; then
		echo "--- $HOLDER_LOG ---" >&2
		tail -n 10 "$HOLDER_LOG" >&2
	fi
	criu_fail "$@"
}

# ms T0 T1: the interval between two $EPOCHREALTIME readings, in ms.
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) * 1000}'; }

# holder_pid INIT: the holder's host pid, the init's only python child.
holder_pid() { pgrep -P "$1" -f criu_holder.py | head -n 1; }

# holder_alive INIT WHAT: the holder runs its code: on SIGUSR1 it writes one more "alive" line.
holder_alive() {
	local pid before i
	pid=$(holder_pid "$1")
	[ -n "$pid" ] || cycle_fail "$2: no holder process under the init $1"
	before=$(grep -c '^alive$' "$HOLDER_LOG" 2>/dev/null)
	kill -USR1 "$pid" || cycle_fail "$2: cannot signal the holder $pid"
	for i in $(seq 1 200); do
		[ "$(grep -c '^alive$' "$HOLDER_LOG")" -gt "$before" ] && return 0
		sleep 0.05
	done
	cycle_fail "$2: the holder $pid did not answer SIGUSR1 within 10 s"
}

# holder_connections_work TOKEN: every one of the N connections works. The host sends the signal
# Check(TOKEN), which reaches each connection through its match rule; each asks the bus GetNameOwner of its
# own unique name, and the holder says "checked TOKEN N" once all N have their answer. And the bus, asked
# from the host, lists the N unique names the holder had before the dump and gives each well-known name
# to the same one.
holder_connections_work() {
	local token=$1 names u name owner
	t dbus-send --session --type=signal /org/nsbus/BenchCriu org.nsbus.BenchCriu.Check "string:$token" ||
		cycle_fail "$token: sending Check from the host failed"
	wait_for_file "$HOLDER_LOG" "^checked $token $n\$" 30 ||
		cycle_fail "$token: not all $n connections answered Check within 30 s"
	! grep -Eq '^(error|disconnected) ' "$HOLDER_LOG" || cycle_fail "$token: $(grep -E '^(error|disconnected) ' "$HOLDER_LOG" | head -n 3)"
	names=" $(words "$(t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.ListNames)") "
	for u in $(awk '$1 == "unique" {print $2}' "$HOLDER_INFO"); do
		[[ "$names" == *" $u "* ]] || cycle_fail "$token: the bus does not list the holder's connection $u"
	done
	while read -r _ name u; do
		owner=$(words "$(t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
			/org/freedesktop/DBus org.freedesktop.DBus.GetNameOwner "string:$name" 2>&1)")
		[ "$owner" = "$u" ] || cycle_fail "$token: $name is owned by '$owner', not $u"
	done < <(awk '$1 == "owner"' "$HOLDER_INFO")
}

# --- the container and its process ------------------------------------------------
cp "$BENCH_DIR/criu_holder.py" "$BENCH_DIR/criu_init.sh" "$CTR_DIR/"
criu_start_init "$CTR_DIR/criu_init.sh" "$CTR_DIR" "$n" "$named"
[ "$mode" = bus ] && ctr_bus_start "$CRIU_INIT"
wait_for_file "$HOLDER_INFO" '^ready$' 60 || cycle_fail "the holder was not ready within 60 s"
[ "$mode" = bus ] && [ "$(grep -c '^unique ' "$HOLDER_INFO")" != "$n" ] &&
	cycle_fail "the holder has $(grep -c '^unique ' "$HOLDER_INFO") connections, not $n"
holder_alive "$CRIU_INIT" "before the dump"
[ "$mode" = bus ] && holder_connections_work before-dump
log "$mode: the holder is ready ($n connections, $named owning a name)"

# --- dump -----------------------------------------------------------------------
t0=$EPOCHREALTIME
TMO=120 t criu dump -t "$CRIU_INIT" -D "$CRIU_IMG" -o dump.log -L "$CRIU_PLUGINS" \
	--external 'mnt[/run/dbus]:nsbus-bus' --external 'mnt[]'
rc=$?
t1=$EPOCHREALTIME
[ $rc = 0 ] || cycle_fail "criu dump exited $rc"
dump_ms=$(ms "$t0" "$t1")
expect_eq "connection images the plugin stored" "$(find "$CRIU_IMG" -name 'nsbus-sk-*.img' | wc -l)" "$n"
for i in $(seq 1 40); do
	kill -0 "$CRIU_INIT" 2>/dev/null || break
	sleep 0.05
done
! kill -0 "$CRIU_INIT" 2>/dev/null || cycle_fail "the dumped container is still running"
images_kib=$(du -sk "$CRIU_IMG" | awk '{print $1}')
# The same pause in both cases: the bus has seen its connections close and waits for the restore.
sleep 0.5
[ "$mode" = nobus ] || bus_alive || cycle_fail "the bus exited with its container"

# --- restore (as lib-criu.sh's criu_restore, timed) ---------------------------------
mount --bind "$CTR_RT/$CTR_NAME/bus" "$CRIU_BUSBIND" || fail "binding the bus directory at $CRIU_BUSBIND failed"
t0=$EPOCHREALTIME
TMO=120 t criu restore -D "$CRIU_IMG" -o restore.log -L "$CRIU_PLUGINS" -d --pidfile "$TMP/restored.pid" \
	--root "$CRIU_ROOT" --external "mnt[nsbus-bus]:$CRIU_BUSBIND" --ext-mount-map auto
rc=$?
t1=$EPOCHREALTIME
restore_ms=$(ms "$t0" "$t1")
[ -s "$TMP/restored.pid" ] && CRIU_RESTORED=$(cat "$TMP/restored.pid")
if [ -n "$CRIU_RESTORED" ]; then
	CTR_INITS+=("$CRIU_RESTORED")
	CTR_OWN_ROOT[$CRIU_RESTORED]=$CRIU_ROOT
fi
umount "$CRIU_BUSBIND"
[ $rc = 0 ] || cycle_fail "criu restore exited $rc"
[ -n "$CRIU_RESTORED" ] || cycle_fail "criu restore wrote no pid"
expect_eq "the restored init's pid inside" "$(ctr_nspid "$CRIU_RESTORED" 2)" 1

# No time for a restore that lost something: the process runs, and with the bus all N connections work.
holder_alive "$CRIU_RESTORED" "after the restore"
[ "$mode" = bus ] && holder_connections_work after-restore
log "$mode: dump $dump_ms ms, restore $restore_ms ms, images $images_kib KiB"
echo "dump_ms $dump_ms"
echo "restore_ms $restore_ms"
echo "images_kib $images_kib"
exit 0
