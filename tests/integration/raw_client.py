"""A raw D-Bus client for the integration tests: our own SASL and hand-marshalled messages.

The malformed-input, driver and scale tests need to send bytes that no client library
would produce (bad headers, unterminated strings, lies about lengths, a second Hello) and
to open thousands of connections cheaply, so this module speaks the wire protocol itself
on an AF_UNIX socket.  It deliberately shares no code with nsbusd: it is written from the
D-Bus specification ("Message Protocol", "Authentication Protocol"), so a bug in nsbusd's
marshalling cannot hide behind the same bug here.
"""

import os
import select
import socket
import struct
import time

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
NO_REPLY_EXPECTED, NO_AUTO_START = 0x1, 0x2

# Header field codes and the signature each must carry (spec: "Header Fields").
F_PATH, F_INTERFACE, F_MEMBER, F_ERROR_NAME, F_REPLY_SERIAL = 1, 2, 3, 4, 5
F_DESTINATION, F_SENDER, F_SIGNATURE, F_UNIX_FDS = 6, 7, 8, 9
FIELD_SIG = {F_PATH: 'o', F_INTERFACE: 's', F_MEMBER: 's', F_ERROR_NAME: 's',
             F_REPLY_SERIAL: 'u', F_DESTINATION: 's', F_SENDER: 's',
             F_SIGNATURE: 'g', F_UNIX_FDS: 'u'}

ALIGN = {'y': 1, 'b': 4, 'n': 2, 'q': 2, 'i': 4, 'u': 4, 'x': 8, 't': 8, 'd': 8,
         's': 4, 'o': 4, 'g': 1, 'h': 4, 'a': 4, '(': 8, '{': 8, 'v': 1}
FIXED = {'y': 'B', 'b': 'I', 'n': 'h', 'q': 'H', 'i': 'i', 'u': 'I', 'x': 'q',
         't': 'Q', 'd': 'd', 'h': 'I'}


class Variant:
    def __init__(self, sig, value):
        self.sig, self.value = sig, value

    def __repr__(self):
        return 'Variant(%r, %r)' % (self.sig, self.value)


class Raw:
    """Bytes written as they are: lets a test put invalid data where a string goes."""

    def __init__(self, data):
        self.data = data


def split_sig(sig):
    """Split a signature into its single complete types."""
    out, i = [], 0
    while i < len(sig):
        j = _end_of_type(sig, i)
        out.append(sig[i:j])
        i = j
    return out


def _end_of_type(sig, i):
    c = sig[i]
    if c == 'a':
        return _end_of_type(sig, i + 1)
    if c in '({':
        close = ')' if c == '(' else '}'
        i += 1
        while sig[i] != close:
            i = _end_of_type(sig, i)
        return i + 1
    return i + 1


class Writer:
    def __init__(self, endian='l'):
        self.e = '<' if endian == 'l' else '>'
        self.buf = bytearray()

    def pad(self, n):
        while len(self.buf) % n:
            self.buf.append(0)

    def put(self, sig, value):
        c = sig[0]
        self.pad(ALIGN[c])
        if c in FIXED:
            if c == 'b':
                value = 1 if value else 0
            self.buf += struct.pack(self.e + FIXED[c], value)
        elif c in 'so':
            data = value.data if isinstance(value, Raw) else value.encode() + b'\0'
            n = len(data) - (0 if isinstance(value, Raw) else 1)
            self.buf += struct.pack(self.e + 'I', n) + data
        elif c == 'g':
            data = value.encode()
            self.buf += bytes([len(data)]) + data + b'\0'
        elif c == 'v':
            self.put('g', value.sig)
            self.put(value.sig, value.value)
        elif c == 'a':
            elem = sig[1:]
            at = len(self.buf)
            self.buf += b'\0\0\0\0'
            self.pad(ALIGN[elem[0]])
            start = len(self.buf)
            items = value.items() if isinstance(value, dict) else value
            for item in items:
                self.put(elem, item)
            struct.pack_into(self.e + 'I', self.buf, at, len(self.buf) - start)
        elif c in '({':
            for s, v in zip(split_sig(sig[1:-1]), value):
                self.put(s, v)
        else:
            raise ValueError('cannot marshal %r' % sig)


