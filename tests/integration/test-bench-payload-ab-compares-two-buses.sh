#!/bin/bash
# bench/payload-ab.sh still runs: one round, 0.02 s per size, this build's nsbusd on both sides. It must
# print a mean for A and B and their ratio for each payload row's size, take every sample it reports
# from test-bus-benchmark (two per side and size), refuse a B that is not a program, and leave no bus
# running. Not a performance test: nothing is compared against a target.
. "$(dirname "$0")/lib.sh"
need stdbuf
ROOT=${NSBUS_SOURCE_DIR:-$(cd "$IT_DIR/../.." && pwd)}
[ -x "$NSBUSD" ] || fail "NSBUSD=$NSBUSD is not executable"
tbb=
for c in /usr/lib/systemd/tests/manual/test-bus-benchmark \
	/var/cache/nsbus/systemd-tests/usr/lib/systemd/tests/manual/test-bus-benchmark; do
	[ -x "$c" ] && { tbb=$c; break; }
done
[ -n "$tbb" ] || skip "test-bus-benchmark not installed (scripts/install-deps.sh unpacks it)"

TMPDIR=$TMP PAYLOAD_AB_LOOP=0.02s timeout -k 5 120 bash "$ROOT/bench/payload-ab.sh" "$NSBUSD" "$NSBUSD" 1 \
	>"$TMP/ab.out" 2>"$TMP/ab.err"
rc=$?
cat "$TMP/ab.out" "$TMP/ab.err" >&2
[ $rc -eq 0 ] || fail "payload-ab.sh exited $rc"
for size in 1 4096 65536 1048576; do
	awk -v s="$size" '$1 == s && NF == 4 && $2 > 0 && $3 > 0 && $4 > 0 { ok = 1 } END { exit !ok }' "$TMP/ab.out" ||
		fail "no A and B means and ratio for size $size"
	for side in A B; do
		n=$(awk -v k="$size $side:" 'index($0, "  " k) == 1 { print NF - 2 }' "$TMP/ab.out")
		[ "${n:-0}" = 2 ] || fail "size $size, side $side: ${n:-no} samples listed, want 2 (A B B A, one round)"
	done
done
[ -z "$(ls "$TMP" | grep nsbus-payload-ab)" ] || fail "payload-ab.sh left its temp dir behind"

TMPDIR=$TMP timeout -k 5 30 bash "$ROOT/bench/payload-ab.sh" "$NSBUSD" /nonexistent 1 >"$TMP/bad.out" 2>"$TMP/bad.err"
rc=$?
[ $rc -ne 0 ] || fail "payload-ab.sh accepted /nonexistent as a bus"
grep -q "/nonexistent is not an executable" "$TMP/bad.err" || fail "no reason given for /nonexistent: $(cat "$TMP/bad.err")"

# Both runs' buses were started with a config under $TMP: none may be left.
left=$(pgrep -f -- "--config-file=$TMP/" || true)
[ -z "$left" ] || fail "buses left running: $left"
echo "$TEST_NAME: PASS"
exit 0
