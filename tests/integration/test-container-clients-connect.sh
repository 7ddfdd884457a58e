#!/bin/bash
# Inside a uid-shifted container (uid/gid map 0 100000 65536), busctl, dbus-send, gdbus and
# python3-dbus connect to the container's bus at /run/dbus/system_bus_socket and make
# calls, as container root and as container uid 1000 (host uid 101000).  Each library
# authenticates with SASL EXTERNAL claiming its own inside uid, so this only works if the
# bus checks the claim in the client's own user namespace; the python client also asks the
# bus who it is and must hear its own inside uid and pid.  The bus directory and socket
# belong to the container's root, and host.sock reaches the same bus from the host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need busctl dbus-send gdbus python3-dbus
ctr_need

ctr_start C1
ctr_bus_start "$C1"

# What nsbusd made for the container: a socket the runtime can bind-mount, owned by the
# container's root (host 100000), that every inside uid can connect to.
sock=$CTR_RT/$CTR_NAME/bus/system_bus_socket
expect_eq "printed address" "${BUS_ADDR%%,guid=*}" "unix:path=$sock"
expect_match "printed address" "$BUS_ADDR" ',guid=[0-9a-f]{32}$'
# The directory may stay the host's (then the bus, without CAP_DAC_OVERRIDE after set-up, can
# still remove the socket) or be the container root's; every inside uid must reach the socket.
dir=$(stat -c '%u:%g %a' "$CTR_RT/$CTR_NAME/bus")
[[ "$dir" =~ ^(0:0|100000:100000)\ [0-7]*[1357]$ ]] ||
	fail "$CTR_RT/$CTR_NAME/bus: owner and mode '$dir': want the host's or the container's root, o+x"
expect_eq "owner uid:gid of $sock" "$(stat -c %u:%g "$sock")" "100000:100000"
mode=$(stat -c %a "$sock")
(((8#$mode & 8#666) == 8#666)) || fail "$sock has mode $mode: not readable and writable by everyone"
out=$(ctr_exec "$C1" 1000 1000 stat -c '%U:%G %F' /run/dbus/system_bus_socket 2>"$TMP/err") ||
	fail "stat /run/dbus/system_bus_socket inside the container failed: $out $(cat "$TMP/err")"
expect_eq "the socket as container uid 1000 sees it" "$out" "root:root socket"

host_id=$(t dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.GetId) || fail "dbus-send GetId through host.sock failed"
host_id=$(echo "$host_id" | tr -d ' \n')
[[ "$host_id" =~ ^[0-9a-f]{32}$ ]] || fail "GetId through host.sock answered '$host_id'"

for uid in 0 1000; do
	who="container uid $uid"

	# sd-bus
	out=$(ctr_exec "$C1" "$uid" "$uid" busctl --address="$CTR_ADDR" --no-pager call \
		org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId 2>"$TMP/err") ||
		fail "$who: busctl call GetId failed: $out $(cat "$TMP/err")"
	expect_eq "$who: busctl GetId" "$out" "s \"$host_id\""
	out=$(ctr_exec "$C1" "$uid" "$uid" busctl --address="$CTR_ADDR" --no-pager call \
		org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListNames 2>"$TMP/err") ||
		fail "$who: busctl call ListNames failed: $out $(cat "$TMP/err")"
	expect_match "$who: busctl ListNames" "$out" '^as [0-9]+ .*"org\.freedesktop\.DBus"'

	# libdbus, once through DBUS_SYSTEM_BUS_ADDRESS (--system) and once with --bus=
	out=$(ctr_exec "$C1" "$uid" "$uid" dbus-send --system --print-reply=literal \
		--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId 2>"$TMP/err") ||
		fail "$who: dbus-send --system GetId failed: $out $(cat "$TMP/err")"
	expect_eq "$who: dbus-send --system GetId" "$(echo "$out" | tr -d ' \n')" "$host_id"
	out=$(ctr_exec "$C1" "$uid" "$uid" dbus-send --bus="$CTR_ADDR" --print-reply=literal \
		--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ListNames 2>"$TMP/err") ||
		fail "$who: dbus-send --bus ListNames failed: $out $(cat "$TMP/err")"
	expect_match "$who: dbus-send ListNames" "$out" '(^| )org\.freedesktop\.DBus( |$)'

	# GDBus
	out=$(ctr_exec "$C1" "$uid" "$uid" gdbus call --address "$CTR_ADDR" --dest org.freedesktop.DBus \
		--object-path /org/freedesktop/DBus --method org.freedesktop.DBus.GetId 2>"$TMP/err") ||
		fail "$who: gdbus call GetId failed: $out $(cat "$TMP/err")"
	expect_eq "$who: gdbus GetId" "$out" "('$host_id',)"
	out=$(ctr_exec "$C1" "$uid" "$uid" gdbus call --address "$CTR_ADDR" --dest org.freedesktop.DBus \
		--object-path /org/freedesktop/DBus --method org.freedesktop.DBus.ListNames 2>"$TMP/err") ||
		fail "$who: gdbus call ListNames failed: $out $(cat "$TMP/err")"
	expect_match "$who: gdbus ListNames" "$out" "'org\.freedesktop\.DBus'"

	# python3-dbus: who does the bus think we are?
	out=$(ctr_exec "$C1" "$uid" "$uid" /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" 2>"$TMP/err") ||
		fail "$who: python3-dbus client failed: $out $(cat "$TMP/err")"
	expect_eq "$who: python os.getuid()" "$(kv self.uid "$out")" "$uid"
	expect_eq "$who: GetConnectionUnixUser of the python client itself" "$(kv self.UnixUser "$out")" "$uid"
	expect_eq "$who: GetConnectionUnixProcessID of the python client itself (os.getpid() $(kv self.pid "$out"))" \
		"$(kv self.UnixProcessID "$out")" "$(kv self.pid "$out")"
	expect_eq "$who: python GetId" "$(kv getid "$out")" "$host_id"
	expect_match "$who: python ListNames" "$(kv listnames "$out")" "(^|,)org\.freedesktop\.DBus(,|$)"
	log "$who: busctl, dbus-send, gdbus and python3-dbus connected and called"
done

# host.sock is for host peers only; from inside it is not there to connect to.
ctr_exec "$C1" 0 0 test -e "$CTR_RT/$CTR_NAME/host.sock" && fail "host.sock is visible inside the container"
ctr_exec "$C1" 0 0 test -S /run/dbus/system_bus_socket || fail "/run/dbus/system_bus_socket is not a socket inside"

pass
