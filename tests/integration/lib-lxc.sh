# LXC containers with nsbus enabled as an admin enables it, sourced after lib.sh (and lib-bridge.sh when
# the test needs a host bus): the build is installed into $TMP/prefix with `cmake --install --prefix`,
# and each container is made by that install's examples/containers/lxc/busybox-container.sh, whose one
# nsbus line is `lxc.include = $TMP/prefix/share/nsbus/lxc/nsbus.conf`. So the hooks that run are the
# installed nsbus-hook, which finds the installed nsbusd and nsbridge next to it.
#
# The hook's settings come from $LXC_HOOK_CONF (NSBUS_CONFIG in lxc-start's environment, which LXC's
# hooks inherit): logs under $TMP/lxclogs, policies in $TMP/policies, the host bus $HOSTBUS_ADDR if
# lib-bridge.sh started one. The bus directory is the real /run/nsbus/NAME: the test checks that it
# goes. Containers are named nsbus-it-<pid>-<n> and are stopped and destroyed at exit (a bus left by
# one is brought down by name).

LXC_PREFIX=$TMP/prefix
LXC_HOOK_CONF=$TMP/nsbus.conf
LXC_NAMES=()
LXC_N=0

lxc_need() {
	is_reference_daemon && skip "the runtime hooks run nsbusd; $NSBUSD is the reference daemon"
	[ "$(id -u)" = 0 ] || skip "LXC containers need root"
	need lxc-create lxc-start lxc-stop lxc-destroy lxc-attach lxc-info
	[ -x /bin/busybox ] || skip "busybox-static not installed (the busybox template needs it)"
	install_prefix "$LXC_PREFIX"
	mkdir -p "$TMP/policies" "$TMP/lxclogs"
	{
		echo "log-dir = $TMP/lxclogs"
		echo "policy-dir = $TMP/policies"
		# The test's host bus lets the container's root in by a passwd copy of its own (lib-bridge.sh).
		echo "add-user = no"
		[ -n "${HOSTBUS_ADDR:-}" ] && echo "host-bus = $HOSTBUS_ADDR"
	} >"$LXC_HOOK_CONF"
}

# lxc_make VAR [busybox-container.sh options]: a new container, its name in VAR.
lxc_make() {
	local var=$1 name
	shift
	LXC_N=$((LXC_N + 1))
	name=nsbus-it-$$-$LXC_N
	LXC_NAMES+=("$name")
	t "$LXC_PREFIX/share/nsbus/examples/containers/lxc/busybox-container.sh" "$@" "$name" \
		>"$TMP/lxc-create.$name.log" 2>&1 || fail "busybox-container.sh $* $name: $(tail -5 "$TMP/lxc-create.$name.log")"
	printf -v "$var" '%s' "$name"
}

# lxc_start NAME: lxc-start -d with the hooks' settings; fails the test if it does not start.
lxc_start() {
	NSBUS_CONFIG=$LXC_HOOK_CONF t lxc-start -n "$1" -d -o "$TMP/lxc.$1.log" -l INFO ||
		fail "lxc-start $1 failed: $(grep -E 'ERROR|nsbus' "$TMP/lxc.$1.log" | tail -5; tail -5 "$TMP/lxclogs/$1.log" 2>/dev/null)"
}

# lxc_init NAME: the container's init pid on the host.
lxc_init() {
	t lxc-info -n "$1" -p -H
}

# lxc_run NAME COMMAND...: COMMAND in the container (all its namespaces, as its root), stdin passed on.
lxc_run() {
	local name=$1
	shift
	t lxc-attach -n "$name" --clear-env -v PATH=/usr/bin:/bin:/usr/sbin:/sbin -- "$@"
}

# lxc_gone NAME: after lxc-stop, nothing of its bus is left.
lxc_gone() {
	container_bus_gone "$1"
}

lxc_cleanup() {
	local name
	for name in "${LXC_NAMES[@]}"; do
		lxc-stop -n "$name" -k >/dev/null 2>&1
		[ -e "/run/nsbus/$name" ] && "$LXC_PREFIX/bin/nsbusctl" down "$name" >/dev/null 2>&1
		lxc-destroy -n "$name" >/dev/null 2>&1
	done
}
