"""A real HTTP server on 127.0.0.1 for tests, with a route table and a request log.

    with LoopbackSite() as site:
        site.route("/a", body="<html>...</html>")
        site.route("/r", status=302, headers={"Location": "/a"})
        site.route("/slow", handler=my_handler)   # full control: handler(req) -> None
        url = site.url("/a")
        ...
        site.requests  # [(monotonic_time, method, path, headers)]

Paths not in the table answer 404. `/robots.txt` answers 404 unless routed (RFC 9309: allow all).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType

from crawler.demo.site import QuietHTTPServer


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] | Callable[[], Iterable[bytes]] = b""
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


@dataclass(frozen=True)
class LoggedRequest:
    at: float  # time.monotonic()
    method: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        site = self.server.site
        path = self.path
        site._log(LoggedRequest(time.monotonic(), self.command, path, dict(self.headers.items())))
        route = site.routes.get(path) or site.routes.get(path.split("?", 1)[0])
        if route is None:
            route = Route(status=404, headers={"Content-Type": "text/plain"}, body=b"not found")
        if route.handler is not None:
            route.handler(self)
            return
        body = route.body
        if callable(body):
            body = body()
        self.send_response(route.status)
        headers = {k.lower(): v for k, v in route.headers.items()}
        if isinstance(body, bytes | bytearray):
            headers.setdefault("content-length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        # streamed body: chunked unless a length was given
        chunked = "content-length" not in headers
        if chunked:
            headers["transfer-encoding"] = "chunked"
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            for part in body:
                if chunked:
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                else:
                    self.wfile.write(part)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _Server(QuietHTTPServer):
    site: LoopbackSite


class LoopbackSite:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.site = self
        self.routes: dict[str, Route] = {}
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # a short poll: shutdown() returns in 50 ms, not 0.5 s, after every test

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(
        self,
        path: str,
        body: bytes | str | Iterable[bytes] | Callable[[], Iterable[bytes]] = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = "text/html; charset=utf-8",
        handler: Callable[[BaseHTTPRequestHandler], None] | None = None,
    ) -> str:
        hdrs = dict(headers or {})
        if content_type is not None and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = content_type
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(status=status, headers=hdrs, body=data, handler=handler)
        return self.url(path)

    def _log(self, req: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def __enter__(self) -> LoopbackSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
