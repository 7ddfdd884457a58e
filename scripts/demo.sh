#!/bin/bash
# Set up a fresh Debian 12 machine (as root), build nsbus and show it working:
# an nsbusd bus that unmodified clients (sd-bus's busctl, libdbus's dbus-send,
# GDBus's gdbus, python3-dbus) use exactly as they would use dbus-daemon; then a
# container (uid map 0 100000 65536) with its own nsbusd, where every caller sees
# everyone's pid and uid as its own namespaces would; then nsbridge, which carries
# only the names a policy permits between the host bus and the container's bus.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build nsbusd nsbridge nsrun

dir=$(mktemp -d /tmp/nsbus-demo.XXXXXX)
chmod 755 "$dir" # the bridge runs as the container's root (uid 100000) and must reach the host bus
cleanup() {
	for p in ${BRIDGE_PID:-} ${SVC_PID:-} ${HOST_SVC:-} ${CTR_INIT:-} ${BUS_PID:-} ${CBUS_PID:-}; do kill "$p" 2>/dev/null || true; done
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

# ---- a container with its own bus ----

step "a container: user+pid+mount namespaces, uid map 0 100000 65536 (made by the nsrun test helper)"
build/tests/integration/nsrun --private-run --pidfile "$dir/ctr.pid" >/dev/null &
for _ in $(seq 50); do [ -s "$dir/ctr.pid" ] && break; sleep 0.1; done
CTR_INIT=$(cat "$dir/ctr.pid")
echo "container init: host pid $CTR_INIT; its uid_map: $(cat /proc/"$CTR_INIT"/uid_map)"

step "nsbusd --container-pid=$CTR_INIT: the container's own bus, run from the host"
build/daemon/nsbusd --container-pid="$CTR_INIT" --name=demo --runtime-dir="$dir/rt" --nofork --print-address=3 3>"$dir/caddr" &
CBUS_PID=$!
for _ in $(seq 50); do [ -s "$dir/caddr" ] && break; sleep 0.1; done
ls -l "$dir/rt/demo" "$dir/rt/demo/bus"
grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/$CBUS_PID/status
# What a runtime does: bind-mount the bus directory at /run/dbus inside the container.
nsenter -t "$CTR_INIT" -m -- mount --bind "$dir/rt/demo/bus" /run/dbus
inside() { nsenter -t "$CTR_INIT" -U -p -m -S "$1" -G "$1" -- env -i PATH=/usr/bin:/bin "${@:2}"; }
HOST_ADDR=unix:path=$dir/rt/demo/host.sock

step "inside, as uid 1000, a python3-dbus service owns com.example.Inside"
# It ends with the container's pid namespace.
nsenter -t "$CTR_INIT" -U -p -m -S 1000 -G 1000 -- env -i PATH=/usr/bin:/bin /usr/bin/python3 -c '
import os, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection("unix:path=/run/dbus/system_bus_socket")
bus.request_name("com.example.Inside")
print("  service inside: getpid() = %d, getuid() = %d" % (os.getpid(), os.getuid()), flush=True)
GLib.MainLoop().run()' &
disown $!
sleep 1

step "on the host, through host.sock, a python3-dbus client owns com.example.Host"
/usr/bin/python3 -c '
import sys, dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(sys.argv[1])
bus.request_name("com.example.Host")
GLib.MainLoop().run()' "$HOST_ADDR" &
HOST_SVC=$!
sleep 1

step "inside, as root (busctl): who are com.example.Inside and com.example.Host?"
for n in com.example.Inside com.example.Host; do
	inside 0 busctl --address=unix:path=/run/dbus/system_bus_socket call org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus GetConnectionCredentials s "$n"
done

step "on the host (busctl through host.sock): the same questions"
for n in com.example.Inside com.example.Host; do
	busctl --address="$HOST_ADDR" call org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus GetConnectionCredentials s "$n"
done

step "nsbridge: the policy decides what crosses between the host bus and the container's bus"
cat >"$dir/demo.policy" <<'POLICY'
# the host's com.example.Demo: only its Greet method, and its Greeted signal
import call com.example.Demo com.example.Demo.Greet@/com/example/Demo
import broadcast com.example.Demo com.example.Demo.Greeted
# the container's com.example.Inside appears on the host bus as com.example.Inside.demo
export own com.example.Inside as com.example.Inside.demo
POLICY
cat "$dir/demo.policy"
# nsbusd reserves what the policy imports: only the bridge may own com.example.Demo in there.
build/daemon/nsbusd --container-pid="$CTR_INIT" --name=demo2 --runtime-dir="$dir/rt" --nofork \
	--policy="$dir/demo.policy" 2>"$dir/cbus2.log" &
CBUS2_PID=$!
for _ in $(seq 50); do [ -S "$dir/rt/demo2/host.sock" ] && break; sleep 0.1; done
nsenter -t "$CTR_INIT" -m -- mount --bind "$dir/rt/demo2/bus" /run/dbus
build/nsbridge/nsbridge --host-bus="$DBUS_SESSION_BUS_ADDRESS" --container-bus="unix:path=$dir/rt/demo2/host.sock" \
	--policy="$dir/demo.policy" 2>"$dir/bridge.log" &
BRIDGE_PID=$!
for _ in $(seq 50); do grep -q ready "$dir/bridge.log" && break; sleep 0.1; done
cat "$dir/bridge.log"
grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/$BRIDGE_PID/status
sleep 0.5

step "inside: the container's bus lists com.example.Demo (imported), nothing else of the host's"
inside 0 busctl --address=unix:path=/run/dbus/system_bus_socket --no-pager list | grep -v '^:' || true

step "inside: call the host's com.example.Demo.Greet through the bridge"
inside 0 busctl --address=unix:path=/run/dbus/system_bus_socket call com.example.Demo /com/example/Demo \
	com.example.Demo Greet s container
step "inside: a method the policy does not permit (Introspect) is refused"
inside 0 busctl --address=unix:path=/run/dbus/system_bus_socket call com.example.Demo /com/example/Demo \
	org.freedesktop.DBus.Introspectable Introspect 2>&1 || true
step "inside: nobody in the container may take the imported name"
inside 0 busctl --address=unix:path=/run/dbus/system_bus_socket call org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus RequestName su com.example.Demo 4 2>&1 || true

step "inside, as uid 1000, com.example.Inside answers who calls it; the host calls com.example.Inside.demo"
nsenter -t "$CTR_INIT" -U -p -m -S 1000 -G 1000 -- env -i PATH=/usr/bin:/bin /usr/bin/python3 -c '
import dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection("unix:path=/run/dbus/system_bus_socket")
class Inside(dbus.service.Object):
    @dbus.service.method("com.example.Inside", out_signature="a{sv}", sender_keyword="sender")
    def WhoCalls(self, sender=None):
        d = bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")
        return d.GetConnectionCredentials(sender, dbus_interface="org.freedesktop.DBus")
name = dbus.service.BusName("com.example.Inside", bus)
Inside(bus, "/com/example/Inside")
GLib.MainLoop().run()' &
disown $!
for _ in $(seq 50); do
	busctl --address="$DBUS_SESSION_BUS_ADDRESS" status com.example.Inside.demo >/dev/null 2>&1 && break
	sleep 0.1
done
echo "the host caller, as the container service sees it (the host's root is unmapped there):"
busctl --address="$DBUS_SESSION_BUS_ADDRESS" call com.example.Inside.demo /com/example/Inside \
	com.example.Inside WhoCalls
echo "who owns the names on the host bus (the bridge is uid 100000, never 0):"
busctl --address="$DBUS_SESSION_BUS_ADDRESS" --no-pager list | grep -E 'NAME|nsbridge'

step "the container ends; its buses remove their sockets and exit, and so does the bridge"
kill "$CTR_INIT"
wait "$CBUS_PID" && wait "$CBUS2_PID" && echo "both nsbusd exited 0; $dir/rt now holds: $(ls -A "$dir/rt")"
wait "$BRIDGE_PID" && echo "nsbridge exited 0"
CBUS_PID= BRIDGE_PID=
step "done: nsbusd served every client unmodified and told each caller identities in its own namespaces; nsbridge let through only what the policy permits"
