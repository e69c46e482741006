"""The Store contract: the same tests on SQLite and on PostgreSQL.

The PostgreSQL leg runs when TRIAGE_TEST_POSTGRES_URL is set (`.ci/run` starts a cluster and sets
it); each test gets its own schema, dropped afterwards. Other test modules import the fixtures
and factories from here (`db_url`, `Clock`, `fetched`, `evaluation`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crawler.errors import SchemaTooNewError, StoreError, UsageError
from crawler.models import (
    Document,
    Entity,
    Evaluation,
    FetchResult,
    Indicator,
    Outcome,
    Reason,
    Seed,
    SeedReject,
    Span,
    utcnow,
)
from storage import open_store
from storage.base import Claim, UnknownHitError
from storage.migrate import latest_version

PG_URL = os.environ.get("TRIAGE_TEST_POSTGRES_URL")
NO_PG = "TRIAGE_TEST_POSTGRES_URL is not set (.ci/run starts PostgreSQL and sets it)"


# --------------------------------------------------------------------------- fixtures


def _with_schema(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "triage.db")
        return
    if not PG_URL:
        pytest.skip(NO_PG)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _with_schema(PG_URL, schema)
    finally:
        async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def seeds(urls: list[str], source: str = "seeds.txt") -> list[Seed]:
    return [Seed(url=u, source=source, line=i + 1) for i, u in enumerate(urls)]


def fetched(claim: Claim, body: bytes, **kw: Any) -> FetchResult:
    return FetchResult(
        url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="",
        fetched_at=utcnow(), final_url=claim.url, status=200,
        headers={"content-type": "text/html"}, content_type="text/html", body=body,
        sha256=hashlib.sha256(body).hexdigest(), **kw,
    )


def evaluation(
    priority: str = "high", score: float = 5.0, family: str = "handler", version: str = "v1"
) -> Evaluation:
    span = Span("body", 0, 4, "text", "some text here")
    ind = Indicator(f"{family}.rule", 1, family, "strong", score, "A rule", (span,))
    return Evaluation(score=score, priority=priority, indicators=(ind,),  # type: ignore[arg-type]
                      ruleset_version=version)


def phone(value: str = "+4915100000001") -> Entity:
    return Entity("phone", value, Span("contact", 0, 5, "12345", "call 12345"))


async def record(store: Any, claim: Claim, body: bytes, ev: Evaluation | None,
                 worker: str = "w1", entities: tuple[Entity, ...] = ()) -> Any:
    doc = Document(url=claim.url, title="t", body=body.decode())
    return await store.record_result(claim, worker, fetched(claim, body), doc, ev, entities)


async def crawl_once(store: Any, url: str, body: bytes, ev: Evaluation | None) -> Any:
    """Requeue `url` if finished, claim it and record `body`."""
    await store.requeue(state="done")
    claims = [c for c in await store.claim("w1", 100, 60) if c.url == url]
    assert claims, f"{url} was not claimable"
    return await record(store, claims[0], body, ev)


# --------------------------------------------------------------------------- opening


async def test_open_applies_migrations_once(db_url: str) -> None:
    async with open_store(db_url) as store:
        async with store._tx() as tx:
            row = await tx.fetchone("SELECT max(version) AS v, count(*) AS n FROM schema_version")
    assert row is not None and row["v"] == latest_version(store.dialect) and row["n"] == row["v"]
    async with open_store(db_url) as store:  # reopening applies nothing new
        async with store._tx() as tx:
            again = await tx.fetchone("SELECT count(*) AS n FROM schema_version")
    assert again is not None and again["n"] == row["n"]


async def test_open_refuses_a_newer_schema(db_url: str) -> None:
    async with open_store(db_url) as store:
        async with store._tx() as tx:
            await tx.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'x', 0)"
            )
    with pytest.raises(SchemaTooNewError, match="999"):
        async with open_store(db_url):
            pass


def test_open_store_rejects_unknown_scheme() -> None:
    with pytest.raises(UsageError, match="mysql"):
        open_store("mysql://db/x")


async def test_open_store_accepts_sqlite_url(tmp_path: Any) -> None:
    async with open_store(f"sqlite:///{tmp_path}/u.db") as store:
        await store.add_batch("s", "x", seeds(["https://a.example/"]), [])
    assert (tmp_path / "u.db").exists()


async def test_open_without_create_refuses_missing_file(tmp_path: Any) -> None:
    with pytest.raises(StoreError, match="no database"):
        async with open_store(tmp_path / "missing.db", create=False):
            pass


async def test_reuse_after_close_raises(db_url: str) -> None:
    store = open_store(db_url)
    async with store:
        pass
    with pytest.raises(StoreError, match="closed"):
        await store.counts()


# --------------------------------------------------------------------------- intake


async def test_add_batch_dedupes_within_and_across_batches(db_url: str) -> None:
    async with open_store(db_url) as store:
        first = await store.add_batch(
            "a.txt", "sha-a", seeds(["https://a.example/1", "https://a.example/2"]),
            [SeedReject("a.txt", 3, "ftp://x", "scheme ftp is not http/https")],
        )
        second = await store.add_batch(
            "b.txt", "sha-b",
            seeds(["https://a.example/2", "https://b.example/1", "https://b.example/1"]),
            [], duplicates=4,
        )
        assert (first.accepted, first.duplicates, first.rejected) == (2, 0, 1)
        assert (second.accepted, second.duplicates) == (1, 1 + 1 + 4)
        urls = await store.list_urls()
        assert [u.url for u in urls] == [
            "https://a.example/1", "https://a.example/2", "https://b.example/1"
        ]
        assert [u.batch_id for u in urls] == [first.batch_id] * 2 + [second.batch_id]
        batch = await store.get_batch(second.batch_id)
        assert batch is not None and batch.sha256 == "sha-b" and batch.states == {"queued": 1}
        assert [b.source for b in await store.list_batches()] == ["a.txt", "b.txt"]
        assert await store.get_batch(999) is None


async def test_long_urls_are_stored_and_deduped(db_url: str) -> None:
    long_url = "https://a.example/" + "".join(f"{i:x}" for i in range(2200))[:8000]
    async with open_store(db_url) as store:
        first = await store.add_batch("a", "x", seeds([long_url]), [])
        again = await store.add_batch("b", "y", seeds([long_url]), [])
        assert (first.accepted, again.duplicates) == (1, 1)
        [claim] = await store.claim("w1", 1, 60)
        out = await record(store, claim, b"long", evaluation())
        assert out.new_hit and claim.url == long_url


async def test_enqueue_discovered_skips_known_urls(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        [parent] = await store.claim("w", 1, 60)
        n = await store.enqueue_discovered(
            parent, ["https://a.example/", "https://a.example/x", "https://a.example/x"], 1
        )
        assert n == 1
        [child] = await store.claim("w", 5, 60)
        assert (child.url, child.depth, child.batch_id) == ("https://a.example/x", 1, 1)


# --------------------------------------------------------------------------- leases


async def test_claim_leases_oldest_first_and_only_once(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds([f"https://a.example/{i}" for i in range(5)]), [])
        first = await store.claim("w1", 3, 60)
        second = await store.claim("w2", 3, 60)
        assert [c.url for c in first] == [f"https://a.example/{i}" for i in range(3)]
        assert [c.url for c in second] == ["https://a.example/3", "https://a.example/4"]
        assert await store.claim("w3", 3, 60) == []
        assert (await store.counts())["fetching"] == 5


async def test_expired_lease_is_recovered_and_reclaimed(db_url: str) -> None:
    clock = Clock()
    async with open_store(db_url, clock=clock) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        [claim] = await store.claim("w1", 1, 30)
        assert await store.recover("w2") == 0  # lease still valid
        clock.advance(31)
        assert await store.recover("w2") == 1
        [again] = await store.claim("w2", 1, 30)
        assert again.url_id == claim.url_id and again.attempts == 2
        # the first worker lost its lease: its late result is ignored
        out = await record(store, claim, b"late", evaluation(), worker="w1")
        assert out.page_id is None and out.hit_id is None
        assert (await store.counts())["fetching"] == 1


async def test_renew_keeps_a_lease_alive(db_url: str) -> None:
    clock = Clock()
    async with open_store(db_url, clock=clock) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        [claim] = await store.claim("w1", 1, 30)
        clock.advance(20)
        await store.renew("w1", [claim.url_id], 30)
        await store.renew("intruder", [claim.url_id], 0)  # not its lease: no effect
        clock.advance(20)
        assert await store.recover("w2") == 0


async def test_release_returns_urls_to_the_queue(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        [claim] = await store.claim("w1", 1, 30)
        await store.release("w1", [claim.url_id])
        [again] = await store.claim("w2", 1, 30)
        assert again.url_id == claim.url_id and again.attempts == 1


async def test_url_whose_worker_keeps_dying_is_failed(db_url: str) -> None:
    clock = Clock()
    async with open_store(db_url, clock=clock) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        for _ in range(5):
            assert await store.claim("w", 1, 1)
            clock.advance(2)
            await store.recover("other")
        [url] = await store.list_urls()
        assert (url.state, url.reason) == ("failed", "internal")
        assert "5 times" in (url.detail or "")


async def test_dead_local_worker_leases_are_recovered_on_sqlite(tmp_path: Any) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import os; print(os.getpid())", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()  # the child has exited and been reaped: its pid is dead
    dead = f"{socket.gethostname()}:{int(out)}:0"
    alive = f"{socket.gethostname()}:{os.getpid()}:7"
    async with open_store(tmp_path / "t.db") as store:
        await store.add_batch("a", "x", seeds(["https://a.example/1", "https://a.example/2"]), [])
        await store.claim(dead, 1, 3600)
        await store.claim(alive, 1, 3600)
        assert await store.recover("me") == 1
        [claim] = await store.claim("me", 5, 60)
        assert claim.url == "https://a.example/1"


CLAIMER = """
import asyncio, os, socket, sys
from storage import open_store
async def main():
    async with open_store(sys.argv[1]) as store:
        got = await store.claim(f"{socket.gethostname()}:{os.getpid()}:0", 5, 30)
        print(len(got), flush=True)
        await asyncio.sleep(60)
