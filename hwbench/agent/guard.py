"""What keeps a hostile peer from tying up the agent: connection admission, request deadlines, header limits,
safe log lines. Stdlib only."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections import OrderedDict

# Limits on a request's head, enforced while it is read, before anything else (the token included) is looked at:
# without them http.server accepts 100 header lines of 64 KiB each, 6 MB per request, from anyone.
MAX_REQUEST_LINE = 8192
MAX_HEADER_LINE = 8192
MAX_HEADERS = 64
MAX_HEAD_BYTES = 32768
# Slowest body the agent waits for: the body's deadline is the request timeout plus its length at this rate.
MIN_BODY_RATE = 128 << 10


class HeadError(Exception):
    """A request head over the limits (status code and a one-line reason)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class DeadlineReader(io.RawIOBase):
    """Socket reads that share one deadline, so a peer cannot stretch a request by sending a byte at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request deadline passed")
            self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


def read_head(rfile: io.BufferedReader) -> tuple[bytes, bytes]:
    """(request line, header block) of the next request, within the limits; (b"", b"") at end of stream."""
    line = rfile.readline(MAX_REQUEST_LINE + 1)
    if len(line) > MAX_REQUEST_LINE:
        raise HeadError(414, f"request line over {MAX_REQUEST_LINE} bytes")
    if not line or not line.rstrip(b"\r\n") or not line.endswith(b"\n"):
        return line, b""  # end of stream, a blank line or a truncated line: parse_request answers
    if line.count(b" ") < 2:
        return line, b""  # HTTP/0.9 or garbage: there is no header block to read
    head, count = [], 0
    while True:
        header = rfile.readline(MAX_HEADER_LINE + 1)
        if len(header) > MAX_HEADER_LINE:
            raise HeadError(431, f"header line over {MAX_HEADER_LINE} bytes")
        head.append(header)
        count += 1
        if header in (b"\r\n", b"\n", b""):
            return line, b"".join(head)
        if count > MAX_HEADERS:
            raise HeadError(431, f"more than {MAX_HEADERS} header lines")
        if sum(map(len, head)) > MAX_HEAD_BYTES:
            raise HeadError(431, f"headers over {MAX_HEAD_BYTES} bytes")


class ConnectionSlots:
    """At most `limit` connections, at most `limit - reserved` of them not yet authenticated.

    When the unauthenticated share is full, the oldest unauthenticated connection is closed to make room: a
    flood of slow or idle connections only ever evicts itself, and a client with the token gets a turn.
    """

    def __init__(self, limit: int, reserved: int) -> None:
        self.limit = max(1, limit)
        self.max_pending = max(1, self.limit - max(0, reserved))
        self._lock = threading.Lock()
        self._all: set[socket.socket] = set()
        self._pending: OrderedDict[socket.socket, None] = OrderedDict()
        self.evicted = 0

    def admit(self, sock: socket.socket) -> bool:
        """Whether a new connection may be served (possibly after evicting an unauthenticated one)."""
        with self._lock:
            while len(self._all) >= self.limit or len(self._pending) >= self.max_pending:
                if not self._pending:
                    return False  # every slot serves an authenticated client: refuse the newcomer
                victim, _ = self._pending.popitem(last=False)
                self._all.discard(victim)
                self.evicted += 1
                with contextlib.suppress(OSError):
                    victim.shutdown(socket.SHUT_RDWR)  # its thread sees end of stream and exits
            self._all.add(sock)
            self._pending[sock] = None
            return True

    def authenticated(self, sock: socket.socket) -> bool:
        """Mark a connection as carrying the token; False if it was evicted meanwhile."""
        with self._lock:
            self._pending.pop(sock, None)
            return sock in self._all

    def release(self, sock: socket.socket) -> None:
        """Forget a connection that ended."""
        with self._lock:
            self._all.discard(sock)
            self._pending.pop(sock, None)

    def state(self) -> dict[str, int]:
        """Connections served now, how many are unauthenticated, and evictions since start."""
        with self._lock:
            return {"connections": len(self._all), "unauthenticated": len(self._pending), "evicted": self.evicted}


def safe_log_text(text: str, secret: str | None = None, limit: int = 400) -> str:
    """A log line with the secret masked and every unprintable character escaped (no forged or hidden lines)."""
    if secret:
        text = text.replace(secret, "<token>")
    text = text[:limit] + ("..." if len(text) > limit else "")
    return "".join(c if c.isprintable() and c != "\\" else _escape(c) for c in text)


def _escape(c: str) -> str:
    if c == "\\":
        return "\\\\"
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
