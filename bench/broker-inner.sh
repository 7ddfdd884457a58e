#!/bin/bash
# Runs inside `unshare -m` (a private mount namespace): give dbus-broker what systemd
# would, then exec the launcher.  SPEC.md "Machine facts": a listening socket from
# systemd-socket-activate, a datagram sink at /run/systemd/journal/socket (the
# launcher logs there and fails without it), and DBUS_SESSION_BUS_ADDRESS pointing at
# its own socket, passed with -E.
#   broker-inner.sh SOCKET CONFIG SINK_PIDFILE
set -eu
sock=$1 conf=$2 pidfile=$3
mkdir -p /run/systemd
mount -t tmpfs -o mode=755 nsbus-bench /run/systemd
mkdir -p /run/systemd/journal
# The sink only has to exist and swallow datagrams; stdin closed so it never blocks.
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
sys.stdout.write("bound\n"); sys.stdout.flush()
while True:
    s.recv(65536)
' </dev/null >"$pidfile.log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 1 100); do
	[ -S /run/systemd/journal/socket ] && break
	sleep 0.02
done
exec systemd-socket-activate -l "$sock" -E "DBUS_SESSION_BUS_ADDRESS=unix:path=$sock" \
	dbus-broker-launch --scope user --config-file "$conf"
