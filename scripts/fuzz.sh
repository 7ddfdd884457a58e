#!/bin/bash
# Fuzz the parsers with libFuzzer: each target (tests/fuzz/fuzz-<target>.c) for SECONDS seconds.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  per target, default 300
#   TARGET   message, sasl, match-rule, config, address; default all of them
#
# Builds build-fuzz/ (clang, -DNSBUS_FUZZ=ON; NSBUS_FUZZ_BUILD_DIR overrides the directory) and runs the
# targets one after the other. Each fuzzes its own working corpus, build-fuzz/fuzz-work/<target>/corpus,
# which starts as a copy of tests/fuzz/corpus/<target> and keeps what earlier runs found (delete
# build-fuzz/fuzz-work to start from the seeds alone); the checked-in corpus is never written. Prints one
# summary line per target and exits non-zero if any target found something, naming the input that
# reproduces it. Full libFuzzer output: build-fuzz/fuzz-work/<target>.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NSBUS_FUZZ_BUILD_DIR:-$root/build-fuzz}

seconds=300
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi
if [[ $# -gt 0 ]]; then
	targets=("$@")
else
	targets=()
	for f in "$root"/tests/fuzz/fuzz-*.c; do
		t=${f##*/fuzz-}
		targets+=("${t%.c}")
	done
fi
for t in "${targets[@]}"; do
	if [[ ! -f $root/tests/fuzz/fuzz-$t.c ]]; then
		echo "fuzz.sh: no fuzz target '$t' (tests/fuzz/fuzz-$t.c)" >&2
		exit 2
	fi
done

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DNSBUS_FUZZ=ON >/dev/null
ninja -C "$build" "${targets[@]/#/fuzz-}" >/dev/null

work=$build/fuzz-work
failed=0
for t in "${targets[@]}"; do
	corpus=$work/$t/corpus
	log=$work/$t.log
	dict=$root/tests/fuzz/corpus/$t.dict
	mkdir -p "$corpus" "$work/$t/artifacts"
	cp "$root"/tests/fuzz/corpus/"$t"/* "$corpus"/

	args=(-max_total_time="$seconds" -timeout=25 -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/")
	[[ -f $dict ]] && args+=(-dict="$dict")
	echo "fuzz-$t: ${seconds} s, log in $log" >&2
	status=0
	"$build/tests/fuzz/fuzz-$t" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?

	# The last status line ("#N DONE cov: 123 ft: 456 corp: 78/9b ...") has the coverage.
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
	cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
	ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
	corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
	rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
	result=ok
	if [[ $status -ne 0 ]]; then
		result=FAILED
		failed=1
	fi
	printf '%-11s %-6s %6s s  %9s execs  %7s execs/s  cov: %-5s ft: %-6s corpus: %s\n' "$t" "$result" \
		"$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	if [[ $status -ne 0 ]]; then
		reproducer=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*invariant broken)' "$log" | head -n 3 | sed 's/^/    /' || true
		if [[ -n $reproducer ]]; then
			echo "    reproducer: $reproducer"
			echo "    replay it:  $build/tests/fuzz/fuzz-$t $reproducer"
		else
			echo "    libFuzzer exited with status $status; see $log"
		fi
	fi
done
exit $failed
