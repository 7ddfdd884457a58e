#!/bin/bash
# `nsbusctl up` against Debian's stock system bus gives a working bridge with no manual step, and says
# what is wrong, and how to fix it, when it may not add the user the bus needs:
# - the host bus is dbus-daemon reading /usr/share/dbus-1/system.conf itself, through a wrapper config
#   that includes it and adds one <includedir> for the test's own host service (it may own
#   org.example.Stock and be called, as a service's file in /etc/dbus-1/system.d would allow; the bridge
#   needs nothing there).  --address replaces <listen>, --nopidfile the pidfile, as Debian's
#   dbus.service does; the bus drops to messagebus and reads this host's /etc/passwd;
# - before up, uid 100000 (the container's root) has no passwd entry and that bus drops its connection;
# - `up c1 --pid=INIT --policy=FILE` (import talk org.example.Stock) says on stderr that it added the
#   system user nsbus-100000, and a client inside the container, as its root, calls org.example.Stock
#   on the host through the bridge;
# - after `down`, `userdel -f` and ReloadConfig (which empties dbus-daemon's user cache), `up --add-user=no`
#   still brings the bus up, but `ls --json` reports the bridge "refused" with bridge_error set, the log
#   has nsbridge's line with the fix ("Fix: add one ... useradd ..."), and the supervisor does not
#   restart the bridge (bridge_pid 0 and bridge_restarts 0 for 3 s).
# The test adds and removes a user in /etc/passwd (RESOURCE_LOCK etc-passwd in CMakeLists.txt), and
# removes it at exit, also when it fails.  It skips when uid 100000 or the name nsbus-100000 already has
# an entry here: a host that names the uid is not what it is about.
HOSTBUS=dbus-daemon # lib-bridge.sh's default; the stock system bus here is dbus-daemon's
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need
[ -x "${NSBUSCTL:-}" ] || skip "nsbusctl not built"
need useradd userdel getent
STOCK_CONF=/usr/share/dbus-1/system.conf
[ -f "$STOCK_CONF" ] || skip "no stock system bus config $STOCK_CONF"
getent passwd messagebus >/dev/null || skip "no messagebus user (the stock system bus runs as it)"
ROOT_UID=100000 # the container's root on the host: nsrun maps 0 100000 65536
USER_NAME=nsbus-$ROOT_UID
[ -z "$(getent passwd "$ROOT_UID")" ] || skip "uid $ROOT_UID already has a passwd entry on this host"
[ -z "$(getent passwd "$USER_NAME")" ] || skip "user $USER_NAME already exists on this host"
export NSBUS_NSBUSD=$NSBUSD NSBUS_NSBRIDGE=$NSBRIDGE
UP_LOG=$TMP/up.log
BRIDGE_LOG=$UP_LOG # what fail() shows: the bus, the bridge and the supervisor all write there
# The stock bus, at an address of the test's own; hostbus_call, hostsvc_start and fail() of lib-bridge.sh
# use these.
HOSTBUS_DIR=$TMP/sysbus
HOSTBUS_SOCK=$HOSTBUS_DIR/sock
HOSTBUS_ADDR=unix:path=$HOSTBUS_SOCK
HOSTBUS_N=1 # its log: $TMP/hostbus.1.log

ctl() { t "$NSBUSCTL" --runtime-dir="$CTR_RT" "$@"; }
state() { "$PY" -c 'import json, sys; s = json.load(sys.stdin); print(s[sys.argv[1]])' "$1"; }

# The supervisor and what it runs are stopped by `down` even when the test fails half-way; the user goes
# once nothing runs as its uid any more (the containers' processes do, on the host).
at_exit() {
	[ -d "$CTR_RT/$CTR_NAME" ] && timeout -k 2 30 "$NSBUSCTL" --runtime-dir="$CTR_RT" down "$CTR_NAME" >/dev/null 2>&1
	ctr_cleanup
	if [ -n "${USER_MAY_BE_OURS:-}" ] && [ "$(getent passwd "$USER_NAME" | cut -d: -f3)" = "$ROOT_UID" ]; then
		if ! userdel "$USER_NAME" 2>"$TMP/userdel.err"; then
			echo "$TEST_NAME: FAIL: userdel $USER_NAME at exit: $(cat "$TMP/userdel.err") (removed with -f)" >&2
			userdel -f "$USER_NAME"
			bridge_cleanup_failed=1
		fi
	fi
	bridge_cleanup # stops the host service and the bus by pid, and looks for anything left
	cleanup
	[ -z "${ctr_cleanup_failed:-}${bridge_cleanup_failed:-}" ] || exit 1
}
trap at_exit EXIT

