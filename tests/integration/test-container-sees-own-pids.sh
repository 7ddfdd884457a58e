#!/bin/bash
# Every caller hears credentials in its own namespaces, like SO_PEERCRED.  A python3-dbus
# service runs inside a uid-shifted container (map 0 100000 65536) as uid 1000 and owns
# org.test.Inside; another runs on the host through host.sock and owns org.test.Host.
# Asked from inside the container (python3-dbus, busctl, dbus-send), org.test.Inside has
# the pid and uid it sees itself (getpid(), 1000) and org.test.Host, which the container
# cannot see, has pid 0 and uid 65534 and no ProcessFD.  Asked from the host through
# host.sock, org.test.Inside has its host pid and host uid 101000, in Debug.Stats as well.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need busctl dbus-send python3-dbus
ctr_need

ctr_inside_and_host_services
inside=$(cat "$CTR_DIR/org.test.Inside.info")
expect_eq "org.test.Inside's own uid" "$(kv uid "$inside")" 1000
expect_eq "org.test.Inside's own groups" "$(kv groups "$inside")" 1000

# Inside, python3-dbus, as container root and as container uid 1000.
for uid in 0 1000; do
	who="inside as uid $uid"
	out=$(ctr_exec "$C1" "$uid" "$uid" /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" \
		org.test.Inside org.test.Host 2>"$TMP/err") || fail "$who: python3-dbus query failed: $out $(cat "$TMP/err")"
	expect_eq "$who: GetConnectionUnixProcessID(org.test.Inside)" "$(kv org.test.Inside.UnixProcessID "$out")" "$in_pid"
	expect_eq "$who: GetConnectionUnixUser(org.test.Inside)" "$(kv org.test.Inside.UnixUser "$out")" 1000
	expect_eq "$who: Credentials(org.test.Inside) ProcessID" "$(kv org.test.Inside.ProcessID "$out")" "$in_pid"
	expect_eq "$who: Credentials(org.test.Inside) UnixUserID" "$(kv org.test.Inside.UnixUserID "$out")" 1000
	expect_match "$who: Credentials(org.test.Inside) UnixGroupIDs" "$(kv org.test.Inside.UnixGroupIDs "$out")" '(^|,)1000(,|$)'
	expect_no_match "$who: Credentials(org.test.Inside) UnixGroupIDs, host gids" \
		"$(kv org.test.Inside.UnixGroupIDs "$out")" '(^|,)10[01][0-9]{3}(,|$)'

	expect_eq "$who: GetConnectionUnixProcessID(org.test.Host)" "$(kv org.test.Host.UnixProcessID "$out")" 0
	expect_eq "$who: GetConnectionUnixUser(org.test.Host)" "$(kv org.test.Host.UnixUser "$out")" 65534
	expect_eq "$who: Credentials(org.test.Host) UnixUserID" "$(kv org.test.Host.UnixUserID "$out")" 65534
	# The kernel's SO_PEERCRED answers 0 for an invisible pid; the dict may also leave it out.
	pid=$(kv org.test.Host.ProcessID "$out")
	[ -z "$pid" ] || [ "$pid" = 0 ] || fail "$who: Credentials(org.test.Host) ProcessID is '$pid', not 0 or absent"
	expect_eq "$who: Credentials(org.test.Host) ProcessFD" "$(kv org.test.Host.ProcessFD "$out")" absent
	# Host root's gids have no mapping in the container: each is the overflow gid.
	gids=$(kv org.test.Host.UnixGroupIDs "$out")
	[ -z "$gids" ] || [[ "$gids" =~ ^65534(,65534)*$ ]] ||
		fail "$who: Credentials(org.test.Host) UnixGroupIDs: expected only 65534, got '$gids'"
done

# Inside, sd-bus and libdbus, as container root.
bcall() {
	ctr_exec "$C1" 0 0 busctl --address="$CTR_ADDR" --no-pager call org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus "$@" 2>"$TMP/err"
}
out=$(bcall GetConnectionUnixProcessID s org.test.Inside) || fail "busctl GetConnectionUnixProcessID failed: $out $(cat "$TMP/err")"
expect_eq "busctl inside: GetConnectionUnixProcessID(org.test.Inside)" "$out" "u $in_pid"
out=$(bcall GetConnectionUnixUser s org.test.Inside) || fail "busctl GetConnectionUnixUser failed: $out $(cat "$TMP/err")"
expect_eq "busctl inside: GetConnectionUnixUser(org.test.Inside)" "$out" "u 1000"
out=$(bcall GetConnectionCredentials s org.test.Inside) || fail "busctl GetConnectionCredentials failed: $out $(cat "$TMP/err")"
expect_match "busctl inside: GetConnectionCredentials(org.test.Inside)" "$out" "\"ProcessID\" u $in_pid( |\$)"
expect_match "busctl inside: GetConnectionCredentials(org.test.Inside)" "$out" '"UnixUserID" u 1000( |$)'
out=$(bcall GetConnectionUnixProcessID s org.test.Host) || fail "busctl GetConnectionUnixProcessID failed: $out $(cat "$TMP/err")"
expect_eq "busctl inside: GetConnectionUnixProcessID(org.test.Host)" "$out" "u 0"
out=$(bcall GetConnectionCredentials s org.test.Host) || fail "busctl GetConnectionCredentials failed: $out $(cat "$TMP/err")"
expect_match "busctl inside: GetConnectionCredentials(org.test.Host)" "$out" '"UnixUserID" u 65534( |$)'
expect_no_match "busctl inside: GetConnectionCredentials(org.test.Host)" "$out" '"ProcessFD"|"ProcessID" u [1-9]'

# Debug.Stats carries identities too, but describes other peers: only the host's root may ask it
# (test-container-stats-are-for-host-root), and its answer is the host's view, below.

dsend() {
	ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus "org.freedesktop.DBus.$1" "string:$2" 2>"$TMP/err"
}
out=$(dsend GetConnectionUnixProcessID org.test.Inside) || fail "dbus-send GetConnectionUnixProcessID failed: $out $(cat "$TMP/err")"
expect_eq "dbus-send inside: GetConnectionUnixProcessID(org.test.Inside)" "$(words "$out")" "uint32 $in_pid"
out=$(dsend GetConnectionUnixUser org.test.Inside) || fail "dbus-send GetConnectionUnixUser failed: $out $(cat "$TMP/err")"
expect_eq "dbus-send inside: GetConnectionUnixUser(org.test.Inside)" "$(words "$out")" "uint32 1000"
out=$(dsend GetConnectionUnixProcessID org.test.Host) || fail "dbus-send GetConnectionUnixProcessID failed: $out $(cat "$TMP/err")"
expect_eq "dbus-send inside: GetConnectionUnixProcessID(org.test.Host)" "$(words "$out")" "uint32 0"
out=$(dsend GetConnectionUnixUser org.test.Host) || fail "dbus-send GetConnectionUnixUser failed: $out $(cat "$TMP/err")"
expect_eq "dbus-send inside: GetConnectionUnixUser(org.test.Host)" "$(words "$out")" "uint32 65534"

# From the host, through host.sock: host pids and host uids.
out=$(t "$PY" "$IT_DIR/container_query.py" "$HOST_ADDR" org.test.Inside org.test.Host 2>"$TMP/err") ||
	fail "python3-dbus query through host.sock failed: $out $(cat "$TMP/err")"
expect_eq "host: GetConnectionUnixProcessID(org.test.Inside)" "$(kv org.test.Inside.UnixProcessID "$out")" "$in_host_pid"
expect_eq "host: GetConnectionUnixUser(org.test.Inside)" "$(kv org.test.Inside.UnixUser "$out")" 101000
expect_eq "host: Credentials(org.test.Inside) ProcessID" "$(kv org.test.Inside.ProcessID "$out")" "$in_host_pid"
expect_eq "host: Credentials(org.test.Inside) UnixUserID" "$(kv org.test.Inside.UnixUserID "$out")" 101000
expect_eq "host: Credentials(org.test.Inside) UnixGroupIDs" "$(kv org.test.Inside.UnixGroupIDs "$out")" 101000
expect_eq "host: GetConnectionUnixProcessID(org.test.Host)" "$(kv org.test.Host.UnixProcessID "$out")" "$host_svc_pid"
expect_eq "host: GetConnectionUnixUser(org.test.Host)" "$(kv org.test.Host.UnixUser "$out")" 0
expect_eq "host: the python client itself, GetConnectionUnixUser" "$(kv self.UnixUser "$out")" 0
expect_eq "host: the python client itself, GetConnectionUnixProcessID" "$(kv self.UnixProcessID "$out")" "$(kv self.pid "$out")"
out=$(t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus GetConnectionUnixProcessID s org.test.Inside 2>"$TMP/err") || fail "busctl on the host failed: $out $(cat "$TMP/err")"
expect_eq "busctl host: GetConnectionUnixProcessID(org.test.Inside)" "$out" "u $in_host_pid"
out=$(t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.Debug.Stats GetConnectionStats s org.test.Inside 2>"$TMP/err") ||
	fail "busctl Debug.Stats GetConnectionStats on the host failed: $out $(cat "$TMP/err")"
expect_match "busctl host: Debug.Stats(org.test.Inside)" "$out" '"UnixUserID" u 101000( |$)'
expect_match "busctl host: Debug.Stats(org.test.Inside)" "$out" "\"ProcessID\" u $in_host_pid( |\$)"

pass
