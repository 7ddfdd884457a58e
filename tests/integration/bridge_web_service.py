#!/usr/bin/python3
"""A container service for the bridge's export tests.

    bridge_web_service.py ADDRESS INFO_FILE [NAME]

Owns NAME (default com.example.Web) and serves interface com.example.Web at /com/example/Web:
    Creds() -> (s sender, a{sv} creds)   the caller's unique name on this bus and what the bus says
        about it (GetConnectionCredentials); a ProcessFD in the answer comes back as the string
        "present", with the Pid: line of its fdinfo as "ProcessFD.Pid"
    Pid() -> u                           this process's own getpid()
Writes INFO_FILE (pid=, unique=) once it owns the name; serves until the bus drops it.
"""

import os
import sys

import dbus
import dbus.bus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = 'com.example.Web'


class Web(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, '/com/example/Web')
        self.bus = bus
        self.drv = dbus.Interface(bus.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                                 introspect=False), 'org.freedesktop.DBus')

    @dbus.service.method(IFACE, in_signature='', out_signature='sa{sv}', sender_keyword='sender')
    def Creds(self, sender=None):
        creds = self.drv.GetConnectionCredentials(sender)
        out = dbus.Dictionary({}, signature='sv')
        for k, v in creds.items():
            if k == 'ProcessFD':
                fd = v.take()
                pid = 'none'
                with open('/proc/self/fdinfo/%d' % fd) as f:
                    for line in f:
                        if line.startswith('Pid:'):
                            pid = line.split()[1]
                os.close(fd)
                out['ProcessFD'] = dbus.String('present', variant_level=1)
                out['ProcessFD.Pid'] = dbus.String(pid, variant_level=1)
            else:
                out[k] = v
        return sender, out

    @dbus.service.method(IFACE, in_signature='', out_signature='u')
    def Pid(self):
        return os.getpid()


def main():
    address, info = sys.argv[1:3]
    name = sys.argv[3] if len(sys.argv) > 3 else 'com.example.Web'
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    web = Web(bus)
    ret = bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
    if ret != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
        print('could not own %s: reply %d' % (name, ret), file=sys.stderr)
        return 1
    with open(info + '.tmp', 'w') as f:
        f.write('pid=%d\nunique=%s\n' % (os.getpid(), bus.get_unique_name()))
    os.rename(info + '.tmp', info)
    loop = GLib.MainLoop()
    bus.call_on_disconnection(lambda conn: loop.quit())
    loop.run()
    del web
    return 0


if __name__ == '__main__':
    sys.exit(main())
