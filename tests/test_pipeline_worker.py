"""The worker loop in-process: "not now" refusals are retried later by a long-lived worker,
while a one-shot crawl records them as final."""

from __future__ import annotations

import asyncio
from pathlib import Path

from crawler.models import Seed
from crawler.pipeline import run_worker
from crawler.rules import RuleHolder
from crawler.settings import FetchSettings
from storage import open_store
from tests.support.server import LoopbackSite

RULES = Path(__file__).resolve().parent / "pipeline_rules"


def settings() -> FetchSettings:
    return FetchSettings.from_env({"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}, per_host_rps=0.0)


async def test_long_lived_worker_requeues_a_url_when_robots_txt_fails_closed(
    site: LoopbackSite, tmp_path: Path
) -> None:
    site.route("/robots.txt", "oops", status=500, content_type="text/plain")
    url = site.route("/ad", "<p>text my driver</p>")
    async with open_store(tmp_path / "t.db") as store:
        await store.add_batch("s.txt", "0" * 64, [Seed(url, "s.txt", 1)], [])
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_worker(store, settings(), RuleHolder(RULES), stop=stop, worker_id="w:1:0")
        )
        for _ in range(200):
            records = await store.list_urls()
            if records[0].reason == "robots":
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        (record,) = await store.list_urls()
    assert record.state == "queued"
    assert record.reason == "robots" and record.detail and "will try again" in record.detail
    assert "/ad" not in site.paths()


async def test_one_shot_crawl_records_robots_failure_as_final(
    site: LoopbackSite, tmp_path: Path
) -> None:
    site.route("/robots.txt", "oops", status=503, content_type="text/plain")
    url = site.route("/ad", "<p>text my driver</p>")
    async with open_store(tmp_path / "t.db") as store:
        await store.add_batch("s.txt", "0" * 64, [Seed(url, "s.txt", 1)], [])
        stats = await run_worker(store, settings(), RuleHolder(RULES), idle_exit=True)
        (record,) = await store.list_urls()
    assert stats.refused == 1
    assert record.state == "refused" and record.reason == "robots"
    assert "fail closed" in (record.detail or "")


async def test_stop_drains_until_the_deadline_then_releases_leases(
    site: LoopbackSite, tmp_path: Path
) -> None:
    seeds = [Seed(site.route(f"/p{i}", f"<p>page {i}</p>"), "s.txt", i + 1) for i in range(30)]
    async with open_store(tmp_path / "t.db") as store:
        await store.add_batch("s.txt", "1" * 64, seeds, [])
        stop = asyncio.Event()
        slow = FetchSettings.from_env({"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}, per_host_rps=20.0)
        task = asyncio.create_task(
            run_worker(store, slow, RuleHolder(RULES), stop=stop, drain_seconds=0.3)
        )
        for _ in range(500):
            if len(site.requests) >= 5:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await task
        counts = await store.counts()
    assert counts["fetching"] == 0
    assert counts["done"] + counts["queued"] == 30
    assert 0 < counts["done"] < 30


async def test_links_are_followed_only_as_deep_as_the_source_policy_allows(
    site: LoopbackSite, tmp_path: Path
) -> None:
    index = site.route("/", '<a href="/a">a</a> <a href="/b">b</a>')
    site.route("/a", '<p>page a</p><a href="/deeper">deeper</a>')
    site.route("/b", "<p>page b</p>")
    site.route("/deeper", "<p>too deep</p>")
    policy = tmp_path / "sources.yaml"
    policy.write_text("defaults: {max_depth: 1}\n")
    followed = FetchSettings.from_env(
        {"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}, per_host_rps=0.0, sources_path=policy
    )
    async with open_store(tmp_path / "t.db") as store:
        await store.add_batch("s.txt", "2" * 64, [Seed(index, "s.txt", 1)], [])
        await run_worker(store, followed, RuleHolder(RULES), idle_exit=True)
        urls = {u.url.removeprefix(site.base) for u in await store.list_urls()}
    assert urls == {"/", "/a", "/b"}
    assert "/deeper" not in site.paths()


async def test_links_are_not_followed_by_default(site: LoopbackSite, tmp_path: Path) -> None:
    index = site.route("/", '<a href="/a">a</a>')
    site.route("/a", "<p>page a</p>")
    async with open_store(tmp_path / "t.db") as store:
        await store.add_batch("s.txt", "3" * 64, [Seed(index, "s.txt", 1)], [])
        await run_worker(store, settings(), RuleHolder(RULES), idle_exit=True)
        assert len(await store.list_urls()) == 1
    assert site.paths().count("/a") == 0


async def test_a_failing_network_store_is_not_recorded_as_the_pages_outcome(
    site: LoopbackSite, tmp_path: Path
) -> None:
    """A database error behind the network hook is the store's failure, like a failing
    record_result: the URL is not finished with an analysis failure; its lease stays, expires
    and the URL is fetched again. A bug in the hook (not a database error) stays `extract`."""
    import sqlite3
    from collections.abc import Sequence

    from crawler.fetch import Fetcher
    from crawler.models import Document, Entity, Indicator
    from crawler.pipeline import Pipeline

    url = site.route("/ad", "<p>text my driver</p>")

    async def locked(doc: Document, entities: Sequence[Entity]) -> tuple[list[Indicator], bool]:
        raise sqlite3.OperationalError("database is locked")

    async def buggy(doc: Document, entities: Sequence[Entity]) -> tuple[list[Indicator], bool]:
        raise ValueError("a bug")

    async with open_store(tmp_path / "t.db") as store, Fetcher(settings()) as fetcher:
        await store.add_batch("s.txt", "0" * 64, [Seed(url, "s.txt", 1)], [])
        [claim] = await store.claim("w:1:0", 1, 60)
        pipeline = Pipeline(store, fetcher, RuleHolder(RULES), worker_id="w:1:0",
                            network=locked)
        try:
            await pipeline.process(claim)
        except Exception as exc:
            assert "database is locked" in repr(exc.__cause__)
        else:
            raise AssertionError("a database error was recorded as the page's outcome")
        [record] = await store.list_urls()
        assert record.state == "fetching"  # still leased: retried once the lease expires
        await store.release("w:1:0", [claim.url_id])
        [claim] = await store.claim("w:1:0", 1, 60)
        pipeline.network = buggy
        await pipeline.process(claim)
        [record] = await store.list_urls()
        assert record.state == "failed" and record.reason == "extract"
        assert "a bug" in (record.detail or "")
