#!/bin/bash
# nsbridge runs sandboxed once it is set up: in every thread a seccomp filter (Seccomp: 2),
# no-new-privs, and no capability in any set, bounding set included.  It proves the filter on itself:
# its log has exactly one line saying that open("/etc/passwd") was refused with EPERM, before it
# says it is ready, and every line of its log carries its prefix nsbridge[NAME]:.  The sandbox still
# lets it do its work: calls, fds and signals cross it afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bridge_fixture

n=0
for task in /proc/"$BRIDGE_PID"/task/*; do
	st=$task/status
	who="nsbridge thread ${task##*/}"
	n=$((n + 1))
	expect_eq "$who: Seccomp" "$(awk '/^Seccomp:/ {print $2}' "$st")" 2
	filters=$(awk '/^Seccomp_filters:/ {print $2}' "$st")
	[ -z "$filters" ] || [ "$filters" -ge 1 ] || fail "$who: Seccomp_filters: $filters"
	expect_eq "$who: NoNewPrivs" "$(awk '/^NoNewPrivs:/ {print $2}' "$st")" 1
	for set in CapInh CapPrm CapEff CapBnd CapAmb; do
		expect_eq "$who: $set" "$(awk -v k="$set:" '$1 == k {print $2}' "$st")" 0000000000000000
	done
done
log "$n thread(s) of nsbridge: seccomp, no-new-privs, no capabilities"

check='sandbox check: open("/etc/passwd") refused: Operation not permitted'
expect_eq "log lines with '$check'" "$(grep -cF -- "$check" "$BRIDGE_LOG")" 1
expect_match "the sandbox check line" "$(grep -F -- "$check" "$BRIDGE_LOG")" "^nsbridge\\[$CTR_NAME\\]: "
check_line=$(grep -nF -- "$check" "$BRIDGE_LOG" | cut -d: -f1)
ready_line=$(grep -nE "^nsbridge\\[$CTR_NAME\\]: .*ready" "$BRIDGE_LOG" | head -n 1 | cut -d: -f1)
[ "$check_line" -lt "$ready_line" ] || fail "the sandbox check (line $check_line) comes after 'ready' (line $ready_line)"

# Work that needs more than the idle loop: a call, fds both ways, a signal.
bridge_client "$C1" 0 "$CTR_ADDR" --by-name echo fds signals || fail "calls through the sandboxed bridge failed: $out $(cat "$TMP/client.err")"
expect_eq "EchoString through the sandboxed bridge" "$(kv echo "$out")" "through the bridge"
expect_eq "ReadFd through the sandboxed bridge" "$(kv fd.read "$out")" "through a pipe and the bridge"
expect_eq "MakeFd through the sandboxed bridge" "$(kv fd.made "$out")" "made on the host"
expect_eq "signals through the sandboxed bridge" "$(kv signals.other "$out")" "early-ok,deep-ok,late-ok"
pid_alive "$BRIDGE_PID" || fail "nsbridge died (seccomp kill?) while working"
expect_eq "Seccomp: of nsbridge after the calls" "$(awk '/^Seccomp:/ {print $2}' "/proc/$BRIDGE_PID/status")" 2

bad=$(grep -vE "^nsbridge\\[$CTR_NAME\\]: " "$BRIDGE_LOG" | head -n 3)
[ -z "$bad" ] || fail "log lines without the prefix nsbridge[$CTR_NAME]: $bad"

bridge_pass
