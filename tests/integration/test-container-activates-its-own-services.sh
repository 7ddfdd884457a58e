#!/bin/bash
# A container bus activates the container's own services, inside the container.  The container
# (user, pid, mount, network, IPC, UTS and cgroup namespaces, map 0 100000 65536) has a root of
# its own with its own /etc/passwd and /usr/share/dbus-1/system-services; the host's programs
# and libraries are bound in, nothing else of the host's.
#
# A call to org.test.Inside from inside (dbus-send as the container's alice) starts
# /opt/svc/activated, which exists only inside, as the container's user svc (uid 1000, groups
# 1000 and audio 29 from the container's /etc/group).  Its pid as it sees it is what
# GetConnectionUnixProcessID answers inside; on the host it is a process in the container's
# namespaces (NSpid, every ns link), with the container's root as root and cwd, uid 101000,
# no capabilities, the minimal environment (PATH, DBUS_STARTER_*, the activation environment)
# and no descriptor but pipes and sockets.  Its stdout reaches the bus's log.
#
# Service files that would run something of the host's fail, and nothing runs: an Exec= that
# only exists on the host, links to it (absolute, relative, "..") and a /proc magic link are
# Spawn.ExecFailed; a User= the container's /etc/passwd does not have (the host has) is
# Spawn.SetupFailed; no User= is Spawn.FileInvalid; a program that exits 1 is
# Spawn.ChildExited, as on the host bus.  Each leaves a log line saying what and why.
# ReloadConfig reads the container's service directory again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need dbus-send python3-dbus
ctr_need

ROOT=$TMP/rootfs
ctr_rootfs "$ROOT"
SD=$ROOT/usr/share/dbus-1/system-services
mkdir -p "$ROOT/opt/svc"
install -m 0755 "$IT_DIR/container_activated_service.py" "$ROOT/opt/svc/activated"
[ ! -e /opt/svc/activated ] || fail "the host has /opt/svc/activated; it must exist inside the container only"

# A program of the host's that leaves a mark when it runs, and ways to point at it.
HOSTBIN=$TMP/hostbin
mkdir -p "$HOSTBIN"
printf '#!/bin/sh\necho "$0 $*" >>%s/ran\n' "$HOSTBIN" >"$HOSTBIN/mark"
chmod 0755 "$HOSTBIN/mark"
ln -s "$HOSTBIN/mark" "$ROOT/opt/svc/abs-link"
ln -s "../../../../../../../../..$HOSTBIN/mark" "$ROOT/opt/svc/rel-link"
# A user of the host's that the container does not have.
host_user=$(awk -F: '$3 > 0 && $3 < 65534 && $1 != "svc" && $1 != "alice" {print $1; exit}' /etc/passwd)
[ -n "$host_user" ] || skip "the host's /etc/passwd has no user besides root"

svcfile() { # NAME EXEC [USER]
	{
		echo '[D-BUS Service]'
		echo "Name=$1"
		echo "Exec=$2"
		[ -z "${3:-}" ] || echo "User=$3"
	} >"$SD/$1.service"
}
svcfile org.test.Inside "/opt/svc/activated org.test.Inside" svc
svcfile org.test.HostProgram "$HOSTBIN/mark org.test.HostProgram" svc
svcfile org.test.AbsLink /opt/svc/abs-link svc
svcfile org.test.RelLink /opt/svc/rel-link svc
svcfile org.test.DotDot "/../../../../..$HOSTBIN/mark" svc
svcfile org.test.MagicLink "/proc/1/root/opt/svc/activated org.test.MagicLink" svc
svcfile org.test.HostUser "/opt/svc/activated org.test.HostUser" "$host_user"
svcfile org.test.NoUser "/opt/svc/activated org.test.NoUser"
svcfile org.test.Exits /usr/bin/false svc
chown -R 100000:100000 "$ROOT/opt" "$SD"

ctr_start_rootfs C1 "$ROOT" --more-ns
ctr_bus_start "$C1"

inside() { ctr_exec "$C1" 1001 1001 "$@"; }
whoami() { # NAME: the service's own view of itself, as KEY=VALUE lines
	inside dbus-send --system --print-reply=literal --dest="$1" /org/nsbus/Activated \
		org.nsbus.Activated.Whoami | sed 's/^ *//'
}
drv_inside() {
	inside dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		"org.freedesktop.DBus.$1" "${@:2}"
}

