#!/bin/bash
# The driver object /org/freedesktop/DBus beyond the core methods: Properties
# (Features, Interfaces, errors), Peer (Ping, GetMachineId), Introspectable,
# a second Hello, Monitoring, Debug.Stats, and the credential methods.
. "$(dirname "$0")/lib.sh"
need dbus-send python3-dbus

bus_start
# dbus-daemon offers Debug.Stats only when built with --enable-stats (Debian's is);
# nsbusd must always offer it.
if is_reference_daemon; then REQUIRE_STATS=0; else REQUIRE_STATS=1; fi

TMO=60 t $PY - "$IT_DIR" "$BUS_PID" "$REQUIRE_STATS" <<'EOF' || fail "driver scenario failed (see above)"
import os, re, sys
sys.path.insert(0, sys.argv[1])
from raw_client import *

bus_pid = int(sys.argv[2])
require_stats = sys.argv[3] == '1'
addr = os.environ['DBUS_SESSION_BUS_ADDRESS']
failures = []

def check(what, cond, detail=''):
    if not cond:
        failures.append('%s %s' % (what, detail))
    return cond

def is_error(m, name):
    return m.type == ERROR and m.error_name == name

c = Conn(addr)
c.auth()
# The SASL OK carries the guid that the address names.
check('SASL OK guid equals the address guid', 'guid=' + c.guid in addr, (c.guid, addr))
me = c.hello()
check('Hello returns a unique name', re.fullmatch(r':1\.[0-9]+', me), me)
first = c.recv()
check('NameAcquired(unique) follows Hello', first.type == SIGNAL and first.member == 'NameAcquired'
      and first.body == [me] and first.destination == me and first.sender == 'org.freedesktop.DBus', first)

# A second Hello is an error; the connection stays usable.
r = c.driver('Hello')
check('second Hello', is_error(r, 'org.freedesktop.DBus.Error.Failed'), r)
check('second Hello message', r.body == ['Already handled an Hello message'], r.body)
r = c.driver('GetId')
check('usable after a second Hello', r.type == METHOD_RETURN and re.fullmatch('[0-9a-f]{32}', r.body[0]), r)
bus_id = r.body[0]

# Properties on the driver.
P = 'org.freedesktop.DBus.Properties'
def prop(member, sig, args, path='/org/freedesktop/DBus'):
    return c.call('org.freedesktop.DBus', path, P, member, sig, args)
r = prop('Get', 'ss', ('org.freedesktop.DBus', 'Features'))
check('Get Features', r.type == METHOD_RETURN and r.signature == 'v' and r.body[0].sig == 'as', r)
features = r.body[0].value if r.type == METHOD_RETURN else []
check('Features has HeaderFiltering', 'HeaderFiltering' in features, features)
r = prop('Get', 'ss', ('org.freedesktop.DBus', 'Interfaces'))
check('Get Interfaces', r.type == METHOD_RETURN and r.body[0].sig == 'as', r)
interfaces = r.body[0].value if r.type == METHOD_RETURN else []
check('Interfaces has Monitoring', 'org.freedesktop.DBus.Monitoring' in interfaces, interfaces)
# The spec: the standard interfaces are implied, not listed.
for std in ('org.freedesktop.DBus', 'org.freedesktop.DBus.Peer', 'org.freedesktop.DBus.Introspectable',
            'org.freedesktop.DBus.Properties'):
    check('Interfaces does not list ' + std, std not in interfaces, interfaces)
r = prop('GetAll', 's', ('org.freedesktop.DBus',))
check('GetAll', r.type == METHOD_RETURN and r.signature == 'a{sv}', r)
if r.type == METHOD_RETURN:
    d = r.body[0]
    check('GetAll keys', set(d) == {'Features', 'Interfaces'}, d)
    check('GetAll Features', d['Features'].value == features, d)
    check('GetAll Interfaces', d['Interfaces'].value == interfaces, d)
r = prop('Get', 'ss', ('org.freedesktop.DBus', 'NoSuchProperty'))
check('Get unknown property', is_error(r, 'org.freedesktop.DBus.Error.UnknownProperty'), r)
r = prop('Get', 'ss', ('com.example.NoSuchInterface', 'Features'))
check('Get on unknown interface', is_error(r, 'org.freedesktop.DBus.Error.UnknownInterface'), r)
r = prop('Set', 'ssv', ('org.freedesktop.DBus', 'Features', Variant('as', ['x'])))
check('Set read-only property', is_error(r, 'org.freedesktop.DBus.Error.PropertyReadOnly'), r)
r = prop('Get', 's', ('org.freedesktop.DBus',))
check('Get with wrong signature', is_error(r, 'org.freedesktop.DBus.Error.InvalidArgs'), r)

