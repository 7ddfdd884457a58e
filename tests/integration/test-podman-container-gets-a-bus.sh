#!/bin/bash
# podman with examples/containers/podman/nsbus.json (the installed copy) in its hooks directory gives a
# container started with --annotation org.nsbus.bus=yes its bus, with and without a user namespace: a
# client inside reaches /run/dbus/system_bus_socket and sees its own pid and uid as the container does;
# a container without the annotation gets no bus; after podman stop and rm, /run/nsbus/ID is gone and no
# process of the bus remains.
#
# How podman 4.3 runs here (measured): like crun (lib-oci.sh), in a private mount namespace with a pure
# cgroup2 at /sys/fs/cgroup and without cgroups; and with default_ulimits lowered below the hard limits,
# because this sandbox lacks CAP_SYS_RESOURCE and crun would otherwise fail setrlimit(RLIMIT_NOFILE) with
# EPERM. Its storage is the test's own (--root, --runroot); the image is the busybox rootfs of lib-oci.sh,
# imported offline. podman reads hooks from --hooks-dir; the hook gets NSBUS_CONFIG from the "env" of the
# copy of nsbus.json the test puts there. podman runs poststop itself, at stop.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-oci.sh"
is_reference_daemon && skip "the runtime hooks run nsbusd; $NSBUSD is the reference daemon"
need podman
oci_need
PREFIX=$TMP/prefix
install_prefix "$PREFIX"
PM=$TMP/podman
mkdir -p "$PM/hooks.d" "$TMP/hooklogs" "$TMP/policies"
cat >"$PM/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=1000:1000"]
cgroups = "disabled"
netns = "none"
EOF
cat >"$TMP/nsbus.conf" <<EOF
policy-dir = $TMP/policies
log-dir = $TMP/hooklogs
EOF
"$PY" - "$PREFIX/share/nsbus/podman/nsbus.json" "$PM/hooks.d/nsbus.json" "$TMP/nsbus.conf" <<'PY' ||
import json, sys
h = json.load(open(sys.argv[1]))
h['hook']['env'] = ['NSBUS_CONFIG=' + sys.argv[3]]
json.dump(h, open(sys.argv[2], 'w'))
PY
	fail "cannot copy the installed nsbus.json"

pm() {
	CONTAINERS_CONF=$PM/containers.conf TMO=${TMO:-60} t unshare -m --propagation private sh -c \
		'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"' sh \
		podman --root "$PM/root" --runroot "$PM/runroot" --hooks-dir "$PM/hooks.d" "$@"
}
PM_NAMES=()
pm_cleanup() {
	local n
	for n in "${PM_NAMES[@]}"; do
		pm rm -f -t 0 "$n" >>"$PM/cleanup.log" 2>&1
	done
	pm system reset -f >>"$PM/cleanup.log" 2>&1
}
trap 'pm_cleanup; oci_cleanup; cleanup; [ -z "${oci_cleanup_failed:-}" ] || exit 1' EXIT

[ -d "$OCI_DIR/rootfs.template" ] || oci_rootfs_template
tar -C "$OCI_DIR/rootfs.template" -cf "$PM/busybox.tar" . || fail "cannot pack the busybox rootfs"
out=$(pm import "$PM/busybox.tar" localhost/nsbus-it-busybox:test 2>&1) || skip "podman import failed here: $out"
IMAGE=localhost/nsbus-it-busybox:test
LOOP='trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'

# pm_run NAME ARGS...: podman run -d (its output to a file: the container may hold what it inherits).
pm_run() {
	local name=$1
	shift
	PM_NAMES+=("$name")
	pm run -d --name "$name" "$@" "$IMAGE" sh -c "$LOOP" >"$PM/$name.out" 2>&1
}

# A container without the annotation: no bus.
pm_run "plain-$$" || skip "podman cannot run a container here: $(tail -3 "$PM/plain-$$.out")"
id=$(pm inspect --format '{{.Id}}' "plain-$$") || fail "podman inspect plain-$$"
[ -e "/run/nsbus/$id" ] && fail "a container without org.nsbus.bus got a bus"
pm rm -f -t 0 "plain-$$" >/dev/null 2>&1

for mode in plain userns; do
	name=$mode-bus-$$
	opts=(--annotation org.nsbus.bus=yes -v /usr:/usr:ro)
	[ "$mode" = userns ] && opts+=(--uidmap 0:100000:65536 --gidmap 0:100000:65536)
	pm_run "$name" "${opts[@]}" || fail "$mode: podman run: $(tail -5 "$PM/$name.out")"
	id=$(pm inspect --format '{{.Id}}' "$name") || fail "$mode: podman inspect $name"
	[ -S "/run/nsbus/$id/bus/system_bus_socket" ] ||
		fail "$mode: no bus at /run/nsbus/$id: $(tail -3 "$TMP/hooklogs/$id.log" 2>/dev/null)"
	out=$(pm exec -i "$name" /usr/bin/python3 - <"$IT_DIR/runtime_client.py" 2>"$TMP/client.err") ||
		fail "$mode: the client in $name failed: $(cat "$TMP/client.err")"
	runtime_client_check "$mode" "$out"
	pm stop -t 2 "$name" >/dev/null 2>&1 || fail "$mode: podman stop $name"
	pm rm "$name" >/dev/null 2>&1 || fail "$mode: podman rm $name"
	container_bus_gone "$id"
done
echo "$TEST_NAME: PASS"
