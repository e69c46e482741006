"""Connection pinning for fetch.py's httpx transport (httpcore's, `TRIAGE_TRANSPORT=httpx`).

`PinnedBackend` is an httpcore network backend that connects only to the address fetch.py vetted
for the host in the current task (`_PINS`, a context variable set around each request). It never
resolves a name itself, so a DNS answer cannot change between the check and the connection (DNS
rebinding). httpcore still uses the host *name* for TLS SNI and certificate checks, and httpx for
the Host header. httpcore pools connections per origin (scheme, host, port), so each connection
remembers the address it was pinned to: when the current task has vetted another address for that
host, the idle connection reports itself expired (httpcore closes it and opens a new, pinned one),
and a request is never written on a connection whose address is not the one vetted for it.
"""

from __future__ import annotations

from typing import Any

import httpcore

from crawler.netguard import PINS as _PINS
from crawler.netguard import AddressGuard

CONNECT_LOG_MAX = 10_000  # PinnedBackend.connects entries kept (the oldest half dropped when full)


# --------------------------------------------------------------------------- connection pinning


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to the address fetch.py vetted for this host in this task; never resolves.

    httpcore still uses the host *name* for TLS SNI and certificate checks, and httpx for the
    Host header. A connection with no pin is refused (fail closed). `connects` logs every attempt.
    """

    def __init__(self, guard: AddressGuard, passthrough: set[str] | None = None) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._guard = guard
        self._passthrough = passthrough or set()  # the configured proxy, resolved normally
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        key = host.strip("[]").lower()
        if key in self._passthrough:
            return await self._inner.connect_tcp(host, port, timeout, local_address,
                                                 socket_options)
        ip = (_PINS.get() or {}).get(key)
        if ip is None:
            raise httpcore.ConnectError(f"refusing a connection to {host}: address not vetted")
        why = self._guard.check(ip)
        if why is not None:
            raise httpcore.ConnectError(f"refusing a connection to {host}: {why}")
        if len(self.connects) >= CONNECT_LOG_MAX:
            del self.connects[: CONNECT_LOG_MAX // 2]  # bounded memory on long crawls
        self.connects.append((ip, port))
        stream = await self._inner.connect_tcp(ip, port, timeout, local_address, socket_options)
        return _PinnedStream(stream, key, ip)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedStream(httpcore.AsyncNetworkStream):
    """A connection that remembers the address it was pinned to (see the module doc)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, host: str, ip: str) -> None:
        self._inner = inner
        self._host = host
        self._ip = ip

    def _vetted(self) -> str | None:
        return (_PINS.get() or {}).get(self._host)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        vetted = self._vetted()
        if vetted != self._ip:
            raise httpcore.ConnectError(
                f"refusing to send to {self._host} on a connection to {self._ip}: "
                f"the address vetted for this request is {vetted or 'none'}")
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _PinnedStream(inner, self._host, self._ip)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            vetted = self._vetted()
            if vetted is not None and vetted != self._ip:
                return True  # httpcore: an idle connection that is readable has expired
        return self._inner.get_extra_info(info)
