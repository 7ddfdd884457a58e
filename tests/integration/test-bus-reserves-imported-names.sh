#!/bin/bash
# With the container's bridge policy (--policy), nsbusd reserves every name the policy imports from
# the host for the bridge: a peer on the container socket that asks for one (at any import level,
# with any flags, whether or not the name has an owner) gets org.freedesktop.DBus.Error.AccessDenied,
# while a peer on host.sock owns it and the container sees that owner.  Names the policy does not
# import, exported ones included, stay the container's to own.  org.nsbus.Container1 is for host.sock
# peers only: from inside, GetInfo and SetProxiedCredentials are AccessDenied; through host.sock
# GetInfo tells the container's name, init pid and id maps.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send busctl gdbus python3-dbus
ctr_need

policy=$TMP/c1.policy
cat >"$policy" <<'EOF'
# the bridge policy of container c1
import talk org.example.Host
import see org.example.Visible
import call org.example.Other org.example.Other.Get@/org/example/Other
import broadcast org.example.Other org.example.Other.Changed@/org/example/*
export own com.example.Web as com.example.Web.c1
EOF
ctr_start C1
ctr_bus_start "$C1" --policy="$policy"
DENIED=org.freedesktop.DBus.Error.AccessDenied

# request_inside UID NAME FLAGS: RequestName from inside; prints the reply or the error's name.
request_inside() {
	local out
	if out=$(ctr_exec "$C1" "$1" "$1" dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.RequestName "string:$2" "uint32:$3" 2>&1); then
		words "$out"
	else
		sed -n 's/^Error \([^:]*\):.*/\1/p' <<<"$out" | head -n 1
	fi
}

for uid in 0 1000; do
	for name in org.example.Host org.example.Visible org.example.Other; do
		for flags in 0 4 7; do
			expect_eq "container uid $uid: RequestName($name, flags $flags)" "$(request_inside "$uid" "$name" "$flags")" "$DENIED"
		done
	done
	# Not imported: the container's own.  The export's container name is one of them.
	expect_eq "container uid $uid: RequestName(org.example.Free$uid)" "$(request_inside "$uid" "org.example.Free$uid" 4)" "uint32 1"
	expect_eq "container uid $uid: RequestName(com.example.Web)" "$(request_inside "$uid" com.example.Web 4)" "uint32 1"
done

# A host.sock peer (as the bridge is) owns an imported name; the container sees it owned and still
# cannot queue for it.
ctr_service host 0 0 org.example.Host
out=$(ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.NameHasOwner string:org.example.Host 2>&1) || fail "NameHasOwner inside failed: $out"
expect_eq "inside: NameHasOwner(org.example.Host) owned through host.sock" "$(words "$out")" "boolean true"
expect_eq "container uid 0: RequestName(org.example.Host, 0) while the host peer owns it" \
	"$(request_inside 0 org.example.Host 0)" "$DENIED"

# org.nsbus.Container1 from inside: refused (gdbus prints the error's name).
for uid in 0 1000; do
	out=$(ctr_exec "$C1" "$uid" "$uid" gdbus call --address "$CTR_ADDR" --dest org.freedesktop.DBus \
		--object-path /org/freedesktop/DBus --method org.nsbus.Container1.GetInfo 2>&1) &&
		fail "container uid $uid: GetInfo answered: $out"
	expect_match "container uid $uid: org.nsbus.Container1.GetInfo" "$out" "GDBus\.Error:$DENIED:"
	out=$(ctr_exec "$C1" "$uid" "$uid" gdbus call --address "$CTR_ADDR" --dest org.freedesktop.DBus \
		--object-path /org/freedesktop/DBus --method org.nsbus.Container1.SetProxiedCredentials \
		"{'UnixUserID': <uint32 0>}" 2>&1) && fail "container uid $uid: SetProxiedCredentials answered: $out"
	expect_match "container uid $uid: org.nsbus.Container1.SetProxiedCredentials" "$out" "GDBus\.Error:$DENIED:"
done

# Through host.sock: the container as the bus knows it.
out=$(t busctl --address="$HOST_ADDR" --no-pager call org.freedesktop.DBus /org/freedesktop/DBus \
	org.nsbus.Container1 GetInfo 2>&1) || fail "GetInfo through host.sock failed: $out"
expect_eq "GetInfo through host.sock" "$out" "sua(uuu)a(uuu) \"$CTR_NAME\" $C1 1 0 100000 65536 1 0 100000 65536"

pass
