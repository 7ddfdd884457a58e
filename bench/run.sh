#!/bin/bash
# nsbus bench: every workload against dbus-daemon, dbus-broker and nsbusd in one run,
# interleaved (bus A, B, C for a workload, then the next workload, then the whole
# round again), repeated, median reported.  See bench/README.md.
#
#   bash bench/run.sh [--quick] [--repeat N] [--out FILE] [--buses "dbus-daemon dbus-broker nsbusd"]
#                     [--only buses,list,proxy,container-buses,runtime,criu]
#
# NSBUSD=/path/to/nsbusd skips building nsbusd (the smoke test uses the ctest build);
# NSBRIDGE, NSRUN and NSBUSCTL then name the other programs (a row without one is n/a).
# NSBUSD_BASE=/path/to/nsbusd adds a column "nsbusd-base" to the main table: a before/after in one run.
# The runtime section installs the build NSBUSD is from (cmake --install) into the temp dir.
# The criu section takes the CRIU plugin from NSBUS_CRIU_PLUGIN, else next to NSBUSD's build.
set -u
set -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=/usr/bin/python3
. "$BENCH_DIR/bus-conf.sh"

QUICK=0
REPEAT=
OUT=$BENCH_DIR/results/latest.json
BUSES="dbus-daemon dbus-broker nsbusd"
ALL_SECTIONS="buses list proxy container-buses runtime criu"
SECTIONS=$ALL_SECTIONS
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--repeat) REPEAT=$2; shift ;;
	--repeat=*) REPEAT=${1#*=} ;;
	--out) OUT=$2; shift ;;
	--out=*) OUT=${1#*=} ;;
	--buses) BUSES=$2; shift ;;
	--buses=*) BUSES=${1#*=} ;;
	--only) SECTIONS=${2//,/ }; shift ;;
	--only=*) SECTIONS=${1#*=} SECTIONS=${SECTIONS//,/ } ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
# NSBUSD_BASE=/path/to/another/nsbusd adds it as a fourth bus, "nsbusd-base", for a before/after of a
# change in one run (the main table only).
[ -n "${NSBUSD_BASE:-}" ] && [[ " $BUSES " != *" nsbusd-base "* ]] && BUSES="$BUSES nsbusd-base"
for s in $SECTIONS; do
	[[ " $ALL_SECTIONS " == *" $s "* ]] || { echo "run.sh: --only: unknown section $s (sections: $ALL_SECTIONS)" >&2; exit 2; }
done
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

if [ "$QUICK" = 1 ]; then
	REPEAT=${REPEAT:-1}
	N_SEQ=300 N_PIPE=1000 N_FLOOD=2000 N_CONNECT=100 N_PROXY=300 N_PROXY_PIPE=1000 N_BUSES=10
	PEERS="1 100 300"
	N_BCAST_1=500 N_BCAST_100=50 BCAST_RULES=1000 PAYLOAD_LOOP=0.1s N_WATCHES=400
	N_LIST_PEERS=300
	N_LXC_RUNS=2 N_LXC=5
	N_CRIU_CONNS=20 N_CRIU_NAMED=2 N_CRIU_RUNS=1
else
	REPEAT=${REPEAT:-3}
	N_SEQ=20000 N_PIPE=60000 N_FLOOD=200000 N_CONNECT=3000 N_PROXY=10000 N_PROXY_PIPE=30000 N_BUSES=100
	PEERS="1 1000 10000"
	N_BCAST_1=100000 N_BCAST_100=10000 BCAST_RULES=10000 PAYLOAD_LOOP=0.5s N_WATCHES=10000
	N_LIST_PEERS=1000
	N_LXC_RUNS=10 N_LXC=100
	N_CRIU_CONNS=100 N_CRIU_NAMED=5 N_CRIU_RUNS=2
fi
PAYLOAD_SIZES="1 4096 65536 1048576"
# What the clients put on the wire, for the limits (bench/relay-limit.c): a dbus-test-tool spam call
# ("hello, world!") is 130 bytes and dbus-test-tool echo's reply 40; a test-bus-benchmark call of size S
# is S bytes of `ay` behind about 128 bytes of header, answered by an empty reply.
SPAM_CALL=130 SPAM_REPLY=40 PAYLOAD_HEADER=128 PAYLOAD_REPLY=48
# Calls per limit run of each payload size: about half a second each on this kind of machine.
declare -A N_LIMIT_PAYLOAD=([1]=20000 [4096]=15000 [65536]=5000 [1048576]=500)
if [ "$QUICK" = 1 ]; then for size in $PAYLOAD_SIZES; do N_LIMIT_PAYLOAD[$size]=$((N_LIMIT_PAYLOAD[$size] / 20)); done; fi
N_LIST_RUNS=7 # timed runs of each tool per round, after one warm-up
# The most peers any row holds on one bus: the bus config's connection limits and RLIMIT_NOFILE follow it.
MAX_PEERS=${PEERS##* }
[ "$N_LIST_PEERS" -gt "$MAX_PEERS" ] && MAX_PEERS=$N_LIST_PEERS

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for c in dbus-daemon dbus-test-tool dbus-send cc; do
	command -v "$c" >/dev/null || die "$c not installed (bash scripts/install-deps.sh; see bench/README.md)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nsbus-bench.XXXXXX")
chmod 755 "$WORK"
KILL_PIDS=() # everything started in the background, killed on exit

# Kill one process and wait (bounded) for it to go.
stop_pid() {
	local p=$1 i
	kill "$p" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

cleanup() {
	local p c
	# The containers first: their hooks and configuration are in $WORK.
	declare -F runtime_teardown >/dev/null && runtime_teardown
	for p in "${KILL_PIDS[@]}"; do
		# dbus-broker is a child of its launcher; the launcher stops it, but be sure.
		for c in $(pgrep -P "$p" 2>/dev/null); do kill "$c" 2>/dev/null; done
		stop_pid "$p"
	done
	if [ -n "${NSBUS_BENCH_KEEP:-}" ]; then
		echo "kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build -----------------------------------------------------------------------
if [ -z "${NSBUSD:-}" ]; then
	log "building nsbusd (RelWithDebInfo) in $ROOT/build-bench"
	gen=()
	command -v ninja >/dev/null && [ ! -f "$ROOT/build-bench/Makefile" ] && gen=(-G Ninja)
	cmake -S "$ROOT" -B "$ROOT/build-bench" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1 &&
		cmake --build "$ROOT/build-bench" --target nsbusd nsbridge nsrun nsbusctl nsbus-hook >>"$WORK/cmake.log" 2>&1 ||
		{ tail -30 "$WORK/cmake.log" >&2; die "building nsbusd failed"; }
	# The CRIU plugin is only a target where CRIU's plugin header is (criu/CMakeLists.txt); without it the
	# criu section says n/a.
	cmake --build "$ROOT/build-bench" --target nsbus-criu >>"$WORK/cmake.log" 2>&1
	NSBUSD=$ROOT/build-bench/daemon/nsbusd
	NSBRIDGE=${NSBRIDGE:-$ROOT/build-bench/nsbridge/nsbridge}
	NSRUN=${NSRUN:-$ROOT/build-bench/tests/integration/nsrun}
	NSBUSCTL=${NSBUSCTL:-$ROOT/build-bench/cli/nsbusctl}
fi
[ -x "$NSBUSD" ] || die "NSBUSD=$NSBUSD is not executable"
mkdir -p "$WORK/bin"
for p in connect-rate connect-floor flood-sink relay-limit bus-start broadcast null-bus null-proxy; do
	cc -std=gnu17 -O2 -Wall -Wextra -o "$WORK/bin/$p" "$BENCH_DIR/$p.c" || die "compiling bench/$p.c failed"
done

# systemd's sd-bus benchmark client for the payload rows: installed, or unpacked by install-deps.sh.
BUS_BENCHMARK=
for c in /usr/lib/systemd/tests/manual/test-bus-benchmark \
	/var/cache/nsbus/systemd-tests/usr/lib/systemd/tests/manual/test-bus-benchmark; do
	[ -x "$c" ] && { BUS_BENCHMARK=$c; break; }
done

# One fd per held peer on each side, plus some.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
nofile=$(ulimit -n)
if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((MAX_PEERS + 200)) ]; then
	die "RLIMIT_NOFILE $nofile is below $((MAX_PEERS + 200)) (needed for $MAX_PEERS peers)"
fi

# --- buses -----------------------------------------------------------------------
# Why a bus column has no numbers, if it has none.
declare -A NA
declare -A ADDR BUS_PID EXTRA_PID

# A session-style permissive config, the same file for dbus-daemon and nsbusd (and
# the policy part for dbus-broker, whose launcher reads it too).  The limits let
# MAX_PEERS idle peers in (the idle-peer rows, the list row).
write_config() {
	local lim=$((MAX_PEERS + 1000))
	bench_bus_conf "$1/bus" "  <limit name=\"max_completed_connections\">$lim</limit>
  <limit name=\"max_incomplete_connections\">$lim</limit>
  <limit name=\"max_connections_per_user\">$lim</limit>" >"$1/bus.conf"
}

bus_ping() {
	DBUS_SESSION_BUS_ADDRESS=${ADDR[$1]} timeout 10 dbus-send --session --print-reply=literal \
		--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1
}

# start_bus NAME: start it fresh in $WORK/NAME; sets ADDR, BUS_PID (the process whose
# RSS is the bus) and EXTRA_PID (dbus-broker's launcher).  Returns 1 and sets NA on failure.
start_bus() {
	local b=$1 dir=$WORK/$1 i
	rm -rf "$dir"
	mkdir -p "$dir"
	write_config "$dir"
	EXTRA_PID[$b]=
	case "$b" in
	null-bus)
		"$WORK/bin/null-bus" "$dir/bus" >"$dir/addr" 2>"$dir/bus.log" &
		BUS_PID[$b]=$!
		KILL_PIDS+=($!)
		for i in $(seq 1 100); do
			grep -q listening "$dir/addr" && break
			kill -0 "${BUS_PID[$b]}" 2>/dev/null || break
			sleep 0.05
		done
		ADDR[$b]=unix:path=$dir/bus
		bus_ping "$b" || { NA[$b]="did not answer GetId: $(tail -1 "$dir/bus.log")"; return 1; }
		;;
	dbus-daemon | nsbusd | nsbusd-base)
		local bin=/usr/bin/dbus-daemon
		[ "$b" = nsbusd ] && bin=$NSBUSD
		[ "$b" = nsbusd-base ] && bin=$NSBUSD_BASE
		: >"$dir/addr"
		"$bin" --config-file="$dir/bus.conf" --nofork --print-address=3 3>"$dir/addr" 2>"$dir/bus.log" &
		BUS_PID[$b]=$!
		KILL_PIDS+=($!)
		for i in $(seq 1 100); do
			[ "$(wc -l <"$dir/addr")" -ge 1 ] && break
			kill -0 "${BUS_PID[$b]}" 2>/dev/null || break
			sleep 0.05
		done
		ADDR[$b]=$(head -n 1 "$dir/addr")
		[ -n "${ADDR[$b]}" ] || { NA[$b]="did not start: $(tail -1 "$dir/bus.log")"; return 1; }
		bus_ping "$b" || { NA[$b]="did not answer GetId"; return 1; }
		;;
	dbus-broker)
		for c in dbus-broker-launch systemd-socket-activate unshare; do
			command -v $c >/dev/null || { NA[$b]="$c not installed"; return 1; }
		done
		ADDR[$b]=unix:path=$dir/bus
		unshare -m bash "$BENCH_DIR/broker-inner.sh" "$dir/bus" "$dir/bus.conf" "$dir/sink.pid" >"$dir/bus.log" 2>&1 &
		EXTRA_PID[$b]=$! # unshare -> bash -> systemd-socket-activate -> dbus-broker-launch, one pid
		KILL_PIDS+=($!)
		for i in $(seq 1 100); do
			[ -S "$dir/bus" ] && [ -s "$dir/sink.pid" ] && break
			kill -0 "${EXTRA_PID[$b]}" 2>/dev/null || break
			sleep 0.05
		done
		[ -s "$dir/sink.pid" ] && KILL_PIDS+=($(cat "$dir/sink.pid"))
		# systemd-socket-activate starts the launcher on the first connection.
		bus_ping "$b" || { NA[$b]="did not answer GetId: $(grep -v '^Policy' "$dir/bus.log" | tail -1)"; return 1; }
		BUS_PID[$b]=$(pgrep -P "${EXTRA_PID[$b]}" -x dbus-broker)
		[ -n "${BUS_PID[$b]}" ] || { NA[$b]="no dbus-broker process under the launcher"; return 1; }
		;;
	esac
	return 0
}

