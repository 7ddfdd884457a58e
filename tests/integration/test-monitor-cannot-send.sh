#!/bin/bash
# Monitoring.BecomeMonitor turns a connection into a read-only monitor: it loses its
# names (NameLost to itself, NameOwnerChanged to others), sees traffic, and is
# disconnected by the bus if it sends anything at all.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start
t $PY - "$IT_DIR" <<'EOF' || fail "monitor scenario failed (see above)"
import os, sys
sys.path.insert(0, sys.argv[1])
from raw_client import *

addr = os.environ['DBUS_SESSION_BUS_ADDRESS']
MON_IFACE = 'org.freedesktop.DBus.Monitoring'

def check(what, cond, detail=''):
    if not cond:
        print('FAIL: %s %s' % (what, detail))
        sys.exit(1)

def become_monitor(c, rules=(), flags=0, sig='asu'):
    args = (list(rules), flags) if sig == 'asu' else (list(rules),)
    return c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', MON_IFACE, 'BecomeMonitor', sig, args)

def drain(c):
    return c.drain(0.5)

watcher = Conn(addr); watcher.connect_bus()
watcher.driver('AddMatch', 's', ("type='signal',member='NameOwnerChanged'",))

# A monitor that owned a well-known name.
mon = Conn(addr); mon_name = mon.connect_bus()
r = mon.driver('RequestName', 'su', ('com.example.Monitored', 0))
check('RequestName', r.type == METHOD_RETURN and r.body == [1], r)
drain(mon)
drain(watcher)

r = become_monitor(mon)
check('BecomeMonitor reply', r.type == METHOD_RETURN and r.body == [], r)
# The monitor is told it lost its well-known name and its unique name.
lost = [m.body[0] for m in drain(mon) if m.member == 'NameLost']
check('NameLost to the monitor', sorted(lost) == sorted([mon_name, 'com.example.Monitored']), lost)
# Others see both names go away.
noc = [tuple(m.body) for m in drain(watcher) if m.member == 'NameOwnerChanged']
check('NameOwnerChanged for the well-known name', ('com.example.Monitored', mon_name, '') in noc, noc)
check('NameOwnerChanged for the unique name', (mon_name, mon_name, '') in noc, noc)
r = watcher.driver('NameHasOwner', 's', ('com.example.Monitored',))
check('NameHasOwner(released name)', r.body == [False], r)
r = watcher.driver('NameHasOwner', 's', (mon_name,))
check('NameHasOwner(monitor unique name)', r.body == [False], r)
r = watcher.driver('ListNames')
check('ListNames without the monitor', mon_name not in r.body[0], r)

# It sees a call between two other peers, and the reply.
serial = watcher.send_call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                           'NameHasOwner', 's', ('com.example.Marker',))
reply = watcher.wait_reply(serial)
seen = drain(mon)
check('monitor saw the call', any(m.type == METHOD_CALL and m.member == 'NameHasOwner'
                                  and m.body == ['com.example.Marker'] and m.sender == watcher.unique_name
                                  for m in seen), seen)
check('monitor saw the reply', any(m.type == METHOD_RETURN and m.reply_serial == serial
                                   and m.destination == watcher.unique_name for m in seen), seen)

# Sending anything -- here a harmless GetId -- gets the monitor disconnected, with no reply.
serial = mon.send_call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId')
check('monitor that sends a method call is disconnected', mon.wait_eof(5))
late = mon.buffered_messages()
check('no reply to the monitor', not any(m.reply_serial == serial and m.destination == mon_name
                                         for m in late), late)

# A signal is no different.
mon2 = Conn(addr); mon2.connect_bus()
check('BecomeMonitor', become_monitor(mon2).type == METHOD_RETURN)
mon2.send_signal('/com/example', 'com.example.Iface', 'Sig')
check('monitor that sends a signal is disconnected', mon2.wait_eof(5))

# BecomeMonitor argument checking.
bad = Conn(addr); bad.connect_bus()
r = become_monitor(bad, rules=['no equals sign'])
check('BecomeMonitor bad rule', r.error_name == 'org.freedesktop.DBus.Error.MatchRuleInvalid', r)
r = become_monitor(bad, flags=1)
check('BecomeMonitor flags', r.error_name == 'org.freedesktop.DBus.Error.InvalidArgs', r)
r = become_monitor(bad, sig='as')
check('BecomeMonitor wrong signature', r.error_name == 'org.freedesktop.DBus.Error.InvalidArgs', r)
# After those errors the connection is still an ordinary peer.
r = bad.driver('GetId')
check('peer after failed BecomeMonitor', r.type == METHOD_RETURN and len(r.body[0]) == 32, r)

# The watcher is unaffected.
r = watcher.driver('GetId')
check('watcher GetId', r.type == METHOD_RETURN and len(r.body[0]) == 32, r)
print('monitor scenario ok')
EOF

pass
