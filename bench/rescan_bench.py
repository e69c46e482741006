"""`triage rescan` throughput: stored pages re-evaluated with the shipped rule packs, per core.

    python bench/rescan_bench.py [--pages 10000] [--rules DIR] [--json OUT] [--base REV]

Fills a fresh SQLite store with N synthetic ad pages (bench/site.py content, extracted by
crawler.extract when present, else selectolax; entities by crawler.entities), then runs
crawler.rescan.rescan once (new rule set: every flagged page gets a hit) and again (nothing new).
Prints pages/s (wall) and pages per CPU-second (= pages/s per core: rescan runs on one core),
plus evaluate-only throughput on the same Documents in memory, to show where time goes, and the
store I/O alone: rescan with a stand-in rule set that returns the real rule set's evaluations
from a dict (reading, Document building, writing hits; ~no rule cost), in a child process, first
pass (writes every hit) and second pass (writes nothing). With `--base REV` the same I/O-only
run also uses `storage/` and `crawler/rescan.py` of git revision REV (before/after, same command).
Target: >= 3,000 pages/s per core (store I/O <= ~0.08 ms per page).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import json
import pickle
import shutil
import subprocess
import sys
import tarfile
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
ROOT = Path(__file__).resolve().parent.parent


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


class _Replay:
    """A rule set that answers with evaluations computed beforehand (no rule cost)."""

    def __init__(self, version: str, by_url: dict[str, Any]) -> None:
        self.version = version
        self.by_url = by_url

    def evaluate(self, doc: Document, entities: Any = ()) -> Any:
        return self.by_url[doc.url]


def replay_data(docs: list[Document], rules: Path | None, out: Path) -> None:
    from crawler.rules import load_ruleset

    ruleset = load_ruleset(rules)
    by_url = {d.url: ruleset.evaluate(d, _entities(d)) for d in docs}
    out.write_bytes(pickle.dumps((ruleset.version + "-replay", by_url)))


async def io_only(rescan_py: Path, db: Path, data: bytes) -> dict[str, Any]:
    """Child: rescan twice with the replaying rule set; CPU ms per page of each pass."""
    from storage import open_store

    spec = importlib.util.spec_from_file_location("rescan_under_test", rescan_py)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    version, by_url = pickle.loads(data)
    replay = _Replay(version, by_url)
    out: dict[str, Any] = {}
    async with open_store(db) as store:
        for name in ("first", "second"):
            report = await module.rescan(store, replay)
            out[name] = {"ms_per_page": 1000 * report.cpu_seconds / max(1, report.rescanned),
                         "new_hits": report.new_hits, "rescanned": report.rescanned}
    return out


def export_base(rev: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    tar = dest / "base.tar"
    with tar.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "storage", "crawler/rescan.py"],
                       stdout=fh, check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(dest, filter="data")
    # the schema of this tree (migrations added since), so both sides write the same tables
    shutil.copytree(ROOT / "storage" / "migrations", dest / "storage" / "migrations",
                    dirs_exist_ok=True)
    return dest


def run_io_child(root: Path, db: Path, data: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--io-child", str(root),
           "--io-db", str(db), "--io-data", str(data)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"I/O child failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--rules", type=Path, default=None)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--base", help="also measure store I/O with storage/ of this git rev")
    parser.add_argument("--io-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--io-db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--io-data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.io_child is not None:
        sys.path.insert(0, str(args.io_child))
        rescan_py = args.io_child / "crawler" / "rescan.py"
        print(json.dumps(asyncio.run(io_only(rescan_py, args.io_db, args.io_data.read_bytes()))))
        return 0
    io: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rescan.db"
        fill_s, docs = asyncio.run(populate(db, args.pages))
        data = Path(tmp) / "replay.pickle"
        replay_data(docs, args.rules, data)
        trees = {"this": ROOT}
        if args.base:
            trees["base"] = export_base(args.base, Path(tmp) / "base")
        for name, root in trees.items():
            copy = Path(tmp) / f"io-{name}.db"
            shutil.copy(db, copy)
            io[name] = run_io_child(root, copy, data)
        out = asyncio.run(measure(db, args.rules))
    out["io_only"] = io
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
    for name, res in io.items():
        label = "this tree" if name == "this" else f"storage/ at {args.base}"
        print(f"  store I/O only ({label}): first pass {res['first']['ms_per_page']:.3f} ms/page "
              f"({res['first']['new_hits']} hits written), second "
              f"{res['second']['ms_per_page']:.3f} ms/page")
    if "base" in io:
        for name in ("first", "second"):
            ratio = io["this"][name]["ms_per_page"] / io["base"][name]["ms_per_page"]
            print(f"  store I/O {name} pass: this/base = {ratio:.2f}x")
    verdict = "MET" if per_core >= TARGET else "NOT MET"
    print(f"  target >= {TARGET:.0f} pages/s per core: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
