#!/bin/bash
# nsbridge gives each container caller a connection of its own to the host bus ($HOSTBUS), all charged
# to the container's mapped root (uid 100000).  Before the fix there was no bound: 255 connections from
# one container made nsbridge open 254 connections to the host bus, which a system bus counts against
# one uid.  Now a container gets at most --max-host-links of them (3 here): at the bound the least
# recently used idle one is closed and its caller gets a new one (a new unique name on the host) when it
# calls again, and a caller finding every one of them with a call in flight gets
#     org.freedesktop.DBus.Error.LimitsExceeded: All 3 of this container's connections to the host bus
#     have calls in flight (nsbridge --max-host-links); try again later
# A watcher on the host bus follows the connections of uid 100000 (NameOwnerChanged, then
# GetConnectionUnixUser): the bridge's own is there from the start, the callers' links come on top of it.
# Whenever one is announced it also counts the bridge's sockets connected to the host bus.
# (a) 20 container connections, all kept open, call org.example.Host in turn: every call is answered,
# each new caller through a fresh link, and after each call the callers' links on the host bus are
# exactly the 3 most recently used (a caller that calls again keeps its link; the least recently used
# one goes, not the oldest).  (b) 3 callers keep Slow calls in flight: a new connection, one of the 20
# whose link was recycled, and container root all get LimitsExceeded; once the slow calls are answered,
# callers get through again.  40 connections calling at once: each call is answered or refused with
# LimitsExceeded.  (c) After all that, container root's permitted call goes through.  The bridge never
# held more than its own and 3 callers' connections to the host bus, and reached that.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need
need ss

MAX=3
LIMITS="org.freedesktop.DBus.Error.LimitsExceeded: All $MAX of this container's connections to the host bus have calls in flight (nsbridge --max-host-links); try again later"

# bridge_fixture, with the bound.
hostbus_start
hostsvc_start "${HOSTSVC_NAMES[@]}"
ctr_start C1
bridge_write_policy
ctr_bus_start "$C1" --policy="$BRIDGE_POLICY"
bridge_start --max-host-links="$MAX"
bridge_wait_name "$C1" org.example.Host

# The watcher follows the host bus's connections of uid 100000 (NameOwnerChanged, then
# GetConnectionUnixUser; one that is gone before it can be asked counts too: nothing but the bridge
# connects there as anyone but root).  $TMP/links.state has the ones there now (names=) and the most
# there were at once (max=).  A host bus may announce a recycled link's successor before it has
# processed the recycled one's hang-up (dbus-broker mostly does), so that count may show one more for a
# moment; what the bridge really holds is counted too, whenever a connection is announced: the sockets
# of the bridge's process connected to the host bus's socket (kmax=, from /proc/PID/fd and ss).
# $TMP/links.state.events: +NAME COUNT k=BRIDGE'S-SOCKETS, -NAME COUNT.
cat >"$TMP/links_watch.py" <<'PY'
import os
import subprocess
import sys

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

address, state, uid, bridge_pid, host_sock = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)
drv = dbus.Interface(bus.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus', introspect=False),
                     'org.freedesktop.DBus')
names, most = set(), {'max': 0, 'kmax': 0}
events = open(state + '.events', 'w')


