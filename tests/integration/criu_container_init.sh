#!/bin/bash
# The init of test-criu-restores-a-container-bus's container: pid 1 of its pid namespace, run inside it
# (so that CRIU can dump it), as `criu_container_init.sh CTR_DIR IT_DIR NAME`.
#
# It closes what it inherited from the host (CRIU cannot dump the host's files), writes its output to
# CTR_DIR/init.log and becomes a session leader, so that the dumped tree holds its own session. Once the
# bus is at /run/dbus it starts criu_peers.py's service owning NAME, and once the service owns it and the
# test has made CTR_DIR/start-client, the client; then it waits, reaping them.
ctr=$1 it=$2 name=$3
if [ "${CRIU_INIT_LEADER:-}" != 1 ]; then
	# Not 255: bash reads this script from it (it is close-on-exec, and inside the container).
	for fd in /proc/self/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
	done 2>/dev/null
	exec </dev/null >"$ctr/init.log" 2>&1
	CRIU_INIT_LEADER=1 exec setsid bash "$0" "$@"
fi
cd / || exit 1
addr=unix:path=/run/dbus/system_bus_socket
while [ ! -S /run/dbus/system_bus_socket ]; do sleep 0.1; done
/usr/bin/python3 "$it/criu_peers.py" service "$addr" "$name" "$ctr/service.info" >"$ctr/service.log" 2>&1 &
while [ ! -s "$ctr/service.info" ] || [ ! -e "$ctr/start-client" ]; do sleep 0.1; done
/usr/bin/python3 "$it/criu_peers.py" client "$addr" "$name" before-dump >"$ctr/client.log" 2>&1 &
wait
