#!/bin/bash
# An unprivileged host user can do nothing on a container's bus.  Before, RUNTIME/NAME was 0755
# and both sockets 0666, so any host user could connect to either and own org.freedesktop.login1 on
# the container's system bus.  Now RUNTIME/NAME (host.sock's directory) is root's and 0700, so such
# a user cannot even reach the sockets there (connect: Permission denied); and where the sockets are
# reachable anyway (the directory made 0755 here, as a runtime's bind mount might expose them), the
# bus refuses the user at accept by the kernel's facts: the container socket is for processes in the
# container's user namespace and host.sock for the host's root and the bridge.  The user is a real one
# made with useradd (no home, nologin, no subordinate ids) and removed at exit; dbus-send and busctl
# run as it through setpriv.  Container uid 1000 and container root still connect and call inside,
# and the host's root through both sockets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send busctl useradd userdel
ctr_need

# A host user of this test's own.  Its removal runs first in the EXIT trap, before lib-container.sh's
# and lib.sh's clean-up (kept as they are), so it happens however the test ends.
HOST_USER=nsbusit$$
host_user_remove() {
	[ -n "${host_user_made:-}" ] || return 0
	if getent passwd "$HOST_USER" >/dev/null && ! userdel "$HOST_USER"; then
		echo "$TEST_NAME: FAIL: cannot remove the host user $HOST_USER" >&2
		host_user_left=1
	fi
}
getent passwd "$HOST_USER" >/dev/null && fail "a host user $HOST_USER exists already"
eval "set -- $(trap -p EXIT)"
[ "$#" = 4 ] && [ "$1 $2 $4" = "trap -- EXIT" ] || fail "unexpected EXIT trap: $(trap -p EXIT)"
# shellcheck disable=SC2064 # the old trap's text goes in now
trap "host_user_remove; $3; [ -z \"\${host_user_left:-}\" ] || exit 1" EXIT
host_user_made=1
# -K SUB_*_COUNT=0: useradd would otherwise give the user 100000-165535 in /etc/subuid, which are the
# container's uids (and userdel would then find the user "in use" by the container's processes).
out=$(useradd --no-create-home --shell /usr/sbin/nologin --user-group -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 \
	"$HOST_USER" 2>&1) || skip "cannot create a host user with useradd: $out"
hu_uid=$(id -u "$HOST_USER") && hu_gid=$(id -g "$HOST_USER") || fail "no uid/gid for $HOST_USER"
[ "$hu_uid" != 0 ] && [ "$hu_uid" -lt 100000 ] || fail "$HOST_USER got uid $hu_uid"

# as_host_user CMD...: run CMD on the host as that user, with no supplementary groups and nothing of
# our environment.
as_host_user() {
	t setpriv --reuid="$hu_uid" --regid="$hu_gid" --clear-groups -- \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ "$@"
}
expect_eq "as_host_user id" "$(as_host_user id -u):$(as_host_user id -g):$(as_host_user id -G)" "$hu_uid:$hu_gid:$hu_gid"

ctr_start C1
ctr_bus_start "$C1"
BUS_SOCK=$CTR_RT/$CTR_NAME/bus/system_bus_socket
HOST_SOCK=$CTR_RT/$CTR_NAME/host.sock
REFUSED_BUS="connection \(pid [0-9]+, uid $hu_uid\): disconnected: refused: the container's socket is only for processes inside the container"
REFUSED_HOST="connection \(pid [0-9]+, uid $hu_uid\): disconnected: refused: host\.sock is only for the host's root and the container's bridge"
bus_id=$(t dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.GetId 2>&1) || fail "host root: GetId through host.sock failed: $bus_id"
bus_id=$(words "$bus_id")
[[ "$bus_id" =~ ^[0-9a-f]{32}$ ]] || fail "GetId through host.sock answered '$bus_id'"

# request_login1 CLIENT SOCKET: as the host user, RequestName(org.freedesktop.login1) on SOCKET with
# CLIENT (dbus-send or busctl); it must fail.  Sets out to what the client said.
request_login1() {
	case "$1" in
	dbus-send)
		out=$(as_host_user dbus-send --bus="unix:path=$2" --print-reply=literal --dest=org.freedesktop.DBus \
			/org/freedesktop/DBus org.freedesktop.DBus.RequestName string:org.freedesktop.login1 uint32:4 2>&1) &&
			fail "host user $HOST_USER: dbus-send RequestName(org.freedesktop.login1) on $2 answered: $out"
		;;
	busctl)
		out=$(as_host_user busctl --address="unix:path=$2" --no-pager call org.freedesktop.DBus \
			/org/freedesktop/DBus org.freedesktop.DBus RequestName su org.freedesktop.login1 4 2>&1) &&
			fail "host user $HOST_USER: busctl RequestName(org.freedesktop.login1) on $2 answered: $out"
		;;
	esac
	expect_no_match "host user $HOST_USER: $1 RequestName on $2" "$out" 'uint32|^u [0-9]'
}

