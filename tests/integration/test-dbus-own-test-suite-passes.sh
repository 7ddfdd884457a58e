#!/bin/bash
# dbus's own installed tests (package dbus-tests), pointed at the daemon under
# test through DBUS_TEST_DAEMON: the reference implementation's expectations of
# a message bus, checked against ours. We skip no subtest. Then every installed
# .test file, as gnome-desktop-testing-runner runs them (60 here), must pass.
#
# The suites start their daemons with --systemd-activation, as dbus-daemon's
# installed tests do. So test-dbus-daemon's /properties/features and
# /properties/get-all want SystemdActivation among the Features; test-monitor's
# /monitor/activation checks, message by message, what a monitor sees while a
# fake systemd gets ActivationRequest, starts services and answers
# ActivationFailure; and test-sd-activation checks the same exchange from the
# clients' side, with the send and receive rules applied to activation, and
# UpdateActivationEnvironment passed on to systemd as SetEnvironment.
# The tests skip some subtests themselves (root is immune to a limit, the fd
# rlimit cannot be changed here); those print SKIP with their reason.
#
# A suite that crashes, aborts or hangs must not leave a daemon behind (an
# orphaned one runs on, and would hold whatever output it inherited). So each
# suite runs in a session of its own (setsid) with a marker in its environment,
# with its output -- and so its daemons' stderr -- in a file, never in ctest's
# pipe; when it ends, every process still in that session or carrying the
# marker (a process that left the session with setsid() keeps its environment)
# is stopped, by pid. One left running after a suite that passed fails the test.
set -u
. "$(dirname "$0")/lib.sh"

DIR=/usr/lib/dbus-1.0/installed-tests/dbus
[ -x "$DIR/test-dbus-daemon" ] || skip "dbus's installed tests are missing (apt-get install dbus-tests)"
need setsid timeout

SUITE_MARK= # $TMP/SUITE while a suite runs; $SUITE_MARK.sid then holds its session id

# The pids of live processes that suite left: in session $1, or with NSBUS_SUITE_MARK=$2 in their
# environment. Zombies are not counted: they hold nothing and only their parent can reap them.
suite_leftovers() {
	local sid=$1 mark=$2 d stat state session
	{
		for d in /proc/[0-9]*; do
			{ read -r stat <"$d/stat"; } 2>/dev/null || continue
			# comm, in parentheses, may hold spaces: the fields after it are state ppid pgrp session.
			read -r state _ _ session _ <<<"${stat##*) }"
			[ "$state" != Z ] && [ "$session" = "$sid" ] && echo "${d#/proc/}"
		done
		grep -lzxF "NSBUS_SUITE_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null | while read -r d; do
			d=${d%/environ}
			{ read -r stat <"$d/stat"; } 2>/dev/null || continue
			read -r state _ <<<"${stat##*) }"
			[ "$state" != Z ] && echo "${d#/proc/}"
		done
	} | sort -un
}

# Stop what the current suite left: first give it two seconds to end by itself (the suites end their
# daemons with SIGTERM and do not wait), then SIGTERM, then SIGKILL. Prints what had to be stopped.
reap_suite() {
	[ -n "$SUITE_MARK" ] || return 0
	local sid mark=$SUITE_MARK pids i p sig
	sid=$(cat "$SUITE_MARK.sid" 2>/dev/null)
	sid=${sid:--1}
	for sig in NONE TERM KILL; do
		for i in $(seq 1 20); do
			pids=$(suite_leftovers "$sid" "$mark")
			[ -n "$pids" ] || return 0
			[ "$sig" = NONE ] || break
			sleep 0.1
		done
		[ "$sig" = NONE ] && continue
		for p in $pids; do
			echo "left running: pid $p: $({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null); sending SIG$sig"
			kill -"$sig" "$p" 2>/dev/null
		done
		sleep 1
	done
	pids=$(suite_leftovers "$sid" "$mark")
	[ -z "$pids" ] || echo "still running after SIGKILL: $pids"
}
trap 'reap_suite >&2; cleanup' EXIT

