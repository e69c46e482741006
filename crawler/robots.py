"""robots.txt: fetched once per origin, cached, decided by RFC 9309 (parser: Protego).

    cache = RobotsCache(settings, fetch_robots)     # fetch_robots(url) -> RobotsResponse
    reason = await cache.refusal("https://example.org/ads/1")   # None = allowed

RFC 9309 availability rules, decided here *before* a body reaches the parser:
  - 2xx: the first `robots_max_bytes` (500 KiB) are parsed; longest match wins, Allow wins ties,
    `*` and `$` wildcards, percent-encoding equivalence; our token, falling back to `*`.
  - 4xx (except 429): "unavailable", everything allowed.
  - 5xx, 429, network error, timeout, a refused or endless redirect chain: "unreachable", everything
    DISALLOWED for that origin (fail closed) until `robots_error_ttl`, then asked again.
Cached per origin for the response's `Cache-Control: max-age`, never longer than 24 h.
`Crawl-delay` is returned capped at `crawl_delay_cap`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from protego import Protego

from crawler.settings import FetchSettings

MAX_ORIGINS = 20_000  # cached origins before expired entries are dropped
Verdict = Literal["allow_all", "disallow_all", "rules"]


@dataclass(frozen=True, slots=True)
class RobotsResponse:
    """What fetching /robots.txt gave: a final status and body, or an error text."""

    status: int | None = None
    body: bytes = b""
    error: str | None = None  # network error, timeout, refused redirect, too many redirects
    max_age: float | None = None  # from Cache-Control, if any


FetchRobots = Callable[[str], Awaitable[RobotsResponse]]


@dataclass(frozen=True, slots=True)
class RobotsRules:
    origin: str
    verdict: Verdict
    reason: str  # how the verdict was reached, e.g. "robots.txt answered 503: fail closed"
    expires_at: float  # clock time
    parser: Protego | None = None

    def allows(self, url: str, token: str) -> bool:
        if urlsplit(url).path == "/robots.txt":
            return True  # RFC 9309 2.2.2: robots.txt itself is implicitly allowed
        if self.verdict == "allow_all":
            return True
        if self.verdict == "disallow_all" or self.parser is None:
            return False
        return bool(self.parser.can_fetch(url, token))

    def crawl_delay(self, token: str, cap: float) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(token)
        if delay is None:
            return None
        return max(0.0, min(float(delay), cap))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return origin_from(scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))


def origin_from(scheme: str, hostname: str | None, port: int) -> str:
    """origin_of() from the parts of an urlsplit() result: the scheme, its .hostname and the
    port (the scheme's default when none is given)."""
    scheme = scheme.lower()
    host = (hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)


def max_age(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    if "no-store" in cache_control.lower() or "no-cache" in cache_control.lower():
        return 0.0
    m = _MAX_AGE.search(cache_control)
    return float(m.group(1)) if m else None


def rules_from_response(
    origin: str, resp: RobotsResponse, now: float, settings: FetchSettings
) -> RobotsRules:
    """Turn one robots.txt fetch into a decision, by RFC 9309 section 2.3.1."""
    error_until = now + settings.robots_error_ttl
    if resp.error is not None or resp.status is None:
        return RobotsRules(
            origin, "disallow_all",
            f"robots.txt unreachable ({resp.error or 'no response'}): "
            "everything disallowed for now (fail closed)",
            error_until,
        )
    status = resp.status
    if status == 429 or status >= 500:
        return RobotsRules(
            origin, "disallow_all",
            f"robots.txt answered HTTP {status}: everything disallowed for now (fail closed)",
            error_until,
        )
    ttl = settings.robots_ttl_max
    if resp.max_age is not None:
        # a zero max-age still gets a minute: robots.txt must not be fetched before every page
        ttl = min(max(resp.max_age, 60.0), settings.robots_ttl_max)
    if 400 <= status < 500:
        return RobotsRules(
            origin, "allow_all", f"robots.txt answered HTTP {status}: everything allowed",
            now + ttl,
        )
    if 200 <= status < 300:
        text = resp.body[: settings.robots_max_bytes].decode("utf-8", errors="replace")
        if text.startswith("\ufeff"):
            text = text[1:]
        parser = Protego.parse(text)
        return RobotsRules(origin, "rules", f"robots.txt rules (HTTP {status})", now + ttl, parser)
    return RobotsRules(
        origin, "disallow_all",
        f"robots.txt answered HTTP {status}: everything disallowed for now (fail closed)",
        error_until,
    )


class RobotsCache:
    """One entry per origin, shared by every task of this process; one fetch per origin at once."""

    def __init__(
        self,
        settings: FetchSettings,
        fetch_robots: FetchRobots,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._fetch = fetch_robots
        self._clock = clock
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules_for(self, url: str, origin: str | None = None) -> RobotsRules:
        """`origin`: origin_of(url), when the caller has it already."""
        if origin is None:
            origin = origin_of(url)
        cached = self._rules.get(origin)
        if cached is not None and cached.expires_at > self._clock():
            return cached
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._rules.get(origin)
            if cached is not None and cached.expires_at > self._clock():
                return cached
            resp = await self._fetch(origin + "/robots.txt")
            rules = rules_from_response(origin, resp, self._clock(), self.settings)
            if len(self._rules) >= MAX_ORIGINS:
                self._prune()
            self._rules[origin] = rules
            return rules

    def _prune(self) -> None:
        """Drop expired entries (bounded memory on long runs over many origins)."""
        now = self._clock()
        for origin in [o for o, r in self._rules.items() if r.expires_at <= now]:
            del self._rules[origin]
            lock = self._locks.get(origin)
            if lock is not None and not lock.locked():
                del self._locks[origin]

    async def refusal(self, url: str) -> str | None:
        """None if robots.txt lets our token fetch `url`, else the reason."""
        rules = await self.rules_for(url)
        if rules.allows(url, self.settings.user_agent_token):
            return None
        if rules.verdict == "disallow_all":
            return rules.reason
        return f"disallowed by robots.txt for user-agent {self.settings.user_agent_token!r}"

    async def check(self, url: str, origin: str | None = None) -> tuple[str | None, float | None]:
        """(refusal, crawl_delay) for `url` from one look at the cached rules.
        `origin`: origin_of(url), when the caller has it already."""
        rules = await self.rules_for(url, origin)
        token = self.settings.user_agent_token
        delay = rules.crawl_delay(token, self.settings.crawl_delay_cap)
        if rules.allows(url, token):
            return None, delay
        if rules.verdict == "disallow_all":
            return rules.reason, delay
        return f"disallowed by robots.txt for user-agent {token!r}", delay

    async def crawl_delay(self, url: str) -> float | None:
        rules = await self.rules_for(url)
        return rules.crawl_delay(self.settings.user_agent_token, self.settings.crawl_delay_cap)

    def peek(self, url: str, origin: str | None = None) -> RobotsRules | None:
        return self._rules.get(origin_of(url) if origin is None else origin)
