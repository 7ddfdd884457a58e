#!/bin/bash
# Name ownership through python3-dbus: every RequestName flag and reply code, the
# queue and its order, ReleaseName codes, ListQueuedOwners, and the NameAcquired /
# NameLost / NameOwnerChanged signals each affected connection receives.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start

TMO=60 t $PY - "$IT_DIR" <<'EOF' || fail "name ownership scenario failed (see above)"
import os, sys, time
import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

ADDR = os.environ['DBUS_SESSION_BUS_ADDRESS']
ALLOW_REPLACEMENT, REPLACE_EXISTING, DO_NOT_QUEUE = 1, 2, 4
PRIMARY_OWNER, IN_QUEUE, EXISTS, ALREADY_OWNER = 1, 2, 3, 4
RELEASED, NON_EXISTENT, NOT_OWNER = 1, 2, 3
N = 'com.example.Queue'
failures = []
loop_ctx = GLib.MainContext.default()
DBusGMainLoop(set_as_default=True)

class Peer:
    """One connection; records the name signals the bus sends it."""
    def __init__(self, label):
        self.label = label
        self.bus = dbus.bus.BusConnection(ADDR)
        self.name = self.bus.get_unique_name()
        self.events = []
        self.bus.add_message_filter(self._filter)
        self.bus.add_match_string("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'" % N)

    def _filter(self, conn, msg):
        if msg.get_type() == 4 and msg.get_sender() == 'org.freedesktop.DBus':
            args = [str(a) for a in msg.get_args_list()]
            if msg.get_member() in ('NameAcquired', 'NameLost') and args[0] == self.name:
                return  # the unique name's own signals are not part of the story
            self.events.append((msg.get_member(),) + tuple(args))

    def driver(self, method, *args, sig=None):
        return self.bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                      'org.freedesktop.DBus', method, sig, args)

    def request(self, flags):
        return int(self.driver('RequestName', N, dbus.UInt32(flags), sig='su'))

    def release(self, name=N):
        return int(self.driver('ReleaseName', name, sig='s'))

def settle():
    """Run the main loop until every peer has seen a fresh round trip: a GetId on each
    connection is answered after every signal the bus queued for it before."""
    for p in peers:
        p.driver('GetId')
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        loop_ctx.iteration(False) or time.sleep(0.005)

def check(what, got, want):
    if got != want:
        failures.append('%s: expected %r, got %r' % (what, want, got))

def check_events(step, expected):
    """expected: {peer: [events]} -- every peer's signals since the last check."""
    settle()
    for p in peers:
        check('%s: signals to %s' % (step, p.label), p.events, expected.get(p, []))
        p.events = []

def queue():
    try:
        return [str(x) for x in watcher.driver('ListQueuedOwners', N, sig='s')]
    except dbus.DBusException as e:
        return e.get_dbus_name()

def owner():
    try:
        return str(watcher.driver('GetNameOwner', N, sig='s'))
    except dbus.DBusException as e:
        return e.get_dbus_name()

watcher = Peer('watcher')
a, b, c, d, e = (Peer(x) for x in 'abcde')
peers = [watcher, a, b, c, d, e]
check_events('start', {})

def NOC(old, new):
    return ('NameOwnerChanged', N, old.name if old else '', new.name if new else '')
def ACQ():
    return ('NameAcquired', N)
def LOST():
    return ('NameLost', N)
everyone = lambda ev: {p: [ev] for p in peers}

# ReleaseName of a name nobody owns.
check('ReleaseName(unowned)', a.release(), NON_EXISTENT)
check('ListQueuedOwners(unowned)', queue(), 'org.freedesktop.DBus.Error.NameHasNoOwner')
check_events('release unowned', {})

# a becomes the primary owner.
check('a RequestName(0)', a.request(0), PRIMARY_OWNER)
ev = everyone(NOC(None, a)); ev[a] = [NOC(None, a), ACQ()]
check_events('a acquires', ev)
check('owner', owner(), a.name)
check('a RequestName again', a.request(0), ALREADY_OWNER)
check('a RequestName again, other flags', a.request(DO_NOT_QUEUE), ALREADY_OWNER)
check_events('already owner', {})