# in_session NAME OUT COMMAND...: COMMAND in $DIR, in a session of its own, marked, output in OUT, with
# DBUS_TEST_DAEMON set (and whatever else the caller exported); sets rc and leftovers (what reap_suite had
# to stop). In the background and waited for, so that a signal to this script is handled at once (bash
# runs traps only between foreground commands). bash -c is setsid's session leader: its pid is the
# session's id.
in_session() {
	local name=$1 out=$2
	shift 2
	SUITE_MARK="$TMP/$name"
	(cd "$DIR" && export DBUS_TEST_DAEMON="$NSBUSD" NSBUS_SUITE_MARK="$SUITE_MARK" &&
		exec setsid --wait bash -c 'echo $$ >"$0"; exec "$@"' "$SUITE_MARK.sid" \
			timeout -k 5 240 "$@" </dev/null >"$out" 2>&1) &
	wait $!
	rc=$?
	leftovers=$(reap_suite)
	SUITE_MARK=
}

run_suite() {
	local name=$1
	shift
	local out="$TMP/$name.tap" rc leftovers
	# The tests start the daemon themselves, each with its own config from $DIR/data.
	DBUS_TEST_DATA="$DIR/data" in_session "$name" "$out" "./$name" --tap "$@"
	local ok notok skipped
	ok=$(grep -c '^ok' "$out")
	notok=$(grep -c '^not ok' "$out")
	skipped=$(grep -c '^ok.*# SKIP' "$out")
	log "$name: $ok ok ($skipped skipped), $notok not ok, exit $rc"
	grep '# SKIP' "$out" | sed 's/^/    /' >&2
	[ -z "$leftovers" ] || echo "$leftovers" | sed 's/^/    /' >&2
	# The suites start the daemon with its stderr on theirs: sanitizer reports land in $out.
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$out"; then
		grep -A30 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$out" | head -60 >&2
		fail "$name: the sanitizer reported errors in the daemon"
	fi
	if [ "$rc" != 0 ] || [ "$notok" != 0 ] || [ "$ok" = 0 ]; then
		grep -E '^(not ok|Bail out)|ERROR' "$out" | head -20 >&2
		fail "$name failed against $NSBUSD"
	fi
	[ -z "$leftovers" ] || fail "$name passed but left processes running (see above)"
}

run_suite test-dbus-daemon
run_suite test-monitor
run_suite test-sd-activation
run_suite test-fdpass
run_suite test-dbus-daemon-eavesdrop
run_suite test-header-fields
run_suite test-corrupt
run_suite test-relay
run_suite test-uid-permissions
# Then every installed test as gnome-desktop-testing-runner runs them: each .test file of
# /usr/share/installed-tests/dbus (the suites above again, with and without their data, and libdbus's own
# tests) by its Exec= line, passing when it exits 0.
passed=0
failed=()
for f in $(find /usr/share/installed-tests/dbus -name '*.test' | sort); do
	exe=$(sed -n 's/^Exec=//p' "$f")
	name=installed-$(basename "$f" .test)
	[ -n "$exe" ] || fail "$f has no Exec= line"
	in_session "$name" "$TMP/$name.out" sh -c "$exe"
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP/$name.out"; then
		grep -A30 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP/$name.out" | head -60 >&2
		failed+=("$(basename "$f") (sanitizer report)")
	elif [ "$rc" != 0 ] || [ -n "$leftovers" ]; then
		grep -E '^(not ok|Bail out)|ERROR' "$TMP/$name.out" | head -5 >&2
		[ -z "$leftovers" ] || echo "$leftovers" | sed 's/^/    /' >&2
		failed+=("$(basename "$f") (exit $rc${leftovers:+, left processes})")
	else
		passed=$((passed + 1))
	fi
done
log "dbus's installed tests (.test files): $passed passed, ${#failed[@]} failed${failed[*]:+: ${failed[*]}}"
[ "$passed" -gt 0 ] && [ "${#failed[@]}" = 0 ] || fail "dbus's installed tests failed against $NSBUSD: ${failed[*]}"
# Each suite ran its own daemons; there is no harness bus to check, so no pass().
echo "$TEST_NAME: PASS"
