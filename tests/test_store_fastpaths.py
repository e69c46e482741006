"""The store's fast paths write exactly what the straightforward code writes.

- SQLite group commit (a group written without savepoints first, written again with one savepoint
  per record when a record fails) against one plain transaction per `record_result`;
- `span_json` against the JSON encoder it replaces.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crawler.errors import StoreError
from crawler.models import Document, Entity, FetchResult, Outcome, Reason, Span
from storage import open_store
from storage.results import ResultsMixin
from storage.sqlbase import dumps, span_json
from tests.test_store import evaluation, fetched, seeds

NOW = 1_700_000_000.0
FETCHED_AT = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)
TEXTS = ["plain", "quote \" and \\ backslash", "línea\nnueva\t", "emoji 😀 \u2028 \x00 \x1f",
         "", "Ünïcödé Привет 中文"]


def _entities(i: int) -> tuple[Entity, ...]:
    return tuple(
        Entity("phone" if k % 2 else "email", f"v{i}-{k}-{TEXTS[(i + k) % len(TEXTS)]}",
               Span("contact" if k else "body", i + k, i + k + 3, TEXTS[(i + k) % len(TEXTS)],
                    TEXTS[(i + 2 * k) % len(TEXTS)]), subtype="tg" if k == 2 else "")
        for k in range(i % 4)
    )


def _result(claim: Any, i: int, version: int) -> tuple[FetchResult, Any, Any, float | None]:
    """A varied outcome for URL i: flagged, unflagged, failed (retry), refused, entity-heavy."""
    body = f"page {i} body {version if i % 3 else 0} {TEXTS[i % len(TEXTS)]}".encode()
    kind = i % 5
    if kind == 2:
        res = FetchResult(url=claim.url, outcome=Outcome.FAILED, reason=Reason.NETWORK,
                          detail="timeout", fetched_at=FETCHED_AT)
        return res, None, None, 0.0
    if kind == 3:
        res = FetchResult(url=claim.url, outcome=Outcome.REFUSED, reason=Reason.ROBOTS,
                          detail="robots", fetched_at=FETCHED_AT)
        return res, None, None, None
    res = replace(fetched(claim, body), fetched_at=FETCHED_AT)
    doc = Document(url=claim.url, title=f"t{i}", body=body.decode())
    ev = evaluation(version=f"v{version if i % 2 else 1}") if kind in (0, 4) else None
    return res, doc, ev, None


async def _crawl(db: Path, *, grouped: bool) -> list[Any]:
    """Three passes over 40 URLs (changed bodies, new rule sets, a reviewed hit carried forward),
    one lost lease and one record that fails; then a rescan. Returns every outcome."""
    urls = [f"https://a.example/{i}" for i in range(40)]
    outcomes: list[Any] = []
    async with open_store(str(db), clock=lambda: NOW) as store:
        await store.add_batch("a", "x", seeds(urls), [])
        for version in (1, 2, 3):
            if version > 1:
                await store.requeue(state="done")
            claims = await store.claim("w1", 100, 60)
            if version == 1:
                await store.release("w1", [claims[7].url_id])  # w1 lost this one
            calls = []
            for c in claims:
                i = int(c.url.rsplit("/", 1)[1])
                res, doc, ev, retry = _result(c, i, version)
                ents = _entities(i)
                if i == 11 and version == 2:  # cannot be bound: this record fails alone
                    ents = (replace(ents[0], value=["not", "a", "str"]),)  # type: ignore[arg-type]
                calls.append((c, res, doc, ev, ents, retry))

            async def one(call: Any, store: Any = store) -> Any:
                c, res, doc, ev, ents, retry = call
                record = store.record_result if grouped else (
                    lambda *a, **kw: ResultsMixin.record_result(store, *a, **kw))
                try:
                    return await record(c, "w1", res, doc, ev, ents, retry_after=retry,
                                        evidence={"file": "f", "offset": c.url_id})
                except StoreError as exc:
                    return ("error", str(exc).split(":")[0])

            if grouped:
                outcomes += await asyncio.gather(*(one(call) for call in calls))
            else:
                outcomes += [await one(call) for call in calls]
            if version == 1:
                hits = await store.list_hits(status=None)
                await store.review(hits[0].hit_id, "dismissed", "ana")
        pages = (await store.rescan_pages(0, 1000, "v9", None)).pages
        items = [(p.page_id, p.url_id, p.url, p.content_sha256, evaluation(version="v9"))
                 for p in pages][::3]
        outcomes += await store.record_evaluations(items, "rescan")
    return outcomes


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                for t in ("urls", "pages", "entities", "hits", "audit", "batches")}
    finally:
        conn.close()


async def test_group_commit_writes_the_rows_one_plain_transaction_per_result_writes(
    tmp_path: Path,
) -> None:
    grouped = await _crawl(tmp_path / "grouped.db", grouped=True)
    plain = await _crawl(tmp_path / "plain.db", grouped=False)
    assert grouped == plain
    assert ("error", "SQLite") in grouped  # the failing record was reported to its caller
    assert any(getattr(o, "new_hit", False) for o in grouped)
    a, b = _rows(tmp_path / "grouped.db"), _rows(tmp_path / "plain.db")
    for table in a:
        assert a[table] == b[table], table
    assert len(a["pages"]) > 40 and len(a["entities"]) > 40 and len(a["hits"]) > 10


def _random_text(rng: random.Random) -> str:
    alphabet = ["a", "Z", " ", '"', "\\", "/", "\n", "\t", "\x00", "\x7f", "é", "Ж", "中", "😀",
                "\u2028", "\ud83d", "\udc00", "<", "&"]
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


@pytest.mark.parametrize("seed", range(4))
def test_span_json_is_the_encoders_text(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        start = rng.choice([0, 1, 7, 10**12, -3])
        span = Span(_random_text(rng),  # type: ignore[arg-type]  # any text encodes
                    start, start + rng.randrange(0, 99), _random_text(rng),
                    _random_text(rng))
        assert span_json(span) == dumps(span.to_json())
    odd = Span("body", True, 2.5, "t", "c")  # type: ignore[arg-type]  # not ints: the encoder
    assert span_json(odd) == dumps(odd.to_json())