class Reader:
    def __init__(self, data, endian='l', offset=0):
        self.e = '<' if endian == 'l' else '>'
        self.data, self.pos = data, offset

    def align(self, n):
        self.pos = (self.pos + n - 1) // n * n

    def get(self, sig):
        c = sig[0]
        self.align(ALIGN[c])
        if c in FIXED:
            (v,) = struct.unpack_from(self.e + FIXED[c], self.data, self.pos)
            self.pos += struct.calcsize(FIXED[c])
            return bool(v) if c == 'b' else v
        if c in 'so':
            (n,) = struct.unpack_from(self.e + 'I', self.data, self.pos)
            v = bytes(self.data[self.pos + 4:self.pos + 4 + n]).decode()
            self.pos += 4 + n + 1
            return v
        if c == 'g':
            n = self.data[self.pos]
            v = bytes(self.data[self.pos + 1:self.pos + 1 + n]).decode()
            self.pos += n + 2
            return v
        if c == 'v':
            s = self.get('g')
            return Variant(s, self.get(s))
        if c == 'a':
            (n,) = struct.unpack_from(self.e + 'I', self.data, self.pos)
            self.pos += 4
            self.align(ALIGN[sig[1]])
            end, out = self.pos + n, []
            while self.pos < end:
                out.append(self.get(sig[1:]))
            return dict(out) if sig[1] == '{' else out
        if c in '({':
            return tuple(self.get(s) for s in split_sig(sig[1:-1]))
        raise ValueError('cannot unmarshal %r' % sig)


def build_message(mtype, serial, fields, body_sig='', body=(), flags=0, endian='l',
                  version=1, body_len=None, raw_fields=None):
    """Marshal a message.  fields: {code: value} with the right signature, or
    raw_fields: a list of (code, sig, value) written as given (to build wrong ones)."""
    body_w = Writer(endian)
    for s, v in zip(split_sig(body_sig), body):
        body_w.put(s, v)
    if raw_fields is None:
        raw_fields = [(k, FIELD_SIG[k], v) for k, v in fields.items()]
        if body_sig:
            raw_fields.append((F_SIGNATURE, 'g', body_sig))
    w = Writer(endian)
    w.buf += struct.pack(w.e + 'cBBBII', endian.encode(), mtype, flags, version,
                         len(body_w.buf) if body_len is None else body_len, serial)
    w.put('a(yv)', [(k, Variant(s, v)) for k, s, v in raw_fields])
    w.pad(8)
    return bytes(w.buf) + bytes(body_w.buf)


class Message:
    def __init__(self, data):
        endian = chr(data[0])
        self.endian = endian
        e = '<' if endian == 'l' else '>'
        self.type, self.flags, self.version, body_len, self.serial = struct.unpack_from(
            e + 'BBBII', data, 1)
        r = Reader(data, endian, 12)
        self.fields = {k: v.value for k, v in r.get('a(yv)')}
        r.align(8)
        self.body_bytes = bytes(data[r.pos:])
        self.signature = self.fields.get(F_SIGNATURE, '')
        self.body = [r.get(s) for s in split_sig(self.signature)]
        self.sender = self.fields.get(F_SENDER)
        self.destination = self.fields.get(F_DESTINATION)
        self.path = self.fields.get(F_PATH)
        self.interface = self.fields.get(F_INTERFACE)
        self.member = self.fields.get(F_MEMBER)
        self.error_name = self.fields.get(F_ERROR_NAME)
        self.reply_serial = self.fields.get(F_REPLY_SERIAL)

    def __repr__(self):
        return '<msg type=%d %s %s.%s err=%s body=%r>' % (
            self.type, self.path, self.interface, self.member, self.error_name, self.body)


def message_size(buf):
    """Total size of the message at the start of buf, or None if the fixed header
    is not complete yet."""
    if len(buf) < 16:
        return None
    e = '<' if buf[0:1] == b'l' else '>'
    body_len, _, fields_len = struct.unpack_from(e + 'III', buf, 4)
    return 16 + (fields_len + 7) // 8 * 8 + body_len


def parse_address(address):
    """The socket path of the first unix: address in a D-Bus address string."""
    for part in address.split(';'):
        if not part.startswith('unix:'):
            continue
        kv = dict(x.split('=', 1) for x in part[5:].split(',') if '=' in x)
        if 'path' in kv:
            return _unescape(kv['path'])
        if 'abstract' in kv:
            return '\0' + _unescape(kv['abstract'])
    raise ValueError('no unix path in address %r' % address)


def _unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        if s[i] == '%':
            out.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            out += s[i].encode()
            i += 1
    return out.decode()


def sasl_external(uid=None):
    """The client's half of EXTERNAL: the identity is the hex-encoded decimal uid."""
    uid = os.getuid() if uid is None else uid
    return b'AUTH EXTERNAL ' + str(uid).encode().hex().encode() + b'\r\n'