stop_bus() {
	local b=$1 p
	for p in ${BUS_PID[$b]:-} ${EXTRA_PID[$b]:-}; do
		stop_pid "$p"
	done
	[ -s "$WORK/$b/sink.pid" ] && stop_pid "$(cat "$WORK/$b/sink.pid")"
	BUS_PID[$b]= EXTRA_PID[$b]=
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# --- recording -------------------------------------------------------------------
SAMPLES=$WORK/samples # lines: ROW BUS VALUE (VALUE is a number or "fail:why")
: >"$SAMPLES"
record() { echo "$1 $2 ${3:-fail:no_value}" >>"$SAMPLES"; }
now_ns() { date +%s%N; }

live() { [ -z "${NA[$1]:-}" ]; }

# spam_record ROW COLUMN COUNT CMD...: time CMD, a dbus-test-tool spam run of COUNT calls, and record
# calls/s (or why it failed).
spam_record() {
	local row=$1 col=$2 n=$3 t0 t1 rc
	shift 3
	t0=$(now_ns)
	timeout 300 "$@" 2>"$WORK/spam.err"
	rc=$?
	t1=$(now_ns)
	if [ $rc -ne 0 ] || [ -s "$WORK/spam.err" ]; then
		record "$row" "$col" "fail:spam-exit-$rc:$(head -c 80 "$WORK/spam.err" | tr ' \n' '__')"
		return
	fi
	record "$row" "$col" "$(awk -v n="$n" -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", n / (d / 1e9)}')"
}

# CPU time a process has used so far, all its threads, in ns (schedstat: not rounded to clock ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{t += $1} END {if (NR) printf "%.0f\n", t}'; }

# spam_rate BUS ROW COUNT ARGS...: one dbus-test-tool spam run on BUS. Also records the bus process's
# own CPU time per call (row cpu_ROW, in µs): what the bus costs, apart from the wakeups every hop of a
# call waits for, which dominate the rate on a VM.
spam_rate() {
	local b=$1 row=$2 n=$3 c0 c1
	shift 3
	c0=$(cpu_ns "${BUS_PID[$b]}")
	spam_record "$row" "$b" "$n" env DBUS_SESSION_BUS_ADDRESS="${ADDR[$b]}" dbus-test-tool spam --count="$n" "$@"
	c1=$(cpu_ns "${BUS_PID[$b]}")
	if [ -n "$c0" ] && [ -n "$c1" ]; then
		record "cpu_$row" "$b" "$(awk -v a="$c0" -v z="$c1" -v n="$n" 'BEGIN {printf "%.2f", (z - a) / 1e3 / n}')"
	else
		record "cpu_$row" "$b" "fail:bus_process_gone"
	fi
}

