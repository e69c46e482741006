"""Fetch settings: typed, frozen, validated once at start.

Read from the environment (`TRIAGE_*`) and CLI overrides by `FetchSettings.from_env`. No other
module reads `os.environ` for fetch settings. A bad value raises `SettingsError` naming the key:

    FetchSettings.from_env()                                  # env only
    FetchSettings.from_env({"TRIAGE_PER_HOST_RPS": "0.5"})    # explicit mapping (tests)
    FetchSettings.from_env(per_host_rps=0)                    # CLI flag wins over env

Every default here is listed in docs/safety.md (keep them in step).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.errors import SettingsError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

KiB = 1024
MiB = 1024 * KiB
VERSION = "0.1.0"

DEFAULT_CONTENT_TYPES: tuple[str, ...] = ("text/html", "application/xhtml+xml", "text/plain")
TRANSPORTS = ("auto", "aiohttp", "httpx")  # values of FetchSettings.transport


@dataclass(frozen=True)
class FetchSettings:
    """Everything fetch.py, robots.py and politeness need. Times are seconds, sizes bytes."""

    # limits
    concurrency: int = 32  # requests in flight, all hosts together
    per_host_rps: float = 1.0  # requests per second per host; 0 = no rate limit
    per_host_concurrency: int = 2  # requests in flight per host
    max_redirects: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # between two reads
    total_timeout: float = 60.0  # one request, headers to last body byte
    max_body_bytes: int = 5 * MiB  # decoded (after decompression)
    allowed_content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    sniff_bytes: int = 64  # first decoded bytes checked for media/archive/executable magic
    # identity
    user_agent_token: str = "triage"
    contact: str = ""  # URL or e-mail put in the User-Agent; set TRIAGE_CONTACT
    # network
    allow_cidrs: tuple[IPNetwork, ...] = ()  # opened on purpose (demos, tests); default none
    proxy: str | None = None
    # "auto": aiohttp's pool (crawler/transport.py), or httpx's own when a proxy is configured;
    # "aiohttp" / "httpx" to choose (both pin every connection to the vetted address)
    transport: str = "auto"
    # policy
    sources_path: Path | None = None
    # politeness
    crawl_delay_cap: float = 30.0  # robots.txt Crawl-delay is honoured up to this
    retries: int = 2  # extra attempts for transport errors, 429 and 5xx
    backoff_base: float = 1.0  # first backoff after a 429/503/5xx/transport error
    backoff_max: float = 120.0  # longest backoff; a longer Retry-After pauses the host
    host_fail_limit: int = 5  # consecutive failed requests before a host is paused
    host_pause: float = 600.0  # how long a failing host stays paused
    # robots.txt
    robots_ttl_max: float = 24 * 3600.0  # cache lifetime cap (RFC 9309: 24 h)
    robots_error_ttl: float = 300.0  # a failed-closed robots.txt is tried again after this
    robots_max_bytes: int = 500 * KiB

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def user_agent(self) -> str:
        contact = self.contact or "contact not configured: set TRIAGE_CONTACT"
        return f"{self.user_agent_token}/{VERSION} (+{contact})"

    @property
    def http_transport(self) -> str:
        """The transport fetch.py uses: "aiohttp" or "httpx" ("auto" resolved)."""
        if self.transport == "auto":
            return "httpx" if self.proxy else "aiohttp"
        return self.transport

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> FetchSettings:
        """Settings from `TRIAGE_*` variables, then keyword overrides (CLI flags)."""
        source = os.environ if env is None else env
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, (key, parse) in _ENV.items():
            raw = source.get(key)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[name] = parse(raw.strip())
            except (ValueError, TypeError) as exc:
                raise SettingsError(key, f"invalid value {raw!r}: {exc}") from exc
        for name, value in overrides.items():
            if name not in names:
                raise SettingsError(name, "unknown fetch setting")
            if value is None:
                continue
            values[name] = value
        return cls(**values)


# --------------------------------------------------------------------------- parsing


def _int(raw: str) -> int:
    return int(raw.replace("_", ""))


def _size(raw: str) -> int:
    text = raw.strip().lower().replace("_", "")
    for suffix, factor in (("kib", KiB), ("mib", MiB), ("kb", 1000), ("mb", 1000**2),
                           ("k", KiB), ("m", MiB)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_cidrs(raw: str | tuple[Any, ...] | list[Any]) -> tuple[IPNetwork, ...]:
    items = _csv(raw) if isinstance(raw, str) else tuple(raw)
    nets: list[IPNetwork] = []
    for item in items:
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            nets.append(item)
        else:
            nets.append(ipaddress.ip_network(str(item).strip(), strict=False))
    return tuple(nets)


_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "concurrency": ("TRIAGE_CONCURRENCY", _int),
    "per_host_rps": ("TRIAGE_PER_HOST_RPS", float),
    "per_host_concurrency": ("TRIAGE_PER_HOST_CONCURRENCY", _int),
    "max_redirects": ("TRIAGE_MAX_REDIRECTS", _int),
    "connect_timeout": ("TRIAGE_CONNECT_TIMEOUT", float),
    "read_timeout": ("TRIAGE_READ_TIMEOUT", float),
    "total_timeout": ("TRIAGE_TOTAL_TIMEOUT", float),
    "max_body_bytes": ("TRIAGE_MAX_BODY_BYTES", _size),
    "allowed_content_types": ("TRIAGE_CONTENT_TYPES", _csv),
    "user_agent_token": ("TRIAGE_USER_AGENT", str),
    "contact": ("TRIAGE_CONTACT", str),
    "allow_cidrs": ("TRIAGE_ALLOW_CIDRS", parse_cidrs),
    "proxy": ("TRIAGE_PROXY", str),
    "transport": ("TRIAGE_TRANSPORT", str),
    "sources_path": ("TRIAGE_SOURCES", Path),
    "crawl_delay_cap": ("TRIAGE_CRAWL_DELAY_CAP", float),
    "retries": ("TRIAGE_RETRIES", _int),
    "backoff_base": ("TRIAGE_BACKOFF_BASE", float),
    "backoff_max": ("TRIAGE_BACKOFF_MAX", float),
    "host_fail_limit": ("TRIAGE_HOST_FAIL_LIMIT", _int),
    "host_pause": ("TRIAGE_HOST_PAUSE", float),
    "robots_ttl_max": ("TRIAGE_ROBOTS_TTL_MAX", float),
    "robots_error_ttl": ("TRIAGE_ROBOTS_ERROR_TTL", float),
    "robots_max_bytes": ("TRIAGE_ROBOTS_MAX_BYTES", _size),
}


def env_key(name: str) -> str:
    """The environment variable for a field, e.g. `per_host_rps` -> `TRIAGE_PER_HOST_RPS`."""
    return _ENV[name][0] if name in _ENV else name


# --------------------------------------------------------------------------- validation


def _validate(s: FetchSettings) -> None:
    def fail(name: str, message: str) -> None:
        raise SettingsError(env_key(name), message)

    def number(name: str, *, minimum: float, exclusive: bool = False) -> None:
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(name, f"must be a number, not {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            fail(name, f"must be a finite number, not {value!r}")
        if value < minimum or (exclusive and value == minimum):
            op = ">" if exclusive else ">="
            fail(name, f"must be {op} {minimum}, not {value!r}")

    for name in ("concurrency", "per_host_concurrency", "host_fail_limit"):
        number(name, minimum=1)
        if not isinstance(getattr(s, name), int):
            fail(name, "must be a whole number")
    for name in ("max_redirects", "retries", "sniff_bytes"):
        number(name, minimum=0)
        if not isinstance(getattr(s, name), int):
            fail(name, "must be a whole number")
    if s.max_redirects > 20:
        fail("max_redirects", "must be at most 20")
    if s.retries > 10:
        fail("retries", "must be at most 10")
    number("per_host_rps", minimum=0)
    for name in ("connect_timeout", "read_timeout", "total_timeout", "backoff_max",
                 "host_pause", "robots_ttl_max"):
        number(name, minimum=0, exclusive=True)
    for name in ("crawl_delay_cap", "backoff_base", "robots_error_ttl"):
        number(name, minimum=0)
    if s.robots_ttl_max > 24 * 3600:
        fail("robots_ttl_max", "must be at most 86400 (RFC 9309: 24 hours)")
    number("max_body_bytes", minimum=1)
    number("robots_max_bytes", minimum=1)
    if s.robots_max_bytes < 500 * KiB:
        fail("robots_max_bytes", "must be at least 512000 (RFC 9309: parse at least 500 KiB)")

    types = s.allowed_content_types
    if isinstance(types, str):
        types = _csv(types)
    types = tuple(t.strip().lower() for t in types)
    if not types or any("/" not in t or " " in t for t in types):
        fail("allowed_content_types", f"must be media types like text/html, not {types!r}")
    object.__setattr__(s, "allowed_content_types", types)

    token = s.user_agent_token.strip()
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        fail("user_agent_token", "must be letters, digits, '-' or '_' (RFC 9309 product token)")
    object.__setattr__(s, "user_agent_token", token)
    if any(c in s.contact for c in "\r\n()"):
        fail("contact", "must not contain line breaks or parentheses")

    try:
        object.__setattr__(s, "allow_cidrs", parse_cidrs(s.allow_cidrs))
    except (ValueError, TypeError) as exc:
        fail("allow_cidrs", f"not a list of networks: {exc}")

    if s.proxy is not None:
        if not s.proxy.startswith(("http://", "https://")):
            fail("proxy", "must be an http:// or https:// proxy URL (SOCKS is not supported)")
    transport = str(s.transport).strip().lower()
    if transport not in TRANSPORTS:
        fail("transport", f"must be one of {', '.join(TRANSPORTS)}, not {s.transport!r}")
    if transport == "aiohttp" and s.proxy is not None:
        fail("transport", "the aiohttp transport does not go through TRIAGE_PROXY; "
                          "use auto or httpx with a proxy")
    object.__setattr__(s, "transport", transport)
    if s.sources_path is not None and not isinstance(s.sources_path, Path):
        object.__setattr__(s, "sources_path", Path(s.sources_path))
