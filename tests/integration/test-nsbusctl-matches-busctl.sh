#!/bin/bash
# nsbusctl list, call, get-property, set-property, introspect and tree print what busctl prints against
# the same bus,
# in busctl's format and in busctl's JSON (parsed, and compared with the values sent); a bad argument
# is refused with the argument and the type it should have.
. "$(dirname "$0")/lib.sh"
need busctl python3-dbus
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"

bus_start
spawn $PY "$IT_DIR/cli_service.py" >"$TMP/svc.out"
SVC_PID=${BG_PIDS[-1]}
wait_for_name org.nsbus.CliTest
SVC_UNIQUE=$(awk '/^ready/ {print $2}' "$TMP/svc.out")

ours() { t "$NSBUSCTL" --address="$ADDR" "$@"; }
theirs() { t busctl --address="$ADDR" --no-pager "$@"; }
same() { # same WHAT ARGS...: both print the same thing
	local what=$1 a b
	shift
	a=$(ours "$@" 2>&1) || fail "$what: nsbusctl failed: $a"
	b=$(theirs "$@" 2>&1) || fail "$what: busctl failed: $b"
	expect_eq "$what" "$a" "$b"
}
OBJ=(org.nsbus.CliTest /org/nsbus/CliTest org.nsbus.CliTest)

# call, for each signature the issue names but 'h' (busctl 252 cannot pass fds: "UNIX file descriptor
# not supported as type"), in both formats.
calls=(
	"EchoString s hello"
	"EchoString s with\"quote\\and\ttab"
	"EchoInts ai 3 1 -2 2147483647"
	"EchoInts ai 0"
	"EchoDict a{sv} 3 Key s text N u 5 L as 2 x y"
	"EchoStruct (is) -5 five"
	"EchoVariant v u 7"
	"EchoVariant v (is) 1 one"
)
for c in "${calls[@]}"; do
	read -r -a w <<<"$c"
	same "call ${w[*]}" -- call "${OBJ[@]}" "${w[@]}"
	same "call --json=short ${w[*]}" --json=short -- call "${OBJ[@]}" "${w[@]}"
	same "call --verbose ${w[*]}" --verbose -- call "${OBJ[@]}" "${w[@]}"
done

# JSON that a program reads: the values sent come back.
out=$(ours --json=short call "${OBJ[@]}" EchoDict 'a{sv}' 2 Key s text N u 5) || fail "json call: $out"
$PY - "$out" <<'PYEOF' || fail "nsbusctl --json call: $out"
import json, sys
v = json.loads(sys.argv[1])
assert v["type"] == "a{sv}", v
assert v["data"] == [{"Key": {"type": "s", "data": "text"}, "N": {"type": "u", "data": 5}}], v
PYEOF

# 'h' from a path and from an fd number: the service reads what the file holds.
echo "fd content" >"$TMP/fd.txt"
out=$(ours call "${OBJ[@]}" ReadFd h "$TMP/fd.txt") || fail "call h PATH: $out"
expect_eq "call h PATH" "$out" 's "fd content\n"'
out=$(ours call "${OBJ[@]}" ReadFd h 7 7<"$TMP/fd.txt") || fail "call h FD: $out"
expect_eq "call h FD" "$out" 's "fd content\n"'

# get-property and set-property.
for p in Name Count Tags; do
	same "get-property $p" get-property "${OBJ[@]}" "$p"
	same "get-property --json=short $p" --json=short get-property "${OBJ[@]}" "$p"
done
# status (the bus's address, id and credentials), status of the bus, status of a service: as far as
# nsbusctl shows them (it leaves out TTY, systemd's units and sessions, audit and capabilities), every
# line equal to busctl's.
status_same() { # status_same WHAT [NAME] KEY...: ours has each KEY, and every line ours has is busctl's
	local what=$1 name=$2 a b keys k
	shift 2
	a=$(ours status $name) || fail "$what: $a"
	for k in "$@"; do
		expect_match "$what shows $k" "$a" "^$k="
	done
	keys=$(sed 's/=.*//' <<<"$a" | paste -sd'|')
	b=$(theirs status $name | grep -E "^($keys)=") || fail "$what: busctl failed"
	expect_eq "$what" "$a" "$b"
}
status_same "status" "" BusAddress BusID PID UID EUID GID Comm Exe
status_same "status of the bus" org.freedesktop.DBus PID EUID Comm
status_same "status SERVICE" org.nsbus.CliTest PID PPID UID EUID GID SupplementaryGIDs Comm Exe CommandLine \
	UniqueName
same "get-property of two" get-property "${OBJ[@]}" Name Count
same "get-property --verbose" --verbose get-property "${OBJ[@]}" Tags Count
out=$(ours -j get-property "${OBJ[@]}" Tags) || fail "json get-property: $out"
$PY -c 'import json,sys; v=json.loads(sys.argv[1]); assert v == {"type": "as", "data": ["a", "b"]}, v' "$out" ||
	fail "nsbusctl --json get-property: $out"
