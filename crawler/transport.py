"""A faster httpx transport: httpx's client API over aiohttp's connection pool, address-pinned.

httpx's default transport (httpcore) spends most of a fetch in pool bookkeeping that grows with
open connections and queued requests (bench/crawl_compare.py --transports: ~0.08x the pages/s
of a bare aiohttp loop at 64 connections). This module keeps httpx as the API and swaps the seam:

    transport = make_transport(TransportOptions.from_settings(settings), resolver=pin)
    async with httpx.AsyncClient(transport=transport) as client:
        request = client.build_request("GET", url, extensions={ADDRESS_EXTENSION: "93.184.215.14"})
        response = await client.send(request, stream=True)
        async for chunk in response.aiter_bytes():   # decoded (gzip/br/zstd) by httpx
            ...

Safety guarantees, whatever the pool does:
- A connection is only ever made to the vetted address of this request: the address in the
  request extension `ADDRESS_EXTENSION`, else the one `resolver(host, port)` returns (it must
  vet, e.g. via netguard.vet_host, and raise `RefusedAddress` to refuse). No other DNS lookup
  happens (aiohttp's DNS cache is off; its resolver is ours).
- Every NEW connection is checked before it is opened: the request must carry a vetted address,
  a host written as an IP literal must be that address, and the optional `guard(ip)` (fetch.py:
  netguard's `AddressGuard.check`) must accept it. Each attempt is logged in
  `AiohttpTransport.connects` as (ip, port), like pinning.PinnedBackend.connects.
- Before a request is written on a connection, new or pooled, the connection's peer address is
  compared with the vetted address; a pooled connection to another address is closed and a new
  one is opened. A mismatch that persists raises httpx.ConnectError. aiohttp pools per
  (host, port, TLS): two names sharing an address never share a connection.
- Bodies are streamed raw (aiohttp decompression is off): httpx decodes Content-Encoding in
  `aiter_bytes()`, so the caller's decoded-size cap sees decoded bytes, chunk by chunk.
- Deadlines: httpx's per-request timeouts map to aiohttp (connect -> sock_connect, pool+connect
  -> connect, read -> sock_read, between two reads); an overall deadline is the caller's
  `asyncio.timeout(...)`, and cancellation closes the connection.
- Redirects are never followed here (the caller vets every hop).
- aiohttp errors become httpx errors (ConnectError, ConnectTimeout, ReadTimeout, ReadError,
  RemoteProtocolError), so fetch.py's error handling is unchanged.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp

ADDRESS_EXTENSION = "triage.address"
"""Request extension carrying the vetted IP address to connect to for this request."""

PinResolver = Callable[[str, int], Awaitable[str]]
"""(host, port) -> the ONE vetted address to connect to; raise RefusedAddress to refuse."""

AddressCheck = Callable[[str], "str | None"]
"""ip -> None if a connection to it is allowed, else why not (netguard.AddressGuard.check)."""

_PIN: contextvars.ContextVar[str | None] = contextvars.ContextVar("triage_pin", default=None)
# aiohttp's errors (and OSError), once aiohttp is imported by the first transport made
_AIOHTTP_ERRORS: tuple[type[BaseException], ...] = (OSError,)
_READ_CHUNK = 64 * 1024
# aiohttp adds these when a request lacks them; it is told to skip them (they come from httpx)
_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding")
_AUTO_NAMES = frozenset(h.lower() for h in _AUTO_HEADERS)
_HEADER_SETS_MAX = 1_000  # distinct request header sets remembered (all dropped when full)
CONNECT_LOG_MAX = 10_000  # connection log entries kept (the oldest half is dropped when full)


class RefusedAddress(httpx.ConnectError):
    """The resolver refused every address of the host (raised by a PinResolver)."""


@dataclass(frozen=True, slots=True)
class TransportOptions:
    max_connections: int = 32
    max_connections_per_host: int = 0  # 0 = same as max_connections
    keepalive_s: float = 15.0
    verify_tls: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> TransportOptions:
        """From crawler.settings.FetchSettings (concurrency, per_host_concurrency)."""
        return cls(
            max_connections=int(settings.concurrency),
            max_connections_per_host=int(getattr(settings, "per_host_concurrency", 0) or 0),
        )


def available() -> bool:
    """True when aiohttp is installed (make_transport needs it)."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


