#!/bin/bash
# The ProcessFD in GetConnectionCredentials is a pidfd for the peer itself, given only to a
# caller who can see the peer.  A python3-dbus service runs inside a uid-shifted container
# as uid 1000 and owns org.test.Inside.  Inside the container the pidfd's
# /proc/self/fdinfo "Pid:" (read through the container's /proc) is the service's own
# getpid(); on the host it is the service's host pid, and NSpid is the whole chain.  A peer
# on the host is invisible from inside, so no pidfd is given for it there.  Last, SIGTERM
# sent through the host's pidfd (pidfd_send_signal) ends exactly that service.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need python3-dbus
ctr_need

ctr_inside_and_host_services

for uid in 0 1000; do
	who="inside as uid $uid"
	out=$(ctr_exec "$C1" "$uid" "$uid" /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" \
		org.test.Inside org.test.Host 2>"$TMP/err") || fail "$who: python3-dbus query failed: $out $(cat "$TMP/err")"
	expect_match "$who: credential keys of org.test.Inside" "$(kv org.test.Inside.keys "$out")" '(^|,)ProcessFD(,|$)'
	expect_eq "$who: fdinfo Pid of org.test.Inside's ProcessFD" "$(kv org.test.Inside.ProcessFD.Pid "$out")" "$in_pid"
	expect_eq "$who: fdinfo NSpid of org.test.Inside's ProcessFD" "$(kv org.test.Inside.ProcessFD.NSpid "$out")" "$in_pid"
	expect_eq "$who: ProcessFD of org.test.Host (not visible here)" "$(kv org.test.Host.ProcessFD "$out")" absent
done

out=$(t "$PY" "$IT_DIR/container_query.py" "$HOST_ADDR" org.test.Inside org.test.Host 2>"$TMP/err") ||
	fail "python3-dbus query through host.sock failed: $out $(cat "$TMP/err")"
expect_eq "host: fdinfo Pid of org.test.Inside's ProcessFD" "$(kv org.test.Inside.ProcessFD.Pid "$out")" "$in_host_pid"
expect_eq "host: fdinfo NSpid of org.test.Inside's ProcessFD" "$(kv org.test.Inside.ProcessFD.NSpid "$out")" "$in_host_pid $in_pid"
expect_eq "host: fdinfo Pid of org.test.Host's ProcessFD" "$(kv org.test.Host.ProcessFD.Pid "$out")" "$host_svc_pid"

# The pidfd is that very process: a signal through it ends org.test.Inside and nothing else.
out=$(t "$PY" "$IT_DIR/container_query.py" "$HOST_ADDR" kill:org.test.Inside 2>"$TMP/err") ||
	fail "pidfd_send_signal through the host's ProcessFD failed: $out $(cat "$TMP/err")"
expect_eq "pidfd_send_signal(SIGTERM) through org.test.Inside's ProcessFD" "$(kv org.test.Inside.killed "$out")" 1
for i in $(seq 1 100); do
	[ -d "/proc/$in_host_pid" ] || break
	sleep 0.05
done
[ -d "/proc/$in_host_pid" ] && fail "org.test.Inside (host pid $in_host_pid) still runs after SIGTERM through its pidfd"
wait_for_name_gone org.test.Inside 5
kill -0 "$host_svc_pid" 2>/dev/null || fail "org.test.Host died too"
kill -0 "$C1" 2>/dev/null || fail "the container's init died too"

pass