# Peer works on any path.
for path in ('/org/freedesktop/DBus', '/'):
    r = c.call('org.freedesktop.DBus', path, 'org.freedesktop.DBus.Peer', 'Ping')
    check('Ping ' + path, r.type == METHOD_RETURN and r.signature == '' and r.body == [], r)
r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.Peer', 'GetMachineId')
check('GetMachineId', r.type == METHOD_RETURN and re.fullmatch('[0-9a-f]{32}', r.body[0]), r)
machine_id = None
for f in ('/etc/machine-id', '/var/lib/dbus/machine-id'):
    try:
        machine_id = open(f).read().strip()
        break
    except OSError:
        pass
if machine_id and r.type == METHOD_RETURN:
    check('GetMachineId is this machine', r.body[0] == machine_id, (r.body, machine_id))

# Introspectable: the driver describes itself.
r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.Introspectable', 'Introspect')
check('Introspect', r.type == METHOD_RETURN and r.signature == 's', r)
xml = r.body[0] if r.type == METHOD_RETURN else ''
for needle in ('<interface name="org.freedesktop.DBus">', '<interface name="org.freedesktop.DBus.Introspectable">',
               '<interface name="org.freedesktop.DBus.Peer">', '<interface name="org.freedesktop.DBus.Properties">',
               '<interface name="org.freedesktop.DBus.Monitoring">', '<method name="BecomeMonitor">',
               '<method name="RequestName">', '<method name="GetConnectionCredentials">',
               '<signal name="NameOwnerChanged">', '<property name="Features" type="as" access="read">',
               '<property name="Interfaces" type="as" access="read">'):
    check('Introspect has ' + needle, needle in xml)
check('Introspect is XML', xml.lstrip().startswith('<!DOCTYPE node') and xml.rstrip().endswith('</node>'), xml[:80])
for iface in interfaces:
    check('Introspect has listed interface ' + iface, '<interface name="%s">' % iface in xml)
# The root path shows the driver object as a child.
r = c.call('org.freedesktop.DBus', '/', 'org.freedesktop.DBus.Introspectable', 'Introspect')
check('Introspect /', r.type == METHOD_RETURN and '<node name="org/freedesktop/DBus"/>' in r.body[0], r)

# The core methods answer on any path too (dbus-daemon does not check the path).
r = c.call('org.freedesktop.DBus', '/', 'org.freedesktop.DBus', 'GetId')
check('GetId on /', r.type == METHOD_RETURN and r.body == [bus_id], r)
r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'com.example.Nope', 'GetId')
check('unknown interface', is_error(r, 'org.freedesktop.DBus.Error.UnknownInterface'), r)
r = c.driver('NoSuchMethod')
check('unknown method', is_error(r, 'org.freedesktop.DBus.Error.UnknownMethod'), r)
r = c.driver('GetNameOwner', 'u', (5,))
check('wrong argument type', is_error(r, 'org.freedesktop.DBus.Error.InvalidArgs'), r)
r = c.driver('GetNameOwner')
check('missing argument', is_error(r, 'org.freedesktop.DBus.Error.InvalidArgs'), r)

# Credentials of a peer and of the driver itself.
r = c.driver('GetConnectionUnixUser', 's', (me,))
check('GetConnectionUnixUser', r.type == METHOD_RETURN and r.body == [os.getuid()], r)
r = c.driver('GetConnectionUnixProcessID', 's', (me,))
check('GetConnectionUnixProcessID', r.type == METHOD_RETURN and r.body == [os.getpid()], r)
r = c.driver('GetConnectionCredentials', 's', (me,))
check('GetConnectionCredentials', r.type == METHOD_RETURN and r.signature == 'a{sv}', r)
if r.type == METHOD_RETURN:
    d = r.body[0]
    check('credentials UnixUserID', d.get('UnixUserID') and d['UnixUserID'].sig == 'u'
          and d['UnixUserID'].value == os.getuid(), d)
    check('credentials ProcessID', d.get('ProcessID') and d['ProcessID'].sig == 'u'
          and d['ProcessID'].value == os.getpid(), d)
    check('credentials UnixGroupIDs', d.get('UnixGroupIDs') and d['UnixGroupIDs'].sig == 'au'
          and sorted(d['UnixGroupIDs'].value) == sorted(set([os.getgid()] + os.getgroups())), d)
