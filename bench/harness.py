"""Shared bench plumbing: start the synthetic site in its own process, run a client as a child
process and measure it (wall time, CPU from wait4's rusage, peak RSS), pin processes to cores.

Loopback only: the site binds 127.0.0.1 and clients are only ever given its URLs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def bin_path(name: str) -> str:
    """A console script installed next to this interpreter (e.g. `triage`)."""
    return str(Path(PYTHON).parent / name)


def cpu_plan() -> tuple[int | None, set[int] | None, str]:
    """(site CPU, client CPUs, description). Site gets the last core, clients the rest."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None, "no CPU pinning (os.sched_setaffinity unavailable)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, f"no CPU pinning (only {len(cpus)} CPU available)"
    site, clients = cpus[-1], set(cpus[:-1])
    return site, clients, f"site pinned to CPU {site}, clients to CPU(s) {sorted(clients)}"


@dataclass(frozen=True)
class SiteStats:
    served: int
    first: float | None
    last: float | None
    cpu_s: float

    @property
    def span_s(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first


class Site:
    """The synthetic site running in a child process (`python -m bench.site`)."""

    def __init__(self, pages: int, cpu: int | None) -> None:
        cmd = [PYTHON, "-m", "bench.site", "--pages", str(pages)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            self.proc.kill()
            raise RuntimeError(f"bench site did not start: {line!r}")
        self.port = int(line[1])
        self.pages = pages

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def urls(self, n: int | None = None, start: int = 0) -> Iterator[str]:
        for i in range(start, start + (self.pages if n is None else n)):
            yield f"{self.base}/ad/{i % self.pages}"

    def write_seeds(self, path: Path, n: int | None = None) -> Path:
        with path.open("w") as f:
            for url in self.urls(n):
                f.write(url + "\n")
        return path

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            data: bytes = r.read()
            return data

    def reset(self) -> None:
        self._get("/__reset")

    def stats(self) -> SiteStats:
        d = json.loads(self._get("/__stats"))
        return SiteStats(d["served"], d["first"], d["last"], d["cpu_s"])

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def running_site(pages: int, cpu: int | None) -> Iterator[Site]:
    site = Site(pages, cpu)
    try:
        yield site
    finally:
        site.close()


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    wall_s: float
    cpu_s: float  # user + system of the child and its waited-for descendants
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_child(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cpus: set[int] | None = None,
    timeout_s: float = 300.0,
    cwd: Path = ROOT,
) -> ChildRun:
    """Run `cmd`, wait for it with os.wait4 and return its own resource usage."""
    full_env = dict(os.environ)
    full_env.update(env or {})

    def pin() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-child-{os.getpid()}.out"
    err_path = out_path.with_suffix(".err")
    with out_path.open("w") as out, err_path.open("w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=full_env, stdout=out, stderr=err,
            stdin=subprocess.DEVNULL, preexec_fn=pin if cpus is not None else None,
        )
        deadline = t0 + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    return ChildRun(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024.0,  # KiB on Linux
        stdout=stdout,
        stderr=stderr,
    )


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s), {model}, Python {sys.version.split()[0]}"
