#!/bin/bash
# The bridge is no longer recognised by its uid.  nsbridge runs as the container's mapped root (host
# uid 100000 here), which is also the host uid of container root, so a bus that trusted that uid on
# host.sock let container root, given a way to host.sock, own the names the bridge policy imports
# from the host.  Now host.sock admits only the host's root and uid 100000 in the bus's own user and
# pid namespaces, and that one must present the bus's random bridge key (org.nsbus.Container1.
# ClaimBridge) before anything else; only the host's root reads the key (GetBridgeKey).
#
# With ctr_bus_start's cover of the runtime directory taken away inside, RUNTIME/NAME (0700, the
# host root's) still keeps container root from host.sock; opened to 0755, so that only the bus's own
# checks are left, container root connecting to host.sock is refused (its Hello gets AccessDenied).  A host process as
# uid 100000, the bridge's identity without the key, is admitted, but every call it makes (RequestName
# of the imported name, Container1.GetInfo, GetBridgeKey, GetId) is AccessDenied until it claims; a
# wrong key (one byte off, short, long) is AccessDenied "Wrong bridge key" and ends the connection, and
# so does a signal sent before claiming.  Container root's own socket does not help: ClaimBridge and
# GetBridgeKey are refused there and the imported name stays reserved.  The legitimate path: the
# host's root reads GetInfo and the 32-byte key through host.sock, and a uid 100000 process that
# presents it may call GetInfo and own the imported name, which the container then sees owned.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send busctl "$PY"
ctr_need

IMPORTED=org.example.Host
policy=$TMP/c1.policy
cat >"$policy" <<EOF
# the bridge policy of container c1
import talk $IMPORTED
EOF
ctr_start C1
ctr_bus_start "$C1" --policy="$policy"
HOST_SOCK=$CTR_RT/$CTR_NAME/host.sock
DENIED=org.freedesktop.DBus.Error.AccessDenied
CLAIM_FIRST="host\.sock is for the host's root and the container's bridge: call org\.nsbus\.Container1\.ClaimBridge first"
BRIDGE_UID=100000 # the container's mapped root, the uid nsbridge runs as

# Make host.sock reachable from inside, as a careless runtime might: uncover the runtime directory in the
# container's mount namespace, then open RUNTIME/NAME, so that only the bus's own checks are left.
t nsenter -t "$C1" -m -- umount "$CTR_RT" || fail "cannot uncover $CTR_RT inside the container"
# RUNTIME/NAME as the bus made it keeps container root out by itself: the host's root owns it, and
# that uid is not mapped in the container.
expect_eq "owner and mode of $CTR_RT/$CTR_NAME as the bus made it" "$(stat -c '%u:%g %a' "$CTR_RT/$CTR_NAME")" "0:0 700"
out=$(ctr_exec "$C1" 0 0 dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.GetId 2>&1) && fail "container root reached host.sock through the 0700 directory: $out"
expect_match "container root: host.sock through the 0700 directory" "$out" "Failed to connect to socket $HOST_SOCK: Permission denied"
chmod 0755 "$CTR_RT/$CTR_NAME"
ctr_exec "$C1" 0 0 test -S "$HOST_SOCK" || fail "host.sock is still out of container root's reach at $HOST_SOCK"

# (1) Container root on host.sock: refused by what the kernel says of it at accept; its Hello gets
# AccessDenied with the reason (dbus-send prints it, busctl the errno), then the connection ends.
out=$(ctr_exec "$C1" 0 0 dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.RequestName "string:$IMPORTED" uint32:4 2>&1) &&
	fail "container root: dbus-send RequestName($IMPORTED) on host.sock answered: $out"
expect_match "container root: dbus-send on host.sock" "$out" \
	'^Failed to register on connection to "unix:path=.*host\.sock" message bus: host\.sock is only for the host.s root and the container.s bridge$'
out=$(ctr_exec "$C1" 0 0 busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus RequestName su "$IMPORTED" 4 2>&1) && fail "container root: busctl RequestName($IMPORTED) on host.sock answered: $out"
expect_match "container root: busctl on host.sock" "$out" '^Call failed: Access denied$'
refused="connection \(pid [0-9]+, uid $BRIDGE_UID\): disconnected: refused: host\.sock is only for the host's root and the container's bridge"
expect_eq "bus log: container root refused on host.sock" "$(grep -Ec -- "$refused" "$TMP/bus.log")" 2

