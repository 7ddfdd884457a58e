#!/bin/bash
# nsbridge outlives its host bus.  The host bus ($HOSTBUS) and its services are killed: inside the
# container, org.example.Host is gone within 10 s (NameOwnerChanged follows the host owner).  A new
# host bus comes up at the same address with the services again: within 15 s the same nsbridge
# process has the name back inside, calls and permitted signals cross again, and the exported
# com.example.Web.c1 is back on the new host bus.  Twice, so that a bridge that recovers once but not
# again fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bridge_fixture
ctr_spawn "$C1" 1000 1000 /usr/bin/python3 "$IT_DIR/bridge_web_service.py" "$CTR_ADDR" "$CTR_DIR/web.info" \
	2>"$TMP/web.err"
wait_for_file "$CTR_DIR/web.info" '^unique=:' 10 || fail "the container service did not start: $(cat "$TMP/web.err")"
hostbus_wait_name com.example.Web.c1 10
bridge=$BRIDGE_PID

for round in 1 2; do
	old_id=$(words "$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId)")
	hostsvc_stop
	hostbus_stop
	log "round $round: host bus $old_id stopped"
	bridge_wait_name_gone "$C1" org.example.Host 10
	pid_alive "$bridge" || fail "round $round: nsbridge exited when the host bus went away"

	hostbus_start
	start=$SECONDS
	hostsvc_start "${HOSTSVC_NAMES[@]}"
	new_id=$(words "$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId)")
	[ "$new_id" != "$old_id" ] || fail "round $round: the host bus did not restart (GetId $new_id)"

	bridge_wait_name "$C1" org.example.Host 15
	bridge_wait_name "$C1" org.example.Other $((15 - (SECONDS - start) > 1 ? 15 - (SECONDS - start) : 1))
	ok=
	while [ $((SECONDS - start)) -le 15 ]; do
		bridge_client "$C1" 0 "$CTR_ADDR" --by-name echo && [ "$(kv echo "$out")" = "through the bridge" ] && ok=1 && break
		sleep 0.2
	done
	[ -n "$ok" ] || fail "round $round: no call through the bridge worked within 15 s of the restart: $out $(cat "$TMP/client.err")"
	log "round $round: org.example.Host back and callable after $((SECONDS - start)) s"
	[ "$BRIDGE_PID" = "$bridge" ] && pid_alive "$bridge" || fail "round $round: nsbridge is not the same process"

	bridge_client "$C1" 0 "$CTR_ADDR" --by-name signals || fail "round $round: signals after the restart failed: $out $(cat "$TMP/client.err")"
	expect_eq "round $round: org.example.Other's permitted signals after the restart" \
		"$(kv signals.other "$out")" "early-ok,deep-ok,late-ok"

	hostbus_wait_name com.example.Web.c1 $((15 - (SECONDS - start) > 1 ? 15 - (SECONDS - start) : 1))
	bridge_client host 0 "$HOSTBUS_ADDR" --by-name web com.example.Web.c1 ||
		fail "round $round: calling com.example.Web.c1 after the restart failed: $out $(cat "$TMP/client.err")"
	expect_eq "round $round: the exported service's caller inside, UnixUserID" "$(kv web.1.UnixUserID "$out")" 65534
done

bridge_pass
