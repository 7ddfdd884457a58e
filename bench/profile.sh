#!/bin/bash
# Where a bus spends its time per message: one workload on one bus, with the bus process
# observed from outside (bench/README.md, "Where the time goes").
#
#   bash bench/profile.sh BUS WORKLOAD [strace|perf-stat|perf-record|perf-trace|none]
#
# BUS: nsbusd (NSBUSD=, default build-bench/daemon/nsbusd), dbus-broker (started as run.sh
# starts it, without systemd) or null-bus (bench/null-bus.c, the least a bus can do for these
# clients). WORKLOAD: seq (spam --queue=1, 20000 calls), pipe (--queue=32, 60000), bytes:SIZE
# (spam --bytes with a SIZE-byte payload, echoed back: 5000 calls, sequential), connect
# (connect-rate, 3000 cycles). The observer is attached to the bus process for the workload
# only:
#   strace       syscalls of the bus, per call (strace -c -f)
#   perf-stat    task-clock, instructions, cycles, context switches, page faults of the bus, per call
#   perf-record  the share of the bus's code, its libraries and the kernel, then the top symbols
#                (perf record -g; perf report --no-children)
#                PROFILE_KEEP=FILE keeps perf.data there, for perf report or perf diff later;
#                PROFILE_CALLGRAPH="--call-graph dwarf" for callers through code built without frame pointers
#   perf-trace   time inside each syscall of the bus per call, and the syscalls of one call in order
#   callgrind    instructions the bus executes per call (valgrind --tool=callgrind, counters zeroed
#                after the warm-up and dumped after the workload), then the top functions by their own
#                instructions: exact and repeatable, where this VM has no PMU for perf's instructions.
#                nsbusd and null-bus only (started under valgrind; the rate is valgrind's, not the bus's).
#                PROFILE_KEEP=FILE keeps the dump, for callgrind_annotate.
#   none         the rate alone
# Needs root (the broker's mount namespace, ptrace, perf).
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUS=${1:?usage: profile.sh BUS WORKLOAD [strace|perf-stat|perf-record|perf-trace|none]}
WORKLOAD=${2:?usage: profile.sh BUS WORKLOAD [strace|perf-stat|perf-record|perf-trace|none]}
TOOL=${3:-strace}
NSBUSD=${NSBUSD:-$ROOT/build-bench/daemon/nsbusd}
. "$BENCH_DIR/bus-conf.sh"

WORK=$(mktemp -d /tmp/nsbus-profile.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		for c in $(pgrep -P "$p" 2>/dev/null); do kill "$c" 2>/dev/null; done
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

bench_bus_conf "$WORK/bus" >"$WORK/bus.conf"
ADDR=unix:path=$WORK/bus
UNDER=()
if [ "$TOOL" = callgrind ]; then
	[ "$BUS" = dbus-broker ] && { echo "profile.sh: callgrind runs nsbusd or null-bus, not dbus-broker" >&2; exit 2; }
	UNDER=(valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" --log-file="$WORK/valgrind.log")
fi
case "$BUS" in
nsbusd)
	"${UNDER[@]}" "$NSBUSD" --config-file="$WORK/bus.conf" --nofork 2>"$WORK/bus.log" &
	BUS_PID=$!
	PIDS+=($!)
	for _ in $(seq 1 100); do [ -S "$WORK/bus" ] && break; sleep 0.05; done
	;;
null-bus)
	cc -std=gnu17 -O2 -o "$WORK/null-bus" "$BENCH_DIR/null-bus.c" || exit 1
	"${UNDER[@]}" "$WORK/null-bus" "$WORK/bus" >"$WORK/bus.log" 2>&1 &
	BUS_PID=$!
	PIDS+=($!)
	for _ in $(seq 1 100); do [ -S "$WORK/bus" ] && break; sleep 0.05; done
	;;
dbus-broker)
	unshare -m bash "$BENCH_DIR/broker-inner.sh" "$WORK/bus" "$WORK/bus.conf" "$WORK/sink.pid" >"$WORK/bus.log" 2>&1 &
	PIDS+=($!)
	launcher=$!
	for _ in $(seq 1 100); do [ -S "$WORK/bus" ] && [ -s "$WORK/sink.pid" ] && break; sleep 0.05; done
	PIDS+=($(cat "$WORK/sink.pid"))
	;;
*) echo "profile.sh: unknown bus $BUS" >&2; exit 2 ;;
esac
DBUS_SESSION_BUS_ADDRESS=$ADDR timeout 10 dbus-send --session --print-reply --dest=org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null || { echo "profile.sh: bus does not answer" >&2; exit 1; }
[ "$BUS" = dbus-broker ] && BUS_PID=$(pgrep -P "$launcher" -x dbus-broker)

DBUS_SESSION_BUS_ADDRESS=$ADDR dbus-test-tool echo --name=org.nsbus.Bench.Echo 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 100); do
	DBUS_SESSION_BUS_ADDRESS=$ADDR dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.nsbus.Bench.Echo 2>/dev/null |
		grep -q true && break
	sleep 0.05
done
cc -std=gnu17 -O2 -o "$WORK/connect-rate" "$BENCH_DIR/connect-rate.c" || exit 1

