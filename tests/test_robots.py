"""robots.txt: RFC 9309 semantics (unit) and fail-closed behaviour against real loopback servers."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pytest

from crawler.fetch import Fetcher
from crawler.models import Outcome, Reason
from crawler.robots import RobotsResponse, max_age, rules_from_response
from crawler.settings import FetchSettings
from tests.support.server import LoopbackSite
from tests.support.transports import current_transport, transport  # noqa: F401

S = FetchSettings()


def _rules(text: str) -> Any:
    return rules_from_response("http://h:80", RobotsResponse(status=200, body=text.encode()),
                               0.0, S)


def _ok(rules: Any, path: str, ua: str = "triage") -> bool:
    return bool(rules.allows("http://h" + path, ua))


def test_longest_match_wins() -> None:
    r = _rules("User-agent: *\nDisallow: /ads\nAllow: /ads/public\n")
    assert not _ok(r, "/ads/1")
    assert _ok(r, "/ads/public/1")


def test_allow_wins_a_tie() -> None:
    r = _rules("User-agent: *\nDisallow: /page\nAllow: /page\n")
    assert _ok(r, "/page")


def test_wildcards_and_end_anchor() -> None:
    r = _rules("User-agent: *\nDisallow: /*.php$\nDisallow: /priv*/x\n")
    assert not _ok(r, "/a/b.php")
    assert _ok(r, "/a/b.php?x=1")
    assert not _ok(r, "/private/x")
    assert _ok(r, "/public/x")


def test_percent_encoding_equivalence() -> None:
    r = _rules("User-agent: *\nDisallow: /caf%C3%A9\nDisallow: /a%2fb\n")
    assert not _ok(r, "/café")
    assert not _ok(r, "/caf%c3%a9")
    assert not _ok(r, "/a%2fb")


def test_our_token_group_then_fallback_to_star() -> None:
    ours = _rules("User-agent: *\nDisallow: /\n\nUser-agent: triage\nDisallow: /private\n")
    assert _ok(ours, "/ads")
    assert not _ok(ours, "/private/1")
    other = _rules("User-agent: *\nDisallow: /x\n\nUser-agent: otherbot\nDisallow: /\n")
    assert _ok(other, "/ads")
    assert not _ok(other, "/x")


def test_robots_txt_itself_is_always_allowed() -> None:
    assert _ok(_rules("User-agent: *\nDisallow: /\n"), "/robots.txt")


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (401, True), (403, True),
                                                 (410, True), (429, False), (500, False),
                                                 (503, False)])
def test_status_rules(status: int, allowed: bool) -> None:
    r = rules_from_response("http://h:80", RobotsResponse(status=status), 0.0, S)
    assert _ok(r, "/anything") is allowed


def test_network_error_fails_closed_for_a_short_while() -> None:
    r = rules_from_response("http://h:80", RobotsResponse(error="timed out"), 100.0, S)
    assert not _ok(r, "/x")
    assert "fail closed" in r.reason
    assert r.expires_at == 100.0 + S.robots_error_ttl


def test_only_the_first_500_kib_is_parsed() -> None:
    body = b"User-agent: *\nAllow: /\n" + b"#" * (600 * 1024) + b"\nDisallow: /late\n"
    r = rules_from_response("http://h:80", RobotsResponse(status=200, body=body), 0.0, S)
    assert _ok(r, "/late")


def test_cache_lifetime_is_capped_at_24_hours() -> None:
    long = rules_from_response("http://h:80", RobotsResponse(status=200, max_age=10**7), 0.0, S)
    assert long.expires_at == 86400
    short = rules_from_response("http://h:80", RobotsResponse(status=200, max_age=600), 0.0, S)
    assert short.expires_at == 600
    assert max_age("public, max-age=300") == 300
    assert max_age("no-store") == 0


def test_crawl_delay_is_capped() -> None:
    r = _rules("User-agent: *\nCrawl-delay: 3600\n")
    assert r.crawl_delay("triage", 30.0) == 30.0


# --------------------------------------------------------------------------- against a server


def _settings(**kw: Any) -> FetchSettings:
    base: dict[str, Any] = {"transport": current_transport(),
                            "allow_cidrs": ("127.0.0.1/32",), "per_host_rps": 0,
                            "backoff_base": 0.01}
    return FetchSettings(**{**base, **kw})


async def test_robots_500_means_nothing_is_fetched_from_that_host(site: LoopbackSite) -> None:
    site.route("/robots.txt", "oops", status=500, content_type="text/plain")
    site.route("/a", "<p>a</p>")
    site.route("/b", "<p>b</p>")
    async with Fetcher(_settings()) as f:
        results = [await f.fetch(site.url(p)) for p in ("/a", "/b")]
    for r in results:
        assert r.outcome is Outcome.REFUSED and r.reason is Reason.ROBOTS
        assert "500" in r.detail and "fail closed" in r.detail
    assert site.paths() == ["/robots.txt"]  # fetched once, cached, pages never requested


async def test_robots_timeout_fails_closed(site: LoopbackSite) -> None:
    def slow(handler: Any) -> None:
        time.sleep(1.5)

    site.route("/robots.txt", handler=slow)
    site.route("/a", "<p>a</p>")
    async with Fetcher(_settings(total_timeout=0.5, read_timeout=0.4)) as f:
        r = await f.fetch(site.url("/a"))
    assert r.reason is Reason.ROBOTS and "unreachable" in r.detail
    assert "/a" not in site.paths()


async def test_robots_disallow_refuses_and_allows_the_rest(site: LoopbackSite) -> None:
    site.route("/robots.txt", "User-agent: triage\nDisallow: /private\n", content_type="text/plain")
    site.route("/private/1", "<p>secret</p>")
    site.route("/public", "<p>ok</p>")
    async with Fetcher(_settings()) as f:
        refused = await f.fetch(site.url("/private/1"))
        ok = await f.fetch(site.url("/public"))
    assert refused.reason is Reason.ROBOTS and "triage" in refused.detail
    assert ok.outcome is Outcome.FETCHED
    assert site.paths() == ["/robots.txt", "/public"]


async def test_robots_redirects_are_followed_and_each_hop_checked(site: LoopbackSite) -> None:
    site.route("/robots.txt", status=301, headers={"Location": "/r1"})
    site.route("/r1", status=302, headers={"Location": "/real-robots"})
    site.route("/real-robots", "User-agent: *\nDisallow: /no\n", content_type="text/plain")
    site.route("/no", "<p>x</p>")
    async with Fetcher(_settings()) as f:
        r = await f.fetch(site.url("/no"))
    assert r.reason is Reason.ROBOTS
    assert site.paths() == ["/robots.txt", "/r1", "/real-robots"]


async def test_robots_redirect_to_a_private_address_fails_closed(site: LoopbackSite) -> None:
    site.route("/robots.txt", status=302, headers={"Location": "http://169.254.169.254/robots"})
    site.route("/a", "<p>a</p>")
    async with Fetcher(_settings()) as f:
        r = await f.fetch(site.url("/a"))
        connects = list(f.connects)
    assert r.reason is Reason.ROBOTS and "169.254.169.254" in r.detail
    assert connects and all(ip == "127.0.0.1" for ip, _ in connects)


async def test_too_many_robots_redirects_fail_closed(site: LoopbackSite) -> None:
    site.route("/robots.txt", status=302, headers={"Location": "/robots.txt"})
    site.route("/a", "<p>a</p>")
    async with Fetcher(_settings()) as f:
        r = await f.fetch(site.url("/a"))
    assert r.reason is Reason.ROBOTS and "redirects" in r.detail
    assert site.paths().count("/robots.txt") == 6


async def test_user_agent_token_is_configurable(site: LoopbackSite) -> None:
    site.route("/robots.txt", "User-agent: unit7\nDisallow: /\n", content_type="text/plain")
    site.route("/a", "<p>a</p>")
    async with Fetcher(_settings(user_agent_token="unit7")) as f:
        assert (await f.fetch(site.url("/a"))).reason is Reason.ROBOTS
    async with Fetcher(_settings()) as f:
        assert (await f.fetch(site.url("/a"))).outcome is Outcome.FETCHED


async def test_crawl_delay_spaces_requests(site: LoopbackSite) -> None:
    site.route("/robots.txt", "User-agent: *\nCrawl-delay: 0.4\n", content_type="text/plain")
    for i in range(3):
        site.route(f"/p{i}", "<p>x</p>")
    async with Fetcher(_settings(per_host_rps=100)) as f:
        assert f.transport is not None
        sent = _Departures(f.transport)
        f.transport = sent  # the real transport, with the time each request leaves the Fetcher
        for i in range(3):
            assert (await f.fetch(site.url(f"/p{i}"))).outcome is Outcome.FETCHED
    assert site.paths() == ["/robots.txt", "/p0", "/p1", "/p2"]
    assert [path for path, _ in sent.log] == ["/robots.txt", "/p0", "/p1", "/p2"]
    times = [at for path, at in sent.log if path != "/robots.txt"]
    gaps = [b - a for a, b in itertools.pairwise(times)]  # p0 -> p1 -> p2 (without Crawl-delay:
    # 0.01 s apart at 100/s). Measured where the request leaves the Fetcher (same loop step as
    # the politeness slot's departure), not at the server, whose arrival times jitter under load
    assert min(gaps) >= 0.4 - 0.005


class _Departures(httpx.AsyncBaseTransport):
    """Passes every request to the Fetcher's own transport, noting (path, monotonic time)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.log: list[tuple[str, float]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append((request.url.path, time.monotonic()))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_corrupt_compressed_robots_txt_fails_closed(site: LoopbackSite) -> None:
    site.route("/robots.txt", b"\x1f\x8b\x08\x00garbage", content_type="text/plain",
               headers={"Content-Encoding": "gzip"})
    site.route("/a", "<p>a</p>")
    async with Fetcher(_settings()) as f:
        r = await f.fetch(site.url("/a"))
    assert r.reason is Reason.ROBOTS and "fail closed" in r.detail
    assert "/a" not in site.paths()


