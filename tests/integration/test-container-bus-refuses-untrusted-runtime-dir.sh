#!/bin/bash
# nsbusd --container-pid puts host.sock (root's and the bridge's way into the container bus) and the
# container's socket under --runtime-dir, so it must trust every directory on the way: one that anyone
# but root can change lets that user swap it (rename it away, put a directory or a symlink of its own in
# its place) and plant its own host.sock or system_bus_socket.  Before the fix nsbusd took any runtime
# directory (it followed symlinks, and made NAME/ 0755 in a directory owned by an unprivileged user or
# mode 0777).  Now it walks the path from / with O_NOFOLLOW and exits non-zero, before it makes
# anything, logging 'nsbusd: refusing the runtime directory: <why>' naming the component, when one is
# not root's, is writable by its group or others (a sticky directory on the way, like /tmp, excepted;
# the runtime directory itself never), or is a symlink.  A user made with useradd owns the untrusted
# directories; it is removed at exit, whatever happens.  The legitimate path keeps working: a runtime
# directory that does not exist yet under a root-owned 0700 directory is made by nsbusd, NAME/ is 0700
# and NAME/bus 0755, and the container's processes and the host's root reach the bus.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send useradd userdel getent
ctr_need

# The user is removed before lib-container.sh's own EXIT trap runs (that one may end in `exit 1`).
RT_USER=nsbus-rt-$$
RT_USER_MADE=
rt_user_cleanup() {
	[ -n "$RT_USER_MADE" ] || return 0
	getent passwd "$RT_USER" >/dev/null && userdel "$RT_USER" >/dev/null 2>&1
	getent passwd "$RT_USER" >/dev/null && echo "$TEST_NAME: could not remove user $RT_USER" >&2
	return 0
}
eval "prev_exit_trap=($(trap -p EXIT))" # trap -- 'COMMANDS' EXIT
[ "${#prev_exit_trap[@]}" = 4 ] || fail "unexpected EXIT trap: $(trap -p EXIT)"
trap "rt_user_cleanup; ${prev_exit_trap[2]}" EXIT

getent passwd "$RT_USER" >/dev/null && fail "user $RT_USER exists already"
RT_USER_MADE=1
useradd --system --no-create-home --shell /usr/sbin/nologin "$RT_USER" >"$TMP/useradd.log" 2>&1 ||
	fail "useradd $RT_USER failed: $(cat "$TMP/useradd.log")"
RT_UID=$(id -u "$RT_USER")
[ "$RT_UID" -gt 0 ] || fail "user $RT_USER has uid '$RT_UID'"

CTR_NAME=rt-check
ctr_start C1

# The untrusted places, all under one directory whose contents are compared before and after each run.
CASES=$TMP/cases
mkdir -m 0755 "$CASES"
mkdir -m 0755 "$CASES/user-owned" && chown "$RT_USER:" "$CASES/user-owned"
mkdir -m 0777 "$CASES/world-writable" && chmod 0777 "$CASES/world-writable"
mkdir -m 1777 "$CASES/sticky-last" && chmod 1777 "$CASES/sticky-last"
mkdir -m 0775 "$CASES/group-writable" && chmod 0775 "$CASES/group-writable"
mkdir -m 0755 "$CASES/real" "$CASES/real/rt"
ln -s real/rt "$CASES/link-rt"
ln -s real "$CASES/link-parent"
mkdir -m 0755 "$CASES/user-parent" && chown "$RT_USER:" "$CASES/user-parent"
mkdir -m 0755 "$CASES/user-parent/rt" # root's, in the user's directory
mkdir -m 0777 "$CASES/open-parent" && chmod 0777 "$CASES/open-parent"
mkdir -m 0755 "$CASES/open-parent/rt"

# An ERE that matches PATH literally.
re() {
	sed 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1"
}

snapshot() {
	find "$CASES" -printf '%p %y %m %U:%G %l\n' | sort
}

# refused WHAT DIR REASON-ERE: nsbusd with --runtime-dir=DIR exits non-zero, prints no address, logs
# 'nsbusd: refusing the runtime directory: ' followed by REASON-ERE, and makes nothing anywhere in $CASES.
N_REFUSED=0
refused() {
	local what=$1 dir=$2 why=$3 before after pid i rc log addr
	N_REFUSED=$((N_REFUSED + 1))
	log=$TMP/refused.$N_REFUSED.log addr=$TMP/refused.$N_REFUSED.addr
	before=$(snapshot)
	: >"$addr"
	spawn "$NSBUSD" --container-pid="$C1" --runtime-dir="$dir" --name="$CTR_NAME" --nofork \
		--print-address=3 3>"$addr" 2>"$log"
	pid=${BG_PIDS[-1]}
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		local tree
		tree=$(ls -laR "$dir" 2>&1)
		kill "$pid"
		wait "$pid"
		fail "$what: nsbusd accepted --runtime-dir=$dir (still running after 5 s; it printed '$(cat "$addr")'; log: $(cat "$log")): $tree"
	fi
	wait "$pid"
	rc=$?
	[ "$rc" != 0 ] || fail "$what: nsbusd exited 0 with --runtime-dir=$dir; log: $(cat "$log")"
	[ ! -s "$addr" ] || fail "$what: nsbusd printed an address: $(cat "$addr")"
	expect_match "$what: nsbusd's log" "$(cat "$log")" "^nsbusd: refusing the runtime directory: $why\$"
	after=$(snapshot)
	[ "$before" = "$after" ] ||
		fail "$what: nsbusd changed $CASES although it refused $dir: $(diff <(echo "$before") <(echo "$after"))"
	log "$what: refused (status $rc): $(grep '^nsbusd: refusing' "$log")"
}

