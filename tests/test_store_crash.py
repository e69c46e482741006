"""A result reported as recorded survives kill -9 (group commit must not answer before COMMIT)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from storage import open_store
from tests.test_store import db_url, evaluation, phone, seeds  # noqa: F401  (fixture)

RECORDER = """
import asyncio, hashlib, os, socket, sys
from crawler.models import Document, Entity, Evaluation, FetchResult, Indicator, Outcome, Reason
from crawler.models import Span, utcnow
from storage import open_store

async def main():
    worker = f"{socket.gethostname()}:{os.getpid()}:0"
    async with open_store(sys.argv[1]) as store:
        span = Span("body", 0, 4, "text", "some text here")
        ind = Indicator("handler.rule", 1, "handler", "strong", 5.0, "A rule", (span,))
        ev = Evaluation(score=5.0, priority="high", indicators=(ind,), ruleset_version="v1")
        phone = Entity("phone", "+4915100000001", Span("contact", 0, 5, "12345", "call 12345"))

        async def one(claim):
            body = f"page {claim.url} ".encode() * 200
            result = FetchResult(
                url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="",
                fetched_at=utcnow(), final_url=claim.url, status=200, content_type="text/html",
                body=body, sha256=hashlib.sha256(body).hexdigest())
            doc = Document(url=claim.url, title="t", body=body.decode())
            flagged = claim.url_id % 2 == 0
            out = await store.record_result(claim, worker, result, doc, ev if flagged else None,
                                            (phone,), evidence={"file": "f.warc.gz",
                                                                "offset": claim.url_id})
            print(f"recorded {claim.url_id} {out.page_id} {out.hit_id}", flush=True)

        while claims := await store.claim(worker, 16, 600):
            await asyncio.gather(*(one(c) for c in claims))
        print("all done", flush=True)

