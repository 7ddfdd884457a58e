#!/usr/bin/python3
"""The client the runtime hooks' tests run inside a container, fed on stdin (python3 - [host]): what the
container's bus, at /run/dbus/system_bus_socket, reports of this very client, as lines the test compares:

    pid <own pid> <GetConnectionUnixProcessID of itself>
    uid <own uid> <GetConnectionUnixUser of itself>
    buspid <GetConnectionUnixProcessID of the bus>
    host-uid <the uid org.example.Host on the host bus sees>     (with the argument "host" only)

With "host", it waits up to 10 s for the bridge to import org.example.Host, then calls its WhoAmI.
"""
import os
import sys
import time

import dbus

b = dbus.SystemBus()
d = dbus.Interface(b.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus'), 'org.freedesktop.DBus')
me = b.get_unique_name()
print('pid %d %d' % (os.getpid(), d.GetConnectionUnixProcessID(me)))
print('uid %d %d' % (os.getuid(), d.GetConnectionUnixUser(me)))
print('buspid %d' % d.GetConnectionUnixProcessID('org.freedesktop.DBus'))
if sys.argv[1:] == ['host']:
    for i in range(100):
        if d.NameHasOwner('org.example.Host'):
            break
        time.sleep(0.1)
    h = dbus.Interface(b.get_object('org.example.Host', '/org/example/Host'), 'org.example.Host')
    print('host-uid %d' % h.WhoAmI()[1])
