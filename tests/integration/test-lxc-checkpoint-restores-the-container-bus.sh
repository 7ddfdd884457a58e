#!/bin/bash
# lxc-checkpoint, LXC's own checkpoint tool, with nothing of nsbus's on its command line: the installed
# hooks (nsbus.conf) and CRIU plugin do it all. The container is examples/containers/lxc/busybox-container.sh
# --host-tools --checkpointable (its own pid, mount, network, ipc and uts namespaces), with a bridge policy
# importing the host's org.example.Host. Not id-mapped: lxc-checkpoint -r of an id-mapped container fails
# here with or without nsbus (LXC 5.0.2 and CRIU 4.1.1 cannot bind the host directories LXC binds into it
# again inside its user namespace: "Can't bind-mount ... usr/lib: Invalid argument", or open_tree EINVAL
# with mount-v2); nsbusctl checkpoint covers id-mapped containers. Inside, criu_peers.py's service owns org.nsbus.CriuTest and
# has a match rule on Ping, and a client has called its Slow method, which answers after 8 s.
#  - lxc-checkpoint -s while the call waits and Pings wait unread on the service's connection: the container
#    stops, and its bus stays for the restore (the post-stop hook leaves it; ls: checkpointed), keeping
#    both connections: the service still owns its name, and a Ping sent now waits for it;
#  - lxc-checkpoint -r: the container runs again, on the same bus: the client gets the reply to the call it
#    made before the dump, the service reads every unread Ping and the one sent while it was away once and
#    in order, owns its name under the
#    same unique name, and its rule delivers a Ping sent after; a new client inside calls it; the
#    supervisor learns the restored init from the bus (ls) and starts the bridge again, through which the
#    restored container reaches the host's service;
#  - lxc-stop of the restored container takes its bus away, as for any container.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
. "$(dirname "$0")/lib-lxc.sh"
bridge_need
need lxc-checkpoint dbus-send python3-dbus
command -v criu >/dev/null || skip "criu not installed (scripts/get-criu.sh installs CRIU 4.1)"
version=$(criu --version 2>/dev/null | sed -n 's/^Version: *//p')
[ -n "$version" ] && [ "$(printf '%s\n' 4.1 "$version" | sort -V | head -n 1)" = 4.1 ] ||
	skip "criu ${version:-of unknown version} is older than 4.1"
hostbus_start
hostsvc_start org.example.Host
lxc_need
[ -f "$LXC_PREFIX/lib/criu/nsbus-criu.so" ] || skip "the CRIU plugin was not built (no criu-plugin.h, or a sanitizer build)"
trap 'lxc_cleanup; ctr_cleanup; bridge_cleanup; cleanup; [ -z "${ctr_cleanup_failed:-}${bridge_cleanup_failed:-}" ] || exit 1' EXIT
# lxc-checkpoint runs criu with its own environment: the plugin of this build's install, not one of the
# machine's. (scripts/get-criu.sh's criu needs nothing else; another may need compel's syscall stepping.)
export CRIU_LIBS_DIR=$LXC_PREFIX/lib/criu CRIU_FAULT=130
NAME_SVC=org.nsbus.CriuTest
UNREAD=20

lxc_make NAME --host-tools --checkpointable
echo "import talk org.example.Host" >"$TMP/policies/$NAME.policy"
rootfs=$(lxc-config lxc.lxcpath)/$NAME/rootfs
install -m 0644 "$IT_DIR/criu_peers.py" "$rootfs/root/criu_peers.py"
# Processes of the container, children of its init (CRIU dumps the init's tree): double-forked from
# lxc-attach, with none of lxc-attach's descriptors (CRIU cannot dump a host file).
cat >"$rootfs/root/spawn.py" <<'EOF'
import os, sys
if os.fork():
    sys.exit(0)
os.setsid()
if os.fork():
    os._exit(0)
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(os.open('/dev/null', os.O_RDONLY), 0)
os.dup2(out, 1)
os.dup2(out, 2)
os.closerange(3, 65536)
os.execv('/usr/bin/python3', ['python3', '/root/criu_peers.py'] + sys.argv[2:])
EOF
BUS_ADDR=unix:path=/run/dbus/system_bus_socket
HOST_ADDR=unix:path=/run/nsbus/$NAME/host.sock
spawn() { lxc_run "$NAME" /usr/bin/python3 /root/spawn.py "$@" || fail "starting criu_peers.py $* in $NAME failed"; }
ping_service() {
	t dbus-send --bus="$HOST_ADDR" --type=signal /org/nsbus/CriuTest org.nsbus.CriuTest.Ping "string:$1" ||
		fail "sending Ping $1 failed"
}
owner() {
	words "$(t dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetNameOwner "string:$NAME_SVC" 2>&1)"
}
ls_state() {
	t "$LXC_PREFIX/bin/nsbusctl" ls "$NAME" --json=short | "$PY" -c \
		'import json, sys; j = json.load(sys.stdin); print(j["state"], j["init_pid"], j["bridge"])'
}
host_call() {
	lxc_run "$NAME" busctl --system call org.example.Host /org/example/Host org.example.Host Slow s via-bridge 2>&1
}
dump_errors() {
	grep -E "Error|nsbus-criu" "$TMP/img/$1.log" 2>/dev/null | tail -n 15 >&2
	tail -n 5 "$TMP/lxclogs/$NAME.log" "$rootfs/root/"*.log >&2
}