# (1) The directory of host.sock, which the container socket's directory is in, is root's alone.
expect_eq "owner and mode of $CTR_RT/$CTR_NAME" "$(stat -c '%u:%g %a' "$CTR_RT/$CTR_NAME")" "0:0 700"
for sock in "$HOST_SOCK" "$BUS_SOCK"; do
	for client in dbus-send busctl; do
		request_login1 "$client" "$sock"
		expect_match "host user $HOST_USER: $client on $sock with $CTR_RT/$CTR_NAME 0700" "$out" \
			"(Failed to connect to socket $sock: Permission denied|^Failed to connect to bus: Permission denied)"
	done
done
expect_no_match "bus log after the host user's attempts through a 0700 directory" "$(cat "$TMP/bus.log")" \
	"uid $hu_uid\)"

# (2) Reachable sockets: the bus itself refuses the host user, on each socket, by what the kernel
# says of it at accept.
chmod 0755 "$CTR_RT/$CTR_NAME"
for client in dbus-send busctl; do
	# The bus answers the refused peer's Hello with AccessDenied and the reason (dbus-send prints
	# the text, busctl the errno it maps AccessDenied to), then closes the connection.
	request_login1 "$client" "$BUS_SOCK"
	expect_match "host user $HOST_USER: $client on the container socket" "$out" \
		"^(Failed to register on connection to \"unix:path=$BUS_SOCK\" message bus: the container's socket is only for processes inside the container|Call failed: Access denied)\$"
	request_login1 "$client" "$HOST_SOCK"
	expect_match "host user $HOST_USER: $client on host.sock" "$out" \
		"^(Failed to register on connection to \"unix:path=$HOST_SOCK\" message bus: host\.sock is only for the host's root and the container's bridge|Call failed: Access denied)\$"
done
chmod 0700 "$CTR_RT/$CTR_NAME"
expect_eq "owner and mode of $CTR_RT/$CTR_NAME, restored" "$(stat -c '%u:%g %a' "$CTR_RT/$CTR_NAME")" "0:0 700"
expect_eq "bus log: refusals of the host user on the container socket" "$(grep -Ec -- "$REFUSED_BUS" "$TMP/bus.log")" 2
expect_eq "bus log: refusals of the host user on host.sock" "$(grep -Ec -- "$REFUSED_HOST" "$TMP/bus.log")" 2
expect_no_match "bus log: the host user got further than accept" "$(grep -v -E -- "$REFUSED_BUS|$REFUSED_HOST" "$TMP/bus.log")" \
	"uid $hu_uid\)"
out=$(t dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.NameHasOwner string:org.freedesktop.login1 2>&1) || fail "NameHasOwner(org.freedesktop.login1) failed: $out"
expect_eq "NameHasOwner(org.freedesktop.login1) after the host user's attempts" "$(words "$out")" "boolean false"

# The container's own processes: connected and calling inside, and container root may own login1.
for uid in 1000 0; do
	out=$(ctr_exec "$C1" "$uid" "$uid" dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetId 2>&1) || fail "container uid $uid: GetId failed: $out"
	expect_eq "container uid $uid: GetId" "$(words "$out")" "$bus_id"
	out=$(ctr_exec "$C1" "$uid" "$uid" busctl --address="$CTR_ADDR" --no-pager call org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus ListNames 2>&1) || fail "container uid $uid: busctl ListNames failed: $out"
	expect_match "container uid $uid: busctl ListNames" "$out" '^as [0-9]+ .*"org\.freedesktop\.DBus"'
done
out=$(ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.RequestName string:org.freedesktop.login1 uint32:4 2>&1) ||
	fail "container root: RequestName(org.freedesktop.login1) failed: $out"
expect_eq "container root: RequestName(org.freedesktop.login1)" "$(words "$out")" "uint32 1"

# The host's root, through both sockets on the host (the 0700 directory is no obstacle to root).
for sock in "$BUS_SOCK" "$HOST_SOCK"; do
	out=$(t dbus-send --bus="unix:path=$sock" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetId 2>&1) || fail "host root: dbus-send GetId on $sock failed: $out"
	expect_eq "host root: dbus-send GetId on $sock" "$(words "$out")" "$bus_id"
	out=$(t busctl --address="unix:path=$sock" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus ListNames 2>&1) || fail "host root: busctl ListNames on $sock failed: $out"
	expect_match "host root: busctl ListNames on $sock" "$out" '^as [0-9]+ .*"org\.freedesktop\.DBus"'
done
expect_no_match "bus log: a refusal of anyone but the host user" "$(grep -E 'refused' "$TMP/bus.log" | grep -v -E "uid $hu_uid\)")" refused

pass