# b with DO_NOT_QUEUE: EXISTS, not queued.
check('b RequestName(DO_NOT_QUEUE)', b.request(DO_NOT_QUEUE), EXISTS)
check('queue after EXISTS', queue(), [a.name])
# b and c queue up, in order.
check('b RequestName(0)', b.request(0), IN_QUEUE)
check('c RequestName(0)', c.request(0), IN_QUEUE)
check('queue order', queue(), [a.name, b.name, c.name])
check('b RequestName again while queued', b.request(0), IN_QUEUE)
check('queue order unchanged', queue(), [a.name, b.name, c.name])
# REPLACE_EXISTING does not work while the owner did not allow replacement, but
# the requester is queued second in line, ahead of those already waiting
# (dbus-daemon's bus_service_add_owner).
check('d RequestName(REPLACE_EXISTING) vs no ALLOW_REPLACEMENT', d.request(REPLACE_EXISTING), IN_QUEUE)
check('e RequestName(REPLACE_EXISTING|DO_NOT_QUEUE)', e.request(REPLACE_EXISTING | DO_NOT_QUEUE), EXISTS)
check('queue: REPLACE_EXISTING requester second in line', queue(), [a.name, d.name, b.name, c.name])
check('owner unchanged', owner(), a.name)
check_events('queueing', {})

# ReleaseName by a queued peer takes it out of the queue: RELEASED.
check('c ReleaseName while queued', c.release(), RELEASED)
check('queue without c', queue(), [a.name, d.name, b.name])
# ReleaseName by a peer that is neither owner nor queued: NOT_OWNER.
check('e ReleaseName (not owner)', e.release(), NOT_OWNER)
# A queued peer that asks again with DO_NOT_QUEUE gets EXISTS and leaves the queue.
check('e RequestName(0)', e.request(0), IN_QUEUE)
check('queue with e', queue(), [a.name, d.name, b.name, e.name])
check('e RequestName(DO_NOT_QUEUE) while queued', e.request(DO_NOT_QUEUE), EXISTS)
check('queue without e', queue(), [a.name, d.name, b.name])
check('e ReleaseName after leaving the queue', e.release(), NOT_OWNER)
check_events('queued release', {})

# a allows replacement (the flags of an existing owner are updated); e replaces it.
check('a RequestName(ALLOW_REPLACEMENT)', a.request(ALLOW_REPLACEMENT), ALREADY_OWNER)
check('e RequestName(REPLACE_EXISTING)', e.request(REPLACE_EXISTING), PRIMARY_OWNER)
ev = everyone(NOC(a, e)); ev[a] = [LOST(), NOC(a, e)]; ev[e] = [NOC(a, e), ACQ()]
check_events('e replaces a', ev)
# a did not ask for DO_NOT_QUEUE, so it waits at the head of the queue.
check('queue after replacement', queue(), [e.name, a.name, d.name, b.name])

# Releasing passes the name to the next in line.
check('e ReleaseName', e.release(), RELEASED)
ev = everyone(NOC(e, a)); ev[e] = [LOST(), NOC(e, a)]; ev[a] = [NOC(e, a), ACQ()]
check_events('e releases', ev)
check('queue after release', queue(), [a.name, d.name, b.name])
check('e ReleaseName again', e.release(), NOT_OWNER)

# An owner with ALLOW_REPLACEMENT|DO_NOT_QUEUE that is replaced leaves the queue.
check('a RequestName(ALLOW_REPLACEMENT|DO_NOT_QUEUE)', a.request(ALLOW_REPLACEMENT | DO_NOT_QUEUE), ALREADY_OWNER)
check('c RequestName(REPLACE_EXISTING|DO_NOT_QUEUE)', c.request(REPLACE_EXISTING | DO_NOT_QUEUE), PRIMARY_OWNER)
ev = everyone(NOC(a, c)); ev[a] = [LOST(), NOC(a, c)]; ev[c] = [NOC(a, c), ACQ()]
check_events('c replaces a (DO_NOT_QUEUE)', ev)
check('queue without a', queue(), [c.name, d.name, b.name])
check('a ReleaseName after losing', a.release(), NOT_OWNER)

