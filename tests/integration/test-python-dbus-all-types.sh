#!/bin/bash
# python3-dbus client and service exchange every D-Bus type through the bus, with
# limits, empty containers, nesting, big payloads and unix fds, and get back exactly
# what they sent (values and types).
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start
spawn $PY "$IT_DIR/service.py" --name org.nsbus.Test >"$TMP/svc.out"
wait_for_name org.nsbus.Test

TMO=120 t $PY - "$IT_DIR" "$TMP" <<'EOF' || fail "type round trips failed (see above)"
import math, os, sys
sys.path.insert(0, sys.argv[1])
import dbus
from service import ECHO_SIGNATURES

tmp = sys.argv[2]
bus = dbus.SessionBus()
obj = bus.get_object('org.nsbus.Test', '/org/nsbus/Test')
svc = dbus.Interface(obj, 'org.nsbus.Test')
failures = []
checked = [0]

def same(a, b):
    """Equal values of the same dbus type, recursively (NaN equals NaN, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if getattr(a, 'variant_level', 0) != getattr(b, 'variant_level', 0):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dbus.Dictionary):
        return (a.signature == b.signature and a.keys() == b.keys()
                and all(same(a[k], b[k]) for k in a))
    if isinstance(a, (dbus.Array, dbus.Struct)):
        if isinstance(a, dbus.Array) and a.signature != b.signature:
            return False
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b

def echo(name, value):
    method = getattr(svc, 'Echo' + name)
    try:
        got = method(value)
    except dbus.DBusException as e:
        failures.append('%s(%r): %s' % (name, value, e))
        return
    checked[0] += 1
    if not same(got, value):
        failures.append('%s: sent %r (%s), got %r (%s)' % (name, value, type(value).__name__,
                                                           got, type(got).__name__))

A = dbus.Array
S = dbus.Struct
D = dbus.Dictionary
inf = float('inf')

basic = {
    'Byte': [dbus.Byte(0), dbus.Byte(1), dbus.Byte(255)],
    'Boolean': [dbus.Boolean(True), dbus.Boolean(False)],
    'Int16': [dbus.Int16(-32768), dbus.Int16(0), dbus.Int16(32767)],
    'UInt16': [dbus.UInt16(0), dbus.UInt16(65535)],
    'Int32': [dbus.Int32(-2**31), dbus.Int32(-1), dbus.Int32(2**31 - 1)],
    'UInt32': [dbus.UInt32(0), dbus.UInt32(2**32 - 1)],
    'Int64': [dbus.Int64(-2**63), dbus.Int64(2**63 - 1)],
    'UInt64': [dbus.UInt64(0), dbus.UInt64(2**64 - 1)],
    'Double': [dbus.Double(x) for x in (0.0, -0.0, -1.5, 1.7976931348623157e308, 5e-324,
                                        2.2250738585072014e-308, inf, -inf, float('nan'))],
    'String': [dbus.String(x) for x in ('', 'hello', 'üñíçødé ✓ 𝄞 \u4e2d\u6587', '\x01\x7f tab\t nl\n',
                                        'x' * 300000)],
    'ObjectPath': [dbus.ObjectPath(x) for x in ('/', '/org/nsbus/Test_1/x9', '/' + '/'.join(['a'] * 500))],
    'Signature': [dbus.Signature(x) for x in ('', 'a{sv}', '(ybnqiuxtdsoghv)', 'a' * 32 + 'y',
                                              '(' * 32 + 'i' + ')' * 32, 'y' * 255)],
}
for name, values in basic.items():
    for v in values:
        echo(name, v)
        # Each basic type inside a variant, as well.
        echo('Variant', type(v)(v, variant_level=1))
    echo('Array' + name, A(values, signature=ECHO_SIGNATURES[name]))
    echo('Array' + name, A([], signature=ECHO_SIGNATURES[name]))

maxs = S((dbus.Byte(255), dbus.Boolean(True), dbus.Int16(-32768), dbus.UInt16(65535), dbus.Int32(-2**31),
          dbus.UInt32(2**32 - 1), dbus.Int64(-2**63), dbus.UInt64(2**64 - 1), dbus.Double(-0.5),
          dbus.String('s\u00e9'), dbus.ObjectPath('/p'), dbus.Signature('a(ii)')), signature='ybnqiuxtdsog')
echo('Struct', maxs)
args = tuple(maxs)
got = svc.EchoAllBasic(*args)
checked[0] += 1
if not (isinstance(got, tuple) and len(got) == 12 and all(same(a, b) for a, b in zip(got, args))):
    failures.append('AllBasic: sent %r, got %r' % (args, got))
echo('NestedStruct', S((dbus.Int32(1), S((dbus.String('two'), S((A([dbus.Byte(3)], signature='y'),
     S((dbus.Double(4.0),), signature='d')), signature='ay(d)')), signature='s(ay(d))')), signature='i(s(ay(d)))'))
echo('ArrayOfStructs', A([S((dbus.Int32(i), dbus.String(str(i))), signature='is') for i in range(50)], signature='(is)'))
echo('ArrayOfStructs', A([], signature='(is)'))
echo('ArrayOfArrays', A([A([dbus.Int32(1), dbus.Int32(2)], signature='i'), A([], signature='i')], signature='ai'))
echo('ArrayOfArrays', A([], signature='ai'))
echo('DictIS', D({dbus.Int32(-1): dbus.String('minus'), dbus.Int32(7): dbus.String('')}, signature='is'))
echo('DictIS', D({}, signature='is'))
echo('DictSV', D({}, signature='sv'))
echo('DictSV', D({
    dbus.String('y'): dbus.Byte(9, variant_level=1),
    dbus.String('b'): dbus.Boolean(False, variant_level=1),
    dbus.String('t'): dbus.UInt64(2**64 - 1, variant_level=1),
    dbus.String('d'): dbus.Double(2.5, variant_level=1),
    dbus.String('s'): dbus.String('str', variant_level=1),
    dbus.String('o'): dbus.ObjectPath('/x', variant_level=1),
    dbus.String('g'): dbus.Signature('v', variant_level=1),
    dbus.String('as'): A([dbus.String('a'), dbus.String('b')], signature='s', variant_level=1),
    dbus.String('empty'): A([], signature='i', variant_level=1),
    dbus.String('struct'): S((dbus.Int32(1), dbus.String('x')), signature='is', variant_level=1),
    dbus.String('dict'): D({dbus.String('k'): dbus.Int32(1, variant_level=1)}, signature='sv', variant_level=1),
    dbus.String('vv'): dbus.Int32(5, variant_level=2),
    dbus.String('vvvv'): dbus.String('deep', variant_level=4),
}, signature='sv'))
echo('DictOfDicts', D({dbus.String('a'): D({dbus.String('x'): dbus.Int16(-3, variant_level=1)}, signature='sv'),
                       dbus.String('b'): D({}, signature='sv')}, signature='sa{sv}'))
# Nested variants: a variant holding a variant ... holding an int32.
for depth in (1, 2, 3, 10, 30):
    echo('Variant', dbus.Int32(depth, variant_level=depth))
echo('Variant', A([dbus.Int32(1, variant_level=1), dbus.String('two', variant_level=1)], signature='v',
                  variant_level=1))
echo('ArrayVariant', A([dbus.Byte(1, variant_level=1), dbus.Int64(-1, variant_level=2)], signature='v'))

# A large byte array, compared as bytes.
big = os.urandom(4 * 1024 * 1024)
got = svc.EchoBytes(dbus.ByteArray(big), byte_arrays=True)
checked[0] += 1
if bytes(got) != big:
    failures.append('EchoBytes: 4 MiB payload came back different (%d bytes)' % len(got))
got = svc.EchoBytes(dbus.ByteArray(b''), byte_arrays=True)
if bytes(got) != b'':
    failures.append('EchoBytes: empty payload came back as %r' % got)

# Unix fds: a pipe and a regular file to the service, which reads through them ...
r, w = os.pipe()
os.write(w, b'through a pipe')
os.close(w)
got = svc.ReadFd(dbus.types.UnixFd(r))
os.close(r)
checked[0] += 1
if got != 'through a pipe':
    failures.append('ReadFd(pipe) returned %r' % got)
path = os.path.join(tmp, 'fdfile')
with open(path, 'w') as f:
    f.write('through a file')
fd = os.open(path, os.O_RDONLY)
got = svc.ReadFd(dbus.types.UnixFd(fd))
os.close(fd)
if got != 'through a file':
    failures.append('ReadFd(file) returned %r' % got)
# ... several in one message ...
pipes = []
for i in range(5):
    r, w = os.pipe()
    os.write(w, b'pipe %d' % i)
    os.close(w)
    pipes.append(r)
got = svc.ReadFds(A([dbus.types.UnixFd(p) for p in pipes], signature='h'))
for p in pipes:
    os.close(p)
if list(got) != ['pipe %d' % i for i in range(5)]:
    failures.append('ReadFds returned %r' % got)
# ... and one made by the service, which we read through.
got = svc.MakeFd('made by the service')
checked[0] += 1
with os.fdopen(got.take(), 'rb') as f:
    data = f.read()
if data != b'made by the service':
    failures.append('MakeFd: read %r' % data)

print('%d round trips checked' % checked[0])
for f in failures:
    print('FAIL:', f[:400])
sys.exit(1 if failures else 0)
EOF

pass
