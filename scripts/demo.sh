#!/bin/bash
# Set up a fresh Debian 12 machine (as root), build nsbus and show it working:
# an nsbusd bus that unmodified clients (sd-bus's busctl, libdbus's dbus-send,
# GDBus's gdbus, python3-dbus) use exactly as they would use dbus-daemon; then an
# LXC container (uid map 0 100000 65536) configured with one line, lxc.include of
# nsbus's LXC configuration: the runtime hooks give it its own bus at
# /run/dbus/system_bus_socket and a bridge that carries only what its policy
# permits, to and from the host bus (the machine's system bus if one runs, else
# the nsbusd above). nsbusctl shows each side's view; lxc-stop takes it all away.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build nsbusd nsbridge nsbusctl nsbus-hook
# The LXC part uses an installed tree, as an admin would; a private prefix keeps the machine's clean.

dir=$(mktemp -d /tmp/nsbus-demo.XXXXXX)
chmod 755 "$dir" # the bridge runs as the container's root (uid 100000) and must reach the host bus
cmake --install build --prefix "$dir/prefix" >/dev/null
CTR=nsbus-demo-$$
cleanup() {
	lxc-stop -n "$CTR" -k >/dev/null 2>&1 || true
	lxc-destroy -n "$CTR" >/dev/null 2>&1 || true
	rm -f /etc/dbus-1/system.d/nsbus-demo.conf
	for p in ${SVC_PID:-} ${BUS_PID:-}; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/bus.conf" <<CONF
<busconfig>
  <type>session</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "start nsbusd (dbus-daemon's command line)"
build/daemon/nsbusd --config-file="$dir/bus.conf" --nofork --print-address=3 --print-pid=4 3>"$dir/addr" 4>"$dir/pid" &
BUS_PID=$!
for _ in $(seq 50); do [ -s "$dir/addr" ] && break; sleep 0.1; done
export DBUS_SESSION_BUS_ADDRESS=$(cat "$dir/addr")
echo "listening at $DBUS_SESSION_BUS_ADDRESS (pid $BUS_PID)"

step "a python3-dbus service owns com.example.Demo"
/usr/bin/python3 - "$dir" <<'PY' &
import sys, dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
class Demo(dbus.service.Object):
    @dbus.service.method('com.example.Demo', in_signature='s', out_signature='s', sender_keyword='sender')
    def Greet(self, who, sender=None):
        self.Greeted(who)
        return 'hello %s, you are %s' % (who, sender)
    @dbus.service.signal('com.example.Demo', signature='s')
    def Greeted(self, who):
        pass
name = dbus.service.BusName('com.example.Demo', bus)
Demo(bus, '/com/example/Demo')
open(sys.argv[1] + '/ready', 'w').close()
GLib.MainLoop().run()
PY
SVC_PID=$!
for _ in $(seq 50); do [ -e "$dir/ready" ] && break; sleep 0.1; done

step "busctl list (sd-bus)"
busctl --address="$DBUS_SESSION_BUS_ADDRESS" --no-pager list

step "dbus-monitor watches while others talk (libdbus)"
timeout 3 dbus-monitor --session "interface='com.example.Demo'" >"$dir/monitor" 2>&1 &
sleep 0.5

step "gdbus call (GDBus)"
gdbus call --session --dest com.example.Demo --object-path /com/example/Demo --method com.example.Demo.Greet world

step "dbus-send to the driver (libdbus)"
dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetNameOwner string:com.example.Demo

step "who is calling? GetConnectionCredentials of the service"
busctl --address="$DBUS_SESSION_BUS_ADDRESS" call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetConnectionCredentials s com.example.Demo

sleep 3
step "what dbus-monitor saw"
cat "$dir/monitor"

# ---- an LXC container with its own bus, from the runtime hooks ----

ctl() { "$dir/prefix/bin/nsbusctl" "$@"; }
if busctl --system status >/dev/null 2>&1; then
	HOST_ADDR=unix:path=/run/dbus/system_bus_socket
	step "the host bus: this machine's system bus; a policy file lets root own com.example.Demo on it"
	cat >/etc/dbus-1/system.d/nsbus-demo.conf <<'CONF'
<busconfig>
  <policy user="root"><allow own="com.example.Demo"/></policy>
  <policy context="default"><allow send_destination="com.example.Demo"/></policy>
</busconfig>
CONF
	dbus-send --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig
	sleep 0.5
	kill "$SVC_PID" && wait "$SVC_PID" 2>/dev/null || true
	DBUS_SESSION_BUS_ADDRESS=$HOST_ADDR /usr/bin/python3 - "$dir" <<'PY' &
import sys, dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SystemBus()
class Demo(dbus.service.Object):
    @dbus.service.method('com.example.Demo', in_signature='s', out_signature='s', sender_keyword='sender')
    def Greet(self, who, sender=None):
        return 'hello %s, you are %s on the host bus' % (who, sender)
name = dbus.service.BusName('com.example.Demo', bus)
Demo(bus, '/com/example/Demo')
GLib.MainLoop().run()
PY
	SVC_PID=$!
	sleep 1
	ADD_USER=yes # dbus-daemon refuses a uid without a passwd entry: nsbus adds one for the container's root
else
	HOST_ADDR=$DBUS_SESSION_BUS_ADDRESS
	step "the host bus: no system bus runs here, so the nsbusd above stands for it"
	ADD_USER=no
fi
echo "host bus: $HOST_ADDR"

step "an id-mapped LXC busybox container; the one line that gives it a bus is the last of its config"
bash "$dir/prefix/share/nsbus/examples/containers/lxc/busybox-container.sh" --idmap --host-tools "$CTR"
grep -E '^lxc\.(idmap|include)' "/var/lib/lxc/$CTR/config"
echo "and the hooks it includes:"
grep -E '^lxc\.' "$dir/prefix/share/nsbus/lxc/nsbus.conf"

step "its bridge policy (/etc/nsbus/containers/NAME.policy; here in the demo's policy-dir)"
mkdir -p "$dir/policies" "$dir/log"
cat >"$dir/policies/$CTR.policy" <<POLICY
# the host's com.example.Demo: only its Greet method
import call com.example.Demo com.example.Demo.Greet@/com/example/Demo
# the container's com.example.Inside appears on the host bus as com.example.Inside.$CTR
export own com.example.Inside as com.example.Inside.$CTR
POLICY
cat "$dir/policies/$CTR.policy"
cat >"$dir/nsbus.conf" <<CONF
host-bus = $HOST_ADDR
policy-dir = $dir/policies
log-dir = $dir/log
add-user = $ADD_USER
CONF

step "lxc-start: the start-host hook brings the bus up before the container's init runs"
start=${EPOCHREALTIME/[.,]/}
NSBUS_CONFIG=$dir/nsbus.conf lxc-start -n "$CTR" -d
echo "lxc-start returned after $(((${EPOCHREALTIME/[.,]/} - start) / 1000)) ms"
ctl ls
inside() { lxc-attach -n "$CTR" --clear-env -v PATH=/usr/bin:/bin "$@"; }

step "inside: /run/dbus/system_bus_socket, and the names there (com.example.Demo is imported)"
inside -- ls -l /run/dbus
for _ in $(seq 50); do inside -- busctl --system status com.example.Demo >/dev/null 2>&1 && break; sleep 0.1; done
inside -- busctl --system --no-pager list

step "inside: call the host's com.example.Demo.Greet through the bridge"
inside -- busctl --system call com.example.Demo /com/example/Demo com.example.Demo Greet s container
step "inside: a method the policy does not permit is refused"
inside -- busctl --system call com.example.Demo /com/example/Demo org.freedesktop.DBus.Introspectable Introspect 2>&1 || true

step "inside, as uid 1000, com.example.Inside tells who calls it; the host calls com.example.Inside.$CTR"
inside -u 1000 -g 1000 -- /usr/bin/python3 -c '
import dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SystemBus()
class Inside(dbus.service.Object):
    @dbus.service.method("com.example.Inside", out_signature="a{sv}", sender_keyword="sender")
    def WhoCalls(self, sender=None):
        d = bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
        return d.GetConnectionCredentials(sender, dbus_interface="org.freedesktop.DBus")
name = dbus.service.BusName("com.example.Inside", bus)
Inside(bus, "/com/example/Inside")
GLib.MainLoop().run()' >/dev/null 2>&1 &
for _ in $(seq 50); do
	busctl --address="$HOST_ADDR" status "com.example.Inside.$CTR" >/dev/null 2>&1 && break
	sleep 0.1
done
echo "the host caller, as the container's service sees it (the host's root is unmapped there):"
busctl --address="$HOST_ADDR" call "com.example.Inside.$CTR" /com/example/Inside com.example.Inside WhoCalls

step "nsbusctl on the host: the container's bus, and com.example.Inside in both views"
ctl -C "$CTR" --no-pager list
ctl -C "$CTR" creds com.example.Inside

step "lxc-stop: the post-stop hook takes the bus and the bridge away"
lxc-stop -n "$CTR"
echo "/run/nsbus now holds: $(ls -A /run/nsbus 2>/dev/null)"
pgrep -a -f "nsbus(d|bridge).*--name=$CTR" || echo "no nsbusd or nsbridge of $CTR runs"
step "done: the container got its bus from one include line; nsbridge let through only what its policy permits"
