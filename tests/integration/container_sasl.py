#!/usr/bin/python3
"""SASL EXTERNAL by hand, for the container tests: which uid claims does the bus accept?

    container_sasl.py ADDRESS CLAIM...

On one connection, sends `AUTH EXTERNAL <hex of CLAIM>` for each CLAIM in turn (an empty
CLAIM sends `AUTH EXTERNAL` with no initial response and answers the server's DATA
challenge with an empty DATA, which means "whoever the kernel says I am") and prints
`claim=CLAIM reply=<the server's line>`.  It stops at the first OK, sends BEGIN and Hello,
and prints `hello=<unique name>` and `bus_uid=<GetConnectionUnixUser of itself>`.  After
the last CLAIM without an OK it prints `no-ok`.  Written from the specification
("Authentication Protocol"); the wire part comes from raw_client.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_client import Conn, METHOD_RETURN  # noqa: E402


def main():
    address, claims = sys.argv[1], sys.argv[2:]
    c = Conn(address, timeout=10.0)
    c.sock.sendall(b'\0')
    for claim in claims:
        if claim:
            c.sock.sendall(b'AUTH EXTERNAL ' + claim.encode().hex().encode() + b'\r\n')
        else:
            c.sock.sendall(b'AUTH EXTERNAL\r\n')
        line = c.read_line()
        if not claim and line.startswith(b'DATA'):
            c.sock.sendall(b'DATA\r\n')
            line = c.read_line()
        print('claim=%s reply=%s' % (claim, line.decode(errors='replace')), flush=True)
        if line.startswith(b'OK '):
            break
    else:
        print('no-ok')
        return 0
    c.sock.sendall(b'BEGIN\r\n')
    me = c.hello()
    print('hello=%s' % me)
    r = c.driver('GetConnectionUnixUser', 's', (me,))
    print('bus_uid=%s' % (r.body[0] if r.type == METHOD_RETURN else 'ERROR:%s' % r.error_name))
    return 0


if __name__ == '__main__':
    sys.exit(main())
