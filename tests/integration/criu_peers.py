#!/usr/bin/python3
"""python3-dbus peers for the CRIU test: a service, and clients of it.

    criu_peers.py service ADDRESS NAME INFO_FILE
    criu_peers.py client ADDRESS NAME ARG
    criu_peers.py call ADDRESS NAME ARG

service owns NAME, listens to the signal org.nsbus.CriuTest.Ping (a match rule) and serves
/org/nsbus/CriuTest: Slow(s) answers 'slow:ARG' after SLOW_SECONDS, during which it reads
nothing, Echo(s) answers 'echo:ARG' at once. It writes INFO_FILE (whole, by rename) with unique=<its unique name> once it owns
NAME, and prints a line on stdout for each call ('got Slow ARG') and signal ('signal Ping ARG').

client calls Slow(ARG) on NAME and waits up to two minutes: a checkpoint and restore happen
while it waits. call calls Echo(ARG). Both print 'reply VALUE', or 'error NAME: TEXT' and
exit 1. Every line is flushed at once: stdout is a file the test reads while they run.
"""

import os
import sys
import time

import dbus
import dbus.bus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = 'org.nsbus.CriuTest'
PATH = '/org/nsbus/CriuTest'
SLOW_SECONDS = 8


def say(*words):
    print(*words, flush=True)


class Service(dbus.service.Object):
    @dbus.service.method(IFACE, in_signature='s', out_signature='s')
    def Slow(self, arg):
        # Blocking on purpose: while it sleeps the service reads nothing, so what the bus sends it
        # meanwhile waits unread on its connection.
        say('got Slow', arg)
        time.sleep(SLOW_SECONDS)
        return 'slow:' + arg

    @dbus.service.method(IFACE, in_signature='s', out_signature='s')
    def Echo(self, arg):
        return 'echo:' + arg


def serve(address, name, info):
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    bus.add_signal_receiver(lambda arg: say('signal Ping', arg), signal_name='Ping', dbus_interface=IFACE)
    Service(bus, PATH)
    ret = bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
    if ret != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
        say('could not own %s: reply %d' % (name, ret))
        return 1
    with open(info + '.tmp', 'w') as f:
        f.write('unique=%s\n' % bus.get_unique_name())
    os.rename(info + '.tmp', info)
    loop = GLib.MainLoop()
    bus.call_on_disconnection(lambda conn: loop.quit())
    loop.run()
    say('disconnected')
    return 0


def call(address, name, method, arg, timeout):
    bus = dbus.bus.BusConnection(address)
    proxy = bus.get_object(name, PATH, introspect=False)
    try:
        say('reply', proxy.get_dbus_method(method, IFACE)(arg, timeout=timeout))
    except dbus.DBusException as e:
        say('error %s: %s' % (e.get_dbus_name(), e.get_dbus_message()))
        return 1
    return 0


def main():
    what, address, name, arg = sys.argv[1:5]
    if what == 'service':
        return serve(address, name, arg)
    if what == 'client':
        return call(address, name, 'Slow', arg, 120)
    if what == 'call':
        return call(address, name, 'Echo', arg, 20)
    raise SystemExit('unknown command ' + what)


if __name__ == '__main__':
    sys.exit(main())
