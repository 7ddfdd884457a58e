#!/bin/bash
# The init of the bench's CRIU container (bench/criu-cycle.sh): pid 1 of its pid namespace, run inside it
# as `criu_init.sh DIR N NAMED`, where DIR (the container's shared directory) holds criu_holder.py.
#
# As tests/integration/criu_container_init.sh does, it closes what it inherited from the host (CRIU cannot
# dump the host's files), writes its output to DIR/init.log and becomes a session leader, so that the
# dumped tree holds its own session. With N > 0 it waits for the bus at /run/dbus first. Then it starts
# the one process of the container, criu_holder.py with N connections (NAMED of them owning a name), and
# waits, reaping it. SIGTERM ends it at once (a pid namespace's init ignores a signal it has no handler
# for), and with it the namespace: the bench's cleanup need not wait for its SIGKILL.
dir=$1 n=$2 named=$3
if [ "${CRIU_INIT_LEADER:-}" != 1 ]; then
	# Not 255: bash reads this script from it (it is close-on-exec, and inside the container).
	for fd in /proc/self/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
	done 2>/dev/null
	exec </dev/null >"$dir/init.log" 2>&1
	CRIU_INIT_LEADER=1 exec setsid bash "$0" "$@"
fi
cd / || exit 1
trap 'exit 0' TERM
addr=unix:path=/run/dbus/system_bus_socket
if [ "$n" -gt 0 ]; then
	while [ ! -S /run/dbus/system_bus_socket ]; do sleep 0.1; done
fi
/usr/bin/python3 "$dir/criu_holder.py" "$addr" "$n" "$named" "$dir/holder.info" "$dir/holder.log" \
	>>"$dir/init.log" 2>&1 &
wait