# --- a call through a proxy: direct, xdg-dbus-proxy, nsbridge ------------------------
# One host bus (nsbusd) with dbus-test-tool echo on it. The same sequential and pipelined
# spam runs three ways: on the host bus directly; through xdg-dbus-proxy (--filter
# --talk=the echo name); and from inside a test container (nsrun, uid map 0 100000
# 65536) whose own nsbusd is bridged to the host bus by nsbridge (import talk the echo
# name). Rows: proxy_*; columns: the three paths.
PROXY_PATHS="direct xdg-dbus-proxy nsbridge"
declare -A PROXY_NA PROXY_ADDR NULL_PATH_ADDR
PROXY_PIDS=()
# The same three paths made of hops that do nothing but pass bytes, the rows' ceilings with their own
# clients: bench/null-bus with an echo of its own, alone (direct), behind one bench/null-proxy (the hops
# of xdg-dbus-proxy's path) and behind two (the container's bus and the bridge). Columns null:PATH.
null_paths_setup() {
	local d=$1/null i
	NULL_PATH_ADDR=()
	mkdir -p "$d"
	"$WORK/bin/null-bus" "$d/bus" >"$d/bus.out" 2>"$d/bus.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	for i in $(seq 1 100); do [ -S "$d/bus" ] && break; sleep 0.05; done
	[ -S "$d/bus" ] || return 0
	DBUS_SESSION_BUS_ADDRESS=unix:path=$d/bus dbus-test-tool echo --name=org.nsbus.Bench.Echo 2>"$d/echo.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	"$WORK/bin/null-proxy" "$d/p1" "$d/bus" >"$d/p1.out" 2>"$d/p1.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	"$WORK/bin/null-proxy" "$d/p2" "$d/p1" >"$d/p2.out" 2>"$d/p2.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	for i in $(seq 1 100); do
		[ -S "$d/p2" ] && DBUS_SESSION_BUS_ADDRESS=unix:path=$d/p2 dbus-send --session --print-reply=literal \
			--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
			string:org.nsbus.Bench.Echo 2>/dev/null | grep -q true && break
		sleep 0.05
	done
	NULL_PATH_ADDR[direct]=unix:path=$d/bus
	NULL_PATH_ADDR[xdg-dbus-proxy]=unix:path=$d/p1
	NULL_PATH_ADDR[nsbridge]=unix:path=$d/p2
}
proxy_setup() {
	local d=$WORK/proxy i init
	PROXY_NA=() PROXY_ADDR=() PROXY_PIDS=() PROXY_INIT=
	rm -rf "$d"
	mkdir -p "$d/rt"
	null_paths_setup "$d"
	write_config "$d"
	: >"$d/addr"
	"$NSBUSD" --config-file="$d/bus.conf" --nofork --print-address=3 3>"$d/addr" 2>"$d/bus.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	for i in $(seq 1 100); do [ -s "$d/addr" ] && break; sleep 0.05; done
	local host=$(head -n 1 "$d/addr")
	[ -n "$host" ] || { for p in $PROXY_PATHS; do PROXY_NA[$p]="host bus did not start"; done; return; }
	DBUS_SESSION_BUS_ADDRESS=$host dbus-test-tool echo --name=org.nsbus.Bench.Echo 2>"$d/echo.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	PROXY_ADDR[direct]=$host

	if command -v xdg-dbus-proxy >/dev/null; then
		xdg-dbus-proxy "$host" "$d/xdg.sock" --filter --talk=org.nsbus.Bench.Echo 2>"$d/xdg.log" &
		PROXY_PIDS+=($!)
		KILL_PIDS+=($!)
		for i in $(seq 1 100); do [ -S "$d/xdg.sock" ] && break; sleep 0.05; done
		if [ -S "$d/xdg.sock" ]; then PROXY_ADDR[xdg-dbus-proxy]=unix:path=$d/xdg.sock
		else PROXY_NA[xdg-dbus-proxy]="did not start: $(tail -1 "$d/xdg.log")"; fi
	else
		PROXY_NA[xdg-dbus-proxy]="xdg-dbus-proxy not installed"
	fi

	if [ ! -x "${NSBRIDGE:-}" ] || [ ! -x "${NSRUN:-}" ]; then
		PROXY_NA[nsbridge]="NSBRIDGE/NSRUN not built"
		return
	fi
	echo "import talk org.nsbus.Bench.Echo" >"$d/bench.policy"
	"$NSRUN" --private-run --pidfile "$d/init.pid" >/dev/null 2>"$d/nsrun.err" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	for i in $(seq 1 100); do [ -s "$d/init.pid" ] && break; sleep 0.05; done
	init=$(cat "$d/init.pid" 2>/dev/null)
	[ -n "$init" ] || { PROXY_NA[nsbridge]="no test container: $(tail -1 "$d/nsrun.err")"; return; }
	"$NSBUSD" --container-pid="$init" --name=bench --runtime-dir="$d/rt" --policy="$d/bench.policy" \
		--nofork 2>"$d/cbus.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	for i in $(seq 1 100); do [ -S "$d/rt/bench/host.sock" ] && break; sleep 0.05; done
	nsenter -t "$init" -m -- mount --bind "$d/rt/bench/bus" /run/dbus ||
		{ PROXY_NA[nsbridge]="cannot mount the bus directory in the container"; return; }
	"$NSBRIDGE" --host-bus="$host" --container-bus="unix:path=$d/rt/bench/host.sock" \
		--policy="$d/bench.policy" 2>"$d/bridge.log" &
	PROXY_PIDS+=($!)
	KILL_PIDS+=($!)
	PROXY_INIT=$init
	for i in $(seq 1 100); do
		proxy_in_container dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
			/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.nsbus.Bench.Echo 2>/dev/null |
			grep -q true && break
		sleep 0.05
	done
	PROXY_ADDR[nsbridge]=unix:path=/run/dbus/system_bus_socket
}
proxy_in_container() {
	nsenter -t "$PROXY_INIT" -U -p -m -S 0 -G 0 -- \
		env DBUS_SESSION_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket "$@"
}
proxy_teardown() {
	local p
	for p in "${PROXY_PIDS[@]}"; do stop_pid "$p"; done
}
# null_path_spam PATH ROW COUNT ARGS...: the same through PATH's null path.
null_path_spam() {
	local p=$1 row=$2 n=$3
	shift 3
	[ -n "${NULL_PATH_ADDR[$p]:-}" ] || { record "$row" "null:$p" "fail:null-bus_or_null-proxy_did_not_start"; return 0; }
	spam_record "$row" "null:$p" "$n" env DBUS_SESSION_BUS_ADDRESS="${NULL_PATH_ADDR[$p]}" \
		dbus-test-tool spam --count="$n" "$@"
}
# proxy_spam PATH ROW COUNT ARGS...: the same through one of the proxy paths.
proxy_spam() {
	local p=$1 row=$2 n=$3
	shift 3
	[ -z "${PROXY_NA[$p]:-}" ] || return 0
	local enter=()
	[ "$p" = nsbridge ] && enter=(nsenter -t "$PROXY_INIT" -U -p -m -S 0 -G 0 --)
	spam_record "$row" "$p" "$n" "${enter[@]}" env DBUS_SESSION_BUS_ADDRESS="${PROXY_ADDR[$p]}" \
		dbus-test-tool spam --count="$n" "$@"
}

# --- nsbusctl list against busctl list ------------------------------------------------
# One nsbusd, started for the row, with N_LIST_PEERS connections held by connect-rate
# --hold-named, the first half owning a well-known name each. Both tools list it with
# the same options, output to /dev/null: one warm-up run each, whose output must have a
# line per name (or the tool's column fails), then N_LIST_RUNS runs each, in mirrored
# pairs (A B, B A, ...). Row cli_list_ms; columns: the tools.
CLI_TOOLS="nsbusctl busctl"
declare -A CLI_NA
CLI_DIR=$WORK/cli-list

# cli_list_once TOOL ADDR OUT: one "TOOL list" run; sets CLI_US to its wall time in µs
# ($EPOCHREALTIME: no fork of date inside the interval) and returns its exit status.
cli_list_once() {
	local cmd=busctl t0 rc
	[ "$1" = nsbusctl ] && cmd=$NSBUSCTL
	t0=${EPOCHREALTIME/[.,]/}
	timeout 60 "$cmd" --address="$2" --no-pager list >"$3" 2>"$CLI_DIR/$1.err"
	rc=$?
	CLI_US=$((${EPOCHREALTIME/[.,]/} - t0))
	return $rc
}

cli_list_fail() { echo "fail:$2-exit-$1:$(head -c 80 "$CLI_DIR/$2.err" | tr ' \n' '__')"; }

cli_list_rows() {
	local d=$CLI_DIR bus holder addr i t order ok=" " rc
	local named=$((N_LIST_PEERS / 2))
	CLI_NA=()
	[ -x "${NSBUSCTL:-}" ] || CLI_NA[nsbusctl]="NSBUSCTL not built"
	command -v busctl >/dev/null || CLI_NA[busctl]="busctl not installed"
	rm -rf "$d"
	mkdir -p "$d"
	write_config "$d"
	: >"$d/addr"
	"$NSBUSD" --config-file="$d/bus.conf" --nofork --print-address=3 3>"$d/addr" 2>"$d/bus.log" &
	bus=$!
	KILL_PIDS+=($bus)
	for i in $(seq 1 100); do [ -s "$d/addr" ] && break; sleep 0.05; done
	addr=$(head -n 1 "$d/addr")
	if [ -z "$addr" ]; then
		for t in $CLI_TOOLS; do CLI_NA[$t]="nsbusd did not start: $(tail -1 "$d/bus.log")"; done
		stop_pid $bus
		return
	fi
	"$WORK/bin/connect-rate" --hold-named "$named" "$addr" "$N_LIST_PEERS" >"$d/hold.out" 2>"$d/hold.err" &
	holder=$!
	KILL_PIDS+=($holder)
	for i in $(seq 1 1200); do
		grep -q '^held' "$d/hold.out" && break
		kill -0 $holder 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q '^held' "$d/hold.out"; then
		for t in $CLI_TOOLS; do
			[ -z "${CLI_NA[$t]:-}" ] && record cli_list_ms "$t" "fail:peers:$(head -c 80 "$d/hold.err" | tr ' \n' '__')"
		done
		stop_pid $holder
		stop_pid $bus
		return
	fi
	# Warm-up: the table has the header, the driver, the tool itself and a line per peer and per name.
	for t in $CLI_TOOLS; do
		[ -z "${CLI_NA[$t]:-}" ] || continue
		cli_list_once "$t" "$addr" "$d/$t.out"
		rc=$?
		if [ $rc -ne 0 ]; then
			record cli_list_ms "$t" "$(cli_list_fail $rc "$t")"
		elif [ "$(wc -l <"$d/$t.out")" -lt $((N_LIST_PEERS + named + 3)) ]; then
			record cli_list_ms "$t" "fail:$t-listed-$(wc -l <"$d/$t.out")-lines-for-$((N_LIST_PEERS + named))-names"
		else
			ok+="$t "
		fi
	done
	for i in $(seq 1 "$N_LIST_RUNS"); do
		order=$CLI_TOOLS
		[ $((i % 2)) = 0 ] && order=$(printf '%s\n' $CLI_TOOLS | tac)
		for t in $order; do
			[[ "$ok" == *" $t "* ]] || continue
			cli_list_once "$t" "$addr" /dev/null
			rc=$?
			if [ $rc -eq 0 ]; then
				record cli_list_ms "$t" "$(printf '%d.%03d' $((CLI_US / 1000)) $((CLI_US % 1000)))"
			else
				record cli_list_ms "$t" "$(cli_list_fail $rc "$t")"
			fi
		done
	done
	stop_pid $holder
	stop_pid $bus
}

