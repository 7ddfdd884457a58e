#!/usr/bin/python3
"""The process of the bench's CRIU rows: N python3-dbus connections to the container bus, or none.

    criu_holder.py ADDRESS N NAMED INFO LOG

With N > 0 it opens N connections to ADDRESS (dbus.bus.BusConnection: each says Hello), adds one match
rule on each (type='signal',interface='org.nsbus.BenchCriu',member='Check',path='/org/nsbus/BenchCriu'),
and the first NAMED request a well-known name each (org.nsbus.BenchCriu.Peer<i>, DO_NOT_QUEUE). With
N = 0 it does nothing of that but imports and sets up the same modules and main loop, so the two cases
differ only by the connections.

It writes INFO (whole, by rename) once ready: a line 'unique <name>' per connection, 'owner <name>
<unique>' per well-known name, then 'ready'. Then it runs a GLib main loop:
- signal Check(TOKEN), received through a match rule: each connection that gets it asks the bus
  GetNameOwner(its own unique name); once all N have the right answer it writes 'checked TOKEN N' to LOG.
  A connection that gets an error or is disconnected writes 'error ...' or 'disconnected ...' there.
- SIGUSR1: it writes 'alive' to LOG (the proof, in both cases, that the restored process runs its code).
Every LOG line is flushed at once: the bench reads LOG while it runs.
"""

import os
import signal
import sys

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = 'org.nsbus.BenchCriu'
PATH = '/org/nsbus/BenchCriu'
DRIVER = ('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus')


def main():
    address, n, named, info, log_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    log = open(log_path, 'a', buffering=1)

    def say(*words):
        print(*words, file=log, flush=True)

    DBusGMainLoop(set_as_default=True)
    loop = GLib.MainLoop()
    conns, lines = [], []
    answered = {}  # token -> connections that got the right answer

    def on_check(bus, token):
        unique = bus.get_unique_name()

        def reply(owner):
            if owner != unique:
                say('error', unique, 'GetNameOwner answered', owner)
                return
            got = answered.setdefault(token, set())
            got.add(unique)
            if len(got) == n:
                say('checked', token, n)

        bus.call_async(*DRIVER, 'GetNameOwner', 's', (unique,), reply,
                       lambda e: say('error', unique, e.get_dbus_name(), e.get_dbus_message()))

    for i in range(n):
        bus = dbus.bus.BusConnection(address)
        bus.add_signal_receiver(lambda token, bus=bus: on_check(bus, str(token)), signal_name='Check',
                                dbus_interface=IFACE, path=PATH)
        bus.call_on_disconnection(lambda c, u=bus.get_unique_name(): say('disconnected', u))
        lines.append('unique %s' % bus.get_unique_name())
        if i < named:
            name = '%s.Peer%d' % (IFACE, i)
            if bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE) != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
                say('error could not own', name)
                return 1
            lines.append('owner %s %s' % (name, bus.get_unique_name()))
        conns.append(bus)

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, lambda: say('alive') or True)
    with open(info + '.tmp', 'w') as f:
        f.write('\n'.join(lines + ['ready']) + '\n')
    os.rename(info + '.tmp', info)
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