# What is activatable is the container's, not the host's.
out=$(drv_inside ListActivatableNames) || fail "ListActivatableNames inside failed: $out"
expect_match "ListActivatableNames inside" "$out" '(^| )org\.test\.Inside( |$)'
host_name=$(sed -n 's/^Name=//p' /usr/share/dbus-1/system-services/*.service 2>/dev/null | head -n 1)
[ -z "$host_name" ] || expect_no_match "ListActivatableNames inside (a service of the host's)" "$out" \
	"(^| )${host_name//./\\.}( |$)"
out=$(drv_inside NameHasOwner string:org.test.Inside) || fail "NameHasOwner failed: $out"
expect_eq "org.test.Inside runs before anyone asked for it" "$(echo $out)" "boolean false"

# The activation environment is host root's to set (here through host.sock); it reaches the
# service, but cannot replace the variables the bus sets.
t dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.UpdateActivationEnvironment \
	dict:string:string:NSBUS_ACTIVATION_VAR,hello,PATH,/host/only,DBUS_STARTER_BUS_TYPE,session >/dev/null ||
	fail "UpdateActivationEnvironment through host.sock failed"

# The first call starts it, inside.
who=$(whoami org.test.Inside 2>"$TMP/err") || fail "calling org.test.Inside failed: $who $(cat "$TMP/err")"
log "org.test.Inside says: $(tr '\n' ' ' <<<"$who")"
in_pid=$(kv pid "$who")
[[ "$in_pid" =~ ^[0-9]+$ ]] || fail "org.test.Inside told no pid: $who"
expect_eq "the service's uid (the container's svc)" "$(kv uid "$who")" 1000
expect_eq "the service's gid" "$(kv gid "$who")" 1000
expect_eq "the service's groups (the container's /etc/group)" "$(kv groups "$who")" 29,1000
expect_eq "the service's working directory" "$(kv cwd "$who")" /
expect_eq "the service's hostname (the container's UTS namespace)" "$(kv hostname "$who")" nsrun
expect_eq "the service's parent as it sees it (the spawner, outside its pid namespace)" "$(kv ppid "$who")" 0
expect_match "the service's root" "$(kv root "$who")" '(^|,)opt(,|$)'
expect_no_match "the service's root (the host's /boot, /home or /srv)" "$(kv root "$who")" '(^|,)(boot|home|srv)(,|$)'
expect_eq "DBUS_STARTER_ADDRESS" "$(kv DBUS_STARTER_ADDRESS "$who")" unix:path=/run/dbus/system_bus_socket
expect_eq "DBUS_STARTER_BUS_TYPE" "$(kv DBUS_STARTER_BUS_TYPE "$who")" system
expect_eq "PATH" "$(kv PATH "$who")" /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
expect_eq "the activation environment" "$(kv NSBUS_ACTIVATION_VAR "$who")" hello

# The bus tells the container the pid the service sees itself.
q=$(inside /usr/bin/python3 "$IT_DIR/container_query.py" "$CTR_ADDR" org.test.Inside 2>"$TMP/err") ||
	fail "container_query.py inside failed: $q $(cat "$TMP/err")"
expect_eq "GetConnectionUnixProcessID(org.test.Inside) inside" "$(kv org.test.Inside.UnixProcessID "$q")" "$in_pid"
expect_eq "GetConnectionUnixUser(org.test.Inside) inside" "$(kv org.test.Inside.UnixUser "$q")" 1000

# The host's view of that process.
host_pid=$(ctr_host_pid "$C1" "$in_pid") || fail "no host process is pid $in_pid in container $C1"
status=$(cat "/proc/$host_pid/status")
field() { awk -v k="$1:" '$1 == k {$1 = ""; print substr($0, 2)}' <<<"$status" | tr -s ' \t' ' '; }
expect_eq "NSpid of the service" "$(field NSpid)" "$host_pid $in_pid"
expect_eq "Uid of the service on the host" "$(field Uid)" "101000 101000 101000 101000"
expect_eq "Gid of the service on the host" "$(field Gid)" "101000 101000 101000 101000"
expect_eq "Groups of the service on the host" "$(field Groups | sed 's/ $//')" "100029 101000"
expect_eq "CapEff of the service" "$(field CapEff)" 0000000000000000
expect_eq "the service's uid_map" "$(tr -s ' \n' ' ' <"/proc/$host_pid/uid_map")" \
	"$(tr -s ' \n' ' ' <"/proc/$C1/uid_map")"
for ns in user pid mnt net ipc uts cgroup; do
	expect_eq "the service's $ns namespace" "$(readlink "/proc/$host_pid/ns/$ns")" "$(readlink "/proc/$C1/ns/$ns")"
done
for ns in user mnt net uts; do
	[ "$(readlink "/proc/$host_pid/ns/$ns")" != "$(readlink /proc/self/ns/$ns)" ] ||
		fail "the service is in the host's $ns namespace"
done
expect_eq "the service's root" "$(stat -L -c %d:%i "/proc/$host_pid/root")" "$(stat -c %d:%i "$ROOT")"
expect_eq "the service's cwd" "$(stat -L -c %d:%i "/proc/$host_pid/cwd")" "$(stat -c %d:%i "$ROOT")"
expect_eq "the service's environment" "$(tr '\0' '\n' <"/proc/$host_pid/environ" | sort | tr '\n' ' ')" \
	"DBUS_STARTER_ADDRESS=unix:path=/run/dbus/system_bus_socket DBUS_STARTER_BUS_TYPE=system NSBUS_ACTIVATION_VAR=hello PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
for fd in "/proc/$host_pid/fd/"*; do
	target=$(readlink "$fd") || continue
	[[ "$target" =~ ^(pipe|socket|anon_inode): ]] ||
		fail "the service has descriptor ${fd##*/} open on $target (ls: $(ls -l "/proc/$host_pid/fd/" | tr '\n' ' '))"
