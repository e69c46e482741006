"""One URL's journey, and the worker loop that drives many of them.

    claim (store) -> fetch (fetch.py: policy, address guard, robots, politeness, caps)
                  -> extract (extract.py) -> entities (entities.py) -> rules (rules/)
                  -> evidence (WARC, flagged pages only) -> record_result (store, one transaction)

Every outcome is recorded: a URL that is not fetched gets a reason code and a readable detail.
A failure of one URL never escapes the worker; a bug becomes reason `internal` with the
exception type, so the analyst still sees the URL and the crawl goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from structlog.contextvars import bind_contextvars, reset_contextvars

from crawler.models import (
    Document,
    Entity,
    Evaluation,
    FetchResult,
    Indicator,
    Outcome,
    Reason,
)

if TYPE_CHECKING:
    from crawler.fetch import Fetcher
    from crawler.rules import RuleHolder
    from crawler.settings import FetchSettings
    from storage.base import Claim, Store

log = structlog.get_logger("triage.pipeline")

# A long-lived worker retries "not now" refusals (robots.txt unavailable, host paused) this often.
TRANSIENT_RETRY_S = 300.0
TRANSIENT_TRIES = 3

# A worker claims new URLs once this many of its slots are free (at most concurrency / 4).
CLAIM_GROUP = 16

# Pages larger than this are parsed in a thread so the event loop keeps serving other fetches.
THREADED_EXTRACT_BYTES = 256 * 1024


def new_worker_id(n: int = 0) -> str:
    """`hostname:pid:n` — the store uses the pid to tell a dead local worker's leases."""
    return f"{socket.gethostname()}:{os.getpid()}:{n}"


@dataclass
class WorkerStats:
    fetched: int = 0
    refused: int = 0
    failed: int = 0
    flagged: int = 0
    new_hits: int = 0
    discovered: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def count(self, result: FetchResult, evaluation: Evaluation | None, new_hit: bool) -> None:
        if result.outcome is Outcome.FETCHED:
            self.fetched += 1
        elif result.outcome is Outcome.REFUSED:
            self.refused += 1
        else:
            self.failed += 1
        self.by_reason[result.reason.value] = self.by_reason.get(result.reason.value, 0) + 1
        if evaluation is not None and evaluation.flagged:
            self.flagged += 1
        if new_hit:
            self.new_hits += 1


@dataclass(frozen=True)
class Processed:
    """What happened to one claimed URL (passed to observers: progress bar, metrics)."""

    claim: Claim
    result: FetchResult
    document: Document | None
    evaluation: Evaluation | None
    entities: Sequence[Entity]
    new_hit: bool
    seconds: float


Observer = Callable[[Processed], None]
EvidenceSink = Callable[[FetchResult], Awaitable[dict[str, Any] | None]]
NetworkHook = Callable[
    [Document, Sequence[Entity]], Awaitable[tuple[Sequence[Indicator], bool]]
]


def _failed(result: FetchResult, reason: Reason, detail: str) -> FetchResult:
    return dataclasses.replace(result, outcome=Outcome.FAILED, reason=reason, detail=detail)


