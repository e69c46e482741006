"""fetch.py's fast URL parse (plain URLs) vs httpx.URL + urlsplit; _vet with and without it.

Decisions only: the resolver seam answers, nothing is connected to."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

import crawler.fetch as fetch_module
from crawler.fetch import Fetcher, _host_key, _plain_url, _Vetted
from crawler.settings import FetchSettings

_PATH_CHARS = "abcXYZ019-._~!$&'()*+,;=:@/%?#[] \"<>{}`|\\^é\t"
_HOSTS = ["a.example", "www.ads-site.test", "127.0.0.1", "127.000.0.1", "999.1.1.1", "1.2.3",
          "x_y.test", "A.Example", "b..test", "c.test.", "[::1]", "xn--bcher-kva.test",
          "bücher.test", "user@h.test", "u:p@h.test", ""]
_PORTS = ["", ":80", ":443", ":8080", ":0", ":65535", ":65536", ":99999", ":", ":08", ":x"]
_PATHS = ["", "/", "/ad/1", "/a/./b", "/a/../b", "/.well-known/x", "/a%41b", "/%zz", "/a%4",
          "/x.html", "//double"]


_PLAIN_CHARS = "abcXYZ019-._~!$&'()*+,;=:@/%"


@st.composite
def urls(draw: st.DrawFn) -> str:
    """Mostly URLs of the plain form (so the fast path is taken), with odd parts mixed in."""
    odd = draw(st.integers(0, 9)) == 0

    def pick(plain: list[str], other: list[str]) -> str:
        return draw(st.sampled_from(other if odd and draw(st.booleans()) else plain))

    def text() -> str:
        return draw(st.text(alphabet=_PATH_CHARS if odd else _PLAIN_CHARS, max_size=14))

    scheme = pick(["http", "https"], ["HTTP", "ftp", "Https"])
    sep = pick(["://"], [":/", ":", ":///"])
    host = pick(["a.example", "www.ads-site.test", "127.0.0.1", "x_y.test", "b..test",
                 "c.test.", "xn--bcher-kva.test", "10.1.2.3", "1.2.3"], _HOSTS)
    port = pick(["", "", ":80", ":443", ":8080", ":0", ":65535", ":08"], _PORTS)
    path = pick(["/", "/ad/1", "/x.html", "//double", "/a%41b"], _PATHS) + text()
    query = draw(st.one_of(st.none(), st.just(text())))
    return f"{scheme}{sep}{host}{port}{path}" + ("" if query is None else f"?{query}")


def _httpx(url: str) -> Any:
    try:
        return httpx.URL(url)._uri_reference
    except (httpx.InvalidURL, ValueError) as exc:
        return type(exc)


def _split(url: str) -> tuple[Any, ...]:
    parts = urlsplit(url)
    try:
        port: Any = parts.port
    except ValueError:
        port = ValueError
    return parts.scheme.lower(), parts.hostname, port, parts.username, parts.password


@settings_(max_examples=800, deadline=None)
@given(urls())
def test_plain_urls_parse_as_httpx_and_urlsplit_do(url: str) -> None:
    plain = _plain_url(url)
    if plain is None:
        return
    parts, parsed = plain
    assert parsed._uri_reference == _httpx(url)
    assert str(parsed) == str(httpx.URL(url)) and parsed == httpx.URL(url)
    assert (parts.scheme, parts.hostname, parts.port, parts.username, parts.password) == \
        _split(url)
    assert _host_key(url) == _host_key(url, httpx.URL(url))


def test_the_fast_path_is_on_and_takes_typical_urls() -> None:
    assert fetch_module._ParseResult is not None  # httpx internals as expected
    for url in ("http://127.0.0.1:43215/ad/17", "https://ads.example/listing?id=5&p=2",
                "https://ads.example/a%20b/c.html", "http://h.test:80/"):
        assert _plain_url(url) is not None, url
    for url in ("https://Ads.example/", "http://h.test/a/../b", "http://u@h.test/",
                "http://h.test/#frag", "http://[::1]/", "http://h.test", "http://999.1.1.1/",
                "http://h.test/%zz", "http://h.test:99999/", "ftp://h.test/"):
        assert _plain_url(url) is None, url


_VET_URLS = [
    "http://a.example/ad/1", "https://a.example:8443/x?y=1", "http://A.Example/x", "http://a.example:80/",
    "http://127.0.0.1:9/p", "http://127.000.0.1/", "http://999.1.1.1/", "http://1.2.3/",
    "http://0x7f.0.0.1/", "http://u:p@a.example/", "http://a.example:99999/", "ftp://a.example/",
    "http://a.example/a/../b", "http://a.example/%zz", "http://a.example:0/", "http:///x",
    "http://bücher.test/", "http://a.example/x y", "http://[::1]:8080/", "http://10.0.0.1/",
    "https://b.example/p;q=1/@:$,!*'()~_-?a/b?c%41", "http://unknown.test/",
]


async def test_vet_decides_the_same_with_and_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        if host == "unknown.test":
            raise LookupError(f"no such host {host}")
        return ["10.0.0.1"] if host.startswith("b.") else ["127.0.0.1"]

    async def decide(fast: bool) -> list[Any]:
        if not fast:
            monkeypatch.setattr(fetch_module, "_ParseResult", None)
        out: list[Any] = []
        settings = FetchSettings.from_env({"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"})
        async with Fetcher(settings, resolver=resolve) as f:
            for url in _VET_URLS:
                v = await f._vet(url, page=False)
                out.append((v.host, v.ip, str(v.url), v.origin) if isinstance(v, _Vetted)
                           else v)
        monkeypatch.undo()
        return out

    with_fast = await decide(True)
    assert with_fast == await decide(False)
    assert sum(isinstance(v[0], str) for v in with_fast) >= 6  # some were accepted
