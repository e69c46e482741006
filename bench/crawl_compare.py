"""triage's full pipeline side by side with Scrapy and a bare aiohttp + selectolax loop.

    python bench/crawl_compare.py [--pages 1000] [--rounds 3] [--concurrency 64] [--transports]
                                  [--budget SECONDS] [--json OUT]

Starts the synthetic site (bench/site.py) in its own process, then runs the same seed list through
each crawler in alternating rounds (A B C A B C ...), each as a child process:

  triage      `triage crawl SEEDS --db ... --concurrency 64 --per-host-rps 0
              --per-host-concurrency 64` with TRIAGE_ALLOW_CIDRS=127.0.0.1/32 (fetch, safety
              checks, extract, rules, entities, store), on the Fetcher's default transport
              (crawler.transport: httpx over aiohttp's pool)
  triage-httpx the same with TRIAGE_TRANSPORT=httpx: httpx's default transport (httpcore)
  scrapy      bench/scrapy_spider.py (parsel text, no robots, no throttling); skipped if missing
  bare        bench/bare_loop.py (aiohttp GET + selectolax text): the limit
  httpx       (--transports) the bare loop over httpx's default transport
  httpx-fast  (--transports) the bare loop over crawler.transport.make_transport

pages/s is what the site saw (200 responses / first-to-last response time), so interpreter
start-up is not counted; CPU ms/page is the child's whole user+system time (os.wait4 rusage,
start-up included) / pages; peak RSS is the child's ru_maxrss.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PYTHON, ROOT, bin_path, cpu_plan, machine, run_child, running_site


@dataclass
class Round:
    crawler: str
    pages: int
    pages_per_s: float
    cpu_ms_per_page: float
    peak_rss_mb: float
    wall_s: float
    site_cpu_share: float  # site CPU seconds / site busy seconds
    ok: bool
    note: str = ""


def _command(
    name: str, seeds: Path, db: Path, concurrency: int
) -> tuple[list[str], dict[str, str]]:
    bench = ROOT / "bench"
    if name == "triage":
        return [
            bin_path("triage"), "crawl", str(seeds), "--db", str(db),
            "--concurrency", str(concurrency), "--per-host-rps", "0",
            "--per-host-concurrency", str(concurrency),
        ], {"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}
    if name == "triage-httpx":
        cmd, env = _command("triage", seeds, db, concurrency)
        return cmd, {**env, "TRIAGE_TRANSPORT": "httpx"}
    if name == "scrapy":
        return [PYTHON, str(bench / "scrapy_spider.py"), str(seeds),
                "--concurrency", str(concurrency)], {}
    client = {"bare": "aiohttp", "httpx": "httpx", "httpx-fast": "httpx-fast"}[name]
    return [PYTHON, str(bench / "bare_loop.py"), str(seeds), "--concurrency", str(concurrency),
            "--client", client], {}


def available(name: str) -> str | None:
    """None if the crawler can run here, else why not."""
    if name == "scrapy" and importlib.util.find_spec("scrapy") is None:
        return "Scrapy is not installed (pip install -e '.[bench]'): skipped"
    if name == "bare" and importlib.util.find_spec("aiohttp") is None:
        return "aiohttp is not installed (pip install -e .): skipped"
    if name.startswith("triage") and not Path(bin_path("triage")).exists():
        return "the triage console script is not installed: skipped"
    return None


def run(
    pages: int, rounds: int, concurrency: int, crawlers: list[str], budget_s: float = 1e9
) -> tuple[list[Round], str]:
    """Alternating rounds; a new round starts only while the time budget lasts (>= 1 round)."""
    site_cpu, client_cpus, pin_note = cpu_plan()
    results: list[Round] = []
    started = time.monotonic()
    with running_site(pages, site_cpu) as site, tempfile.TemporaryDirectory() as tmp:
        seeds = site.write_seeds(Path(tmp) / "seeds.txt")
        for r in range(rounds):
            spent = time.monotonic() - started
            if r and spent / r * (r + 1) > budget_s:
                print(f"round {r + 1}: skipped (time budget {budget_s:.0f} s)", flush=True)
                break
            for name in crawlers:
                db = Path(tmp) / f"{name}-{r}.db"
                cmd, env = _command(name, seeds, db, concurrency)
                site.reset()
                child = run_child(cmd, env=env, cpus=client_cpus, timeout_s=max(120, pages / 20))
                st = site.stats()
                ok = child.returncode == 0 and st.served >= pages * 0.99
                note = ""
                if not ok:
                    tail = (child.stderr.strip().splitlines() or ["(no stderr)"])[-1][:160]
                    note = f"rc={child.returncode} served={st.served}/{pages}: {tail}"
                results.append(Round(
                    crawler=name, pages=st.served,
                    pages_per_s=st.served / st.span_s if st.span_s > 0 else 0.0,
                    cpu_ms_per_page=1000 * child.cpu_s / max(st.served, 1),
                    peak_rss_mb=child.peak_rss_mb, wall_s=child.wall_s,
                    site_cpu_share=st.cpu_s / st.span_s if st.span_s > 0 else 0.0,
                    ok=ok, note=note,
                ))
                last = results[-1]
                print(f"round {r + 1} {name}: {last.pages_per_s:.0f} pages/s, "
                      f"{last.cpu_ms_per_page:.2f} ms CPU/page, {last.peak_rss_mb:.0f} MB"
                      + ("" if ok else f"  FAILED: {note}"), flush=True)
                for db_file in Path(tmp).glob(f"{name}-{r}.db*"):
                    db_file.unlink()
    return results, pin_note


@dataclass
class Summary:
    crawler: str
    pages_per_s: float  # median over rounds
    pps_min: float
    pps_max: float
    cpu_ms_per_page: float
    peak_rss_mb: float
    site_cpu_share: float
    ok: bool
    note: str


def summarise(results: list[Round], crawlers: list[str]) -> list[Summary]:
    out = []
    for name in crawlers:
        rs = [r for r in results if r.crawler == name]
        if not rs:
            continue
        pps = [r.pages_per_s for r in rs]
        out.append(Summary(
            crawler=name,
            pages_per_s=statistics.median(pps), pps_min=min(pps), pps_max=max(pps),
            cpu_ms_per_page=statistics.median(r.cpu_ms_per_page for r in rs),
            peak_rss_mb=max(r.peak_rss_mb for r in rs),
            site_cpu_share=max(r.site_cpu_share for r in rs),
            ok=all(r.ok for r in rs),
            note="; ".join(sorted({r.note for r in rs if r.note})),
        ))
    return out


def table(summaries: list[Summary]) -> str:
    by = {s.crawler: s for s in summaries}

    def ratio(s: Summary, base: str) -> str:
        b = by.get(base)
        if b is None or not b.pages_per_s or s.crawler == base:
            return "-"
        return f"{s.pages_per_s / b.pages_per_s:.2f}x"

    lines = [
        f"{'crawler':<12} {'pages/s':>8} {'min-max':>13} {'CPU ms/pg':>9} {'peak RSS':>9} "
        f"{'vs scrapy':>9} {'vs bare':>8} {'site CPU':>8}",
    ]
    for s in summaries:
        lines.append(
            f"{s.crawler:<12} {s.pages_per_s:8.0f} {f'{s.pps_min:.0f}-{s.pps_max:.0f}':>13} "
            f"{s.cpu_ms_per_page:9.2f} {s.peak_rss_mb:7.0f}MB {ratio(s, 'scrapy'):>9} "
            f"{ratio(s, 'bare'):>8} {s.site_cpu_share:7.0%}"
            + ("" if s.ok else f"  FAILED: {s.note}")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--crawlers", default="triage,triage-httpx,scrapy,bare",
                        help="comma list of triage,triage-httpx,scrapy,bare,httpx,httpx-fast")
    parser.add_argument("--transports", action="store_true",
                        help="also run the bare loop over httpx's default and fast transports")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--budget", type=float, default=1e9,
                        help="seconds: start no round that would not finish within this")
    args = parser.parse_args(argv)
    crawlers = [c for c in args.crawlers.split(",") if c]
    if args.transports:
        crawlers += [c for c in ("httpx", "httpx-fast") if c not in crawlers]
    runnable = []
    for name in crawlers:
        why = available(name)
        if why:
            print(f"{name}: {why}")
        else:
            runnable.append(name)
    results, pin_note = run(args.pages, args.rounds, args.concurrency, runnable, args.budget)
    summaries = summarise(results, runnable)
    done_rounds = len(results) // max(len(runnable), 1)
    print(f"crawl_compare: {args.pages} pages x {done_rounds} rounds, concurrency "
          f"{args.concurrency}, {machine()}; {pin_note}")
    print(table(summaries))
    if args.json:
        args.json.write_text(json.dumps({
            "pages": args.pages, "rounds": done_rounds, "pinning": pin_note,
            "summaries": [asdict(s) for s in summaries],
            "rounds_detail": [asdict(r) for r in results],
        }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
