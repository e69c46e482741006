"""CPU per page of extraction and entity finding, current code vs a baseline commit, one process.

    python bench/extract_bench.py [--pages 300] [--rounds 5] [--baseline REV] [--profile]

Renders bench/site.py pages (~25 KB HTML, ~100 anchors, a contact block) and runs
`crawler.extract.extract` and `crawler.entities.extract_entities` on them with the working tree's
code and with the code of commit REV (default: the commit before the extraction speed work),
loaded side by side from `git archive` as a renamed package. Rounds alternate (A B A B ...);
each figure is the best round's CPU time (time.process_time) per page, so other processes on a
shared machine disturb it least. Before timing, every page's Document and entities are compared
field by field between the two versions: a difference is printed and the exit status is 1.
A third row times the current code with `links=False` (what the crawl passes at follow depth 0),
checked to be the baseline's Document without links (and without a "links capped" warning).
`--profile` runs cProfile over the current code instead and prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import importlib
import io
import pstats
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.site import SiteContent

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "bba9094"  # main before the extraction/entities speed work (2026-11-28)
BASE_PKG = "crawler_baseline"
_IMPORT = re.compile(r"\b(from|import) crawler(?=[ .])")


def load_baseline(rev: str, into: Path) -> tuple[ModuleType, ModuleType]:
    """(extract module, entities module) of commit `rev`, imported as package crawler_baseline."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "crawler"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "crawler").rename(into / BASE_PKG)
    for path in (into / BASE_PKG).rglob("*.py"):
        path.write_text(_IMPORT.sub(rf"\1 {BASE_PKG}", path.read_text()))
    sys.path.insert(0, str(into))
    return (importlib.import_module(f"{BASE_PKG}.extract"),
            importlib.import_module(f"{BASE_PKG}.entities"))  # fmt: skip


def _fields(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return tuple(_fields(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, list | tuple):
        return tuple(_fields(x) for x in obj)
    return obj


def _url(i: int) -> str:
    return f"http://127.0.0.1:8765/ad/{i}"


def run_extract(mod: ModuleType, pages: list[bytes], **kw: bool) -> list[Any]:
    return [mod.extract(p, url=_url(i), content_type="text/html", charset="utf-8", **kw)
            for i, p in enumerate(pages)]  # fmt: skip


def _without_links(doc: Any) -> Any:
    kept = tuple(w for w in doc.warnings if not w.startswith("links capped at "))
    return dataclasses.replace(doc, links=(), warnings=kept)


def run_entities(mod: ModuleType, docs: list[Any]) -> list[Any]:
    return [mod.extract_entities(d) for d in docs]


def cpu_ms_per_page(fn: Callable[[], object], pages: int) -> float:
    started = time.process_time()
    fn()
    return (time.process_time() - started) * 1000 / pages


def compare(
    pages: list[bytes], cur: tuple[ModuleType, ModuleType], base: tuple[ModuleType, ModuleType]
) -> int:
    docs_c, docs_b = run_extract(cur[0], pages), run_extract(base[0], pages)
    ents_c, ents_b = run_entities(cur[1], docs_c), run_entities(base[1], docs_b)
    bare = run_extract(cur[0], pages, links=False)
    bad = 0
    for i in range(len(pages)):
        if _fields(bare[i]) != _fields(_without_links(docs_b[i])):
            bad += 1
            print(f"page {i}: links=False Document differs from the baseline's", file=sys.stderr)
        if _fields(docs_c[i]) != _fields(docs_b[i]):
            bad += 1
            print(f"page {i}: Document differs from the baseline", file=sys.stderr)
        if _fields(ents_c[i]) != _fields(ents_b[i]):
            bad += 1
            print(f"page {i}: entities differ from the baseline", file=sys.stderr)
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--profile", action="store_true", help="cProfile the current code")
    args = parser.parse_args(argv)

    import crawler.entities
    import crawler.extract

    site = SiteContent(max(args.pages, 1))
    pages = [site.page(i) for i in range(args.pages)]
    cur = (crawler.extract, crawler.entities)
    if args.profile:
        docs = run_extract(cur[0], pages)
        run_entities(cur[1], docs[:5])  # one-time set-up (lazily built patterns) not profiled
        prof = cProfile.Profile()
        prof.runcall(run_extract, cur[0], pages)
        prof.runcall(run_entities, cur[1], docs)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = load_baseline(args.baseline, Path(tmp))
        bad = compare(pages, cur, base)
        verdict = "outputs IDENTICAL to the baseline" if not bad else f"{bad} DIFFERENCES"
        print(f"{len(pages)} bench pages ({sum(map(len, pages)) // len(pages)} bytes each): "
              f"{verdict}")
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for label, (ex_mod, en_mod) in (("baseline", base), ("current", cur)):
                docs = run_extract(ex_mod, pages)  # the Documents entities run on
                ms_x = cpu_ms_per_page(partial(run_extract, ex_mod, pages), len(pages))
                ms_e = cpu_ms_per_page(partial(run_entities, en_mod, docs), len(pages))
                best[f"{label} extract"] = min(best.get(f"{label} extract", 1e9), ms_x)
                best[f"{label} entities"] = min(best.get(f"{label} entities", 1e9), ms_e)
            ms_n = cpu_ms_per_page(partial(run_extract, cur[0], pages, links=False), len(pages))
            best["no-links"] = min(best.get("no-links", 1e9), ms_n)
    print(f"CPU ms/page, best of {args.rounds} alternating rounds (baseline = {args.baseline}):")
    print(f"{'stage':10s} {'baseline':>9s} {'current':>9s} {'speed-up':>9s}")
    for stage in ("extract", "entities"):
        b, c = best[f"baseline {stage}"], best[f"current {stage}"]
        print(f"{stage:10s} {b:9.3f} {c:9.3f} {b / c:8.2f}x")
    b, c = best["baseline extract"], best["no-links"]
    print(f"{'extract, links=False':20s} {c:9.3f} {b / c:8.2f}x (vs the baseline's extract)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
