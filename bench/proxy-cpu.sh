#!/bin/bash
# Where the CPU of a call through a proxy goes, process by process (bench/README.md, "Through a proxy,
# process by process").
#
#   bash bench/proxy-cpu.sh [ROUNDS]
#
# Sets up the proxy table's three paths as bench/run.sh does (a host nsbusd with dbus-test-tool echo;
# xdg-dbus-proxy --filter --talk=<echo> on it; a test container whose own nsbusd is bridged to the host
# bus by nsbridge with "import talk <echo>"), then runs spam pipelined (--queue=32, 30000 calls) and
# sequential (--queue=1, 10000 calls) through xdg-dbus-proxy, through nsbridge and directly, ROUNDS
# times (default 3) in that order. For each run it prints the rate and the CPU per call (user + system,
# µs, from /proc/PID/task/*/schedstat) of the host bus (HB), the container's bus (CB), nsbridge (BR),
# xdg-dbus-proxy (XDG), the echo service (ECHO) and the spam client itself (SPAM, from its rusage).
# On two CPUs a pipelined run is bound by the sum of these; a sequential one by the wakeups in between.
# NSBUSD=, NSBRIDGE=, NSRUN= default to build-bench/. Needs root (nsrun's user namespace, nsenter).
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
ROUNDS=${1:-3}
NSBUSD=${NSBUSD:-$ROOT/build-bench/daemon/nsbusd}
NSBRIDGE=${NSBRIDGE:-$ROOT/build-bench/nsbridge/nsbridge}
NSRUN=${NSRUN:-$ROOT/build-bench/tests/integration/nsrun}
ECHO_NAME=org.nsbus.Bench.Echo
. "$BENCH_DIR/bus-conf.sh"

die() { echo "proxy-cpu.sh: $*" >&2; exit 1; }
for x in "$NSBUSD" "$NSBRIDGE" "$NSRUN"; do [ -x "$x" ] || die "$x is not built (bash bench/run.sh builds build-bench/)"; done
for x in xdg-dbus-proxy dbus-test-tool nsenter; do command -v $x >/dev/null || die "$x is not installed"; done

WORK=$(mktemp -d /tmp/nsbus-proxy-cpu.XXXXXX)
chmod 755 "$WORK" # the bridge reaches the host bus's socket in it as the container's root (uid 100000)
PIDS=()
INIT=
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
wait_for() { local i; for i in $(seq 1 100); do [ -e "$1" ] && [ -s "$1" -o -S "$1" ] && return 0; sleep 0.05; done; return 1; }

bench_bus_conf "$WORK/bus" >"$WORK/bus.conf"
"$NSBUSD" --config-file="$WORK/bus.conf" --nofork --print-address=3 3>"$WORK/addr" 2>"$WORK/bus.log" &
HB=$!
PIDS+=($HB)
wait_for "$WORK/addr" || die "the host bus did not start: $(tail -1 "$WORK/bus.log")"
HOST=$(head -n 1 "$WORK/addr")
DBUS_SESSION_BUS_ADDRESS=$HOST dbus-test-tool echo --name=$ECHO_NAME 2>"$WORK/echo.log" &
ECHO=$!
PIDS+=($ECHO)
xdg-dbus-proxy "$HOST" "$WORK/xdg.sock" --filter --talk=$ECHO_NAME 2>"$WORK/xdg.log" &
XDG=$!
PIDS+=($XDG)
wait_for "$WORK/xdg.sock" || die "xdg-dbus-proxy did not start: $(tail -1 "$WORK/xdg.log")"

echo "import talk $ECHO_NAME" >"$WORK/bench.policy"
mkdir -p "$WORK/rt"
"$NSRUN" --private-run --pidfile "$WORK/init.pid" >/dev/null 2>"$WORK/nsrun.err" &
PIDS+=($!)
wait_for "$WORK/init.pid" || die "no test container: $(tail -1 "$WORK/nsrun.err")"
INIT=$(cat "$WORK/init.pid")
"$NSBUSD" --container-pid="$INIT" --name=bench --runtime-dir="$WORK/rt" --policy="$WORK/bench.policy" \
	--nofork 2>"$WORK/cbus.log" &
CB=$!
PIDS+=($CB)
wait_for "$WORK/rt/bench/host.sock" || die "the container's bus did not start: $(tail -1 "$WORK/cbus.log")"
nsenter -t "$INIT" -m -- mount --bind "$WORK/rt/bench/bus" /run/dbus || die "cannot mount the bus directory in the container"
"$NSBRIDGE" --host-bus="$HOST" --container-bus="unix:path=$WORK/rt/bench/host.sock" \
	--policy="$WORK/bench.policy" 2>"$WORK/bridge.log" &
BR=$!
PIDS+=($BR)
# A command that runs its arguments as container root on the container's bus (time(1) needs a file).
printf '#!/bin/sh\nexec nsenter -t %s -U -p -m -S 0 -G 0 -- env DBUS_SESSION_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket "$@"\n' \
	"$INIT" >"$WORK/in-container"
chmod +x "$WORK/in-container"
for i in $(seq 1 100); do
	"$WORK/in-container" dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:$ECHO_NAME 2>/dev/null | grep -q true && break
	sleep 0.05
done

cpu_ns() { # the CPU time of every thread of PID so far, ns
	local t s=0
	for t in /proc/$1/task/*/schedstat; do s=$((s + $(cut -d' ' -f1 "$t"))); done
	echo $s
}
# run NAME N CMD...: CMD makes N calls; print its rate and everyone's CPU per call.
run() {
	local name=$1 n=$2 p t0 t1 line
	shift 2
	declare -A before
	for p in HB CB BR XDG ECHO; do before[$p]=$(cpu_ns ${!p}); done
	t0=$(date +%s%N)
	/usr/bin/time -f "%U %S" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/spam.err" || die "$name: $(tail -1 "$WORK/spam.err")"
	t1=$(date +%s%N)
	line=$(printf '%-16s %6d calls/s  CPU per call (us):' "$name" $((n * 1000000000 / (t1 - t0))))
	for p in HB CB BR XDG ECHO; do
		line+=$(awk -v p=$p -v a="${before[$p]}" -v b="$(cpu_ns ${!p})" -v n="$n" 'BEGIN { printf "  %s %5.1f", p, (b - a) / n / 1000 }')
	done
	line+=$(awk -v n="$n" '{ printf "  SPAM %5.1f", ($1 + $2) * 1e6 / n }' "$WORK/time")
	echo "$line"
}
for r in $(seq 1 "$ROUNDS"); do
	run xdg-pipelined 30000 env DBUS_SESSION_BUS_ADDRESS=unix:path=$WORK/xdg.sock dbus-test-tool spam --dest=$ECHO_NAME --count=30000 --queue=32
	run bridge-pipelined 30000 "$WORK/in-container" dbus-test-tool spam --dest=$ECHO_NAME --count=30000 --queue=32
	run direct-pipelined 30000 env DBUS_SESSION_BUS_ADDRESS=$HOST dbus-test-tool spam --dest=$ECHO_NAME --count=30000 --queue=32
	run xdg-sequential 10000 env DBUS_SESSION_BUS_ADDRESS=unix:path=$WORK/xdg.sock dbus-test-tool spam --dest=$ECHO_NAME --count=10000 --queue=1
	run bridge-sequential 10000 "$WORK/in-container" dbus-test-tool spam --dest=$ECHO_NAME --count=10000 --queue=1
	run direct-sequential 10000 env DBUS_SESSION_BUS_ADDRESS=$HOST dbus-test-tool spam --dest=$ECHO_NAME --count=10000 --queue=1
done