asyncio.run(main())
"""


async def test_a_result_reported_recorded_survives_kill_9(db_url: str) -> None:  # noqa: F811
    urls = [f"https://a.example/{i}" for i in range(400)]
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(urls), [])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RECORDER, db_url, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    reported: dict[int, tuple[str, str]] = {}
    try:
        while len(reported) < 100:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line.startswith("recorded "), line
            _, uid, pid, hid = line.split()
            reported[int(uid)] = (pid, hid)
        proc.kill()  # SIGKILL right after a report: records in flight are lost, reported are not
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    async with open_store(db_url) as store:
        by_id = {u.url_id: u for u in await store.list_urls()}
        hits = await store.list_hits(status=None)
        pages = {p.page_id: p for p in await store.iter_page_features(limit=10_000)}
        evidence = {e.page_id: e for e in await store.list_evidence()}
    assert len(reported) >= 100
    for url_id, (page_id, hit_id) in reported.items():
        assert by_id[url_id].state == "done", f"url {url_id} was reported recorded, then lost"
        page = pages[int(page_id)]
        assert page.url_id == url_id and [e["value"] for e in page.entities] == ["+4915100000001"]
        assert evidence[int(page_id)].offset == url_id
        assert (hit_id != "None") == (url_id % 2 == 0)
    hit_keys = [(h.url, h.content_sha256) for h in hits]
    assert len(hit_keys) == len(set(hit_keys)), "a hit was written twice"
    assert {h.hit_id for h in hits} >= {int(h) for _, h in reported.values() if h != "None"}
    # nothing half-written: every done URL has its page, every page a done URL
    done = {u for u, r in by_id.items() if r.state == "done"}
    assert {p.url_id for p in pages.values()} == done


async def test_evidence_keyword_stores_the_warc_location(db_url: str) -> None:  # noqa: F811
    from tests.test_store import fetched

    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/1"]), [])
        [claim] = await store.claim("w1", 1, 60)
        ref = {"file": "t.warc.gz", "offset": 10, "length": 99, "record_sha256": "ab" * 32}
        out = await store.record_result(claim, "w1", fetched(claim, b"one"), None, evaluation(),
                                        (), evidence=ref)
        refs = {e.page_id: e for e in await store.list_evidence()}
        hits = {h.page_id: h for h in await store.list_hits(status=None)}
    assert out.page_id is not None
    e = refs[out.page_id]
    assert (e.file, e.offset, e.length, e.record_sha256) == ("t.warc.gz", 10, 99, "ab" * 32)
    assert hits[out.page_id].extra["warc"]["warc_offset"] == 10


async def test_concurrent_records_each_get_their_own_outcome(db_url: str) -> None:  # noqa: F811
    """Group commit: many concurrent callers, one of them no longer holds its lease."""
    from tests.test_store import fetched

    urls = [f"https://a.example/{i}" for i in range(50)]
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(urls), [])
        claims = await store.claim("w1", 50, 60)
        await store.release("w1", [claims[7].url_id])  # w1 lost this one

        async def one(c: Any) -> Any:
            ev = evaluation() if c.url_id % 3 == 0 else None
            return await store.record_result(c, "w1", fetched(c, c.url.encode()), None, ev,
                                             (phone(),))

        outcomes = await asyncio.gather(*(one(c) for c in claims))
        states = {u.url_id: u.state for u in await store.list_urls()}
        hits = {h.page_id: h for h in await store.list_hits(status=None)}
    for c, out in zip(claims, outcomes, strict=True):
        if c is claims[7]:
            assert out.page_id is None and states[c.url_id] == "queued"
            continue
        assert out.page_id is not None and states[c.url_id] == "done"
        assert (out.hit_id is not None) == (c.url_id % 3 == 0) == out.new_hit
        if out.hit_id is not None:
            assert hits[out.page_id].hit_id == out.hit_id and hits[out.page_id].url == c.url


async def test_entities_keep_their_order_and_a_lost_lease_writes_nothing(
    db_url: str,  # noqa: F811
) -> None:
    from crawler.models import Entity, Span
    from tests.test_store import fetched

    ents = tuple(
        Entity("phone", f"+49151000000{i:02d}", Span("contact", i, i + 3, "abc", "x abc y"))
        for i in (5, 1, 9, 3)
    )
    async with open_store(db_url) as store:
        await store.add_batch("a", "x", seeds(["https://a.example/1", "https://a.example/2"]), [])
        first, second = await store.claim("w1", 2, 60)
        out = await store.record_result(first, "w1", fetched(first, b"one"), None, None, ents)
        lost = await store.record_result(second, "w2", fetched(second, b"two"), None,
                                         evaluation(), ents)
        [page] = await store.iter_page_features()
        states = {u.url: u.state for u in await store.list_urls()}
    assert out.page_id == page.page_id and lost.page_id is None and lost.hit_id is None
    assert [e["value"] for e in page.entities] == [e.value for e in ents]
    assert [e["evidence"]["start"] for e in page.entities] == [5, 1, 9, 3]
    assert states == {"https://a.example/1": "done", "https://a.example/2": "fetching"}


async def test_close_commits_results_already_handed_in(tmp_path: Path) -> None:
    """SQLite's group commit: close() writes what callers already handed in."""
    from tests.test_store import fetched

    db = str(tmp_path / "t.db")
    urls = [f"https://a.example/{i}" for i in range(30)]
    store = open_store(db)
    await store.open()
    await store.add_batch("a", "x", seeds(urls), [])
    claims = await store.claim("w1", 30, 60)
    tasks = [asyncio.create_task(store.record_result(c, "w1", fetched(c, b"x"), None, None, ()))
             for c in claims]
    await asyncio.sleep(0)  # every task has handed its result in
    await store.close()
    outcomes = await asyncio.gather(*tasks)
    assert all(o.page_id is not None for o in outcomes)
    async with open_store(db) as again:
        assert (await again.counts())["done"] == 30
