#!/bin/bash
# Bus activation from <servicedir>: ListActivatableNames, auto-start on a method
# call, StartServiceByName (SUCCESS / ALREADY_RUNNING), the environment an activated
# service gets (UpdateActivationEnvironment, DBUS_STARTER_*), the errors for a
# service that exits, cannot be executed, or never takes its name, and new service
# files picked up by ReloadConfig (with ActivatableServicesChanged), and timeouts that stay in
# deadline order when a reload shortens service_start_timeout.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

SD=$TMP/services
mkdir -p "$SD"
svc() { # svc NAME [Exec line]
	{
		echo '[D-BUS Service]'
		echo "Name=$1"
		[ $# -gt 1 ] && echo "Exec=$2"
	} >"$SD/$1.service"
}
svc com.example.Activated "$PY $IT_DIR/service.py --name com.example.Activated"
svc com.example.Exits /bin/false
svc com.example.NoBinary /nonexistent/nsbus-no-such-binary
svc com.example.Silent "/bin/sleep 30"
svc com.example.NoExec # invalid: no Exec line, must be ignored
bus_write_config "<servicedir>$SD</servicedir>" '<limit name="service_start_timeout">2000</limit>'
bus_start

drv() { t dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus "$@"; }
expect_error() { # expect_error WHAT ERROR-ERE CMD...
	local what=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1) && fail "$what: succeeded: $out"
	expect_match "$what" "$out" "^Error $want"
}

out=$(drv org.freedesktop.DBus.ListActivatableNames) || fail "ListActivatableNames failed"
for n in org.freedesktop.DBus com.example.Activated com.example.Exits com.example.NoBinary com.example.Silent; do
	expect_match "ListActivatableNames" "$out" "(^| )$n( |$)"
done
expect_no_match "ListActivatableNames (file without Exec)" "$out" 'com\.example\.NoExec'
name_has_owner com.example.Activated && fail "com.example.Activated runs before anyone asked for it"

# The activation environment: set a variable first (only on the canonical path).
out=$(t dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
	org.freedesktop.DBus.UpdateActivationEnvironment dict:string:string:NSBUS_X,one 2>&1) &&
	fail "UpdateActivationEnvironment on / succeeded"
expect_match "UpdateActivationEnvironment on /" "$out" "^Error org\.freedesktop\.DBus\.Error\.AccessDenied: Method 'UpdateActivationEnvironment' is only available at the canonical object path '/org/freedesktop/DBus'"
drv org.freedesktop.DBus.UpdateActivationEnvironment dict:string:string:NSBUS_ACTIVATION_VAR,hello-env ||
	fail "UpdateActivationEnvironment failed"

# Auto-start: a method call to the activatable name starts it and is delivered.
out=$(t dbus-send --session --print-reply=literal --dest=com.example.Activated /org/nsbus/Test \
	org.nsbus.Test.Sum int32:40 int32:2) || fail "auto-started call failed"
expect_eq "auto-started call" "$(echo $out)" "int32 42"
name_has_owner com.example.Activated || fail "com.example.Activated not running after auto-start"
getenv() {
	t dbus-send --session --print-reply=literal --dest=com.example.Activated /org/nsbus/Test \
		org.nsbus.Test.GetEnv "string:$1" | sed 's/^ *//'
}
expect_eq "activation environment variable" "$(getenv NSBUS_ACTIVATION_VAR)" "hello-env"
expect_eq "DBUS_STARTER_BUS_TYPE" "$(getenv DBUS_STARTER_BUS_TYPE)" "session"
expect_eq "DBUS_STARTER_ADDRESS" "$(getenv DBUS_STARTER_ADDRESS)" "$ADDR"
expect_eq "DBUS_SESSION_BUS_ADDRESS" "$(getenv DBUS_SESSION_BUS_ADDRESS)" "$ADDR"
pid=$(t dbus-send --session --print-reply=literal --dest=com.example.Activated /org/nsbus/Test org.nsbus.Test.Pid |
	awk '{print $2}')
[ -n "$pid" ] && kill -0 "$pid" || fail "no pid for the activated service"
BG_PIDS+=("$pid")

# StartServiceByName: already running -> 2; after it quits -> 1 (started).
out=$(drv org.freedesktop.DBus.StartServiceByName string:com.example.Activated uint32:0) || fail "StartServiceByName failed"
expect_eq "StartServiceByName(running)" "$(echo $out)" "uint32 2"
t dbus-send --session --print-reply --dest=com.example.Activated /org/nsbus/Test org.nsbus.Test.Quit >/dev/null
wait_for_name_gone com.example.Activated
out=$(drv org.freedesktop.DBus.StartServiceByName string:com.example.Activated uint32:0) || fail "StartServiceByName failed"
expect_eq "StartServiceByName(not running)" "$(echo $out)" "uint32 1"
name_has_owner com.example.Activated || fail "StartServiceByName returned before the name was owned"
newpid=$(t dbus-send --session --print-reply=literal --dest=com.example.Activated /org/nsbus/Test org.nsbus.Test.Pid |
	awk '{print $2}')
BG_PIDS+=("$newpid")
[ "$newpid" != "$pid" ] || fail "StartServiceByName did not start a new process"

# Failures.
expect_error "activating a service that exits" \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ChildExited: Process com\.example\.Exits exited with status 1" \
	t dbus-send --session --print-reply --dest=com.example.Exits /x com.example.X.Y
