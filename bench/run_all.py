"""Every benchmark in one command (`make bench`), within a time budget, then one table.

    python bench/run_all.py [--budget 600] [--out bench/last_run.json]

Runs, in this order, each as a child process with its own time limit (what does not fit in the
remaining budget is skipped and says so):
  triage --help wall time (and, if over 0.3 s, the heaviest imports from python -X importtime)
  bench/crawl_compare.py   triage vs Scrapy vs the bare aiohttp loop (+ the httpx transports)
  bench/rescan_bench.py    triage rescan pages/s per core with the shipped packs
  bench/frontier_bench.py  ingest + watched crawl (scaled down: see the constants below)
  bench/stages_bench.py    CPU ms per page of each analysis stage (extract ... store), one page
                           at a time and 16 at once; start-up costs
  bench/rules_bench.py, bench/enqueue_bench.py, bench/network_bench.py   when present (their
                           own output; each gets what is left of the budget, at most 100 s)
Figures are quoted as ratios against the baselines run in the same command.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PYTHON, ROOT, bin_path, machine

BENCH = ROOT / "bench"
# Scaled-down defaults so the whole run fits 10 minutes on 2 cores (see bench/README.md).
CRAWL_PAGES, CRAWL_ROUNDS, CRAWL_BUDGET = 2000, 3, 220
RESCAN_PAGES = 2000
FRONTIER_URLS, FRONTIER_CRAWL, FRONTIER_BUDGET = 100_000, 10_000, 150
OTHERS = ("stages_bench.py", "rules_bench.py", "enqueue_bench.py", "network_bench.py")


class Budget:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def run(
    cmd: list[str], timeout: float, env: dict[str, str] | None = None
) -> tuple[int, str, float]:
    """Run a bench, echo its output, return (rc, output, seconds). rc -9 = timed out."""
    t0 = time.monotonic()
    print(f"$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))}", flush=True)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
        out, rc = proc.stdout + proc.stderr[-2000:], proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        out += f"\n(timed out after {timeout:.0f} s)"
        rc = -9
    print(out.rstrip(), flush=True)
    return rc, out, time.monotonic() - t0


def help_time() -> dict[str, Any]:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([bin_path("triage"), "--help"], capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
    result: dict[str, Any] = {"median_s": statistics.median(times), "min_s": min(times)}
    if result["median_s"] > 0.3:
        proc = subprocess.run([PYTHON, "-X", "importtime", "-m", "crawler", "--help"],
                              capture_output=True, text=True, cwd=ROOT, check=False)
        rows = []
        for line in proc.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                rows.append((int(parts[1]), parts[2].rstrip()))
        rows.sort(reverse=True)
        result["heaviest_imports_ms"] = [(round(us / 1000), name.strip()) for us, name in rows[:8]]
    print(f"triage --help: median {result['median_s']:.2f} s (min {result['min_s']:.2f} s)")
    for ms, name in result.get("heaviest_imports_ms", []):
        print(f"  {ms:5d} ms cumulative  {name}")
    return result


def table(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []

    def add(name: str, value: str, target: str, ok: bool | None) -> None:
        rows.append((name, value, target, "-" if ok is None else ("met" if ok else "NOT MET")))

    h = res.get("help")
    if h:
        add("triage --help wall time", f"{h['median_s']:.2f} s", "< 0.3 s", h["median_s"] < 0.3)
    cc = {s["crawler"]: s for s in res.get("crawl", {}).get("summaries", [])}
    scrapy, bare = cc.get("scrapy"), cc.get("bare")
    for name in ("triage", "triage-httpx"):
        t = cc.get(name)
        if not t:
            continue
        label = "pipeline" if name == "triage" else "pipeline on httpx's transport"
        rng = f"{t['pps_min']:.0f}-{t['pps_max']:.0f}"
        if scrapy and scrapy["pages_per_s"]:
            x = t["pages_per_s"] / scrapy["pages_per_s"]
            add(f"{label}: pages/s vs Scrapy", f"{t['pages_per_s']:.0f} ({rng}) = {x:.2f}x "
                f"Scrapy's {scrapy['pages_per_s']:.0f}", ">= 4x", x >= 4)
        if bare and bare["pages_per_s"]:
            x = t["pages_per_s"] / bare["pages_per_s"]
            add(f"{label}: pages/s vs bare loop", f"{x:.1%} of {bare['pages_per_s']:.0f}",
                "aim >= 50%", x >= 0.5)
        add(f"{label}: CPU per page", f"{t['cpu_ms_per_page']:.2f} ms", "<= 1.5 ms",
            t["cpu_ms_per_page"] <= 1.5)
        add(f"{label}: peak RSS", f"{t['peak_rss_mb']:.0f} MB", "-", None)
    for name in ("scrapy", "bare", "httpx", "httpx-fast"):
        s = cc.get(name)
        if s:
            add(f"baseline {name}", f"{s['pages_per_s']:.0f} pages/s, "
                f"{s['cpu_ms_per_page']:.2f} ms CPU/page, {s['peak_rss_mb']:.0f} MB", "-", None)
    if cc.get("httpx") and cc.get("httpx-fast") and cc["httpx"]["pages_per_s"]:
        x = cc["httpx-fast"]["pages_per_s"] / cc["httpx"]["pages_per_s"]
        add("transport: make_transport vs httpx default", f"{x:.1f}x pages/s (bare loop)",
            "faster", x > 1)
    if cc:
        share = max(s["site_cpu_share"] for s in cc.values())
        add("synthetic site CPU share (max)", f"{share:.0%} of one core", "not the bottleneck",
            share < 0.7)
    r = res.get("rescan")
    if r:
        per_core = r["first"]["pages_per_cpu_second"]
        add("rescan pages/s per core", f"{per_core:.0f} (evaluate only: "
            f"{r['evaluate_only_pages_per_cpu_s']:.0f})", ">= 3000", per_core >= 3000)
    f = res.get("frontier")
    if f:
        if f.get("ingest_ok"):
            per_m = f["ingest_s"] * 1_000_000 / f["urls"]
            add(f"ingest {f['urls']:,} URLs (triage submit)",
                f"{f['ingest_s']:.1f} s -> {per_m:.0f} s per 1M", "< 60 s per 1M", per_m < 60)
        cps = f.get("checkpoints", [])
        if cps:
            peak = max(c["peak_rss_mb"] for c in cps)
            growth = cps[-1]["rss_mb"] - cps[0]["rss_mb"]
            add(f"crawl {cps[-1]['pages']:,} pages: peak RSS", f"{peak:.0f} MB", "< 300 MB",
                peak < 300)
            add(f"RSS growth {cps[0]['pages']:,} -> {cps[-1]['pages']:,} pages",
                f"{growth:+.0f} MB", "flat (< +10%)", growth < 0.1 * cps[0]["rss_mb"])
            add("frontier crawl pages/s (last leg)", f"{cps[-1]['pages_per_s']:.0f}", "-", None)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for everything")
    parser.add_argument("--out", type=Path, default=None, help="write all figures as JSON")
    args = parser.parse_args(argv)
    budget = Budget(args.budget)
    started = time.monotonic()
    res: dict[str, Any] = {"machine": machine(), "load_before": os.getloadavg()}
    print(f"make bench on {res['machine']}, load average {res['load_before'][0]:.2f}")
    res["help"] = help_time()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run([PYTHON, str(BENCH / "crawl_compare.py"), "--pages", str(CRAWL_PAGES),
             "--rounds", str(CRAWL_ROUNDS), "--transports", "--budget", str(CRAWL_BUDGET),
             "--json", str(out / "crawl.json")], timeout=min(CRAWL_BUDGET + 90, budget.left()))
        if (out / "crawl.json").exists():
            res["crawl"] = json.loads((out / "crawl.json").read_text())
        if budget.left() > 60:
            run([PYTHON, str(BENCH / "rescan_bench.py"), "--pages", str(RESCAN_PAGES),
                 "--json", str(out / "rescan.json")], timeout=min(90, budget.left()))
            if (out / "rescan.json").exists():
                res["rescan"] = json.loads((out / "rescan.json").read_text())
        else:
            print("rescan_bench: skipped (time budget)")
        if budget.left() > 60:
            crawl_s = min(FRONTIER_BUDGET, budget.left()) - 45
            run([PYTHON, str(BENCH / "frontier_bench.py"), "--urls", str(FRONTIER_URLS),
                 "--crawl", str(FRONTIER_CRAWL), "--timeout", str(int(crawl_s)),
                 "--json", str(out / "frontier.json")], timeout=min(FRONTIER_BUDGET + 30,
                                                                    budget.left()))
            if (out / "frontier.json").exists():
                res["frontier"] = json.loads((out / "frontier.json").read_text())
        else:
            print("frontier_bench: skipped (time budget)")
        for name in OTHERS:
            path = BENCH / name
            if not path.exists():
                print(f"{name}: not present, skipped")
                continue
            if budget.left() < 20:
                print(f"{name}: skipped (time budget)")
                continue
            rc, text, secs = run([PYTHON, str(path)], timeout=min(100, budget.left() - 5))
            res.setdefault("others", {})[name] = {"rc": rc, "seconds": round(secs, 1),
                                                  "tail": text.strip().splitlines()[-12:]}
    res["total_s"] = round(time.monotonic() - started, 1)
    res["load_after"] = os.getloadavg()
    rows = table(res)
    res["table"] = rows
    widths = [max(len(r[i]) for r in [*rows, ("figure", "value", "target", "status")])
              for i in range(4)]
    print()
    print(f"== summary ({res['machine']}; {res['total_s']} s; load average "
          f"{res['load_before'][0]:.1f} -> {res['load_after'][0]:.1f})")
    for r in [("figure", "value", "target", "status"), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
