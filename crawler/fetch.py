"""The only place that does HTTP. One shared httpx transport; every hop checked; never raises.

    async with Fetcher(settings) as fetcher:
        result = await fetcher.fetch("https://example.org/ad/1")   # always a FetchResult

For each hop (the URL asked for, then every redirect, at most `max_redirects`):

    scheme -> source policy -> host paused? -> numeric-host tricks -> DNS -> EVERY address vetted
    (netguard) -> robots.txt (per origin, cached, fail closed) -> per-host politeness slot
    -> GET on a connection PINNED to the vetted address (no second lookup: DNS rebinding;
       Host header and TLS SNI keep the name) -> status (429/5xx: host backoff + bounded retry)
    -> Content-Type from headers (refused unread) -> streamed body decoded with a cap on the
       DECODED bytes, first bytes sniffed for media/archive/executable magic, total deadline.

Retries live in `_exchange` only: transport errors, 429 and 5xx, `settings.retries`.
No cookies are kept, no forms are sent, no JavaScript is run, no sub-resource is requested.

Requests go straight to an httpx transport (`settings.http_transport`), as httpx.Request /
httpx.Response: no httpx.AsyncClient layer (its auth, redirect, event-hook and cookie handling are
all off here, and cost ~10 % of a fetch): the request headers are built once, exactly as the
client would build them (tests compare), redirects are this module's loop, no cookie is sent.
The transport: "aiohttp" (default without a proxy) is
crawler/transport.py, httpx over aiohttp's pool, pinned per request to the vetted address (the
`triage.address` request extension), the peer of a pooled connection checked before reuse;
"httpx" (default with TRIAGE_PROXY) is httpcore with pinning.PinnedBackend. Either way every new
connection is checked against netguard again and logged in `Fetcher.connects`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
import structlog

from crawler.decoding import ACCEPT_ENCODING, SNIFF_MIN, DecodeError, decoder_for, sniff_media
from crawler.models import FetchResult, Outcome, Reason, utcnow
from crawler.netguard import (
    PINS,
    AddressGuard,
    Resolver,
    parse_numeric_host,
    system_resolver,
    vet_host,
)
from crawler.policy import SourcePolicy
from crawler.politeness import HostLimits, HostSlot, Pace, parse_retry_after
from crawler.robots import RobotsCache, RobotsResponse, max_age, origin_from
from crawler.settings import FetchSettings
from crawler.transport import ADDRESS_EXTENSION

if TYPE_CHECKING:
    from crawler.pinning import PinnedBackend

log = structlog.get_logger("triage.fetch")

MAX_IDLE_SLOTS = 20_000  # per-host slots kept before idle ones are forgotten
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
KEPT_HEADERS = (
    "content-type", "content-length", "content-encoding", "content-language", "last-modified",
    "etag", "date", "server", "location", "retry-after", "cache-control", "x-robots-tag",
)
ADDRESS_HEADER = "x-triage-address"  # in FetchResult.headers: the vetted IP we connected to
ROBOTS_HEADER = "x-triage-robots"  # in FetchResult.headers: the robots.txt decision basis
ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8"
# the headers of every request after Host, in the order httpx.AsyncClient(headers=...) sends
# them (its defaults updated with ours); tests/test_fetch.py compares with the client
_REQUEST_HEADERS = ("Connection", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language")
_HOST_HEADERS_MAX = 10_000  # per-netloc request header sets kept (all dropped when full)
_EMPTY_BODY = httpx.ByteStream(b"")
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.I)

# --------------------------------------------------------------------------- one exchange


@dataclass
class _Exchange:
    """One request/response (after retries): a redirect, a final answer, or why not."""

    kind: Literal["redirect", "done", "refused", "failed"]
    reason: Reason = Reason.OK
    detail: str = ""
    status: int | None = None
    location: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    content_type: str | None = None
    charset: str | None = None
    retryable: bool = False
    http_version: str = "HTTP/1.1"


class _Vetted:
    __slots__ = ("host", "ip", "origin", "url")

    def __init__(self, host: str, ip: str, url: httpx.URL, origin: str | None) -> None:
        self.host = host
        self.ip = ip
        self.url = url  # parsed once per hop
        self.origin = origin  # robots.origin_of(url) (page hops only)


_MEDIA_TYPES: dict[str, tuple[str | None, str | None]] = {}  # Content-Type -> _media_type
_MEDIA_TYPES_MAX = 1_000  # values remembered (all dropped when full)


def _media_type(value: str | None) -> tuple[str | None, str | None]:
    """(media type, charset) of a Content-Type value, lower-case; remembered per value."""
    if not value:
        return None, None
    known = _MEDIA_TYPES.get(value)
    if known is None:
        known = _parse_media_type(value)
        if len(_MEDIA_TYPES) >= _MEDIA_TYPES_MAX:
            _MEDIA_TYPES.clear()
        _MEDIA_TYPES[value] = known
    return known


def _parse_media_type(value: str) -> tuple[str | None, str | None]:
    media = value.split(";", 1)[0].strip().lower() or None
    m = _CHARSET.search(value)
    return media, (m.group(1).lower() if m else None)


# --------------------------------------------------------------------------- URL parsing

# A URL already in the form httpx.URL normalises to (lower-case http(s) scheme and ASCII host
# name, no user info, a path from "/" without "." or ".." segments, characters httpx never
# quotes, well-formed %XX escapes, no fragment) is parsed by one regex match instead of
# httpx's parser (10-20 us a URL); anything else goes the straightforward way.
# tests/test_fetch_urls.py compares both on many random URLs.
_PLAIN_URL = re.compile(
    r"(https?)://([a-z0-9._-]+)(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)(?:\?([A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*))?")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_IPV4_STYLE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")  # httpx validates these hosts
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ParseResult: Any = None  # httpx._urlparse.ParseResult, when the fast path is usable


class _Split:
    """The parts of urlsplit() that _vet reads, for a plain URL (same values)."""

    __slots__ = ("hostname", "port", "scheme")
    username = None
    password = None

    def __init__(self, scheme: str, hostname: str, port: int | None) -> None:
        self.scheme = scheme
        self.hostname = hostname
        self.port = port


@functools.lru_cache(maxsize=1024)
def _ipv4_ok(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _plain_url(url: str) -> tuple[_Split, httpx.URL] | None:
    """(urlsplit(url)'s parts, httpx.URL(url)) for a plain URL (see above), else None."""
    m = _PLAIN_URL.fullmatch(url)
    if m is None or _ParseResult is None:
        return None
    scheme, host, port_text, path, query = m.groups()
    if "/." in path or ("%" in url and _BAD_ESCAPE.search(url)):
        return None
    if _IPV4_STYLE.fullmatch(host) and not _ipv4_ok(host):
        return None  # httpx refuses it (InvalidURL): said the straightforward way
    port = int(port_text) if port_text else None
    if port is not None and port > 65535:
        return None  # urlsplit raises on .port
    parsed = httpx.URL.__new__(httpx.URL)
    parsed._uri_reference = _ParseResult(
        scheme, "", host, None if port == _DEFAULT_PORTS[scheme] else port, path, query, None)
    return _Split(scheme, host, port), parsed


def _enable_plain_urls() -> None:
    """Use the fast path only if it builds what httpx builds (its internals may change)."""
    global _ParseResult
    try:
        from httpx._urlparse import ParseResult

        _ParseResult = ParseResult
        for url in ("http://a.example/", "https://127.0.0.1:8443/x/y.html?q=1&r=%41",
                    "http://b.example:80/p;x=1/@:$,!*'()~_-?a/b?c", "https://c.example:443/"):
            fast = _plain_url(url)
            if fast is None or fast[1]._uri_reference != httpx.URL(url)._uri_reference:
                raise ValueError(f"fast URL parse differs from httpx's for {url}")
    except Exception:  # any mismatch or missing internal: httpx's parser for every URL
        _ParseResult = None


_enable_plain_urls()


def _host_key(url: str, parsed: httpx.URL | None = None) -> str:
    """The ASCII (IDNA) host name, lower-case: the form the resolver and the pins use.
    `parsed`: `url` already parsed by httpx (saves parsing it again)."""
    if parsed is None and (plain := _plain_url(url)) is not None:
        parsed = plain[1]
    try:
        raw = (httpx.URL(url) if parsed is None else parsed).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raw = urlsplit(url).hostname or ""
    return raw.strip("[]").lower().rstrip(".")


class Fetcher:
    """Owns one httpx transport, the robots cache and the per-host politeness slots."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        policy: SourcePolicy | None = None,
        pace: Pace | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`policy`: the source policy (default: loaded from settings.sources_path, else the
        built-in denials). `pace(host, interval_s) -> seconds to wait`: cross-worker pacing (the
        store's `reserve_host`), asked in addition to the in-process per-host throttle.
        `transport`: an httpx transport seam (default: `settings.http_transport`, see the module
        doc; both pin connections to the vetted address). `resolver(host, port) -> [addresses]`:
        the DNS seam (tests map names to loopback or to private addresses). `clock`: for
        robots.txt cache lifetimes."""
        self.settings = settings
        if policy is None:
            policy = (SourcePolicy.load(settings.sources_path) if settings.sources_path
                      else SourcePolicy())
        self.policy = policy
        self.guard = AddressGuard(settings.allow_cidrs)
        self._pace = pace
        self._resolver: Resolver = resolver or system_resolver
        self._clock = clock
        self._backend: PinnedBackend | None = None
        self._transport = transport
        self.transport: httpx.AsyncBaseTransport | None = None  # the one in use, once open
        self._timeouts: dict[str, float | None] = {}  # the request's "timeout" extension
        self._headers: list[tuple[bytes, bytes]] = []  # every request's headers after Host
        self._host_headers: dict[bytes, httpx.Headers] = {}  # netloc -> Host + the above
        self._log: Any = log  # bound to the logging configuration in force when opened
        self._state = "new"
        self._slots: dict[str, HostSlot] = {}
        self._global = asyncio.Semaphore(settings.concurrency)
        self.robots = RobotsCache(settings, self._fetch_robots, clock=clock)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Fetcher:
        if self._state != "new":
            raise RuntimeError("a Fetcher can be opened only once")
        s = self.settings
        transport = self._transport
        if transport is None and s.http_transport == "aiohttp":
            from crawler.transport import TransportOptions, make_transport

            # no resolver: a request without the vetted address (extension) is refused
            transport = make_transport(
                TransportOptions(max_connections=s.concurrency * 2), guard=self.guard.check)
        if transport is None:
            built = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=s.concurrency * 2,
                                    max_keepalive_connections=s.concurrency),
                proxy=s.proxy, trust_env=False,
            )
            built._pool._network_backend = self.backend  # pin every connection (see class doc)
            transport = built
        self.transport = transport
        self._timeouts = httpx.Timeout(connect=s.connect_timeout, read=s.read_timeout,
                                       write=s.read_timeout, pool=s.total_timeout).as_dict()
        values = {"Connection": "keep-alive", "User-Agent": s.user_agent, "Accept": ACCEPT,
                  "Accept-Encoding": ACCEPT_ENCODING, "Accept-Language": "*"}
        self._headers = list(httpx.Headers([(k, values[k]) for k in _REQUEST_HEADERS]).raw)
        await transport.__aenter__()
        self._log = log.bind()  # the module's lazy proxy would re-bind on every call
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        if self._state == "open" and self.transport is not None:
            await self.transport.__aexit__(exc_type, exc, tb)
        self._state = "closed"

    @property
    def backend(self) -> PinnedBackend:
        """httpcore's pinned network backend, for the "httpx" transport; made (and httpcore
        imported) on first use, so the default transport never loads httpcore."""
        if self._backend is None:
            from crawler.pinning import PinnedBackend

            proxy = self.settings.proxy
            proxy_host = urlsplit(proxy).hostname if proxy else None
            self._backend = PinnedBackend(self.guard,
                                          {proxy_host.lower()} if proxy_host else None)
        return self._backend

    @property
    def connects(self) -> list[tuple[str, int]]:
        """Every connection attempted, as (vetted ip, port), whatever the transport: the
        aiohttp transport's log, else `backend.connects` (httpcore's pinned backend)."""
        log = getattr(self.transport, "connects", None)
        return log if isinstance(log, list) else self.backend.connects

    # ------------------------------------------------------------------ link policy

    def follow_depth(self, parent_url: str) -> int:
        """How deep links found on `parent_url` may be followed (0: not at all)."""
        if not self.policy.sources:  # one rule for every host: no need to parse the URL
            return self.policy.defaults.max_depth
        return self.policy.rule_for(_host_key(parent_url)).max_depth

    def should_follow(self, parent_url: str, link: str, depth: int) -> bool:
        """May a link found on `parent_url` be queued at `depth`? (source policy follow rules)"""
        rule = self.policy.rule_for(_host_key(parent_url))
        if depth > rule.max_depth or urlsplit(link).scheme.lower() not in ("http", "https"):
            return False
        if self.policy.decide(link) is not None:
            return False
        if rule.same_site and not _same_site(parent_url, link):
            return False
        if rule.include and not any(p.search(link) for p in rule.include):
            return False
        return not any(p.search(link) for p in rule.exclude)

    def legal_basis(self, url: str) -> str | None:
        return self.policy.legal_basis(url)

    def slot(self, host: str) -> HostSlot:
        slot = self._slots.get(host)
        if slot is None:
            s, rule = self.settings, self.policy.rule_for(host)
            limits = HostLimits(
                rate=s.per_host_rps if rule.rate is None else rule.rate,
                concurrency=rule.concurrency or s.per_host_concurrency,
                backoff_base=s.backoff_base, backoff_max=s.backoff_max,
                fail_limit=s.host_fail_limit, pause=s.host_pause,
            )
            if len(self._slots) >= MAX_IDLE_SLOTS:
                self._prune_slots()
            slot = self._slots[host] = HostSlot(host, limits)  # waits use real time
        return slot

    def _prune_slots(self) -> None:
        """Forget hosts with nothing in flight and nothing to remember (bounded memory)."""
        for host in [h for h, slot in self._slots.items() if slot.idle()]:
            del self._slots[host]

    # ------------------------------------------------------------------ fetch

    async def fetch(self, url: str) -> FetchResult:
        """Fetch one URL. Never raises (except CancelledError): every outcome is a FetchResult."""
        started = time.monotonic()
        try:
            result = await self._fetch(url, started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must become a recorded outcome, not a dead worker
            log.exception("fetch_internal_error", url=url)
            result = self._result(url, started, Outcome.FAILED, Reason.INTERNAL,
                                  f"internal error: {type(exc).__name__}: {exc}")
        self._log.debug("fetch", url=url, outcome=result.outcome.value,
                        reason=result.reason.value, status=result.status, detail=result.detail)
        return result

    def _result(self, url: str, started: float, outcome: Outcome, reason: Reason, detail: str,
                **kw: Any) -> FetchResult:
        return FetchResult(
            url=url, outcome=outcome, reason=reason, detail=detail, fetched_at=utcnow(),
            elapsed_ms=(time.monotonic() - started) * 1000.0, legal_basis=self.legal_basis(url),
            **kw,
        )

    async def _fetch(self, url: str, started: float) -> FetchResult:
        if self._state != "open":
            raise RuntimeError("use `async with Fetcher(...)` before fetch()")
        redirects: list[str] = []
        current = url
        for hop in range(self.settings.max_redirects + 1):
            vetted = await self._vet(current, page=True)
            if not isinstance(vetted, _Vetted):
                outcome, reason, detail = vetted
                if hop > 0 and outcome is Outcome.REFUSED:
                    reason, detail = Reason.REDIRECT_REFUSED, (
                        f"redirect {hop} to {current} refused ({reason.value}): {detail}")
                return self._result(url, started, outcome, reason, detail, final_url=current,
                                    redirects=tuple(redirects))
            ex = await self._exchange(current, vetted, robots_txt=False)
            if ex.kind == "redirect" and ex.location is not None:
                redirects.append(current)
                current = ex.location
                continue
            headers = {k: v for k, v in ((k.lower(), v) for k, v in ex.headers)
                       if k in KEPT_HEADERS}
            # provenance: which address was contacted and what robots.txt said
            headers[ADDRESS_HEADER] = vetted.ip
            rules = self.robots.peek(current, vetted.origin)
            if rules is not None:
                headers[ROBOTS_HEADER] = rules.reason
            outcome = {"done": Outcome.FETCHED, "refused": Outcome.REFUSED,
                       "failed": Outcome.FAILED}.get(ex.kind, Outcome.FETCHED)
            return self._result(
                url, started, outcome, ex.reason, ex.detail, final_url=current,
                status=ex.status, headers=headers, content_type=ex.content_type,
                charset=ex.charset, body=ex.body,
                sha256=hashlib.sha256(ex.body).hexdigest() if outcome is Outcome.FETCHED
                else None,
                redirects=tuple(redirects), raw_headers=tuple(ex.headers),
                http_version=ex.http_version,
            )
        return self._result(
            url, started, Outcome.REFUSED, Reason.TOO_MANY_REDIRECTS,
            f"more than {self.settings.max_redirects} redirects (last: {current})",
            final_url=current, redirects=tuple(redirects),
        )

    async def _vet(self, url: str, *, page: bool) -> _Vetted | tuple[Outcome, Reason, str]:
        """Every check before a request to `url`; the vetted address to pin, or why not.

        `page`: a page hop (policy, paused host and robots.txt checked too); robots.txt
        fetches are vetted for scheme and address only."""
        parts: urllib.parse.SplitResult | _Split
        parsed: httpx.URL | None = None
        invalid: Exception | None = None
        plain = _plain_url(url)
        if plain is not None:
            parts, parsed = plain  # an http(s) URL, parsed as below (same values)
        else:
            parts = urlsplit(url)
            if parts.scheme.lower() not in ("http", "https"):
                scheme = parts.scheme or "(none)"
                return Outcome.REFUSED, Reason.SCHEME, f"scheme {scheme!r} is not http/https"
            try:
                parsed = httpx.URL(url)
            except (httpx.InvalidURL, ValueError) as exc:
                invalid = exc
        host = _host_key(url, parsed) if parsed is not None else _host_key(url)
        if not host:
            return Outcome.REFUSED, Reason.SCHEME, f"URL has no host: {url}"
        numeric = parse_numeric_host(host)
        if numeric is not None and not numeric[1]:
            return Outcome.REFUSED, Reason.ADDRESS, (
                f"host {host!r} is a numeric address in a non-standard form ({numeric[0]})")
        if parsed is None:
            return Outcome.REFUSED, Reason.SCHEME, f"invalid URL {url!r}: {invalid}"
        if parts.username is not None or parts.password is not None:
            return Outcome.REFUSED, Reason.POLICY, "URL carries credentials (user:password@)"
        if page:
            why = self.policy.decide(url)
            if why is not None:
                return Outcome.REFUSED, Reason.POLICY, why
            paused = self.slot(host).paused()
            if paused is not None:
                return Outcome.REFUSED, Reason.HOST_PAUSED, paused
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            return Outcome.REFUSED, Reason.SCHEME, f"invalid port in {url}"
        try:
            ip, why = await vet_host(host, port, self.guard, self._resolver)
        except LookupError as exc:
            return Outcome.FAILED, Reason.DNS, str(exc)
        if ip is None:
            return Outcome.REFUSED, Reason.ADDRESS, why or "address refused"
        if not page:
            return _Vetted(host, ip, parsed, None)
        vetted = _Vetted(host, ip, parsed, origin_from(parts.scheme, parts.hostname, port))
        refusal, delay = await self.robots.check(url, vetted.origin)
        self.slot(host).set_crawl_delay(delay)
        if refusal is not None:
            return Outcome.REFUSED, Reason.ROBOTS, refusal
        return vetted

    async def _fetch_robots(self, robots_url: str) -> RobotsResponse:
        """GET /robots.txt, redirects up to 5 hops, each vetted by scheme and netguard."""
        current = robots_url
        for _hop in range(5 + 1):
            vetted = await self._vet(current, page=False)
            if not isinstance(vetted, _Vetted):
                return RobotsResponse(error=f"{current}: {vetted[2]}")
            ex = await self._exchange(current, vetted, robots_txt=True)
            if ex.kind == "redirect" and ex.location is not None:
                current = ex.location
                continue
            if ex.status is None or (ex.kind in ("failed", "refused") and 200 <= ex.status < 300):
                return RobotsResponse(error=ex.detail)  # e.g. a corrupt gzip body: fail closed
            cache = next((v for k, v in ex.headers if k.lower() == "cache-control"), None)
            return RobotsResponse(status=ex.status, body=ex.body, max_age=max_age(cache))
        return RobotsResponse(error="more than 5 redirects")

    # ------------------------------------------------------------------ exchange (+ retries)

    async def _exchange(self, url: str, vetted: _Vetted, *, robots_txt: bool) -> _Exchange:
        """One GET, retried for transport errors, 429 and 5xx only (robots.txt: never)."""
        attempts = 1 if robots_txt else self.settings.retries + 1
        for _attempt in range(attempts):
            # no wait here: the host slot waits out the backoff before the next attempt
            result = await self._once(url, vetted, robots_txt)
            if not result.retryable:
                return result
        if attempts > 1:
            result.detail += f" after {attempts} attempts"
        return result

    def _request(self, vetted: _Vetted) -> httpx.Request:
        """The GET for one hop, as httpx.AsyncClient.build_request would make it (Host first,
        then the client's headers; the timeouts as the "timeout" extension), plus the vetted
        address as a request extension for transports that pin per request
        (crawler/transport.py). No cookie is ever sent."""
        url = vetted.url
        netloc = url.netloc
        headers = self._host_headers.get(netloc)
        if headers is None:
            if len(self._host_headers) >= _HOST_HEADERS_MAX:
                self._host_headers.clear()
            headers = self._host_headers[netloc] = httpx.Headers(
                [(b"Host", netloc), *self._headers])
        # stream=: httpx adds no header of its own (we gave Host); a GET has an empty body
        return httpx.Request("GET", url, headers=headers, stream=_EMPTY_BODY, extensions={
            "timeout": self._timeouts, ADDRESS_EXTENSION: vetted.ip})

    async def _once(self, url: str, vetted: _Vetted, robots_txt: bool) -> _Exchange:
        transport = self.transport
        assert transport is not None
        slot = self.slot(vetted.host)
        paused = slot.paused()
        if paused is not None and not robots_txt:
            return _Exchange("refused", Reason.HOST_PAUSED, paused)
        s = self.settings
        # the host's turn first (it may wait long), then a global place only for the exchange
        async with slot.turn(self._pace, gate=self._global):
            token = PINS.set({vetted.host: vetted.ip})
            try:
                async with asyncio.timeout(s.total_timeout):
                    response = await transport.handle_async_request(self._request(vetted))
                    try:
                        ex = await self._read(url, response, robots_txt, slot)
                    finally:
                        # what response.aclose() does, without its request-context wrapper
                        await response.stream.aclose()  # type: ignore[union-attr]
            except TimeoutError:
                slot.failed("deadline")
                return _Exchange("failed", Reason.TIMEOUT,
                                 f"no complete response within {s.total_timeout:g} s "
                                 "(total deadline); connection cut")
            except httpx.TimeoutException as exc:
                slot.failed("timeout")
                return _Exchange("failed", Reason.TIMEOUT,
                                 f"{type(exc).__name__}: {exc or 'timed out'}", retryable=True)
            except httpx.TransportError as exc:
                slot.failed("network error")
                return _Exchange("failed", Reason.NETWORK,
                                 f"{type(exc).__name__}: {exc}", retryable=True)
            finally:
                PINS.reset(token)
        return ex

    async def _read(
        self, url: str, response: httpx.Response, robots_txt: bool, slot: HostSlot
    ) -> _Exchange:
        s = self.settings
        status = response.status_code
        raw_headers, get = _headers(response)
        base: dict[str, Any] = {
            "status": status, "headers": raw_headers, "http_version": response.http_version,
        }
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(get("retry-after"))
            slot.failed(f"HTTP {status}", retry_after if status in (429, 503) else None)
            return _Exchange("failed", Reason.HTTP_STATUS, f"HTTP {status}", retryable=True,
                             **base)
        slot.succeeded()
        location = get("location")
        if status in REDIRECT_STATUSES and location:
            return _Exchange("redirect", location=urljoin(url, location.strip()), **base)
        if not robots_txt and not 200 <= status < 300:
            return _Exchange("done", Reason.HTTP_STATUS, f"HTTP {status} (body not read)", **base)
        media, charset = _media_type(get("content-type"))
        base.update(content_type=media, charset=charset)
        if not robots_txt and media not in s.allowed_content_types:
            declared_type = f"Content-Type {media}" if media else "no Content-Type header"
            return _Exchange("refused", Reason.CONTENT_TYPE,
                             f"{declared_type} is not an allowed text type; body not read", **base)
        cap = s.robots_max_bytes if robots_txt else s.max_body_bytes
        encoding = get("content-encoding")
        decoder = decoder_for(encoding)
        if decoder is None:
            return _Exchange("refused", Reason.CONTENT_TYPE,
                             f"Content-Encoding {encoding!r} is not accepted; body not read",
                             **base)
        declared = get("content-length") or ""
        if not robots_txt and declared.isdigit() and not encoding and int(declared) > cap:
            return _Exchange("refused", Reason.TOO_LARGE,
                             f"Content-Length {declared} is over the {cap} byte cap; "
                             "body not read", **base)
        body = bytearray()
        sniffed = robots_txt
        try:
            async for raw in response.stream:  # type: ignore[union-attr]  # (raw, as received)
                body += decoder.decode(raw, cap + 1 - len(body))
                if not sniffed and len(body) >= max(s.sniff_bytes, SNIFF_MIN):
                    sniffed = True
                    if what := sniff_media(bytes(body[: max(s.sniff_bytes, 512)])):
                        return _Exchange("refused", Reason.SNIFFED_MEDIA,
                                         f"body starts like a {what} (declared {media}); "
                                         "discarded unread", **base)
                if len(body) > cap:
                    if robots_txt:
                        del body[cap:]
                        break
                    return _Exchange("refused", Reason.TOO_LARGE,
                                     f"body is over the {cap} byte cap after decoding "
                                     f"({encoding or 'identity'}); stopped reading", **base)
            else:
                decoder.finish()
        except DecodeError as exc:
            return _Exchange("failed", Reason.NETWORK, str(exc), **base)
        if not sniffed and (what := sniff_media(bytes(body))):
            return _Exchange("refused", Reason.SNIFFED_MEDIA,
                             f"body starts like a {what} (declared {media}); discarded", **base)
        return _Exchange("done", Reason.OK, f"HTTP {status}, {len(body)} bytes",
                         body=bytes(body), **base)


def _headers(
    response: httpx.Response,
) -> tuple[list[tuple[str, str]], Callable[[str], str | None]]:
    """(the raw headers as latin-1 text, get(lower-case name) -> value or None).

    `get` answers as `response.headers.get` does (the values of repeated headers joined by
    ", "): from one pass over the headers when they are all ASCII (then every httpx header
    encoding decodes them alike), else from httpx's Headers itself."""
    raw = response.headers.raw
    text = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
    if not all(k.isascii() and v.isascii() for k, v in raw):
        return text, response.headers.get
    values: dict[str, str] = {}
    for k, v in text:
        name = k.lower()
        seen = values.get(name)
        values[name] = v if seen is None else f"{seen}, {v}"
    return text, values.get


def _same_site(a: str, b: str) -> bool:
    ha, hb = _host_key(a), _host_key(b)
    try:
        import importlib

        same = getattr(importlib.import_module("crawler.urls"), "same_site", None)
        if callable(same):
            return bool(same(a, b))
    except ImportError:
        pass
    return _site(ha) == _site(hb)


def _site(host: str) -> str:
    """A rough registrable domain: the last two labels (three under short second-level labels)."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-2]) <= 3 and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])

