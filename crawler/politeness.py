"""Per-host politeness state: one `HostSlot` per host name (data, not a global throttle).

A request to a host goes through `async with slot.turn(pace):` which, in order,
  1. takes one of the host's `concurrency` places (semaphore),
  2. waits out any backoff (Retry-After, 429/503 jittered exponential backoff),
  3. waits for the host's throttle (asyncio-throttle, one request per `interval`), where
     interval = the strictest of 1/rate, robots.txt Crawl-delay,
  4. takes a place in `gate` (the fetcher's global limit), held for the exchange only, so a
     host that makes its requests wait never holds places other hosts could use,
  5. departs no earlier than `interval` after this host's previous departure (exact spacing,
     whatever the waits above did),
  6. last, asks the optional cross-worker `pace(host, interval)` hook (the store's
     `reserve_host`) how long to wait so that all workers together keep the same rate; this is
     done right before sending so no other wait can bunch the workers' requests up.
A host that fails `fail_limit` times in a row, or asks for a wait longer than `backoff_max`, is
paused for a while with a reason; fetches to it are refused with that reason meanwhile.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from asyncio_throttle.throttler import Throttler

Pace = Callable[[str, float], Awaitable[float]]


@dataclass
class HostLimits:
    rate: float  # requests per second; 0 = no limit
    concurrency: int
    backoff_base: float
    backoff_max: float
    fail_limit: int
    pause: float


class HostSlot:
    def __init__(
        self, host: str, limits: HostLimits, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.host = host
        self.limits = limits
        self._clock = clock
        self._sem = asyncio.Semaphore(limits.concurrency)
        self._rate_interval = 1.0 / limits.rate if limits.rate > 0 else 0.0
        self.crawl_delay = 0.0
        self._throttle = Throttler(rate_limit=1, period=self.interval)
        self._tune_throttle()
        self.blocked_until = 0.0
        self.failures = 0  # consecutive
        self.paused_until = 0.0
        self.pause_reason = ""
        self.requests = 0
        self._users = 0  # tasks waiting for or holding a turn
        self._depart = asyncio.Lock()
        self._last_departure = float("-inf")

    @property
    def interval(self) -> float:
        """Seconds between two requests to this host: the strictest of rate and Crawl-delay."""
        return max(self._rate_interval, self.crawl_delay)

    def set_crawl_delay(self, delay: float | None) -> None:
        self.crawl_delay = max(0.0, delay or 0.0)
        self._tune_throttle()

    def _tune_throttle(self) -> None:
        # asyncio-throttle polls; poll at a tenth of the interval so high rates stay accurate
        self._throttle.period = self.interval
        self._throttle.retry_interval = min(0.01, max(self.interval / 10, 0.001))

    def paused(self) -> str | None:
        """The reason the host is paused, or None."""
        if self.paused_until > self._clock():
            left = self.paused_until - self._clock()
            return f"host {self.host} paused for another {left:.0f} s: {self.pause_reason}"
        return None

    def turn(self, pace: Pace | None = None, gate: asyncio.Semaphore | None = None) -> _Turn:
        """Wait for this host's turn, then hold `gate` (the global limit) for the exchange only:
        `async with slot.turn(pace, gate):` (a context manager object, not a generator: the
        waits and releases of the module doc, in that order, at a fraction of the cost)."""
        return _Turn(self, pace, gate)

    def idle(self) -> bool:
        """Nothing in flight, nothing waiting, no backoff, pause or spacing still to honour."""
        now = self._clock()
        return (self._users == 0
                and self.blocked_until <= now and self.paused_until <= now
                and self._last_departure + self.interval <= now and self.failures == 0)

    # ------------------------------------------------------------------ outcomes

    def succeeded(self) -> None:
        self.failures = 0

    def failed(self, what: str, retry_after: float | None = None) -> None:
        """A transport error, timeout, 429 or 5xx: back the whole host off, maybe pause it."""
        self.failures += 1
        lim = self.limits
        backoff = lim.backoff_base * (2 ** (self.failures - 1))
        backoff = min(backoff, lim.backoff_max) * random.uniform(0.5, 1.0)
        wait = max(backoff, retry_after or 0.0)
        now = self._clock()
        if retry_after is not None and retry_after > lim.backoff_max:
            self._pause(now, min(retry_after, max(lim.pause, lim.backoff_max)),
                        f"server asked to wait {retry_after:.0f} s (Retry-After) after {what}")
            return
        self.blocked_until = max(self.blocked_until, now + wait)
        if self.failures >= lim.fail_limit:
            self._pause(now, lim.pause, f"{self.failures} failures in a row, last: {what}")

    def _pause(self, now: float, seconds: float, reason: str) -> None:
        self.paused_until = now + seconds
        self.blocked_until = max(self.blocked_until, self.paused_until)
        self.pause_reason = reason


def parse_retry_after(value: str | None, now_epoch: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent/invalid."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now_epoch is None else now_epoch
    return max(0.0, when.timestamp() - now)


class _Turn:
    """One request's turn at a host (HostSlot.turn)."""

    __slots__ = ("_gate", "_pace", "_slot")

    def __init__(self, slot: HostSlot, pace: Pace | None, gate: asyncio.Semaphore | None) -> None:
        self._slot = slot
        self._pace = pace
        self._gate = gate

    async def __aenter__(self) -> None:
        slot, pace, gate = self._slot, self._pace, self._gate
        slot._users += 1
        try:
            await slot._sem.acquire()
            try:
                # blocked_until may move later while we sleep (another 429): look again after
                while (wait := slot.blocked_until - slot._clock()) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(wait)
                if slot.interval > 0:
                    await slot._throttle.acquire()  # type: ignore[no-untyped-call]
                if gate is not None:
                    await gate.acquire()
                try:
                    # exact spacing at departure: waiting for `gate` must not bunch requests up
                    async with slot._depart:
                        now = slot._clock()
                        wait = max(slot._last_departure + slot.interval, slot.blocked_until) - now
                        if wait > 0:
                            await asyncio.sleep(wait)
                        if pace is not None and slot.interval > 0:
                            # reserve the cross-worker slot last, right before departure: any
                            # wait between reserving and sending would let workers' requests
                            # bunch up (no rate limit, nothing to share: no store round trip
                            # per request)
                            extra = await pace(slot.host, slot.interval)
                            if extra > 0:
                                await asyncio.sleep(extra)
                        slot._last_departure = slot._clock()
                except BaseException:
                    if gate is not None:
                        gate.release()
                    raise
            except BaseException:
                slot._sem.release()
                raise
        except BaseException:
            slot._users -= 1
            raise
        slot.requests += 1

    async def __aexit__(self, *exc_info: object) -> None:
        if self._gate is not None:
            self._gate.release()
        self._slot._sem.release()
        self._slot._users -= 1
