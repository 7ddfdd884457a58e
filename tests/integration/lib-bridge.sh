# The bridge for the integration tests, sourced after lib-container.sh by every test-bridge-*.sh.
#
# A test-bridge-* script runs three things beside the container and its nsbusd: a host bus, which is
# the real dbus-daemon or dbus-broker as $HOSTBUS names (ctest runs every script once against each),
# python3-dbus services on that host bus (bridge_host_service.py), and nsbridge ($NSBRIDGE) between
# the host bus and the container's host.sock.  The bridge drops to the container's mapped root (uid
# 100000), so the host bus must let a foreign uid in: its socket and every directory on the way are
# reachable by others, and its config allows every user (<allow user="*"/>).
#
# Two facts about the host buses shape hostbus_start:
# - dbus-daemon 1.14 refuses a uid that has no passwd entry: it looks up the uid's groups for its
#   policy and disconnects the peer right after BEGIN when that fails.  /etc/subuid's ranges have no
#   passwd entries here, so the host bus runs in its own mount namespace with /etc/passwd and
#   /etc/group bind-mounted from copies that add the container's root (uid and gid 100000) and
#   100500 (a host caller in test-bridge-exports-container-service).  A real host needs an entry
#   for the container's root too (or runs dbus-broker, which does not ask).
# - dbus-broker runs without systemd as SPEC.md "Machine facts" says (bench/broker-inner.sh: a socket
#   from systemd-socket-activate, a journal sink in a private mount namespace, -E
#   DBUS_SESSION_BUS_ADDRESS).  systemd-socket-activate makes the socket 0644 whatever the umask, so
#   it is made 0666 as soon as it exists; a bridge that connects in that moment is refused and must
#   retry, as it must after any restart of the host bus.
# The socket path is fixed ($TMP/hostbus/bus), so hostbus_restart brings the bus back at the same
# address, as a restarted system bus would be.
#
# At exit, after the containers are gone, the bridge must have exited by itself with status 0 (it
# exits when the container's init does); then the host services and the host bus are stopped, and
# no process that names $TMP on its command line may be left, nor any process of the host bus.

HOSTBUS=${HOSTBUS:-dbus-daemon}
HOSTBUS_DIR=$TMP/hostbus
HOSTBUS_SOCK=$HOSTBUS_DIR/bus
HOSTBUS_ADDR=unix:path=$HOSTBUS_SOCK
HOSTBUS_PID=      # dbus-daemon, or dbus-broker-launch (with dbus-broker as its child)
HOSTBUS_BROKER=   # the dbus-broker process under the launcher
HOSTBUS_SINK=     # dbus-broker's journal sink
HOSTBUS_N=0       # starts so far: the log of start N is $TMP/hostbus.N.log
HOSTSVC_PID=      # bridge_host_service.py
HOSTSVC_INFO=$TMP/hostsvc.info
BRIDGE_PID=
BRIDGE_LOG=$TMP/bridge.log
BRIDGE_POLICY=$TMP/$CTR_NAME.policy
ORPHANS=()        # pids that were stopped and must be gone at exit

