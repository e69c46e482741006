"""Fetcher: every hop checked, nothing unsafe read. Real loopback servers; other addresses are
only ever *decided on* (a resolver seam maps test names), never connected to."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

import crawler.fetch as fetch_module
from crawler.decoding import ACCEPT_ENCODING
from crawler.fetch import Fetcher
from crawler.models import Outcome, Reason
from crawler.policy import SourcePolicy
from crawler.settings import FetchSettings
from tests.support.hostile import HostileServer, endless
from tests.support.server import LoopbackSite
from tests.support.transports import current_transport, transport  # noqa: F401

Resolve = Callable[[str, int], Awaitable[list[str]]]


def settings(**kw: Any) -> FetchSettings:
    base: dict[str, Any] = {"transport": current_transport(),
                            "allow_cidrs": ("127.0.0.1/32",), "per_host_rps": 0,
                            "backoff_base": 0.01, "contact": "mailto:osint@example.org"}
    return FetchSettings(**{**base, **kw})


def resolver(table: dict[str, list[str]], calls: list[str] | None = None) -> Resolve:
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError(f"{host}: Name or service not known")
        return table[host]

    return resolve


async def test_html_page_is_fetched_with_hash_headers_and_identity(site: LoopbackSite) -> None:
    body = "<html><title>t</title><p>hello</p></html>"
    site.route("/a", body, headers={"ETag": '"x1"', "X-Secret": "s"})
    policy = SourcePolicy.parse("legal_basis: 'case 17'\n")
    async with Fetcher(settings(), policy=policy) as f:
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FETCHED and r.reason is Reason.OK and r.status == 200
    assert r.body == body.encode()
    assert r.sha256 == hashlib.sha256(body.encode()).hexdigest()
    assert r.content_type == "text/html" and r.charset == "utf-8"
    assert r.headers["etag"] == '"x1"' and "x-secret" not in r.headers
    assert ("X-Secret", "s") in r.raw_headers or ("x-secret", "s") in r.raw_headers
    assert r.final_url == site.url("/a") and r.redirects == ()
    assert r.legal_basis == "case 17"
    assert r.headers["x-triage-address"] == "127.0.0.1"
    assert "robots.txt answered HTTP 404" in r.headers["x-triage-robots"]
    ua = site.requests[-1].headers["User-Agent"]
    assert ua.startswith("triage/") and "mailto:osint@example.org" in ua


async def test_redirect_chain_is_followed_hop_by_hop(site: LoopbackSite) -> None:
    site.route("/r1", status=301, headers={"Location": "/r2"})
    site.route("/r2", status=302, headers={"Location": site.url("/r3")})
    site.route("/r3", status=307, headers={"Location": "/final"})
    site.route("/final", "<p>done</p>")
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/r1"))
    assert r.outcome is Outcome.FETCHED and r.body == b"<p>done</p>"
    assert r.redirects == (site.url("/r1"), site.url("/r2"), site.url("/r3"))
    assert r.final_url == site.url("/final")


async def test_more_than_five_redirects_are_refused(site: LoopbackSite) -> None:
    for i in range(7):
        site.route(f"/r{i}", status=302, headers={"Location": f"/r{i + 1}"})
    site.route("/r7", "<p>x</p>")
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/r0"))
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.TOO_MANY_REDIRECTS
    assert len(r.redirects) == 6
    assert "/r6" not in site.paths()


async def test_redirect_to_metadata_address_is_refused_without_connecting(
    site: LoopbackSite,
) -> None:
    site.route("/go", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/go"))
        connects = list(f.connects)
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.REDIRECT_REFUSED
    assert "169.254.169.254" in r.detail and "metadata" in r.detail
    assert r.redirects == (site.url("/go"),)
    assert connects and all(ip == "127.0.0.1" for ip, _ in connects)


async def test_redirect_to_name_resolving_to_private_address_is_refused_without_connecting(
    site: LoopbackSite,
) -> None:
    calls: list[str] = []
    resolve = resolver({"start.test": ["127.0.0.1"], "intranet.test": ["10.0.0.1"]}, calls)
    site.route("/go", status=302, headers={"Location": f"http://intranet.test:{site.port}/admin"})
    async with Fetcher(settings(), resolver=resolve) as f:
        r = await f.fetch(f"http://start.test:{site.port}/go")
        connects = list(f.connects)
    assert r.reason is Reason.REDIRECT_REFUSED and "10.0.0.1" in r.detail
    assert "intranet.test" in calls
    assert connects and all(ip == "127.0.0.1" for ip, _ in connects)
    assert "/admin" not in site.paths()


async def test_one_private_address_among_public_ones_refuses_the_host(site: LoopbackSite) -> None:
    resolve = resolver({"mixed.test": ["127.0.0.1", "192.168.0.10"]})
    async with Fetcher(settings(), resolver=resolve) as f:
        r = await f.fetch(f"http://mixed.test:{site.port}/")
        assert f.connects == []
    assert r.reason is Reason.ADDRESS and "192.168.0.10" in r.detail
    assert site.paths() == []


async def test_connection_is_pinned_to_the_vetted_address_with_the_name_kept(
    site: LoopbackSite,
) -> None:
    calls: list[str] = []
    site.route("/a", "<p>a</p>")
    # the system resolver knows nothing of pinned.test: success proves no second lookup
    async with Fetcher(settings(), resolver=resolver({"pinned.test": ["127.0.0.1"]}, calls)) as f:
        r = await f.fetch(f"http://pinned.test:{site.port}/a")
    assert r.outcome is Outcome.FETCHED
    assert all(req.headers["Host"] == f"pinned.test:{site.port}" for req in site.requests)
    assert calls == ["pinned.test", "pinned.test"]  # once for robots.txt, once for the page


async def test_unvetted_connections_are_refused_by_the_backend() -> None:
    f = Fetcher(settings())
    with pytest.raises(httpcore.ConnectError):
        await f.backend.connect_tcp("127.0.0.1", 9)
    assert f.connects == []


async def test_loopback_is_refused_by_default(site: LoopbackSite) -> None:
    site.route("/a", "<p>a</p>")
    async with Fetcher(FetchSettings(transport=current_transport())) as f:
        r = await f.fetch(site.url("/a"))
        assert f.connects == []
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.ADDRESS and "loopback" in r.detail
    assert site.paths() == []


async def test_allow_loopback_fixture_opens_loopback(site: LoopbackSite,
                                                     allow_loopback: None) -> None:
    site.route("/a", "<p>a</p>")
    async with Fetcher(FetchSettings.from_env(per_host_rps=0)) as f:
        assert (await f.fetch(site.url("/a"))).outcome is Outcome.FETCHED


@pytest.mark.parametrize("host", ["0x7f.0.0.1", "2130706433", "0177.0.0.1", "127.1"])
async def test_numeric_host_tricks_are_refused(site: LoopbackSite, host: str) -> None:
    async with Fetcher(settings(allow_cidrs=("127.0.0.0/8",))) as f:
        r = await f.fetch(f"http://{host}:{site.port}/")
    assert r.reason is Reason.ADDRESS and "non-standard" in r.detail
    assert site.paths() == []


async def test_dns_failure_is_a_recorded_failure() -> None:
    async with Fetcher(settings(), resolver=resolver({})) as f:
        r = await f.fetch("http://nowhere.test/")
    assert r.outcome is Outcome.FAILED and r.reason is Reason.DNS


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "javascript:x",
                                 "http:///nohost", "http://user:pw@example.org/"])
async def test_bad_urls_are_refused_not_raised(url: str) -> None:
    async with Fetcher(settings()) as f:
        r = await f.fetch(url)
    assert r.outcome is Outcome.REFUSED and r.detail


async def test_redirect_to_other_schemes_and_denied_hosts_is_refused(site: LoopbackSite) -> None:
    site.route("/file", status=302, headers={"Location": "file:///etc/passwd"})
    site.route("/onion", status=302, headers={"Location": "http://abc.onion/"})
    async with Fetcher(settings()) as f:
        a = await f.fetch(site.url("/file"))
        b = await f.fetch(site.url("/onion"))
    assert a.reason is Reason.REDIRECT_REFUSED and "scheme" in a.detail
    assert b.reason is Reason.REDIRECT_REFUSED and ".onion" in b.detail


async def test_policy_refuses_before_any_lookup(site: LoopbackSite) -> None:
    calls: list[str] = []
    policy = SourcePolicy.parse("allow: [allowed.test]\n")
    async with Fetcher(settings(), policy=policy, resolver=resolver({}, calls)) as f:
        r = await f.fetch(f"http://other.test:{site.port}/")
    assert r.reason is Reason.POLICY and "allow list" in r.detail
    assert calls == []


async def test_redirect_hop_is_checked_against_the_new_hosts_robots_txt() -> None:
    with LoopbackSite() as a, LoopbackSite() as b:
        b.route("/robots.txt", "User-agent: *\nDisallow: /\n", content_type="text/plain")
        b.route("/x", "<p>x</p>")
        a.route("/go", status=302, headers={"Location": f"http://b.test:{b.port}/x"})
        resolve = resolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
        async with Fetcher(settings(), resolver=resolve) as f:
            r = await f.fetch(f"http://a.test:{a.port}/go")
    assert r.reason is Reason.REDIRECT_REFUSED and "robots" in r.detail
    assert b.paths() == ["/robots.txt"]


async def test_non_html_content_type_is_refused_unread(site: LoopbackSite) -> None:
    site.route("/doc.pdf", b"%PDF-1.7 " + b"x" * 1000, content_type="application/pdf")
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/doc.pdf"))
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.CONTENT_TYPE
    assert "application/pdf" in r.detail and r.body == b"" and r.sha256 is None


async def test_image_jpeg_on_an_html_url_is_refused_unread() -> None:
    jpeg = endless(content_type="image/jpeg", chunk=b"\xff\xd8\xff" + b"j" * 65000)
    async with HostileServer(jpeg) as srv:
        async with Fetcher(settings()) as f:
            r = await f.fetch(srv.url("/photo.html"))
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.CONTENT_TYPE
    assert "image/jpeg" in r.detail and r.body == b""


async def test_missing_content_type_is_refused(site: LoopbackSite) -> None:
    site.route("/x", "<p>x</p>", content_type=None)
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/x"))
    assert r.reason is Reason.CONTENT_TYPE and "no Content-Type" in r.detail


@pytest.mark.parametrize(
    ("magic", "what"),
    [(b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff\xe0", "JPEG"), (b"PK\x03\x04", "ZIP"),
     (b"\x00\x00\x00\x18ftypmp42", "MP4"), (b"\x7fELF\x02\x01", "ELF")],
)
async def test_media_bytes_behind_a_text_type_are_discarded(
    site: LoopbackSite, magic: bytes, what: str
) -> None:
    site.route("/page.html", magic + b"\x00" * 200)
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/page.html"))
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.SNIFFED_MEDIA
    assert what in r.detail and r.body == b""


async def test_declared_oversize_body_is_refused_unread(site: LoopbackSite) -> None:
    site.route("/big", b"a" * (2 * 1024 * 1024))
    async with Fetcher(settings(max_body_bytes=1024 * 1024)) as f:
        r = await f.fetch(site.url("/big"))
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.TOO_LARGE
    assert "Content-Length" in r.detail and r.body == b""


async def test_body_over_the_cap_is_cut(site: LoopbackSite) -> None:
    site.route("/big", lambda: (b"<p>" + b"a" * 1021 for _ in range(3000)))  # chunked, 3 MB
    async with Fetcher(settings(max_body_bytes=1024 * 1024)) as f:
        r = await f.fetch(site.url("/big"))
    assert r.reason is Reason.TOO_LARGE and "cap" in r.detail and r.body == b""


async def test_body_at_the_cap_is_kept(site: LoopbackSite) -> None:
    site.route("/exact", b"a" * 4096)
    async with Fetcher(settings(max_body_bytes=4096)) as f:
        r = await f.fetch(site.url("/exact"))
    assert r.outcome is Outcome.FETCHED and len(r.body) == 4096


async def test_http_error_status_is_recorded_not_retried(site: LoopbackSite) -> None:
    async with Fetcher(settings(retries=3)) as f:
        r = await f.fetch(site.url("/missing"))
    assert r.outcome is Outcome.FETCHED and r.status == 404 and r.reason is Reason.HTTP_STATUS
    assert site.paths().count("/missing") == 1


async def test_cookies_are_never_kept(site: LoopbackSite) -> None:
    site.route("/set", "<p>a</p>", headers={"Set-Cookie": "session=abc; Path=/"})
    site.route("/next", "<p>b</p>")
    async with Fetcher(settings()) as f:
        first = await f.fetch(site.url("/set"))
        await f.fetch(site.url("/next"))
    assert all("Cookie" not in r.headers for r in site.requests)
    # the Set-Cookie header is still kept as evidence, just never acted on
    assert any(k.lower() == "set-cookie" and v.startswith("session=abc")
               for k, v in first.raw_headers)


async def test_request_headers_are_what_httpx_asyncclient_would_send(site: LoopbackSite) -> None:
    # the Fetcher builds its requests itself (no AsyncClient layer): same headers, same order
    site.route("/a", "<p>a</p>")
    s = settings()
    async with Fetcher(s) as f:
        await f.fetch(site.url("/a"))
    client = httpx.AsyncClient(headers={
        "User-Agent": s.user_agent, "Accept": fetch_module.ACCEPT,
        "Accept-Encoding": ACCEPT_ENCODING, "Accept-Language": "*"})
    expected = [(k.decode(), v.decode())
                for k, v in client.build_request("GET", site.url("/a")).headers.raw]
    sent = list(site.requests[-1].headers.items())
    assert [k.lower() for k, _ in sent] == [k.lower() for k, _ in expected]
    assert [v for _, v in sent] == [v for _, v in expected]
    assert {r.method for r in site.requests} == {"GET"}


_HEADER_BYTES = st.binary(min_size=0, max_size=6).map(
    lambda b: bytes(c for c in b if c not in b"\r\n\x00"))


@settings_(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"Content-Type", b"content-type", b"Location",
                                           b"LOCATION", b"Retry-After", b"X-A", b"caf\xe9"]),
                          st.one_of(st.sampled_from([b"text/html", b"/x", b"caf\xc3\xa9",
                                                     b"caf\xe9", b"", b"a, b"]),
                                    _HEADER_BYTES)),
                max_size=6))
def test_header_lookup_answers_as_httpx_headers_get(raw: list[tuple[bytes, bytes]]) -> None:
    # transport is parametrised (autouse) but unused here: the look-up is pure
    response = httpx.Response(200, headers=raw)
    text, get = fetch_module._headers(response)
    assert text == [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
    for name in ("content-type", "location", "retry-after", "x-a", "content-length"):
        assert get(name) == response.headers.get(name), name


@settings_(max_examples=150, deadline=None)
@given(st.one_of(st.sampled_from(["text/html", "TEXT/HTML; Charset=\"UTF-8\"", "text/plain;q=1",
                                  "; charset=latin-1", "application/xhtml+xml ;charset = koi8-r",
                                  " ", ""]),
                 st.text(alphabet="tex/hml;charsetuf8= \"-", max_size=30)))
def test_remembered_content_types_parse_as_before(value: str) -> None:
    for _ in range(2):  # the second answer comes from the memo
        assert fetch_module._media_type(value) == (
            fetch_module._parse_media_type(value) if value else (None, None))


async def test_only_get_requests_and_no_subresources(site: LoopbackSite) -> None:
    site.route("/a", '<img src="/img.jpg"><script src="/s.js"></script><form action="/f">')
    async with Fetcher(settings()) as f:
        await f.fetch(site.url("/a"))
    assert site.paths() == ["/robots.txt", "/a"]
    assert {r.method for r in site.requests} == {"GET"}


async def test_fetcher_must_be_opened_and_results_still_come_back() -> None:
    f = Fetcher(settings())
    r = await f.fetch("http://127.0.0.1:9/")
    assert r.outcome is Outcome.FAILED and r.reason is Reason.INTERNAL


async def test_internationalised_host_names_are_resolved_and_pinned_as_punycode(
    site: LoopbackSite,
) -> None:
    calls: list[str] = []
    site.route("/a", "<p>a</p>")
    async with Fetcher(settings(), resolver=resolver({"xn--bcher-kva.test": ["127.0.0.1"]},
                                                     calls)) as f:
        r = await f.fetch(f"http://bücher.test:{site.port}/a")
    assert r.outcome is Outcome.FETCHED
    assert set(calls) == {"xn--bcher-kva.test"}


async def test_invalid_redirect_target_is_refused_not_raised(site: LoopbackSite) -> None:
    site.route("/go", status=302, headers={"Location": "http://exa mple.org:99999/"})
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/go"))
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.REDIRECT_REFUSED


async def test_requests_go_through_the_configured_proxy() -> None:
    from tests.support.hostile import send

    seen: list[str] = []

    async def proxy(srv: HostileServer, r: Any, w: Any, line: str) -> None:
        seen.append(line)
        await send(srv, w, 200, b"<p>via proxy</p>", {"Content-Type": "text/html"})

    async with HostileServer(proxy) as gateway:
        # with a proxy, "auto" keeps httpx's own transport (the aiohttp one has no proxy support)
        s = settings(proxy=f"http://127.0.0.1:{gateway.port}", transport="auto")
        async with Fetcher(s, resolver=resolver({"far.test": ["127.0.0.1"]})) as f:
            assert isinstance(f.transport, httpx.AsyncHTTPTransport)
            r = await f.fetch("http://far.test:8080/page")
    assert r.outcome is Outcome.FETCHED and r.body == b"<p>via proxy</p>"
    # robots.txt went through the gateway too, then the page: both in absolute form
    assert seen == ["GET http://far.test:8080/robots.txt HTTP/1.1",
                    "GET http://far.test:8080/page HTTP/1.1"]


async def test_dns_rebinding_between_two_requests_is_caught(site: LoopbackSite) -> None:
    # page 1 and its robots.txt resolve to loopback (allowed here); then the name "rebinds"
    answers = iter([["127.0.0.1"], ["127.0.0.1"], ["10.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    site.route("/a", "<p>a</p>")
    site.route("/b", "<p>b</p>")
    async with Fetcher(settings(), resolver=rebinding) as f:
        first = await f.fetch(f"http://rebind.test:{site.port}/a")
        second = await f.fetch(f"http://rebind.test:{site.port}/b")
        connects = list(f.connects)
    assert first.outcome is Outcome.FETCHED
    assert second.reason is Reason.ADDRESS and "10.0.0.1" in second.detail
    assert site.paths() == ["/robots.txt", "/a"]
    assert all(ip == "127.0.0.1" for ip, _ in connects)


async def test_unvetted_connections_are_refused_by_the_aiohttp_transport(
    site: LoopbackSite,
) -> None:
    # transport chosen explicitly: the same test under either parametrised default
    site.route("/a", "<p>a</p>")
    async with Fetcher(settings(transport="aiohttp")) as f:
        assert f.transport is not None
        # no vetted address with the request: refused, nothing opened
        with pytest.raises(httpx.ConnectError, match="no vetted address"):
            await f.transport.handle_async_request(httpx.Request("GET", site.url("/a")))
        # a "vetted" address that netguard refuses: refused before connecting
        metadata = httpx.Request("GET", "http://169.254.169.254/latest/meta-data/",
                                 extensions={"triage.address": "169.254.169.254"})
        with pytest.raises(httpx.ConnectError, match=r"169\.254\.169\.254"):
            await f.transport.handle_async_request(metadata)
        # an IP-literal host must be the vetted address itself
        other = httpx.Request("GET", site.url("/a").replace("127.0.0.1", "127.0.0.2"),
                              extensions={"triage.address": "127.0.0.1"})
        with pytest.raises(httpx.ConnectError, match="not the vetted address"):
            await f.transport.handle_async_request(other)
        assert f.connects == []
    assert site.paths() == []


async def test_names_sharing_an_address_never_share_a_connection(site: LoopbackSite) -> None:
    hosts_by_conn: dict[int, set[str]] = {}

    def handler(req: Any) -> None:
        hosts_by_conn.setdefault(req.client_address[1], set()).add(req.headers["Host"])
        body = b"<p>ok</p>"
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    for path in ("/a", "/b", "/c"):
        site.route(path, handler=handler)
    resolve = resolver({"one.test": ["127.0.0.1"], "two.test": ["127.0.0.1"]})
    async with Fetcher(settings(), resolver=resolve) as f:
        for host, path in (("one.test", "/a"), ("two.test", "/b"), ("one.test", "/c")):
            r = await f.fetch(f"http://{host}:{site.port}{path}")
            assert r.outcome is Outcome.FETCHED, r.detail
        connects = list(f.connects)
    # each connection carried one name only (Host header and, over TLS, SNI stay right) ...
    assert hosts_by_conn and all(len(hosts) == 1 for hosts in hosts_by_conn.values())
    # ... and kept-alive connections were reused per name: one connection each, both pinned
    assert connects == [("127.0.0.1", site.port), ("127.0.0.1", site.port)]
    assert [req.headers["Host"].split(":")[0] for req in site.requests] == [
        "one.test", "one.test", "two.test", "two.test", "one.test"]


async def test_pooled_connection_is_not_reused_once_the_name_moves(site: LoopbackSite) -> None:
    # both addresses are allowed; the name moves from 127.0.0.1 (where the site listens, the
    # connection is kept alive) to 127.0.0.2 (nothing listens): the request must go to
    # 127.0.0.2 and fail, not ride the kept-alive connection to 127.0.0.1
    answers = iter([["127.0.0.1"], ["127.0.0.1"], ["127.0.0.2"]])

    async def moving(host: str, port: int) -> list[str]:
        return next(answers)

    site.route("/a", "<p>a</p>")
    site.route("/b", "<p>b</p>")
    async with Fetcher(settings(allow_cidrs=("127.0.0.0/8",), retries=0),
                       resolver=moving) as f:
        first = await f.fetch(f"http://moving.test:{site.port}/a")
        second = await f.fetch(f"http://moving.test:{site.port}/b")
        connects = list(f.connects)
    assert first.outcome is Outcome.FETCHED
    assert second.outcome is Outcome.FAILED and second.reason is Reason.NETWORK
    assert second.headers.get("x-triage-address") in (None, "127.0.0.2")
    assert site.paths() == ["/robots.txt", "/a"]
    assert connects == [("127.0.0.1", site.port), ("127.0.0.2", site.port)]


async def test_non_ascii_header_bytes_are_kept_as_latin_1(site: LoopbackSite) -> None:
    site.route("/a", "<p>a</p>", headers={"X-Name": "café", "Server": "srv é"})
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FETCHED, r.detail
    assert ("x-name", "café") in [(k.lower(), v) for k, v in r.raw_headers]
    assert r.headers["server"] == "srv é"


async def test_the_request_target_is_sent_as_httpx_encodes_it(site: LoopbackSite) -> None:
    path = "/q/%7e/a%2fb?f=%2F+g&x=%41&s=a%20b"
    site.route("/q/%7e/a%2fb", "<p>q</p>")
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url(path))
    assert r.outcome is Outcome.FETCHED, r.detail
    assert site.requests[-1].path == path  # not re-quoted (%2F -> /, %41 -> A) by the transport


async def test_proxy_environment_variables_are_ignored(
    site: LoopbackSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def gateway(srv: HostileServer, r: Any, w: Any, line: str) -> None:
        seen.append(line)

    async with HostileServer(gateway) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        site.route("/a", "<p>a</p>")
        async with Fetcher(settings()) as f:
            r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FETCHED and r.body == b"<p>a</p>"
    assert seen == [] and site.paths() == ["/robots.txt", "/a"]


def test_the_default_transport_does_not_load_httpcore() -> None:
    # start-up CPU of every crawl/worker: httpcore (~45 ms of imports) only for the httpx one
    import subprocess
    import sys

    code = ("import asyncio, sys\n"
            "from crawler.fetch import Fetcher\n"
            "from crawler.settings import FetchSettings\n"
            "async def main():\n"
            "    async with Fetcher(FetchSettings(transport='aiohttp')):\n"
            "        pass\n"
            "asyncio.run(main())\n"
            "print(sorted(m for m in ('httpcore', 'crawler.pinning') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_start_up_leaves_out_structlog_twisted_and_the_httpx_cli() -> None:
    # start-up CPU of every crawl/worker: crawler/__init__ keeps structlog's Twisted glue and
    # httpx's CLI (click, rich, pygments) out; logging and requests work as before
    import subprocess
    import sys

    code = ("import sys\n"
            "import crawler.logs, crawler.fetch, crawler.pipeline, structlog, httpx\n"
            "print(sorted(m for m in ('twisted', 'httpx._main', 'structlog.twisted', 'click')\n"
            "             if sys.modules.get(m) is not None))\n"
            "print(structlog.twisted is None, httpx.Request('GET', 'http://a/').url)\n"
            "crawler.logs.configure('json', stream=sys.stdout)\n"
            "structlog.get_logger('t').info('ev', k=1)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert lines[:2] == ["[]", "True http://a/"]
    event = json.loads(lines[2])
    assert event["event"] == "ev" and event["k"] == 1 and event["level"] == "info"
