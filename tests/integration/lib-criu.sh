# Checkpoint and restore of a container with its bus connections, with real CRIU and the nsbus plugin
# (criu/nsbus-criu.so, docs/checkpoint.md); sourced after lib-container.sh by test-criu-*.
#
# The container: user, pid and mount namespaces (map 0 100000 65536) with a root of its own, the host's
# programs bound in, and the bus at /run/dbus. Its init is criu_container_init.sh, pid 1 of a pid namespace
# made inside nsrun's (unshare --pid --fork): CRIU dumps a tree from the init of its pid namespace and
# only what the tree itself mapped, and nsrun's init, a fork of a host program, is not dumpable. The init
# is session leader and runs criu_peers.py: a service that owns org.nsbus.CriuTest and has a match rule on
# the signal Ping, and a client that calls the service's Slow method, which answers after 8 s and reads
# nothing meanwhile.
#
# criu_start_container starts all that with its bus, and leaves the client's call waiting and a Ping sent
# from the host unread on the service's connection; criu_dump dumps the container then (the plugin saves
# each connection with the bus, CRIU kills the tree); criu_restore restores it (the plugin prepares the
# connections on the bus, and each restored process resumes its own); criu_check_restored checks that
# nothing was lost.

CRIU_NAME=org.nsbus.CriuTest
CRIU_IMG=$TMP/images
CRIU_BUSBIND=$TMP/criu-bus
CRIU_PLUGINS=$TMP/criu-plugins
CRIU_ROOT=$TMP/rootfs
CRIU_INIT=     # the dumped container's init, a host pid
CRIU_UNIQUE=   # the service's unique name
CRIU_RESTORED= # the restored container's init, a host pid
CRIU_UNREAD=20 # signals sent to the service while it does not read: all must come after the restore, in order

criu_cleanup() {
	mountpoint -q "$CRIU_BUSBIND" && umount "$CRIU_BUSBIND"
}
trap 'criu_cleanup; ctr_cleanup; cleanup; [ -z "${ctr_cleanup_failed:-}" ] || exit 1' EXIT

# Skip unless this machine can make containers and has a CRIU >= 4.1 that works on its kernel (Debian
# 12's 3.17 does not: scripts/get-criu.sh), and the plugin was built.
criu_need() {
	local version out
	need dbus-send python3-dbus unshare setsid mount umount mountpoint
	ctr_need
	command -v criu >/dev/null || skip "criu not installed (scripts/get-criu.sh installs CRIU 4.1)"
	version=$(criu --version 2>/dev/null | sed -n 's/^Version: *//p')
	[ -n "$version" ] && [ "$(printf '%s\n' 4.1 "$version" | sort -V | head -n 1)" = 4.1 ] ||
		skip "criu ${version:-of unknown version} is older than 4.1"
	out=$(TMO=60 t criu check 2>&1) || skip "criu check fails here: $(tail -n 3 <<<"$out")"
	# ctest sets NSBUS_CRIU_PLUGIN, empty when the plugin was not built; by hand from a build tree, the
	# plugin is next to nsbusd's directory.
	[ -n "${NSBUS_CRIU_PLUGIN+set}" ] || NSBUS_CRIU_PLUGIN=$(dirname "$NSBUSD")/../criu/nsbus-criu.so
	[ -n "$NSBUS_CRIU_PLUGIN" ] && [ -f "$NSBUS_CRIU_PLUGIN" ] ||
		skip "the CRIU plugin was not built (no criu-plugin.h, or a sanitizer build)"
	# CRIU loads every *.so of the directory -L names: this one has ours only.
	mkdir -p "$CRIU_PLUGINS" "$CRIU_IMG" "$CRIU_BUSBIND"
	ln -s "$(realpath "$NSBUS_CRIU_PLUGIN")" "$CRIU_PLUGINS/nsbus-criu.so"
	# compel stops a task leaving the parasite at a hardware breakpoint; on some virtual machines
	# (Firecracker, where this was written) it never fires and the dump waits forever. Fault 130
	# (FI_NO_BREAKPOINTS) makes it step there with PTRACE_SYSCALL instead, which works everywhere.
	export CRIU_FAULT=130
}

