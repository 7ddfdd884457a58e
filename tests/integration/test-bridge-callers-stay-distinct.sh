#!/bin/bash
# Each container caller is a connection of its own on the host bus.  Through nsbridge, container
# processes call org.example.Host's WhoAmI, which answers with the caller's unique name on the host
# bus ($HOSTBUS).  One process calling twice is one name; two processes, connected at the same time,
# are two names, and a third (another uid) a third; a host service can then keep per-caller state and
# watch its callers.  When a container caller goes, its host connection goes too (NameOwnerChanged on
# the host bus follows the caller).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bridge_fixture

# A calls, then stays connected until told to call again.
ctr_spawn "$C1" 0 0 /usr/bin/python3 "$IT_DIR/bridge_client.py" "$CTR_ADDR" --by-name whoami \
	"wait:$CTR_DIR/go" whoami >"$TMP/a.out" 2>"$TMP/a.err"
wait_for_file "$TMP/a.out" '^whoami\.1\.sender=' 20 || fail "caller A did not get an answer: $(cat "$TMP/a.out" "$TMP/a.err")"
a1=$(kv whoami.1.sender "$(cat "$TMP/a.out")")
expect_match "caller A's name on the host bus" "$a1" '^:[0-9]+\.[0-9]+$'

# B, the same uid, calls twice while A is connected.
bridge_client "$C1" 0 "$CTR_ADDR" --by-name whoami whoami || fail "caller B failed: $out $(cat "$TMP/client.err")"
b1=$(kv whoami.1.sender "$out")
expect_match "caller B's name on the host bus" "$b1" '^:[0-9]+\.[0-9]+$'
expect_eq "caller B's second call: its name on the host bus" "$(kv whoami.2.sender "$out")" "$b1"
[ "$a1" != "$b1" ] || fail "two container processes are one caller ($a1) on the host bus"

# C, container uid 1000, while A is still connected.
bridge_client "$C1" 1000 "$CTR_ADDR" --by-name whoami || fail "caller C failed: $out $(cat "$TMP/client.err")"
c1=$(kv whoami.1.sender "$out")
expect_match "caller C's name on the host bus" "$c1" '^:[0-9]+\.[0-9]+$'
[ "$c1" != "$a1" ] && [ "$c1" != "$b1" ] || fail "caller C is $c1 on the host bus, like A ($a1) or B ($b1)"

# A calls again: still the same name.
touch "$CTR_DIR/go"
wait_for_file "$TMP/a.out" '^whoami\.2\.sender=' 20 || fail "caller A's second call got no answer: $(cat "$TMP/a.out" "$TMP/a.err")"
expect_eq "caller A's second call: its name on the host bus" "$(kv whoami.2.sender "$(cat "$TMP/a.out")")" "$a1"

# Every caller has exited: their host connections go.
for n in "$a1" "$b1" "$c1"; do
	hostbus_wait_name_gone "$n" 10
done

bridge_pass
