#!/usr/bin/python3
"""Host-side services for the bridge tests, on the host bus.

    bridge_host_service.py ADDRESS INFO_FILE NAME...

Each NAME is owned on a connection of its own, so that a signal's sender owns exactly one name and
the bridge's policy for that name alone decides whether the container hears it.  Once every name is
owned, INFO_FILE gets NAME=UNIQUE lines, pid=, and a last line "ready".

org.example.Host, interface org.example.Host at /org/example/Host:
    Echo<Type>      every signature of service.py's ECHO_SIGNATURES, returned as received
    EchoBytes(ay)   a byte array, kept as bytes
    ReadFd(h) -> s  what the fd reads until EOF
    WriteFd(h, s)   writes s into the fd and closes it
    MakeFd(s) -> h  a pipe's read end that yields s
    Fail(s)         raises org.example.Error.Failed with the message s
    Slow(s) -> s    returns s after 2 s, answered from a timer (the service keeps serving meanwhile)
    WhoAmI() -> (s, u, a{sv})   the caller's unique name on this bus, the bus's GetConnectionUnixUser
                    for it, and its GetConnectionCredentials (without ProcessFD)
    Emit(s member, s text)      emits org.example.Host.<member>(text) from /org/example/Host
    EmitOther(a(ssss))          (interface, member, path, text): org.example.Other's connection emits
                    each of these signals, in order, before the call returns
org.example.Other, org.example.Visible, org.example.Hidden (any other name too): interface NAME at
    /org/example/<Last> and at /org/example/Secret, with Get() -> s "NAME:PATH" and Set(s) -> s "set:s".
"""

import os
import sys

import dbus
import dbus.bus
import dbus.lowlevel
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service import ECHO_SIGNATURES  # noqa: E402  the table test-python-dbus-all-types.sh uses

HOST = 'org.example.Host'
HOST_PATH = '/org/example/Host'
connections = {}  # name -> its BusConnection


def _echo(name, sig):
    # dbus.service checks the signature against the parameter count: one parameter per complete type.
    n = len(list(dbus.Signature(sig)))
    params = ', '.join('a%d' % i for i in range(n))
    ns = {}
    exec('def %s(self, %s):\n    return %s\n' % (name, params, params if n == 1 else '(%s)' % params), ns)
    return dbus.service.method(HOST, in_signature=sig, out_signature=sig)(ns[name])


def emit(conn, interface, member, path, text):
    msg = dbus.lowlevel.SignalMessage(path, interface, member)
    msg.append(text, signature='s')
    conn.send_message(msg)


class BaseHost(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, HOST_PATH)
        self.bus = bus

    @dbus.service.method(HOST, in_signature='ay', out_signature='ay', byte_arrays=True)
    def EchoBytes(self, data):
        return data

    @dbus.service.method(HOST, in_signature='h', out_signature='s')
    def ReadFd(self, fd):
        with os.fdopen(fd.take(), 'rb') as f:
            return f.read().decode()

    @dbus.service.method(HOST, in_signature='hs', out_signature='')
    def WriteFd(self, fd, text):
        with os.fdopen(fd.take(), 'wb') as f:
            f.write(text.encode())

    @dbus.service.method(HOST, in_signature='s', out_signature='h')
    def MakeFd(self, content):
        r, w = os.pipe()
        os.write(w, content.encode())
        os.close(w)
        out = dbus.types.UnixFd(r)
        os.close(r)
        return out

    @dbus.service.method(HOST, in_signature='s', out_signature='')
    def Fail(self, message):
        raise dbus.DBusException(message, name='org.example.Error.Failed')

    @dbus.service.method(HOST, in_signature='s', out_signature='s', async_callbacks=('ok', 'err'))
    def Slow(self, text, ok, err):
        def answer():
            ok(text)
            return False
        GLib.timeout_add(2000, answer)

    @dbus.service.method(HOST, in_signature='', out_signature='sua{sv}', sender_keyword='sender')
    def WhoAmI(self, sender=None):
        drv = dbus.Interface(self.bus.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                                 introspect=False), 'org.freedesktop.DBus')
        uid = drv.GetConnectionUnixUser(sender)
        creds = drv.GetConnectionCredentials(sender)
        out = dbus.Dictionary({}, signature='sv')
        for k, v in creds.items():
            if k != 'ProcessFD':
                out[k] = v
        return sender, uid, out

    @dbus.service.method(HOST, in_signature='ss', out_signature='')
    def Emit(self, member, text):
        emit(self.bus, HOST, member, HOST_PATH, text)

    @dbus.service.method(HOST, in_signature='a(ssss)', out_signature='')
    def EmitOther(self, signals):
        conn = connections['org.example.Other']
        for interface, member, path, text in signals:
            emit(conn, interface, member, path, text)
        conn.flush()


Host = type(BaseHost)('Host', (BaseHost,), {
    'Echo' + n: _echo('Echo' + n, s) for n, s in ECHO_SIGNATURES.items()})


def simple_class(iface):
    def get(self, path=None):
        return '%s:%s' % (iface, path)

    def set_(self, value):
        return 'set:%s' % value

    # The exported member names are the functions' names; dbus.service keys its tables by class name.
    get.__name__, set_.__name__ = 'Get', 'Set'
    body = {
        'Get': dbus.service.method(iface, in_signature='', out_signature='s', path_keyword='path')(get),
        'Set': dbus.service.method(iface, in_signature='s', out_signature='s')(set_),
    }
    return type(dbus.service.Object)('Simple_' + iface.replace('.', '_'), (dbus.service.Object,), body)


def main():
    address, info, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    DBusGMainLoop(set_as_default=True)
    loop = GLib.MainLoop()
    objects = []
    lines = ['pid=%d' % os.getpid()]
    for name in names:
        bus = dbus.bus.BusConnection(address)
        connections[name] = bus
        if name == HOST:
            objects.append(Host(bus))
        else:
            cls = simple_class(name)
            for path in ('/org/example/' + name.rsplit('.', 1)[-1], '/org/example/Secret'):
                objects.append(cls(bus, path))
        ret = bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
        if ret != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
            print('could not own %s: reply %d' % (name, ret), file=sys.stderr)
            return 1
        bus.call_on_disconnection(lambda conn: loop.quit())
        lines.append('%s=%s' % (name, bus.get_unique_name()))
    lines.append('ready')
    with open(info + '.tmp', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.rename(info + '.tmp', info)
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