# criu_fail WHY: what CRIU, the plugin and the peers said, then fail.
criu_fail() {
	local f
	for f in "$CRIU_IMG/dump.log" "$CRIU_IMG/restore.log"; do
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

# The owner of the service's name, asked from the host (DBUS_SESSION_BUS_ADDRESS is the bus's host.sock).
criu_owner() {
	words "$(t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetNameOwner "string:$CRIU_NAME" 2>&1)"
}

# criu_ping ARG: the signal Ping(ARG), sent from the host.
criu_ping() {
	t dbus-send --session --type=signal /org/nsbus/CriuTest org.nsbus.CriuTest.Ping "string:$1" ||
		criu_fail "sending Ping $1 from the host failed"
}

# criu_start_init SCRIPT ARGS...: the container (lib-criu's root, namespaces and binds) with bash SCRIPT
# ARGS as pid 1 of a pid namespace made inside nsrun's; sets CRIU_INIT to its host pid.
criu_start_init() {
	local outer i
	ctr_rootfs "$CRIU_ROOT"
	ctr_start_rootfs outer "$CRIU_ROOT" -- unshare --pid --fork env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/ PYTHONDONTWRITEBYTECODE=1 bash "$@"
	# CRIU dumps the inner pid namespace's init, a child of unshare, itself a child of nsrun's init.
	for i in $(seq 1 100); do
		CRIU_INIT=$(pgrep -P "$(pgrep -P "$outer" | head -n 1)" 2>/dev/null | head -n 1)
		[ -n "$CRIU_INIT" ] && [ "$(ctr_nspid "$CRIU_INIT" 3)" = 1 ] && break
		CRIU_INIT=
		sleep 0.05
	done
	[ -n "$CRIU_INIT" ] || fail "the container's inner init did not start: $(cat "$TMP/nsrun$CTR_N.err")"
	CTR_OWN_ROOT[$CRIU_INIT]=$CRIU_ROOT
	log "the container's init: host pid $CRIU_INIT (pid 1 of a pid namespace inside nsrun's init $outer)"
}

# Start the container and its bus ($CRIU_BUS_START INIT: ctr_bus_start by default); return once the client's
# call waits and Ping(during-dump-1) ... Ping(during-dump-$CRIU_UNREAD) are unread.
criu_start_container() {
	local i
	criu_start_init "$IT_DIR/criu_container_init.sh" "$CTR_DIR" "$IT_DIR" "$CRIU_NAME"

	"${CRIU_BUS_START:-ctr_bus_start}" "$CRIU_INIT"
	wait_for_file "$CTR_DIR/service.info" '^unique=:' 20 || criu_fail "the service did not start"
	CRIU_UNIQUE=$(kv unique "$(cat "$CTR_DIR/service.info")")
	expect_eq "the owner of $CRIU_NAME, asked from the host" "$(criu_owner)" "$CRIU_UNIQUE"
	criu_ping before-dump
	wait_for_file "$CTR_DIR/service.log" '^signal Ping before-dump$' 10 ||
		criu_fail "the service did not get the signal Ping before the dump"
	# The client only now: the service must not be busy with its call when Ping comes.
	touch "$CTR_DIR/start-client"
	wait_for_file "$CTR_DIR/service.log" '^got Slow before-dump$' 20 ||
		criu_fail "the client's call did not come"
	for i in $(seq 1 "$CRIU_UNREAD"); do
		criu_ping "during-dump-$i"
	done
	log "the service is $CRIU_UNIQUE; the client's call waits for its answer, Ping waits to be read"
}

# Dump the container while the call waits. The bind of the bus directory at /run/dbus is external,
# named for criu_restore; the host's directories bound in are too (found by CRIU).
criu_dump() {
	local i
	TMO=120 t criu dump -t "$CRIU_INIT" -D "$CRIU_IMG" -o dump.log -v4 -L "$CRIU_PLUGINS" \
		--external 'mnt[/run/dbus]:nsbus-bus' --external 'mnt[]' ||
		criu_fail "criu dump failed"
	[ ! -s "$CTR_DIR/client.log" ] && ! grep -q 'signal Ping during-dump-' "$CTR_DIR/service.log" ||
		criu_fail "the service answered before the dump: this machine took more than 8 s to get there"
	expect_eq "connection images the plugin stored (service and client)" \
		"$(find "$CRIU_IMG" -name 'nsbus-sk-*.img' | wc -l)" 2
	grep -q "nsbus-criu: socket [0-9]*: saved connection $CRIU_UNIQUE " "$CRIU_IMG/dump.log" ||
		criu_fail "the dump log does not say that the service's connection $CRIU_UNIQUE was saved"
	for i in $(seq 1 40); do
		kill -0 "$CRIU_INIT" 2>/dev/null || break
		sleep 0.05
	done
	! kill -0 "$CRIU_INIT" 2>/dev/null || criu_fail "the dumped container is still running"
	log "dumped"
}

# criu_restore BUSDIR: restore the container with BUSDIR (a host directory with the bus's
# system_bus_socket) at /run/dbus. CRIU mounts an external source from inside the restored user namespace,
# as the container's root, who may not enter a bus's runtime directory (root's, 0700): it gets BUSDIR
# through a bind where it may.
criu_restore() {
	local rc
	mount --bind "$1" "$CRIU_BUSBIND" || fail "binding $1 at $CRIU_BUSBIND failed"
	TMO=120 t criu restore -D "$CRIU_IMG" -o restore.log -v4 -L "$CRIU_PLUGINS" -d \
		--pidfile "$TMP/restored.pid" --root "$CRIU_ROOT" --external "mnt[nsbus-bus]:$CRIU_BUSBIND" \
		--ext-mount-map auto
	rc=$?
	[ -s "$TMP/restored.pid" ] && CRIU_RESTORED=$(cat "$TMP/restored.pid")
	if [ -n "$CRIU_RESTORED" ]; then
		CTR_INITS+=("$CRIU_RESTORED")
		CTR_OWN_ROOT[$CRIU_RESTORED]=$CRIU_ROOT
	fi
	umount "$CRIU_BUSBIND"
	[ "$rc" = 0 ] || criu_fail "criu restore failed"
	[ -n "$CRIU_RESTORED" ] || criu_fail "criu restore wrote no pid"
	expect_eq "the restored init's pid inside" "$(ctr_nspid "$CRIU_RESTORED" 2)" 1
	expect_eq "connections the plugin resumed" \
		"$(grep -c 'nsbus-criu: socket [0-9]*: connection :[0-9.]* resumed' "$CRIU_IMG/restore.log")" 2
	log "restored: init host pid $CRIU_RESTORED"
}

# Nothing was lost: the client gets the answer to its call; the service gets the signal that was unread
# at the dump (so the plugin left the bytes behind Resume's answer to the process), still owns its name
# under the same unique name, and a signal sent after the restore reaches it through its match rule; a
# new client inside can call it.
criu_check_restored() {
	local out
	wait_for_file "$CTR_DIR/client.log" '^(reply|error) ' 30 || criu_fail "the client got no answer after the restore"
	expect_eq "the answer to the call made before the dump" "$(cat "$CTR_DIR/client.log")" \
		"reply slow:before-dump"
	wait_for_file "$CTR_DIR/service.log" "^signal Ping during-dump-$CRIU_UNREAD\$" 10 ||
		criu_fail "the restored service did not get the signal Ping that was unread at the dump"
	expect_eq "the owner of $CRIU_NAME after the restore, asked from the host" "$(criu_owner)" "$CRIU_UNIQUE"
	criu_ping after-restore
	wait_for_file "$CTR_DIR/service.log" '^signal Ping after-restore$' 10 ||
		criu_fail "the restored service did not get the signal Ping sent after the restore"
	expect_eq "what the service saw, in order" "$(cat "$CTR_DIR/service.log")" "signal Ping before-dump
got Slow before-dump
$(for i in $(seq 1 "$CRIU_UNREAD"); do echo "signal Ping during-dump-$i"; done)
signal Ping after-restore"
	out=$(ctr_exec "$CRIU_RESTORED" 0 0 /usr/bin/python3 "$IT_DIR/criu_peers.py" call "$CTR_ADDR" "$CRIU_NAME" \
		after-restore 2>&1)
	expect_eq "a new client's call inside the restored container" "$out" "reply echo:after-restore"
}
