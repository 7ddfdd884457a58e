#!/bin/bash
# An LXC container configured only with examples/containers/lxc (busybox-container.sh: the offline busybox
# recipe plus one line, lxc.include of the installed nsbus.conf) gets its bus from the runtime hooks, in a
# privileged container and in an id-mapped one (lxc.idmap u/g 0 100000 65536):
#  - the bus accepts before the container's init runs: the container's first process is a script that
#    calls the bus before it execs busybox's init;
#  - a D-Bus client in the container's namespaces (python3-dbus, as the container's root, through
#    lxc-attach) reaches /run/dbus/system_bus_socket and is told its own pid and uid as the container sees
#    them, and pid 0 for the bus, which it cannot see;
#  - with /etc/nsbus/containers/NAME.policy (here the hooks' policy-dir) importing org.example.Host, it
#    calls that host service through the bridge, and the host service sees the container's root as the
#    host knows it (0 for the privileged container, 100000 for the id-mapped one);
#  - after lxc-stop, /run/nsbus/NAME is gone and no nsbusd, nsbridge or supervisor of it remains; ten
#    more start/stop cycles of the id-mapped container leave nothing behind either;
#  - a bus that cannot start (a policy that does not parse) makes lxc-start refuse the container, the
#    reason "nsbus-hook: <what>: <why>" is in the bus's log, and nothing is left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
. "$(dirname "$0")/lib-lxc.sh"
bridge_need
need busctl
hostbus_start
hostsvc_start org.example.Host
lxc_need
trap 'lxc_cleanup; ctr_cleanup; bridge_cleanup; cleanup; [ -z "${ctr_cleanup_failed:-}${bridge_cleanup_failed:-}" ] || exit 1' EXIT

# The client inside: its own credentials as the bus reports them, the bus's pid, and the host service's
# view of it through the bridge (once the bridge has imported the name).
client() {
	lxc_run "$1" /usr/bin/python3 - host <"$IT_DIR/runtime_client.py"
}

for mode in privileged id-mapped; do
	opts=(--host-tools)
	host_uid=0
	if [ "$mode" = id-mapped ]; then
		opts+=(--idmap)
		host_uid=100000
	fi
	lxc_make NAME "${opts[@]}"
	echo "import talk org.example.Host" >"$TMP/policies/$NAME.policy"
	# The container's first process calls the bus, then becomes busybox's init.
	rootfs=$(lxc-config lxc.lxcpath)/$NAME/rootfs
	cat >"$rootfs/sbin/first" <<-'EOF'
		#!/bin/sh
		busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId >/first.out 2>&1
		echo "status $?" >>/first.out
		exec /sbin/init "$@"
	EOF
	chmod 755 "$rootfs/sbin/first"
	[ "$mode" = id-mapped ] && chown 100000:100000 "$rootfs/sbin/first"
	echo "lxc.init.cmd = /sbin/first" >>"$(lxc-config lxc.lxcpath)/$NAME/config"

	lxc_start "$NAME"
	init=$(lxc_init "$NAME") || fail "$mode: lxc-info knows no init of $NAME"
	log "$mode: $NAME runs, init $init"
	for i in $(seq 1 50); do
		grep -q '^status' "$rootfs/first.out" 2>/dev/null && break
		sleep 0.1
	done
	expect_match "$mode: the bus answered the container's first process" "$(cat "$rootfs/first.out" 2>&1)" \
		'^s "[0-9a-f]{32}"$'
	expect_match "$mode: ... with status 0" "$(cat "$rootfs/first.out")" '^status 0$'

	out=$(client "$NAME" 2>"$TMP/client.err") || fail "$mode: the client in $NAME failed: $(cat "$TMP/client.err")"
	runtime_client_check "$mode" "$out" "$host_uid"

	# The admin's view from the host: the bus and its bridge, under the container's name.
	js=$(t "$LXC_PREFIX/bin/nsbusctl" ls "$NAME" --json=short) || fail "$mode: nsbusctl ls $NAME: $js"
	got=$("$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); print(j["init_pid"], j["bridge"])' "$js")
	expect_eq "$mode: nsbusctl ls shows the container's init and its bridge" "$got" "$init running"

	t lxc-stop -n "$NAME" || fail "$mode: lxc-stop $NAME failed"
	lxc_gone "$NAME"
done

# Ten more cycles of the id-mapped container (stopped hard: busybox's init takes 2 s to halt).
for i in $(seq 1 10); do
	lxc_start "$NAME"
	out=$(lxc_run "$NAME" busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		GetConnectionUnixUser s org.freedesktop.DBus 2>&1) || fail "cycle $i: busctl in $NAME: $out"
	t lxc-stop -n "$NAME" -k || fail "cycle $i: lxc-stop -k $NAME failed"
	lxc_gone "$NAME"
done
log "10 start/stop cycles of $NAME left nothing behind"

# A bus that cannot start: the runtime refuses the container, and says why.
lxc_make BAD --idmap
echo "import sideways org.example.Host" >"$TMP/policies/$BAD.policy"
NSBUS_CONFIG=$LXC_HOOK_CONF t lxc-start -n "$BAD" -d -o "$TMP/lxc.$BAD.log" -l INFO &&
	fail "lxc-start of $BAD, whose policy does not parse, succeeded"
state=$(t lxc-info -n "$BAD" -s -H)
expect_eq "a container whose bus cannot start is not running" "$state" "STOPPED"
expect_match "the hook's reason is in the bus's log" "$(cat "$TMP/lxclogs/$BAD.log")" \
	"^nsbus-hook: up $BAD: .*policy.*sideways"
expect_match "LXC says which hook failed" "$(cat "$TMP/lxc.$BAD.log")" "Failed to run lxc.hook.start-host"
lxc_gone "$BAD"
echo "$TEST_NAME: PASS"
