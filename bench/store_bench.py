"""Store cost per page: claim + record_result on realistic pages, this tree against a baseline.

    python bench/store_bench.py [--pages 1000] [--rounds 3] [--concurrency 64] [--base REV]
                                [--db-url postgresql://...]

Prepares N synthetic ad pages once (bench/site.py HTML, extracted by crawler.extract, entities
by crawler.entities, evaluated with the shipped rule packs: about one in five is flagged and
gets a WARC location as evidence). Each round runs two child processes on a fresh SQLite file,
one with the `storage` package of git revision REV (default: the commit before the group-commit
work) and one with this tree's: the child claims `--concurrency` URLs at a time and records
them concurrently (like `triage crawl`'s workers), then the same again one by one. CPU is the
child's process time (all its threads, the SQLite thread included) over the claim+record loop
only. Rounds alternate A B A B; medians and the ratio are printed. `--db-url` runs against
PostgreSQL instead (a fresh schema per run, dropped afterwards): CPU is then the client's only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import pickle
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

BASE_REV = "bba9094"  # storage before group commit / one hop per transaction


def prepare(pages: int, out: Path) -> dict[str, int]:
    from bench.site import SiteContent
    from crawler.entities import extract_entities
    from crawler.extract import extract
    from crawler.rules import load_ruleset

    ruleset = load_ruleset(None)
    content = SiteContent(pages)
    items = []
    flagged = ents = 0
    for i in range(pages):
        url = f"https://ads.example/ad/{i}"
        body = content.page(i)
        doc = extract(body, url=url, content_type="text/html", charset="utf-8")
        entities = extract_entities(doc)
        ev = ruleset.evaluate(doc, entities)
        flagged += ev.flagged
        ents += len(entities)
        items.append((url, body, doc, tuple(entities), ev))
    out.write_bytes(pickle.dumps(items))
    return {"pages": pages, "flagged": flagged, "entities": ents}


async def _record(store: Any, takes_evidence: bool, item: Any, claim: Any) -> Any:
    from crawler.models import FetchResult, Outcome, Reason, utcnow

    url, body, doc, entities, ev = item
    evidence = None
    headers = {"content-type": "text/html; charset=utf-8"}
    if ev.flagged:
        evidence = {"file": "triage-bench.warc.gz", "offset": claim.url_id * 4096,
                    "length": 4000, "record_sha256": "ab" * 32}
        if not takes_evidence:
            headers.update({f"x-triage-warc-{k}": str(v) for k, v in evidence.items()})
    result = FetchResult(
        url=url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="ok",
        fetched_at=utcnow(), final_url=url, status=200, headers=headers,
        content_type="text/html", body=body, sha256=hashlib.sha256(body).hexdigest(),
    )
    kw = {"evidence": evidence} if takes_evidence else {}
    return await store.record_result(claim, "bench", result, doc, ev, entities, **kw)


async def _pg_schema(url: str, name: str, drop: bool) -> str:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA {name} CASCADE" if drop else f"CREATE SCHEMA {name}")
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{name}"


async def child_run(
    items: list[Any], db: Path, concurrency: int, db_url: str | None = None
) -> dict[str, Any]:
    import storage
    from crawler.models import Seed
    from storage import open_store

    by_url = {it[0]: it for it in items}
    out: dict[str, Any] = {"storage": str(Path(storage.__file__).parent)}
    for mode, conc in (("concurrent", concurrency), ("sequential", 1)):
        schema = f"store_bench_{db.name}_{mode}"
        target = (await _pg_schema(db_url, schema, drop=False) if db_url
                  else str(db.with_suffix(f".{mode}.db")))
        async with open_store(target) as store:
            takes_evidence = "evidence" in inspect.signature(store.record_result).parameters
            seeds = [Seed(url=u, source="bench", line=i + 1) for i, u in enumerate(by_url)]
            await store.add_batch("bench", "0" * 64, seeds, [])

            c0, t0 = time.process_time(), time.perf_counter()
            n = hits = 0
            while claims := await store.claim("bench", conc, 600):
                outcomes = await asyncio.gather(
                    *(_record(store, takes_evidence, by_url[c.url], c) for c in claims)
                )
                n += len(outcomes)
                hits += sum(1 for o in outcomes if o.new_hit)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            counts = await store.counts()
        if db_url:
            await _pg_schema(db_url, schema, drop=True)
        out[mode] = {"pages": n, "new_hits": hits, "cpu_ms_per_page": 1000 * cpu / n,
                     "wall_ms_per_page": 1000 * wall / n, "done": counts["done"]}
    return out


def export_base(rev: str, dest: Path) -> Path:
    """`storage/` as it was at `rev`, in dest/ (git archive: the working tree is untouched)."""
    dest.mkdir(parents=True, exist_ok=True)
    tar = dest / "base.tar"
    with tar.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "storage"], stdout=fh,
                       check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(dest, filter="data")
    # the schema of this tree (migrations added since), so both sides write the same tables
    shutil.copytree(ROOT / "storage" / "migrations", dest / "storage" / "migrations",
                    dirs_exist_ok=True)
    return dest


def run_child(
    storage_root: Path | None, data: Path, db: Path, concurrency: int, db_url: str | None
) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--data", str(data),
           "--db", str(db), "--concurrency", str(concurrency)]
    if db_url:
        cmd += ["--db-url", db_url]
    if storage_root is not None:
        cmd += ["--storage-root", str(storage_root)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--base", default=BASE_REV, help="git revision of the baseline storage/")
    parser.add_argument("--db-url", help="PostgreSQL URL (default: SQLite files)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--storage-root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.storage_root is not None:
            sys.path.insert(0, str(args.storage_root))
        items = pickle.loads(args.data.read_bytes())
        print(json.dumps(asyncio.run(child_run(items, args.db, args.concurrency,
                                                args.db_url))))
        return 0
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp_s:
        tmp = Path(tmp_s)
        data = tmp / "pages.pickle"
        info = prepare(args.pages, data)
        base_root = export_base(args.base, tmp / "base")
        runs: dict[str, list[dict[str, Any]]] = {"base": [], "this": []}
        for r in range(args.rounds):
            for name, root in (("base", base_root), ("this", None)):
                runs[name].append(run_child(root, data, tmp / f"{name}{r}", args.concurrency,
                                            args.db_url))
    print(f"store_bench: {info['pages']} pages ({info['flagged']} flagged, "
          f"{info['entities']} entities), {args.rounds} rounds, "
          f"{'PostgreSQL' if args.db_url else 'SQLite'}, baseline storage/ at "
          f"{args.base} ({runs['base'][0]['storage']}) vs {runs['this'][0]['storage']}")
    for mode in ("concurrent", "sequential"):
        label = f"{args.concurrency} at a time" if mode == "concurrent" else "one at a time"
        med: dict[str, float] = {}
        for name in ("base", "this"):
            cpu = [run[mode]["cpu_ms_per_page"] for run in runs[name]]
            wall = [run[mode]["wall_ms_per_page"] for run in runs[name]]
            med[name] = statistics.median(cpu)
            checks = {(run[mode]["pages"], run[mode]["done"], run[mode]["new_hits"])
                      for run in runs[name]}
            print(f"  {mode:10} {name:4}: CPU {med[name]:.3f} ms/page "
                  f"(min {min(cpu):.3f}, max {max(cpu):.3f}), wall "
                  f"{statistics.median(wall):.3f} ms/page; pages/done/new hits {sorted(checks)}")
        print(f"  {mode} ({label}): this/base CPU per page = {med['this'] / med['base']:.2f}x "
              f"({med['base'] / med['this']:.1f}x less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
