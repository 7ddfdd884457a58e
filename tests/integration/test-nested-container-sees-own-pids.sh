#!/bin/bash
# Credentials are translated at every level of nesting.  Container 1 (map 0 100000 65536)
# holds a nested container made by its own root (map 0 1000 1000: nested uid 0 is
# container-1 uid 1000 is host uid 101000), which inherits container 1's /run/dbus.  A
# python3-dbus service owns org.test.Nested as nested root.  Asked from the nested
# container it has its own pid and uid 0; from container 1, its pid there and uid 1000;
# from the host, its host pid and uid 101000.  From the nested container, a container-1
# root peer and a host.sock peer are invisible: uid 65534, pid 0, no ProcessFD.  SASL
# EXTERNAL in the nested container accepts 0 and refuses the outer uids.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need busctl dbus-send python3-dbus
ctr_need

ctr_start C1
ctr_bus_start "$C1"

# The nested container, made from inside container 1 by its root (no --private-run: it
# shares container 1's /run and so its /run/dbus).
ctr_spawn "$C1" 0 0 "$NSRUN" --uid-map 0:1000:1000 --gid-map 0:1000:1000 --pidfile "$CTR_DIR/nested.pid" \
	>/dev/null 2>"$TMP/nested.err"
wait_for_file "$CTR_DIR/nested.pid" '^[0-9]+$' 10 || fail "nested nsrun failed: $(cat "$TMP/nested.err")"
c2_in_c1=$(cat "$CTR_DIR/nested.pid")
C2=$(ctr_host_pid "$C1" "$c2_in_c1") || fail "no host process is pid $c2_in_c1 in container 1"
CTR_INITS+=("$C2") # for the leftover check; it dies with container 1
expect_eq "nested uid_map seen from the host" "$(tr -s ' \n' ' ' <"/proc/$C2/uid_map")" " 0 101000 1000 "
expect_eq "nested init's NSpid" "$(ctr_nspid "$C2" 1) $(ctr_nspid "$C2" 2) $(ctr_nspid "$C2" 3)" "$C2 $c2_in_c1 1"
log "nested container: init host pid $C2, pid $c2_in_c1 in container 1"

ctr_service "$C2" 0 0 org.test.Nested
ctr_service "$C1" 0 0 org.test.C1Root
ctr_service host 0 0 org.test.Host
n_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Nested.info")")
n_host=$(ctr_host_pid "$C2" "$n_pid") || fail "no host process is pid $n_pid in the nested container"
n_c1=$(ctr_nspid "$n_host" 2)
r_pid=$(kv pid "$(cat "$CTR_DIR/org.test.C1Root.info")")
log "org.test.Nested: pid $n_pid nested, $n_c1 in container 1, $n_host on the host; org.test.C1Root: pid $r_pid in container 1"