d=$CASES/user-owned
refused "a runtime directory owned by $RT_USER (uid $RT_UID)" "$d" "$(re "$d") is owned by uid $RT_UID, not root"
d=$CASES/world-writable
refused "a root-owned runtime directory of mode 0777" "$d" "$(re "$d") is writable by others \(mode 0777\)"
d=$CASES/sticky-last
refused "a root-owned sticky runtime directory of mode 1777 (sticky counts only on the way)" "$d" \
	"$(re "$d") is writable by others \(mode 1777\)"
d=$CASES/group-writable
refused "a root-owned runtime directory of mode 0775" "$d" "$(re "$d") is writable by its group \(mode 0775\)"
d=$CASES/link-rt
refused "a symlink as the runtime directory (to a root-owned 0755 one)" "$d" \
	"cannot open $(re "$d"): a symbolic link \(give the runtime directory without links\)"
d=$CASES/link-parent
refused "a symlink as a parent of the runtime directory" "$d/rt" \
	"cannot open $(re "$d"): a symbolic link \(give the runtime directory without links\)"
d=$CASES/user-parent
refused "a root-owned runtime directory in a directory owned by $RT_USER" "$d/rt" \
	"$(re "$d") is owned by uid $RT_UID, not root"
refused "a runtime directory yet to be made in a directory owned by $RT_USER" "$d/new" \
	"$(re "$d") is owned by uid $RT_UID, not root"
d=$CASES/open-parent
refused "a root-owned runtime directory in a non-sticky 0777 directory" "$d/rt" \
	"$(re "$d") is writable by others \(mode 0777\)"

# A sticky 1777 directory on the way is fine (others cannot rename or remove root's entries there).
mkdir -m 1777 "$TMP/sticky" && chmod 1777 "$TMP/sticky"
mkdir -m 0755 "$TMP/sticky/rt"
spawn "$NSBUSD" --container-pid="$C1" --runtime-dir="$TMP/sticky/rt" --name="$CTR_NAME" --nofork \
	--print-address=3 3>"$TMP/sticky.addr" 2>"$TMP/sticky.log"
pid=${BG_PIDS[-1]}
for i in $(seq 1 100); do
	[ -S "$TMP/sticky/rt/$CTR_NAME/host.sock" ] && [ "$(wc -l <"$TMP/sticky.addr")" -ge 1 ] && break
	kill -0 "$pid" 2>/dev/null || fail "nsbusd refused $TMP/sticky/rt (a sticky 1777 directory on the way): $(cat "$TMP/sticky.log")"
	sleep 0.05
done
[ -S "$TMP/sticky/rt/$CTR_NAME/bus/system_bus_socket" ] && [ -S "$TMP/sticky/rt/$CTR_NAME/host.sock" ] ||
	fail "nsbusd made no sockets under $TMP/sticky/rt within 5 s: $(ls -laR "$TMP/sticky" 2>&1) $(cat "$TMP/sticky.log")"
kill "$pid"
wait "$pid"
log "a root-owned runtime directory under a sticky 1777 directory: accepted"

# The legitimate path: a runtime directory that does not exist yet, under a root-owned 0700 directory.
mkdir -m 0700 "$TMP/trusted"
CTR_RT=$TMP/trusted/rt-new
CTR_MKDIR_RT=0
ctr_bus_start "$C1"
# stat: owner, group, octal mode, type
expect_eq "the runtime directory nsbusd made ($CTR_RT)" "$(stat -c '%u:%g %a %F' "$CTR_RT")" "0:0 755 directory"
expect_eq "$CTR_RT/$CTR_NAME (host.sock's directory: root's alone)" \
	"$(stat -c '%u:%g %a %F' "$CTR_RT/$CTR_NAME")" "0:0 700 directory"
expect_eq "$CTR_RT/$CTR_NAME/bus (the container's /run/dbus)" \
	"$(stat -c '%u:%g %a %F' "$CTR_RT/$CTR_NAME/bus")" "0:0 755 directory"
expect_eq "$CTR_RT/$CTR_NAME/bus/system_bus_socket" \
	"$(stat -c '%u:%g %a %F' "$CTR_RT/$CTR_NAME/bus/system_bus_socket")" "100000:100000 666 socket"
expect_eq "$CTR_RT/$CTR_NAME/host.sock" "$(stat -c '%u:%g %a %F' "$CTR_RT/$CTR_NAME/host.sock")" "0:0 666 socket"

# The container's processes reach the bus, as root and as an ordinary user, and see the same bus.
host_id=$(bus_get_id) # through host.sock, as the host's root
[[ "$host_id" =~ ^[0-9a-f]{32}$ ]] || fail "GetId through host.sock answered '$host_id'"
for uid in 0 1000; do
	out=$(ctr_exec "$C1" "$uid" "$uid" dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetId 2>&1) ||
		fail "inside as uid $uid: GetId on the container bus failed: $out"
	expect_eq "inside as uid $uid: the container bus's id" "$(words "$out")" "$host_id"
done
ctr_service "$C1" 1000 1000 org.test.Inside
name_has_owner org.test.Inside || fail "the host's root does not see org.test.Inside, owned inside"
log "a runtime directory made by nsbusd under a root-owned 0700 directory: NAME/ 0700, NAME/bus 0755, clients connect"
pass
