"""A big frontier: ingest a seed file of many URLs, then crawl part of it; memory must stay flat.

    python bench/frontier_bench.py [--urls 1000000] [--crawl 100000] [--json OUT]

1. writes a seed file of --urls URLs of the synthetic site (bench/site.py, own process);
2. `triage submit SEEDS --db DB` (a child process): ingest seconds and its peak RSS;
3. `triage worker --db DB --concurrency 64 --per-host-rps 0 --per-host-concurrency 64` with
   TRIAGE_ALLOW_CIDRS=127.0.0.1/32, watched from outside: at 10%, 50% and 100% of --crawl pages
   served it records pages/s since the previous checkpoint and the worker's RSS (VmRSS and peak
   VmHWM from /proc), then stops the worker with SIGTERM (graceful drain) at --crawl pages.

Targets (issue 8): 1M-URL ingest < 60 s; peak RSS < 300 MB through the 100k-page crawl and flat
from 10k to 100k. `make bench` runs a scaled-down default (see bench/run_all.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, bin_path, cpu_plan, machine, run_child, running_site

ENV = {"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}


@dataclass
class Checkpoint:
    pages: int
    seconds: float  # since the worker started
    pages_per_s: float  # since the previous checkpoint
    rss_mb: float
    peak_rss_mb: float


def _proc_mem(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB of a live process; (0, 0) when it is gone."""
    rss = hwm = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, hwm


def crawl_watch(
    db: Path, site_stats: object, target: int, cpus: set[int] | None, timeout_s: float
) -> tuple[list[Checkpoint], float, float, str]:
    """Run `triage worker`, checkpoint at 10/50/100% of `target`.

    Returns (checkpoints, worker CPU seconds, wall seconds, note).
    """
    marks = sorted({max(1, target // 10), max(1, target // 2), target})
    cmd = [bin_path("triage"), "worker", "--db", str(db), "--concurrency", "64",
           "--per-host-rps", "0", "--per-host-concurrency", "64", "--log-format", "json"]
    env = {**os.environ, **ENV}

    def pin() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    stats = site_stats  # bench.harness.Site
    stats.reset()  # type: ignore[attr-defined]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=pin if cpus else None)
    checkpoints: list[Checkpoint] = []
    last_pages, last_t = 0, t0
    note = ""
    reaped: tuple[int, int, object] | None = None
    try:
        while marks:
            time.sleep(0.25)
            served = stats.stats().served  # type: ignore[attr-defined]
            now = time.monotonic()
            reaped = _reap(proc.pid)
            if reaped is not None:
                note = (f"worker exited early (rc={os.waitstatus_to_exitcode(reaped[1])}) at "
                        f"{served} pages")
                break
            if now - t0 > timeout_s:
                note = f"time budget {timeout_s:.0f} s reached at {served} pages"
                break
            while marks and served >= marks[0]:
                rss, hwm = _proc_mem(proc.pid)
                checkpoints.append(Checkpoint(
                    pages=served, seconds=now - t0,
                    pages_per_s=(served - last_pages) / max(now - last_t, 1e-9),
                    rss_mb=rss, peak_rss_mb=hwm,
                ))
                last_pages, last_t = served, now
                marks.pop(0)
    finally:
        if reaped is None:
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 60
            while (reaped := _reap(proc.pid)) is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    _pid, st, ru = os.wait4(proc.pid, 0)
                    reaped = (_pid, st, ru)
                    break
                time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(reaped[1])
    usage = reaped[2]
    cpu = usage.ru_utime + usage.ru_stime  # type: ignore[attr-defined]
    return checkpoints, cpu, time.monotonic() - t0, note


def _reap(pid: int) -> tuple[int, int, object] | None:
    """os.wait4 without blocking: (pid, status, rusage) once the child has exited."""
    got, status, usage = os.wait4(pid, os.WNOHANG)
    return (got, status, usage) if got else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--crawl", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=3600.0, help="crawl time budget (s)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    site_cpu, client_cpus, pin_note = cpu_plan()
    out: dict[str, object] = {"urls": args.urls, "crawl": args.crawl, "pinning": pin_note}
    with running_site(args.urls, site_cpu) as site, tempfile.TemporaryDirectory() as tmp:
        seeds = site.write_seeds(Path(tmp) / "seeds.txt")
        db = Path(tmp) / "frontier.db"
        ingest = run_child([bin_path("triage"), "submit", str(seeds), "--db", str(db),
                            "--format", "json"], env=ENV, cpus=client_cpus, timeout_s=1200)
        out["ingest_s"] = round(ingest.wall_s, 2)
        out["ingest_peak_rss_mb"] = round(ingest.peak_rss_mb, 1)
        out["ingest_ok"] = ingest.returncode == 0
        if ingest.returncode != 0:
            out["ingest_error"] = ingest.stderr.strip().splitlines()[-1:] or ["?"]
        checkpoints, cpu_s, wall_s, note = crawl_watch(
            db, site, args.crawl, client_cpus, args.timeout)
        out["checkpoints"] = [asdict(c) for c in checkpoints]
        out["crawl_cpu_ms_per_page"] = round(
            1000 * cpu_s / max(checkpoints[-1].pages if checkpoints else 1, 1), 2)
        out["crawl_wall_s"] = round(wall_s, 1)
        out["note"] = note
    print(f"frontier_bench: {args.urls} URLs ingested, {args.crawl} pages crawled; {machine()}; "
          f"{pin_note}")
    print(f"  ingest (triage submit): {out['ingest_s']} s, peak RSS "
          f"{out['ingest_peak_rss_mb']} MB" + ("" if out["ingest_ok"] else " FAILED"))
    for c in checkpoints:
        print(f"  at {c.pages:>7} pages: {c.pages_per_s:6.0f} pages/s, RSS {c.rss_mb:6.1f} MB, "
              f"peak {c.peak_rss_mb:6.1f} MB  ({c.seconds:.0f} s)")
    if note:
        print(f"  note: {note}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
