"""Which resolved addresses may be contacted. Pure decisions, plus a small resolver seam.

    guard = AddressGuard(settings.allow_cidrs)
    guard.check("169.254.169.254")   # -> "169.254.169.254 is link-local (cloud metadata service)"
    guard.check("93.184.215.14")     # -> None (allowed)

Refused unless inside an explicitly allowed CIDR: loopback, private (RFC 1918), unique-local,
link-local (incl. the 169.254.169.254 metadata service), CGNAT, multicast, broadcast, reserved,
documentation/benchmark ranges, unspecified, and any IPv6 form that embeds one of those
(IPv4-mapped, IPv4-compatible, IPv4-translated, 6to4, NAT64). Teredo and local-use NAT64 are
refused outright. Hosts written as numbers in a non-standard form (decimal `2130706433`, octal
`0177.0.0.1`, hex `0x7f.1`, short `127.1`) are refused before any lookup.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# host -> vetted address, for the task that is sending a request: set by fetch.py around each
# exchange, read by pinning.PinnedBackend (here, so fetch.py need not import httpcore)
PINS: ContextVar[dict[str, str] | None] = ContextVar("triage_pins", default=None)

CHECK_MEMO_MAX = 10_000  # AddressGuard decisions remembered (all forgotten when full)

# A resolver returns every address of a host (as strings); tests inject their own.
Resolver = Callable[[str, int], Awaitable[list[str]]]


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in pairs)


_V4_BLOCKED = _nets(
    ("169.254.169.254/32", "link-local (cloud metadata service)"),
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (reserved)"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast (reserved)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (reserved)"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)

_V6_BLOCKED = _nets(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only (reserved)"),
    ("2001::/32", "Teredo tunnel (embeds an obfuscated IPv4 address)"),
    ("2001::/23", "IETF protocol assignments (reserved)"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique-local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated, private)"),
    ("ff00::/8", "multicast"),
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
_V4_COMPAT = ipaddress.ip_network("::/96")
_V4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64...), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _NAT64:
        return low32, "NAT64"
    if ip in _V4_TRANSLATED:
        return low32, "IPv4-translated"
    if ip in _V4_COMPAT and int(ip) > 1:
        return low32, "IPv4-compatible"
    return None


class AddressGuard:
    """Decides whether an address may be contacted. `check` returns a reason, or None if allowed."""

    def __init__(self, allow_cidrs: Iterable[IPNetwork | str] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(
            n if isinstance(n, ipaddress.IPv4Network | ipaddress.IPv6Network)
            else ipaddress.ip_network(n, strict=False)
            for n in allow_cidrs
        )
        # address -> decision: a decision depends only on the address and `allow` (fixed), and
        # a crawl asks about the same few addresses again on every request
        self._memo: dict[str | IPAddress, str | None] = {}

    def allowed_explicitly(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allow)

    def check(self, address: str | IPAddress) -> str | None:
        """None if `address` may be contacted, else why not."""
        memo = self._memo
        if address in memo:
            return memo[address]
        why = self._check(address)
        if len(memo) >= CHECK_MEMO_MAX:
            memo.clear()
        memo[address] = why
        return why

    def _check(self, address: str | IPAddress) -> str | None:
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return f"{address!r} is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            return f"{ip} has a zone index (link-local scope)"
        if self.allowed_explicitly(ip):
            return None
        if isinstance(ip, ipaddress.IPv6Address):
            inner = embedded_ipv4(ip)
            if inner is not None:
                v4, form = inner
                if self.allowed_explicitly(v4):
                    return None
                why = self._blocked(v4)
                if why is not None:
                    return f"{ip} is {form} for {v4}, which is {why}"
            why = self._blocked(ip)
        else:
            why = self._blocked(ip)
        if why is not None:
            return f"{ip} is {why}"
        if not ip.is_global:
            return f"{ip} is not a globally routable address"
        return None

    @staticmethod
    def _blocked(ip: IPAddress) -> str | None:
        table = _V4_BLOCKED if ip.version == 4 else _V6_BLOCKED
        for net, why in table:
            if ip in net:
                return why
        return None


# --------------------------------------------------------------------------- numeric hosts


def _inet_aton_part(part: str) -> int:
    if part == "":
        raise ValueError("empty part")
    low = part.lower()
    if low.startswith("0x"):
        return int(low[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    if not part.isdigit():
        raise ValueError(part)
    return int(part, 10)


@functools.lru_cache(maxsize=4096)  # pure; asked again for the same hosts on every request
def parse_numeric_host(host: str) -> tuple[IPAddress, bool] | None:
    """If `host` is an IP address in any form a resolver would accept, return it.

    Returns `(address, canonical)`: `canonical` is False for tricks like `2130706433`,
    `0177.0.0.1`, `0x7f.0.0.1` or `127.1` (inet_aton forms). None for ordinary names.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text), True
        except ValueError:
            return None
    try:
        return ipaddress.IPv4Address(text), True
    except ValueError:
        pass
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    try:
        nums = [_inet_aton_part(p) for p in parts]
    except ValueError:
        return None
    *head, last = nums
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(nums)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = (value << (8 * (5 - len(nums)))) | last
    return ipaddress.IPv4Address(value), False


# --------------------------------------------------------------------------- resolving


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address of `host` from the system resolver, deduplicated, in returned order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = str(sockaddr[0])
        if addr not in seen:
            seen.append(addr)
    return seen


async def vet_host(
    host: str, port: int, guard: AddressGuard, resolver: Resolver = system_resolver
) -> tuple[str | None, str | None]:
    """Resolve `host` and check EVERY address. Returns (address to pin, None) or (None, reason).

    One bad address refuses the host: an attacker who controls DNS can otherwise return a
    public and a private address and let the connection pick.
    """
    numeric = parse_numeric_host(host)
    if numeric is not None:
        ip, canonical = numeric
        if not canonical:
            return None, f"host {host!r} is a numeric address in a non-standard form ({ip})"
        why = guard.check(ip)
        return (None, why) if why else (str(ip), None)
    try:
        addresses = await resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise LookupError(f"could not resolve {host}: {exc}") from exc
    if not addresses:
        raise LookupError(f"{host} has no addresses")
    for address in addresses:
        why = guard.check(address)
        if why is not None:
            return None, f"{host} resolves to {why}"
    return addresses[0], None
