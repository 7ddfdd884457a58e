#!/usr/bin/python3
"""A connection whose connecting process is gone asks the bus about peers.

    orphan_query.py ADDRESS CLAIM NAME...

Connects, authenticates with `AUTH EXTERNAL <hex of CLAIM>` and says Hello; then forks.
The parent (the process the kernel names as the connection's peer, SO_PEERCRED and
SO_PEERPIDFD) exits at once; the child, which inherited the socket, waits until the
parent is gone and reaped, then asks GetConnectionUnixProcessID and GetConnectionUnixUser
of each NAME on that connection and prints `NAME.UnixProcessID=...` and
`NAME.UnixUser=...` (ERROR:<name> for a failed call), then `done`.  The child's own
output is what the test reads; the parent prints `hello=<unique name>` before it forks.

What the bus answers shows which namespaces it holds for the connection: those of the
process that connected, read while it lived, or (if it read them only now) whatever it
assumes for a process that is gone.  Written from the specification; the wire part comes
from raw_client.py.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_client import Conn, METHOD_RETURN  # noqa: E402


def main():
    address, claim, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    c = Conn(address, timeout=10.0)
    c.auth(uid=claim)
    print('hello=%s' % c.hello(), flush=True)

    r, w = os.pipe()
    child = os.fork()
    if child > 0:
        os._exit(0)  # the connecting process ends; the socket lives on in the child

    os.close(w)
    os.read(r, 1)  # EOF once the parent has exited
    deadline = time.monotonic() + 10
    while os.getppid() != 1 and time.monotonic() < deadline:
        time.sleep(0.02)  # reparented: the parent is reaped, its pid free for anyone
    time.sleep(0.2)
    for name in names:
        for method in ('GetConnectionUnixProcessID', 'GetConnectionUnixUser'):
            rep = c.driver(method, 's', (name,))
            key = '%s.%s' % (name, method[len('GetConnection'):])
            print('%s=%s' % (key, rep.body[0] if rep.type == METHOD_RETURN else 'ERROR:' + rep.error_name),
                  flush=True)
    print('done', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
