"""Per-host politeness: rate, concurrency, Retry-After, backoff, pausing, retries."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from crawler.fetch import Fetcher
from crawler.models import Outcome, Reason
from crawler.policy import SourcePolicy
from crawler.politeness import parse_retry_after
from crawler.settings import FetchSettings
from tests.support.server import LoopbackSite
from tests.support.transports import current_transport, transport  # noqa: F401

Answer = tuple[int, dict[str, str], bytes]
OK: Answer = (200, {"Content-Type": "text/html"}, b"<p>ok</p>")


def settings(**kw: Any) -> FetchSettings:
    base: dict[str, Any] = {"transport": current_transport(),
                            "allow_cidrs": ("127.0.0.1/32",), "per_host_rps": 0,
                            "backoff_base": 0.01}
    return FetchSettings(**{**base, **kw})


def answers(*seq: Answer | None) -> Callable[[BaseHTTPRequestHandler], None]:
    """A handler giving these answers in turn (the last one repeats); None drops the connection."""
    it = iter(seq)
    lock = threading.Lock()
    last: list[Answer | None] = [seq[-1]]

    def handler(h: BaseHTTPRequestHandler) -> None:
        with lock:
            answer = next(it, last[0])
        if answer is None:
            h.close_connection = True
            return
        status, headers, body = answer
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


def resolve_to_loopback(*names: str) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise OSError(host)
        return ["127.0.0.1"]

    return resolve


def times(site: LoopbackSite, path: str) -> list[float]:
    return [r.at for r in site.requests if r.path == path]


@pytest.mark.slow
async def test_429_retry_after_delays_the_next_request_to_that_host(site: LoopbackSite) -> None:
    site.route("/a", handler=answers((429, {"Retry-After": "3"}, b""), OK))
    site.route("/b", "<p>b</p>")
    async with Fetcher(settings(retries=2)) as f:
        first = asyncio.create_task(f.fetch(site.url("/a")))
        while not times(site, "/a"):  # noqa: ASYNC110 - polling a thread's log
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        other = await f.fetch(site.url("/b"))  # same host, asked while it backs off
        result = await first
    refused_at = times(site, "/a")[0]
    assert result.outcome is Outcome.FETCHED and result.status == 200
    assert times(site, "/a")[1] - refused_at >= 3.0
    assert other.outcome is Outcome.FETCHED
    assert times(site, "/b")[0] - refused_at >= 3.0


async def test_5xx_is_retried_with_backoff_then_succeeds(site: LoopbackSite) -> None:
    site.route("/a", handler=answers((503, {}, b""), (502, {}, b""), OK))
    async with Fetcher(settings(retries=2)) as f:
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FETCHED and len(times(site, "/a")) == 3


async def test_retries_are_bounded_and_the_failure_recorded(site: LoopbackSite) -> None:
    site.route("/a", handler=answers((500, {}, b"")))
    async with Fetcher(settings(retries=1)) as f:
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FAILED and r.reason is Reason.HTTP_STATUS
    assert r.status == 500 and "after 2 attempts" in r.detail
    assert len(times(site, "/a")) == 2


async def test_transport_errors_are_retried(site: LoopbackSite) -> None:
    site.route("/a", handler=answers(None, OK))
    async with Fetcher(settings(retries=2)) as f:
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FETCHED and len(times(site, "/a")) == 2


async def test_a_host_that_keeps_failing_is_paused_with_a_reason(site: LoopbackSite) -> None:
    site.route("/a", handler=answers((500, {}, b"")))
    async with Fetcher(settings(retries=0, host_fail_limit=2, host_pause=60)) as f:
        await f.fetch(site.url("/a"))
        await f.fetch(site.url("/a"))
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.HOST_PAUSED
    assert "2 failures in a row" in r.detail and "HTTP 500" in r.detail
    assert len(times(site, "/a")) == 2


async def test_a_retry_after_beyond_the_cap_pauses_the_host(site: LoopbackSite) -> None:
    site.route("/a", handler=answers((429, {"Retry-After": "3600"}, b"")))
    async with Fetcher(settings(retries=3, backoff_max=5)) as f:
        r = await f.fetch(site.url("/a"))
        again = await f.fetch(site.url("/a"))
    assert r.reason is Reason.HOST_PAUSED and "Retry-After" in r.detail
    assert again.reason is Reason.HOST_PAUSED
    assert len(times(site, "/a")) == 1


async def test_two_hosts_are_crawled_concurrently_while_one_is_rate_limited() -> None:
    with LoopbackSite() as slow_site, LoopbackSite() as fast_site:
        for i in range(4):
            slow_site.route(f"/s{i}", "<p>s</p>")
        for i in range(20):
            fast_site.route(f"/f{i}", "<p>f</p>")
        policy = SourcePolicy.parse("sources:\n  slow.test: {rate: 4, concurrency: 1}\n")
        resolve = resolve_to_loopback("slow.test", "fast.test")
        # only 2 requests in flight overall: waiting for the slow host must not take them
        async with Fetcher(settings(concurrency=2), policy=policy, resolver=resolve) as f:
            slow = [f.fetch(f"http://slow.test:{slow_site.port}/s{i}") for i in range(4)]
            fast = [f.fetch(f"http://fast.test:{fast_site.port}/f{i}") for i in range(20)]
            results = await asyncio.gather(*slow, *fast)
    assert all(r.outcome is Outcome.FETCHED for r in results)
    slow_times = [r.at for r in slow_site.requests]  # robots.txt + 4 pages at 4/s
    fast_times = [r.at for r in fast_site.requests if r.path != "/robots.txt"]
    # departures are exactly 0.25 s apart; arrivals, logged by a server thread that competes
    # for the GIL with the client, jitter by tens of ms on a busy machine
    assert all(b - a >= 0.25 - 0.06 for a, b in itertools.pairwise(slow_times))
    # the pages share one kept-alive connection (robots.txt also paid for connect + thread)
    assert slow_times[-1] - slow_times[1] >= 3 * 0.25 - 0.05
    assert max(fast_times) < slow_times[-1]  # the fast host did not wait for the slow one
    assert max(fast_times) - min(fast_times) < 0.5


async def test_per_host_concurrency_is_never_exceeded(site: LoopbackSite) -> None:
    active, peak = [0], [0]
    lock = threading.Lock()
    reply = answers(OK)

    def slow(h: BaseHTTPRequestHandler) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.15)
        with lock:
            active[0] -= 1
        reply(h)

    site.route("/p", handler=slow)
    async with Fetcher(settings(per_host_concurrency=2)) as f:
        results = await asyncio.gather(*(f.fetch(site.url(f"/p?{i}")) for i in range(8)))
    assert all(r.outcome is Outcome.FETCHED for r in results)
    assert peak[0] == 2


async def test_200_pages_never_exceed_the_per_host_rate(site: LoopbackSite) -> None:
    rate = 100
    for i in range(200):
        site.route(f"/p{i}", f"<p>{i}</p>")
    s = FetchSettings.from_env({}, allow_cidrs="127.0.0.1/32", per_host_rps=rate)  # defaults
    async with Fetcher(s) as f:
        results = await asyncio.gather(*(f.fetch(site.url(f"/p{i}")) for i in range(200)))
    assert all(r.outcome is Outcome.FETCHED for r in results)
    arrivals = sorted(r.at for r in site.requests)
    assert len(arrivals) == 201  # robots.txt once, then every page once
    # no 1-second window holds more than `rate` requests (50 ms allowed for arrival jitter:
    # the first request also pays for the TCP connect; the server thread waits for the GIL)
    worst = min(arrivals[i + rate] - arrivals[i] for i in range(len(arrivals) - rate))
    assert worst >= 1.0 - 0.05


async def test_cross_worker_pace_hook_is_asked_before_each_request(site: LoopbackSite) -> None:
    site.route("/a", "<p>a</p>")
    calls: list[tuple[str, float]] = []

    async def pace(host: str, interval: float) -> float:
        calls.append((host, interval))
        return 0.3 if len(calls) == 2 else 0.0

    async with Fetcher(settings(per_host_rps=4), pace=pace) as f:
        started = time.monotonic()
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FETCHED
    assert calls == [("127.0.0.1", 0.25), ("127.0.0.1", 0.25)]  # robots.txt, then the page
    assert time.monotonic() - started >= 0.3


async def test_no_rate_limit_means_no_cross_worker_pacing_round_trip(
    site: LoopbackSite,
) -> None:
    site.route("/a", "<p>a</p>")
    calls: list[tuple[str, float]] = []

    async def pace(host: str, interval: float) -> float:
        calls.append((host, interval))
        return 0.0

    async with Fetcher(settings(per_host_rps=0), pace=pace) as f:
        r = await f.fetch(site.url("/a"))
    assert r.outcome is Outcome.FETCHED
    assert calls == []  # per-host rate 0 lifts the limit: nothing to reserve in the store


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now_epoch=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_idle_host_slots_are_forgotten_but_busy_ones_kept(site: LoopbackSite) -> None:
    site.route("/a", "<p>a</p>")
    async with Fetcher(settings(per_host_rps=1000)) as f:
        await f.fetch(site.url("/a"))
        await asyncio.sleep(0.01)
        busy = f.slot("busy.test")
        busy.failed("HTTP 503", retry_after=60)
        f._prune_slots()
        assert "127.0.0.1" not in f._slots
        assert f._slots["busy.test"] is busy


def _slot(concurrency: int = 1) -> Any:
    from crawler.politeness import HostLimits, HostSlot

    return HostSlot("h.test", HostLimits(rate=0, concurrency=concurrency, backoff_base=0.01,
                                         backoff_max=1, fail_limit=5, pause=1))


async def test_a_turn_gives_back_its_places_when_the_exchange_fails() -> None:
    slot, gate = _slot(), asyncio.Semaphore(1)
    with pytest.raises(ValueError):
        async with slot.turn(gate=gate):
            assert slot._sem.locked() and gate.locked() and slot._users == 1
            raise ValueError("exchange failed")
    assert not slot._sem.locked() and not gate.locked() and slot._users == 0
    assert slot.requests == 1 and slot.idle()


async def test_a_turn_cancelled_while_waiting_gives_back_only_what_it_took() -> None:
    slot, gate = _slot(concurrency=2), asyncio.Semaphore(1)
    await gate.acquire()  # another host's exchange holds the global place
    waiter = asyncio.create_task(slot.turn(gate=gate).__aenter__())
    await asyncio.sleep(0.01)
    assert slot._users == 1 and slot._sem._value == 1  # holds a host place, waits for the gate
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slot._users == 0 and slot._sem._value == 2 and gate.locked()  # the holder still has it
    gate.release()
    slot.blocked_until = time.monotonic() + 5  # a backoff: cancelled while sleeping it out
    sleeper = asyncio.create_task(slot.turn(gate=gate).__aenter__())
    await asyncio.sleep(0.01)
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert slot._users == 0 and slot._sem._value == 2 and not gate.locked()
    assert slot.requests == 0
