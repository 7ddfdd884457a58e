#!/bin/bash
# CRIU checkpoints a container with its bus connections and restores it onto the same bus, with the
# nsbus plugin (criu/nsbus-criu.so, docs/checkpoint.md).
#
# The container: user, pid and mount namespaces (map 0 100000 65536) with a root of its own, the host's
# programs bound in, and the bus at /run/dbus. Its init is a shell that is session leader and exec'd
# inside, since CRIU dumps a tree from the init of its pid namespace and only what the tree itself
# mapped: nsrun's init, a fork of a host program, is not dumpable, so the init is pid 1 of a pid
# namespace made inside nsrun's (unshare --pid --fork), criu_container_init.sh. It runs criu_peers.py: a service that owns
# org.nsbus.CriuTest and has a match rule on the signal Ping, and a client that calls the service's
# Slow method, which answers after 8 s and reads nothing meanwhile.
#
# While that call waits, the host sends Ping, which stays unread on the service's connection, and
# `criu dump` saves the container (the plugin saves each connection with the bus) and kills it; the bus
# waits for the restore. `criu restore` brings it back (the plugin prepares the connections on the bus,
# and each restored process resumes its own). Then: the client gets the answer to the call it made
# before the dump; the service gets the signal that was unread at the dump (so the plugin left the bytes
# behind Resume's answer to the process), still owns its name under the same unique name (asked of the
# bus from the host), and a signal sent from the host after the restore reaches it through its match
# rule; and a new client inside can call it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send python3-dbus unshare setsid mount umount
ctr_need

# CRIU >= 4.1 that works on this kernel (Debian 12's 3.17 does not: scripts/get-criu.sh), and the plugin.
command -v criu >/dev/null || skip "criu not installed (scripts/get-criu.sh installs CRIU 4.1)"
criu_version=$(criu --version 2>/dev/null | sed -n 's/^Version: *//p')
[ -n "$criu_version" ] && [ "$(printf '%s\n' 4.1 "$criu_version" | sort -V | head -n 1)" = 4.1 ] ||
	skip "criu ${criu_version:-of unknown version} is older than 4.1"
out=$(TMO=60 t criu check 2>&1) || skip "criu check fails here: $(tail -n 3 <<<"$out")"
# ctest sets NSBUS_CRIU_PLUGIN, empty when the plugin was not built; by hand from a build tree, the plugin
# is next to nsbusd's directory.
[ -n "${NSBUS_CRIU_PLUGIN+set}" ] || NSBUS_CRIU_PLUGIN=$(dirname "$NSBUSD")/../criu/nsbus-criu.so
[ -n "$NSBUS_CRIU_PLUGIN" ] && [ -f "$NSBUS_CRIU_PLUGIN" ] ||
	skip "the CRIU plugin was not built (no criu-plugin.h, or a sanitizer build)"
# CRIU loads every *.so of the directory -L names: this one has ours only.
PLUGINS=$TMP/criu-plugins
mkdir -p "$PLUGINS"
ln -s "$(realpath "$NSBUS_CRIU_PLUGIN")" "$PLUGINS/nsbus-criu.so"

# compel stops a task leaving the parasite at a hardware breakpoint; on some virtual machines
# (Firecracker, where this was written) it never fires and the dump waits forever. Fault 130
# (FI_NO_BREAKPOINTS) makes it step there with PTRACE_SYSCALL instead, which works everywhere.
export CRIU_FAULT=130

NAME=org.nsbus.CriuTest
IMG=$TMP/images
BUSBIND=$TMP/criu-bus
RESTORED=
mkdir -p "$IMG" "$BUSBIND"

criu_cleanup() {
	mountpoint -q "$BUSBIND" && umount "$BUSBIND"
}
trap 'criu_cleanup; ctr_cleanup; cleanup; [ -z "${ctr_cleanup_failed:-}" ] || exit 1' EXIT

# What CRIU, the plugin and the peers said, then fail.
criu_fail() {
	local f
	for f in "$IMG/dump.log" "$IMG/restore.log"; do
		[ -f "$f" ] || continue
		echo "--- errors and plugin lines of $f ---" >&2
		grep -E "Error|nsbus-criu" "$f" | tail -n 20 >&2
	done
	for f in "$CTR_DIR"/{init,service,client}.log; do
		[ -f "$f" ] || continue
		echo "--- $f ---" >&2
		tail -n 10 "$f" >&2
	done
	fail "$@"
}

ROOT=$TMP/rootfs
ctr_rootfs "$ROOT"
ctr_start_rootfs OUTER "$ROOT" -- unshare --pid --fork env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ \
	PYTHONDONTWRITEBYTECODE=1 bash "$IT_DIR/criu_container_init.sh" "$CTR_DIR" "$IT_DIR" "$NAME"
INIT=
for i in $(seq 1 100); do
	INIT=$(pgrep -P "$(pgrep -P "$OUTER" | head -n 1)" 2>/dev/null | head -n 1)
	[ -n "$INIT" ] && [ "$(ctr_nspid "$INIT" 3)" = 1 ] && break
	INIT=
	sleep 0.05
