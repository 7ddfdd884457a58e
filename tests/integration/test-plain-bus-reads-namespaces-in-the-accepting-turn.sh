#!/bin/bash
# A plain bus (no --container-pid) that processes of a uid-shifted container reach through
# its socket: at accept it reads only SO_PEERCRED and SO_PEERGROUPS, and a peer's
# namespaces after that turn's answers are written, or earlier if the SASL claim needs them
# (daemon/peer.c).  What that must not change:
#  - SASL EXTERNAL: container root may claim 0 (its own uid: the bus reads its user
#    namespace there and then) or 100000 (its uid as the bus sees it, dbus-daemon's rule);
#    uid 1000 may not claim 0 or 5.
#  - Every caller still hears credentials in its own namespaces: inside, org.test.Host has
#    pid 0 and uid 65534 and org.test.Inside its own view; from the host, org.test.Inside has
#    its host pid and uid 101000.
#  - The namespaces are those of the process that connected, read while it lived: a
#    connection whose connecting process exited right after Hello (claiming 100000, so SASL
#    asked nothing) and lives on in a child still gets pid 0 for org.test.Host.  A bus that
#    read them only when first asked would find that process gone and could place the
#    connection in its own namespaces, showing the container host pids.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need python3-dbus
ctr_need

ctr_plain_bus_start
ctr_start C1

ok='reply=OK [0-9a-f]{32}$'
ctr_sasl "$C1" "container root" 0 1000 0
expect_match "container root claiming 1000" "$out" '^claim=1000 reply=REJECTED'
expect_match "container root claiming its own uid 0" "$out" "^claim=0 $ok"
expect_eq "container root: GetConnectionUnixUser of itself, as it sees it" "$(kv bus_uid "$out")" 0
ctr_sasl "$C1" "container root" 0 100000
expect_match "container root claiming the uid the bus sees" "$out" "^claim=100000 $ok"
ctr_sasl "$C1" "uid 1000" 1000 0 5 1000
expect_match "uid 1000 claiming 0" "$out" '^claim=0 reply=REJECTED'
expect_match "uid 1000 claiming 5" "$out" '^claim=5 reply=REJECTED'
expect_match "uid 1000 claiming 1000" "$out" "^claim=1000 $ok"
expect_eq "uid 1000: GetConnectionUnixUser of itself" "$(kv bus_uid "$out")" 1000

ctr_service "$C1" 1000 1000 org.test.Inside
ctr_service host 0 0 org.test.Host
inside=$(cat "$CTR_DIR/org.test.Inside.info")
in_pid=$(kv pid "$inside")
in_host_pid=$(ctr_host_pid "$C1" "$in_pid") || fail "no host pid for org.test.Inside (inner pid $in_pid)"

out=$(ctr_exec "$C1" 0 0 /usr/bin/python3 "$IT_DIR/container_query.py" "$ADDR" org.test.Inside org.test.Host \
	2>"$TMP/err") || fail "inside: python3-dbus query failed: $out $(cat "$TMP/err")"
expect_eq "inside: GetConnectionUnixProcessID(org.test.Inside)" "$(kv org.test.Inside.UnixProcessID "$out")" "$in_pid"
expect_eq "inside: GetConnectionUnixUser(org.test.Inside)" "$(kv org.test.Inside.UnixUser "$out")" 1000
expect_eq "inside: GetConnectionUnixProcessID(org.test.Host)" "$(kv org.test.Host.UnixProcessID "$out")" 0
expect_eq "inside: GetConnectionUnixUser(org.test.Host)" "$(kv org.test.Host.UnixUser "$out")" 65534

out=$(t "$PY" "$IT_DIR/container_query.py" "$ADDR" org.test.Inside 2>"$TMP/err") ||
	fail "host: python3-dbus query failed: $out $(cat "$TMP/err")"
expect_eq "host: GetConnectionUnixProcessID(org.test.Inside)" "$(kv org.test.Inside.UnixProcessID "$out")" "$in_host_pid"
expect_eq "host: GetConnectionUnixUser(org.test.Inside)" "$(kv org.test.Inside.UnixUser "$out")" 101000

out=$(ctr_exec "$C1" 0 0 /usr/bin/python3 "$IT_DIR/orphan_query.py" "$ADDR" 100000 org.test.Host org.test.Inside \
	2>"$TMP/err") || fail "orphaned connection: client failed: $out $(cat "$TMP/err")"
expect_match "orphaned connection: finished" "$out" '^done$'
expect_eq "orphaned connection: GetConnectionUnixProcessID(org.test.Host)" "$(kv org.test.Host.UnixProcessID "$out")" 0
expect_eq "orphaned connection: GetConnectionUnixUser(org.test.Host)" "$(kv org.test.Host.UnixUser "$out")" 65534
expect_eq "orphaned connection: GetConnectionUnixProcessID(org.test.Inside)" \
	"$(kv org.test.Inside.UnixProcessID "$out")" "$in_pid"
bus_alive || fail "daemon died"
pass
