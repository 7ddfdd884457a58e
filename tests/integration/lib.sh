# Shared harness for the integration tests, sourced by every test-*.sh.
#
# A test runs one private bus daemon -- whatever binary $NSBUSD names, so the same
# script validates nsbusd and the reference dbus-daemon -- in a private temp dir,
# with a minimal session-style config, and talks to it only through real clients.
# Every client call goes through `t` (a bounded timeout) so that a hang fails the
# test instead of blocking ctest.  Exit codes: 0 pass, 1 fail, 77 skip.

set -u
set -o pipefail

NSBUSD=${NSBUSD:-/usr/bin/dbus-daemon}
PY=/usr/bin/python3 # python3-dbus and python3-gi belong to this interpreter only
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
TMO=${TMO:-20} # seconds allowed to one client call

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nsbus-it.XXXXXX")
chmod 755 "$TMP"
CONF=$TMP/bus.conf
ADDR=
BUS_PID=
BG_PIDS=()

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

# Print why the test failed, the tail of the daemon's log, and exit 1.
fail() {
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
	if [ -s "$TMP/bus.log" ]; then
		echo "--- last lines of the bus log ($TMP/bus.log) ---" >&2
		tail -n 30 "$TMP/bus.log" >&2
	fi
	exit 1
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

skip() {
	echo "skipped: $*"
	exit 77
}

cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$BUS_PID" ]; then
		# Services the bus activated are its children; they go with it.
		for p in $(pgrep -P "$BUS_PID" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
		kill "$BUS_PID" 2>/dev/null
		# A daemon that ignores SIGTERM must not hang the run.
		for p in $(seq 1 50); do
			kill -0 "$BUS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$BUS_PID" 2>/dev/null
		wait "$BUS_PID" 2>/dev/null
		# In a sanitizer build the daemon reports leaks and errors as it exits: that fails the test.
		if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP/bus.log" 2>/dev/null; then
			echo "FAIL: the sanitizer reported errors in the daemon:" >&2
			grep -A40 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP/bus.log" | head -80 >&2
			sanitizer_failed=1
		fi
	fi
	if [ -n "${NSBUS_KEEP_TMP:-}" ]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	[ -z "${sanitizer_failed:-}" ] || exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run a client with a bounded time: `t CMD...` or `TMO=5 t CMD...`.
t() {
	timeout -k 2 "$TMO" "$@"
}

# need CMD...: skip the test unless every client it uses is installed.
need() {
	local c
	for c in "$@"; do
		case "$c" in
		python3-dbus)
			[ -x "$PY" ] && "$PY" -c 'import dbus, dbus.mainloop.glib, gi' 2>/dev/null ||
				skip "python3-dbus / python3-gi for $PY not installed"
			;;
		*) command -v "$c" >/dev/null || skip "$c not installed" ;;
		esac
	done
}

# install_prefix DIR: `cmake --install` the build that $NSBUSD belongs to into DIR, as an admin would
# install it; the runtime hooks' tests run that installed tree (nsbus-hook finds nsbusd and nsbridge next
# to it, and the installed configurations name it). Skips unless $NSBUSD is <builddir>/daemon/nsbusd.
install_prefix() {
	local build
	build=$(cd "$(dirname "$NSBUSD")/.." && pwd)
	[ -f "$build/cmake_install.cmake" ] || skip "NSBUSD=$NSBUSD is not <builddir>/daemon/nsbusd of a CMake build"
	need cmake
	TMO=120 t cmake --install "$build" --prefix "$1" >"$TMP/install.log" 2>&1 ||
		fail "cmake --install $build --prefix $1: $(tail -5 "$TMP/install.log")"
	[ -x "$1/bin/nsbus-hook" ] || skip "nsbus-hook not built"
}

# container_bus_gone NAME: nothing of container NAME's bus is left: /run/nsbus/NAME, and any nsbusd,
# nsbridge or supervisor (an nsbus-hook or nsbusctl process) naming it (zombies aside: an init that does
# not reap is not ours to judge).
container_bus_gone() {
	local name=$1 p args left=
	[ -e "/run/nsbus/$name" ] && fail "/run/nsbus/$name is still there: $(ls -la "/run/nsbus/$name")"
	for p in /proc/[0-9]*; do
		mapfile -d "" args 2>/dev/null <"/proc/$p/cmdline" || continue
		case "${args[0]##*/}" in nsbusd | nsbridge | nsbus-hook | nsbusctl) ;; *) continue ;; esac
		[[ " ${args[*]} " == *"--name=$name "* || " ${args[*]} " == *" $name "* ]] || continue
		[ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = Z ] && continue
		left+=" ${p#/proc/}(${args[*]})"
	done
	[ -z "$left" ] || fail "left behind by container $name:$left"
}

# runtime_client_check WHAT OUTPUT [HOST_UID]: what runtime_client.py printed inside a container is the
# container's view: its own pid and uid (0) as the bus reports them, pid 0 for the bus; with HOST_UID, the
# uid the host service behind the bridge saw.
runtime_client_check() {
	local what=$1 out=$2 pid_in pid_bus
	log "$what: $(echo $out)"
	read -r _ pid_in pid_bus <<<"$(grep '^pid ' <<<"$out")"
	[ -n "$pid_in" ] || fail "$what: the client printed no pid line: $out"
	expect_eq "$what: the client's pid, as the container sees it" "$pid_bus" "$pid_in"
	expect_eq "$what: the client's uid, as the container sees it" "$(grep '^uid ' <<<"$out")" "uid 0 0"
	expect_eq "$what: the bus's pid, invisible in the container" "$(grep '^buspid ' <<<"$out")" "buspid 0"
	[ -z "${3:-}" ] || expect_eq "$what: the host service sees the container's root as the host does" \
		"$(grep '^host-uid ' <<<"$out")" "host-uid $3"
}