done
[ -n "$INIT" ] || fail "the container's inner init did not start: $(cat "$TMP/nsrun$CTR_N.err")"
CTR_OWN_ROOT[$INIT]=$ROOT
log "the container's init: host pid $INIT (pid 1 of a pid namespace inside nsrun's init $OUTER)"

ctr_bus_start "$INIT"
wait_for_file "$CTR_DIR/service.info" '^unique=:' 20 || criu_fail "the service did not start"
UNIQUE=$(kv unique "$(cat "$CTR_DIR/service.info")")
owner() {
	words "$(t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetNameOwner "string:$NAME" 2>&1)"
}
expect_eq "the owner of $NAME, asked from the host" "$(owner)" "$UNIQUE"
ping() {
	t dbus-send --session --type=signal /org/nsbus/CriuTest org.nsbus.CriuTest.Ping "string:$1" ||
		criu_fail "sending Ping $1 from the host failed"
}
ping before-dump
wait_for_file "$CTR_DIR/service.log" '^signal Ping before-dump$' 10 ||
	criu_fail "the service did not get the signal Ping before the dump"
# The client only now: the service must not be busy with its call when Ping comes.
touch "$CTR_DIR/start-client"
wait_for_file "$CTR_DIR/service.log" '^got Slow before-dump$' 20 || criu_fail "the client's call did not come"
ping during-dump
log "the service is $UNIQUE; the client's call waits for its answer, Ping waits to be read: dump"

# Dump while the call waits. The bind of the bus directory at /run/dbus is external (named, for the
# restore below); the host's directories bound in are too (found by CRIU).
TMO=120 t criu dump -t "$INIT" -D "$IMG" -o dump.log -v4 -L "$PLUGINS" \
	--external 'mnt[/run/dbus]:nsbus-bus' --external 'mnt[]' ||
	criu_fail "criu dump failed"
[ ! -s "$CTR_DIR/client.log" ] && ! grep -q 'signal Ping during-dump' "$CTR_DIR/service.log" ||
	criu_fail "the service answered before the dump: this machine took more than 8 s to get there"
n_images=$(find "$IMG" -name 'nsbus-sk-*.img' | wc -l)
expect_eq "connection images the plugin stored (service and client)" "$n_images" 2
grep -q "nsbus-criu: socket [0-9]*: saved connection $UNIQUE " "$IMG/dump.log" ||
	criu_fail "the dump log does not say that the service's connection $UNIQUE was saved"
for i in $(seq 1 40); do
	kill -0 "$INIT" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$INIT" 2>/dev/null && criu_fail "the dumped container is still running"
sleep 0.5
bus_alive || criu_fail "the bus exited with its container, though its connections were exported"

# Restore. CRIU mounts an external source from inside the restored user namespace, as the container's
# root, which may not enter the bus's runtime directory (root's, 0700): it gets the bus directory
# through a bind where it may.
mount --bind "$CTR_RT/$CTR_NAME/bus" "$BUSBIND" || fail "binding the bus directory at $BUSBIND failed"
TMO=120 t criu restore -D "$IMG" -o restore.log -v4 -L "$PLUGINS" -d --pidfile "$TMP/restored.pid" \
	--root "$ROOT" --external "mnt[nsbus-bus]:$BUSBIND" --ext-mount-map auto
rc=$?
[ -s "$TMP/restored.pid" ] && RESTORED=$(cat "$TMP/restored.pid")
if [ -n "$RESTORED" ]; then
	CTR_INITS+=("$RESTORED")
	CTR_OWN_ROOT[$RESTORED]=$ROOT
fi
umount "$BUSBIND"
[ "$rc" = 0 ] || criu_fail "criu restore failed"
[ -n "$RESTORED" ] || criu_fail "criu restore wrote no pid"
expect_eq "the restored init's pid inside" "$(ctr_nspid "$RESTORED" 2)" 1
expect_eq "connections the plugin resumed" "$(grep -c 'nsbus-criu: socket [0-9]*: connection :[0-9.]* resumed' \
	"$IMG/restore.log")" 2
log "restored: init host pid $RESTORED"

wait_for_file "$CTR_DIR/client.log" '^(reply|error) ' 30 || criu_fail "the client got no answer after the restore"
expect_eq "the answer to the call made before the dump" "$(cat "$CTR_DIR/client.log")" "reply slow:before-dump"
wait_for_file "$CTR_DIR/service.log" '^signal Ping during-dump$' 10 ||
	criu_fail "the restored service did not get the signal Ping that was unread at the dump"
expect_eq "the owner of $NAME after the restore, asked from the host" "$(owner)" "$UNIQUE"
ping after-restore
wait_for_file "$CTR_DIR/service.log" '^signal Ping after-restore$' 10 ||
	criu_fail "the restored service did not get the signal Ping sent after the restore"
expect_eq "what the service saw, in order" "$(cat "$CTR_DIR/service.log")" "signal Ping before-dump
got Slow before-dump
signal Ping during-dump
signal Ping after-restore"
out=$(ctr_exec "$RESTORED" 0 0 /usr/bin/python3 "$IT_DIR/criu_peers.py" call "$CTR_ADDR" "$NAME" after-restore 2>&1)
expect_eq "a new client's call inside the restored container" "$out" "reply echo:after-restore"
pass
