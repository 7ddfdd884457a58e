#!/bin/bash
# A peer whose connecting process is gone before the bus looks at it is placed nowhere
# (foreign), on a plain bus too: it hears pid 0 for everyone.  Counted as one of the bus's
# own namespaces instead (dbus-daemon's view of everyone), a process of a uid-shifted
# container that reaches a plain bus's socket could connect, fork, exit before the bus
# accepts, and leave the socket to a child that hears host pids.  The bus is stopped
# (SIGSTOP) while that happens, so the order is certain; it then accepts a connection whose
# process has been reaped.  A peer that is alive and in the container still hears its own
# view (test-plain-bus-reads-namespaces-in-the-accepting-turn).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need python3-dbus
ctr_need

ctr_plain_bus_start
ctr_start C1
ctr_service host 0 0 org.test.Host
host_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Host.info")")

ready=$CTR_DIR/ready
chmod 0777 "$CTR_DIR"
kill -STOP "$BUS_PID"
ctr_exec "$C1" 0 0 /usr/bin/python3 "$IT_DIR/early_exit_query.py" "$ADDR" 100000 "$ready" org.test.Host \
	>"$TMP/early.out" 2>"$TMP/early.err" &
for _ in $(seq 1 200); do [ -e "$ready" ] && break; sleep 0.05; done
kill -CONT "$BUS_PID"
[ -e "$ready" ] || fail "the early-exit client did not get ready: $(cat "$TMP/early.err")"
for _ in $(seq 1 200); do grep -q 'UnixProcessID=' "$TMP/early.out" && break; sleep 0.05; done
out=$(cat "$TMP/early.out")
expect_match "vanished peer: answered" "$out" '^org.test.Host.UnixProcessID='
[ "$(kv org.test.Host.UnixProcessID "$out")" != "$host_pid" ] ||
	fail "vanished peer: GetConnectionUnixProcessID(org.test.Host) is the host pid $host_pid"
expect_eq "vanished peer: GetConnectionUnixProcessID(org.test.Host)" "$(kv org.test.Host.UnixProcessID "$out")" 0
bus_alive || fail "daemon died"
pass
