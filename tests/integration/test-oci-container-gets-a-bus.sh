#!/bin/bash
# A crun container whose config.json has the hooks of examples/containers/oci/hooks.json (the installed
# copy, naming the installed nsbus-hook) gets its bus, without and with a user namespace (0 -> 100000):
#  - a D-Bus client inside (python3-dbus from the host's /usr, as the container's root) reaches
#    /run/dbus/system_bus_socket and is told its own pid and uid as the container sees them, and pid 0 for
#    the bus;
#  - with ID.policy in the hooks' policy-dir importing org.example.Host, it calls that host service through
#    the bridge, which the host service sees as the container's root (0, or 100000 when mapped);
#  - after crun delete (poststop), /run/nsbus/ID is gone and no nsbusd, nsbridge or supervisor remains;
#  - crun refuses the container, with the hook's "nsbus-hook: <what>: <why>" on the hook's stderr, when
#    the hook gets a state that is not JSON, a state naming a process that does not exist, or when the bus
#    cannot start (a policy that does not parse); nothing of the bus is left then either.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
. "$(dirname "$0")/lib-oci.sh"
is_reference_daemon && skip "the runtime hooks run nsbusd; $NSBUSD is the reference daemon"
bridge_need
oci_need --userns
PREFIX=$TMP/prefix
install_prefix "$PREFIX"
hostbus_start
hostsvc_start org.example.Host
trap 'oci_cleanup; ctr_cleanup; bridge_cleanup; cleanup
[ -z "${oci_cleanup_failed:-}${ctr_cleanup_failed:-}${bridge_cleanup_failed:-}" ] || exit 1' EXIT

mkdir -p "$TMP/policies" "$TMP/hooklogs"
cat >"$TMP/nsbus.conf" <<EOF
host-bus = $HOSTBUS_ADDR
policy-dir = $TMP/policies
log-dir = $TMP/hooklogs
add-user = no
EOF
# crun create runs the hooks with its own environment (a hook without "env" inherits it).
export NSBUS_CONFIG=$TMP/nsbus.conf
HOOKS=$PREFIX/share/nsbus/oci/hooks.json
hook_of() { "$PY" -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]][0]))' "$HOOKS" "$1"; }
CREATE_HOOK=$(hook_of createRuntime)
STOP_HOOK=$(hook_of poststop)

client() {
	oci_exec "$1" /usr/bin/python3 - host <"$IT_DIR/runtime_client.py"
}

for mode in plain userns; do
	opts=(--host-usr --hook createRuntime "$CREATE_HOOK" --hook poststop "$STOP_HOOK")
	host_uid=0
	if [ "$mode" = userns ]; then
		opts+=(--userns)
		host_uid=100000
	fi
	oci_bundle "$mode" "${opts[@]}"
	id=${OCI_ID[$mode]}
	echo "import talk org.example.Host" >"$TMP/policies/$id.policy"
	oci_up "$mode" cpid
	[ -S "/run/nsbus/$id/bus/system_bus_socket" ] || fail "$mode: no bus at /run/nsbus/$id after crun start"

	out=$(client "$mode" 2>"$TMP/client.err") || fail "$mode: the client in $id failed: $(cat "$TMP/client.err")"
	runtime_client_check "$mode" "$out" "$host_uid"
	js=$(t "$PREFIX/bin/nsbusctl" ls "$id" --json=short) || fail "$mode: nsbusctl ls $id: $js"
	got=$("$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); print(j["init_pid"], j["bridge"])' "$js")
	expect_eq "$mode: nsbusctl ls shows the container's process and its bridge" "$got" "$cpid running"

	oci_down "$mode"
	container_bus_gone "$id"
done

# The runtime refuses the container when the hook fails, and the hook's stderr says why. Each case wraps
# the installed hook in a shell that spoils its input, or gives the bus a policy that does not parse.
refused() {
	local name=$1 what=$2 expect=$3 hook=$4
	oci_bundle "$name" --userns --hook createRuntime "$hook" --hook poststop "$STOP_HOOK" \
		--annotation "run.oci.hooks.stderr=$TMP/$name.hook.err"
	local id=${OCI_ID[$name]}
	[ "$name" = badpolicy ] && echo "import sideways org.example.Host" >"$TMP/policies/$id.policy"
	oci_create "$name" && fail "$what: crun create succeeded"
	expect_match "$what: crun says the hook failed" "$(oci_err "$name")" "error executing hook"
	expect_match "$what: the hook says why" "$(cat "$TMP/$name.hook.err" 2>&1)" "$expect"
	[ -z "$(oci_status "$name")" ] || fail "$what: crun still has container $id ($(oci_status "$name"))"
	container_bus_gone "$id"
}
wrap() { "$PY" -c 'import json, sys; print(json.dumps({"path": "/bin/sh", "args": ["sh", "-c", sys.argv[1]]}))' "$1"; }
NSBUS_HOOK=$PREFIX/bin/nsbus-hook
refused garbage "a state that is not JSON" '^nsbus-hook: oci: the state on stdin is not a JSON object' \
	"$(wrap "cat >/dev/null; echo '{\"id\": ' | $NSBUS_HOOK oci createRuntime")"
refused nopid "a state naming a process that does not exist" \
	'^nsbus-hook: .*the container.s init \(pid 2147483647\): No such process' \
	"$(wrap "sed 's/\"pid\": *[0-9]*/\"pid\":2147483647/' | $NSBUS_HOOK oci createRuntime")"
refused badpolicy "a bus that cannot start" '^nsbus-hook: up .*: .*unknown import level "sideways"' "$CREATE_HOOK"
expect_match "the bus's log has the reason too" "$(cat "$TMP/hooklogs/${OCI_ID[badpolicy]}.log")" \
	'^nsbus-hook: up .*sideways'
echo "$TEST_NAME: PASS"
