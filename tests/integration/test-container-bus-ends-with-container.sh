#!/bin/bash
# nsbusd --container-pid lives as long as the container: it creates its runtime directory
# (here one that did not exist yet), keeps only CAP_SYS_PTRACE once set up, and when the container's init exits it removes
# DIR/NAME and exits 0, while its clients are still connected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need python3-dbus
ctr_need

CTR_RT=$TMP/rt-new # does not exist yet, like /run/nsbus on a fresh boot: nsbusd makes it
CTR_MKDIR_RT=0
CTR_NAME=ctr-ends
ctr_start C1
ctr_bus_start "$C1"
ctr_service "$C1" 1000 1000 org.test.Inside
ctr_service host 0 0 org.test.Host
HOST_SVC=${BG_PIDS[-1]}

# Once its sockets exist, the bus keeps CAP_SYS_PTRACE (bit 19) and nothing else, not even in its
# bounding set, and cannot gain privileges by exec.
status=$(cat "/proc/$BUS_PID/status")
expect_eq "nsbusd CapEff" "$(awk '/^CapEff:/ {print $2}' <<<"$status")" 0000000000080000
expect_eq "nsbusd CapPrm" "$(awk '/^CapPrm:/ {print $2}' <<<"$status")" 0000000000080000
expect_eq "nsbusd CapBnd" "$(awk '/^CapBnd:/ {print $2}' <<<"$status")" 0000000000080000
expect_eq "nsbusd CapAmb" "$(awk '/^CapAmb:/ {print $2}' <<<"$status")" 0000000000000000
expect_eq "nsbusd NoNewPrivs" "$(awk '/^NoNewPrivs:/ {print $2}' <<<"$status")" 1

kill -TERM "$C1"
for i in $(seq 1 100); do
	kill -0 "$BUS_PID" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$BUS_PID" 2>/dev/null && fail "nsbusd still runs 5 s after the container's init exited"
wait "$BUS_PID"
rc=$?
expect_eq "nsbusd's exit status after its container exited" "$rc" 0
[ -e "$CTR_RT/$CTR_NAME" ] && fail "nsbusd left $CTR_RT/$CTR_NAME behind: $(ls -laR "$CTR_RT/$CTR_NAME" 2>&1)"
# The host-side client saw the bus go away and quit.
for i in $(seq 1 100); do
	kill -0 "$HOST_SVC" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$HOST_SVC" 2>/dev/null && fail "the host.sock client was not disconnected"
echo "$TEST_NAME: PASS"
exit 0