class Pipeline:
    """Turns one claimed URL into a recorded outcome. Stateless apart from its collaborators."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        rules: RuleHolder,
        *,
        worker_id: str,
        evidence: EvidenceSink | None = None,
        network: NetworkHook | None = None,
        follow_links: bool = True,
        retry_transient: bool = False,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.rules = rules
        self.worker_id = worker_id
        self.evidence = evidence
        self.network = network
        self.follow_links = follow_links
        self.retry_transient = retry_transient
        # bound to the logging configuration in force now (the module's lazy proxy would bind
        # again on every call); processors, fields and output unchanged
        self._log: Any = log.bind()

    async def process(self, claim: Claim) -> Processed:
        started = time.monotonic()
        with _LogContext(url=claim.url, host=claim.host, batch=claim.batch_id):
            result = await self.fetcher.fetch(claim.url)
            document: Document | None = None
            evaluation: Evaluation | None = None
            entities: list[Entity] = []
            if result.outcome is Outcome.FETCHED and result.status is not None:
                if 200 <= result.status < 300:
                    try:
                        document, entities, evaluation = await self._analyse(
                            result, links=self._links_followed(claim)
                        )
                    except _NetworkStateUnavailable:
                        raise  # like a failing record_result: the lease expires, tried again
                    except Exception as exc:  # a bug in analysis must not lose the URL
                        log.exception("analysis_failed")
                        result = _failed(
                            result, Reason.EXTRACT, f"could not analyse the page: {exc!r}"
                        )
                elif result.reason is Reason.OK:
                    result = dataclasses.replace(
                        result, reason=Reason.HTTP_STATUS, detail=f"HTTP status {result.status}"
                    )
            evidence_ref: dict[str, Any] | None = None
            if evaluation is not None and evaluation.flagged and self.evidence is not None:
                evidence_ref = await self.evidence(result)
            retry_after: float | None = None
            if self.retry_transient and _transient(result) and claim.attempts < TRANSIENT_TRIES:
                retry_after = TRANSIENT_RETRY_S
                result = dataclasses.replace(
                    result,
                    outcome=Outcome.FAILED,
                    detail=f"{result.detail}; will try again in {TRANSIENT_RETRY_S:.0f} s "
                    f"(attempt {claim.attempts} of {TRANSIENT_TRIES})",
                )
            outcome = await self.store.record_result(
                claim, self.worker_id, result, document, evaluation, entities,
                retry_after=retry_after, evidence=evidence_ref or None,
            )
            if document is not None and self.follow_links and document.links:
                await self._follow(claim, document)
            self._log.info(
                "url_done",
                outcome=result.outcome.value,
                reason=result.reason.value,
                status=result.status,
                priority=evaluation.priority if evaluation else None,
                score=evaluation.score if evaluation else None,
            )
            return Processed(
                claim, result, document, evaluation, entities, outcome.new_hit,
                time.monotonic() - started,
            )

    async def _analyse(
        self, result: FetchResult, links: bool = True
    ) -> tuple[Document, list[Entity], Evaluation]:
        from crawler.entities import extract_entities
        from crawler.extract import extract

        def work() -> tuple[Document, list[Entity]]:
            doc = extract(
                result.body,
                url=result.final_url or result.url,
                content_type=result.content_type,
                charset=result.charset,
                links=links,  # False: Document.links stays empty (nothing else reads it)
            )
            return doc, extract_entities(doc)

        if len(result.body) > THREADED_EXTRACT_BYTES:
            document, entities = await asyncio.to_thread(work)
        else:
            document, entities = work()
        extra: Sequence[Indicator] = ()
        linked = False
        if self.network is not None:
            try:
                extra, linked = await self.network(document, entities)
            except Exception as exc:
                if _database_error(exc):
                    raise _NetworkStateUnavailable(repr(exc)) from exc
                raise
        evaluation = self.rules.current.evaluate(
            document, entities, extra_indicators=extra, linked_to_flagged_network=linked
        )
        return document, entities, evaluation

    def _links_followed(self, claim: Claim) -> bool:
        """Whether _follow may queue links of this page (else extraction skips them)."""
        if not self.follow_links or getattr(self.fetcher, "should_follow", None) is None:
            return False
        follow_depth = getattr(self.fetcher, "follow_depth", None)
        return follow_depth is None or claim.depth + 1 <= follow_depth(claim.url)

    async def _follow(self, claim: Claim, document: Document) -> None:
        should_follow = getattr(self.fetcher, "should_follow", None)
        if should_follow is None:
            return
        depth = claim.depth + 1
        follow_depth = getattr(self.fetcher, "follow_depth", None)
        if follow_depth is not None and depth > follow_depth(claim.url):
            return  # the usual case (max_depth 0): no need to look at every link
        links = [u for u in document.links if should_follow(claim.url, u, depth)]
        if links:
            await self.store.enqueue_discovered(claim, links, depth)


class _LogContext:
    """`structlog.contextvars.bound_contextvars(**kw)` as a plain context manager (no
    generator): the keys are in every event logged inside, and afterwards each is back to what
    it was (by the contextvars' own reset tokens). tests/test_pipeline_glue.py compares."""

    __slots__ = ("_kw", "_tokens")

    def __init__(self, **kw: Any) -> None:
        self._kw = kw
        self._tokens: Mapping[str, Any] = {}

    def __enter__(self) -> None:
        self._tokens = bind_contextvars(**self._kw)

    def __exit__(self, *exc_info: object) -> None:
        reset_contextvars(**self._tokens)


class _NetworkStateUnavailable(Exception):
    """The store behind the network hook failed: not the page's fault, so not its outcome."""


def _database_error(exc: BaseException) -> bool:
    """sqlite3/psycopg errors, the store's own, or the connection (OS) failing under them."""
    import sqlite3

    from crawler.errors import StoreError

    if isinstance(exc, sqlite3.Error | StoreError | OSError):
        return True
    return type(exc).__module__.split(".")[0] in {"psycopg", "psycopg_pool"}


def _transient(result: FetchResult) -> bool:
    """Refusals that say "not now" rather than "no": robots.txt failed closed, host paused."""
    if result.reason is Reason.HOST_PAUSED:
        return True
    return result.reason is Reason.ROBOTS and "fail closed" in result.detail


async def run_worker(
    store: Store,
    settings: FetchSettings,
    rules: RuleHolder,
    *,
    worker_id: str | None = None,
    stop: asyncio.Event | None = None,
    idle_exit: bool = False,
    observers: Sequence[Observer] = (),
    evidence: EvidenceSink | None = None,
    network: NetworkHook | None = None,
    shared_politeness: bool = False,
    lease_seconds: float = 120.0,
    drain_seconds: float = 20.0,
    fetcher: Fetcher | None = None,
    retry_transient: bool | None = None,
) -> WorkerStats:
    """Claim, process and record URLs until `stop` is set (or, with idle_exit, nothing is left).

    On stop: no new claims; in-flight URLs get up to `drain_seconds` to finish; what is still
    running then is cancelled and its leases released, so another worker picks it up at once.
    `shared_politeness` makes per-host pacing go through the store (many workers, one rate).
    `retry_transient` (default: when not `idle_exit`) re-queues "not now" refusals for later.
    """
    from crawler.fetch import Fetcher

    worker = worker_id or new_worker_id()
    stop = stop or asyncio.Event()
    stats = WorkerStats()
    concurrency = max(1, settings.concurrency)
    pace = store.reserve_host if shared_politeness else None
    log.info("worker_start", worker=worker, concurrency=concurrency)

    owns_fetcher = fetcher is None
    active = fetcher or Fetcher(settings, pace=pace)
    if owns_fetcher:
        await active.__aenter__()
    try:
        pipeline = Pipeline(
            store, active, rules, worker_id=worker, evidence=evidence, network=network,
            retry_transient=(not idle_exit) if retry_transient is None else retry_transient,
        )
        await store.recover(worker)
        in_flight: dict[int, asyncio.Task[Processed]] = {}
        wakeup = asyncio.Event()

        def done(task: asyncio.Task[Processed], url_id: int) -> None:
            in_flight.pop(url_id, None)
            wakeup.set()
            if task.cancelled():
                return
            exc = task.exception()
            if exc is not None:
                log.error("url_task_crashed", url_id=url_id, error=repr(exc))
                return
            processed = task.result()
            stats.count(processed.result, processed.evaluation, processed.new_hit)
            for observe in observers:
                observe(processed)

        last_renew = time.monotonic()
        # Claim in groups, not one URL per finished task: one claim transaction per
        # CLAIM_GROUP slots (the frontier is asked again as soon as that many are free).
        group = max(1, min(CLAIM_GROUP, concurrency // 4))
        while not stop.is_set():
            free = concurrency - len(in_flight)
            want = free if free >= group or not in_flight else 0
            claims = await store.claim(worker, min(want, 256), lease_seconds) if want else []
            for claim in claims:
                task = asyncio.create_task(pipeline.process(claim), name=f"url-{claim.url_id}")
                in_flight[claim.url_id] = task
                task.add_done_callback(functools.partial(_on_done, done, claim.url_id))
            if time.monotonic() - last_renew > lease_seconds / 3 and in_flight:
                await store.renew(worker, list(in_flight), lease_seconds)
                last_renew = time.monotonic()
            if not claims:
                if not in_flight:
                    if idle_exit and await _finished(store, worker):
                        break
                    # idle: poll the frontier again soon (new batches, leases that expire)
                    await _wait(stop, wakeup, 0.5)
                else:
                    await _wait(stop, wakeup, 1.0)
            elif free - len(claims) <= 0:
                await _wait(stop, wakeup, 1.0)
        await _drain(store, worker, in_flight, drain_seconds)
    finally:
        if owns_fetcher:
            await active.__aexit__(None, None, None)
    log.info("worker_stop", worker=worker, **dataclasses.asdict(stats))
    return stats


async def _finished(store: Store, worker: str) -> bool:
    """Nothing queued and nothing leased by anyone (a dead worker's leases must expire first)."""
    if await store.recover(worker):
        return False
    counts = await store.counts()
    return counts.get("queued", 0) + counts.get("fetching", 0) == 0


def _on_done(
    done: Callable[[asyncio.Task[Processed], int], None], url_id: int, task: asyncio.Task[Processed]
) -> None:
    done(task, url_id)


async def _wait(stop: asyncio.Event, wakeup: asyncio.Event, seconds: float) -> None:
    wakeup.clear()
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _drain(
    store: Store, worker: str, in_flight: dict[int, asyncio.Task[Processed]], seconds: float
) -> None:
    if not in_flight:
        return
    tasks = list(in_flight.values())
    log.info("draining", in_flight=len(tasks), deadline_s=seconds)
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    if pending:
        unfinished = [uid for uid, t in in_flight.items() if t in pending]
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await store.release(worker, unfinished)
        log.info("released_unfinished", count=len(unfinished))
