#!/usr/bin/python3
"""Ask the bus driver about peers, as python3-dbus sees the answers, for the container tests.

    container_query.py ADDRESS [NAME | kill:NAME]...

Prints KEY=VALUE lines.  First about the caller itself, which shows what identity the bus
accepted from this process's SASL EXTERNAL and its credentials:
    self.uid, self.pid          os.getuid() / os.getpid() in the caller's namespaces
    self.unique                 its unique name
    self.UnixUser, self.UnixProcessID      the driver's answers about that unique name
    getid, listnames            GetId, and ListNames joined with ','
Then for every NAME (N = NAME):
    N.UnixUser, N.UnixProcessID            GetConnectionUnixUser / GetConnectionUnixProcessID
    N.UnixUserID, N.ProcessID, N.UnixGroupIDs (joined with ',')   from GetConnectionCredentials
    N.ProcessFD=absent, or N.ProcessFD=present with N.ProcessFD.Pid and N.ProcessFD.NSpid:
        the Pid: and NSpid: lines of /proc/self/fdinfo/FD for the received fd -- a pidfd
        names its process there, in the pid namespace of the /proc being read
    N.keys                      every key of the credentials dict, sorted
    kill:NAME                   ask for NAME's ProcessFD again and send SIGTERM through it
                                (pidfd_send_signal); prints NAME.killed=1
A failed call prints the key with ERROR:<error name> as the value.
"""

import os
import signal
import sys

import dbus
import dbus.bus

DRIVER = ('org.freedesktop.DBus', '/org/freedesktop/DBus')


def fdinfo(fd):
    out = {}
    with open('/proc/self/fdinfo/%d' % fd) as f:
        for line in f:
            k, _, v = line.partition(':')
            out[k.strip()] = ' '.join(v.split())
    return out


def main():
    address, names = sys.argv[1], sys.argv[2:]
    bus = dbus.bus.BusConnection(address)
    drv = dbus.Interface(bus.get_object(*DRIVER, introspect=False), 'org.freedesktop.DBus')
    out = []

    def ask(key, fn, *args):
        try:
            value = fn(*args)
        except dbus.DBusException as e:
            out.append('%s=ERROR:%s' % (key, e.get_dbus_name()))
            return None
        if isinstance(value, (int, str)):
            out.append('%s=%s' % (key, value))
        return value

    me = bus.get_unique_name()
    out += ['self.uid=%d' % os.getuid(), 'self.pid=%d' % os.getpid(), 'self.unique=%s' % me]
    ask('self.UnixUser', drv.GetConnectionUnixUser, me)
    ask('self.UnixProcessID', drv.GetConnectionUnixProcessID, me)
    ask('getid', drv.GetId)
    listed = ask('listnames', drv.ListNames)
    if listed is not None:
        out.append('listnames=%s' % ','.join(sorted(listed)))
    for n in names:
        if n.startswith('kill:'):
            n = n[5:]
            creds = ask(n + '.Credentials', drv.GetConnectionCredentials, n)
            if creds is not None and 'ProcessFD' in creds:
                fd = creds['ProcessFD'].take()
                signal.pidfd_send_signal(fd, signal.SIGTERM)
                os.close(fd)
                out.append('%s.killed=1' % n)
            continue
        ask(n + '.UnixUser', drv.GetConnectionUnixUser, n)
        ask(n + '.UnixProcessID', drv.GetConnectionUnixProcessID, n)
        creds = ask(n + '.Credentials', drv.GetConnectionCredentials, n)
        if creds is None:
            continue
        out.append('%s.keys=%s' % (n, ','.join(sorted(creds))))
        for k in ('UnixUserID', 'ProcessID'):
            if k in creds:
                out.append('%s.%s=%d' % (n, k, creds[k]))
        if 'UnixGroupIDs' in creds:
            out.append('%s.UnixGroupIDs=%s' % (n, ','.join(str(g) for g in creds['UnixGroupIDs'])))
        if 'ProcessFD' in creds:
            out.append('%s.ProcessFD=present' % n)
            fd = creds['ProcessFD'].take()
            info = fdinfo(fd)
            out.append('%s.ProcessFD.Pid=%s' % (n, info.get('Pid', 'none')))
            out.append('%s.ProcessFD.NSpid=%s' % (n, info.get('NSpid', 'none')))
            os.close(fd)
        else:
            out.append('%s.ProcessFD=absent' % n)
    print('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