async def test_failed_closed_robots_txt_is_asked_again_after_the_error_ttl(
    site: LoopbackSite,
) -> None:
    now = [1000.0]
    site.route("/robots.txt", "down", status=503, content_type="text/plain")
    site.route("/a", "<p>a</p>")
    async with Fetcher(_settings(retries=0), clock=lambda: now[0]) as f:
        first = await f.fetch(site.url("/a"))
        site.route("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        now[0] += 200  # still inside the 300 s error lifetime: not asked again
        second = await f.fetch(site.url("/a"))
        now[0] += 101
        third = await f.fetch(site.url("/a"))
    assert first.reason is Reason.ROBOTS and second.reason is Reason.ROBOTS
    assert third.outcome is Outcome.FETCHED
    assert site.paths() == ["/robots.txt", "/robots.txt", "/a"]


async def test_robots_txt_is_fetched_once_per_origin_for_many_pages(site: LoopbackSite) -> None:
    site.route("/robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain")
    for i in range(10):
        site.route(f"/p{i}", "<p>p</p>")
    async with Fetcher(_settings()) as f:
        await asyncio.gather(*(f.fetch(site.url(f"/p{i}")) for i in range(10)))
    assert site.paths().count("/robots.txt") == 1


@pytest.mark.parametrize("url", [
    "http://example.org/a", "HTTPS://Example.ORG:8443/x?y", "http://[::1]:8080/", "https://a.b/",
    "http://example.org:80/", "http://xn--caf-dma.example/", "http://user:pw@h.example:81/p",
])
def test_origin_from_parts_is_origin_of(url: str) -> None:
    from urllib.parse import urlsplit

    from crawler.robots import origin_from, origin_of

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    assert origin_from(parts.scheme, parts.hostname, port) == origin_of(url)