done

# Its parent is the bus's spawner, which keeps what entering a container takes and nothing more;
# the bus itself still has CAP_SYS_PTRACE alone.
spawner=$(awk '$1 == "PPid:" {print $2}' "/proc/$host_pid/status")
expect_eq "the spawner's parent" "$(awk '$1 == "PPid:" {print $2}' "/proc/$spawner/status")" "$BUS_PID"
# CAP_DAC_OVERRIDE, DAC_READ_SEARCH, KILL, SETGID, SETUID, SETPCAP, SYS_CHROOT, SYS_PTRACE, SYS_ADMIN
expect_eq "the spawner's CapEff" "$(awk '$1 == "CapEff:" {print $2}' "/proc/$spawner/status")" 00000000002c01e6
expect_eq "nsbusd's CapEff" "$(awk '$1 == "CapEff:" {print $2}' "/proc/$BUS_PID/status")" 0000000000080000
wait_for_file "$TMP/bus.log" "org\.test\.Inside\[$host_pid\]: org\.test\.Inside is here" 5 ||
	fail "the service's stdout is not in the bus's log"
expect_match "the bus's log" "$(cat "$TMP/bus.log")" \
	"container $CTR_NAME: started org\.test\.Inside: pid $in_pid in the container, $host_pid on the host"

# A second call reaches the same process; Peer.GetMachineId inside is the container's.
again=$(whoami org.test.Inside) || fail "second call failed"
expect_eq "the second call's pid" "$(kv pid "$again")" "$in_pid"
out=$(inside dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.Peer.GetMachineId) || fail "GetMachineId failed"
expect_eq "Peer.GetMachineId inside" "$(echo $out)" 0123456789abcdef0123456789abcdef