def make_transport(
    options: TransportOptions | None = None,
    resolver: PinResolver | None = None,
    *,
    guard: AddressCheck | None = None,
) -> AiohttpTransport:
    """The aiohttp-backed, address-pinned transport. Needs aiohttp (ImportError otherwise).

    `guard(ip)`: checked again right before each new connection (None = allowed)."""
    return AiohttpTransport(options or TransportOptions(), resolver, guard)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _same_ip(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return ipaddress.ip_address(a.split("%", 1)[0]) == ipaddress.ip_address(b.split("%", 1)[0])
    except ValueError:
        return False


def _translate(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    import aiohttp

    msg = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.TransportError):
        return exc
    cause: BaseException | None = exc
    while cause is not None:  # aiohttp re-raises our refusal as ClientOSError(...) from it
        if isinstance(cause, _PinMismatch):
            return httpx.ConnectError(msg, request=request)
        cause = cause.__cause__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(msg, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(msg, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(msg, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError
                  | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(msg, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(msg, request=request)
    if isinstance(exc, aiohttp.ClientOSError | OSError):
        return httpx.ReadError(msg, request=request)
    return httpx.TransportError(msg)


class _AiohttpStream(httpx.AsyncByteStream):
    """The raw (still encoded) body of one aiohttp response, as httpx reads it: chunks of at
    most _READ_CHUNK bytes as they arrive (aiohttp's `iter_chunked`), read by `__anext__`
    itself rather than by an async generator (cheaper; nothing for the loop to finalise)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._response.content.read(_READ_CHUNK)
        except _AIOHTTP_ERRORS as exc:
            raise _translate(exc, self._request) from exc
        if not chunk:
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # back to the pool
        else:
            self._response.close()  # body not fully read: drop the connection


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx transport over one aiohttp ClientSession (created on first use, in the loop)."""

    def __init__(
        self,
        options: TransportOptions,
        resolver: PinResolver | None,
        guard: AddressCheck | None = None,
    ) -> None:
        global _AIOHTTP_ERRORS
        import aiohttp  # fail here, not on the first request
        import yarl

        _AIOHTTP_ERRORS = (aiohttp.ClientError, OSError)
        self._aiohttp = aiohttp
        self._url = yarl.URL
        self._options = options
        self._resolver = resolver
        self._guard = guard
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}
        # raw httpx headers -> (aiohttp's read-only form of them, skip_auto_headers): fetch.py
        # sends one header set per host, so each is converted once
        self._header_sets: dict[tuple[tuple[bytes, bytes], ...], tuple[Any, Any]] = {}
        self._versions: dict[Any, bytes] = {}
        self.connects: list[tuple[str, int]] = []
        """New connections attempted, as (vetted ip, port), in order (the last
        CONNECT_LOG_MAX / 2 to CONNECT_LOG_MAX of them: bounded memory on long crawls)."""

    def _connecting(self, host: str, port: int) -> None:
        """Called right before aiohttp opens a new connection: refuse unless it goes to the
        vetted address of this request (raises _PinMismatch), else log it."""
        pin = _PIN.get()
        if pin is None:
            raise _PinMismatch(f"refusing a connection to {host}: address not vetted")
        if _is_ip(host) and not _same_ip(host, pin):
            raise _PinMismatch(f"refusing a connection to {host}: not the vetted address {pin}")
        if self._guard is not None:
            why = self._guard(pin)
            if why is not None:
                raise _PinMismatch(f"refusing a connection to {host}: {why}")
        if len(self.connects) >= CONNECT_LOG_MAX:
            del self.connects[: CONNECT_LOG_MAX // 2]
        self.connects.append((pin, port))

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("transport is closed")
        if self._session is None:
            aiohttp = self._aiohttp
            o = self._options
            connector_cls, resolver_cls = _pinned_classes()
            connector = connector_cls(
                limit=o.max_connections,
                limit_per_host=o.max_connections_per_host or o.max_connections,
                keepalive_timeout=o.keepalive_s,
                use_dns_cache=False,
                resolver=resolver_cls(),
                ssl=o.verify_tls,
                on_connect=self._connecting,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,  # HTTP_PROXY & co. are never used (only TRIAGE_PROXY, via httpx)
                # skip_auto_headers: per request (_request_headers), only when one is missing
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def _pin_for(self, request: httpx.Request) -> str:
        pinned = request.extensions.get(ADDRESS_EXTENSION)
        if isinstance(pinned, str) and pinned:
            return pinned
        if self._resolver is None:
            raise httpx.ConnectError(
                f"no vetted address for {request.url.host} (set the {ADDRESS_EXTENSION!r} "
                "extension or give make_transport a resolver)", request=request)
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        return await self._resolver(request.url.host, port)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        aiohttp = self._aiohttp
        session = self._open()
        pin = await self._pin_for(request)
        t = request.extensions.get("timeout", {})
        connect, pool, read = t.get("connect"), t.get("pool"), t.get("read")
        timeout = self._timeouts.get((connect, pool, read))
        if timeout is None:
            timeout = self._timeouts[(connect, pool, read)] = aiohttp.ClientTimeout(
                total=None,
                connect=None if connect is None or pool is None else connect + pool,
                sock_connect=connect,
                sock_read=read,
            )
        headers, skip_auto = self._request_headers(request)
        body = await request.aread() if request.method not in ("GET", "HEAD") else None
        # encoded=True: send httpx's request target byte for byte (yarl would re-quote it,
        # e.g. %2F -> / and %41 -> A in the query: another URL than the one vetted and recorded)
        url = self._url(str(request.url), encoded=True)
        token = _PIN.set(pin)
        try:
            response = await session.request(
                request.method, url, headers=headers, data=body or None,
                allow_redirects=False, timeout=timeout, skip_auto_headers=skip_auto,
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise _translate(exc, request) from exc
        finally:
            _PIN.reset(token)
        version = response.version
        http_version = self._versions.get(version)
        if http_version is None:
            http_version = self._versions[version] = (
                f"HTTP/{version.major}.{version.minor}".encode() if version else b"HTTP/1.1")
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,  # bytes as received (httpx would ascii-encode str)
            stream=_AiohttpStream(response, request),
            extensions={
                "http_version": http_version,
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    def _request_headers(self, request: httpx.Request) -> tuple[Any, Any]:
        """(the request's headers for aiohttp, its skip_auto_headers): the headers as latin-1
        text in httpx's order, read-only; aiohttp told to skip its User-Agent, Accept and
        Accept-Encoding only when one of them is missing (present ones are never replaced:
        the same bytes go out as when the session skipped them for every request)."""
        raw = tuple(request.headers.raw)
        known = self._header_sets.get(raw)
        if known is None:
            from multidict import CIMultiDict, CIMultiDictProxy

            pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
            missing = not _AUTO_NAMES <= {k.lower() for k, _ in pairs}
            if len(self._header_sets) >= _HEADER_SETS_MAX:
                self._header_sets.clear()
            known = self._header_sets[raw] = (CIMultiDictProxy(CIMultiDict(pairs)),
                                              _AUTO_HEADERS if missing else None)
        return known

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


_CLASSES: dict[str, type[Any]] = {}


def _pinned_classes() -> tuple[type[Any], type[Any]]:
    """(connector, resolver) classes, defined on first use so importing this needs no aiohttp."""
    if not _CLASSES:
        import aiohttp
        from aiohttp.abc import AbstractResolver

        _CLASSES.update(_define(aiohttp.TCPConnector, AbstractResolver))
    return _CLASSES["connector"], _CLASSES["resolver"]


class _PinMismatch(OSError):
    """No connection to the vetted address could be obtained."""


def _define(connector_cls: type[Any], resolver_cls: type[Any]) -> dict[str, type[Any]]:
    class _PinnedResolver(resolver_cls):  # type: ignore[misc, valid-type]
        """aiohttp resolver that answers only the vetted address of the current request."""

        async def resolve(
            self, host: str, port: int = 0, family: int = socket.AF_INET
        ) -> list[dict[str, Any]]:
            pin = _PIN.get()
            if pin is None:
                raise OSError(f"no vetted address for {host}: refusing to resolve")
            fam = socket.AF_INET6 if ":" in pin else socket.AF_INET
            return [{"hostname": host, "host": pin, "port": port, "family": fam,
                     "proto": 0, "flags": socket.AI_NUMERICHOST}]

        async def close(self) -> None:
            return None

    class _PinnedConnector(connector_cls):  # type: ignore[misc, valid-type]
        """TCPConnector that opens connections only to the vetted address (checked and logged
        by `on_connect` first) and hands out only connections whose peer is that address."""

        def __init__(self, *args: Any, on_connect: Callable[[str, int], None], **kw: Any) -> None:
            super().__init__(*args, **kw)
            self._on_connect = on_connect

        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
            self._on_connect(str(req.url.raw_host or ""), int(req.port or 0))
            return await super()._create_connection(req, traces, timeout)

        async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
            pin = _PIN.get()
            for _ in range(max(self.limit, 1) + 2):
                conn = await super().connect(req, traces, timeout)
                transport = conn.transport
                peer = transport.get_extra_info("peername") if transport is not None else None
                if pin is not None and peer and _same_ip(str(peer[0]), pin):
                    return conn
                conn.close()  # pooled connection to another address (or none): drop it
            raise _PinMismatch(f"could not get a connection to the vetted address {pin}")

    return {"connector": _PinnedConnector, "resolver": _PinnedResolver}
