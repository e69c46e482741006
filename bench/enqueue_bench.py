"""Enqueue N seed URLs (default 1,000,000) into each backend; print seconds and peak RSS.

    .venv/bin/python bench/enqueue_bench.py                 # SQLite (+ PostgreSQL if set)
    .venv/bin/python bench/enqueue_bench.py --n 200000 --backend sqlite

PostgreSQL runs when TRIAGE_TEST_POSTGRES_URL (or TRIAGE_BENCH_POSTGRES_URL) is set; the bench uses
a private schema and drops it. Each backend runs in its own child process so peak RSS is its own.
Targets (issue 5): SQLite under 60 s and under 300 MB. The seeds are streamed to `add_batch`
(it accepts any iterable), and a second batch re-submits 10% of them to time the dedupe path.
No network: the URLs are never fetched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crawler.models import Seed  # noqa: E402
from storage import open_store  # noqa: E402


def make_seeds(n: int, start: int = 0) -> Iterator[Seed]:
    for i in range(start, start + n):
        yield Seed(url=f"https://host{i % 5000}.example/ads/{i}?ref=bench", source="bench.txt",
                   line=i + 1)


async def run_one(target: str, n: int) -> dict[str, float | int | str]:
    async with open_store(target) as store:
        t0 = time.perf_counter()
        first = await store.add_batch("bench.txt", "0" * 64, make_seeds(n), [])
        t1 = time.perf_counter()
        again = await store.add_batch("bench2.txt", "1" * 64, make_seeds(n // 10), [])
        t2 = time.perf_counter()
        claimed = await store.claim("bench:0:0", 1000, 60)
        t3 = time.perf_counter()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "urls": n, "accepted": first.accepted, "seconds": round(t1 - t0, 2),
        "urls_per_s": round(n / (t1 - t0)), "dedupe_batch": again.duplicates,
        "dedupe_seconds": round(t2 - t1, 2), "claim_1000_ms": round((t3 - t2) * 1000, 1),
        "claimed": len(claimed), "peak_rss_mb": round(rss_mb, 1),
    }


def child(backend: str, n: int) -> None:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            out = asyncio.run(run_one(os.path.join(tmp, "bench.db"), n))
    else:
        import psycopg

        base = os.environ.get("TRIAGE_BENCH_POSTGRES_URL") or os.environ[
            "TRIAGE_TEST_POSTGRES_URL"]
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in base else "?"
        try:
            out = asyncio.run(run_one(f"{base}{sep}options=-csearch_path%3D{schema}", n))
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print(json.dumps({"backend": backend, **out}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.backend, args.n)
        return
    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    have_pg = bool(os.environ.get("TRIAGE_BENCH_POSTGRES_URL")
                   or os.environ.get("TRIAGE_TEST_POSTGRES_URL"))
    print(f"enqueue bench: {args.n:,} seed URLs per backend")
    for backend in backends:
        if backend == "postgres" and not have_pg:
            print("postgres: skipped (set TRIAGE_TEST_POSTGRES_URL or TRIAGE_BENCH_POSTGRES_URL)")
            continue
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--backend", backend, "--n", str(args.n)],
            capture_output=True, text=True, timeout=900, check=False,
        )
        if proc.returncode != 0:
            print(f"{backend}: FAILED\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        target = "  (target < 60 s, < 300 MB)" if backend == "sqlite" else ""
        print(
            f"{backend:9s} {r['urls']:,} URLs in {r['seconds']:.1f} s "
            f"({r['urls_per_s']:,}/s), peak RSS {r['peak_rss_mb']:.0f} MB{target}; "
            f"re-submitting {r['dedupe_batch']:,} known URLs: {r['dedupe_seconds']:.1f} s; "
            f"claim 1000: {r['claim_1000_ms']:.0f} ms"
        )


if __name__ == "__main__":
    main()