# --- container runtime: LXC containers with and without nsbus ------------------------
# Id-mapped busybox containers (lxc.idmap 0 100000 65536) made by the installed
# examples/containers/lxc/busybox-container.sh (two; the rest are lxc-copies of the second). The
# build NSBUSD is from is installed into $WORK/prefix, so the hooks that run are that prefix's
# nsbus-hook. One container includes an empty file instead of nsbus.conf ("no-nsbus"); N_LXC
# include nsbus.conf and have a policy in the hooks' policy directory. The hooks' settings file
# (NSBUS_CONFIG, which lxc-start's hooks inherit) says which policy directory: an empty one gives
# an isolated bus ("nsbus"), the other a bridge to a host dbus-daemon started for the section
# ("nsbus-bridge"). That host bus runs in its own mount namespace with passwd and group copies
# that have an entry for uid 100000, the containers' root (dbus-daemon refuses a uid it cannot
# look up). Container names are nsbus-bench-<pid>-*; all are stopped and destroyed after the
# rounds, or at exit whatever happened.
RT_DIR=$WORK/runtime
RT_PREFIX=$WORK/prefix
RT_BASE=nsbus-bench-$$
RT_NA=         # why the section cannot run here (its rows say n/a)
RT_FAILED=     # why its set-up failed (its rows say FAILED)
RT_NAMES=()    # every container the run created (or began to), destroyed at exit
RT_HOSTBUS=    # the host bus's pid
RT_SETUP=-     # how all but the first two containers were made: lxc-copy or busybox-container.sh
RT_VARIANTS="no-nsbus nsbus nsbus-bridge"

# Why the section cannot run here, or nothing.
runtime_why_not() {
	local c build
	[ "$(id -u)" = 0 ] || { echo "LXC containers need root"; return; }
	for c in lxc-create lxc-start lxc-stop lxc-destroy lxc-info lxc-config cmake unshare; do
		command -v $c >/dev/null || { echo "$c not installed"; return; }
	done
	[ -x /bin/busybox ] || { echo "busybox-static not installed (the busybox template needs it)"; return; }
	build=$(cd "$(dirname "$NSBUSD")/.." && pwd)
	[ -f "$build/cmake_install.cmake" ] ||
		{ echo "NSBUSD is not <builddir>/daemon/nsbusd of a CMake build, which the section installs"; return; }
	for c in cli/nsbus-hook cli/nsbusctl nsbridge/nsbridge; do
		[ -x "$build/$c" ] || { echo "${c#*/} not built in $build"; return; }
	done
}

# runtime_failed WHY: the set-up failed; every row of the section says so.
runtime_failed() {
	local r v
	RT_FAILED=$(printf '%s' "$1" | head -c 120 | tr ' \n' '__')
	for r in rt_start_ms rt_stop_ms; do
		for v in $RT_VARIANTS; do record $r "$v" "fail:$RT_FAILED"; done
	done
	for r in setup_s many_start_s many_stop_s many_rss_kib many_pss_kib many_bus_rss_kib many_bus_pss_kib \
		many_bridge_rss_kib many_bridge_pss_kib many_supervisor_pss_kib; do
		record rt_$r lxc "fail:$RT_FAILED"
	done
}

runtime_hostbus_start() {
	local d=$RT_DIR/hostbus i
	mkdir -p "$d"
	chmod 755 "$d"
	cat >"$d/bus.conf" <<-EOF
		<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
		 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
		<busconfig>
		  <type>session</type>
		  <listen>unix:path=$d/bus</listen>
		  <auth>EXTERNAL</auth>
		  <policy context="default">
		    <allow user="*"/>
		    <allow send_destination="*"/>
		    <allow receive_sender="*"/>
		    <allow own="*"/>
		  </policy>
		  <limit name="max_completed_connections">$((N_LXC * 4 + 100))</limit>
		  <limit name="max_connections_per_user">$((N_LXC * 4 + 100))</limit>
		</busconfig>
	EOF
	cp /etc/passwd "$d/passwd"
	cp /etc/group "$d/group"
	awk -F: '$3 == 100000 {found = 1} END {exit !found}' "$d/passwd" ||
		echo "nsbus-bench-100000:x:100000:100000::/nonexistent:/usr/sbin/nologin" >>"$d/passwd"
	awk -F: '$3 == 100000 {found = 1} END {exit !found}' "$d/group" || echo "nsbus-bench-100000:x:100000:" >>"$d/group"
	# Not a bind mount on /etc/passwd as lib-bridge.sh does: useradd and userdel replace the file, and the
	# kernel then drops mounts on it in every namespace; the bench runs long enough to meet a test that
	# adds or removes a user. /etc is a tmpfs of symlinks into the host's /etc, bound at $d/host-etc,
	# except for the two copies. (unshare and sh exec: $! is the daemon.)
	mkdir -p "$d/host-etc"
	unshare -m sh -c 'mount --bind /etc "$1/host-etc" && mount -t tmpfs -o mode=0755 nsbus-bench-etc /etc &&
		for f in "$1"/host-etc/* "$1"/host-etc/.[!.]*; do
			if [ -e "$f" ] || [ -L "$f" ]; then ln -s "$f" /etc/ || exit 1; fi
		done && rm /etc/passwd /etc/group && cp "$1/passwd" "$1/group" /etc/ &&
		exec dbus-daemon --config-file="$1/bus.conf" --nofork' sh "$d" >"$d/log" 2>&1 &
	RT_HOSTBUS=$!
	KILL_PIDS+=("$RT_HOSTBUS")
	for i in $(seq 1 100); do
		[ -S "$d/bus" ] && break
		kill -0 $RT_HOSTBUS 2>/dev/null || break
		sleep 0.05
	done
	[ -S "$d/bus" ] || { runtime_failed "the host bus did not start: $(tail -1 "$d/log")"; return 1; }
	chmod 666 "$d/bus"
	RT_HOSTBUS_ADDR=unix:path=$d/bus
	timeout 10 dbus-send --bus="$RT_HOSTBUS_ADDR" --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1 ||
		{ runtime_failed "the host bus does not answer GetId"; return 1; }
}

# The unique names on the host bus other than the asker's: one per connected bridge.
runtime_hostbus_peers() {
	timeout 10 dbus-send --bus="$RT_HOSTBUS_ADDR" --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.ListNames 2>/dev/null | tr ' ' '\n' | grep -c '^:' |
		awk '{print $1 - 1}'
}

# runtime_create NAME ARGS...: busybox-container.sh ARGS NAME, its output in RT_DIR/create.NAME.log.
runtime_create() {
	local name=$1
	shift
	sh "$RT_PREFIX/share/nsbus/examples/containers/lxc/busybox-container.sh" "$@" "$name" \
		>"$RT_DIR/create.$name.log" 2>&1
}

# Make the containers and the host bus, once for all rounds; records rt_setup_s (making the
# containers). Sets RT_NA if the section cannot run here, RT_FAILED if the set-up fails.
runtime_setup() {
	local i v name t0 t1 lxcpath script=$RT_PREFIX/share/nsbus/examples/containers/lxc/busybox-container.sh
	RT_NA=$(runtime_why_not)
	[ -z "$RT_NA" ] || return
	mkdir -p "$RT_DIR/policies" "$RT_DIR/no-policies" "$RT_DIR/logs"
	cmake --install "$(dirname "$NSBUSD")/.." --prefix "$RT_PREFIX" >"$RT_DIR/install.log" 2>&1 ||
		{ runtime_failed "cmake --install: $(tail -1 "$RT_DIR/install.log")"; return; }
	runtime_hostbus_start || return
	echo "# nsbus bench: a container without nsbus includes this instead of nsbus.conf" >"$RT_DIR/no-nsbus.conf"
	for v in nsbus nsbus-bridge; do
		{
			echo "log-dir = $RT_DIR/logs"
			if [ $v = nsbus ]; then echo "policy-dir = $RT_DIR/no-policies"; else echo "policy-dir = $RT_DIR/policies"; fi
			echo "host-bus = $RT_HOSTBUS_ADDR"
			# The host bus knows uid 100000 from its passwd copy: the hook must not add a user to the host's.
			echo "add-user = no"
		} >"$RT_DIR/hook.$v.conf"
	done
	lxcpath=$(lxc-config lxc.lxcpath)
	t0=${EPOCHREALTIME/[.,]/}
	# The first two alone: --idmap adds root's range to /etc/subuid and /etc/subgid if they lack it.
	RT_NAMES+=("$RT_BASE-plain")
	runtime_create "$RT_BASE-plain" --idmap --include="$RT_DIR/no-nsbus.conf" ||
		{ runtime_failed "busybox-container.sh failed: $(tail -1 "$RT_DIR/create.$RT_BASE-plain.log")"; return; }
	RT_NAMES+=("$RT_BASE-1")
	runtime_create "$RT_BASE-1" --idmap ||
		{ runtime_failed "busybox-container.sh failed: $(tail -1 "$RT_DIR/create.$RT_BASE-1.log")"; return; }
	# The rest: copies of the second by lxc-copy, which needs rsync (0.15 s a copy where busybox's template
	# takes over a second), else made the same way, nproc at a time.
	for i in $(seq 2 "$N_LXC"); do RT_NAMES+=("$RT_BASE-$i"); done
	if command -v lxc-copy >/dev/null && command -v rsync >/dev/null; then
		RT_SETUP=lxc-copy
		for i in $(seq 2 "$N_LXC"); do
			lxc-copy -n "$RT_BASE-1" -N "$RT_BASE-$i" >"$RT_DIR/create.$RT_BASE-$i.log" 2>&1
		done
	else
		RT_SETUP=busybox-container.sh
		seq 2 "$N_LXC" | xargs -P "$(nproc)" -I{} sh -c 'sh "$1" --idmap "$2" >"$3/create.$2.log" 2>&1' sh \
			"$script" "$RT_BASE-{}" "$RT_DIR"
	fi
	t1=${EPOCHREALTIME/[.,]/}
	for i in $(seq 1 "$N_LXC"); do
		name=$RT_BASE-$i
		grep -q '^lxc.include = .*/lxc/nsbus.conf$' "$lxcpath/$name/config" 2>/dev/null ||
			{ runtime_failed "busybox-container.sh $name failed: $(tail -1 "$RT_DIR/create.$name.log")"; return; }
		echo "import talk org.nsbus.Bench.Echo" >"$RT_DIR/policies/$name.policy"
	done
	record rt_setup_s lxc "$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.2f", d / 1e6}')"
}