# The policy most tests use: talk to org.example.Host, see org.example.Visible, call one method of
# org.example.Other and hear one of its signals, and export com.example.Web as com.example.Web.c1.
# org.example.Hidden is owned on the host and imported by nothing.
bridge_write_policy() {
	cat >"$BRIDGE_POLICY" <<-EOF
		# the bridge policy of container $CTR_NAME (test-bridge-*)
		import talk org.example.Host
		import see org.example.Visible
		import call org.example.Other org.example.Other.Get@/org/example/Other
		import broadcast org.example.Other org.example.Other.Changed@/org/example/*
		export own com.example.Web as com.example.Web.$CTR_NAME
	EOF
}

# Skip unless the bridge can run here: nsbridge built, containers possible, the host bus installed.
bridge_need() {
	if [ -z "${NSBRIDGE+set}" ]; then
		# Run by hand from a build tree: nsbridge sits next to nsbusd's directory.
		NSBRIDGE=$(dirname "$NSBUSD")/../nsbridge/nsbridge
	fi
	[ -n "$NSBRIDGE" ] && [ -x "$NSBRIDGE" ] || skip "nsbridge not built${NSBRIDGE:+ (NSBRIDGE=$NSBRIDGE)}"
	ctr_need
	need python3-dbus dbus-send unshare
	case "$HOSTBUS" in
	dbus-daemon) need dbus-daemon ;;
	dbus-broker) need dbus-broker dbus-broker-launch systemd-socket-activate ;;
	*) fail "HOSTBUS=$HOSTBUS: want dbus-daemon or dbus-broker" ;;
	esac
}

# The failure report also shows the bridge's log and the host bus's.
fail() {
	printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
	local f
	for f in "$TMP/bus.log" "$BRIDGE_LOG" "$TMP/hostbus.$HOSTBUS_N.log" "$TMP/hostsvc.err"; do
		if [ -s "$f" ]; then
			echo "--- last lines of $f ---" >&2
			tail -n 30 "$f" >&2
		fi
	done
	exit 1
}

hostbus_write_config() {
	cat >"$HOSTBUS_DIR/bus.conf" <<-EOF
		<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
		 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
		<busconfig>
		  <type>session</type>
		  <listen>unix:path=$HOSTBUS_SOCK</listen>
		  <auth>EXTERNAL</auth>
		  <policy context="default">
		    <allow user="*"/>
		    <allow send_destination="*"/>
		    <allow receive_sender="*"/>
		    <allow own="*"/>
		  </policy>
		</busconfig>
	EOF
	cp /etc/passwd "$HOSTBUS_DIR/passwd"
	cp /etc/group "$HOSTBUS_DIR/group"
	# The container's root (the bridge), and host uid 100500 (container uid 500, a host caller in
	# test-bridge-exports-container-service).
	local id
	# The copies are checked, not the live files: a test may add or remove such a user meanwhile
	# (test-nsbusctl-up-on-a-stock-system-bus does).
	for id in 100000 100500; do
		awk -F: -v id="$id" '$3 == id {found = 1} END {exit !found}' "$HOSTBUS_DIR/passwd" ||
			echo "nsbus-it-$id:x:$id:$id::/nonexistent:/usr/sbin/nologin" >>"$HOSTBUS_DIR/passwd"
		awk -F: -v id="$id" '$3 == id {found = 1} END {exit !found}' "$HOSTBUS_DIR/group" ||
			echo "nsbus-it-$id:x:$id:" >>"$HOSTBUS_DIR/group"
	done
}

# hostbus_call ARGS...: dbus-send on the host bus, literal reply.
hostbus_call() {
	t dbus-send --bus="$HOSTBUS_ADDR" --print-reply=literal "$@"
}

hostbus_has_owner() {
	local out
	out=$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null) || return 2
	case "$out" in
	*true*) return 0 ;;
	*) return 1 ;;
	esac
}

# hostbus_wait_name NAME [SECONDS] / hostbus_wait_name_gone NAME [SECONDS]
hostbus_wait_name() {
	local i
	for i in $(seq 1 $((${2:-10} * 10))); do
		hostbus_has_owner "$1" && return 0
		sleep 0.1
	done
	fail "$1 not owned on the host bus within ${2:-10} s"
}

hostbus_wait_name_gone() {
	local i
	for i in $(seq 1 $((${2:-10} * 10))); do
		hostbus_has_owner "$1"
		[ $? = 1 ] && return 0
		sleep 0.1
	done
	fail "$1 still owned on the host bus after ${2:-10} s"
}

# Start the host bus at $HOSTBUS_ADDR and wait until it answers.  From the test's own shell, not $(...).
hostbus_start() {
	local i log
	mkdir -p "$HOSTBUS_DIR"
	chmod 755 "$HOSTBUS_DIR"
	[ -f "$HOSTBUS_DIR/bus.conf" ] || hostbus_write_config
	rm -f "$HOSTBUS_SOCK"
	HOSTBUS_N=$((HOSTBUS_N + 1))
	log=$TMP/hostbus.$HOSTBUS_N.log
	HOSTBUS_BROKER='' HOSTBUS_SINK=''
	case "$HOSTBUS" in
	dbus-daemon)
		# unshare and sh exec: $! is the daemon.
		unshare -m sh -c 'mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group &&
			exec dbus-daemon --config-file="$1/bus.conf" --nofork' sh "$HOSTBUS_DIR" >"$log" 2>&1 &
		HOSTBUS_PID=$!
		;;
	dbus-broker)
		# unshare -> bash -> systemd-socket-activate -> dbus-broker-launch: one pid.
		unshare -m bash "$IT_DIR/../../bench/broker-inner.sh" "$HOSTBUS_SOCK" "$HOSTBUS_DIR/bus.conf" \
			"$HOSTBUS_DIR/sink.$HOSTBUS_N.pid" >"$log" 2>&1 &
		HOSTBUS_PID=$!
		;;
	esac
	for i in $(seq 1 100); do
		[ -S "$HOSTBUS_SOCK" ] && break
		pid_alive "$HOSTBUS_PID" || fail "$HOSTBUS exited during startup: $(cat "$log")"
		sleep 0.05
	done
	[ -S "$HOSTBUS_SOCK" ] || fail "$HOSTBUS made no socket $HOSTBUS_SOCK within 5 s"
	chmod 666 "$HOSTBUS_SOCK"
	if [ "$HOSTBUS" = dbus-broker ]; then
		for i in $(seq 1 100); do
			[ -s "$HOSTBUS_DIR/sink.$HOSTBUS_N.pid" ] && break
			sleep 0.05
		done
		HOSTBUS_SINK=$(cat "$HOSTBUS_DIR/sink.$HOSTBUS_N.pid" 2>/dev/null)
	fi
	# The first connection makes systemd-socket-activate exec the launcher.
	local id=
	for i in $(seq 1 50); do
		id=$(TMO=5 hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus \
			org.freedesktop.DBus.GetId 2>/dev/null) && break
		pid_alive "$HOSTBUS_PID" || fail "$HOSTBUS exited during startup: $(cat "$log")"
		sleep 0.1
	done
	[ -n "$id" ] || fail "$HOSTBUS at $HOSTBUS_ADDR does not answer GetId"
	if [ "$HOSTBUS" = dbus-broker ]; then
		HOSTBUS_BROKER=$(pgrep -P "$HOSTBUS_PID" -x dbus-broker)
		[ -n "$HOSTBUS_BROKER" ] || fail "no dbus-broker process under the launcher $HOSTBUS_PID"
	fi
	log "host bus $HOSTBUS pid $HOSTBUS_PID${HOSTBUS_BROKER:+ (broker $HOSTBUS_BROKER)} at $HOSTBUS_ADDR, id $(words "$id")"
}

# stop_pid PID: SIGTERM, then SIGKILL after 5 s; reaps it if it is our child.
stop_pid() {
	local p=$1 i
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for i in $(seq 1 50); do
		pid_alive "$p" || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	ORPHANS+=("$p")
	return 0
}

hostbus_stop() {
	[ -n "$HOSTBUS_PID" ] || return 0
	# The launcher's children first (the sink was started by the shell the launcher replaced), so
	# that none of them is left to an init that may not reap orphans.
	stop_pid "$HOSTBUS_SINK"
	stop_pid "$HOSTBUS_BROKER"
	stop_pid "$HOSTBUS_PID"
	HOSTBUS_PID='' HOSTBUS_BROKER='' HOSTBUS_SINK=''
}

hostbus_restart() {
	hostbus_stop
	hostbus_start
}

# hostsvc_start NAME...: bridge_host_service.py owning each NAME on its own connection to the host bus.
hostsvc_start() {
	local i
	rm -f "$HOSTSVC_INFO"
	"$PY" "$IT_DIR/bridge_host_service.py" "$HOSTBUS_ADDR" "$HOSTSVC_INFO" "$@" 2>>"$TMP/hostsvc.err" &
	HOSTSVC_PID=$!
	for i in $(seq 1 200); do
		grep -q '^ready$' "$HOSTSVC_INFO" 2>/dev/null && return 0
		pid_alive "$HOSTSVC_PID" || break
		sleep 0.05
	done
	fail "bridge_host_service.py did not start: $(cat "$TMP/hostsvc.err")"
}

hostsvc_stop() {
	stop_pid "$HOSTSVC_PID"
	HOSTSVC_PID=
}

# bridge_start [EXTRA-ARGS...]: run nsbridge between the host bus and the container's host.sock with
# $BRIDGE_POLICY, its stderr in $BRIDGE_LOG; wait for its "ready" line; set BRIDGE_PID.
bridge_start() {
	local i
	[ -f "$BRIDGE_POLICY" ] || bridge_write_policy
	# In the sanitizer build, LeakSanitizer's exit-time stop-the-world (clone, ptrace, mprotect) is
	# exactly what the sandbox refuses; the options set for the whole suite would turn it on again.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	"$NSBRIDGE" --host-bus="$HOSTBUS_ADDR" --container-bus="$HOST_ADDR" --policy="$BRIDGE_POLICY" \
		--name="$CTR_NAME" --verbose "$@" >"$TMP/bridge.out" 2>>"$BRIDGE_LOG" &
	BRIDGE_PID=$!
	for i in $(seq 1 200); do
		grep -q "^nsbridge\[$CTR_NAME\]: .*ready" "$BRIDGE_LOG" 2>/dev/null && break
		if ! pid_alive "$BRIDGE_PID"; then
			wait "$BRIDGE_PID"
			local st=$?
			BRIDGE_PID=
			fail "nsbridge exited with status $st before it was ready"
		fi
		sleep 0.05
	done
	grep -q "^nsbridge\[$CTR_NAME\]: .*ready" "$BRIDGE_LOG" || fail "nsbridge logged no 'ready' within 10 s"
	log "nsbridge pid $BRIDGE_PID ready"
}

# ctr_has_owner INIT NAME: NameHasOwner inside the container, asked as its root (0 yes, 1 no, 2 error).
ctr_has_owner() {
	local out
	out=$(TMO=5 ctr_exec "$1" 0 0 dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$2" 2>/dev/null) || return 2
	case "$out" in
	*true*) return 0 ;;
	*) return 1 ;;
	esac
}

# bridge_wait_name INIT NAME [SECONDS]: wait until NAME is owned inside the container (the bridge has
# imported it); bridge_wait_name_gone the reverse.  10 s unless told.
bridge_wait_name() {
	local end=$((SECONDS + ${3:-10}))
	while [ "$SECONDS" -lt "$end" ]; do
		ctr_has_owner "$1" "$2" && return 0
		pid_alive "$BRIDGE_PID" || fail "nsbridge died while waiting for $2 inside"
		sleep 0.1
	done
	fail "$2 not owned inside container $1 within ${3:-10} s"
}

bridge_wait_name_gone() {
	local end=$((SECONDS + ${3:-10}))
	while [ "$SECONDS" -lt "$end" ]; do
		ctr_has_owner "$1" "$2"
		[ $? = 1 ] && return 0
		sleep 0.1
	done
	fail "$2 still owned inside container $1 after ${3:-10} s"
}

# bridge_client WHERE UID ADDRESS COMMAND...: bridge_client.py inside container WHERE as UID (or on the
# host if WHERE is "host").  Its output is in $out, its stderr in $TMP/client.err.
bridge_client() {
	local where=$1 uid=$2 addr=$3
	shift 3
	local st
	if [ "$where" = host ]; then
		out=$(t "$PY" "$IT_DIR/bridge_client.py" "$addr" "$@" 2>"$TMP/client.err")
	else
		out=$(ctr_exec "$where" "$uid" "$uid" /usr/bin/python3 "$IT_DIR/bridge_client.py" "$addr" "$@" \
			2>"$TMP/client.err")
	fi
	st=$?
	[ "$st" = 0 ] || echo "(bridge_client.py $*: exit status $st$([ "$st" = 124 ] && echo ", killed after $TMO s"))" \
		>>"$TMP/client.err"
	return "$st"
}

HOSTSVC_NAMES=(org.example.Host org.example.Other org.example.Visible org.example.Hidden)

# bridge_fixture: what most bridge tests start from.  The host bus with bridge_host_service.py owning
# HOSTSVC_NAMES, container C1 whose nsbusd reserves the imported names (--policy), and nsbridge
# between them, with org.example.Host imported.  Sets C1.
bridge_fixture() {
	hostbus_start
	hostsvc_start "${HOSTSVC_NAMES[@]}"
	ctr_start C1
	bridge_write_policy
	ctr_bus_start "$C1" --policy="$BRIDGE_POLICY"
	bridge_start
	bridge_wait_name "$C1" org.example.Host
}

# The test passed if the bridge and the host bus are still alive, and the container bus answers.
bridge_pass() {
	pid_alive "$BRIDGE_PID" || fail "nsbridge died during the test"
	pid_alive "$HOSTBUS_PID" || fail "the host bus died during the test"
	hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null ||
		fail "the host bus does not answer GetId"
	pass
}

# After the containers: the bridge must have exited 0 by itself; stop the rest; nothing may be left.
bridge_cleanup() {
	local i p st leftovers=
	if [ -n "$BRIDGE_PID" ]; then
		for i in $(seq 1 50); do
			pid_alive "$BRIDGE_PID" || break
			sleep 0.1
		done
		if pid_alive "$BRIDGE_PID"; then
			echo "$TEST_NAME: FAIL: nsbridge (pid $BRIDGE_PID) still runs 5 s after its container ended" >&2
			bridge_cleanup_failed=1
			kill -KILL "$BRIDGE_PID" 2>/dev/null
		fi
		wait "$BRIDGE_PID" 2>/dev/null
		st=$?
		if [ -z "${bridge_cleanup_failed:-}" ] && [ "$st" != 0 ]; then
			echo "$TEST_NAME: FAIL: nsbridge exited with status $st when its container ended" >&2
			bridge_cleanup_failed=1
		fi
		ORPHANS+=("$BRIDGE_PID")
		if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BRIDGE_LOG" 2>/dev/null; then
			echo "FAIL: the sanitizer reported errors in nsbridge:" >&2
			grep -A40 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$BRIDGE_LOG" | head -80 >&2
			bridge_cleanup_failed=1
		fi
		if [ -n "${bridge_cleanup_failed:-}" ]; then
			echo "--- last lines of $BRIDGE_LOG ---" >&2
			tail -n 20 "$BRIDGE_LOG" >&2
		fi
	fi
	hostsvc_stop
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	hostbus_stop
	for p in "${ORPHANS[@]}"; do
		pid_alive "$p" && leftovers+=" $p"
	done
	# Anything else that names the test's directory (nsbusd is lib.sh's to stop).
	local args
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		case " $$ $BASHPID ${BUS_PID:-x} ${BG_PIDS[*]} " in *" $p "*) continue ;; esac
		mapfile -d "" args 2>/dev/null <"/proc/$p/cmdline" || continue
		[[ "${args[*]}" == *"$TMP"* ]] && pid_alive "$p" && leftovers+=" $p(${args[0]})"
	done
	if [ -n "$leftovers" ]; then
		echo "$TEST_NAME: FAIL: processes left behind:$leftovers" >&2
		bridge_cleanup_failed=1
	fi
}
trap 'ctr_cleanup; bridge_cleanup; cleanup; [ -z "${ctr_cleanup_failed:-}${bridge_cleanup_failed:-}" ] || exit 1' EXIT