class Conn:
    """One raw connection.  Every blocking step is bounded by `timeout` seconds."""

    def __init__(self, address, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(parse_address(address))
        self.timeout = timeout
        self.serial = 0
        self.inbuf = bytearray()
        self.queue = []
        self.unique_name = None
        self.guid = None

    def close(self):
        self.sock.close()

    def fileno(self):
        return self.sock.fileno()

    def next_serial(self):
        self.serial += 1
        return self.serial

    def read_line(self):
        while b'\r\n' not in self.inbuf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError('EOF during SASL')
            self.inbuf += data
        line, _, rest = bytes(self.inbuf).partition(b'\r\n')
        self.inbuf = bytearray(rest)
        return line

    def auth(self, negotiate_fd=False, uid=None):
        self.sock.sendall(b'\0' + sasl_external(uid))
        line = self.read_line()
        if not line.startswith(b'OK '):
            raise RuntimeError('SASL: expected OK, got %r' % line)
        self.guid = line[3:].decode()
        if negotiate_fd:
            self.sock.sendall(b'NEGOTIATE_UNIX_FD\r\n')
            line = self.read_line()
            if line != b'AGREE_UNIX_FD':
                raise RuntimeError('SASL: expected AGREE_UNIX_FD, got %r' % line)
        self.sock.sendall(b'BEGIN\r\n')

    def hello(self):
        reply = self.call('org.freedesktop.DBus', '/org/freedesktop/DBus',
                          'org.freedesktop.DBus', 'Hello')
        if reply.type != METHOD_RETURN:
            raise RuntimeError('Hello failed: %s' % reply.error_name)
        self.unique_name = reply.body[0]
        return self.unique_name

    def connect_bus(self, negotiate_fd=False):
        self.auth(negotiate_fd)
        return self.hello()

    def send_raw(self, data, fds=None):
        # A receive leaves its own (often short) deadline on the socket; a send gets the
        # connection's, so a bus that reads a flood a little late is not a failure.
        self.sock.settimeout(self.timeout)
        if fds:
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                        struct.pack('%di' % len(fds), *fds))])
        else:
            self.sock.sendall(data)

    def send_call(self, dest, path, iface, member, sig='', args=(), flags=0, fds=None):
        serial = self.next_serial()
        fields = {F_PATH: path, F_MEMBER: member}
        if iface:
            fields[F_INTERFACE] = iface
        if dest:
            fields[F_DESTINATION] = dest
        if fds:
            fields[F_UNIX_FDS] = len(fds)
        self.send_raw(build_message(METHOD_CALL, serial, fields, sig, args, flags), fds)
        return serial

    def send_signal(self, path, iface, member, sig='', args=(), dest=None):
        fields = {F_PATH: path, F_INTERFACE: iface, F_MEMBER: member}
        if dest:
            fields[F_DESTINATION] = dest
        self.send_raw(build_message(SIGNAL, self.next_serial(), fields, sig, args))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError('no message within %.1fs' % self.timeout)
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError('no message within %.1fs' % self.timeout)
        if not data:
            raise EOFError('connection closed by the bus')
        self.inbuf += data

    def recv(self, timeout=None):
        """The next message: one set aside by wait_reply, else one from the socket."""
        if self.queue:
            return self.queue.pop(0)
        return self.recv_wire(timeout)

    def recv_wire(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            n = message_size(self.inbuf)
            if n is not None and len(self.inbuf) >= n:
                msg = Message(bytes(self.inbuf[:n]))
                del self.inbuf[:n]
                return msg
            self._fill(deadline)

    def wait_reply(self, serial, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        for i, m in enumerate(self.queue):
            if m.reply_serial == serial and m.type in (METHOD_RETURN, ERROR):
                return self.queue.pop(i)
        while True:
            m = self.recv_wire(max(0.001, deadline - time.monotonic()))
            if m.reply_serial == serial and m.type in (METHOD_RETURN, ERROR):
                return m
            self.queue.append(m)

    def drain(self, secs=0.3):
        """Every message that arrives until the connection is quiet for secs."""
        out = []
        try:
            while True:
                out.append(self.recv(secs))
        except TimeoutError:
            return out

    def call(self, dest, path, iface, member, sig='', args=(), fds=None):
        return self.wait_reply(self.send_call(dest, path, iface, member, sig, args, fds=fds))

    def driver(self, member, sig='', args=(), iface='org.freedesktop.DBus'):
        return self.call('org.freedesktop.DBus', '/org/freedesktop/DBus', iface, member,
                         sig, args)

    def buffered_messages(self):
        """The complete messages received but not yet consumed (for example the
        ones wait_eof read before the bus closed the connection)."""
        out = []
        while True:
            n = message_size(self.inbuf)
            if n is None or len(self.inbuf) < n:
                return out
            out.append(Message(bytes(self.inbuf[:n])))
            del self.inbuf[:n]

    def wait_eof(self, timeout=5.0):
        """True if the bus closes the connection within timeout (messages it sends
        first are discarded), False if it is still open then."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            r, _, _ = select.select([self.sock], [], [], remaining)
            if not r:
                return False
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not data:
                return True
            self.inbuf += data