runtime_ms() { awk -v d=$(($2 - $1)) 'BEGIN {printf "%.1f", d / 1e3}'; }

# runtime_stopped NAME: after lxc-stop, the container is STOPPED and (with nsbus) its bus directory gone.
runtime_stopped() {
	local i
	[ "$(lxc-info -n "$1" -s -H 2>/dev/null)" = STOPPED ] || return 1
	for i in $(seq 1 50); do
		[ -e "/run/nsbus/$1" ] || return 0
		sleep 0.1
	done
	return 1
}

# runtime_bus_answers NAME: the container's bus answers GetId on host.sock.
runtime_bus_answers() {
	timeout 10 dbus-send --bus="unix:path=/run/nsbus/$1/host.sock" --print-reply=literal \
		--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1
}

# runtime_start_stop VARIANT: one lxc-start -d and one lxc-stop -k of the variant's container,
# each timed (rows rt_start_ms and rt_stop_ms). With nsbus the bus socket must be there as soon as
# lxc-start returns.
runtime_start_stop() {
	local v=$1 name=$RT_BASE-1 conf=$RT_DIR/hook.$1.conf t0 t1 rc why="" state
	[ "$v" = no-nsbus ] && name=$RT_BASE-plain conf=$RT_DIR/hook.nsbus.conf
	t0=${EPOCHREALTIME/[.,]/}
	NSBUS_CONFIG=$conf lxc-start -n "$name" -d -o "$RT_DIR/lxc.$name.log"
	rc=$?
	t1=${EPOCHREALTIME/[.,]/}
	if [ $rc -ne 0 ]; then
		why="lxc-start-exit-$rc:$(grep -E 'ERROR|nsbus' "$RT_DIR/lxc.$name.log" | tail -1)"
	elif [ "$v" != no-nsbus ] && [ ! -S "/run/nsbus/$name/bus/system_bus_socket" ]; then
		why="no-bus-socket-when-lxc-start-returned"
	elif [ "$v" != no-nsbus ] && ! runtime_bus_answers "$name"; then
		# Untimed: a socket that accepts is not yet a bus that serves.
		why="its-bus-does-not-answer-GetId"
	elif state=$(lxc-info -n "$name" -s -H 2>&1); [ "$state" != RUNNING ]; then
		why="lxc-info-says-$state"
	fi
	if [ -n "$why" ]; then
		record rt_start_ms "$v" "fail:$(printf '%s' "$why" | head -c 100 | tr ' \n' '__')"
		lxc-stop -n "$name" -k >/dev/null 2>&1
		runtime_stopped "$name"
		return
	fi
	record rt_start_ms "$v" "$(runtime_ms "$t0" "$t1")"
	t0=${EPOCHREALTIME/[.,]/}
	lxc-stop -n "$name" -k >>"$RT_DIR/lxc.$name.log" 2>&1
	rc=$?
	t1=${EPOCHREALTIME/[.,]/}
	if [ $rc -ne 0 ]; then
		record rt_stop_ms "$v" "fail:lxc-stop-exit-$rc"
	elif ! runtime_stopped "$name"; then
		record rt_stop_ms "$v" "fail:not_stopped_or_bus_left_after_lxc-stop"
	else
		record rt_stop_ms "$v" "$(runtime_ms "$t0" "$t1")"
	fi
}

# N_LXC_RUNS starts and stops of each variant, in mirrored order (A B C, C B A, ...).
runtime_start_rows() {
	local i v order
	for i in $(seq 1 "$N_LXC_RUNS"); do
		order=$RT_VARIANTS
		[ $((i % 2)) = 0 ] && order=$(printf '%s\n' $RT_VARIANTS | tac)
		for v in $order; do runtime_start_stop "$v"; done
	done
}

# runtime_bridge_state NAME: what nsbusctl ls says of the container's bridge.
runtime_bridge_state() {
	"$RT_PREFIX/bin/nsbusctl" ls "$1" --json=short 2>&1 | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
print("%s: bridge %s (%s)" % (j["name"], j["bridge"], j["bridge_error"]))' 2>&1 | tail -1
}

# N_LXC containers with a bus and a bridge: started one after the other until every bridge is on
# the host bus (row rt_many_start_s); then the RSS and PSS of their nsbusd and nsbridge processes
# (and of their supervisors, apart) from nsbusctl ls's pids; then stopped (rt_many_stop_s).
runtime_many_rows() {
	local i k v name t0 t1 rc why="" peers
	t0=${EPOCHREALTIME/[.,]/}
	for i in $(seq 1 "$N_LXC"); do
		name=$RT_BASE-$i
		NSBUS_CONFIG=$RT_DIR/hook.nsbus-bridge.conf lxc-start -n "$name" -d -o "$RT_DIR/lxc.$name.log"
		rc=$?
		[ $rc -eq 0 ] || { why="lxc-start-$name-exit-$rc:$(grep -E 'ERROR|nsbus' "$RT_DIR/lxc.$name.log" | tail -1)"; break; }
	done
	if [ -z "$why" ]; then
		local gone=""
		while :; do
			peers=$(runtime_hostbus_peers)
			[ "${peers:-0}" -ge "$N_LXC" ] && break
			[ $((${EPOCHREALTIME/[.,]/} - t0)) -lt 120000000 ] || break
			# A bus that is gone (its supervisor removes host.sock when it ends) brings no bridge: no
			# reason to wait out the two minutes.
			for i in $(seq 1 "$N_LXC"); do
				[ -S "/run/nsbus/$RT_BASE-$i/host.sock" ] || { gone=$RT_BASE-$i; break; }
			done
			[ -z "$gone" ] || break
			sleep 0.1
		done
		if [ -n "$gone" ]; then
			why="the bus of $gone is gone (no host.sock) after $(runtime_ms "$t0" "${EPOCHREALTIME/[.,]/}") ms: $(grep -E 'nsbus' "$RT_DIR/lxc.$gone.log" | tail -1)"
		elif [ "${peers:-0}" -lt "$N_LXC" ]; then
			why="${peers:-no} of $N_LXC bridges on the host bus after 120 s; $(runtime_bridge_state "$RT_BASE-1")"
		fi
	fi
	t1=${EPOCHREALTIME/[.,]/}
	if [ -z "$why" ]; then
		record rt_many_start_s lxc "$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.2f", d / 1e6}')"
		sleep 0.5
		"$RT_PREFIX/bin/nsbusctl" ls --json=short >"$RT_DIR/ls.json" 2>"$RT_DIR/ls.err"
		"$PY" - "$RT_DIR/ls.json" "$RT_BASE" "$N_LXC" >"$RT_DIR/mem.out" 2>"$RT_DIR/mem.err" <<-'PYEOF'
			import json, sys
			ls, base, n = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
			mine = {c['name']: c for c in ls if c['name'].startswith(base + '-')}
			def kib(pid, path, key):
			    with open('/proc/%d/%s' % (pid, path)) as f:
			        return next(int(l.split()[1]) for l in f if l.startswith(key + ':'))
			sums = dict.fromkeys(['bus_rss', 'bus_pss', 'bridge_rss', 'bridge_pss', 'supervisor_pss'], 0)
			for i in range(1, n + 1):
			    c = mine.get('%s-%d' % (base, i))
			    if c is None or c['state'] != 'up' or c['bridge'] != 'running' or not c['bridge_pid']:
			        sys.exit('%s-%d: %s' % (base, i, 'not listed' if c is None else
			                                '%s, bridge %s' % (c['state'], c['bridge'])))
			    for what, pid in (('bus', c['bus_pid']), ('bridge', c['bridge_pid'])):
			        sums[what + '_rss'] += kib(pid, 'status', 'VmRSS')
			        sums[what + '_pss'] += kib(pid, 'smaps_rollup', 'Pss')
			    sums['supervisor_pss'] += kib(c['supervisor_pid'], 'smaps_rollup', 'Pss')
			sums['rss'] = sums['bus_rss'] + sums['bridge_rss']
			sums['pss'] = sums['bus_pss'] + sums['bridge_pss']
			for k, v in sums.items():
			    print(k, v)
		PYEOF
		if [ $? -eq 0 ]; then
			while read -r k v; do record "rt_many_${k}_kib" lxc "$v"; done <"$RT_DIR/mem.out"
		else
			why="$(tail -1 "$RT_DIR/mem.err")"
		fi
	fi
	if [ -n "$why" ]; then
		why=$(printf '%s' "$why" | head -c 200 | tr ' \n' '__')
		record rt_many_start_s lxc "fail:$why"
		for k in rss pss bus_rss bus_pss bridge_rss bridge_pss supervisor_pss; do record "rt_many_${k}_kib" lxc "fail:$why"; done
	fi
	t0=${EPOCHREALTIME/[.,]/}
	for i in $(seq 1 "$N_LXC"); do
		lxc-stop -n "$RT_BASE-$i" -k >/dev/null 2>&1
	done
	t1=${EPOCHREALTIME/[.,]/}
	for i in $(seq 1 "$N_LXC"); do
		if ! runtime_stopped "$RT_BASE-$i"; then
			record rt_many_stop_s lxc "fail:$RT_BASE-${i}_not_stopped_or_its_bus_left"
			return
		fi
	done
	record rt_many_stop_s lxc "$(awk -v d=$((t1 - t0)) 'BEGIN {printf "%.2f", d / 1e6}')"
}

