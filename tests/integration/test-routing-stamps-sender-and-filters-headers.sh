#!/bin/bash
# What the bus does to a message on its way (raw clients, so every header byte is
# visible): it stamps the real sender over a forged one, strips unknown header
# fields (Features: HeaderFiltering), keeps the sender's byte order, serial and
# body; it delivers unicast signals without a match rule, keeps the order of a
# burst, and answers NoReply when a callee disconnects without replying.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start

TMO=60 t $PY - "$IT_DIR" <<'EOF' || fail "routing scenario failed (see above)"
import os, sys
sys.path.insert(0, sys.argv[1])
from raw_client import *

addr = os.environ['DBUS_SESSION_BUS_ADDRESS']
failures = []

def check(what, cond, detail=''):
    if not cond:
        failures.append('%s %s' % (what, detail))

def drain(c):
    return c.drain(0.3)

L = Conn(addr); L.connect_bus()
S = Conn(addr); S.connect_bus()
r = L.driver('AddMatch', 's', ("type='signal',interface='com.example.H'",))
check('AddMatch', r.type == METHOD_RETURN, r)
drain(L); drain(S)

# A big-endian signal with a forged sender and unknown header fields.
body_sig = 'sia{sv}'
body = ['hi', -5, {'k': Variant('t', 2**64 - 1)}]
raw = build_message(SIGNAL, 4242, None, body_sig, body, endian='B', raw_fields=[
    (F_PATH, 'o', '/h'), (F_INTERFACE, 's', 'com.example.H'), (F_MEMBER, 's', 'Sig'),
    (F_SENDER, 's', ':1.999'), (100, 's', 'unknown field'), (200, 'u', 5), (F_SIGNATURE, 'g', body_sig)])
S.send_raw(raw)
m = L.recv()
check('signal delivered', m.type == SIGNAL and m.member == 'Sig', m)
check('sender is stamped by the bus', m.sender == S.unique_name, m.fields)
check('unknown header fields are stripped', not ({100, 200} & set(m.fields)), m.fields)
check('byte order kept', m.endian == 'B', m.endian)
check('serial kept', m.serial == 4242, m.serial)
check('body intact', m.signature == body_sig and m.body[0] == 'hi' and m.body[1] == -5
      and m.body[2]['k'].value == 2**64 - 1, m.body)
check('body bytes are the ones sent (not re-marshalled)', m.body_bytes == Message(raw).body_bytes)

# A method call claiming to come from the driver.
S.send_raw(build_message(METHOD_CALL, 10, None, 's', ['x'], raw_fields=[
    (F_PATH, 'o', '/h'), (F_INTERFACE, 's', 'com.example.H'), (F_MEMBER, 's', 'Call'),
    (F_DESTINATION, 's', L.unique_name), (F_SENDER, 's', 'org.freedesktop.DBus'), (F_SIGNATURE, 'g', 's')]))
m = L.recv()
check('call delivered', m.type == METHOD_CALL and m.member == 'Call' and m.body == ['x'], m)
check('forged driver sender replaced', m.sender == S.unique_name, m.fields)
check('destination kept', m.destination == L.unique_name, m.fields)
L.send_raw(build_message(METHOD_RETURN, 3, {F_REPLY_SERIAL: 10, F_DESTINATION: S.unique_name}, 's', ['answer']))
m = S.recv()
check('reply routed back', m.type == METHOD_RETURN and m.reply_serial == 10 and m.body == ['answer']
      and m.sender == L.unique_name, m)

# A unicast signal reaches its destination without any match rule, and nobody else.
O = Conn(addr); O.connect_bus()
O.driver('AddMatch', 's', ("type='signal'",))
drain(O)
S.send_raw(build_message(SIGNAL, 20, {F_PATH: '/u', F_INTERFACE: 'com.example.Unicast', F_MEMBER: 'U',
                                      F_DESTINATION: L.unique_name}))
m = L.recv()
check('unicast signal delivered', m.type == SIGNAL and m.member == 'U' and m.destination == L.unique_name, m)
check('unicast signal not broadcast', not any(x.member == 'U' for x in drain(O)))

# A burst keeps its order.
for i in range(200):
    S.send_raw(build_message(METHOD_CALL, 1000 + i, {F_PATH: '/h', F_MEMBER: 'Seq', F_DESTINATION: L.unique_name},
                             'u', [i], flags=NO_REPLY_EXPECTED))
got = [L.recv().body[0] for _ in range(200)]
check('order of a burst', got == list(range(200)), got[:10])

# The callee disconnects without replying: the caller gets NoReply from the bus.
X = Conn(addr); X.connect_bus(); drain(X)
serial = S.send_call(X.unique_name, '/x', 'com.example.X', 'M')
m = X.recv()
check('call reached X', m.type == METHOD_CALL and m.member == 'M', m)
X.close()
m = S.wait_reply(serial)
check('NoReply after the callee left', m.type == ERROR and m.error_name == 'org.freedesktop.DBus.Error.NoReply'
      and m.sender == 'org.freedesktop.DBus', m)
check('NoReply message', m.body == ['Message recipient disconnected from message bus without replying'], m.body)
# Calls to names nobody has.
m = S.call(X.unique_name, '/x', 'com.example.X', 'M')
check('call to a departed unique name', m.type == ERROR and m.error_name == 'org.freedesktop.DBus.Error.ServiceUnknown', m)
m = S.wait_reply(S.send_call('com.example.Nobody', '/x', 'com.example.X', 'M', flags=NO_AUTO_START))
# Without auto-start the bus does not look for a .service file: NameHasNoOwner.
check('NO_AUTO_START call to a missing name', m.type == ERROR and m.error_name == 'org.freedesktop.DBus.Error.NameHasNoOwner'
      and m.body == ['Name "com.example.Nobody" does not exist'], m)
m = S.call('com.example.Nobody', '/x', 'com.example.X', 'M')
check('auto-start call to a missing name', m.type == ERROR and m.error_name == 'org.freedesktop.DBus.Error.ServiceUnknown'
      and m.body == ['The name com.example.Nobody was not provided by any .service files'], m)

for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
EOF

pass