def bridge_sockets():
    """How many of the bridge's sockets are connected to the host bus's socket now."""
    mine = set()
    for fd in os.listdir('/proc/%s/fd' % bridge_pid):
        try:
            target = os.readlink('/proc/%s/fd/%s' % (bridge_pid, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            mine.add(target[8:-1])
    # ss -x: Netid State Recv-Q Send-Q LocalPath LocalInode PeerPath PeerInode; the bus's end of each
    # connection has the socket's path, the peer inode is the client's end.
    peers = set()
    out = subprocess.run(['ss', '-xnH'], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[4] == host_sock:
            peers.add(f[7])
    return len(mine & peers)


def write():
    most['max'] = max(most['max'], len(names))
    with open(state + '.tmp', 'w') as f:
        f.write('count=%d\nmax=%d\nkmax=%d\nnames=%s\n' % (len(names), most['max'], most['kmax'],
                                                         ' '.join(sorted(names))))
    os.rename(state + '.tmp', state)


def consider(name):
    try:
        if drv.GetConnectionUnixUser(name) != uid:
            return None
    except dbus.DBusException:
        names.add(name)
        return ' (gone before its uid was asked)'
    names.add(name)
    return ''


def changed(name, old, new):
    if not name.startswith(':'):
        return
    if new and not old:
        note = consider(name)
        if note is not None:
            k = bridge_sockets()
            most['kmax'] = max(most['kmax'], k)
            events.write('+%s %d k=%d%s\n' % (name, len(names), k, note))
    elif old and not new and name in names:
        names.discard(name)
        events.write('-%s %d\n' % (name, len(names)))
    events.flush()
    write()


bus.add_signal_receiver(changed, 'NameOwnerChanged', 'org.freedesktop.DBus', 'org.freedesktop.DBus',
                        '/org/freedesktop/DBus')
for n in drv.ListNames():
    if n.startswith(':'):
        consider(n)
most['kmax'] = bridge_sockets()
write()
GLib.MainLoop().run()
PY
spawn "$PY" "$TMP/links_watch.py" "$HOSTBUS_ADDR" "$TMP/links.state" 100000 "$BRIDGE_PID" "$HOSTBUS_SOCK" \
	2>"$TMP/links_watch.err"
wait_for_file "$TMP/links.state" '^names=' 10 || fail "the watcher did not start: $(cat "$TMP/links_watch.err")"
BASE=$(kv names "$(cat "$TMP/links.state")")
bridge_host=$(sed -n "s/^nsbridge\[$CTR_NAME\]: ready: host bus as \(:[0-9.]*\),.*/\1/p" "$BRIDGE_LOG")
expect_eq "uid 100000's connections to the host bus before any call: the bridge's own" "$BASE" "$bridge_host"
expect_eq "the bridge's sockets connected to the host bus before any call" \
	"$(kv kmax "$(cat "$TMP/links.state")")" 1

# The callers' links on the host bus now: uid 100000's connections but the bridge's own, sorted.
caller_links() {
	local n out=()
	for n in $(kv names "$(cat "$TMP/links.state")"); do
		case " $BASE " in *" $n "*) ;; *) out+=("$n") ;; esac
	done
	printf '%s\n' "${out[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# expect_links WHAT NAME...: the callers' links become exactly these (within 5 s).
expect_links() {
	local what=$1 want i
	shift
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//')
	for i in $(seq 1 100); do
		[ "$(caller_links)" = "$want" ] && return 0
		sleep 0.05
	done
	fail "$what: the callers' links to the host bus are '$(caller_links)', expected '$want' (watcher: $(tail -n 8 "$TMP/links.state.events" | tr '\n' ';'))"
}
# expect_bound WHAT: whenever the host bus announced a connection of uid 100000, the bridge held no more
# than its own and MAX callers' connections to it.
expect_bound() {
	local st
	st=$(cat "$TMP/links.state")
	[ "$(kv kmax "$st")" -le $((MAX + 1)) ] ||
		fail "$1: the bridge held $(kv kmax "$st") connections to the host bus at once: its own and $(($(kv kmax "$st") - 1)) callers' (bound $MAX): $(grep -E " k=([5-9]|[1-9][0-9])" "$TMP/links.state.events" | head -n 5 | tr '\n' ';')"
}

# The pool: container connections as uid 1000, kept open, each calling when told (through a fifo; not
# its stdin, which bash gives a background job from a function as /dev/null).
cat >"$TMP/pool.py" <<'PY'
import sys

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

DBusGMainLoop(set_as_default=True)
address, commands = sys.argv[1], open(sys.argv[2])
conns = {}


def say(key, value):
    print('%s=%s' % (key, value), flush=True)


def who(conn):
    sender, uid, _ = conn.call_blocking('org.example.Host', '/org/example/Host', 'org.example.Host', 'WhoAmI',
                                       '', (), timeout=15)
    return '%s %s' % (sender, uid)


for line in iter(commands.readline, ''):
    words = line.split()
    if not words:
        continue
    cmd, tag, args = words[0], words[1], words[2:]
    if cmd == 'open':  # open TAG ID...
        for i in args:
            conns[i] = dbus.bus.BusConnection(address)
        say(tag, len(conns))
    elif cmd == 'call':  # call TAG ID: WhoAmI from connection ID, "sender uid" or ERROR:name message
        try:
            say(tag, who(conns[args[0]]))
        except dbus.DBusException as e:
            say(tag, 'ERROR:%s: %s' % (e.get_dbus_name(), e.get_dbus_message()))
    elif cmd == 'flood':  # flood TAG K: K new connections call EchoString at once; how they fared
        new = [dbus.bus.BusConnection(address) for _ in range(int(args[0]))]
        loop, res = GLib.MainLoop(), []

        def done(value):
            res.append(value)
            if len(res) == len(new):
                loop.quit()
        for k, c in enumerate(new):
            c.call_async('org.example.Host', '/org/example/Host', 'org.example.Host', 'EchoString', 's',
                         ('flood %d' % k,), lambda v, k=k: done('ok' if v == 'flood %d' % k else 'wrong:' + v),
                         lambda e: done(e.get_dbus_name()), timeout=15)
        GLib.timeout_add(18000, loop.quit)
        loop.run()
        conns.update(('flood%d' % k, c) for k, c in enumerate(new))  # they stay connected
        say(tag + '.ok', res.count('ok'))
        say(tag + '.limits', res.count('org.freedesktop.DBus.Error.LimitsExceeded'))
        say(tag + '.other', ','.join(r for r in res if r not in ('ok', 'org.freedesktop.DBus.Error.LimitsExceeded')))
        say(tag, len(res))
PY
mkfifo -m 0666 "$TMP/pool.in"
exec {POOL}<>"$TMP/pool.in"
ctr_spawn "$C1" 1000 1000 /usr/bin/python3 "$TMP/pool.py" "$CTR_ADDR" "$TMP/pool.in" >"$TMP/pool.out" 2>"$TMP/pool.err"
# pool CMD TAG ARGS...: the pool's answer for TAG (its whole value) in $res.
pool() {
	local tag=$2
	echo "$*" >&"$POOL"
	wait_for_file "$TMP/pool.out" "^${tag//./\\.}=" 30 ||
		fail "the pool did not answer '$*': $(tail -n 5 "$TMP/pool.out") $(cat "$TMP/pool.err")"
	res=$(kv "$tag" "$(cat "$TMP/pool.out")")
}

# (a) 20 connections; connecting alone opens nothing on the host bus.
pool open opened $(seq 1 20)
expect_eq "connections in the pool" "$res" 20
sleep 0.3
expect_links "20 container connections that have not called" # none
declare -A S
for i in $(seq 1 20); do
	pool call "r1.$i" "$i"
	expect_match "caller $i's first call (WhoAmI)" "$res" '^:[0-9]+\.[0-9]+ 100000$'
	S[$i]=${res% *}
	for j in $(seq 1 $((i - 1))); do
		[ "${S[$j]}" != "${S[$i]}" ] || fail "caller $i got caller $j's host link ${S[$j]}"
	done
	want=()
	for j in $(seq $((i > MAX ? i - MAX + 1 : 1)) "$i"); do
		want+=("${S[$j]}")
	done
	expect_links "after caller $i's first call" "${want[@]}"
done
expect_bound "20 callers in turn"
log "20 callers in turn: each answered through a fresh link; the host bus kept the last $MAX: ${want[*]}"

# A caller that calls again keeps its link; the least recently used one (19) goes, not the oldest (18).
pool call r2.20 20
expect_eq "caller 20 calls again: its name on the host bus" "${res% *}" "${S[20]}"
pool call r2.18 18
expect_eq "caller 18 calls again: its name on the host bus" "${res% *}" "${S[18]}"
expect_links "after callers 20 and 18 called again" "${S[18]}" "${S[19]}" "${S[20]}"
pool call r2.1 1
expect_match "caller 1 calls again (its link was recycled)" "$res" '^:[0-9]+\.[0-9]+ 100000$'
s1=${res% *}
[ "$s1" != "${S[1]}" ] || fail "caller 1's recycled link ${S[1]} came back"
expect_links "after caller 1 called again (the LRU link, caller 19's, recycled)" "${S[18]}" "${S[20]}" "$s1"
expect_bound "callers calling again"
log "callers calling again: 20 and 18 kept their links, 1 got a new one ($s1) and 19's (LRU) went"

# (b) 3 holders keep Slow calls in flight, one sent every 0.5 s until told to stop.
cat >"$TMP/hold.py" <<'PY'
import os
import sys

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

address, stop = sys.argv[1], sys.argv[2]
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)
loop = GLib.MainLoop()
st = {'sent': 0, 'ok': 0, 'failed': [], 'stopping': False}


def answered(ok, what=None):
    if ok:
        st['ok'] += 1
    else:
        st['failed'].append(what)
    if st['stopping'] and st['ok'] + len(st['failed']) == st['sent']:
        loop.quit()


def slow():
    if os.path.exists(stop):
        st['stopping'] = True
        if st['ok'] + len(st['failed']) == st['sent']:
            loop.quit()
        return False
    st['sent'] += 1
    bus.call_async('org.example.Host', '/org/example/Host', 'org.example.Host', 'Slow', 's', ('held',),
                   lambda v: answered(v == 'held', 'wrong:' + v), lambda e: answered(False, e.get_dbus_name()),
                   timeout=10)
    return True


slow()
# The WhoAmI answer comes back on the same link after Slow went out: from here on a Slow is in flight.
sender = bus.call_blocking('org.example.Host', '/org/example/Host', 'org.example.Host', 'WhoAmI', '', (),
                           timeout=10)[0]
print('busy=%s' % sender, flush=True)
GLib.timeout_add(500, slow)
GLib.timeout_add(30000, loop.quit)
loop.run()
print('sent=%d' % st['sent'], flush=True)
print('ok=%d' % st['ok'], flush=True)
print('failed=%s' % ','.join(st['failed']), flush=True)
PY
holders=()
for h in 1 2 3; do
	ctr_spawn "$C1" 1000 1000 /usr/bin/python3 "$TMP/hold.py" "$CTR_ADDR" "$CTR_DIR/stop" \
		>"$TMP/hold.$h.out" 2>"$TMP/hold.$h.err"
done
for h in 1 2 3; do
	wait_for_file "$TMP/hold.$h.out" '^busy=' 20 ||
		fail "holder $h got no call through: $(cat "$TMP/hold.$h.out" "$TMP/hold.$h.err")"
	holders+=("$(kv busy "$(cat "$TMP/hold.$h.out")")")
done
expect_links "3 callers with Slow calls in flight" "${holders[@]}"

# A fourth caller, a new connection (dbus-send, to the name): refused while every link is busy.
out=$(ctr_exec "$C1" 1000 1000 dbus-send --system --print-reply=literal --dest=org.example.Host \
	/org/example/Host org.example.Host.EchoString string:"a fourth caller" 2>&1) &&
	fail "a fourth caller's call went through while $MAX callers had calls in flight: $out"
expect_eq "a fourth caller (a new connection) while $MAX links are busy" "$(words "$out")" "Error $(words "$LIMITS")"
# One of the 20 whose link was recycled: the same.
pool call busy.5 5
expect_eq "caller 5 (link recycled) while $MAX links are busy" "$res" "ERROR:$LIMITS"
# Root inside is a caller like any other: the bound is the container's.
out=$(ctr_exec "$C1" 0 0 dbus-send --system --print-reply=literal --dest=org.example.Host \
	/org/example/Host org.example.Host.EchoString string:"root" 2>&1) &&
	fail "container root's call went through while $MAX callers had calls in flight: $out"
expect_eq "container root while $MAX links are busy" "$(words "$out")" "Error $(words "$LIMITS")"
expect_links "after the refused calls" "${holders[@]}"
log "while $MAX callers held Slow calls: a new caller, a recycled one and root got: $LIMITS"

touch "$CTR_DIR/stop"
for h in 1 2 3; do
	wait_for_file "$TMP/hold.$h.out" '^failed=' 20 ||
		fail "holder $h did not finish: $(cat "$TMP/hold.$h.out" "$TMP/hold.$h.err")"
	o=$(cat "$TMP/hold.$h.out")
	expect_eq "holder $h: failed Slow calls" "$(kv failed "$o")" ""
	expect_eq "holder $h: Slow calls answered" "$(kv ok "$o")" "$(kv sent "$o")"
done
# The holders are gone, and so are their links; new callers get through.
expect_links "after the holders exited"
out=$(ctr_exec "$C1" 1000 1000 dbus-send --system --print-reply=literal --dest=org.example.Host \
	/org/example/Host org.example.Host.EchoString string:"after the slow calls" 2>&1) ||
	fail "a new caller after the slow calls were answered: $out"
expect_eq "a new caller after the slow calls were answered" "$(words "$out")" "after the slow calls"
pool call after.5 5
expect_match "caller 5 after the slow calls were answered" "$res" '^:[0-9]+\.[0-9]+ 100000$'
expect_bound "callers refused while all links were busy"

# A flood: 40 more connections call at once; each call is answered or refused with LimitsExceeded.
pool flood flood 40
expect_eq "the flood: calls that got neither an answer nor LimitsExceeded" "$(kv flood.other "$(cat "$TMP/pool.out")")" ""
ok=$(kv flood.ok "$(cat "$TMP/pool.out")")
limits=$(kv flood.limits "$(cat "$TMP/pool.out")")
[ "$ok" -ge 1 ] && [ $((ok + limits)) = 40 ] || fail "the flood: $ok answered, $limits refused, of 40"
expect_bound "a flood of 40 callers"
log "a flood of 40 callers at once: $ok answered, $limits got LimitsExceeded"

# (c) Container root, after all that (60 connections still open): its permitted call goes through.
bridge_client "$C1" 0 "$CTR_ADDR" echo whoami || fail "container root after the flood: $out $(cat "$TMP/client.err")"
expect_eq "container root's EchoString after the flood" "$(kv echo "$out")" "through the bridge"
expect_eq "container root's uid on the host bus" "$(kv whoami.1.uid "$out")" 100000
expect_bound "container root's call"
st=$(cat "$TMP/links.state")
expect_eq "the most connections to the host bus the bridge held at once (its own and $MAX callers')" \
	"$(kv kmax "$st")" $((MAX + 1))
log "the bridge never held more than its own and $MAX callers' connections to the host bus; the host bus" \
	"showed at most $(($(kv max "$st") - 1)) callers' at once (a recycled link's hang-up announced late)"
bridge_pass
