"""The store's fast paths write exactly what the straightforward code writes.

- SQLite group commit (a group written without savepoints first, written again with one savepoint
  per record when a record fails) and PostgreSQL's one-statement page and hit writes, against
  ResultsMixin's plain code (one transaction per `record_result`, one statement per row);
- `span_json` against the JSON encoder it replaces.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crawler.errors import StoreError
from crawler.models import Document, Entity, FetchResult, Outcome, Reason, Span
from storage import open_store
from storage.results import ResultsMixin
from storage.sqlbase import dumps, headers_json, span_json
from tests.test_store import PG_URL, _with_schema, db_url, evaluation, fetched, seeds  # noqa: F401

NOW = 1_700_000_000.0
FETCHED_AT = dt.datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=dt.UTC)
TEXTS = ["plain", "quote \" and \\ backslash", "línea\nnueva\t", "emoji 😀 \u2028 \x1f",
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


def _plain(store: Any) -> Any:
    """The same store with ResultsMixin's straightforward record path."""

    class Plain(type(store)):  # type: ignore[misc]
        record_result = ResultsMixin.record_result
        _record_in_tx = ResultsMixin._record_in_tx
        _insert_hit = ResultsMixin._insert_hit

    store.__class__ = Plain
    return store


async def _crawl(db: str, *, grouped: bool) -> list[Any]:
    """Three passes over 40 URLs (changed bodies, new rule sets, a reviewed hit carried forward),
    one lost lease and one record that fails; then a rescan. Returns every outcome."""
    urls = [f"https://a.example/{i}" for i in range(40)]
    outcomes: list[Any] = []
    store = open_store(db, clock=lambda: NOW)
    if not grouped:
        store = _plain(store)
    async with store:
        await store.add_batch("a", "x", seeds(urls), [])
        for version in (1, 2, 3):
            if version > 1:
                await store.requeue(state="done")
            claims = sorted(await store.claim("w1", 100, 60), key=lambda c: c.url_id)
            if version == 1:
                await store.release("w1", [claims[7].url_id])  # w1 lost this one
            calls = []
            for c in claims:
                i = int(c.url.rsplit("/", 1)[1])
                res, doc, ev, retry = _result(c, i, version)
                ents = _entities(i)
                if i == 11 and version == 2 and "://" not in db:  # cannot be bound: fails alone
                    # (SQLite only: PostgreSQL's sequences keep ids a failed statement took)
                    ents = (replace(ents[0], value=["not", "a", "str"]),)  # type: ignore[arg-type]
                calls.append((c, res, doc, ev, ents, retry))

            async def one(call: Any, store: Any = store) -> Any:
                c, res, doc, ev, ents, retry = call
                try:
                    return await store.record_result(c, "w1", res, doc, ev, ents, retry_after=retry,
                                        evidence={"file": "f", "offset": c.url_id})
                except StoreError as exc:
                    return ("error", type(exc).__name__)

            if grouped and "://" not in db:  # SQLite's group commit (PostgreSQL: the pool
                outcomes += await asyncio.gather(*(one(call) for call in calls))
            else:  # would run them in any order, and so number the rows differently)
                outcomes += [await one(call) for call in calls]
            if version == 1:
                hits = await store.list_hits(status=None)
                for h in hits:  # same body, new rule set next pass (9), same both (0)
                    if h.url.endswith(("/9", "/0")):
                        await store.review(h.hit_id, "dismissed", "ana")
        pages = (await store.rescan_pages(0, 1000, "v9", None)).pages
        items = [(p.page_id, p.url_id, p.url, p.content_sha256, evaluation(version="v9"))
                 for p in pages][::3]
        outcomes += await store.record_evaluations(items, "rescan")
    return outcomes


TABLES = ("urls", "pages", "entities", "hits", "audit", "batches")


async def _rows(db: str) -> dict[str, list[tuple[Any, ...]]]:
    if "://" not in db:
        conn = sqlite3.connect(db)
        try:
            return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}
        finally:
            conn.close()
    import psycopg

    async with await psycopg.AsyncConnection.connect(db) as pg:
        out = {}
        for t in TABLES:
            cur = await pg.execute(f"SELECT * FROM {t} ORDER BY id")
            out[t] = [tuple(r) for r in await cur.fetchall()]
        return out


async def _second_db(db_url: str, tmp_path: Path) -> AsyncIterator[str]:  # noqa: F811
    if "://" not in db_url:
        yield str(tmp_path / "plain.db")
        return
    import psycopg

    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield _with_schema(PG_URL, schema)
    finally:
        async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_fast_record_path_writes_the_rows_of_the_plain_path(
    db_url: str, tmp_path: Path  # noqa: F811
) -> None:
    async for plain_db in _second_db(db_url, tmp_path):
        fast = await _crawl(db_url, grouped=True)
        plain = await _crawl(plain_db, grouped=False)
        assert fast == plain
        if "://" not in db_url:  # the failing record was reported to its caller
            assert ("error", "StoreError") in fast
        assert any(getattr(o, "new_hit", False) for o in fast)
        a, b = await _rows(db_url), await _rows(plain_db)
        for table in TABLES:
            assert a[table] == b[table], table
        assert len(a["pages"]) > 40 and len(a["entities"]) > 40 and len(a["hits"]) > 10
        assert any(r[4] == "carried_forward" for r in a["audit"])


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


@pytest.mark.parametrize("seed", range(4))
def test_headers_json_is_the_encoders_text(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        headers = {_random_text(rng): _random_text(rng) for _ in range(rng.randrange(0, 9))}
        assert headers_json(headers) == dumps(headers)
    for odd in ({"a": 1}, {"b": None, "a": "x"}, {1: "x"}, [("a", "b")], {}):
        assert headers_json(odd) == dumps(odd)
