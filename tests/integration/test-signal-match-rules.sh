#!/bin/bash
# Broadcast signals reach exactly the python3-dbus subscribers whose match rules
# match them: argN, argNpath, arg0namespace, path, path_namespace, sender,
# interface/member, member with arg0, destination, eavesdropping (with sender keys), and a removed
# rule no longer matches;
# NameOwnerChanged watches with one arg0 each get only their own name's changes.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start

TMO=60 t $PY - "$IT_DIR" <<'EOF' || fail "match rule scenario failed (see above)"
import os, sys, time
import dbus
import dbus.bus
import dbus.lowlevel
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

ADDR = os.environ['DBUS_SESSION_BUS_ADDRESS']
DBusGMainLoop(set_as_default=True)
ctx = GLib.MainContext.default()
SENTINEL = ("type='signal',interface='com.example.Sentinel'")

emitter = dbus.bus.BusConnection(ADDR)
emitter.request_name('com.example.Emitter', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
other = dbus.bus.BusConnection(ADDR)  # a second sender

LONG_PATH = '/l/' + 'p' * 600
# (label, path, interface, member, signature, args, sender, destination-label)
SIGNALS = [
    ('S1', '/org/nsbus/a', 'com.example.M', 'Sig', 'ss', ['foo', 'bar'], emitter, None),
    ('S2', '/org/nsbus/a/b/c', 'com.example.M', 'Sig', 's', ['foobar'], emitter, None),
    ('S3', '/org/nsbus/ab', 'com.example.M', 'Sig', 's', ['foo.bar.baz'], emitter, None),
    ('S4', '/other', 'com.example.M', 'Sig', 'ss', ['/aa/bb/', 'x'], emitter, None),
    ('S5', '/org/nsbus', 'com.example.N', 'Other', 'i', [42], emitter, None),
    ('S6', '/org/nsbus/a', 'com.example.M', 'Sig', 's', ['foo.bar'], emitter, None),
    ('S7', '/org/nsbus/a', 'com.example.M', 'Sig', 'o', ['/aa/bb'], emitter, None),
    ('S8', '/org/nsbus/a', 'com.example.M', 'Sig', 'ss', ['foo', 'bar'], other, None),
    ('S9', '/x', 'com.example.M', 'Direct', 's', ['foo'], emitter, 'r_dest'),
    # member and path together longer than nsbusd's joined bucket key (512 bytes)
    ('S10', LONG_PATH, 'com.example.M', 'Sig', 's', ['zz'], emitter, None),
]
# label -> (rules, labels of the signals it must receive)
CASES = {
    'r_arg0': (["type='signal',interface='com.example.M',arg0='foo'"], {'S1', 'S8'}),
    'r_arg1': (["arg1='bar'"], {'S1', 'S8'}),
    'r_arg0_arg1': (["arg0='foo',arg1='x'"], set()),
    'r_arg0_int': (["arg0='42'"], set()),
    'r_arg0_objpath': (["arg0='/aa/bb'"], set()),  # argN matches strings only, not object paths
    'r_arg0ns': (["arg0namespace='foo.bar'"], {'S3', 'S6'}),
    'r_arg0path': (["arg0path='/aa/'"], {'S4', 'S7'}),
    'r_arg0path_exact': (["arg0path='/aa/bb/cc'"], {'S4'}),
    'r_path': (["path='/org/nsbus/a'"], {'S1', 'S6', 'S7', 'S8'}),
    'r_pathns': (["path_namespace='/org/nsbus/a'"], {'S1', 'S2', 'S6', 'S7', 'S8'}),
    'r_pathns_top': (["path_namespace='/org/nsbus'"], {'S1', 'S2', 'S3', 'S5', 'S6', 'S7', 'S8'}),
    'r_pathns_root': (["type='signal',path_namespace='/'"], {'S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8', 'S10'}),
    # member and path together (nsbusd buckets these by both), and each alone
    'r_member_path': (["member='Sig',path='/org/nsbus/a'"], {'S1', 'S6', 'S7', 'S8'}),
    'r_member_path_b': (["member='Sig',path='/org/nsbus/ab'"], {'S3'}),
    'r_member_path_miss': (["member='Other',path='/org/nsbus/a'"], set()),
    'r_sender_member_path': (["sender='com.example.Emitter',member='Sig',path='/other'"], {'S4'}),
    'r_long_member_path': (["member='Sig',path='%s'" % LONG_PATH], {'S10'}),
    'r_long_path': (["path='%s'" % LONG_PATH], {'S10'}),
    # member and arg0 together (nsbusd buckets these by both, ahead of member and path)
    'r_member_arg0': (["member='Sig',arg0='foo'"], {'S1', 'S8'}),
    'r_member_path_arg0': (["member='Sig',path='/org/nsbus/a',arg0='foo.bar'"], {'S6'}),
    'r_member_arg0_miss': (["member='Other',arg0='foo'"], set()),
    'r_member_arg0_int': (["member='Other',arg0='42'"], set()),
    'r_member_arg0_objpath': (["member='Sig',arg0='/aa/bb'"], set()),
    'r_member_arg0_and_path': (["member='Sig',arg0='foobar'", "member='Sig',path='/org/nsbus/a/b/c'"], {'S2'}),
    'r_member_arg0path': (["member='Sig',arg0path='/aa/'"], {'S4', 'S7'}),
    'r_member_arg1': (["member='Sig',arg1='bar'"], {'S1', 'S8'}),
    # eavesdropping: somebody else's unicast (S9 goes to r_dest) as well as broadcasts, sender keys included
    'r_eav_member': (["eavesdrop='true',member='Direct'"], {'S9'}),
    'r_eav_sender_name': (["eavesdrop='true',sender='com.example.Emitter',member='Direct'"], {'S9'}),
    'r_eav_sender_other': (["eavesdrop='true',sender='%s',member='Direct'" % other.get_unique_name()], set()),
    'r_eav_sender_unique': (["eavesdrop='true',sender='%s',member='Sig'" % other.get_unique_name()], {'S8'}),
    'r_eav_sender_driver': (["eavesdrop='true',sender='org.freedesktop.DBus',member='Direct'"], set()),
    'r_eav_sender_missing': (["eavesdrop='true',sender='com.example.Nobody'"], set()),
    'r_eav_and_plain': (["eavesdrop='true',member='Other'", "member='Other'"], {'S5'}),
    # interface alone (nsbusd buckets by it when a rule has no member, path or arg0)
    'r_iface': (["interface='com.example.N'"], {'S5'}),
    'r_iface_miss': (["type='signal',interface='com.example.Nope'"], set()),
    'r_iface_pathns': (["interface='com.example.M',path_namespace='/org/nsbus/a'"], {'S1', 'S2', 'S6', 'S7', 'S8'}),
    'r_member': (["member='Other'"], {'S5'}),
    'r_iface_member': (["interface='com.example.M',member='Nope'"], set()),
    'r_sender_name': (["sender='com.example.Emitter',interface='com.example.M'"], {'S1', 'S2', 'S3', 'S4', 'S6', 'S7', 'S10'}),
    'r_sender_unique': (["sender='%s',interface='com.example.M'" % other.get_unique_name()], {'S8'}),
    'r_sender_missing': (["sender='com.example.Nobody'"], set()),
    'r_type_call': (["type='method_call',interface='com.example.M'"], set()),
    'r_dest': (["interface='com.example.Other'"], {'S9'}),  # unicast: no rule needed
    'r_removed': (["arg0='foo'"], set()),
    'r_two_rules': (["arg0='foobar'", "path='/other'"], {'S2', 'S4'}),
    'r_dup_rule': (["member='Other'", "member='Other'"], {'S5'}),  # one delivery, not two
}

class Receiver:
    def __init__(self, label, rules):
        self.label = label
        self.bus = dbus.bus.BusConnection(ADDR)
        self.got = []
        self.done = False
        self.bus.add_message_filter(self.on_message)
        for r in rules + [SENTINEL]:
            self.bus.add_match_string(r)

    def on_message(self, conn, msg):
        if msg.get_type() != 4 or msg.get_sender() == 'org.freedesktop.DBus':
            return
        if msg.get_interface() == 'com.example.Sentinel':
            self.done = True
            return
        self.got.append(msg.get_member() + ':' + str(msg.get_path()) + ':' + repr([str(a) for a in msg.get_args_list()]))

receivers = {label: Receiver(label, rules) for label, (rules, _) in CASES.items()}
receivers['r_removed'].bus.remove_match_string("arg0='foo'")
# A rule removed once of two identical ones still matches (rules are counted).
receivers['r_dup_rule'].bus.remove_match_string("member='Other'")

def signature_of(label):
    return {s[0]: s for s in SIGNALS}[label]

def send(conn, path, iface, member, sig, args, dest=None):
    m = dbus.lowlevel.SignalMessage(path, iface, member)
    if dest:
        m.set_destination(dest)
    if sig:
        m.append(signature=sig, *args)
    conn.send_message(m)

for label, path, iface, member, sig, args, sender, dest in SIGNALS:
    if sig == 'o':
        args = [dbus.ObjectPath(args[0])]
    send(sender, path, iface, member, sig, args, receivers[dest].bus.get_unique_name() if dest else None)
emitter.flush()
other.flush()
# Both senders' earlier signals are routed before their sentinels.
send(other, '/s', 'com.example.Sentinel', 'Stop', '', [])
other.flush()
other.call_blocking('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId', '', ())
send(emitter, '/s', 'com.example.Sentinel', 'Stop', '', [])
emitter.flush()

deadline = time.monotonic() + 20
while time.monotonic() < deadline and not all(r.done for r in receivers.values()):
    ctx.iteration(False) or time.sleep(0.002)
# Let anything late (which would be a bug) arrive too.
end = time.monotonic() + 0.2
while time.monotonic() < end:
    ctx.iteration(False) or time.sleep(0.002)

def describe(label):
    l, path, iface, member, sig, args, _, _ = signature_of(label)
    return member + ':' + path + ':' + repr([str(a) for a in args])

failures = []
for label, (rules, expected) in CASES.items():
    r = receivers[label]
    if not r.done:
        failures.append('%s: never got the sentinel' % label)
    want = sorted(describe(s) for s in expected)
    if sorted(r.got) != want:
        failures.append('%s %s: expected %s, got %s' % (label, rules, want, sorted(r.got)))
for f in failures:
    print('FAIL:', f)
print('%d receivers checked, %d failures' % (len(CASES), len(failures)))
sys.exit(1 if failures else 0)
EOF

# NameOwnerChanged watches, one arg0 each, as every desktop client installs them: each gets the
# changes of its own name and nothing else, however many others are installed.
TMO=60 t $PY - <<'EOF' || fail "NameOwnerChanged watch scenario failed (see above)"
import os, sys, time
import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

ADDR = os.environ['DBUS_SESSION_BUS_ADDRESS']
DBusGMainLoop(set_as_default=True)
ctx = GLib.MainContext.default()
NOC = ("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
       "member='NameOwnerChanged',path='/org/freedesktop/DBus',arg0='%s'")

got = {}
def watch(name):
    c = dbus.bus.BusConnection(ADDR)
    got[name] = []
    c.add_message_filter(lambda conn, m: got[name].append(tuple(str(a) for a in m.get_args_list()))
                         if m.get_member() == 'NameOwnerChanged' else None)
    c.add_match_string(NOC % name)
    return c

watchers = [watch('com.example.Watched%d' % i) for i in range(200)]
plain = dbus.bus.BusConnection(ADDR)  # no arg0: sees every change
all_changes = []
plain.add_message_filter(lambda conn, m: all_changes.append(str(m.get_args_list()[0]))
                         if m.get_member() == 'NameOwnerChanged' else None)
plain.add_match_string("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'")

owner = dbus.bus.BusConnection(ADDR)
me = owner.get_unique_name()
owner.request_name('com.example.Watched7', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
owner.request_name('com.example.Unwatched', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
owner.release_name('com.example.Watched7')

deadline = time.monotonic() + 20
while time.monotonic() < deadline and len(got['com.example.Watched7']) < 2:
    ctx.iteration(False) or time.sleep(0.002)
end = time.monotonic() + 0.3
while time.monotonic() < end:
    ctx.iteration(False) or time.sleep(0.002)

failures = []
want = [('com.example.Watched7', '', me), ('com.example.Watched7', me, '')]
if got['com.example.Watched7'] != want:
    failures.append('watcher of com.example.Watched7: expected %s, got %s' % (want, got['com.example.Watched7']))
for name, g in got.items():
    if name != 'com.example.Watched7' and g:
        failures.append('watcher of %s got %s' % (name, g))
for n in ('com.example.Watched7', 'com.example.Unwatched', me):
    if n not in all_changes:
        failures.append('the watcher without arg0 missed the change of %s: %s' % (n, all_changes))
for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
EOF

pass
