#!/bin/bash
# nsbridge imports host services into a container as its policy says.  On the host bus ($HOSTBUS:
# dbus-daemon or dbus-broker) python3-dbus services own org.example.Host, org.example.Other,
# org.example.Visible and org.example.Hidden, each on its own connection; the policy is
#     import talk org.example.Host
#     import see org.example.Visible
#     import call org.example.Other org.example.Other.Get@/org/example/Other
#     import broadcast org.example.Other org.example.Other.Changed@/org/example/*
# From inside the container, as uid 0 and as uid 1000, with calls sent to the name's owner (as
# python3-dbus and GDBus proxies send them) and to the name (as dbus-send and busctl do), through the
# bridge: every D-Bus type
# round-trips through org.example.Host, unix fds cross both ways (and no copy stays behind on the
# way), the service's own error arrives with its name and message, a reply sent 2 s later arrives
# while other calls go on, org.example.Host's signals arrive (talk) and of org.example.Other's only
# those the broadcast rule permits; calls outside the call rule and every call to the see name get
# org.freedesktop.DBus.Error.AccessDenied; org.example.Hidden does not exist inside at all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bridge_fixture
bridge_wait_name "$C1" org.example.Other
bridge_wait_name "$C1" org.example.Visible
DENIED=ERROR:org.freedesktop.DBus.Error.AccessDenied

# python3-dbus's proxies (like GDBus's) send to the unique name that owns the name when they are made;
# dbus-send and busctl send to the name itself.  The bridge must route both.
for run in "0 by-name" "1000 by-name" "0 to-owner" "1000 to-owner"; do
	read -r uid how <<<"$run"
	who="inside as uid $uid, calls sent $how"
	mode=()
	[ "$how" = to-owner ] || mode=(--by-name)
	bridge_client "$C1" "$uid" "$CTR_ADDR" "${mode[@]}" \
		types fds error slow signals policy visibility ||
		fail "$who: the client failed: $out $(cat "$TMP/client.err")"

	# The client compared every echoed value itself; it exits 1 on a difference.
	[[ "$(kv types.checked "$out")" =~ ^[0-9]+$ ]] && [ "$(kv types.checked "$out")" -ge 100 ] ||
		fail "$who: the type round trips did not run: $out"

	expect_eq "$who: ReadFd of a pipe" "$(kv fd.read "$out")" "through a pipe and the bridge"
	expect_eq "$who: WriteFd call" "$(kv fd.write.call "$out")" ok
	expect_eq "$who: what WriteFd wrote into our pipe" "$(kv fd.written "$out")" "written by the host"
	expect_eq "$who: EOF on our pipe once the service closed its copy (no copy kept on the way)" \
		"$(kv fd.written.eof "$out")" yes
	expect_eq "$who: read from the fd MakeFd returned" "$(kv fd.made "$out")" "made on the host"

	expect_eq "$who: the service's error name" "$(kv error.name "$out")" org.example.Error.Failed
	expect_eq "$who: the service's error message" "$(kv error.message "$out")" "it failed on purpose"

	expect_eq "$who: the slow reply" "$(kv slow.reply "$out")" "slow reply"
	secs=$(kv slow.seconds "$out")
	awk -v s="$secs" 'BEGIN { exit !(s >= 1.9 && s < 9) }' ||
		fail "$who: the slow reply took $secs s; the service answers after 2 s"
	expect_eq "$who: a call made while the slow one waits" "$(kv echo.meanwhile "$out")" "while the slow call waits"
	secs=$(kv echo.meanwhile.seconds "$out")
	awk -v s="$secs" 'BEGIN { exit !(s < 1.5) }' ||
		fail "$who: a call made while a slow one waited took $secs s: the bridge serializes calls"

	# Other's signals were emitted in this order: early-ok bad-member bad-path bad-iface deep-ok late-ok.
	# The client waited for late-ok, so a forwarded bad-* would have come before it.
	expect_eq "$who: org.example.Other's signals heard inside (broadcast Changed@/org/example/*)" \
		"$(kv signals.other "$out")" "early-ok,deep-ok,late-ok"
	expect_eq "$who: org.example.Host's signals heard inside (talk)" "$(kv signals.host "$out")" host-ping
	# Signals keep their sender: a match on org.example.Other hears nothing org.example.Host emits, and
	# the reverse, as on any bus (each host service has its own connection inside).
	expect_eq "$who: signals heard by a match on the wrong sender" "$(kv signals.crosstalk "$out")" ""

	expect_eq "$who: org.example.Other.Get at /org/example/Other (permitted)" \
		"$(kv policy.Other.Get "$out")" "org.example.Other:/org/example/Other"
	expect_eq "$who: org.example.Other.Set (not permitted)" "$(kv policy.Other.Set "$out")" "$DENIED"
	expect_eq "$who: org.example.Other.Get at /org/example/Secret (path not permitted)" \
		"$(kv policy.Other.Secret.Get "$out")" "$DENIED"
	expect_eq "$who: org.example.Sneaky.Get at /org/example/Other (interface not permitted)" \
		"$(kv policy.Other.Sneaky.Get "$out")" "$DENIED"
	expect_eq "$who: Introspect of org.example.Other (not permitted)" \
		"$(kv policy.Other.Introspect "$out")" "$DENIED"
	expect_eq "$who: org.example.Visible.Get (see: no calls)" "$(kv policy.Visible.Get "$out")" "$DENIED"
	expect_eq "$who: Introspect of org.example.Host (talk)" "$(kv policy.Host.Introspect "$out")" ok
	expect_eq "$who: org.example.Host's introspection names its interface" \
		"$(kv policy.Host.Introspect.has_iface "$out")" yes
	# talk forwards any path: the service itself answers that it has no such object.
	expect_eq "$who: org.example.Host at a path it does not serve (talk: the service answers)" \
		"$(kv policy.Host.Nowhere.Get "$out")" ERROR:org.freedesktop.DBus.Error.UnknownMethod

	names=$(kv listnames "$out")
	for n in org.example.Host org.example.Other org.example.Visible; do
		expect_match "$who: ListNames has $n" "$names" "(^|,)${n//./\\.}(,|$)"
		expect_eq "$who: NameHasOwner($n)" "$(kv "has.$n" "$out")" true
		expect_match "$who: GetNameOwner($n)" "$(kv "owner.$n" "$out")" '^:[0-9]+\.[0-9]+$'
	done
	expect_no_match "$who: ListNames has org.example.Hidden (not imported)" "$names" 'org\.example\.Hidden'
	expect_eq "$who: NameHasOwner(org.example.Hidden)" "$(kv has.org.example.Hidden "$out")" false
	expect_eq "$who: GetNameOwner(org.example.Hidden)" "$(kv owner.org.example.Hidden "$out")" \
		ERROR:org.freedesktop.DBus.Error.NameHasNoOwner
	expect_match "$who: a call to org.example.Hidden" "$(kv call.org.example.Hidden "$out")" \
		'^ERROR:org\.freedesktop\.DBus\.Error\.(ServiceUnknown|NameHasNoOwner)$'
	log "$who: types, fds, errors, a slow reply, signals and the policy's limits all as expected"
done

bridge_pass