# At exit (and after the rounds): every container of the run stopped and destroyed, the host bus
# stopped, and no nsbusd, nsbridge or supervisor of ours left.
runtime_teardown() {
	local name p args left="" lxcpath
	lxcpath=$(lxc-config lxc.lxcpath 2>/dev/null)
	for name in "${RT_NAMES[@]}"; do
		lxc-stop -n "$name" -k >/dev/null 2>&1
		[ -e "/run/nsbus/$name" ] && "$RT_PREFIX/bin/nsbusctl" down "$name" >/dev/null 2>&1
		lxc-destroy -n "$name" >/dev/null 2>&1
		[ -e "$lxcpath/$name" ] && log "error: lxc-destroy $name failed"
	done
	RT_NAMES=()
	[ -n "$RT_HOSTBUS" ] && stop_pid "$RT_HOSTBUS"
	RT_HOSTBUS=
	for p in /proc/[0-9]*; do
		mapfile -d "" args 2>/dev/null <"$p/cmdline" || continue
		[[ " ${args[*]} " == *"$RT_BASE-"* ]] || continue
		case "${args[0]##*/}" in nsbusd | nsbridge | nsbus-hook) ;; *) continue ;; esac
		left+=" ${p#/proc/}"
		kill -KILL "${p#/proc/}" 2>/dev/null
	done
	[ -z "$left" ] || log "error: nsbus processes of the bench's containers were left behind (killed):$left"
}

# --- checkpoint and restore: a container with bus connections, and without (CRIU) ----------
# bench/criu-cycle.sh does one timed `criu dump` and `criu restore -d` of the integration tests'
# CRIU container (tests/integration/lib-criu.sh) whose one process, bench/criu_holder.py, holds
# N_CRIU_CONNS connections to the container's nsbusd ("bus"), or the same container and process with
# no bus and no connection ("nobus"); after each restore it checks that the process runs and, with the
# bus, that every connection works, or it fails. Each cycle is a fresh container (and bus), killed by
# pid with everything it mounted by the script's own traps; its output goes to files, so nothing it
# leaves behind can hold the runner's output. Rows criu_dump_ms, criu_restore_ms and criu_images_kib;
# columns: the two cases.
CRIU_DIR=$WORK/criu
CRIU_VARIANTS="bus nobus"
CRIU_NA=      # why the section cannot run here (its rows say n/a)
CRIU_FAILED=  # why its check failed otherwise (its rows say FAILED)
CRIU_VERSION=

# criu_cycle_run OUT ARGS...: criu-cycle.sh ARGS, its stdout in OUT and its stderr in OUT.err. In the
# background and waited for, so that a signal to the runner is handled (and the script stopped by
# cleanup, whose traps then clean up after it) at once.
criu_cycle_run() {
	local out=$1
	shift
	TMPDIR=$CRIU_DIR NSBUSD=$NSBUSD NSRUN=${NSRUN:-} NSBUS_KEEP_TMP=${NSBUS_BENCH_KEEP:-} \
		bash "$BENCH_DIR/criu-cycle.sh" "$@" </dev/null >"$out" 2>"$out.err" &
	KILL_PIDS+=($!)
	wait $!
}

# Whether the section can run here: criu-cycle.sh check (CRIU >= 4.1 that works on this kernel, the
# plugin built, containers possible), as the CRIU integration tests decide it.
criu_setup() {
	local rc v r
	[ -x "${NSRUN:-}" ] || { CRIU_NA="NSRUN not built"; return; }
	mkdir -p "$CRIU_DIR"
	criu_cycle_run "$CRIU_DIR/check.out" check
	rc=$?
	CRIU_VERSION=$(criu --version 2>/dev/null | sed -n 's/^Version: *//p')
	if [ $rc = 77 ]; then
		CRIU_NA=$(sed -n 's/^skipped: //p' "$CRIU_DIR/check.out" | head -n 1)
		CRIU_NA=${CRIU_NA:-criu-cycle.sh check skipped}
	elif [ $rc != 0 ]; then
		CRIU_FAILED=$(criu_cycle_why "$CRIU_DIR/check.out.err" "$rc")
		for v in $CRIU_VARIANTS; do
			for r in criu_dump_ms criu_restore_ms criu_images_kib; do record $r "$v" "fail:$CRIU_FAILED"; done
		done
	fi
}

