#!/bin/bash
# The host bus never sees a container caller as more than the container's mapped identity.  nsbridge
# runs as the container's mapped root (uid and gid 100000 with the map 0 100000 65536, no host
# groups), so when container root calls org.example.Host's WhoAmI through the bridge, the host bus
# ($HOSTBUS) says the caller is uid 100000, not 0, has only gids of the container's range, and is a
# process that runs as 100000.  A container uid 1000 caller is no more than that either.  (Calls go to
# the well-known name here; test-bridge-imports-host-service covers calls sent to its owner.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bridge_fixture

# The bridge process itself: every uid and gid 100000, and no supplementary group from the host.
status=/proc/$BRIDGE_PID/status
expect_eq "Uid: of nsbridge (real, effective, saved, fs)" "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$status")" \
	"100000 100000 100000 100000"
expect_eq "Gid: of nsbridge (real, effective, saved, fs)" "$(awk '/^Gid:/ {print $2, $3, $4, $5}' "$status")" \
	"100000 100000 100000 100000"
for g in $(awk '/^Groups:/ {$1 = ""; print}' "$status"); do
	[ "$g" -ge 100000 ] && [ "$g" -lt 165536 ] || fail "nsbridge keeps the supplementary group $g ($(grep '^Groups:' "$status"))"
done

# in_range WHAT LIST: every id of the comma-separated LIST is one of the container's (100000..165535).
in_range() {
	local id
	for id in ${2//,/ }; do
		[ "$id" -ge 100000 ] && [ "$id" -lt 165536 ] || fail "$1: $id is not one of the container's ids ($2)"
	done
}

bridge_client "$C1" 0 "$CTR_ADDR" --by-name whoami || fail "WhoAmI as container root failed: $out $(cat "$TMP/client.err")"
expect_match "WhoAmI: the caller's unique name on the host bus" "$(kv whoami.1.sender "$out")" '^:[0-9]+\.[0-9]+$'
expect_eq "the host bus's GetConnectionUnixUser for container root's calls" "$(kv whoami.1.uid "$out")" 100000
expect_eq "the host bus's GetConnectionCredentials UnixUserID for container root's calls" \
	"$(kv whoami.1.UnixUserID "$out")" 100000
in_range "the host bus's UnixGroupIDs for container root's calls" "$(kv whoami.1.gids "$out")"
pid=$(kv whoami.1.pid "$out")
if [ "$pid" != absent ]; then
	[ -r "/proc/$pid/status" ] || fail "the host bus names process $pid as the caller; there is none"
	expect_eq "Uid: of the process ($pid) that the host bus names as the caller" \
		"$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" "100000 100000 100000 100000"
fi

bridge_client "$C1" 1000 "$CTR_ADDR" --by-name whoami || fail "WhoAmI as container uid 1000 failed: $out $(cat "$TMP/client.err")"
in_range "the host bus's GetConnectionUnixUser for container uid 1000's calls" "$(kv whoami.1.uid "$out")"
in_range "the host bus's UnixGroupIDs for container uid 1000's calls" "$(kv whoami.1.gids "$out")"

bridge_pass
