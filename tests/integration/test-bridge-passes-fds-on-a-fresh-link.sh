#!/bin/bash
# nsbridge opens a connection to the host bus ($HOSTBUS) for each container caller, on that caller's first
# call, and starts it without waiting: SASL (with NEGOTIATE_UNIX_FD), Hello and the caller's call leave
# at once.  Before the fix a call carrying a unix fd could go out on such a new link before the host
# bus had agreed to fd passing; dbus-daemon then dropped the link ("sent file descriptors without
# negotiating them"; about half of such links, in a raw client's trial against dbus-daemon 1.14, while
# dbus-broker took them all) and the caller got org.freedesktop.DBus.Error.NoReply.  Now such a call
# (and every call after it on that link, so that their order is kept) waits until the bus has agreed.  Here
# brand-new container connections, as uid 0 and uid 1000, with calls sent to the name and to its owner,
# make an fd-carrying call as their very FIRST call through the bridge: org.example.Host's ReadFd must
# answer what was written into the pipe, WriteFd and MakeFd work after it, and WhoAmI shows that every
# connection had a host link of its own (a fresh one).  Then fresh connections pipeline fd-carrying and
# plain calls right behind each other: every one is answered, in the order it was sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bridge_fixture

# 1. Ten fresh connections, each one's first call through the bridge is ReadFd(h).
senders=()
for i in $(seq 1 10); do
	uid=$(((i % 2) * 1000))
	mode=()
	how="to the owner"
	if [ $((i % 4)) -lt 2 ]; then
		mode=(--by-name)
		how="to the name"
	fi
	who="fresh connection $i (uid $uid, calls sent $how)"
	bridge_client "$C1" "$uid" "$CTR_ADDR" "${mode[@]}" fds whoami ||
		fail "$who: the client failed: $out $(cat "$TMP/client.err")"
	expect_eq "$who: ReadFd of a pipe, its first call through the bridge" "$(kv fd.read "$out")" \
		"through a pipe and the bridge"
	expect_eq "$who: WriteFd call" "$(kv fd.write.call "$out")" ok
	expect_eq "$who: what WriteFd wrote into our pipe" "$(kv fd.written "$out")" "written by the host"
	expect_eq "$who: EOF on our pipe once the service closed its copy" "$(kv fd.written.eof "$out")" yes
	expect_eq "$who: read from the fd MakeFd returned" "$(kv fd.made "$out")" "made on the host"
	s=$(kv whoami.1.sender "$out")
	expect_match "$who: its name on the host bus" "$s" '^:[0-9]+\.[0-9]+$'
	expect_eq "$who: its uid on the host bus" "$(kv whoami.1.uid "$out")" 100000
	case " ${senders[*]} " in
	*" $s "*) fail "$who: the host link $s was not fresh (an earlier connection had it): ${senders[*]}" ;;
	esac
	senders+=("$s")
done
log "10 fresh connections: the first call of each carried an fd and was answered (host links ${senders[*]})"

# 2. Fresh connections send fd-carrying and plain calls back to back, without waiting for a reply: the
# calls behind one that waits for the new link's fd negotiation must neither fail nor overtake it.
cat >"$TMP/fd_first.py" <<'PY'
import os
import sys

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

address, how = sys.argv[1], sys.argv[2]
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)
dest = 'org.example.Host'
if how == 'to-owner':
    dest = bus.get_name_owner(dest)  # the container bus's driver answers: nothing crosses the bridge
loop = GLib.MainLoop()
order = []
expected = []


def done(tag):
    def ok(value):
        order.append(str(value))
        if len(order) == len(expected):
            loop.quit()

    def err(e):
        order.append('ERROR:%s(%s)' % (e.get_dbus_name(), tag))
        if len(order) == len(expected):
            loop.quit()
    return ok, err


for i in range(8):
    text = 'call-%d' % i
    expected.append(text)
    ok, err = done(text)
    if i % 3 != 1:
        r, w = os.pipe()
        os.write(w, text.encode())
        os.close(w)
        bus.call_async(dest, '/org/example/Host', 'org.example.Host', 'ReadFd', 'h', (dbus.types.UnixFd(r),),
                       ok, err, timeout=15)
        os.close(r)
    else:
        bus.call_async(dest, '/org/example/Host', 'org.example.Host', 'EchoString', 's', (text,), ok, err,
                       timeout=15)
GLib.timeout_add(18000, loop.quit)
loop.run()
print('replies=%s' % ','.join(order), flush=True)
print('expected=%s' % ','.join(expected), flush=True)
sender = bus.call_blocking(dest, '/org/example/Host', 'org.example.Host', 'WhoAmI', '', (), timeout=15)[0]
print('sender=%s' % sender, flush=True)
PY
for i in $(seq 1 6); do
	uid=$(((i % 2) * 1000))
	how=by-name
	[ $((i % 4)) -lt 2 ] || how=to-owner
	who="fresh connection $i of the pipelined run (uid $uid, $how)"
	out=$(ctr_exec "$C1" "$uid" "$uid" /usr/bin/python3 "$TMP/fd_first.py" "$CTR_ADDR" "$how" 2>"$TMP/fd_first.err") ||
		fail "$who: the client failed: $out $(cat "$TMP/fd_first.err")"
	expect_eq "$who: the replies, in arrival order" "$(kv replies "$out")" "$(kv expected "$out")"
	expect_eq "$who: the calls made" "$(kv expected "$out")" \
		"call-0,call-1,call-2,call-3,call-4,call-5,call-6,call-7"
	s=$(kv sender "$out")
	expect_match "$who: its name on the host bus" "$s" '^:[0-9]+\.[0-9]+$'
	case " ${senders[*]} " in
	*" $s "*) fail "$who: the host link $s was not fresh: ${senders[*]}" ;;
	esac
	senders+=("$s")
done
log "6 fresh connections: fd-carrying and plain calls sent back to back were all answered, in order"

# The host bus dropped none of the callers' links (the bridge says so when one ends under it).
grep -E "to the host bus \(for a container caller\) ended" "$BRIDGE_LOG" &&
	fail "the host bus closed a container caller's link (see above)"
bridge_pass
