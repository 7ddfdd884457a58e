#!/bin/bash
# Inside a uid-shifted container (map 0 100000 65536) nobody may watch other peers' traffic: the
# container's root is uid 0 to itself and the bus runs as root, so dbus-daemon's rule (root or the
# bus's own uid may monitor) and a configuration that lets everyone eavesdrop would let the container
# watch the host's callers and each other.  Container uid 1000 and container root each send AddMatch
# with eavesdrop='true' and BecomeMonitor and get org.freedesktop.DBus.Error.AccessDenied; dbus-monitor
# --system inside (BecomeMonitor, then eavesdrop matches, then an ordinary match) sees nothing of a
# call that one container process makes to a service of another, with a secret argument.  The host's
# root, through host.sock, may: its dbus-monitor sees that call and its argument, and its eavesdrop
# AddMatch is accepted.  An ordinary signal match of container uid 1000 still delivers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send dbus-monitor python3-dbus
ctr_need

ctr_start C1
ctr_bus_start "$C1"
ctr_service "$C1" 1000 1000 org.test.Victim
victim=$(kv unique "$(cat "$CTR_DIR/org.test.Victim.info")")
DENIED=org.freedesktop.DBus.Error.AccessDenied
SECRET=nsbus-secret-$$-$RANDOM

# driver_inside UID METHOD ARGS...: a bus driver call from inside, as UID; prints the reply or the error.
driver_inside() {
	local uid=$1 method=$2
	shift 2
	ctr_exec "$C1" "$uid" "$uid" dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus "org.freedesktop.DBus.$method" "$@" 2>&1
}

# The attack by hand: an eavesdropping match rule (everything, or the victim's calls) and BecomeMonitor.
for uid in 1000 0; do
	who="container uid $uid"
	for rule in "eavesdrop='true'" "type='method_call',eavesdrop='true',destination='org.test.Victim'"; do
		out=$(driver_inside "$uid" AddMatch "string:$rule") && fail "$who: AddMatch(\"$rule\") was accepted: $out"
		expect_match "$who: AddMatch(\"$rule\")" "$out" \
			"^Error $DENIED: Connection \":1\.[0-9]+\" is not allowed to eavesdrop on this bus: only the host's root may see other peers' messages"
	done
	out=$(driver_inside "$uid" Monitoring.BecomeMonitor array:string: uint32:0) &&
		fail "$who: BecomeMonitor was accepted: $out"
	expect_match "$who: BecomeMonitor" "$out" "^Error $DENIED: Connection \":1\.[0-9]+\" is not allowed to become a monitor"
done

# The host's root may eavesdrop: the same rule is accepted through host.sock.
out=$(t dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.AddMatch "string:eavesdrop='true'" 2>&1) || fail "host root: AddMatch(eavesdrop='true') failed: $out"

# The attack with the usual tool: dbus-monitor --system inside, as uid 1000 and as root, next to the
# host's root's dbus-monitor on host.sock and an ordinary signal listener of container uid 1000.
# Each is set up once it prints: the host monitor's own NameLost comes after BecomeMonitor, and a
# falling-back dbus-monitor prints nothing before its match rules are in.
spawn dbus-monitor --address "$HOST_ADDR" >"$TMP/mon-host.out" 2>"$TMP/mon-host.err"
wait_for_file "$TMP/mon-host.out" 'member=NameLost' ||
	fail "host root's dbus-monitor did not start: $(cat "$TMP/mon-host.out" "$TMP/mon-host.err")"
