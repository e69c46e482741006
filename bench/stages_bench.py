"""Where one page's CPU goes in the pipeline, stage by stage, in one process (no network).

    python bench/stages_bench.py [--pages 2000] [--json OUT]

Renders N synthetic ad pages (bench/site.py), then runs the pipeline's analysis stages on them in
the order `crawler.pipeline.Pipeline` does — extract, entities, network hook, rules, store
(`record_result` into a real SQLite file) — and prints CPU ms per page for each stage, plus the
fixed start-up costs a `triage crawl` pays once (imports, loading the shipped rule packs, opening
the network state). Fetching is measured by bench/crawl_compare.py (against the bare loop).
CPU is `time.process_time()` (this process, all threads: the store's SQLite thread included).
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

from bench.harness import machine
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


async def run(pages: int) -> dict[str, Any]:
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
                for claim in claims:
                    body = bodies[int(claim.url.rsplit("/", 1)[1])]
                    with clock.stage("extract"):
                        # links=False: what Pipeline does at follow depth 0 (crawl_compare)
                        doc = extract(body, url=claim.url, content_type="text/html",
                                      charset="utf-8", links=False)
                    with clock.stage("entities"):
                        entities = extract_entities(doc)
                    with clock.stage("network hook"):
                        extra, linked = await hook(doc, entities)
                    with clock.stage("rules"):
                        evaluation = rules.evaluate(
                            doc, entities, extra_indicators=extra,
                            linked_to_flagged_network=linked,
                        )
                    flagged += evaluation.flagged
                    with clock.stage("store: record_result"):
                        result = FetchResult(
                            url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK,
                            detail="ok", fetched_at=utcnow(), final_url=claim.url, status=200,
                            content_type="text/html", body=body,
                            sha256=hashlib.sha256(body).hexdigest(),
                        )
                        await store.record_result(claim, "bench", result, doc, evaluation,
                                                  entities)
    return {"pages": pages, "page_bytes": round(size), "flagged": flagged,
            "cpu_s": {k: round(v, 4) for k, v in clock.cpu.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    out = asyncio.run(run(args.pages))
    pages = out["pages"]
    print(f"stages_bench: {pages} synthetic pages (~{out['page_bytes'] / 1024:.0f} KB HTML), "
          f"{out['flagged']} flagged, {machine()}")
    per_page = 0.0
    for name, cpu in out["cpu_s"].items():
        if name.startswith("start"):
            print(f"  {name:<24} {cpu * 1000:8.1f} ms once")
        else:
            per_page += cpu
            print(f"  {name:<24} {cpu * 1000 / pages:8.3f} ms/page")
    print(f"  {'analysis + store':<24} {per_page * 1000 / pages:8.3f} ms/page "
          "(fetching not included: see crawl_compare)")
    out["analysis_store_ms_per_page"] = round(per_page * 1000 / pages, 3)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
