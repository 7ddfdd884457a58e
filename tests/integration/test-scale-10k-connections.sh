#!/bin/bash
# 10,000 idle connections holding 100,000 match rules: the bus accepts them all
# (pipelined SASL + Hello + AddMatch), still delivers a broadcast to the one
# subscriber that matches, still answers GetId, and lets them all go.  Prints the
# bus's RSS before and after and the bytes per idle connection.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

CONNS=${NSBUS_SCALE_CONNECTIONS:-10000}
RULES=${NSBUS_SCALE_RULES:-10}

# One fd per connection on each side, plus some.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((CONNS + 200)) ]; then
	ulimit -Hn $((CONNS + 1000)) 2>/dev/null ||
		skip "RLIMIT_NOFILE hard limit $hard < $((CONNS + 200)) and cannot be raised"
fi
ulimit -n "$(ulimit -Hn)" || fail "cannot raise RLIMIT_NOFILE"
log "RLIMIT_NOFILE $(ulimit -n)"

# All connections are root's: nsbusd's per-uid total of match rules must make room too (dbus-daemon has
# no such limit and would reject the name).
per_user=()
is_reference_daemon || per_user=("<limit name=\"max_match_rules_per_user\">$((CONNS * (RULES + 1) + 1000))</limit>")
bus_write_config \
	"<limit name=\"max_completed_connections\">$((CONNS + 1000))</limit>" \
	"<limit name=\"max_incomplete_connections\">$((CONNS + 1000))</limit>" \
	"<limit name=\"max_connections_per_user\">$((CONNS + 1000))</limit>" \
	"<limit name=\"max_match_rules_per_connection\">$((RULES + 100))</limit>" \
	"${per_user[@]}"
bus_start

TMO=200 t $PY "$IT_DIR/scale_connections.py" "$BUS_PID" "$CONNS" "$RULES"
rc=$?
[ $rc -eq 77 ] && skip "see above"
[ $rc -eq 0 ] || fail "scale scenario failed (exit $rc, see above)"
pass