# ... and on its own socket it cannot claim to be the bridge, read the key, or own the imported name.
inside_driver() {
	ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus "$@" 2>&1
}
out=$(inside_driver org.nsbus.Container1.ClaimBridge array:byte:1,2,3) && fail "container root: ClaimBridge inside answered: $out"
expect_match "container root: ClaimBridge inside" "$out" \
	"^Error $DENIED: Only a connection on host\.sock as the container's bridge may claim to be it"
out=$(inside_driver org.nsbus.Container1.GetBridgeKey) && fail "container root: GetBridgeKey inside answered: $out"
expect_match "container root: GetBridgeKey inside" "$out" "^Error $DENIED: org\.nsbus\.Container1\.GetBridgeKey is only for the host's root"
out=$(inside_driver org.freedesktop.DBus.RequestName "string:$IMPORTED" uint32:4) &&
	fail "container root: RequestName($IMPORTED) inside answered: $out"
expect_match "container root: RequestName($IMPORTED) inside" "$out" \
	"^Error $DENIED: Connection \":1\.[0-9]+\" is not allowed to own the service \"$IMPORTED\": the container's bridge policy imports it from the host bus"

# The host's root: GetInfo and the bridge key through host.sock.
out=$(t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.nsbus.Container1 GetInfo 2>&1) || fail "host root: GetInfo through host.sock failed: $out"
expect_eq "host root: GetInfo through host.sock" "$out" "sua(uuu)a(uuu) \"$CTR_NAME\" $C1 1 0 100000 65536 1 0 100000 65536"
out=$(t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.nsbus.Container1 GetBridgeKey 2>&1) || fail "host root: GetBridgeKey through host.sock failed: $out"
expect_match "host root: GetBridgeKey through host.sock" "$out" '^ay 32( [0-9]+){32}$'
read -r -a kw <<<"$out"
KEY=("${kw[@]:2}")
[ "${#KEY[@]}" = 32 ] || fail "GetBridgeKey: ${#KEY[@]} bytes"
printf '%s\n' "${KEY[@]}" | grep -qv '^0$' || fail "GetBridgeKey: the key is all zeros"
key_csv=$(IFS=,; echo "${KEY[*]}")
wrong=("${KEY[@]}")
wrong[0]=$((wrong[0] ^ 1))
wrong_csv=$(IFS=,; echo "${wrong[*]}")

# (2) A host process with the bridge's uid but not its key.
as_bridge_uid() {
	t setpriv --reuid="$BRIDGE_UID" --regid="$BRIDGE_UID" --clear-groups -- \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ PYTHONDONTWRITEBYTECODE=1 "$@"
}
expect_eq "as_bridge_uid id" "$(as_bridge_uid id -u):$(as_bridge_uid id -G)" "$BRIDGE_UID:$BRIDGE_UID"
for call in "org.freedesktop.DBus.RequestName string:$IMPORTED uint32:4" org.nsbus.Container1.GetInfo \
	org.nsbus.Container1.GetBridgeKey org.freedesktop.DBus.GetId; do
	# shellcheck disable=SC2086 # the method and its arguments
	out=$(as_bridge_uid dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus $call 2>&1) && fail "uid $BRIDGE_UID without the key: $call answered: $out"
	expect_match "uid $BRIDGE_UID without the key: $call" "$out" "^Error $DENIED: $CLAIM_FIRST\$"
done
out=$(as_bridge_uid dbus-send --bus="$HOST_ADDR" --print-reply=literal --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.nsbus.Container1.ClaimBridge "array:byte:$wrong_csv" 2>&1) &&
	fail "uid $BRIDGE_UID: ClaimBridge with a wrong key answered: $out"
expect_match "uid $BRIDGE_UID: dbus-send ClaimBridge with a wrong key" "$out" "^Error $DENIED: Wrong bridge key\$"

# The raw client, for what happens to the connection; and the legitimate bridge with the key.
cat >"$TMP/claim.py" <<'EOF'
import os, sys, time
sys.path.insert(0, sys.argv[1])
from raw_client import Conn, ERROR

addr, mode, key = sys.argv[2], sys.argv[3], [int(x) for x in sys.argv[4].split(',') if x]
C1 = 'org.nsbus.Container1'


def show(tag, r):
    if r.type == ERROR:
        print('%s=error %s: %s' % (tag, r.error_name, r.body[0] if r.body else ''), flush=True)
    else:
        print('%s=return %r' % (tag, r.body), flush=True)


c = Conn(addr)
print('hello=%s' % c.connect_bus(), flush=True)
if mode == 'wrong':
    show('claim', c.driver('ClaimBridge', 'ay', (key,), iface=C1))
    print('closed=%s' % c.wait_eof(5), flush=True)
