#!/bin/bash
# nsbridge exports a container service to the host bus under its new name.  Inside, a python3-dbus
# service (container uid 1000) owns com.example.Web; the policy says
#     export own com.example.Web as com.example.Web.c1
# On the host bus ($HOSTBUS) com.example.Web.c1 appears, owned by the bridge as uid 100000, and
# com.example.Web itself does not.  Host callers call com.example.Web.c1 and reach the service, which
# asks nsbusd who is calling: the host caller, as the container sees it, never the bridge.  Host root
# is UnixUserID 65534 there, with ProcessID 0 (or none) and no ProcessFD, since no host process is
# visible inside; a host caller running as host uid 100500 is container uid 500.  Each host caller
# is its own connection inside: one process calling twice is one sender, two processes are two.
# Calls sent to the name (dbus-send, busctl) and to its owner's unique name (python3-dbus and GDBus
# proxies) both reach the service.  nsbusctl creds shows the connection the service saw as a bridge
# connection proxying for exactly the host caller (ProxiedFor: its unique name on the host bus).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bridge_fixture
ctr_spawn "$C1" 1000 1000 /usr/bin/python3 "$IT_DIR/bridge_web_service.py" "$CTR_ADDR" "$CTR_DIR/web.info" \
	2>"$TMP/web.err"
wait_for_file "$CTR_DIR/web.info" '^unique=:' 10 || fail "the container service did not start: $(cat "$TMP/web.err")"
web_pid=$(kv pid "$(cat "$CTR_DIR/web.info")")

hostbus_wait_name com.example.Web.c1 10
hostbus_has_owner com.example.Web && fail "com.example.Web itself is owned on the host bus"
out=$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixUser \
	string:com.example.Web.c1) || fail "GetConnectionUnixUser(com.example.Web.c1) on the host bus failed"
expect_eq "the host uid that owns com.example.Web.c1" "$(words "$out")" "uint32 100000"

# check_host_root_caller OUT N HOW: web.N of OUT is what the service heard about a host root caller.
check_host_root_caller() {
	local who="host root caller ($3), call $2"
	expect_match "$who: the caller's unique name inside" "$(kv "web.$2.sender" "$1")" '^:[0-9]+\.[0-9]+$'
	expect_eq "$who: the service's own pid (the call reached it)" "$(kv "web.$2.pid" "$1")" "$web_pid"
	expect_eq "$who: GetConnectionCredentials UnixUserID inside" "$(kv "web.$2.UnixUserID" "$1")" 65534
	local pid gids
	pid=$(kv "web.$2.ProcessID" "$1")
	[ -z "$pid" ] || [ "$pid" = 0 ] || fail "$who: GetConnectionCredentials ProcessID inside is '$pid', not 0 or absent"
	expect_no_match "$who: GetConnectionCredentials keys inside" "$(kv "web.$2.keys" "$1")" ProcessFD
	gids=$(kv "web.$2.UnixGroupIDs" "$1")
	[ -z "$gids" ] || [[ "$gids" =~ ^65534(,65534)*$ ]] ||
		fail "$who: GetConnectionCredentials UnixGroupIDs inside: expected only 65534, got '$gids'"
}

# python3-dbus on the host, as root, calls sent to the name (as dbus-send and busctl send them): twice
# from one process ...
bridge_client host 0 "$HOSTBUS_ADDR" --by-name web com.example.Web.c1 web com.example.Web.c1 ||
	fail "calling com.example.Web.c1 from the host failed: $out $(cat "$TMP/client.err")"
check_host_root_caller "$out" 1 "to the name"
check_host_root_caller "$out" 2 "to the name"
first=$(kv web.1.sender "$out")
expect_eq "one host process calling twice: the sender inside" "$(kv web.2.sender "$out")" "$first"

# ... and from another process, which is another caller inside.
bridge_client host 0 "$HOSTBUS_ADDR" --by-name web com.example.Web.c1 ||
	fail "calling com.example.Web.c1 from a second host process failed: $out $(cat "$TMP/client.err")"
check_host_root_caller "$out" 1 "to the name, second process"
[ "$(kv web.1.sender "$out")" != "$first" ] ||
	fail "two host processes are one sender ($first) inside: the bridge merges distinct callers"

# A host caller whose uid is mapped into the container is seen as that inside uid.
out=$(t setpriv --reuid=100500 --regid=100500 --clear-groups -- "$PY" "$IT_DIR/bridge_client.py" "$HOSTBUS_ADDR" \
	--by-name web com.example.Web.c1 2>"$TMP/client.err") ||
	fail "calling com.example.Web.c1 as host uid 100500 failed: $out $(cat "$TMP/client.err")"
expect_eq "host uid 100500 caller: UnixUserID inside" "$(kv web.1.UnixUserID "$out")" 500
gids=$(kv web.1.UnixGroupIDs "$out")
[ -z "$gids" ] || expect_eq "host uid 100500 caller: UnixGroupIDs inside" "$gids" 500
pid=$(kv web.1.ProcessID "$out")
[ -z "$pid" ] || [ "$pid" = 0 ] || fail "host uid 100500 caller: ProcessID inside is '$pid', not 0 or absent"

# busctl (sd-bus) on the host reaches it too.
out=$(t busctl --address="$HOSTBUS_ADDR" --no-pager call com.example.Web.c1 /com/example/Web com.example.Web Pid \
	2>"$TMP/err") || fail "busctl call com.example.Web.c1 failed: $out $(cat "$TMP/err")"
expect_eq "busctl on the host: the container service's Pid" "$out" "u $web_pid"

# python3-dbus's proxies (like GDBus's) send to the unique name that owns com.example.Web.c1.
bridge_client host 0 "$HOSTBUS_ADDR" web com.example.Web.c1 ||
	fail "calling com.example.Web.c1's owner from the host failed: $out $(cat "$TMP/client.err")"
check_host_root_caller "$out" 1 "python3-dbus proxy, to the owner's unique name"

# nsbusctl creds names whom the bridge's connection speaks for: while a host caller is connected, the
# connection the container service saw calling is a bridge connection proxying for exactly that
# caller's unique name on the host bus.
if [ -x "${NSBUSCTL:-}" ]; then
	"$PY" "$IT_DIR/bridge_client.py" "$HOSTBUS_ADDR" web com.example.Web.c1 "wait:$TMP/proxied.go" \
		>"$TMP/proxied.out" 2>"$TMP/proxied.err" &
	caller=$!
	wait_for_file "$TMP/proxied.out" '^web\.1\.sender=' 10 ||
		fail "the host caller got no answer: $(cat "$TMP/proxied.err")"
	link=$(kv web.1.sender "$(cat "$TMP/proxied.out")")
	js=$(t "$NSBUSCTL" --runtime-dir="$CTR_RT" -C "$CTR_NAME" --json=short creds "$link") ||
		fail "nsbusctl creds $link: $js"
	for_=$("$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); print(j["trust"], j["proxied"], j["proxied_for"])' "$js")
	read -r trust proxied host_name <<<"$for_"
	expect_eq "creds of the caller's connection inside: trust and proxied" "$trust $proxied" "bridge True"
	out=$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.GetConnectionUnixProcessID "string:$host_name") ||
		fail "ProxiedFor $host_name is no connection on the host bus"
	expect_eq "ProxiedFor is the host caller's connection" "$(words "$out")" "uint32 $caller"
	touch "$TMP/proxied.go"
	wait "$caller"
else
	echo "skipped: the ProxiedFor check (nsbusctl not built)"
fi

bridge_pass