# What would run a program of the host's, or as a user of the host's, fails, with dbus-daemon's
# error names; StartServiceByName fails the same way.
expect_error() { # WHAT NAME ERROR-ERE
	local out
	out=$(inside dbus-send --system --print-reply --dest="$2" /org/nsbus/Activated org.nsbus.Activated.Whoami 2>&1) &&
		fail "$1: succeeded: $out"
	expect_match "$1" "$out" "^Error $3"
}
not_inside="does not resolve to a file inside the container's root"
expect_error "an Exec= of the host's" org.test.HostProgram \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ExecFailed: Cannot start org\.test\.HostProgram in container $CTR_NAME: $HOSTBIN/mark $not_inside"
expect_error "an absolute link to the host's program" org.test.AbsLink \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ExecFailed: .*/opt/svc/abs-link $not_inside"
expect_error "a relative link out of the root" org.test.RelLink \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ExecFailed: .*/opt/svc/rel-link $not_inside"
expect_error "an Exec= with .. above the root" org.test.DotDot \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ExecFailed: .*$not_inside"
expect_error "an Exec= through /proc/1/root" org.test.MagicLink \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ExecFailed: .*/proc/1/root/opt/svc/activated leads through a /proc magic link"
expect_error "a User= of the host's only" org.test.HostUser \
	"org\.freedesktop\.DBus\.Error\.Spawn\.SetupFailed: Cannot start org\.test\.HostUser in container $CTR_NAME: user '$host_user' does not exist in the container's /etc/passwd"
expect_error "no User=" org.test.NoUser \
	"org\.freedesktop\.DBus\.Error\.Spawn\.FileInvalid: Cannot start org\.test\.NoUser in container $CTR_NAME: /usr/share/dbus-1/system-services/org\.test\.NoUser\.service has no User="
expect_error "a service that exits 1" org.test.Exits \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ChildExited: Process org\.test\.Exits exited with status 1"
out=$(drv_inside StartServiceByName string:org.test.HostUser uint32:0 2>&1) && fail "StartServiceByName(org.test.HostUser) succeeded: $out"
expect_match "StartServiceByName(org.test.HostUser)" "$out" '^Error org\.freedesktop\.DBus\.Error\.Spawn\.SetupFailed: '
[ ! -e "$HOSTBIN/ran" ] || fail "a program of the host's ran: $(cat "$HOSTBIN/ran")"
! pgrep -f "$HOSTBIN/mark" >/dev/null || fail "a program of the host's runs: $(pgrep -af "$HOSTBIN/mark")"
for n in HostProgram AbsLink RelLink DotDot MagicLink HostUser NoUser; do
	out=$(drv_inside NameHasOwner "string:org.test.$n") || fail "NameHasOwner failed"
	expect_eq "org.test.$n has an owner" "$(echo $out)" "boolean false"
done
buslog=$(cat "$TMP/bus.log")
expect_match "the log about org.test.HostProgram" "$buslog" \
	"container $CTR_NAME: cannot start org\.test\.HostProgram: $HOSTBIN/mark $not_inside"
expect_match "the log about org.test.HostUser" "$buslog" \
	"container $CTR_NAME: cannot start org\.test\.HostUser: user '$host_user' does not exist in the container's /etc/passwd"
expect_match "the log about org.test.NoUser" "$buslog" "container $CTR_NAME: cannot start org\.test\.NoUser: .* has no User="

# The service files are read at start and again on ReloadConfig (host root's, through host.sock).
svcfile org.test.Added "/opt/svc/activated org.test.Added" svc
t dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.ReloadConfig >/dev/null || fail "ReloadConfig failed"
out=$(drv_inside ListActivatableNames) || fail "ListActivatableNames failed"
expect_match "ListActivatableNames after ReloadConfig" "$out" '(^| )org\.test\.Added( |$)'
out=$(drv_inside StartServiceByName string:org.test.Added uint32:0) || fail "StartServiceByName(org.test.Added) failed: $out"
expect_eq "StartServiceByName(org.test.Added)" "$(echo $out)" "uint32 1"

# A service that quits is started anew by the next call, with a new pid.
inside dbus-send --system --print-reply --dest=org.test.Inside /org/nsbus/Activated org.nsbus.Activated.Quit >/dev/null ||
	fail "Quit failed"
for i in $(seq 1 100); do
	out=$(drv_inside NameHasOwner string:org.test.Inside) || fail "NameHasOwner failed"
	[ "$(echo $out)" = "boolean false" ] && break
	sleep 0.05
done
again=$(whoami org.test.Inside) || fail "the call after Quit failed"
[ "$(kv pid "$again")" != "$in_pid" ] || fail "the call after Quit reached the old process"
pass