ours set-property "${OBJ[@]}" Level i 42 || fail "set-property failed"
same "get-property after set-property" get-property "${OBJ[@]}" Level
expect_eq "the set value" "$(ours get-property "${OBJ[@]}" Level)" "i 42"

# introspect (members, signatures, property values read with GetAll, flags such as const) and tree.
same "introspect the service" introspect "${OBJ[@]:0:2}"
# --json for introspect and tree (busctl 252 ignores it there, so it is checked by reading it).
out=$(ours --json=short introspect "${OBJ[@]}") || fail "introspect --json: $out"
$PY - "$out" <<'PYEOF' || fail "nsbusctl --json introspect: $out"
import json, sys
rows = json.loads(sys.argv[1])
by = {(r["type"], r["name"]): r for r in rows}
assert ("interface", "org.nsbus.CliTest") in by, rows
assert by[("method", "EchoString")]["signature"] == "s", by[("method", "EchoString")]
assert all(r["interface"] == "org.nsbus.CliTest" for r in rows), rows
assert by[("method", "ReadFd")]["signature"] == "h" and by[("method", "ReadFd")]["value"] == "s", rows
PYEOF
out=$(ours --json=short tree org.nsbus.CliTest) || fail "tree --json: $out"
$PY -c 'import json, sys; p = json.loads(sys.argv[1]); assert "/org/nsbus/CliTest" in p and p == sorted(p), p' "$out" ||
	fail "nsbusctl --json tree: $out"
same "introspect the bus" introspect org.freedesktop.DBus /org/freedesktop/DBus
same "introspect one interface" introspect org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.Debug.Stats
same "introspect --no-legend" --no-legend introspect org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus
expect_match "introspect: a const property's value" "$(ours introspect org.freedesktop.DBus /org/freedesktop/DBus)" \
	'^\.Features +property +as +[0-9]+ "[A-Za-z]+".* const$'
same "tree of the service" tree org.nsbus.CliTest
same "tree of two services" tree org.nsbus.CliTest org.freedesktop.DBus
same "tree of every service" tree

# list: the rows of the names both see are the same in NAME PID PROCESS USER CONNECTION (each tool's
# own connection differs, and UNIT SESSION DESCRIPTION are systemd's, which nsbusctl leaves "-").
a=$(ours list) || fail "nsbusctl list: $a"
b=$(theirs list) || fail "busctl list: $b"
expect_eq "list header" "$(head -n 1 <<<"$a" | tr -s ' ')" "$(head -n 1 <<<"$b" | tr -s ' ')"
for name in org.freedesktop.DBus org.nsbus.CliTest "$SVC_UNIQUE"; do
	ra=$(awk -v n="$name" '$1 == n {print $1, $2, $3, $4, $5}' <<<"$a")
	rb=$(awk -v n="$name" '$1 == n {print $1, $2, $3, $4, $5}' <<<"$b")
	[ -n "$ra" ] || fail "nsbusctl list has no row for $name: $a"
	expect_eq "list row $name" "$ra" "$rb"
done
expect_match "list: the service's pid" "$a" "^org\.nsbus\.CliTest +$SVC_PID python3 "
out=$(ours --json=short list) || fail "nsbusctl --json list: $out"
$PY - "$out" "$SVC_PID" "$SVC_UNIQUE" <<'PYEOF' || fail "nsbusctl --json list: $out"
import json, sys
rows = {r["name"]: r for r in json.loads(sys.argv[1])}
r = rows["org.nsbus.CliTest"]
assert r["pid"] == int(sys.argv[2]) and r["connection"] == sys.argv[3] and r["process"] == "python3", r
PYEOF
expect_no_match "list --no-legend" "$(ours list --no-legend)" "^NAME "

# Errors: what, where, why, and a non-zero exit.
out=$(ours call "${OBJ[@]}" EchoInts ai 2 1 x 2>&1) && fail "a bad integer was accepted: $out"
expect_eq "bad argument" "$out" "nsbusctl: call: signature 'ai': 'x' is not a signed 32-bit integer"
out=$(ours call "${OBJ[@]}" EchoInts ai 3 1 2>&1) && fail "too few arguments were accepted: $out"
expect_match "too few arguments" "$out" "too few arguments: a value of type 'i' is missing"
out=$(ours call org.nsbus.Nobody /x org.nsbus.X Y 2>&1) && fail "a call to nobody succeeded: $out"
expect_match "error reply" "$out" "^nsbusctl: call failed: org\.freedesktop\.DBus\.Error\.ServiceUnknown: "
out=$(t "$NSBUSCTL" -C no-such-container list 2>&1) && fail "-C of no container succeeded: $out"
expect_match "no container" "$out" "^nsbusctl: container no-such-container: no bus is running for it"
pass
