"""URL rules, as pure functions: canonicalise, host key, same-site, scheme checks.

    canonicalize("HTTP://Bücher.Example:80/a%7e?z=1&a=2#top")
        -> "http://xn--bcher-kva.example/a~?a=2&z=1"

Only http and https are accepted; a URL carrying a user name or password is refused (we never
log in anywhere), so are whitespace and control characters inside it. The path and query are
normalised by w3lib (percent-encoding, query arguments sorted), the fragment is dropped, the host
is lower-cased and IDN hosts become punycode, a default port is removed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import idna
from w3lib.url import canonicalize_url

MAX_URL_LENGTH = 8192
SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_CONTROL_OR_SPACE = re.compile(
    r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?$")
_IPV4ISH = re.compile(r"^[0-9a-fx.]+$")  # numeric forms; netguard decides about the address
# second-level labels under which registrations happen one level deeper (co.uk, com.au, ...)
_SECOND_LEVEL = frozenset(
    {
        "co",
        "com",
        "net",
        "org",
        "gov",
        "edu",
        "ac",
        "or",
        "ne",
        "go",
        "gv",
        "mil",
        "nom",
        "ltd",
        "plc",
        "sch",
        "biz",
        "info",
        "gob",
        "gouv",
        "nic",
        "kiev",
        "kyiv",
        "msk",
        "spb",
        "in",
    }
)


class InvalidURL(ValueError):
    """The text is not an acceptable seed or link URL; `reason` says why, for an analyst."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _host_to_ascii(host: str) -> str:
    host = host.rstrip(".").lower()
    if not host:
        raise InvalidURL("no host name")
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        if not re.fullmatch(r"[0-9a-f:.]+(%[0-9a-z_.\-]+)?", inner) or ":" not in inner:
            raise InvalidURL(f"bad IPv6 address: {_short(host)}")
        return host
    if host.isascii():
        ascii_host = host
    else:
        try:
            ascii_host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise InvalidURL(f"bad international host name: {_short(host)}") from exc
    if len(ascii_host) > 253:
        raise InvalidURL("host name longer than 253 characters")
    if _IPV4ISH.match(ascii_host) and not any(c.isalpha() for c in ascii_host.replace("x", "")):
        return ascii_host
    labels = ascii_host.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise InvalidURL(f"bad host name: {_short(host)}")
    return ascii_host


def canonicalize(url: str) -> str:
    """The canonical form of an http(s) URL, or InvalidURL with a readable reason."""
    if not isinstance(url, str):
        raise InvalidURL("not a URL")
    url = url.strip()
    if not url:
        raise InvalidURL("empty")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL(f"longer than {MAX_URL_LENGTH} characters")
    if _CONTROL_OR_SPACE.search(url):
        raise InvalidURL(f"contains whitespace or control characters: {_short(url)!r}")
    m = _SCHEME.match(url)
    if m is None:
        raise InvalidURL("not a URL (no http:// or https:// scheme)")
    scheme = m.group(1).lower()
    if scheme not in SCHEMES:
        raise InvalidURL(f"not http(s): {_short(url)}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidURL(f"not a URL: {exc}") from exc
    if not url[m.end() :].startswith("//"):
        raise InvalidURL("not a URL (expected // after the scheme)")
    netloc = parts.netloc
    if "@" in netloc:
        raise InvalidURL("contains credentials (user:password@host); triage never logs in")
    if "\\" in netloc:
        raise InvalidURL(f"bad host name: {_short(netloc)}")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"bad port: {_short(netloc)}") from exc
    raw_host = netloc
    if raw_host.startswith("["):
        raw_host = raw_host[: raw_host.find("]") + 1] if "]" in raw_host else raw_host
    elif ":" in raw_host:
        raw_host = raw_host.rsplit(":", 1)[0]
    host = _host_to_ascii(raw_host)
    if port == 0:
        raise InvalidURL("bad port: 0")
    new_netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    rebuilt = urlunsplit((scheme, new_netloc, parts.path or "/", parts.query, ""))
    try:
        canonical = canonicalize_url(rebuilt, keep_fragments=False)
        # w3lib is not always idempotent ("%%41" -> "%A" -> "%A" + next char): settle it
        for _ in range(3):
            again = canonicalize_url(canonical, keep_fragments=False)
            if again == canonical:
                break
            canonical = again
    except (ValueError, UnicodeError) as exc:
        raise InvalidURL(f"not a URL: {exc}") from exc
    return canonical


_PATH_CHARS = r"[A-Za-z0-9\-._~!$&'()*+,=:@/]"  # not ';': w3lib drops an empty ';params'
_SIMPLE = re.compile(
    r"^(https?)://([a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*)"
    rf"(?::([0-9]{{1,5}}))?(/{_PATH_CHARS}*)?$"
)
# A path (or root-relative href) canonicalize_fast keeps as it is, unless it holds "/."
SIMPLE_PATH = re.compile(rf"/{_PATH_CHARS}*")


def _shortcut(url: str) -> str | None:
    """canonicalize(url) when `url` has the already-canonical shape, else None."""
    m = _SIMPLE.match(url)
    if m is None or "/." in url or len(url) > MAX_URL_LENGTH:
        return None
    scheme, _, port, path = m.groups()
    if port is not None and (
        int(port) in (0, DEFAULT_PORTS[scheme]) or int(port) > 65535 or port.startswith("0")
    ):
        return None
    return url if path else url + "/"


def canonicalize_fast(url: str) -> str:
    """canonicalize(), with a shortcut for the common already-canonical shape.

    An ASCII URL with a lower-case host, no query, no percent-escapes and no dot segments is its
    own canonical form (the tests check this against canonicalize()); others take the full path.
    Used for the hundreds of links on each page.
    """
    fast = _shortcut(url)
    return canonicalize(url) if fast is None else fast


def is_simple_origin(origin: str) -> bool:
    """Whether "scheme://host[:port]" takes canonicalize_fast's shortcut.

    Then for every `href` that SIMPLE_PATH fully matches, holding no "/." and with
    len(origin + href) <= MAX_URL_LENGTH, canonicalize_fast(origin + href) == origin + href
    (the host and port part matches alike whatever path follows; tests compare the two).
    """
    return _shortcut(origin + "/") == origin + "/"


def is_http_url(url: str) -> bool:
    """True when `url` canonicalises (an acceptable http/https URL)."""
    try:
        canonicalize(url)
    except InvalidURL:
        return False
    return True


def host_of(url: str) -> str:
    """The lower-case host name of a URL (IPv6 without brackets), "" when there is none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return ""
    return (host or "").rstrip(".").lower()


def host_key(url: str) -> str:
    """`host` or `host:port` (a non-default port): the unit of politeness."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return host_of(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if ":" in host:
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{port}"


def site_of(host: str) -> str:
    """An approximation of the registrable domain ("eTLD+1") of a host name.

    The last two labels, or three under a known second-level label of a two-letter country code
    (example.co.uk). IP addresses are their own site. No public-suffix list is consulted.
    """
    host = host.rstrip(".").lower().strip("[]")
    if not host or ":" in host or re.fullmatch(r"[0-9.]+", host):
        return host
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(a: str, b: str) -> bool:
    """Whether two URLs belong to the same site (same approximate registrable domain)."""
    ha, hb = host_of(a), host_of(b)
    if not ha or not hb:
        return False
    return site_of(ha) == site_of(hb)
