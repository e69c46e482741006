"""Raw asyncio HTTP servers on 127.0.0.1 that misbehave on purpose (bombs, trickles, lies).

    async with HostileServer(handler) as srv:      # handler(reader, writer, request_line)
        url = srv.url("/x")
        srv.requests       # [(monotonic time, request line)]
        srv.bytes_sent     # body bytes the handlers managed to write

Each handler gets the parsed request line and writes whatever it likes. The helpers below build
the usual hostile answers. Everything runs in the test's event loop; everything stops on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Awaitable, Callable
from types import TracebackType

Handler = Callable[["HostileServer", asyncio.StreamReader, asyncio.StreamWriter, str],
                   Awaitable[None]]


class HostileServer:
    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host = host
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        self.bytes_sent = 0
        self.closed_early = asyncio.Event()
        self.stopping = asyncio.Event()  # handlers that loop for ever check this
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                line = (await reader.readline()).decode("latin-1").strip()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (h := (await reader.readline()).decode("latin-1").strip()):
                    k, _, v = h.partition(":")
                    headers[k.strip().lower()] = v.strip()
                self.requests.append((time.monotonic(), line, headers))
                if line.split(" ")[1:2] == ["/robots.txt"]:
                    await send(self, writer, 404, b"", {"Content-Type": "text/plain"})
                    continue
                await self.handler(self, reader, writer, line)
                return  # one real request per connection: handlers may leave it in any state
        except (ConnectionError, asyncio.IncompleteReadError):
            self.closed_early.set()
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.stopping.set()
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        await self._server.wait_closed()


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def send(srv: HostileServer, writer: asyncio.StreamWriter, status: int, body: bytes,
               headers: dict[str, str]) -> None:
    hdrs = {"Content-Length": str(len(body)), **headers}
    writer.write(head(status, hdrs) + body)
    srv.bytes_sent += len(body)
    await writer.drain()


async def write_body(srv: HostileServer, writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    srv.bytes_sent += len(data)
    await writer.drain()


def gzip_bomb(decoded_mib: int = 1024) -> Handler:
    """Content-Encoding: gzip of `decoded_mib` MiB of zeros (about 1 KiB on the wire per MiB).

    After a full flush the compressor's output for the next MiB of zeros is the same bytes each
    time, so the stream is built from one repeated block: cheap for the server's event loop.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1024 * 1024)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)

    async def handler(srv: HostileServer, r: asyncio.StreamReader, w: asyncio.StreamWriter,
                      line: str) -> None:
        w.write(head(200, {"Content-Type": "text/html", "Content-Encoding": "gzip",
                           "Connection": "close"}))
        await write_body(srv, w, first)
        for _ in range(decoded_mib - 1):
            if srv.stopping.is_set():
                return
            await write_body(srv, w, block)
            await asyncio.sleep(0)
        await write_body(srv, w, comp.flush())  # trailer (its CRC does not match: never reached)

    return handler


def trickle(interval: float = 0.2, content_type: str = "text/html") -> Handler:
    """Headers at once, then one byte every `interval` seconds, for ever."""

    async def handler(srv: HostileServer, r: asyncio.StreamReader, w: asyncio.StreamWriter,
                      line: str) -> None:
        w.write(head(200, {"Content-Type": content_type, "Content-Length": "100000"}))
        await w.drain()
        while not srv.stopping.is_set():
            await write_body(srv, w, b"x")
            await asyncio.sleep(interval)

    return handler


def endless(content_type: str = "text/html", chunk: bytes = b"<p>" + b"a" * 65533) -> Handler:
    """A chunked body that never ends (or, if it ends, only when the client hangs up)."""

    async def handler(srv: HostileServer, r: asyncio.StreamReader, w: asyncio.StreamWriter,
                      line: str) -> None:
        w.write(head(200, {"Content-Type": content_type, "Transfer-Encoding": "chunked"}))
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while not srv.stopping.is_set():
            await write_body(srv, w, framed)

    return handler


def content_length_lie(declared: int, actual: bytes, close: bool = True) -> Handler:
    """Declares one length, sends another body (then closes if `close`)."""

    async def handler(srv: HostileServer, r: asyncio.StreamReader, w: asyncio.StreamWriter,
                      line: str) -> None:
        w.write(head(200, {"Content-Type": "text/html", "Content-Length": str(declared)}))
        await write_body(srv, w, actual)
        if not close:
            await asyncio.wait_for(srv.stopping.wait(), 30)

    return handler
