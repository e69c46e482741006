"""`triage rescan` throughput: stored pages re-evaluated with the shipped rule packs, per core.

    python bench/rescan_bench.py [--pages 10000] [--rules DIR] [--json OUT]

Fills a fresh SQLite store with N synthetic ad pages (bench/site.py content, extracted by
crawler.extract when present, else selectolax; entities by crawler.entities), then runs
crawler.rescan.rescan once (new rule set: every flagged page gets a hit) and again (nothing new).
Prints pages/s (wall) and pages per CPU-second (= pages/s per core: rescan runs on one core),
plus evaluate-only throughput on the same Documents in memory, to show where time goes.
Target: >= 3,000 pages/s per core.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine
from bench.site import SiteContent
from crawler.models import Document, Entity, FetchResult, Outcome, Reason, Seed, utcnow

TARGET = 3000.0


def _extractor() -> Callable[[str, bytes], Document]:
    """crawler.extract.extract when present, else a selectolax stand-in."""
    try:
        from crawler.extract import extract
    except ImportError:
        return _selectolax_document

    def via_extract(url: str, body: bytes) -> Document:
        return extract(body, url=url, content_type="text/html", charset="utf-8")

    return via_extract


def _selectolax_document(url: str, body: bytes) -> Document:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body)
    title = tree.css_first("title")
    contact = tree.css_first("section.contact")
    return Document(
        url=url, title=title.text() if title else "",
        body=tree.body.text(separator="\n") if tree.body else "",
        contact=contact.text(separator="\n") if contact else "",
    )


def _entities(doc: Document) -> list[Entity]:
    try:
        from crawler.entities import extract_entities
    except ImportError:
        return []
    return list(extract_entities(doc))


async def populate(db: Path, pages: int) -> tuple[float, list[Document]]:
    from storage import open_store

    content = SiteContent(pages)
    extract = _extractor()
    t0 = time.perf_counter()
    docs: list[Document] = []
    async with open_store(db) as store:
        seeds = [Seed(url=f"https://ads.example/ad/{i}", source="bench", line=i + 1)
                 for i in range(pages)]
        await store.add_batch("bench", "0" * 64, seeds, [])
        while claims := await store.claim("bench", 500, 600):
            for claim in claims:
                i = int(claim.url.rsplit("/", 1)[1])
                body = content.page(i)
                doc = extract(claim.url, body)
                docs.append(doc)
                result = FetchResult(
                    url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="ok",
                    fetched_at=utcnow(), final_url=claim.url, status=200,
                    content_type="text/html", body=body,
                    sha256=hashlib.sha256(body).hexdigest(),
                )
                await store.record_result(claim, "bench", result, doc, None, _entities(doc))
    return time.perf_counter() - t0, docs


async def measure(db: Path, rules: Path | None) -> dict[str, Any]:
    from crawler.rescan import rescan
    from crawler.rules import load_ruleset
    from storage import open_store

    ruleset = load_ruleset(rules)
    async with open_store(db) as store:
        first = await rescan(store, ruleset)
        second = await rescan(store, ruleset)
    return {"ruleset_version": ruleset.version, "rules": len(ruleset),
            "first": first.to_json(), "second": second.to_json()}


def evaluate_only(docs: list[Document], rules: Path | None) -> float:
    from crawler.rules import load_ruleset

    ruleset = load_ruleset(rules)
    c0 = time.process_time()
    for doc in docs:
        ruleset.evaluate(doc)
    cpu = time.process_time() - c0
    return len(docs) / cpu if cpu > 0 else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--rules", type=Path, default=None)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rescan.db"
        fill_s, docs = asyncio.run(populate(db, args.pages))
        out = asyncio.run(measure(db, args.rules))
    out["populate_s"] = round(fill_s, 2)
    out["evaluate_only_pages_per_cpu_s"] = round(evaluate_only(docs, args.rules), 1)
    out["pages"] = args.pages
    first, second = out["first"], out["second"]
    per_core = first["pages_per_cpu_second"]
    print(f"rescan_bench: {args.pages} stored pages, {out['rules']} rules "
          f"(rule set {out['ruleset_version']}), {machine()}")
    print(f"  store filled in {fill_s:.1f} s")
    print(f"  first rescan : {first['pages_per_second']:.0f} pages/s wall, "
          f"{per_core:.0f} pages/s per core (CPU), {first['new_hits']} new hits of "
          f"{first['flagged']} flagged")
    print(f"  second rescan: {second['pages_per_second']:.0f} pages/s wall, "
          f"{second['pages_per_cpu_second']:.0f} per core, {second['new_hits']} new hits")
    print(f"  evaluate only (in memory): {out['evaluate_only_pages_per_cpu_s']:.0f} "
          "pages/s per core")
    verdict = "MET" if per_core >= TARGET else "NOT MET"
    print(f"  target >= {TARGET:.0f} pages/s per core: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
