#!/usr/bin/python3
"""A python3-dbus service for the nsbusctl tests: it owns org.nsbus.CliTest on the session bus
($DBUS_SESSION_BUS_ADDRESS) and serves /org/nsbus/CliTest, interface org.nsbus.CliTest, with an echo
method per signature the tests use, a method that reads a passed fd, and three read-only properties
plus one writable one.  Prints "ready <unique name>" once the name is owned; "set NAME VALUE" when a
property is set."""

import os
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = 'org.nsbus.CliTest'
PATH = '/org/nsbus/CliTest'


class Service(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, PATH)
        self.props = {'Name': dbus.String('cli-test'), 'Count': dbus.UInt32(7),
                      'Tags': dbus.Array(['a', 'b'], signature='s'), 'Level': dbus.Int32(1)}

    @dbus.service.method(IFACE, in_signature='s', out_signature='s')
    def EchoString(self, v):
        return v

    @dbus.service.method(IFACE, in_signature='ai', out_signature='ai')
    def EchoInts(self, v):
        return v

    @dbus.service.method(IFACE, in_signature='a{sv}', out_signature='a{sv}')
    def EchoDict(self, v):
        return v

    @dbus.service.method(IFACE, in_signature='(is)', out_signature='(is)')
    def EchoStruct(self, v):
        return v

    @dbus.service.method(IFACE, in_signature='v', out_signature='v')
    def EchoVariant(self, v):
        return v

    @dbus.service.method(IFACE, in_signature='h', out_signature='s')
    def ReadFd(self, fd):
        with os.fdopen(fd.take(), 'rb') as f:
            return f.read().decode()

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature='ss', out_signature='v')
    def Get(self, iface, name):
        return self.props[name]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature='ssv', out_signature='')
    def Set(self, iface, name, value):
        self.props[name] = value
        print('set %s %s' % (name, value), flush=True)


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    Service(bus)
    bus.request_name('org.nsbus.CliTest', dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
    print('ready %s' % bus.get_unique_name(), flush=True)
    GLib.MainLoop().run()


if __name__ == '__main__':
    sys.exit(main())