expect_error "StartServiceByName of a service that exits" "org\.freedesktop\.DBus\.Error\.Spawn\.ChildExited: " \
	drv org.freedesktop.DBus.StartServiceByName string:com.example.Exits uint32:0
expect_error "activating a missing binary" \
	"org\.freedesktop\.DBus\.Error\.Spawn\.ExecFailed: Failed to execute program com\.example\.NoBinary: No such file or directory" \
	t dbus-send --session --print-reply --dest=com.example.NoBinary /x com.example.X.Y
start=$(date +%s)
expect_error "activating a service that never takes its name" \
	"org\.freedesktop\.DBus\.Error\.TimedOut: " \
	t dbus-send --session --print-reply --dest=com.example.Silent /x com.example.X.Y
elapsed=$(($(date +%s) - start))
[ "$elapsed" -le 10 ] || fail "service_start_timeout of 2 s took ${elapsed}s"
expect_error "activating an invalid service file" "org\.freedesktop\.DBus\.Error\.ServiceUnknown: " \
	t dbus-send --session --print-reply --dest=com.example.NoExec /x com.example.X.Y
expect_error "StartServiceByName(unknown)" \
	"org\.freedesktop\.DBus\.Error\.ServiceUnknown: The name com\.example\.Unknown was not provided by any \.service files" \
	drv org.freedesktop.DBus.StartServiceByName string:com.example.Unknown uint32:0

# A new service file is picked up by ReloadConfig, which says so with a signal.
spawn $PY "$IT_DIR/listen.py" --count 1 --timeout 15 \
	--match "type='signal',sender='org.freedesktop.DBus',member='ActivatableServicesChanged'" >"$TMP/listen.out"
LISTEN_PID=${BG_PIDS[-1]}
wait_for_file "$TMP/listen.out" '^ready ' 10 || fail "listener did not start"
svc com.example.Added "$PY $IT_DIR/service.py --name com.example.Added"
drv org.freedesktop.DBus.ReloadConfig >/dev/null || fail "ReloadConfig failed"
wait "$LISTEN_PID"
expect_eq "ActivatableServicesChanged received" "$?" 0
expect_match "ActivatableServicesChanged" "$(cat "$TMP/listen.out")" \
	'^signal org\.freedesktop\.DBus /org/freedesktop/DBus org\.freedesktop\.DBus\.ActivatableServicesChanged \[\]$'
out=$(drv org.freedesktop.DBus.ListActivatableNames) || fail "ListActivatableNames failed"
expect_match "ListActivatableNames after ReloadConfig" "$out" '(^| )com\.example\.Added( |$)'
out=$(t dbus-send --session --print-reply=literal --dest=com.example.Added /org/nsbus/Test \
	org.nsbus.Test.Sum int32:1 int32:1) || fail "activating the added service failed"
expect_eq "added service" "$(echo $out)" "int32 2"
addpid=$(t dbus-send --session --print-reply=literal --dest=com.example.Added /org/nsbus/Test org.nsbus.Test.Pid |
	awk '{print $2}')
BG_PIDS+=("$addpid")

# Pending activations time out in deadline order even when a reload shortens service_start_timeout:
# one started after the reload fails first, and one started before keeps its longer deadline.
ms() { echo $(($(date +%s%N) / 1000000)); }
bus_write_config "<servicedir>$SD</servicedir>" '<limit name="service_start_timeout">8000</limit>'
drv org.freedesktop.DBus.ReloadConfig >/dev/null || fail "ReloadConfig (8 s timeout) failed"
slow_start=$(ms)
spawn bash -c "dbus-send --session --print-reply --reply-timeout=30000 --dest=com.example.Silent /x com.example.X.Y \
	>'$TMP/slow.out' 2>&1; echo \"done \$((\$(date +%s%N) / 1000000))\" >>'$TMP/slow.out'"
sleep 0.5
svc com.example.Silent2 "/bin/sleep 30"
bus_write_config "<servicedir>$SD</servicedir>" '<limit name="service_start_timeout">1000</limit>'
drv org.freedesktop.DBus.ReloadConfig >/dev/null || fail "ReloadConfig (1 s timeout) failed"
start=$(ms)
expect_error "activation started after the timeout was shortened" "org\.freedesktop\.DBus\.Error\.TimedOut: " \
	t dbus-send --session --print-reply --dest=com.example.Silent2 /x com.example.X.Y
elapsed=$(($(ms) - start))
[ "$elapsed" -le 4000 ] || fail "a 1 s service_start_timeout took ${elapsed} ms behind an older 8 s one"
grep -q '^done' "$TMP/slow.out" && fail "the activation under the 8 s timeout ended early: $(cat "$TMP/slow.out")"
wait_for_file "$TMP/slow.out" '^done ' 20 || fail "the activation under the 8 s timeout never ended"
expect_match "activation under the older timeout" "$(cat "$TMP/slow.out")" \
	'^Error org\.freedesktop\.DBus\.Error\.TimedOut: '
slow_elapsed=$(($(awk '/^done/ {print $2}' "$TMP/slow.out") - slow_start))
[ "$slow_elapsed" -ge 7000 ] || fail "an 8 s service_start_timeout fired after ${slow_elapsed} ms"

pass