# From the nested container, as its root.
out=$(ctr_exec "$C2" 0 0 /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" \
	org.test.Nested org.test.C1Root org.test.Host 2>"$TMP/err") || fail "nested: python3-dbus query failed: $out $(cat "$TMP/err")"
expect_eq "nested: the client itself, GetConnectionUnixUser" "$(kv self.UnixUser "$out")" 0
expect_eq "nested: the client itself, GetConnectionUnixProcessID" "$(kv self.UnixProcessID "$out")" "$(kv self.pid "$out")"
expect_eq "nested: GetConnectionUnixProcessID(org.test.Nested)" "$(kv org.test.Nested.UnixProcessID "$out")" "$n_pid"
expect_eq "nested: GetConnectionUnixUser(org.test.Nested)" "$(kv org.test.Nested.UnixUser "$out")" 0
expect_eq "nested: Credentials(org.test.Nested) ProcessID" "$(kv org.test.Nested.ProcessID "$out")" "$n_pid"
expect_eq "nested: Credentials(org.test.Nested) UnixUserID" "$(kv org.test.Nested.UnixUserID "$out")" 0
expect_eq "nested: Credentials(org.test.Nested) UnixGroupIDs" "$(kv org.test.Nested.UnixGroupIDs "$out")" 0
expect_eq "nested: fdinfo Pid of org.test.Nested's ProcessFD" "$(kv org.test.Nested.ProcessFD.Pid "$out")" "$n_pid"
for peer in org.test.C1Root org.test.Host; do
	expect_eq "nested: GetConnectionUnixProcessID($peer)" "$(kv $peer.UnixProcessID "$out")" 0
	expect_eq "nested: GetConnectionUnixUser($peer)" "$(kv $peer.UnixUser "$out")" 65534
	expect_eq "nested: Credentials($peer) UnixUserID" "$(kv $peer.UnixUserID "$out")" 65534
	pid=$(kv $peer.ProcessID "$out")
	[ -z "$pid" ] || [ "$pid" = 0 ] || fail "nested: Credentials($peer) ProcessID is '$pid', not 0 or absent"
	expect_eq "nested: Credentials($peer) ProcessFD" "$(kv $peer.ProcessFD "$out")" absent
	gids=$(kv $peer.UnixGroupIDs "$out")
	[ -z "$gids" ] || [[ "$gids" =~ ^65534(,65534)*$ ]] ||
		fail "nested: Credentials($peer) UnixGroupIDs: expected only 65534, got '$gids'"
done
out=$(ctr_exec "$C2" 0 0 busctl --address="$CTR_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus GetConnectionUnixProcessID s org.test.Nested 2>"$TMP/err") || fail "nested: busctl failed: $out $(cat "$TMP/err")"
expect_eq "nested: busctl GetConnectionUnixProcessID(org.test.Nested)" "$out" "u $n_pid"
out=$(ctr_exec "$C2" 0 0 busctl --address="$CTR_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus GetConnectionUnixUser s org.test.C1Root 2>"$TMP/err") || fail "nested: busctl failed: $out $(cat "$TMP/err")"
expect_eq "nested: busctl GetConnectionUnixUser(org.test.C1Root)" "$out" "u 65534"

# SASL EXTERNAL in the nested container: its own uid 0, not its container-1 or host uid.
out=$(ctr_exec "$C2" 0 0 /usr/bin/python3 "$IT_DIR/container_sasl.py" "$CTR_ADDR" 1000 101000 0 2>"$TMP/err") ||
	fail "nested: raw SASL client failed: $out $(cat "$TMP/err")"
expect_match "nested: claiming its container-1 uid 1000" "$out" '^claim=1000 reply=REJECTED'
expect_match "nested: claiming its host uid 101000" "$out" '^claim=101000 reply=REJECTED'
expect_match "nested: claiming 0" "$out" '^claim=0 reply=OK [0-9a-f]{32}$'
expect_eq "nested: the raw client's uid after SASL" "$(kv bus_uid "$out")" 0

# From container 1, as its root.
out=$(ctr_exec "$C1" 0 0 /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" \
	org.test.Nested org.test.C1Root 2>"$TMP/err") || fail "container 1: python3-dbus query failed: $out $(cat "$TMP/err")"
expect_eq "container 1: GetConnectionUnixProcessID(org.test.Nested)" "$(kv org.test.Nested.UnixProcessID "$out")" "$n_c1"
expect_eq "container 1: GetConnectionUnixUser(org.test.Nested)" "$(kv org.test.Nested.UnixUser "$out")" 1000
expect_eq "container 1: Credentials(org.test.Nested) ProcessID" "$(kv org.test.Nested.ProcessID "$out")" "$n_c1"
expect_eq "container 1: Credentials(org.test.Nested) UnixUserID" "$(kv org.test.Nested.UnixUserID "$out")" 1000
expect_eq "container 1: Credentials(org.test.Nested) UnixGroupIDs" "$(kv org.test.Nested.UnixGroupIDs "$out")" 1000
expect_eq "container 1: fdinfo Pid of org.test.Nested's ProcessFD" "$(kv org.test.Nested.ProcessFD.Pid "$out")" "$n_c1"
expect_eq "container 1: fdinfo NSpid of org.test.Nested's ProcessFD" "$(kv org.test.Nested.ProcessFD.NSpid "$out")" "$n_c1 $n_pid"
expect_eq "container 1: GetConnectionUnixProcessID(org.test.C1Root)" "$(kv org.test.C1Root.UnixProcessID "$out")" "$r_pid"
expect_eq "container 1: GetConnectionUnixUser(org.test.C1Root)" "$(kv org.test.C1Root.UnixUser "$out")" 0
out=$(ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.GetConnectionUnixProcessID string:org.test.Nested 2>"$TMP/err") || fail "container 1: dbus-send failed: $out $(cat "$TMP/err")"
expect_eq "container 1: dbus-send GetConnectionUnixProcessID(org.test.Nested)" "$(words "$out")" "uint32 $n_c1"

# From the host, through host.sock.
out=$(t "$PY" "$IT_DIR/container_query.py" "$HOST_ADDR" org.test.Nested 2>"$TMP/err") ||
	fail "host: python3-dbus query failed: $out $(cat "$TMP/err")"
expect_eq "host: GetConnectionUnixProcessID(org.test.Nested)" "$(kv org.test.Nested.UnixProcessID "$out")" "$n_host"
expect_eq "host: GetConnectionUnixUser(org.test.Nested)" "$(kv org.test.Nested.UnixUser "$out")" 101000
expect_eq "host: Credentials(org.test.Nested) UnixUserID" "$(kv org.test.Nested.UnixUserID "$out")" 101000
expect_eq "host: Credentials(org.test.Nested) UnixGroupIDs" "$(kv org.test.Nested.UnixGroupIDs "$out")" 101000
expect_eq "host: fdinfo NSpid of org.test.Nested's ProcessFD" "$(kv org.test.Nested.ProcessFD.NSpid "$out")" "$n_host $n_c1 $n_pid"

pass
