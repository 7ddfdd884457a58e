#!/usr/bin/python3
"""A service that a container bus activates inside the container: it says what it sees of itself.

    container_activated_service.py NAME

It connects to $DBUS_STARTER_ADDRESS (the bus as the container sees it), owns NAME and serves
/org/nsbus/Activated, interface org.nsbus.Activated:
    Whoami() -> s     KEY=VALUE lines, from its own namespaces: pid, ppid, uid, gid, groups,
                      cwd, hostname, root (the entries of / it sees), env (its environment's
                      keys), fds (each open descriptor and what it is)
    Quit()            exits
It prints one line on stdout when it owns the name (the bus's log shows it).
"""

import os
import sys

import dbus
import dbus.bus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = 'org.nsbus.Activated'


def fds():
    out = []
    for fd in sorted(int(f) for f in os.listdir('/proc/self/fd')):
        try:
            out.append('%d:%s' % (fd, os.readlink('/proc/self/fd/%d' % fd)))
        except OSError:
            pass  # the descriptor listdir() itself used
    return ' '.join(out)


class Service(dbus.service.Object):
    def __init__(self, bus, loop):
        super().__init__(bus, '/org/nsbus/Activated')
        self.loop = loop

    @dbus.service.method(IFACE, out_signature='s')
    def Whoami(self):
        lines = ['pid=%d' % os.getpid(), 'ppid=%d' % os.getppid(), 'uid=%d' % os.getuid(),
                 'gid=%d' % os.getgid(),
                 'groups=%s' % ','.join(str(g) for g in sorted(os.getgroups())),
                 'cwd=%s' % os.getcwd(), 'hostname=%s' % os.uname().nodename,
                 'root=%s' % ','.join(sorted(os.listdir('/'))),
                 'env=%s' % ','.join(sorted(os.environ)), 'fds=%s' % fds()]
        lines += ['%s=%s' % (k, v) for k, v in sorted(os.environ.items())
                  if k.startswith('DBUS_') or k.startswith('NSBUS_') or k == 'PATH']
        return '\n'.join(lines)

    @dbus.service.method(IFACE)
    def Quit(self):
        GLib.idle_add(self.loop.quit)


def main():
    name = sys.argv[1]
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(os.environ['DBUS_STARTER_ADDRESS'])
    loop = GLib.MainLoop()
    Service(bus, loop)
    if bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE) != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
        print('could not own %s' % name, file=sys.stderr)
        return 1
    print('%s is here, pid %d' % (name, os.getpid()), flush=True)
    bus.call_on_disconnection(lambda conn: loop.quit())
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