# Start something in the background and have cleanup kill it.
spawn() {
	"$@" &
	BG_PIDS+=($!)
}

# True when $NSBUSD is the reference dbus-daemon; nsbusd-specific checks
# are skipped (with a message) there.
is_reference_daemon() {
	case "$(basename "$NSBUSD")" in
	dbus-daemon*) return 0 ;;
	esac
	return 1
}

# True when $NSBUSD was built with AddressSanitizer: its quarantine keeps freed memory, so RSS
# says nothing about what the bus holds.
is_sanitized_daemon() {
	grep -qa AddressSanitizer "$NSBUSD"
}

# Write $CONF.  Arguments are extra XML lines placed inside <busconfig>
# (limits, servicedirs, ...).
bus_write_config() {
	{
		echo '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"'
		echo ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">'
		echo '<busconfig>'
		echo '  <type>session</type>'
		echo "  <listen>unix:path=$TMP/bus</listen>"
		echo '  <auth>EXTERNAL</auth>'
		echo '  <policy context="default">'
		echo '    <allow send_destination="*" eavesdrop="true"/>'
		echo '    <allow eavesdrop="true"/>'
		echo '    <allow own="*"/>'
		echo '  </policy>'
		local line
		for line in "$@"; do
			echo "  $line"
		done
		echo '</busconfig>'
	} >"$CONF"
}

# Start the daemon on $CONF (written with defaults if missing), wait for its
# address and export it for every client library.
bus_start() {
	[ -x "$NSBUSD" ] || fail "NSBUSD=$NSBUSD is not executable"
	[ -f "$CONF" ] || bus_write_config
	: >"$TMP/addr" # exists before the loop below reads it, whenever the daemon gets to run
	"$NSBUSD" --config-file="$CONF" --nofork --print-address=3 3>"$TMP/addr" 2>"$TMP/bus.log" &
	BUS_PID=$!
	local i
	for i in $(seq 1 100); do
		# A complete line: the daemon may write the address in pieces.
		if [ "$(wc -l <"$TMP/addr")" -ge 1 ]; then
			break
		fi
		kill -0 "$BUS_PID" 2>/dev/null || fail "daemon exited during startup"
		sleep 0.05
	done
	ADDR=$(head -n 1 "$TMP/addr")
	[ -n "$ADDR" ] || fail "daemon printed no address within 5 s"
	case "$ADDR" in
	unix:*) ;;
	*) fail "daemon printed a strange address: '$ADDR'" ;;
	esac
	[ -S "$TMP/bus" ] || fail "daemon did not create the socket $TMP/bus"
	export DBUS_SESSION_BUS_ADDRESS=$ADDR
	export DBUS_SYSTEM_BUS_ADDRESS=$ADDR
	export DBUS_STARTER_ADDRESS=$ADDR
	export DBUS_STARTER_BUS_TYPE=session
	log "daemon $NSBUSD pid $BUS_PID at $ADDR"
}

bus_alive() {
	[ -n "$BUS_PID" ] && kill -0 "$BUS_PID" 2>/dev/null
}

# The bus id, through dbus-send; fails the test if the bus does not answer.
bus_get_id() {
	local out
	out=$(t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.GetId) ||
		fail "GetId failed (daemon alive: $(bus_alive && echo yes || echo no))"
	echo "$out" | tr -d ' \n'
}

name_has_owner() {
	local out
	out=$(t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$1") || return 2
	case "$out" in
	*true*) return 0 ;;
	*) return 1 ;;
	esac
}

# wait_for_name NAME [SECONDS]: wait until NAME has an owner.
wait_for_name() {
	local name=$1 secs=${2:-10} i
	for i in $(seq 1 $((secs * 20))); do
		name_has_owner "$name" && return 0
		sleep 0.05
	done
	fail "name $name did not appear within ${secs}s"
}

# wait_for_name_gone NAME [SECONDS]
wait_for_name_gone() {
	local name=$1 secs=${2:-10} i
	for i in $(seq 1 $((secs * 20))); do
		name_has_owner "$name"
		[ $? -eq 1 ] && return 0
		sleep 0.05
	done
	fail "name $name still owned after ${secs}s"
}

# wait_for_file FILE PATTERN [SECONDS]: wait until FILE contains PATTERN (grep -E).
wait_for_file() {
	local file=$1 pat=$2 secs=${3:-10} i
	for i in $(seq 1 $((secs * 20))); do
		grep -Eq -- "$pat" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
}

# expect_match WHAT TEXT ERE: TEXT must match the extended regex ERE.
expect_match() {
	grep -Eq -- "$3" <<<"$2" || fail "$1: '$3' not found in: $2"
}

expect_no_match() {
	if grep -Eq -- "$3" <<<"$2"; then
		fail "$1: '$3' unexpectedly found in: $2"
	fi
}

# The test passed: the daemon must still be alive and answering.
pass() {
	bus_alive || fail "the daemon died during the test"
	local id
	id=$(bus_get_id)
	[[ "$id" =~ ^[0-9a-f]{32}$ ]] || fail "final GetId answered '$id'"
	echo "$TEST_NAME: PASS"
	exit 0
}
