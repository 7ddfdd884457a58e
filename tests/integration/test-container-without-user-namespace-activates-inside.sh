#!/bin/bash
# A privileged container (pid, mount, network, IPC, UTS and cgroup namespaces and a root of its
# own, but the host's user namespace) gets its services started inside it too: the spawner
# enters every namespace the container does not share with the host, and its root.  The
# service runs as the container's svc, uid 1000, which is uid 1000 on the host as well, in the
# host's user namespace, with the init's capability bounding set; GetConnectionUnixProcessID
# asked inside answers its pid there.  A User= the container's /etc/passwd lacks still fails
# with Spawn.SetupFailed, though the host has that user.  The bus runs on a configuration file
# whose <servicedir>, /opt/services, exists only inside the container: a service there that
# never takes its name fails with TimedOut after service_start_timeout, and is stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send python3-dbus
ctr_need

ROOT=$TMP/rootfs
ctr_rootfs "$ROOT" 0
mkdir -p "$ROOT/opt/svc"
install -m 0755 "$IT_DIR/container_activated_service.py" "$ROOT/opt/svc/activated"
host_user=$(awk -F: '$3 > 0 && $3 < 65534 && $1 != "svc" && $1 != "alice" {print $1; exit}' /etc/passwd)
[ -n "$host_user" ] || skip "the host's /etc/passwd has no user besides root"
[ ! -e /opt/services ] || fail "the host has /opt/services; it must exist inside the container only"
SD=$ROOT/usr/share/dbus-1/system-services
printf '[D-BUS Service]\nName=org.test.Inside\nExec=/opt/svc/activated org.test.Inside\nUser=svc\n' \
	>"$SD/org.test.Inside.service"
mkdir -p "$ROOT/opt/services"
SLEEPER="/usr/bin/sleep 3600.$$" # a command line no other process has
printf '[D-BUS Service]\nName=org.test.Sleeper\nExec=%s\nUser=svc\n' "$SLEEPER" \
	>"$ROOT/opt/services/org.test.Sleeper.service"
cat >"$TMP/ctr.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <servicedir>/opt/services</servicedir>
  <standard_system_servicedirs/>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <limit name="service_start_timeout">1500</limit>
</busconfig>
CONF
printf '[D-BUS Service]\nName=org.test.HostUser\nExec=/opt/svc/activated org.test.HostUser\nUser=%s\n' \
	"$host_user" >"$SD/org.test.HostUser.service"

ctr_start_rootfs C1 "$ROOT" --no-userns --more-ns
expect_eq "the container's user namespace" "$(readlink "/proc/$C1/ns/user")" "$(readlink /proc/self/ns/user)"
ctr_bus_start "$C1" --config-file="$TMP/ctr.conf"

inside() { ctr_exec "$C1" 1001 1001 "$@"; }
who=$(inside dbus-send --system --print-reply=literal --dest=org.test.Inside /org/nsbus/Activated \
	org.nsbus.Activated.Whoami 2>"$TMP/err" | sed 's/^ *//') ||
	fail "calling org.test.Inside failed: $who $(cat "$TMP/err")"
in_pid=$(kv pid "$who")
[[ "$in_pid" =~ ^[0-9]+$ ]] || fail "org.test.Inside told no pid: $who"
expect_eq "the service's uid" "$(kv uid "$who")" 1000
expect_eq "the service's groups" "$(kv groups "$who")" 29,1000
expect_eq "the service's hostname" "$(kv hostname "$who")" nsrun
expect_no_match "the service's root (the host's /boot, /home or /srv)" "$(kv root "$who")" '(^|,)(boot|home|srv)(,|$)'
q=$(inside /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" org.test.Inside 2>"$TMP/err") ||
	fail "container_query.py inside failed: $q $(cat "$TMP/err")"
expect_eq "GetConnectionUnixProcessID(org.test.Inside) inside" "$(kv org.test.Inside.UnixProcessID "$q")" "$in_pid"

host_pid=$(ctr_host_pid "$C1" "$in_pid") || fail "no host process is pid $in_pid in container $C1"
expect_eq "NSpid of the service" "$(awk '$1 == "NSpid:" {print $2, $3}' "/proc/$host_pid/status")" "$host_pid $in_pid"
expect_eq "Uid of the service on the host" "$(awk '$1 == "Uid:" {print $2}' "/proc/$host_pid/status")" 1000
expect_eq "CapBnd of the service (the init's)" "$(awk '$1 == "CapBnd:" {print $2}' "/proc/$host_pid/status")" \
	"$(awk '$1 == "CapBnd:" {print $2}' "/proc/$C1/status")"
for ns in user pid mnt net ipc uts cgroup; do
	expect_eq "the service's $ns namespace" "$(readlink "/proc/$host_pid/ns/$ns")" "$(readlink "/proc/$C1/ns/$ns")"
done
for ns in pid mnt net uts; do
	[ "$(readlink "/proc/$host_pid/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] ||
		fail "the service is in the host's $ns namespace"
done
expect_eq "the service's root" "$(stat -L -c %d:%i "/proc/$host_pid/root")" "$(stat -c %d:%i "$ROOT")"

out=$(inside dbus-send --system --print-reply --dest=org.test.HostUser /org/nsbus/Activated \
	org.nsbus.Activated.Whoami 2>&1) && fail "org.test.HostUser started: $out"
expect_match "a User= of the host's only" "$out" \
	"^Error org\.freedesktop\.DBus\.Error\.Spawn\.SetupFailed: .*user '$host_user' does not exist in the container's /etc/passwd"
start=$(date +%s)
out=$(inside dbus-send --system --print-reply --dest=org.test.Sleeper /x org.test.X.Y 2>&1) &&
	fail "org.test.Sleeper answered: $out"
expect_match "a service that never takes its name" "$out" \
	'^Error org\.freedesktop\.DBus\.Error\.TimedOut: Failed to activate service .org\.test\.Sleeper.: timed out'
[ $(($(date +%s) - start)) -le 10 ] || fail "service_start_timeout of 1.5 s took $(($(date +%s) - start)) s"
for i in $(seq 1 100); do
	pgrep -x -f "$SLEEPER" >/dev/null || break
	sleep 0.05
done
! pgrep -x -f "$SLEEPER" >/dev/null || fail "org.test.Sleeper still runs after its activation timed out"
wait_for_file "$TMP/bus.log" "org\.test\.Sleeper \(pid [0-9]+ on the host\) was killed by signal 15" 5 ||
	fail "the bus did not log the end of org.test.Sleeper"
pass
