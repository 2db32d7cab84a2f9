"""The HTTP plumbing under the agent's endpoints: bounded heads, per-request deadlines, terse replies, safe logs."""

from __future__ import annotations

import io
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from hwbench.agent.guard import MIN_BODY_RATE, DeadlineReader, HeadError, read_head, safe_log_text


class GuardedHandler(BaseHTTPRequestHandler):
    """One connection (HTTP/1.1 keep-alive) whose every request has a deadline and a bounded head.

    The server provides `request_timeout_s`, `token_text` and `quiet`.
    """

    protocol_version = "HTTP/1.1"
    server: Any

    def setup(self) -> None:
        super().setup()
        # Reads go through one deadline per request instead of a timeout per read (see DeadlineReader).
        self.rfile.close()
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader, 1 << 16)

    def _set_deadline(self, seconds: float | None) -> None:
        if seconds is None:
            self._reader.deadline = None
            self.connection.settimeout(self.server.request_timeout_s)  # still bounds each write
        else:
            self._reader.deadline = time.monotonic() + seconds

    def handle_one_request(self) -> None:
        """Read a head within the limits and the deadline, then dispatch it (see http.server for the original)."""
        self.command, self.path, self.request_version, self.requestline = "", "", "HTTP/1.1", ""
        self._set_deadline(self.server.request_timeout_s)  # the wait for a request counts too
        try:
            line, head = read_head(self.rfile)
        except HeadError as exc:
            self._fail(exc.code, str(exc), close=True)
            self._drain()
            return
        except (TimeoutError, OSError):
            self.close_connection = True  # stalled, too slow or gone: drop it
            return
        if not line:
            self.close_connection = True
            return
        self.raw_requestline = line
        stream, self.rfile = self.rfile, io.BufferedReader(io.BytesIO(head))  # type: ignore[assignment]
        try:
            parsed = self.parse_request()
        finally:
            self.rfile = stream
        if not parsed:
            return
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self._fail(501, "unsupported method", close=True)
            return
        self._set_deadline(self.server.request_timeout_s)  # the body (if any) is read within this
        try:
            method()
            self.wfile.flush()
        except (TimeoutError, OSError):
            self.close_connection = True

    def _drain(self, limit: int = 1 << 16, seconds: float = 1.0) -> None:
        """Read (a bounded amount of) what the peer still sends, so closing does not reset away our reply."""
        self._set_deadline(seconds)
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            while limit > 0:
                chunk = self.rfile.read1(min(limit, 1 << 14))
                if not chunk:
                    break
                limit -= len(chunk)
        except (TimeoutError, OSError):
            pass

    def handle_expect_100(self) -> bool:
        # No "100 Continue" before the token is checked: a peer without it must not be invited to send a body.
        return True

    # -- responses: no Server header, no HTML error pages (an unauthenticated peer learns nothing) --------
    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True
        self._reply(code)

    def _reply(self, code: int, data: dict[str, Any] | None = None) -> None:
        body = json.dumps(data).encode() if data is not None else b""
        self.send_response(code)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _fail(self, code: int, message: str, close: bool = False) -> None:
        self.close_connection = self.close_connection or close
        self._reply(code, {"error": message})

    # -- logging: one escaped line per event; never a token, never a query string ---------------------------
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path or ""
        if "?" in path:
            path = path.split("?", 1)[0] + "?<query not logged>"
        self.log_message("%s %s %s", self.command or "-", path[:200] or "-", code)

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            text = safe_log_text(format % args, self.server.token_text)
            print(f"agent: {self.client_address[0]} {text}", file=sys.stderr, flush=True)

    # -- bodies ----------------------------------------------------------------------------------------
    def _length(self, limit: int) -> int | None:
        """The request's Content-Length, or None after replying with the reason it is unacceptable."""
        if self.headers.get("Transfer-Encoding"):
            self._fail(411, "send a Content-Length (chunked bodies are not accepted)", True)
            return None
        raw = self.headers.get("Content-Length", "").strip()
        # ASCII digits only, and few: int() would take "²" or "١" and choke on 5,000 digits.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            self._fail(411 if not raw else 400, "a valid Content-Length is required (decimal digits)", True)
            return None
        length = int(raw)
        if length > limit:
            self._fail(413, f"body of {length} bytes is over this agent's limit of {limit} bytes", True)
            # Discard (a bounded part of) the body: closing on unread bytes resets the connection, and the
            # client, still sending, would see a broken pipe instead of this answer.
            self._drain(min(length, 4 << 20), 2.0)
            return None
        self._set_deadline(self.server.request_timeout_s + length / MIN_BODY_RATE)
        return length

    def _body_read(self) -> None:
        """The body is in: no deadline while the request is served (writes keep their timeout)."""
        self._set_deadline(None)

    def _json_body(self, limit: int) -> dict[str, Any] | None:
        """The request's JSON object body, or None after replying why it is unacceptable."""
        length = self._length(limit)
        if length is None:
            return None
        raw = self.rfile.read(length)
        self._body_read()
        if len(raw) < length:
            self._fail(400, f"truncated request: {len(raw)} of {length} bytes", True)
            return None
        try:
            data = json.loads(raw)
        except RecursionError:
            self._fail(400, "the body's JSON is nested too deeply")
            return None
        except (ValueError, UnicodeDecodeError):
            self._fail(400, "the body is not valid JSON")
            return None
        if not isinstance(data, dict):
            self._fail(400, "the body must be a JSON object")
            return None
        return data
