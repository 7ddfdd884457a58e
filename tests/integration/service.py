#!/usr/bin/python3
"""A python3-dbus test service: echoes every D-Bus type, reads and makes unix fds,
and emits signals on request.

Run with /usr/bin/python3 (python3-dbus belongs to it).  It owns --name (default
org.nsbus.Test) on the session bus ($DBUS_SESSION_BUS_ADDRESS) and serves
/org/nsbus/Test with interface org.nsbus.Test.  Each Echo method has a fixed
signature, so the client's values cross the bus marshalled as exactly that type,
not as a variant.  Once the name is owned it prints "ready <unique name>" on stdout.
"""

import argparse
import os
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = 'org.nsbus.Test'
PATH = '/org/nsbus/Test'

# name -> signature of the Echo<name> methods; the client uses the same table.
ECHO_SIGNATURES = {
    'Byte': 'y', 'Boolean': 'b', 'Int16': 'n', 'UInt16': 'q', 'Int32': 'i', 'UInt32': 'u',
    'Int64': 'x', 'UInt64': 't', 'Double': 'd', 'String': 's', 'ObjectPath': 'o',
    'Signature': 'g', 'Variant': 'v',
    'AllBasic': 'ybnqiuxtdsog', 'AllButSignature': 'ybnqiuxtdso',
    'ArrayByte': 'ay', 'ArrayBoolean': 'ab', 'ArrayInt16': 'an', 'ArrayUInt16': 'aq',
    'ArrayInt32': 'ai', 'ArrayUInt32': 'au', 'ArrayInt64': 'ax', 'ArrayUInt64': 'at',
    'ArrayDouble': 'ad', 'ArrayString': 'as', 'ArrayObjectPath': 'ao',
    'ArraySignature': 'ag', 'ArrayVariant': 'av',
    'Struct': '(ybnqiuxtdsog)', 'NestedStruct': '(i(s(ay(d))))', 'ArrayOfStructs': 'a(is)',
    'DictSV': 'a{sv}', 'DictIS': 'a{is}', 'DictOfDicts': 'a{sa{sv}}', 'ArrayOfArrays': 'aai',
}


def _echo(name, sig):
    # dbus.service checks the signature against the function's parameter count,
    # so the method is built with one named parameter per complete type.
    n = len(list(dbus.Signature(sig)))
    params = ', '.join('a%d' % i for i in range(n))
    ns = {}
    exec('def %s(self, %s):\n    return %s\n' % (
        name, params, params if n == 1 else '(%s)' % params), ns)
    return dbus.service.method(IFACE, in_signature=sig, out_signature=sig)(ns[name])


class BaseService(dbus.service.Object):
    def __init__(self, bus, loop):
        super().__init__(bus, PATH)
        self.loop = loop

    @dbus.service.method(IFACE, in_signature='ii', out_signature='i')
    def Sum(self, a, b):
        return a + b

    @dbus.service.method(IFACE, in_signature='h', out_signature='s')
    def ReadFd(self, fd):
        # fd is a dbus.types.UnixFd: we own the duplicate it hands us.
        with os.fdopen(fd.take(), 'rb') as f:
            return f.read().decode()

    @dbus.service.method(IFACE, in_signature='ah', out_signature='as')
    def ReadFds(self, fds):
        out = []
        for fd in fds:
            with os.fdopen(fd.take(), 'rb') as f:
                out.append(f.read().decode())
        return out

    @dbus.service.method(IFACE, in_signature='ay', out_signature='ay', byte_arrays=True)
    def EchoBytes(self, data):
        # byte_arrays: the payload stays one bytes object instead of a list of Bytes.
        return data

    @dbus.service.method(IFACE, in_signature='s', out_signature='h')
    def MakeFd(self, content):
        r, w = os.pipe()
        os.write(w, content.encode())
        os.close(w)
        out = dbus.types.UnixFd(r)
        os.close(r)
        return out

    @dbus.service.method(IFACE, in_signature='s', out_signature='',
                         sender_keyword='sender')
    def Emit(self, text, sender=None):
        self.Pong(text)

    @dbus.service.signal(IFACE, signature='s')
    def Pong(self, text):
        pass

    @dbus.service.method(IFACE, in_signature='', out_signature='s',
                         sender_keyword='sender')
    def WhoAmI(self, sender=None):
        return sender

    @dbus.service.method(IFACE, in_signature='', out_signature='i')
    def Pid(self):
        return os.getpid()

    @dbus.service.method(IFACE, in_signature='s', out_signature='s')
    def GetEnv(self, name):
        return os.environ.get(name, '<unset>')

    @dbus.service.method(IFACE, in_signature='s', out_signature='',
                         async_callbacks=('ok', 'err'))
    def Fail(self, name, ok, err):
        err(dbus.DBusException('requested failure', name=name))

    @dbus.service.method(IFACE, in_signature='', out_signature='')
    def Quit(self):
        GLib.idle_add(self.loop.quit)


# dbus.service's metaclass exports the methods present when a class is created,
# so the generated Echo* methods go into the dict of a subclass.
Service = type(BaseService)('Service', (BaseService,), {
    'Echo' + n: _echo('Echo' + n, s) for n, s in ECHO_SIGNATURES.items()})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--name', default='org.nsbus.Test')
    ap.add_argument('--flags', type=int, default=dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
    args = ap.parse_args()
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    loop = GLib.MainLoop()
    service = Service(bus, loop)
    ret = bus.request_name(args.name, args.flags)
    if ret not in (dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER,
                   dbus.bus.REQUEST_NAME_REPLY_IN_QUEUE):
        print('could not own %s: reply %d' % (args.name, ret), file=sys.stderr)
        return 1
    print('ready', bus.get_unique_name(), flush=True)
    bus.call_on_disconnection(lambda conn: loop.quit())
    loop.run()
    del service
    return 0


if __name__ == '__main__':
    sys.exit(main())
