#!/bin/bash
# Run every integration test against one bus daemon binary, outside ctest:
#
#   bash tests/integration/run-against.sh /usr/bin/dbus-daemon [PATTERN...]
#
# PATTERNs (substrings of test names) select tests; the default is all of them.
# Each test's output goes to $LOGDIR (default: a temp dir) and is shown on failure.
# Exit status: 0 if nothing failed (skips are fine), 1 otherwise.

set -u
if [ $# -lt 1 ]; then
	echo "usage: $0 DAEMON-BINARY [PATTERN...]" >&2
	exit 2
fi
daemon=$(readlink -f "$1")
shift
[ -x "$daemon" ] || { echo "$daemon is not executable" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
logdir=${LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/nsbus-it-logs.XXXXXX")}
mkdir -p "$logdir"

pass=() fail=() skipped=()
for test in "$here"/test-*.sh; do
	name=$(basename "$test" .sh)
	if [ $# -gt 0 ]; then
		want=
		for p in "$@"; do
			case "$name" in *"$p"*) want=1 ;; esac
		done
		[ -n "$want" ] || continue
	fi
	start=$(date +%s%N)
	NSBUSD=$daemon NSBUS_SOURCE_DIR=$(cd "$here/../.." && pwd) \
		timeout -k 5 300 bash "$test" >"$logdir/$name.log" 2>&1
	rc=$?
	tenths=$((($(date +%s%N) - start) / 100000000))
	secs=$((tenths / 10)).$((tenths % 10))
	case $rc in
	0)
		pass+=("$name")
		printf '%-55s PASS  (%ss)\n' "$name" "$secs"
		;;
	77)
		skipped+=("$name")
		printf '%-55s SKIP  (%s)\n' "$name" "$(grep -m1 '^skipped:' "$logdir/$name.log" | sed 's/^skipped: //')"
		;;
	*)
		fail+=("$name")
		printf '%-55s FAIL  (exit %d, %ss)\n' "$name" "$rc" "$secs"
		sed 's/^/    | /' "$logdir/$name.log" | tail -n 40
		;;
	esac
	# nsbusd-specific parts skipped inside a passing test say so.
	if [ $rc -eq 0 ] && grep -q '^skipped: ' "$logdir/$name.log"; then
		grep '^skipped: ' "$logdir/$name.log" | sed 's/^/    (part) /'
	fi
done

echo
echo "daemon: $daemon"
echo "passed: ${#pass[@]}  failed: ${#fail[@]}  skipped: ${#skipped[@]}  (logs in $logdir)"
[ ${#fail[@]} -eq 0 ]