# c does not allow replacement: REPLACE_EXISTING from an already queued peer
# keeps it queued, but moves it up to second in line.
check('b RequestName(REPLACE_EXISTING) while queued', b.request(REPLACE_EXISTING), IN_QUEUE)
check('queue: b moved up to second in line', queue(), [c.name, b.name, d.name])
check_events('re-request while queued', {})

# Releases walk the queue in order.
check('c ReleaseName', c.release(), RELEASED)
ev = everyone(NOC(c, b)); ev[c] = [LOST(), NOC(c, b)]; ev[b] = [NOC(c, b), ACQ()]
check_events('c releases', ev)
check('b ReleaseName', b.release(), RELEASED)
ev = everyone(NOC(b, d)); ev[b] = [LOST(), NOC(b, d)]; ev[d] = [NOC(b, d), ACQ()]
check_events('b releases', ev)
check('queue', queue(), [d.name])
check('d ReleaseName', d.release(), RELEASED)
ev = everyone(NOC(d, None)); ev[d] = [LOST(), NOC(d, None)]
check_events('d releases', ev)
check('owner after the last release', owner(), 'org.freedesktop.DBus.Error.NameHasNoOwner')
check('ReleaseName after the last release', d.release(), NON_EXISTENT)

# A queued peer that disconnects leaves the queue; the owner disconnecting passes
# the name on.
check('a RequestName', a.request(0), PRIMARY_OWNER)
check('b RequestName', b.request(0), IN_QUEUE)
check('c RequestName', c.request(0), IN_QUEUE)
check_events('refill', {p: ([NOC(None, a), ACQ()] if p is a else [NOC(None, a)]) for p in peers})
peers.remove(b); b.bus.close()
check('queue after b disconnects', queue(), [a.name, c.name])
check_events('b disconnects', {})
peers.remove(a); a.bus.close()
ev = {p: [NOC(a, c)] for p in peers}; ev[c] = [NOC(a, c), ACQ()]
check_events('a disconnects', ev)
check('owner after a disconnects', owner(), c.name)
check('queue', queue(), [c.name])

# Names the driver refuses.
def request_error(name, flags=0):
    try:
        watcher.bus.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                                  'RequestName', 'su', (name, dbus.UInt32(flags)))
        return 'no error'
    except dbus.DBusException as ex:
        return ex.get_dbus_name()
def release_error(name):
    try:
        watcher.driver('ReleaseName', name, sig='s')
        return 'no error'
    except dbus.DBusException as ex:
        return ex.get_dbus_name()
INVALID = 'org.freedesktop.DBus.Error.InvalidArgs'
check('RequestName(org.freedesktop.DBus)', request_error('org.freedesktop.DBus'), INVALID)
check('RequestName(unique name)', request_error(':1.12345'), INVALID)
check('RequestName(invalid name)', request_error('nodots'), INVALID)
check('RequestName(invalid name)', request_error('com..example'), INVALID)
check('RequestName(invalid name)', request_error('com.1example'), INVALID)
check('ReleaseName(org.freedesktop.DBus)', release_error('org.freedesktop.DBus'), INVALID)
check('ReleaseName(unique name)', release_error(watcher.name), INVALID)
check('ReleaseName(invalid name)', release_error('nodots'), INVALID)
# The driver owns its own name, and only it is queued there.
check('ListQueuedOwners(org.freedesktop.DBus)',
      [str(x) for x in watcher.driver('ListQueuedOwners', 'org.freedesktop.DBus', sig='s')], ['org.freedesktop.DBus'])
# A unique name is its own only queued owner.
check('ListQueuedOwners(unique)', [str(x) for x in watcher.driver('ListQueuedOwners', c.name, sig='s')], [c.name])

for f in failures:
    print('FAIL:', f)
print('%d failures' % len(failures))
sys.exit(1 if failures else 0)
EOF

pass
