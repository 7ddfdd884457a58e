#!/bin/bash
# dbus's own installed tests (package dbus-tests), pointed at the daemon under
# test through DBUS_TEST_DAEMON: the reference implementation's expectations of
# a message bus, checked against ours.
#
# Subtests skipped here, and why (each needs something nsbusd does not claim):
#   test-dbus-daemon /properties/features, /properties/get-all:
#       assert the SystemdActivation feature; nsbusd does no systemd activation.
#   test-monitor /monitor/activation: "relies on the systemd activation code path".
# The tests skip some subtests themselves (root is immune to a limit, the fd
# rlimit cannot be changed here); those print SKIP with their reason.
set -u
. "$(dirname "$0")/lib.sh"

DIR=/usr/lib/dbus-1.0/installed-tests/dbus
[ -x "$DIR/test-dbus-daemon" ] || skip "dbus's installed tests are missing (apt-get install dbus-tests)"

run_suite() {
	local name=$1
	shift
	local out="$TMP/$name.tap" rc
	# The tests start the daemon themselves, each with its own config from $DIR/data.
	(cd "$DIR" && DBUS_TEST_DAEMON="$NSBUSD" DBUS_TEST_DATA="$DIR/data" \
		timeout 240 "./$name" --tap "$@" >"$out" 2>&1)
	rc=$?
	local ok notok skipped
	ok=$(grep -c '^ok' "$out")
	notok=$(grep -c '^not ok' "$out")
	skipped=$(grep -c '^ok.*# SKIP' "$out")
	log "$name: $ok ok ($skipped skipped), $notok not ok, exit $rc"
	grep '# SKIP' "$out" | sed 's/^/    /' >&2
	# The suites start the daemon with its stderr on theirs: sanitizer reports land in $out.
	if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$out"; then
		grep -A30 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$out" | head -60 >&2
		fail "$name: the sanitizer reported errors in the daemon"
	fi
	if [ "$rc" != 0 ] || [ "$notok" != 0 ] || [ "$ok" = 0 ]; then
		grep -E '^(not ok|Bail out)|ERROR' "$out" | head -20 >&2
		fail "$name failed against $NSBUSD"
	fi
}

run_suite test-dbus-daemon -s /properties/features -s /properties/get-all
run_suite test-monitor -s /monitor/activation
run_suite test-fdpass
run_suite test-dbus-daemon-eavesdrop
run_suite test-header-fields
run_suite test-corrupt
run_suite test-relay
run_suite test-uid-permissions
# Each suite ran its own daemons; there is no harness bus to check, so no pass().
echo "$TEST_NAME: PASS"