spam() { DBUS_SESSION_BUS_ADDRESS=$ADDR dbus-test-tool spam --dest=org.nsbus.Bench.Echo "$@"; }
case "$WORKLOAD" in
seq) N=20000; run() { spam --count=$N --queue=1; } ;;
pipe) N=60000; run() { spam --count=$N --queue=32; } ;;
bytes:*)
	N=5000
	head -c "${WORKLOAD#bytes:}" /dev/zero | tr '\0' x >"$WORK/payload"
	run() { spam --count=$N --queue=1 --bytes --stdin <"$WORK/payload"; } ;;
connect) N=3000; run() { "$WORK/connect-rate" "$ADDR" $N >/dev/null; } ;;
*) echo "profile.sh: unknown workload $WORKLOAD" >&2; exit 2 ;;
esac
run >/dev/null 2>&1 # warm-up: the bus's heap and the page cache as in a run

case "$TOOL" in
strace)
	strace -c -f -p "$BUS_PID" -o "$WORK/strace" &
	obs=$!
	sleep 0.5
	;;
perf-stat)
	perf stat -e task-clock,instructions,cycles,context-switches,page-faults,raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait -x, -p "$BUS_PID" -o "$WORK/perf" &
	obs=$!
	sleep 0.3
	;;
perf-record)
	perf record -q ${PROFILE_CALLGRAPH:--g} -p "$BUS_PID" -o "$WORK/perf.data" 2>/dev/null &
	obs=$!
	sleep 0.3
	;;
perf-trace)
	perf trace -p "$BUS_PID" -o "$WORK/trace" &
	obs=$!
	sleep 0.5
	;;
callgrind)
	callgrind_control -z "$BUS_PID" >/dev/null 2>&1 || { echo "profile.sh: callgrind_control -z failed" >&2; exit 1; }
	obs=
	;;
none) obs= ;;
esac
t0=$(date +%s%N)
run >/dev/null
t1=$(date +%s%N)
[ -n "$obs" ] && { kill -INT "$obs"; wait "$obs" 2>/dev/null; }
echo "$BUS $WORKLOAD: $N calls, $(awk -v n=$N -v d=$((t1 - t0)) 'BEGIN {printf "%.0f", n / (d / 1e9)}')/s (with $TOOL attached)"
case "$TOOL" in
strace)
	awk -v n=$N '/^[ ]*[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && !/total/ {
		calls = $4; t += calls; printf "  %-16s %10d  %6.2f per call\n", $NF, calls, calls / n }
		END { printf "  %-16s %10d  %6.2f per call\n", "total", t, t / n }' "$WORK/strace"
	;;
perf-stat)
	# task-clock comes in ms; shown in µs. instructions and cycles need a PMU (a VM may have none).
	awk -F, -v n=$N '$3 != "" {
		v = $1; name = $3
		if (name == "task-clock") { v *= 1000; name = "task-clock (us)" }
		if ($1 ~ /^[0-9.]+$/) printf "  %-18s %14.0f  %10.2f per call\n", name, v, v / n
		else printf "  %-18s %s\n", name, $1 }' "$WORK/perf"
	;;
perf-record)
	perf report -i "$WORK/perf.data" --no-children --stdio --sort dso -g none 2>/dev/null | grep -v "^#" | grep -v "^$" | head -5
	[ -n "${PROFILE_KEEP:-}" ] && cp "$WORK/perf.data" "$PROFILE_KEEP"
	perf report -i "$WORK/perf.data" --no-children --stdio --percent-limit 0.5 -g none 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -30
	;;
perf-trace)
	# Time inside each syscall (what the kernel spends on the bus's behalf), and one call's sequence.
	awk -v n=$N '{ for (i = 1; i <= NF; i++) if ($i == "ms") { d = $(i - 1); gsub(/[()]/, "", d) }
		for (i = 1; i <= NF; i++) if ($i ~ /^[a-z_0-9]+\(/) { name = $i; sub(/\(.*/, "", name); break }
		if (name != "") { c[name]++; t[name] += d } name = "" }
		END { for (k in c) printf "  %-14s %6.2f per call  %7.2f us per call\n", k, c[k] / n, t[k] * 1000 / n }' \
		"$WORK/trace" | sort -k4 -nr
	echo "  one call:"
	sed -n "$(($(wc -l <"$WORK/trace") / 2)),+24p" "$WORK/trace" | cut -c1-150 | sed 's/^/    /'
	;;
callgrind)
	callgrind_control -d "$BUS_PID" >/dev/null 2>&1 || { echo "profile.sh: callgrind_control -d failed" >&2; exit 1; }
	dump=$(ls "$WORK"/callgrind.out.* 2>/dev/null | head -1)
	[ -n "$dump" ] || { echo "profile.sh: no callgrind dump" >&2; exit 1; }
	[ -n "${PROFILE_KEEP:-}" ] && cp "$dump" "$PROFILE_KEEP"
	awk -v n=$N '/^(summary|totals):/ { printf "  instructions %14d  %10.0f per call\n", $2, $2 / n; exit }' "$dump"
	# Self cost per function; a dump taken mid-run also lists the frames still on the stack (main,
	# bus_run) with their inclusive cost, which the filter leaves out.
	callgrind_annotate --threshold=100 "$dump" 2>/dev/null | sed -n '/file:function/,$p' |
		awk 'match($0, /\( *[0-9.]+%\)/) { p = substr($0, RSTART + 1, RLENGTH - 3) + 0; if (p < 50) print }' |
		head -20 | sed 's/ \[.*//; s/^/  /'
	;;
esac
