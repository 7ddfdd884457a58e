#!/usr/bin/python3
"""A connection whose connecting process exits before the bus even accepts it.

    early_exit_query.py ADDRESS CLAIM READY NAME

Connects (connect() completes in the listener's backlog while the bus does not run), forks,
and the parent (the process SO_PEERCRED and SO_PEERPIDFD name) exits at once.  The child,
which inherited the socket, waits until the parent is reaped, creates the file READY (the
test then lets the bus run), authenticates with `AUTH EXTERNAL <hex of CLAIM>`, says Hello
and prints `NAME.UnixProcessID=...` (GetConnectionUnixProcessID of NAME, or
ERROR:<name>).  Written from the specification; the wire part comes from raw_client.py.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_client import Conn, METHOD_RETURN  # noqa: E402


def main():
    address, claim, ready, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = Conn(address, timeout=20.0)
    if os.fork() > 0:
        os._exit(0)
    deadline = time.monotonic() + 10
    while os.getppid() != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    open(ready, 'w').close()
    c.auth(uid=claim)
    c.hello()
    r = c.driver('GetConnectionUnixProcessID', 's', (name,))
    print('%s.UnixProcessID=%s' % (name, r.body[0] if r.type == METHOD_RETURN else 'ERROR:' + r.error_name),
          flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
