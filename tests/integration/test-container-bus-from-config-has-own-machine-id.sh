#!/bin/bash
# The XML form of container mode: <container pid= name= runtime_dir=/> in the configuration file
# starts the same per-container bus as --container-pid. Inside the container the bus is the
# container's machine: Peer.GetMachineId answers with the container's /etc/machine-id (here a
# file bind-mounted over it inside the container only), while host peers get the host's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send busctl python3-dbus
ctr_need

ctr_start C1
echo 0123456789abcdef0123456789abcdef >"$TMP/container-machine-id"
t nsenter -t "$C1" -m -- mount --no-mtab --bind "$TMP/container-machine-id" /etc/machine-id ||
	fail "cannot give container $C1 its own machine id"

mkdir -p "$CTR_RT"
cat >"$CONF" <<XML
<busconfig>
  <container pid="$C1" name="from-config" runtime_dir="$CTR_RT"/>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
XML
"$NSBUSD" --config-file="$CONF" --nofork --print-address=3 3>"$TMP/addr" 2>"$TMP/bus.log" &
BUS_PID=$!
for i in $(seq 1 100); do
	# The sockets come before the address line: wait for both (a whole line, it may come in pieces).
	[ -S "$CTR_RT/from-config/host.sock" ] && [ "$(wc -l <"$TMP/addr")" -ge 1 ] && break
	kill -0 "$BUS_PID" 2>/dev/null || fail "nsbusd with <container> exited during startup"
	sleep 0.05
done
[ -S "$CTR_RT/from-config/bus/system_bus_socket" ] || fail "no container socket: $(ls -laR "$CTR_RT" 2>&1)"
[ -S "$CTR_RT/from-config/host.sock" ] || fail "no host.sock: $(ls -laR "$CTR_RT" 2>&1)"
expect_match "printed address" "$(head -n 1 "$TMP/addr")" "^unix:path=$CTR_RT/from-config/bus/system_bus_socket,guid="
t nsenter -t "$C1" -m -- mount --no-mtab --bind "$CTR_RT/from-config/bus" /run/dbus ||
	fail "bind-mounting the bus directory in container $C1 failed"
HOST_ADDR=unix:path=$CTR_RT/from-config/host.sock
export DBUS_SESSION_BUS_ADDRESS=$HOST_ADDR # what pass() asks through

out=$(ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.Peer.GetMachineId 2>"$TMP/err") ||
	fail "GetMachineId inside failed: $out $(cat "$TMP/err")"
expect_eq "machine id inside the container" "$(words "$out")" 0123456789abcdef0123456789abcdef
host_id=$(head -c 32 /etc/machine-id)
out=$(t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.Peer GetMachineId 2>"$TMP/err") || fail "GetMachineId on the host failed: $out $(cat "$TMP/err")"
expect_eq "machine id through host.sock" "$out" "s \"$host_id\""

# The identity rules hold for a bus started this way too.
out=$(ctr_exec "$C1" 1000 1000 /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" 2>"$TMP/err") ||
	fail "python3-dbus inside failed: $out $(cat "$TMP/err")"
expect_eq "GetConnectionUnixUser of a uid-1000 client, asked by itself" "$(kv self.UnixUser "$out")" 1000
expect_eq "GetConnectionUnixProcessID of that client" "$(kv self.UnixProcessID "$out")" "$(kv self.pid "$out")"

pass
