#!/bin/bash
# A container checkpointed with its bus connections is restored onto a fresh bus of another name: the
# one that served it is gone, `nsbusd --restore-from=IMAGES --name=c2` serves the restored container,
# and the plugin takes the images there ($NSBUS_CRIU_HOST_SOCKET, $NSBUS_CRIU_BUS_SOCKET) instead of to
# the bus they name.
# The same checks as test-criu-restores-a-container-bus (lib-criu.sh): the call made before the dump is
# answered, the unread signal arrives, the service has the same unique name and its match rule, and a
# new client inside can call it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-criu.sh"
criu_need

criu_start_container
criu_dump
kill "$BUS_PID"
for i in $(seq 1 100); do
	bus_alive || break
	sleep 0.05
done
! bus_alive || criu_fail "the old bus did not exit on SIGTERM"
wait "$BUS_PID" 2>/dev/null
log "the old bus is gone"

# The fresh bus, in the same runtime directory under another name.
FRESH=c2
mkdir -p "$CTR_RT/$FRESH"
chmod 0700 "$CTR_RT/$FRESH"
: >"$TMP/addr"
"$NSBUSD" --restore-from="$CRIU_IMG" --runtime-dir="$CTR_RT" --name="$FRESH" --nofork --print-address=3 \
	3>"$TMP/addr" 2>"$TMP/bus.log" &
BUS_PID=$!
for i in $(seq 1 100); do
	[ "$(wc -l <"$TMP/addr")" -ge 1 ] && break
	bus_alive || criu_fail "nsbusd --restore-from exited during startup"
	sleep 0.05
done
[ -S "$CTR_RT/$FRESH/host.sock" ] || criu_fail "the fresh bus made no $CTR_RT/$FRESH/host.sock"
# As nsbusctl restore points the plugin at a bus: both of its sockets as the host sees them. The
# container does not see the second; its /run/dbus is the fresh bus's, as the restore mounts it.
export NSBUS_CRIU_HOST_SOCKET=$CTR_RT/$FRESH/host.sock
export NSBUS_CRIU_BUS_SOCKET=$CTR_RT/$FRESH/bus/system_bus_socket
export DBUS_SESSION_BUS_ADDRESS=unix:path=$CTR_RT/$FRESH/host.sock
log "fresh bus $BUS_PID: $(head -n 1 "$TMP/addr")"

criu_restore "$CTR_RT/$FRESH/bus"
criu_check_restored
pass