# The stock system bus: the distribution's file, read where it is (its relative <includedir>system.d
# and the host's /etc/dbus-1/system.d come with it), and one private <includedir> after it.
mkdir -p "$HOSTBUS_DIR/system.d"
chmod 755 "$HOSTBUS_DIR" "$HOSTBUS_DIR/system.d"
cat >"$HOSTBUS_DIR/system.conf" <<-EOF
	<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
	 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
	<busconfig>
	  <include>$STOCK_CONF</include>
	  <includedir>$HOSTBUS_DIR/system.d</includedir>
	</busconfig>
EOF
# Only for the test's host service, as its package would ship it: root may own org.example.Stock and
# anyone may call it (the stock default denies both).
cat >"$HOSTBUS_DIR/system.d/org.example.Stock.conf" <<-EOF
	<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
	 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
	<busconfig>
	  <policy user="root">
	    <allow own="org.example.Stock"/>
	  </policy>
	  <policy context="default">
	    <allow send_destination="org.example.Stock"/>
	  </policy>
	</busconfig>
EOF
: >"$TMP/sysbus.addr"
dbus-daemon --config-file="$HOSTBUS_DIR/system.conf" --address="$HOSTBUS_ADDR" --nofork --nopidfile \
	--print-address=3 3>"$TMP/sysbus.addr" >"$TMP/hostbus.1.log" 2>&1 &
HOSTBUS_PID=$!
for i in $(seq 1 100); do
	[ "$(wc -l <"$TMP/sysbus.addr")" -ge 1 ] && break
	pid_alive "$HOSTBUS_PID" || fail "the stock system bus exited during startup: $(cat "$TMP/hostbus.1.log")"
	sleep 0.05
done
[ -S "$HOSTBUS_SOCK" ] || fail "the stock system bus made no socket $HOSTBUS_SOCK within 5 s"
chmod 666 "$HOSTBUS_SOCK"
out=$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId) ||
	fail "the stock system bus does not answer GetId: $out"
expect_eq "the bus runs as messagebus" "$(ps -o user= -p "$HOSTBUS_PID" | tr -d ' ')" messagebus
log "stock system bus pid $HOSTBUS_PID at $HOSTBUS_ADDR"
# It is the stock policy: nobody may own just any name (the test's service is allowed one).
out=$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName \
	string:org.example.Unlisted uint32:4 2>&1) && fail "the stock policy let root own org.example.Unlisted: $out"
expect_match "the stock policy denies owning names" "$out" "AccessDenied"
# And that bus drops uid 100000 while it has no passwd entry: what up has to fix.
out=$(TMO=10 t setpriv --reuid="$ROOT_UID" --regid="$ROOT_UID" --clear-groups \
	dbus-send --bus="$HOSTBUS_ADDR" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
	org.freedesktop.DBus.GetId 2>&1) && fail "the stock system bus let in uid $ROOT_UID without a passwd entry: $out"

hostsvc_start org.example.Stock
ctr_start C1
POLICY=$TMP/$CTR_NAME.policy
echo "import talk org.example.Stock" >"$POLICY"
mkdir -p "$CTR_RT"

# Part 1: up adds the user, and the bridge works.
[ -z "$(getent passwd "$ROOT_UID")" ] || fail "uid $ROOT_UID got a passwd entry while the test set up"
USER_MAY_BE_OURS=1 # from here on, an nsbus-100000 with uid 100000 is the test's (up adds it): removed at exit
out=$(ctl up "$CTR_NAME" --pid="$C1" --policy="$POLICY" --host-bus="$HOSTBUS_ADDR" --log="$UP_LOG" \
	2>"$TMP/up.err") || fail "nsbusctl up: $(cat "$TMP/up.err")"
expect_eq "up prints the container's socket" "$out" "$CTR_RT/$CTR_NAME/bus/system_bus_socket"
expect_match "up says it added the user" "$(cat "$TMP/up.err")" "added system user $USER_NAME "
expect_match "the user up added" "$(getent passwd "$ROOT_UID")" "^$USER_NAME:x:$ROOT_UID:"
t nsenter -t "$C1" -m -- mount --no-mtab --bind "$CTR_RT/$CTR_NAME/bus" /run/dbus ||
	fail "bind-mounting the bus directory at /run/dbus in the container failed"