elif mode == 'signal':
    c.send_signal('/org/example/Host', 'org.example.Host', 'Changed')
    print('closed=%s' % c.wait_eof(5), flush=True)
else:
    show('request_before', c.driver('RequestName', 'su', (mode, 4)))
    show('claim', c.driver('ClaimBridge', 'ay', (key,), iface=C1))
    show('getinfo', c.driver('GetInfo', iface=C1))
    show('request', c.driver('RequestName', 'su', (mode, 4)))
    # Hold the name until the test is done with it.
    deadline = time.monotonic() + 30
    while not os.path.exists(sys.argv[5]) and time.monotonic() < deadline:
        time.sleep(0.05)
EOF
for k in "$wrong_csv" 1,2,3 "$key_csv,0"; do
	out=$(as_bridge_uid "$PY" "$TMP/claim.py" "$IT_DIR" "$HOST_ADDR" wrong "$k" 2>&1) ||
		fail "uid $BRIDGE_UID: raw ClaimBridge with a wrong key ($k) failed: $out"
	expect_match "uid $BRIDGE_UID: raw ClaimBridge with a wrong key ($k)" "$out" "^claim=error $DENIED: Wrong bridge key\$"
	expect_match "uid $BRIDGE_UID: the connection after a wrong key ($k)" "$out" '^closed=True$'
done
# dbus-send's wrong key and the three raw ones.
refused="peer :1\.[0-9]+ \(pid [0-9]+, uid $BRIDGE_UID\): disconnected: refused: presented a wrong bridge key"
expect_eq "bus log: wrong bridge keys" "$(grep -Ec -- "$refused" "$TMP/bus.log")" 4
# A signal, which cannot be answered with an error, ends the connection of a candidate at once.
out=$(as_bridge_uid "$PY" "$TMP/claim.py" "$IT_DIR" "$HOST_ADDR" signal "" 2>&1) ||
	fail "uid $BRIDGE_UID: raw signal before ClaimBridge failed: $out"
expect_match "uid $BRIDGE_UID: the connection after a signal before ClaimBridge" "$out" '^closed=True$'
refused="peer :1\.[0-9]+ \(pid [0-9]+, uid $BRIDGE_UID\): disconnected: sent a message on host\.sock before proving to be the bridge"
expect_eq "bus log: a signal before ClaimBridge" "$(grep -Ec -- "$refused" "$TMP/bus.log")" 1

# (3) The legitimate bridge: uid 100000 on the host with the key that host root read.
spawn as_bridge_uid "$PY" "$TMP/claim.py" "$IT_DIR" "$HOST_ADDR" "$IMPORTED" "$key_csv" "$TMP/release" \
	>"$TMP/bridge.out" 2>"$TMP/bridge.err"
bridge_pid=$!
wait_for_file "$TMP/bridge.out" '^request=' || fail "the bridge with the key: $(cat "$TMP/bridge.out" "$TMP/bridge.err")"
bridge=$(cat "$TMP/bridge.out")
expect_match "the bridge with the key: RequestName before ClaimBridge" "$bridge" "^request_before=error $DENIED: $CLAIM_FIRST\$"
expect_match "the bridge with the key: ClaimBridge" "$bridge" '^claim=return \[\]$'
expect_match "the bridge with the key: GetInfo" "$bridge" \
	"^getinfo=return \['$CTR_NAME', $C1, \[\(0, 100000, 65536\)\], \[\(0, 100000, 65536\)\]\]\$"
expect_match "the bridge with the key: RequestName($IMPORTED)" "$bridge" '^request=return \[1\]$'
bridge_unique=$(sed -n 's/^hello=//p' <<<"$bridge")

# The container sees the bridge own it, and container root still cannot have it.
out=$(inside_driver org.freedesktop.DBus.GetNameOwner "string:$IMPORTED") || fail "GetNameOwner($IMPORTED) inside failed: $out"
expect_eq "inside: GetNameOwner($IMPORTED)" "$(words "$out")" "$bridge_unique"
out=$(inside_driver org.freedesktop.DBus.RequestName "string:$IMPORTED" uint32:2) &&
	fail "container root: RequestName($IMPORTED) while the bridge owns it answered: $out"
expect_match "container root: RequestName($IMPORTED) while the bridge owns it" "$out" "^Error $DENIED: .*imports it from the host bus"
touch "$TMP/release"
wait "$bridge_pid" || fail "the bridge with the key exited with $?: $(cat "$TMP/bridge.err")"
chmod 0700 "$CTR_RT/$CTR_NAME"

pass
