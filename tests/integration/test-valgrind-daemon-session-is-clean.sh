#!/bin/bash
# nsbusd under valgrind (memcheck) while it serves the other integration tests: every bus those tests
# start runs as `valgrind nsbusd ...`, and when the tests are done every valgrind log must say 0 errors,
# with definite and indirect leaks counted as errors.  The tests themselves must still pass (slower).
#
# Left out, with the reason: the bench smoke test and the 10k-connection scale test (their budgets
# are timings that valgrind's 20-50x slowdown cannot meet), the hostile-peer test (it bounds the bus's
# RSS, which valgrind's own heap inflates, and times the witness's answers), dbus's own test suites
# (minutes under valgrind), and every test of container mode (the container and bridge tests):
# Debian 12's valgrind 3.19 answers pidfd_open() with ENOSYS, and a container bus needs a pidfd of
# the container's init, so it cannot start under valgrind here.
. "$(dirname "$0")/lib.sh"
need valgrind
is_reference_daemon && skip "this checks nsbusd, not $NSBUSD"
is_sanitized_daemon && skip "an AddressSanitizer build of nsbusd cannot run under valgrind"

TESTS=(
	test-busctl-works test-dbus-send-works test-gdbus-works test-python-dbus-all-types
	test-dbus-monitor-sees-traffic test-monitor-cannot-send test-signal-match-rules
	test-request-name-flags-and-queue test-name-owner-changed-on-exit test-driver-interfaces
	test-routing-stamps-sender-and-filters-headers test-refused-messages-keep-the-connection
	test-malformed-input-disconnects test-connection-floods-cost-the-flooder test-bus-activation
	test-dbus-run-session test-gtestdbus-spawns-nsbusd test-dbus-test-tool-spam
	test-quotas-are-per-uid test-queued-bytes-are-charged-to-the-blamed-uid
)

# nsbusd is a static binary, where memcheck cannot replace malloc: check the same daemon linked
# dynamically (NSBUSD_DYNAMIC, built next to it) when there is one.
REAL=$(readlink -f "${NSBUSD_DYNAMIC:-$NSBUSD}")
readelf -l "$REAL" 2>/dev/null | grep -q 'program interpreter' ||
	skip "$REAL is statically linked: memcheck cannot see its heap (build nsbusd-dynamic)"
mkdir -p "$TMP/vgbin" "$TMP/vg"
# The wrapper is called nsbusd so the tests treat it as nsbusd; valgrind runs the daemon in the same
# process, so the pid a test holds is the daemon's. A child forked for bus activation is not the
# daemon: if its exec fails it exits with the parent's heap, which is not a leak (child-silent).
cat >"$TMP/vgbin/nsbusd" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \\
	--errors-for-leak-kinds=definite,indirect --child-silent-after-fork=yes --num-callers=30 --log-file="$TMP/vg/%p.log" "$REAL" "\$@"
EOF
chmod 755 "$TMP/vgbin/nsbusd"

for t in "${TESTS[@]}"; do
	[ -f "$IT_DIR/$t.sh" ] || fail "no $t.sh"
	before=$(ls "$TMP/vg" | wc -l)
	NSBUSD=$TMP/vgbin/nsbusd TMO=60 timeout -k 5 280 bash "$IT_DIR/$t.sh" >"$TMP/$t.out" 2>&1
	rc=$?
	if [ $rc = 77 ]; then
		log "$t: $(grep -m1 'skipped' "$TMP/$t.out")"
		continue
	fi
	[ $rc = 0 ] || fail "$t failed with nsbusd under valgrind (exit $rc): $(tail -5 "$TMP/$t.out")"
	after=$(ls "$TMP/vg" | wc -l)
	[ "$after" -gt "$before" ] || fail "$t started no nsbusd under valgrind"
	log "$t: passed; $((after - before)) daemon(s) under valgrind"
done

# Every daemon that exited must have a clean summary. One still running or killed with SIGKILL has
# none: those are counted, and must be the exception.
clean=0 unfinished=0
for f in "$TMP"/vg/*.log; do
	if ! grep -q 'ERROR SUMMARY:' "$f"; then
		unfinished=$((unfinished + 1))
		continue
	fi
	grep -q "ERROR SUMMARY: 0 errors" "$f" ||
		fail "valgrind found errors in nsbusd ($f): $(grep -A30 -E 'Invalid|uninitialised|are definitely lost|are indirectly lost' "$f" | head -60)"
	clean=$((clean + 1))
done
log "$clean daemon sessions ended with 0 errors and no definite or indirect leaks; $unfinished did not finish under valgrind"
[ "$clean" -ge "${#TESTS[@]}" ] || fail "only $clean clean valgrind summaries for ${#TESTS[@]} tests"
[ "$unfinished" -le $((clean / 4)) ] || fail "$unfinished daemons left no valgrind summary (killed?)"
echo "$TEST_NAME: PASS"
exit 0