lxc_start "$NAME"
init=$(lxc_init "$NAME")
spawn /root/service.log service "$BUS_ADDR" "$NAME_SVC" /root/service.info
wait_for_file "$rootfs/root/service.info" '^unique=:' 20 || fail "the service did not start: $(cat "$rootfs/root/service.log")"
unique=$(kv unique "$(cat "$rootfs/root/service.info")")
expect_eq "the owner of $NAME_SVC, asked from the host" "$(owner)" "$unique"
ping_service before-dump
wait_for_file "$rootfs/root/service.log" '^signal Ping before-dump$' 10 || fail "the service got no Ping"
spawn /root/client.log client "$BUS_ADDR" "$NAME_SVC" before-dump
wait_for_file "$rootfs/root/service.log" '^got Slow before-dump$' 20 || fail "the client's call did not come"
for i in $(seq 1 "$UNREAD"); do ping_service "during-dump-$i"; done
for i in $(seq 1 50); do [ "$(ls_state)" = "up $init running" ] && break; sleep 0.1; done
expect_eq "ls before the checkpoint" "$(ls_state)" "up $init running"
expect_eq "the container reaches the host's service through the bridge" "$(host_call)" \
	's "via-bridge"'

mkdir -m 0711 "$TMP/img"
TMO=120 t lxc-checkpoint -n "$NAME" -s -v -D "$TMP/img" -o "$TMP/lxc-ck.log" -l INFO || {
	dump_errors dump
	fail "lxc-checkpoint -s failed: $(grep ERROR "$TMP/lxc-ck.log" | tail -n 3)"
}
[ ! -s "$rootfs/root/client.log" ] && ! grep -q 'signal Ping during-dump-' "$rootfs/root/service.log" ||
	fail "the service answered before the dump: this machine took more than 8 s to get there"
expect_eq "connection images the plugin stored (service and client)" \
	"$(find "$TMP/img" -name 'nsbus-sk-*.img' | wc -l)" 2
expect_match "the plugin asked for both at once" "$(cat "$TMP/img/dump.log")" \
	"nsbus-criu: ExportAll on /run/nsbus/$NAME/host.sock: 2 connections"
expect_eq "the container after lxc-checkpoint -s" "$(t lxc-info -n "$NAME" -s -H)" STOPPED
for i in $(seq 1 50); do [ "$(ls_state)" = "checkpointed $init stopped" ] && break; sleep 0.1; done
expect_eq "ls: the bus waits for the restore" "$(ls_state)" "checkpointed $init stopped"
expect_match "the hook says why the bus stays" "$(cat "$TMP/lxclogs/$NAME.log")" \
	"nsbus-hook: $NAME: checkpointed: its bus stays for the restore"
expect_eq "connections the bus kept for the restore" \
	"$(grep -c 'checkpoint: :[0-9.]* closed after its export: kept for the restore' "$TMP/lxclogs/$NAME.log")" 2
# The service keeps its name while its container is away, and a signal sent now waits for it.
expect_eq "the owner of $NAME_SVC while the container is checkpointed" "$(owner)" "$unique"
ping_service while-checkpointed

TMO=120 t lxc-checkpoint -n "$NAME" -r -v -D "$TMP/img" -o "$TMP/lxc-rs.log" -l INFO || {
	dump_errors restore
	fail "lxc-checkpoint -r failed: $(grep ERROR "$TMP/lxc-rs.log" | tail -n 3)"
}
restored=$(lxc_init "$NAME")
[ -n "$restored" ] && [ "$restored" != "$init" ] || fail "lxc-info names no new init after the restore ($restored)"
expect_eq "connections the plugin resumed" \
	"$(grep -c 'nsbus-criu: socket [0-9]*: connection :[0-9.]* resumed' "$TMP/img/restore.log")" 2
wait_for_file "$rootfs/root/client.log" '^(reply|error) ' 30 || fail "the client got no answer after the restore"
expect_eq "the answer to the call made before the dump" "$(cat "$rootfs/root/client.log")" "reply slow:before-dump"
wait_for_file "$rootfs/root/service.log" "^signal Ping during-dump-$UNREAD\$" 10 ||
	fail "the restored service did not read the Pings that were unread at the dump"
expect_eq "the owner of $NAME_SVC after the restore" "$(owner)" "$unique"
ping_service after-restore
wait_for_file "$rootfs/root/service.log" '^signal Ping after-restore$' 10 ||
	fail "the restored service's match rule did not deliver a Ping sent after the restore"
expect_eq "what the service saw, in order, once each" "$(cat "$rootfs/root/service.log")" "signal Ping before-dump
got Slow before-dump
$(for i in $(seq 1 "$UNREAD"); do echo "signal Ping during-dump-$i"; done)
signal Ping while-checkpointed
signal Ping after-restore"
out=$(lxc_run "$NAME" /usr/bin/python3 /root/criu_peers.py call "$BUS_ADDR" "$NAME_SVC" after-restore 2>&1)
expect_eq "a new client's call inside the restored container" "$out" "reply echo:after-restore"
for i in $(seq 1 50); do [ "$(ls_state)" = "up $restored running" ] && break; sleep 0.1; done
expect_eq "ls: the supervisor took the restored init and started the bridge again" "$(ls_state)" \
	"up $restored running"
for i in $(seq 1 50); do
	out=$(host_call)
	[ "$out" = 's "via-bridge"' ] && break
	sleep 0.1
done
expect_eq "the restored container reaches the host's service through the new bridge" "$out" \
	's "via-bridge"'

t lxc-stop -n "$NAME" -k || fail "lxc-stop of the restored container failed"
lxc_gone "$NAME"
echo "$TEST_NAME: PASS"