asyncio.run(main())
"""


async def test_leases_of_a_killed_worker_come_back(db_url: str) -> None:
    clock = Clock()
    async with open_store(db_url, clock=clock) as store:
        await store.add_batch("a", "x", seeds([f"https://a.example/{i}" for i in range(8)]), [])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLAIMER, db_url, stdout=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert int(line) == 5
        proc.kill()  # SIGKILL: no release, no goodbye
        await proc.wait()
        if store.dialect == "postgres":  # another machine's pid cannot be checked: wait it out
            assert await store.recover("survivor") == 0
            clock.advance(31)
        assert await store.recover("survivor") == 5
        claims = await store.claim("survivor", 20, 30)
        assert sorted(c.url for c in claims) == sorted(f"https://a.example/{i}" for i in range(8))
        assert sorted(c.attempts for c in claims) == [1, 1, 1, 2, 2, 2, 2, 2]


async def test_failed_with_retry_after_is_requeued_later(db_url: str) -> None:
    clock = Clock()
    async with open_store(db_url, clock=clock) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        [claim] = await store.claim("w1", 1, 60)
        failed = FetchResult(url=claim.url, outcome=Outcome.FAILED, reason=Reason.TIMEOUT,
                             detail="read timeout", fetched_at=utcnow())
        await store.record_result(claim, "w1", failed, None, None, (), retry_after=300)
        [url] = await store.list_urls()
        assert (url.state, url.reason) == ("queued", "timeout")
        assert await store.claim("w1", 1, 60) == []
        clock.advance(301)
        [again] = await store.claim("w1", 1, 60)
        assert again.attempts == 2


async def test_concurrent_claimers_never_share_a_url(db_url: str) -> None:
    urls = [f"https://h{i % 7}.example/{i}" for i in range(300)]
    async with open_store(db_url) as setup:
        await setup.add_batch("a", "x", seeds(urls), [])

    async def claimer(store: Any, name: str) -> list[int]:
        got: list[int] = []
        while batch := await store.claim(name, 7, 60):
            got += [c.url_id for c in batch]
            await asyncio.sleep(0.002)  # "work" on the batch, letting the others in
        return got

    stores = [open_store(db_url) for _ in range(4)]
    for s in stores:
        await s.open()
    try:
        results = await asyncio.gather(*(claimer(s, f"w{i}") for i, s in enumerate(stores)))
    finally:
        for s in stores:
            await s.close()
    everything = [u for r in results for u in r]
    assert len(everything) == len(set(everything)) == len(urls)
    assert sum(1 for r in results if r) >= 2  # the work really was shared


async def test_reserve_host_spaces_requests_across_connections(db_url: str) -> None:
    interval = 0.5
    async with open_store(db_url) as a, open_store(db_url) as b:

        async def take(store: Any) -> float:
            wait = await store.reserve_host("site.example", interval)
            return time.time() + float(wait)

        slots = sorted(await asyncio.gather(*(take(s) for s in [a, b] * 4)))
        other = await a.reserve_host("other.example", interval)
    gaps = [y - x for x, y in itertools.pairwise(slots)]
    assert min(gaps) >= interval - 0.1, gaps
    assert other == 0.0  # hosts do not wait for each other


# --------------------------------------------------------------------------- results


async def test_record_result_marks_refusals_with_reason(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/img"]), [])
        [claim] = await store.claim("w1", 1, 60)
        refused = FetchResult(url=claim.url, outcome=Outcome.REFUSED, reason=Reason.CONTENT_TYPE,
                              detail="Content-Type image/jpeg is not a text type",
                              fetched_at=utcnow())
        out = await store.record_result(claim, "w1", refused, None, None, ())
        assert out.page_id is None
        [url] = await store.list_urls(state="refused")
        assert url.reason == "content_type" and "image/jpeg" in (url.detail or "")


async def test_same_page_recorded_twice_gives_one_hit(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        first = await crawl_once(store, "https://a.example/", b"page one", evaluation())
        second = await crawl_once(store, "https://a.example/", b"page one", evaluation())
        assert first.new_hit and not second.new_hit
        assert second.hit_id == first.hit_id
        assert len(await store.list_hits(status=None)) == 1
        assert (await store.counts())["hits"] == 1


async def test_changed_page_gives_a_linked_new_hit(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        first = await crawl_once(store, "https://a.example/", b"version 1", evaluation())
        await store.review(first.hit_id, "confirmed", "ana")
        second = await crawl_once(store, "https://a.example/", b"version 2", evaluation())
        assert second.new_hit and second.hit_id != first.hit_id
        hit = await store.get_hit(second.hit_id)
        assert hit is not None
        assert hit.previous_hit_id == first.hit_id and hit.status == "pending"
        assert hit.content_sha256 == hashlib.sha256(b"version 2").hexdigest()


async def test_dismissed_page_unchanged_is_not_requeued_for_review(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        first = await crawl_once(store, "https://a.example/", b"same", evaluation())
        await store.review(first.hit_id, "dismissed", "ana", "not relevant")
        again = await crawl_once(store, "https://a.example/", b"same", evaluation())
        assert not again.new_hit and again.hit_id == first.hit_id
        assert await store.list_hits(status="pending") == []
        hit = await store.get_hit(first.hit_id)
        assert hit is not None and hit.status == "dismissed"


async def test_new_ruleset_carries_the_verdict_forward_on_unchanged_content(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        first = await crawl_once(store, "https://a.example/", b"same", evaluation(version="v1"))
        await store.review(first.hit_id, "dismissed", "ana")
        second = await crawl_once(store, "https://a.example/", b"same", evaluation(version="v2"))
        assert second.new_hit
        hit = await store.get_hit(second.hit_id)
        assert hit is not None
        assert (hit.status, hit.previous_hit_id, hit.ruleset_version) == (
            "dismissed", first.hit_id, "v2")
        audit = await store.list_audit(hit_id=second.hit_id)
        assert [a.action for a in audit] == ["flagged", "carried_forward"]
        assert f"hit {first.hit_id}" in audit[-1].note
        assert await store.list_hits(status="pending") == []


async def test_entities_are_stored_for_unflagged_pages(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
        [claim] = await store.claim("w1", 1, 60)
        none = Evaluation(score=0.0, priority="none", indicators=(), ruleset_version="v1")
        out = await record(store, claim, b"hello", none, entities=(phone(),))
        assert out.hit_id is None and out.page_id is not None
        [page] = await store.iter_page_features()
        assert page.body == "hello" and page.hit_id is None
        assert [e["value"] for e in page.entities] == ["+4915100000001"]
        assert await store.list_hits(status=None) == []
        [url] = await store.list_urls()
        assert (url.state, url.status, url.final_url) == ("done", 200, "https://a.example/")


async def test_list_hits_orders_by_priority_then_score_and_filters(db_url: str) -> None:
    plan = [("low", 9.0, "youth"), ("high", 2.0, "handler"), ("medium", 4.0, "handler"),
            ("high", 7.0, "crypto_only")]
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds([f"https://a.example/{i}" for i in range(4)]), [])
        claims = await store.claim("w1", 4, 60)
        for claim, (prio, score, fam) in zip(claims, plan, strict=True):
            await record(store, claim, claim.url.encode(), evaluation(prio, score, fam))
        hits = await store.list_hits()
        assert [(h.priority, h.score) for h in hits] == [
            ("high", 7.0), ("high", 2.0), ("medium", 4.0), ("low", 9.0)]
        assert [h.priority for h in await store.list_hits(family="handler")] == ["high", "medium"]
        assert [h.score for h in await store.list_hits(priority="high", limit=1)] == [7.0]
        assert [h.url for h in await store.list_hits(text="A.EXAMPLE/3")] == [claims[3].url]
        assert len(await store.list_hits(limit=2, offset=3)) == 1
        record_json = hits[0].to_json()
        assert record_json["indicators"][0]["family"] == "crypto_only"
        assert record_json["indicators"][0]["evidence"][0]["text"] == "text"


# --------------------------------------------------------------------------- review


async def _one_hit(store: Any) -> int:
    await store.add_batch("a", "x", seeds(["https://a.example/"]), [])
    out = await crawl_once(store, "https://a.example/", b"body", evaluation())
    return int(out.hit_id)


async def test_review_records_who_when_from_to_in_the_audit(db_url: str) -> None:
    async with open_store(db_url) as store:
        hit_id = await _one_hit(store)
        hit = await store.review(hit_id, "escalated", "ana", "to the JIT")
        assert hit.status == "escalated" and hit.extra["reviewer"] == "ana"
        await store.review(hit_id, "confirmed", "ben")
        audit = await store.list_audit(hit_id=hit_id)
        assert [(a.action, a.actor, a.from_value, a.to_value) for a in audit] == [
            ("flagged", "w1", None, "pending"),
            ("review", "ana", "pending", "escalated"),
            ("review", "ben", "escalated", "confirmed"),
        ]
        assert audit[1].note == "to the JIT"
        assert [a.actor for a in await store.list_audit(actor="ben")] == ["ben"]


async def test_review_rejects_unknown_hit_and_verdict(db_url: str) -> None:
    async with open_store(db_url) as store:
        hit_id = await _one_hit(store)
        with pytest.raises(UnknownHitError):
            await store.review(hit_id + 100, "confirmed", "ana")
        with pytest.raises(UsageError, match="verdict"):
            await store.review(hit_id, "maybe", "ana")
        with pytest.raises(UnknownHitError):
            await store.assign(hit_id + 100, "ana", "lead")


async def test_assign_is_audited(db_url: str) -> None:
    async with open_store(db_url) as store:
        hit_id = await _one_hit(store)
        hit = await store.assign(hit_id, "ana", "lead")
        assert hit.assignee == "ana"
        last = (await store.list_audit(hit_id=hit_id))[-1]
        assert (last.action, last.actor, last.from_value, last.to_value) == (
            "assign", "lead", None, "ana")
        assert [h.hit_id for h in await store.list_hits(assignee="ana")] == [hit_id]


async def test_bulk_review_by_filter(db_url: str) -> None:
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds([f"https://a.example/{i}" for i in range(3)]), [])
        claims = await store.claim("w1", 3, 60)
        for claim, prio in zip(claims, ["low", "low", "high"], strict=True):
            await record(store, claim, claim.url.encode(), evaluation(prio))
        changed = await store.review_where("dismissed", "ana", "bulk: low", priority="low")
        assert len(changed) == 2
        assert [h.priority for h in await store.list_hits(status="pending")] == ["high"]
        assert len([a for a in await store.list_audit() if a.action == "review"]) == 2


async def test_audit_is_append_only(db_url: str) -> None:
    async with open_store(db_url) as store:
        await _one_hit(store)
        with pytest.raises(StoreError, match="append-only"):
            async with store._tx() as tx:
                await tx.execute("UPDATE audit SET note = 'rewritten'")
        with pytest.raises(StoreError, match="append-only"):
            async with store._tx() as tx:
                await tx.execute("DELETE FROM audit")
        assert len(await store.list_audit()) == 1


async def test_purge_dismissed_blanks_text_and_keeps_audit(db_url: str) -> None:
    clock = Clock()
    async with open_store(db_url, clock=clock) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/1", "https://a.example/2"]), [])
        claims = await store.claim("w1", 2, 60)
        outs = [await record(store, c, b"secret words", evaluation(), entities=(phone(),))
                for c in claims]
        await store.review(outs[0].hit_id, "dismissed", "ana")
        await store.review(outs[1].hit_id, "confirmed", "ana")
        assert (await store.purge_dismissed(30)).hits == 0  # too recent
        clock.advance(31 * 86_400)
        report = await store.purge_dismissed(30)
        assert (report.hits, report.pages) == (1, 1)
        pages = {p.page_id: p for p in await store.iter_page_features()}
        assert pages[outs[0].page_id].body == "" and pages[outs[0].page_id].entities == []
        assert pages[outs[1].page_id].body == "secret words"
        purged = await store.get_hit(outs[0].hit_id)
        assert purged is not None and purged.indicators[0]["evidence"] == []
        assert purged.status == "dismissed" and purged.extra["purged_at"]
        actions = [a.action for a in await store.list_audit(hit_id=outs[0].hit_id)]
        assert actions == ["flagged", "review", "purge"]
        assert (await store.purge_dismissed(30)).hits == 0  # idempotent
