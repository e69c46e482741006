"""triage rescan: stored pages re-evaluated with the current rules, no fetching."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli.app import app
from crawler.models import Document, FetchResult, Outcome, Reason, Seed, utcnow
from crawler.rescan import rescan
from crawler.rules import load_ruleset
from storage import open_store
from tests.test_store import db_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when set)

RULE = """\
id: test.{name}
title: Page mentions {word}
version: {version}
status: experimental
family: handler
level: medium
weight: 3.0
selections:
  word:
    scope: [body]
    patterns: [{word}]
condition: word
"""


def _pack(tmp_path: Path, name: str, *words: str, version: int = 1) -> Path:
    d = tmp_path / name
    d.mkdir()
    for w in words:
        (d / f"{w}.yaml").write_text(RULE.format(name=w, word=w, version=version))
    return d


async def _store_pages(
    db: Path | str, bodies: dict[str, str], rules_dir: Path | None = None
) -> None:
    """Crawl-like: queue, claim and record each page (evaluated with rules_dir if given)."""
    ruleset = load_ruleset(rules_dir) if rules_dir else None
    async with open_store(db) as store:
        seeds = [Seed(url=u, source="t", line=i + 1) for i, u in enumerate(bodies)]
        await store.add_batch("t", "0" * 64, seeds, [])
        claims = await store.claim("w", len(seeds), 60)
        for claim in claims:
            body = bodies[claim.url]
            raw = body.encode()
            result = FetchResult(
                url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="ok",
                fetched_at=utcnow(), final_url=claim.url, status=200,
                content_type="text/html", body=raw, sha256=hashlib.sha256(raw).hexdigest(),
            )
            doc = Document(url=claim.url, title="t", body=body)
            ev = ruleset.evaluate(doc) if ruleset else None
            await store.record_result(claim, "w", result, doc, ev, [])


URLS = {
    "https://a.example/1": "call my driver for bookings",
    "https://a.example/2": "a quiet flat with parking",
    "https://a.example/3": "ask my driver, new girls",
}


async def test_pages_that_now_fire_get_hits(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    await _store_pages(db, URLS)  # crawled before any rule existed: no hits
    ruleset = load_ruleset(_pack(tmp_path, "p", "driver"))
    async with open_store(db) as store:
        assert await store.list_hits(status=None) == []
        report = await rescan(store, ruleset)
        hits = await store.list_hits(status=None)
    assert (report.evaluated, report.flagged, report.new_hits) == (3, 2, 2)
    assert sorted(h.url for h in hits) == ["https://a.example/1", "https://a.example/3"]
    assert {h.ruleset_version for h in hits} == {ruleset.version}
    assert all(h.indicators[0]["rule_id"] == "test.driver" for h in hits)


async def test_rescan_twice_adds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    await _store_pages(db, URLS)
    ruleset = load_ruleset(_pack(tmp_path, "p", "driver"))
    async with open_store(db) as store:
        await rescan(store, ruleset)
        again = await rescan(store, ruleset)
        assert len(await store.list_hits(status=None)) == 2
    assert (again.new_hits, again.unchanged) == (0, 2)
    assert again.evaluated == 1  # pages that already have this rule set's hit are not re-run


async def test_reviewed_verdict_is_kept_and_indicators_updated(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    old = _pack(tmp_path, "old", "driver")
    await _store_pages(db, URLS, old)
    new = load_ruleset(_pack(tmp_path, "new", "driver", "girls"))
    async with open_store(db) as store:
        first = {h.url: h for h in await store.list_hits(status=None)}
        await store.review(first["https://a.example/3"].hit_id, "confirmed", "ana")
        report = await rescan(store, new)
        hits = await store.list_hits(status=None)
    latest = {h.url: h for h in sorted(hits, key=lambda h: h.hit_id)}
    assert report.new_hits == 2 and report.verdicts_kept == 1
    assert latest["https://a.example/3"].status == "confirmed"
    assert latest["https://a.example/3"].ruleset_version == new.version
    assert {i["rule_id"] for i in latest["https://a.example/3"].indicators} == {
        "test.driver", "test.girls"}
    assert latest["https://a.example/1"].status == "pending"


async def test_pages_that_stop_firing_are_counted_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    await _store_pages(db, URLS, _pack(tmp_path, "old", "driver"))
    async with open_store(db) as store:
        report = await rescan(store, load_ruleset(_pack(tmp_path, "new", "parking")))
        statuses = [h.status for h in await store.list_hits(status=None)]
    assert (report.no_longer_fire, report.new_hits) == (2, 1)
    assert statuses.count("pending") == 3


async def test_since_unknown_version_is_a_usage_error(tmp_path: Path) -> None:
    from crawler.errors import UsageError

    db = tmp_path / "t.db"
    await _store_pages(db, URLS)
    async with open_store(db) as store:
        with pytest.raises(UsageError, match="no hit was recorded"):
            await rescan(store, load_ruleset(_pack(tmp_path, "p", "driver")), since="nope")


async def test_since_known_version_skips_older_pages(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    await _store_pages(db, {"https://b.example/old": "my driver, long ago"})  # before the rules
    old = _pack(tmp_path, "old", "driver")
    await _store_pages(db, URLS, old)
    version = load_ruleset(old).version
    async with open_store(db) as store:
        report = await rescan(store, load_ruleset(_pack(tmp_path, "p", "girls")), since=version)
    assert (report.pages, report.evaluated) == (4, 3)


def test_cli_prints_a_summary(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "t.db"
    asyncio.run(_store_pages(db, URLS))
    rules = _pack(tmp_path, "p", "driver")
    result = CliRunner().invoke(app, ["rescan", "--db", str(db), "--rules", str(rules), "--json"])
    assert result.exit_code == 0, result.output
    assert '"new_hits": 2' in result.output


@pytest.mark.parametrize("batch", [1, 2, 1000])
async def test_batches_of_any_size_give_the_same_report(tmp_path: Path, batch: int) -> None:
    db = tmp_path / "t.db"
    await _store_pages(db, URLS, _pack(tmp_path, "old", "driver"))
    async with open_store(db) as store:  # a second version of page 1: the first is history
        await store.requeue(state="done")
        claims = [c for c in await store.claim("w", 10, 60) if c.url.endswith("/1")]
        raw = b"call my driver, new girls"
        result = FetchResult(url=claims[0].url, outcome=Outcome.FETCHED, reason=Reason.OK,
                             detail="ok", fetched_at=utcnow(), final_url=claims[0].url,
                             status=200, content_type="text/html", body=raw,
                             sha256=hashlib.sha256(raw).hexdigest())
        doc = Document(url=claims[0].url, title="t", body=raw.decode())
        await store.record_result(claims[0], "w", result, doc, None, [])
        new = load_ruleset(_pack(tmp_path, "new", "girls"))
        report = await rescan(store, new, batch=batch)
        hits = await store.list_hits(status=None)
    assert (report.pages, report.superseded, report.evaluated) == (4, 1, 3)
    assert (report.flagged, report.new_hits, report.no_longer_fire) == (2, 2, 0)
    assert report.last_page_id == 4
    assert sorted(h.url for h in hits if h.ruleset_version == new.version) == [
        "https://a.example/1", "https://a.example/3"]
    assert len(hits) == 4  # the two hits under the old rules are kept


async def test_rescan_on_both_backends(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    await _store_pages(db_url, URLS, _pack(tmp_path, "old", "driver"))
    async with open_store(db_url) as store:
        [hit] = [h for h in await store.list_hits(status=None) if h.url.endswith("/3")]
        await store.review(hit.hit_id, "dismissed", "ana")
        new = load_ruleset(_pack(tmp_path, "new", "girls", "parking"))
        report = await rescan(store, new, batch=2)
        again = await rescan(store, new, batch=2)
        latest = {h.url: h for h in sorted(await store.list_hits(status=None),
                                           key=lambda h: h.hit_id)}
    assert (report.evaluated, report.flagged, report.new_hits) == (3, 2, 2)
    assert (report.verdicts_kept, report.no_longer_fire) == (1, 1)
    assert (again.evaluated, again.unchanged, again.new_hits) == (1, 2, 0)
    assert latest["https://a.example/3"].status == "dismissed"
    assert latest["https://a.example/2"].ruleset_version == new.version
