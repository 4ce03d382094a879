"""A real HTTP reverse proxy in front of moto that can be told to misbehave.

The S3 adapter's retry policy is tested against real sockets: boto3 talks HTTP to this
proxy, which forwards to moto's server, except for the requests a test asked it to spoil:

    proxy.spoil("HEAD", r"/bucket/key$", times=2, status=503)   # answer 503 SlowDown twice
    proxy.spoil("GET", r"/bucket/key", times=1, stall=True)      # never answer (read timeout)
    proxy.spoil("GET", r"/bucket/key", times=1, truncate=True)   # cut the body in half

Every request is recorded (method, path with query) so tests can assert how many were
sent, which is the point: a 403 must be sent once, a 503 until it succeeds.
"""

from __future__ import annotations

import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
ERROR_CODES = {403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError", 503: "SlowDown"}


@dataclass
class Fault:
    """Spoil the next ``times`` requests whose method and path match."""

    method: str
    pattern: re.Pattern[str]
    times: int
    status: int = 503
    stall: bool = False
    truncate: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and method == self.method and bool(self.pattern.search(path))


class FaultProxy:
    """ThreadingHTTPServer on 127.0.0.1:0 forwarding to ``upstream`` (moto's URL)."""

    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self.upstream_host = target.hostname or "127.0.0.1"
        self.upstream_port = target.port or 80
        self.requests: list[tuple[str, str]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def spoil(
        self,
        method: str,
        path_pattern: str,
        *,
        times: int,
        status: int = 503,
        stall: bool = False,
        truncate: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``, never (``stall``),
        or with only the first half of the real body (``truncate``)."""
        fault = Fault(method, re.compile(path_pattern), times, status, stall, truncate)
        with self._lock:
            self._faults.append(fault)

    def count(self, method: str, path_pattern: str = "") -> int:
        """How many requests of ``method`` whose path matches were received."""
        pattern = re.compile(path_pattern)
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and pattern.search(p))

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Record the request; return the fault to apply to it, if any."""
        with self._lock:
            self.requests.append((method, path))
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def wait_released(self) -> None:
        """A stalled request waits here until the proxy closes (long past read timeout)."""
        self._release.wait(timeout=30)


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, and "Expect: 100-continue" support

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: pytest shows failures, not every proxied request."""

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = proxy.take_fault(self.command, self.path)
            if fault is not None and fault.stall:
                proxy.wait_released()
                self.close_connection = True
                return
            if fault is not None and not fault.truncate:
                self._answer_error(fault.status)
                return
            self._forward(body, truncate=fault is not None)

        def _answer_error(self, status: int) -> None:
            code = ERROR_CODES.get(status, "InternalError")
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>spoiled by the fault proxy</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _forward(self, body: bytes, *, truncate: bool) -> None:
            upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
            headers.pop("Expect", None)
            headers["Content-Length"] = str(len(body))
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", answer.getheader("Content-Length") or "0")
            else:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if truncate:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815

    return Handler
