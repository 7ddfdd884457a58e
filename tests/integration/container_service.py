#!/usr/bin/python3
"""A python3-dbus peer for the container tests: it owns a name and says who it is.

    container_service.py ADDRESS NAME INFO_FILE

It connects to ADDRESS (a private connection, not the session or system bus), owns NAME,
and then writes INFO_FILE (whole, by rename) with what the process knows about itself
from its own namespaces -- pid, uid, gid, groups, unique name -- as KEY=VALUE lines, so a
test can compare that with what the bus tells other callers.  It serves until the bus
drops it or it is killed.
"""

import os
import sys

import dbus
import dbus.bus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib


def main():
    address, name, info = sys.argv[1:4]
    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    ret = bus.request_name(name, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
    if ret != dbus.bus.REQUEST_NAME_REPLY_PRIMARY_OWNER:
        print('could not own %s: reply %d' % (name, ret), file=sys.stderr)
        return 1
    lines = ['pid=%d' % os.getpid(), 'uid=%d' % os.getuid(), 'gid=%d' % os.getgid(),
             'groups=%s' % ','.join(str(g) for g in sorted(os.getgroups())),
             'unique=%s' % bus.get_unique_name()]
    with open(info + '.tmp', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.rename(info + '.tmp', info)
    loop = GLib.MainLoop()
    bus.call_on_disconnection(lambda conn: loop.quit())
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
