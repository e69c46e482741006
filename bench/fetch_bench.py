"""CPU per page of the Fetcher alone (crawler/fetch.py on its default transport), current code vs
a baseline revision, on the loopback bench site. Not in `make bench`.

    python bench/fetch_bench.py [--pages 3000] [--rounds 4] [--baseline REV] [--concurrency 64]
                                [--transport aiohttp|httpx]

The site (bench/site.py) runs in its own process; each measurement is one child process running
`Fetcher.fetch` over the same URLs with `concurrency` tasks, and reporting its own CPU time
(time.process_time) for the fetch loop only, the best of 3 passes over the pages (logging
configured as `triage crawl` does; start-up and a warm-up of 200 pages excluded).
The baseline is a `git worktree` of REV imported by its child (PYTHONPATH), alternating rounds
B C B C ... in the same command. Every child also prints a digest of its results (outcome,
reason, status, sha256, kept headers but Date, final URL, content type, charset): a digest that
differs from the baseline's is reported. Loopback only (127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import asyncio, hashlib, json, sys, time
from crawler import logs
from crawler.fetch import Fetcher
from crawler.settings import FetchSettings

logs.configure("json")  # as `triage crawl` does: level info, debug events filtered

base, pages, conc, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
transport = sys.argv[5]

async def main():
    settings = FetchSettings(concurrency=conc, per_host_rps=0.0, per_host_concurrency=conc,
                             allow_cidrs=("127.0.0.0/8",), transport=transport)
    digest = hashlib.sha256()
    async with Fetcher(settings) as fetcher:
        async def run(urls, keep):
            it = iter(urls)
            out = []
            async def worker():
                for u in it:
                    out.append(await fetcher.fetch(u))
            async with asyncio.TaskGroup() as tg:
                for _ in range(conc):
                    tg.create_task(worker())
            return out
        await run([f"{base}/ad/{i}" for i in range(warm)], False)
        cpus = []
        for _ in range(3):  # the best of 3 passes: the machine is shared
            t0 = time.process_time()
            results = await run([f"{base}/ad/{i}" for i in range(pages)], True)
            cpus.append(time.process_time() - t0)
        cpu = min(cpus)
    bad = 0
    for r in sorted(results, key=lambda r: r.url):
        headers = sorted((k, v) for k, v in r.headers.items() if k != "date")
        digest.update(repr((r.url, r.final_url, r.outcome.value, r.reason.value, r.status,
                            r.sha256, headers, r.content_type, r.charset, r.redirects,
                            r.http_version, r.detail)).encode())
        bad += r.outcome.value != "fetched"
    print(json.dumps({"cpu_s": cpu, "pages": len(results), "not_fetched": bad,
                      "digest": digest.hexdigest()[:16]}))

asyncio.run(main())
"""


def run_child(src: Path, base: str, pages: int, conc: int, transport: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, base, str(pages), str(conc), "200", transport],
        cwd=src, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child in {src} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    from bench.harness import cpu_plan, running_site

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with")
    parser.add_argument("--transport", default="aiohttp", choices=("aiohttp", "httpx"),
                        help="the Fetcher's transport (TRIAGE_TRANSPORT)")
    args = parser.parse_args()
    site_cpu, client_cpus, plan = cpu_plan()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    with tempfile.TemporaryDirectory(prefix="fetch-bench-") as tmp:
        wt = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(wt), args.baseline],
                       cwd=ROOT, check=True, capture_output=True)
        try:
            runs: dict[str, list[float]] = {"baseline": [], "current": []}
            digests: dict[str, set[str]] = {"baseline": set(), "current": set()}
            with running_site(max(args.pages, 200), site_cpu) as site:
                for _ in range(args.rounds):
                    for label, src in (("baseline", wt), ("current", ROOT)):
                        r = run_child(src, site.base, args.pages, args.concurrency, args.transport)
                        runs[label].append(float(r["cpu_s"]) * 1000 / args.pages)  # type: ignore[arg-type]
                        digests[label].add(str(r["digest"]))
                        if r["not_fetched"]:
                            print(f"{label}: {r['not_fetched']} pages not fetched")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT,
                           check=False, capture_output=True)
    print(f"{plan}; {args.pages} pages x {args.rounds} alternating rounds, "
          f"{args.concurrency} concurrent, {args.transport} transport; "
          f"baseline = {args.baseline}")
    for label, values in runs.items():
        print(f"{label:9s} CPU ms/page median {statistics.median(values):.3f} "
              f"(min {min(values):.3f}, max {max(values):.3f}) digests {sorted(digests[label])}")
    ratio = statistics.median(runs["baseline"]) / statistics.median(runs["current"])
    same = digests["baseline"] == digests["current"] and len(digests["current"]) == 1
    print(f"speed-up {ratio:.2f}x; results {'IDENTICAL' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
