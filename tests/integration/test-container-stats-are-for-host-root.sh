#!/bin/bash
# org.freedesktop.DBus.Debug.Stats describes other peers (their uids and pids, how much they send, the
# match rules they hold, which tell what they listen to), so on a container bus only the host's root
# may read it: dbus-daemon's rule (root or the bus's own uid) would let the container's root, uid 0
# to itself, read what the bus knows of the host's peers.  Inside a uid-shifted container (map 0
# 100000 65536), container uid 1000 and container root each call GetStats, GetConnectionStats of a
# container service and GetAllMatchRules on /run/dbus/system_bus_socket, with dbus-send and busctl,
# and get org.freedesktop.DBus.Error.AccessDenied.  Through host.sock the host's root gets real
# answers: the service's stats carry its host uid (101000 for inside uid 1000) and host pid, and the
# match rules include a listener's distinctive rule.  ReloadConfig is the host root's alone as well.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send busctl python3-dbus
ctr_need

ctr_start C1
ctr_bus_start "$C1"
ctr_service "$C1" 1000 1000 org.test.Inside
in_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Inside.info")")
in_unique=$(kv unique "$(cat "$CTR_DIR/org.test.Inside.info")")
in_host_pid=$(ctr_host_pid "$C1" "$in_pid") || fail "no host process is pid $in_pid in container $C1"
RULE="type='signal',interface='org.test.Secret$$'"
ctr_spawn "$C1" 1000 1000 env DBUS_SESSION_BUS_ADDRESS="$CTR_ADDR" /usr/bin/python3 "$IT_DIR/listen.py" \
	--match "$RULE" --timeout 60 >"$TMP/listen.out" 2>"$TMP/listen.err"
wait_for_file "$TMP/listen.out" '^ready :' || fail "listener did not start: $(cat "$TMP/listen.out" "$TMP/listen.err")"
listener=$(sed -n 's/^ready //p' "$TMP/listen.out")
DENIED=org.freedesktop.DBus.Error.AccessDenied
STATS=org.freedesktop.DBus.Debug.Stats

# From inside: every Debug.Stats method is refused, whoever asks and with whatever client.
for uid in 1000 0; do
	who="container uid $uid"
	for call in GetStats "GetConnectionStats string:org.test.Inside" "GetConnectionStats string:$in_unique" GetAllMatchRules; do
		method=${call%% *}
		# shellcheck disable=SC2086 # the method's argument, if any
		out=$(ctr_exec "$C1" "$uid" "$uid" dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
			/org/freedesktop/DBus "$STATS.$method" ${call#"$method"} 2>&1) && fail "$who: dbus-send $call answered: $out"
		expect_match "$who: dbus-send $call" "$out" \
			"^Error $DENIED: Connection \":1\.[0-9]+\" is not allowed to call org\.freedesktop\.DBus\.Debug\.Stats\.$method: it is for the host's root\$"
	done
	for call in GetStats "GetConnectionStats s org.test.Inside" GetAllMatchRules; do
		# shellcheck disable=SC2086
		out=$(ctr_exec "$C1" "$uid" "$uid" busctl --address="$CTR_ADDR" --no-pager call org.freedesktop.DBus \
			/org/freedesktop/DBus "$STATS" $call 2>&1) && fail "$who: busctl $call answered: $out"
		expect_match "$who: busctl $call" "$out" '^Call failed: Access denied'
		expect_no_match "$who: busctl $call" "$out" 'UnixUserID|ProcessID|Secret'
	done
done

# ReloadConfig too: the configuration and the bridge policy are the host's files, and the container
# does not choose when they are read.  The host's root may (nsbusctl reload does).
for uid in 1000 0; do
	out=$(ctr_exec "$C1" "$uid" "$uid" dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.ReloadConfig 2>&1) && fail "container uid $uid: ReloadConfig answered: $out"
	expect_match "container uid $uid: ReloadConfig" "$out" \
		"^Error $DENIED: Connection \":1\.[0-9]+\" is not allowed to call org\.freedesktop\.DBus\.ReloadConfig: on a container bus it is for the host's root\$"
done
out=$(t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus ReloadConfig 2>&1) || fail "host root: ReloadConfig failed: $out"

# The host's root, through host.sock: real answers, in the host's view.
hcall() {
	t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus "$STATS" "$@" 2>&1
}
out=$(hcall GetStats) || fail "host root: GetStats failed: $out"
expect_match "host root: GetStats" "$out" '^a\{sv\} [0-9]+ .*"Serial" u [0-9]+'
expect_match "host root: GetStats" "$out" '"ActiveConnections" u [1-9][0-9]*( |$)'
expect_match "host root: GetStats" "$out" '"BusNames" u [1-9][0-9]*( |$)'
out=$(hcall GetConnectionStats s org.test.Inside) || fail "host root: GetConnectionStats(org.test.Inside) failed: $out"
expect_match "host root: GetConnectionStats(org.test.Inside)" "$out" "\"UniqueName\" s \"$in_unique\""
expect_match "host root: GetConnectionStats(org.test.Inside)" "$out" '"UnixUserID" u 101000( |$)'
expect_match "host root: GetConnectionStats(org.test.Inside)" "$out" "\"ProcessID\" u $in_host_pid( |\$)"
expect_match "host root: GetConnectionStats(org.test.Inside)" "$out" '"OwnedNames" u 1( |$)'
out=$(hcall GetAllMatchRules) || fail "host root: GetAllMatchRules failed: $out"
expect_match "host root: GetAllMatchRules" "$out" "^a\{sas\} [0-9]+ .*\"$listener\" 1 \"type=\\\\'signal\\\\',interface=\\\\'org\.test\.Secret$$\\\\'\""
# The same through libdbus.
out=$(t dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	"$STATS.GetConnectionStats" "string:$in_unique" 2>&1) || fail "host root: dbus-send GetConnectionStats failed: $out"
expect_match "host root: dbus-send GetConnectionStats($in_unique)" "$(words "$out")" 'UnixUserID variant uint32 101000( |$)'

pass
