#!/bin/bash
# For an LXC container, its name is enough: `nsbusctl up NAME` without --pid asks liblxc for the
# container's init and runs the bus for it.  A privileged busybox container (SPEC.md's offline recipe:
# the busybox template, no network, unconfined) is created under LXC's default path with a name of
# this test's own, started, and brought up by name; ls shows the init pid lxc-info gives; a process in
# the container's pid namespace reaches the bus through the container's socket (a container without a
# user namespace admits its pid namespace); down stops it.  A name that is no LXC container and a
# stopped container are refused with the reason.  The container is stopped and destroyed at exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need lxc-create lxc-start lxc-stop lxc-destroy lxc-info busctl
is_reference_daemon && skip "container mode is nsbusd's"
[ "$(id -u)" = 0 ] || skip "LXC containers need root"
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"
[ -x /bin/busybox ] || skip "busybox-static not installed (the busybox template needs it)"
export NSBUS_NSBUSD=$NSBUSD
RT=$TMP/rt
LXC_NAME=nsbus-it-$$
ctl() { t "$NSBUSCTL" --runtime-dir="$RT" "$@"; }

lxc_cleanup() {
	[ -d "$RT/$LXC_NAME" ] && "$NSBUSCTL" --runtime-dir="$RT" down "$LXC_NAME" >/dev/null 2>&1
	lxc-stop -n "$LXC_NAME" -k >/dev/null 2>&1
	lxc-destroy -n "$LXC_NAME" >/dev/null 2>&1
	cleanup
}
trap lxc_cleanup EXIT

t lxc-create -n "$LXC_NAME" -t busybox >"$TMP/lxc-create.log" 2>&1 ||
	skip "lxc-create -t busybox failed here: $(tail -3 "$TMP/lxc-create.log")"
conf=$(lxc-config lxc.lxcpath)/$LXC_NAME/config
sed -i '/^lxc\.net\./d; /^lxc\.apparmor\./d' "$conf"
printf 'lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n' >>"$conf"

out=$(ctl up "$LXC_NAME" --log="$TMP/up.log" 2>&1) && fail "up of a stopped container succeeded: $out"
expect_match "up of a stopped container" "$out" "LXC container $LXC_NAME is not running"
out=$(ctl up "nsbus-it-none-$$" --log="$TMP/up.log" 2>&1) && fail "up of no container succeeded: $out"
expect_match "up of a name LXC does not know" "$out" "--pid=PID is required: nsbus-it-none-$$ is no LXC container"

t lxc-start -n "$LXC_NAME" -d -o "$TMP/lxc-start.log" || fail "lxc-start failed: $(tail -5 "$TMP/lxc-start.log")"
init=
for i in $(seq 1 100); do
	init=$(lxc-info -n "$LXC_NAME" -p -H 2>/dev/null) && [ -n "$init" ] && break
	sleep 0.1
done
[ -n "$init" ] || fail "the container did not start: $(tail -5 "$TMP/lxc-start.log")"

out=$(ctl up "$LXC_NAME" --log="$TMP/up.log" 2>"$TMP/up.err") || fail "nsbusctl up $LXC_NAME: $(cat "$TMP/up.err")"
expect_eq "up by name prints the socket" "$out" "$RT/$LXC_NAME/bus/system_bus_socket"
js=$(ctl ls "$LXC_NAME" --json=short) || fail "ls: $js"
got=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["init_pid"])' "$js")
expect_eq "the init pid up found" "$got" "$init"

# A process in the container's pid namespace (the host's busctl, entered with nsenter) is let in through
# the container's socket, and the bus, outside that namespace, is no process it can see: pid 0.
out=$(t nsenter -t "$init" -p -- busctl --address="unix:path=$RT/$LXC_NAME/bus/system_bus_socket" call \
	org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetConnectionUnixProcessID s \
	org.freedesktop.DBus 2>&1) || fail "busctl in the container's pid namespace: $out"
expect_eq "the bus's pid, seen from inside" "$out" "u 0"

ctl down "$LXC_NAME" || fail "nsbusctl down $LXC_NAME failed"
[ -e "$RT/$LXC_NAME" ] && fail "down left $RT/$LXC_NAME"
echo "$TEST_NAME: PASS"