# criu_cycle_why ERRFILE RC: the reason criu-cycle.sh gave for a failure, one word for a sample.
criu_cycle_why() {
	local why
	why=$(grep -o 'FAIL: .*' "$1" | tail -n 1)
	why=${why#FAIL: }
	printf '%s' "${why:-criu-cycle.sh-exit-$2:$(tail -n 1 "$1")}" | head -c 160 | tr ' \n' '__'
}

# criu_cycle VARIANT: one dump and restore of the variant; records its rows.
criu_cycle() {
	local v=$1 out=$CRIU_DIR/$1.out args=(nobus) rc r val
	[ "$v" = bus ] && args=(bus "$N_CRIU_CONNS" "$N_CRIU_NAMED")
	criu_cycle_run "$out" "${args[@]}"
	rc=$?
	cat "$out.err" >>"$CRIU_DIR/cycles.log"
	for r in dump_ms restore_ms images_kib; do
		val=$(awk -v k=$r '$1 == k {print $2}' "$out")
		if [ $rc = 0 ] && [ -n "$val" ]; then
			record "criu_$r" "$v" "$val"
		else
			record "criu_$r" "$v" "fail:$(criu_cycle_why "$out.err" "$rc")"
		fi
	done
}

# criu_rows ROUND: N_CRIU_RUNS cycles of each variant, in mirrored order (A B, B A, ...), starting with
# the other variant every other round.
criu_rows() {
	local i v order
	for i in $(seq 1 "$N_CRIU_RUNS"); do
		order=$CRIU_VARIANTS
		[ $(((i + $1) % 2)) = 1 ] && order=$(printf '%s\n' $CRIU_VARIANTS | tac)
		for v in $order; do criu_cycle "$v"; done
	done
}

# --- a round's sections ---------------------------------------------------------
# The main table: every workload on every bus (bus A, B, C for a workload, then the next).
bus_rows() {
	# 6. idle RSS of a bus just started (after one GetId, which also makes
	# systemd-socket-activate start dbus-broker).
	for b in $BUSES; do
		live "$b" || continue
		start_bus "$b" || { log "$b: n/a: ${NA[$b]}"; continue; }
	done
	sleep 0.5
	for b in $BUSES; do
		live "$b" || continue
		record idle_rss_kib "$b" "$(rss_kib "${BUS_PID[$b]}")"
		extra=0
		[ -n "${EXTRA_PID[$b]}" ] && extra=$(rss_kib "${EXTRA_PID[$b]}")
		record idle_rss_total_kib "$b" $(($(rss_kib "${BUS_PID[$b]}") + extra))
	done

	# The call rows' ceiling with their own clients: bench/null-bus, which only forwards bytes, run
	# interleaved with the buses like a fourth bus.
	start_bus null-bus || log "null-bus: n/a: ${NA[null-bus]}"
	declare -A ECHO_PID=()
	for b in $CALL_BUSES; do
		live "$b" || continue
		DBUS_SESSION_BUS_ADDRESS=${ADDR[$b]} dbus-test-tool echo --name=org.nsbus.Bench.Echo 2>"$WORK/$b/echo.log" &
		ECHO_PID[$b]=$!
		KILL_PIDS+=($!)
	done
	for b in $CALL_BUSES; do
		live "$b" || continue
		for i in $(seq 1 100); do
			DBUS_SESSION_BUS_ADDRESS=${ADDR[$b]} timeout 5 dbus-send --session --print-reply=literal \
				--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
				string:org.nsbus.Bench.Echo 2>/dev/null | grep -q true && break
			sleep 0.05
		done
	done

	# 1. sequential calls; 2. pipelined calls.
	# Each bus twice, in mirrored order (A B C C B A): on this kind of VM a run right after another one
	# is often faster, and the mirror gives every bus both positions.
	for b in $CALL_BUSES $CALL_MIRRORED; do live "$b" && spam_rate "$b" seq_calls_per_s "$N_SEQ" --dest=org.nsbus.Bench.Echo --queue=1; done
	for b in $CALL_BUSES $CALL_MIRRORED; do live "$b" && spam_rate "$b" pipelined_calls_per_s "$N_PIPE" --dest=org.nsbus.Bench.Echo --queue=32; done

	# 3. one-way flood: timed from starting spam until the receiver has all N.
	for b in $CALL_BUSES; do
		live "$b" || continue
		: >"$WORK/sink.out"
		"$WORK/bin/flood-sink" "${ADDR[$b]}" org.nsbus.Bench.Sink "$N_FLOOD" >"$WORK/sink.out" 2>&1 &
		sink=$!
		KILL_PIDS+=($sink)
		for i in $(seq 1 100); do
			grep -q ready "$WORK/sink.out" && break
			sleep 0.02
		done
		t0=$(now_ns)
		DBUS_SESSION_BUS_ADDRESS=${ADDR[$b]} timeout 300 dbus-test-tool spam --count="$N_FLOOD" \
			--dest=org.nsbus.Bench.Sink --no-reply 2>"$WORK/spam.err"
		rc=$?
		wait $sink
		src=$?
		t1=$(now_ns)
		if [ $rc -ne 0 ] || [ $src -ne 0 ] || [ -s "$WORK/spam.err" ]; then
			record oneway_msgs_per_s "$b" "fail:$(tail -1 "$WORK/sink.out" | tr ' ' _)"
		else
			record oneway_msgs_per_s "$b" "$(awk -v n="$N_FLOOD" -v d=$((t1 - t0)) 'BEGIN {printf "%.1f", n / (d / 1e9)}')"
		fi
	done

	for b in $CALL_BUSES; do
		live "$b" || continue
		stop_pid "${ECHO_PID[$b]}"
	done

	# 10. broadcast delivery to 1 and 100 subscribers, with no other rules and with BCAST_RULES
	# rules that do not match (bench/broadcast.c says which).
	for subs in 1 100; do
		n=$N_BCAST_1
		[ $subs = 100 ] && n=$N_BCAST_100
		for rules in 0 "$BCAST_RULES"; do
			for b in $BUSES; do
				live "$b" || continue
				v=$(timeout 300 "$WORK/bin/broadcast" "${ADDR[$b]}" "$subs" "$rules" "$n" 2>"$WORK/bc.err" |
					awk '/^broadcasts_per_s/ {print $2}')
				record "broadcast_${subs}_${rules}" "$b" "${v:-fail:$(head -c 80 "$WORK/bc.err" | tr ' \n' '__')}"
			done
		done
	done

	# 11. payload sizes: systemd's test-bus-benchmark (sd-bus client and server, pinned to one CPU
	# each) times calls of growing size for PAYLOAD_LOOP each; the rows take the sizes listed. Twice, in
	# mirrored order, as the spam rows: one sample per size and run is short, and the order matters here.
	for b in $CALL_BUSES $CALL_MIRRORED; do
		live "$b" || continue
		if [ -z "$BUS_BENCHMARK" ]; then
			for size in $PAYLOAD_SIZES; do record "payload_$size" "$b" "fail:test-bus-benchmark_not_installed"; done
			continue
		fi
		# It printf()s and then _exit()s its client: line-buffered stdout, or the lines are lost.
		DBUS_SESSION_BUS_ADDRESS=${ADDR[$b]} timeout 300 stdbuf -oL "$BUS_BENCHMARK" chart legacy "$PAYLOAD_LOOP" \
			>"$WORK/payload.out" 2>"$WORK/payload.err"
		for size in $PAYLOAD_SIZES; do
			v=$(awk -v s="$size" '$1 == s && $2 > 0 {print $2}' "$WORK/payload.out")
			record "payload_$size" "$b" "${v:-fail:$(tail -c 80 "$WORK/payload.err" | tr ' \n' '__')}"
		done
	done
	stop_bus null-bus

	# 4. connect + auth + Hello + disconnect, and its floor: bench/connect-floor, a server doing only
	# accept, SO_PEERCRED, one read, one canned write and close, timed by the same client. The floor is a
	# column of the rotation (recorded as the row's ceiling, the null-bus column), twice in mirrored order
	# as the spam rows: one connect-rate run is a fraction of a second, and this VM's wakeup latency moves
	# by a third between seconds, so a floor sampled at another moment of the round is no ceiling.
	"$WORK/bin/connect-floor" "$WORK/floor.sock" 2>"$WORK/floor.err" &
	floor_pid=$!
	KILL_PIDS+=($floor_pid)
	for i in $(seq 1 100); do [ -S "$WORK/floor.sock" ] && break; sleep 0.02; done
	for b in $BUSES null-bus $MIRRORED null-bus; do
		if [ "$b" = null-bus ]; then
			v=$("$WORK/bin/connect-rate" "unix:path=$WORK/floor.sock" "$N_CONNECT" 2>"$WORK/cr.err" |
				awk '/^us_per_cycle/ {print $2}')
			record connect_us null-bus "${v:-fail:connect-floor:$(head -c 80 "$WORK/floor.err" "$WORK/cr.err" | tr ' \n' '__')}"
			continue
		fi
		live "$b" || continue
		v=$("$WORK/bin/connect-rate" "${ADDR[$b]}" "$N_CONNECT" 2>"$WORK/cr.err" | awk '/^us_per_cycle/ {print $2}')
		record connect_us "$b" "${v:-fail:$(head -c 80 "$WORK/cr.err" | tr ' \n' '__')}"
	done
	# The same, with the placement fixed: where the scheduler puts the client and the bus sets the row
	# above (the floor takes 10 us a cycle with both on one vCPU, 47 us with one on each: every wakeup of
	# a halted vCPU is an IPI through the hypervisor), and it moves them between runs. On one CPU the
	# cycle is the client's and the bus's CPU and nothing else, so these rows show the bus's own cost per
	# connection, repeatable to a few percent; on two CPUs, that plus the wakeups. No target.
	# The two CPUs are the first two this script may run on; each process gets its own mask back after.
	cpus=()
	command -v taskset >/dev/null &&
		read -ra cpus <<<"$(taskset -pc $$ 2>/dev/null | awk -F': ' '{print $2}' | tr ',' '\n' |
			awk -F- '{for (c = $1; c <= ($2 == "" ? $1 : $2); c++) printf "%d ", c}')"
	if [ "${#cpus[@]}" -ge 2 ]; then
		for pin in 1cpu 2cpu; do
			client_cpu=${cpus[0]}
			[ $pin = 2cpu ] && client_cpu=${cpus[1]}
			for b in $BUSES null-bus $MIRRORED null-bus; do
				[ "$b" = null-bus ] || live "$b" || continue
				pid=$floor_pid addr=unix:path=$WORK/floor.sock
				[ "$b" = null-bus ] || pid=${BUS_PID[$b]} addr=${ADDR[$b]}
				mask=$(taskset -p "$pid" 2>/dev/null | awk -F': ' '{print $2}')
				if [ -z "$mask" ] || ! taskset -a -p -c "${cpus[0]}" "$pid" >/dev/null 2>&1; then
					record "connect_${pin}_us" "$b" "fail:cannot_pin_pid_$pid"
					continue
				fi
				v=$(taskset -c "$client_cpu" "$WORK/bin/connect-rate" "$addr" "$N_CONNECT" 2>"$WORK/cr.err" |
					awk '/^us_per_cycle/ {print $2}')
				taskset -a -p "$mask" "$pid" >/dev/null 2>&1
				record "connect_${pin}_us" "$b" "${v:-fail:$(head -c 80 "$WORK/cr.err" | tr ' \n' '__')}"
			done
		done
	fi
	stop_pid $floor_pid
	# ... and with N_WATCHES NameOwnerChanged watches installed (one arg0 each, as name watchers
	# install them): every connect and disconnect is a NameOwnerChanged broadcast.
	for b in $BUSES; do
		live "$b" || continue
		v=$("$WORK/bin/connect-rate" --watches "$N_WATCHES" "${ADDR[$b]}" "$N_CONNECT" 2>"$WORK/cr.err" |
			awk '/^us_per_cycle/ {print $2}')
		record "connect_watches_${N_WATCHES}_us" "$b" "${v:-fail:$(head -c 80 "$WORK/cr.err" | tr ' \n' '__')}"
	done

	# 5. idle RSS with K connected peers, and bytes per peer, on buses started afresh:
	# after the flood a bus's heap holds freed buffers (dbus-broker's tens of MB) that
	# new peers would reuse without growing RSS.
	for b in $BUSES; do
		live "$b" || continue
		stop_bus "$b"
		start_bus "$b" || log "$b: n/a: ${NA[$b]}"
	done
	for k in $PEERS; do
		for b in $BUSES; do
			live "$b" || continue
			sleep 0.3
			base=$(rss_kib "${BUS_PID[$b]}")
			: >"$WORK/hold.out"
			"$WORK/bin/connect-rate" --hold "${ADDR[$b]}" "$k" >"$WORK/hold.out" 2>"$WORK/hold.err" &
			holder=$!
			KILL_PIDS+=($holder)
			ok=
			for i in $(seq 1 1200); do
				grep -q '^held' "$WORK/hold.out" && { ok=1; break; }
				kill -0 $holder 2>/dev/null || break
				sleep 0.05
			done
			if [ -n "$ok" ]; then
				sleep 0.5
				with=$(rss_kib "${BUS_PID[$b]}")
				record "rss_${k}_peers_kib" "$b" "$with"
				record "bytes_per_peer_${k}" "$b" $(((with - base) * 1024 / k))
			else
				why=$(head -c 80 "$WORK/hold.err" | tr ' \n' '__')
				record "rss_${k}_peers_kib" "$b" "fail:${why:-timeout}"
				record "bytes_per_peer_${k}" "$b" "fail:${why:-timeout}"
			fi
			stop_pid $holder
			# Let the bus process the hangups before the next bus is measured.
			bus_ping "$b" || log "$b: no answer after the peers left"
		done
	done

	for b in $BUSES; do stop_bus "$b"; done
}