end=$((SECONDS + 15))
until ctr_has_owner "$C1" org.example.Stock; do
	[ "$SECONDS" -lt "$end" ] ||
		fail "org.example.Stock not owned inside within 15 s; ls: $(ctl ls "$CTR_NAME" --json=short 2>&1)"
	sleep 0.1
done
out=$(TMO=10 ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.example.Stock \
	/org/example/Stock org.example.Stock.Get 2>&1) || fail "calling org.example.Stock from inside: $out"
expect_eq "org.example.Stock answers inside" "$(words "$out")" "org.example.Stock:/org/example/Stock"
js=$(ctl ls "$CTR_NAME" --json=short) || fail "nsbusctl ls: $js"
expect_eq "ls: the bridge" "$(state bridge <<<"$js")/$(state bridge_restarts <<<"$js")" "running/0"
out=$(ctl down "$CTR_NAME" 2>&1) || fail "nsbusctl down: $out"

# Part 2: without the user, and told not to add it, up reports the bridge refused, with the fix.
# -f: the container's init runs as uid 100000 on the host, and userdel refuses a user with a process.
out=$(userdel -f "$USER_NAME" 2>&1) || fail "userdel -f $USER_NAME: $out"
[ -z "$(getent passwd "$ROOT_UID")" ] || fail "uid $ROOT_UID still has an entry after userdel"
out=$(hostbus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.ReloadConfig 2>&1) ||
	fail "ReloadConfig on the stock system bus: $out"
out=$(ctl up "$CTR_NAME" --pid="$C1" --policy="$POLICY" --host-bus="$HOSTBUS_ADDR" --log="$UP_LOG" \
	--add-user=no 2>"$TMP/up2.err") || fail "nsbusctl up --add-user=no: $(cat "$TMP/up2.err")"
expect_eq "up --add-user=no prints the socket" "$out" "$CTR_RT/$CTR_NAME/bus/system_bus_socket"
expect_no_match "up --add-user=no adds no user" "$(cat "$TMP/up2.err")" "added system user"
[ -z "$(getent passwd "$ROOT_UID")" ] || fail "up --add-user=no added an entry for uid $ROOT_UID"
end=$((SECONDS + 15))
while :; do
	js=$(ctl ls "$CTR_NAME" --json=short) || fail "nsbusctl ls: $js"
	[ "$(state bridge <<<"$js")" = refused ] && break
	[ "$SECONDS" -lt "$end" ] || fail "the bridge is not reported refused within 15 s: $js"
	sleep 0.1
done
expect_match "ls --json: bridge_error" "$(state bridge_error <<<"$js")" "refused"
expect_match "ls: the row" "$(ctl ls)" "^$CTR_NAME +$C1 +[0-9]+ +0 +up/refused "
line=$(grep -F "refused uid $ROOT_UID" "$UP_LOG") || fail "nsbridge logged no 'refused uid $ROOT_UID' line"
expect_match "nsbridge's line names the cause" "$line" "^nsbridge\[$CTR_NAME\]: .*no entry in it"
expect_match "nsbridge's line gives the fix" "$line" "Fix: add one.*useradd .*--uid $ROOT_UID .*$USER_NAME"
expect_match "the supervisor says it waits" "$(cat "$UP_LOG")" "not restarting it until .nsbusctl reload $CTR_NAME."
end=$((SECONDS + 3))
while [ "$SECONDS" -lt "$end" ]; do
	js=$(ctl ls "$CTR_NAME" --json=short) || fail "nsbusctl ls: $js"
	expect_eq "the refused bridge stays down (bridge/pid/restarts)" \
		"$(state bridge <<<"$js")/$(state bridge_pid <<<"$js")/$(state bridge_restarts <<<"$js")" "refused/0/0"
	sleep 0.2
done
expect_eq "nsbridge ran once" "$(grep -c "refused uid $ROOT_UID" "$UP_LOG")" 1
out=$(ctl down "$CTR_NAME" 2>&1) || fail "nsbusctl down: $out"
[ -e "$CTR_RT/$CTR_NAME" ] && fail "down left $CTR_RT/$CTR_NAME"
pid_alive "$HOSTBUS_PID" || fail "the stock system bus died during the test"
echo "$TEST_NAME: PASS"
