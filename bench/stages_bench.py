"""Where one page's CPU goes in the pipeline, stage by stage, in one process (no network).

    python bench/stages_bench.py [--pages 2000] [--json OUT]

Renders N synthetic ad pages (bench/site.py), then runs the pipeline's analysis stages on them in
the order `crawler.pipeline.Pipeline` does — extract, entities, network hook, rules, store
(`record_result` into a real SQLite file) — and prints CPU ms per page for each stage, plus the
fixed start-up costs a `triage crawl` pays once (imports, loading the shipped rule packs, opening
the network state). Fetching is measured by bench/crawl_compare.py (against the bare loop).
CPU is `time.process_time()` (this process, all threads: the store's SQLite thread included).

Each figure is taken twice, each in a fresh child process with a fresh store (no cache warmed by
the other pass): pages one at a time (every network hook and `record_result` is its own store
transaction) and `--group` pages at once (default 16: the pages' hooks and records run
concurrently and share transactions, as they do in a crawl with many fetches in flight; a
2,000-page crawl at concurrency 64 flushed 21-31 pages per transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import machine, run_child
from bench.site import SiteContent


class Clock:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        c0 = time.process_time()
        try:
            yield
        finally:
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c0


async def run(pages: int, group: int = 1) -> dict[str, Any]:
    """The stages over `pages` pages, `group` pages at a time (hooks and records concurrent)."""
    clock = Clock()
    with clock.stage("start: import"):
        from crawler.entities import extract_entities
        from crawler.extract import extract
        from crawler.models import FetchResult, Outcome, Reason, Seed, utcnow
        from crawler.networks import StoreNetwork
        from crawler.rules import RuleHolder
        from storage import open_store
    with clock.stage("start: load rules"):
        rules = RuleHolder(None).current
    content = SiteContent(pages)
    bodies = [content.page(i) for i in range(pages)]
    size = sum(len(b) for b in bodies) / pages
    with tempfile.TemporaryDirectory() as tmp:
        async with open_store(str(Path(tmp) / "stages.db")) as store:
            seeds = [Seed(url=f"https://ads.example/ad/{i}", source="bench", line=i + 1)
                     for i in range(pages)]
            await store.add_batch("bench", "0" * 64, seeds, [])
            with clock.stage("start: network state"):
                network = await StoreNetwork.open(store)  # as triage crawl does
                hook: Callable[..., Any] = network.hook()
            flagged = 0
            while claims := await store.claim("bench", 256, 600):
                for at in range(0, len(claims), group):
                    chunk = claims[at:at + group]
                    chunk_bodies = [bodies[int(c.url.rsplit("/", 1)[1])] for c in chunk]
                    with clock.stage("extract"):
                        # links=False: what Pipeline does at follow depth 0 (crawl_compare)
                        docs = [extract(body, url=claim.url, content_type="text/html",
                                        charset="utf-8", links=False)
                                for claim, body in zip(chunk, chunk_bodies, strict=True)]
                    with clock.stage("entities"):
                        found = [extract_entities(doc) for doc in docs]
                    with clock.stage("network hook"):
                        hooked = await asyncio.gather(
                            *(hook(doc, ents) for doc, ents in zip(docs, found, strict=True)))
                    with clock.stage("rules"):
                        evaluations = [
                            rules.evaluate(doc, ents, extra_indicators=extra,
                                           linked_to_flagged_network=linked)
                            for doc, ents, (extra, linked) in zip(docs, found, hooked, strict=True)
                        ]
                    flagged += sum(e.flagged for e in evaluations)
                    with clock.stage("store: record_result"):
                        records = []
                        for claim, body, doc, evaluation, ents in zip(
                            chunk, chunk_bodies, docs, evaluations, found, strict=True
                        ):
                            result = FetchResult(
                                url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK,
                                detail="ok", fetched_at=utcnow(), final_url=claim.url,
                                status=200, content_type="text/html", body=body,
                                sha256=hashlib.sha256(body).hexdigest(),
                            )
                            records.append(store.record_result(claim, "bench", result, doc,
                                                               evaluation, ents))
                        await asyncio.gather(*records)
    return {"pages": pages, "group": group, "page_bytes": round(size), "flagged": flagged,
            "cpu_s": {k: round(v, 4) for k, v in clock.cpu.items()}}


def _child_pass(pages: int, group: int) -> dict[str, Any]:
    done = run_child([sys.executable, str(Path(__file__).resolve()), "--pages", str(pages),
                      "--one-pass", str(group)], timeout_s=max(120.0, pages / 20))
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise SystemExit(f"stages_bench: the pass with {group} page(s) at once failed "
                         f"(exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--group", type=int, default=16,
                        help="pages analysed at once in the second pass (hooks and records "
                             "concurrent, sharing store transactions as in a crawl)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one-pass", type=int, metavar="GROUP", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.pages, args.group, args.one_pass or 1) < 1:
        parser.error("--pages and --group must be at least 1")
    if args.one_pass is not None:  # a child: one pass, its figures as JSON on stdout
        print(json.dumps(asyncio.run(run(args.pages, args.one_pass))))
        return 0
    single, grouped = (_child_pass(args.pages, g) for g in (1, args.group))
    pages = single["pages"]
    print(f"stages_bench: {pages} synthetic pages (~{single['page_bytes'] / 1024:.0f} KB HTML), "
          f"{single['flagged']} flagged, {machine()}")
    head = f"{args.group} at once"
    print(f"  {'':<24} {'one at a time':>14} {head:>14}")
    totals = [0.0, 0.0]
    for name, cpu in single["cpu_s"].items():
        other = grouped["cpu_s"].get(name, 0.0)
        if name.startswith("start"):
            print(f"  {name:<24} {cpu * 1000:11.1f} ms {other * 1000:11.1f} ms  (once)")
        else:
            totals[0] += cpu
            totals[1] += other
            print(f"  {name:<24} {cpu * 1000 / pages:8.3f} ms/pg {other * 1000 / pages:8.3f} ms/pg")
    print(f"  {'analysis + store':<24} {totals[0] * 1000 / pages:8.3f} ms/pg "
          f"{totals[1] * 1000 / pages:8.3f} ms/pg  (fetching not included: see crawl_compare)")
    out = {**single, "analysis_store_ms_per_page": round(totals[0] * 1000 / pages, 3),
           "grouped": {**grouped,
                       "analysis_store_ms_per_page": round(totals[1] * 1000 / pages, 3)}}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