r = c.driver('GetConnectionUnixProcessID', 's', ('org.freedesktop.DBus',))
check('GetConnectionUnixProcessID(driver) is the daemon', r.type == METHOD_RETURN and r.body == [bus_pid], r)
r = c.driver('GetConnectionUnixUser', 's', ('org.freedesktop.DBus',))
check('GetConnectionUnixUser(driver)', r.type == METHOD_RETURN and r.body == [os.getuid()], r)
r = c.driver('GetConnectionCredentials', 's', ('org.freedesktop.DBus',))
check('GetConnectionCredentials(driver)', r.type == METHOD_RETURN and r.body[0]['ProcessID'].value == bus_pid, r)
for m in ('GetConnectionUnixUser', 'GetConnectionUnixProcessID', 'GetConnectionCredentials'):
    r = c.driver(m, 's', (':1.424242',))
    check(m + '(missing)', is_error(r, 'org.freedesktop.DBus.Error.NameHasNoOwner'), r)
r = c.driver('GetConnectionSELinuxSecurityContext', 's', (me,))
check('GetConnectionSELinuxSecurityContext without SELinux',
      is_error(r, 'org.freedesktop.DBus.Error.SELinuxSecurityContextUnknown'), r)
r = c.driver('GetAdtAuditSessionData', 's', (me,))
check('GetAdtAuditSessionData without audit', is_error(r, 'org.freedesktop.DBus.Error.AdtAuditDataUnknown'), r)
r = c.driver('ListActivatableNames')
check('ListActivatableNames', r.type == METHOD_RETURN and 'org.freedesktop.DBus' in r.body[0], r)
r = c.driver('StartServiceByName', 'su', ('com.example.NotActivatable', 0))
check('StartServiceByName(unknown)', is_error(r, 'org.freedesktop.DBus.Error.ServiceUnknown'), r)
r = c.driver('UpdateActivationEnvironment', 'a{ss}', ({'NSBUS_TEST': '1'},))
check('UpdateActivationEnvironment', r.type == METHOD_RETURN, r)
r = c.driver('ReloadConfig')
check('ReloadConfig', r.type == METHOD_RETURN, r)
r = c.driver('GetId')
check('GetId after ReloadConfig', r.type == METHOD_RETURN and r.body == [bus_id], r)

# Debug.Stats, when the bus offers it (dbus-daemon: only if built with --enable-stats).
if 'org.freedesktop.DBus.Debug.Stats' in interfaces:
    S = 'org.freedesktop.DBus.Debug.Stats'
    r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', S, 'GetStats')
    check('GetStats', r.type == METHOD_RETURN and r.signature == 'a{sv}', r)
    if r.type == METHOD_RETURN:
        st = r.body[0]
        check('GetStats Serial', 'Serial' in st and st['Serial'].sig == 'u', st)
        check('GetStats ActiveConnections', st.get('ActiveConnections') and st['ActiveConnections'].value >= 1, st)
    r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', S, 'GetConnectionStats', 's', (me,))
    check('GetConnectionStats', r.type == METHOD_RETURN and r.signature == 'a{sv}', r)
    if r.type == METHOD_RETURN:
        check('GetConnectionStats UniqueName', r.body[0].get('UniqueName') and r.body[0]['UniqueName'].value == me, r.body)
    r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', S, 'GetConnectionStats', 's', (':1.424242',))
    check('GetConnectionStats(missing)', is_error(r, 'org.freedesktop.DBus.Error.NameHasNoOwner'), r)
    c.driver('AddMatch', 's', ("type='signal',interface='com.example.Stats'",))
    r = c.call('org.freedesktop.DBus', '/org/freedesktop/DBus', S, 'GetAllMatchRules')
    check('GetAllMatchRules', r.type == METHOD_RETURN and r.signature == 'a{sas}', r)
    if r.type == METHOD_RETURN:
        rules = r.body[0].get(me, [])
        check('GetAllMatchRules lists our rule', any('com.example.Stats' in x for x in rules), r.body)
    print('Debug.Stats checked')
elif require_stats:
    check('Interfaces lists org.freedesktop.DBus.Debug.Stats', False, interfaces)
else:
    print('skipped: Debug.Stats (not in Interfaces: %r)' % (interfaces,))

# Monitoring.BecomeMonitor is covered by test-monitor-cannot-send; here only that it
# exists and turns the connection into a monitor.
m = Conn(addr); m.connect_bus()
r = m.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.Monitoring',
           'BecomeMonitor', 'asu', ([], 0))
check('BecomeMonitor', r.type == METHOD_RETURN, r)
c.driver('GetId')
seen = []
try:
    while True:
        seen.append(m.recv(2))
        if any(x.member == 'GetId' and x.type == METHOD_CALL for x in seen):
            break
except TimeoutError:
    pass
check('the monitor sees our GetId', any(x.member == 'GetId' and x.sender == me for x in seen), seen)

for f in failures:
    print('FAIL:', f)
sys.exit(1 if failures else 0)
EOF

pass
