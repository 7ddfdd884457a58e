#!/bin/bash
# Two nsbusd binaries side by side on the payload rows, with more samples than run.sh takes: a
# before/after for a change that moves a row by less than run.sh's spread (bench/README.md).
#
#   bash bench/payload-ab.sh NSBUSD_A NSBUSD_B [ROUNDS]
#
# Both buses run at once, on the same configuration as run.sh's; systemd's test-bus-benchmark
# (chart legacy, 0.5 s per size) runs against them in the order A B B A per round, ROUNDS rounds
# (default 8), so each binary gets 2 x ROUNDS samples per size, taken at the same moments. Prints, for
# the sizes of run.sh's rows, each binary's mean and every sample in calls/s, and B's mean / A's.
# The buses' and the benchmark's output go to files in a temp dir; the buses are killed by pid on exit.
# PAYLOAD_AB_LOOP sets the time per size (default 0.5s, run.sh's; the smoke test uses less).
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
A=${1:?usage: payload-ab.sh NSBUSD_A NSBUSD_B [ROUNDS]}
B=${2:?usage: payload-ab.sh NSBUSD_A NSBUSD_B [ROUNDS]}
ROUNDS=${3:-8}
SIZES="1 4096 65536 1048576"
LOOP=${PAYLOAD_AB_LOOP:-0.5s}
. "$BENCH_DIR/bus-conf.sh"

BUS_BENCHMARK=
for c in /usr/lib/systemd/tests/manual/test-bus-benchmark \
	/var/cache/nsbus/systemd-tests/usr/lib/systemd/tests/manual/test-bus-benchmark; do
	[ -x "$c" ] && { BUS_BENCHMARK=$c; break; }
done
[ -n "$BUS_BENCHMARK" ] || { echo "payload-ab.sh: test-bus-benchmark not found (scripts/install-deps.sh unpacks it)" >&2; exit 1; }
for x in "$A" "$B"; do [ -x "$x" ] || { echo "payload-ab.sh: $x is not an executable" >&2; exit 1; }; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nsbus-payload-ab.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

for side in A B; do
	bin=$A
	[ "$side" = B ] && bin=$B
	bench_bus_conf "$WORK/$side.sock" >"$WORK/$side.conf"
	"$bin" --config-file="$WORK/$side.conf" --nofork >"$WORK/$side.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 100); do [ -S "$WORK/$side.sock" ] && break; sleep 0.05; done
	[ -S "$WORK/$side.sock" ] || { echo "payload-ab.sh: bus $side ($bin) did not start: $(tail -c 200 "$WORK/$side.log")" >&2; exit 1; }
done

one() {
	DBUS_SESSION_BUS_ADDRESS=unix:path=$WORK/$1.sock timeout 300 stdbuf -oL "$BUS_BENCHMARK" chart legacy "$LOOP" \
		>"$WORK/run.out" 2>"$WORK/run.err" || { echo "payload-ab.sh: test-bus-benchmark on $1 failed: $(tail -c 200 "$WORK/run.err")" >&2; exit 1; }
	awk -v side="$1" -v sizes="$SIZES" 'BEGIN { n = split(sizes, s, " "); for (i = 1; i <= n; i++) want[s[i]] = 1 }
		($1 in want) && $2 > 0 { print side, $1, $2 }' "$WORK/run.out" >>"$WORK/samples"
}
for _ in $(seq 1 "$ROUNDS"); do one A; one B; one B; one A; done

echo "A: $A"
echo "B: $B"
awk -v sizes="$SIZES" '{ sum[$1, $2] += $3; n[$1, $2]++; all[$1, $2] = all[$1, $2] " " $3 }
	END { k = split(sizes, s, " ")
		printf "%-8s %9s %9s %7s\n", "size", "A mean", "B mean", "B / A"
		for (i = 1; i <= k; i++) {
			a = sum["A", s[i]] / n["A", s[i]]; b = sum["B", s[i]] / n["B", s[i]]
			printf "%-8s %9.0f %9.0f %7.3f\n", s[i], a, b, b / a
		}
		for (i = 1; i <= k; i++) printf "  %s A:%s\n  %s B:%s\n", s[i], all["A", s[i]], s[i], all["B", s[i]] }' "$WORK/samples"