# 8. a call through a proxy.
proxy_rows() {
	proxy_setup
	for p in $PROXY_PATHS; do
		proxy_spam "$p" proxy_seq_calls_per_s "$N_PROXY" --dest=org.nsbus.Bench.Echo --queue=1
		null_path_spam "$p" proxy_seq_calls_per_s "$N_PROXY" --dest=org.nsbus.Bench.Echo --queue=1
	done
	for p in $PROXY_PATHS; do
		proxy_spam "$p" proxy_pipelined_calls_per_s "$N_PROXY_PIPE" --dest=org.nsbus.Bench.Echo --queue=32
		null_path_spam "$p" proxy_pipelined_calls_per_s "$N_PROXY_PIPE" --dest=org.nsbus.Bench.Echo --queue=32
	done
	proxy_teardown
	# Their limits: the direct path crosses one hop (the host bus), xdg-dbus-proxy's two (the proxy, the
	# host bus), nsbridge's three (the container's bus, the bridge, the host bus).
	local hops=1 p
	for p in $PROXY_PATHS; do
		limit_record limit_proxy_seq_calls_per_s "$p" --relays $hops "$N_PROXY" "$SPAM_CALL" "$SPAM_REPLY"
		limit_record limit_proxy_pipelined_calls_per_s "$p" --relays $hops --window 32 "$N_PROXY_PIPE" "$SPAM_CALL" "$SPAM_REPLY"
		hops=$((hops + 1))
	done
}

# 9. per-container buses: start time and memory of N buses for one container.
container_bus_rows() {
	if [ -x "${NSRUN:-}" ]; then
		d=$WORK/buses
		rm -rf "$d"
		mkdir -p "$d/rt"
		"$NSRUN" --private-run --pidfile "$d/init.pid" >/dev/null 2>"$d/nsrun.err" &
		keeper=$!
		KILL_PIDS+=($keeper)
		for i in $(seq 1 100); do [ -s "$d/init.pid" ] && break; sleep 0.05; done
		if [ -s "$d/init.pid" ]; then
			"$WORK/bin/bus-start" "$NSBUSD" "$(cat "$d/init.pid")" "$d/rt" "$N_BUSES" >"$d/out" 2>"$d/err"
			for k in start_ms_median start_ms_max rss_total_kib pss_total_kib; do
				v=$(awk -v k=$k '$1 == k {print $2}' "$d/out")
				record "container_bus_$k" nsbusd "${v:-fail:$(head -c 80 "$d/err" | tr ' \n' '__')}"
			done
		else
			record container_bus_start_ms_median nsbusd "fail:no_test_container"
		fi
		stop_pid $keeper
	fi
}

# 7. the physical limits, once per round like the rest. Each throughput row has one: the same clients'
# message sizes and window carried by bench/relay-limit, a client, K relays and a server on non-blocking
# sockets in epoll loops, where a relay only reads and writes bytes on (K = 1 stands for one bus; the
# proxy paths cross 1, 2 or 3 such hops). No bus can be faster than the relay that does nothing else.
limit_record() { # ROW COLUMN relay-limit ARGS...
	local row=$1 col=$2 v
	shift 2
	v=$(timeout 120 "$WORK/bin/relay-limit" "$@" 2>"$WORK/limit.err" | awk '/^calls_per_s/ {print $2}')
	record "$row" "$col" "${v:-fail:$(head -c 80 "$WORK/limit.err" | tr ' \n' '__')}"
}
physical_limit_rows() {
	limit_record limit_seq_calls_per_s limit "$N_SEQ" "$SPAM_CALL" "$SPAM_REPLY"
	limit_record limit_pipelined_calls_per_s limit --window 32 "$N_PIPE" "$SPAM_CALL" "$SPAM_REPLY"
	limit_record limit_oneway_msgs_per_s limit "$N_FLOOD" "$SPAM_CALL" 0
	# test-bus-benchmark pins its client and server to a CPU each and sd-bus gives its sockets 8 MiB
	# buffers; so does the limit run.
	for size in $PAYLOAD_SIZES; do
		limit_record "limit_payload_$size" limit --pin --sndbuf 8388608 "${N_LIMIT_PAYLOAD[$size]}" \
			$((size + PAYLOAD_HEADER)) "$PAYLOAD_REPLY"
	done
}

# --- the run ---------------------------------------------------------------------
MIRRORED=$(printf '%s\n' $BUSES | tac | tr '\n' ' ')
CALL_BUSES="$BUSES null-bus" # the call rows' columns: the buses and their ceiling with the same clients
CALL_MIRRORED=$(printf '%s\n' $CALL_BUSES | tac | tr '\n' ' ')
log "nsbusd: $NSBUSD; buses: $BUSES; repeat $REPEAT; $([ $QUICK = 1 ] && echo quick || echo full) counts; sections: $SECTIONS"
want runtime && runtime_setup
want criu && criu_setup
[ -n "$CRIU_NA" ] && log "checkpoint and restore: n/a: $CRIU_NA"
[ -n "$RT_NA" ] && log "container runtime: n/a: $RT_NA"
for rep in $(seq 1 "$REPEAT"); do
	log "round $rep of $REPEAT"
	want buses && bus_rows
	# 12. nsbusctl list against busctl list, on an nsbusd with N_LIST_PEERS peers.
	want list && cli_list_rows
	want proxy && proxy_rows
	want container-buses && container_bus_rows
	# 14. criu dump and restore of a container whose process holds N_CRIU_CONNS bus connections, and of
	# the same container with no bus.
	want criu && [ -z "$CRIU_NA$CRIU_FAILED" ] && criu_rows "$rep"
	# 13. LXC containers started with and without nsbus; N_LXC containers with a bus and a bridge.
	if want runtime && [ -z "$RT_NA$RT_FAILED" ]; then
		runtime_start_rows
		runtime_many_rows
	fi
	want buses && physical_limit_rows
done
# The containers go now rather than at exit, where a failed run stops and destroys them too.
want runtime && runtime_teardown

# --- report ----------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
NA_FILE=$WORK/na
: >"$NA_FILE"
for b in "${!NA[@]}"; do printf '%s\t%s\n' "$b" "${NA[$b]}" >>"$NA_FILE"; done
for p in "${!PROXY_NA[@]}"; do printf '%s\t%s\n' "$p" "${PROXY_NA[$p]}" >>"$NA_FILE"; done
for t in "${!CLI_NA[@]}"; do printf '%s\t%s\n' "$t" "${CLI_NA[$t]}" >>"$NA_FILE"; done
[ -n "$RT_NA" ] && printf 'runtime\t%s\n' "$RT_NA" >>"$NA_FILE"
[ -n "$CRIU_NA" ] && printf 'criu\t%s\n' "$CRIU_NA" >>"$NA_FILE"
meta="quick=$QUICK repeat=$REPEAT bcast_rules=$BCAST_RULES payload_loop=$PAYLOAD_LOOP n_buses=$N_BUSES n_seq=$N_SEQ n_pipe=$N_PIPE n_flood=$N_FLOOD n_connect=$N_CONNECT n_watches=$N_WATCHES peers=${PEERS// /,} list_peers=$N_LIST_PEERS list_runs=$N_LIST_RUNS lxc_runs=$N_LXC_RUNS n_lxc=$N_LXC lxc_setup=$RT_SETUP criu_conns=$N_CRIU_CONNS criu_named=$N_CRIU_NAMED criu_runs=$N_CRIU_RUNS criu_version=${CRIU_VERSION:--} sections=${SECTIONS// /,}"
"$PY" "$BENCH_DIR/report.py" "$SAMPLES" "$NA_FILE" "$OUT" "$BUSES" "$meta" "$NSBUSD"