for uid in 1000 0; do
	ctr_spawn "$C1" "$uid" "$uid" dbus-monitor --system >"$TMP/mon-$uid.out" 2>"$TMP/mon-$uid.err"
	wait_for_file "$TMP/mon-$uid.out" 'member=NameAcquired' ||
		fail "container uid $uid: dbus-monitor did not start: $(cat "$TMP/mon-$uid.out" "$TMP/mon-$uid.err")"
	expect_match "container uid $uid: dbus-monitor's complaint" "$(cat "$TMP/mon-$uid.err")" \
		"unable to enable new-style monitoring: $DENIED: \"Connection \":1\.[0-9]+\" is not allowed to become a monitor\""
	# Its fallback, AddMatch("eavesdrop=true"), was refused too: the host's monitor saw the answer.
	mon_unique=$(sed -n 's/.* destination=:1\.\([0-9]*\) .*member=NameAcquired$/\1/p' "$TMP/mon-$uid.out" | head -n 1)
	[ -n "$mon_unique" ] || fail "container uid $uid: no unique name in dbus-monitor's NameAcquired: $(cat "$TMP/mon-$uid.out")"
	wait_for_file "$TMP/mon-host.out" "string \"Connection \":1\\.$mon_unique\" is not allowed to eavesdrop on this bus" ||
		fail "container uid $uid: the host's monitor saw no AccessDenied for the eavesdrop AddMatch of dbus-monitor :1.$mon_unique"
done
ctr_spawn "$C1" 1000 1000 env DBUS_SESSION_BUS_ADDRESS="$CTR_ADDR" /usr/bin/python3 "$IT_DIR/listen.py" \
	--match "type='signal',interface='org.test.Marker'" --count 1 --timeout 30 >"$TMP/listen.out" 2>"$TMP/listen.err"
wait_for_file "$TMP/listen.out" '^ready ' ||
	fail "container uid 1000: ordinary signal match: $(cat "$TMP/listen.out" "$TMP/listen.err")"

# Container root calls the service of container uid 1000 with the secret; the service answers (it has
# no such method), so the call went through the bus.  Then a broadcast marks the end: the bus delivers
# in order, so a monitor that has the marker has had every chance to get the call.
out=$(ctr_exec "$C1" 0 0 dbus-send --system --print-reply --dest=org.test.Victim /org/test/Victim \
	org.test.Victim.Store "string:$SECRET" 2>&1) && fail "org.test.Victim answered Store: $out"
expect_match "the call to org.test.Victim" "$out" '^Error org\.freedesktop\.DBus\.Error\.Unknown(Method|Object)'
out=$(ctr_exec "$C1" 0 0 dbus-send --system --type=signal /org/test/Marker org.test.Marker.Done string:done 2>&1) ||
	fail "the marker signal failed: $out"
wait_for_file "$TMP/mon-host.out" 'member=Done' || fail "host root's dbus-monitor did not see the marker: $(cat "$TMP/mon-host.out")"
for uid in 1000 0; do
	wait_for_file "$TMP/mon-$uid.out" 'member=Done' ||
		fail "container uid $uid: dbus-monitor did not see the broadcast marker: $(cat "$TMP/mon-$uid.out")"
done
wait_for_file "$TMP/listen.out" 'org\.test\.Marker\.Done' ||
	fail "container uid 1000: ordinary signal match did not deliver: $(cat "$TMP/listen.out" "$TMP/listen.err")"
expect_match "container uid 1000: ordinary signal match" "$(cat "$TMP/listen.out")" \
	"^signal :1\.[0-9]+ /org/test/Marker org\.test\.Marker\.Done \['done'\]"

# Host root saw the call between the two container peers, argument and all.
host_seen=$(cat "$TMP/mon-host.out")
expect_match "host root's dbus-monitor" "$host_seen" \
	"^method call .* destination=(org\.test\.Victim|$victim) .*path=/org/test/Victim; interface=org\.test\.Victim; member=Store"
expect_match "host root's dbus-monitor" "$host_seen" "^ *string \"$SECRET\""

# Inside, neither monitor saw it, nor its answer.
for uid in 1000 0; do
	seen=$(cat "$TMP/mon-$uid.out")
	expect_no_match "container uid $uid: dbus-monitor" "$seen" "$SECRET|member=Store|interface=org\.test\.Victim"
	expect_no_match "container uid $uid: dbus-monitor" "$seen" "^error .*Unknown(Method|Object)"
	expect_no_match "container uid $uid: dbus-monitor" "$(cat "$TMP/mon-$uid.err")" "Failed to setup match"
done

pass
