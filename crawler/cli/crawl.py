"""`triage crawl`, `triage worker`, `triage urls`, `triage demo`, `triage demo-site`."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crawler.cli.app import DbOption, RulesOption, app
from crawler.errors import UsageError

if TYPE_CHECKING:
    from crawler.models import SeedReject
    from crawler.pipeline import Processed, WorkerStats
    from crawler.seeds import SeedFile
    from crawler.settings import FetchSettings

LogFormatOption = Annotated[
    str, typer.Option("--log-format", help="auto (console on a TTY, else JSON) | console | json")
]
URL_STATES = ("queued", "fetching", "done", "refused", "failed")


def _fetch_settings(
    concurrency: int | None,
    per_host_rps: float | None,
    per_host_concurrency: int | None,
    sources: Path | None,
) -> FetchSettings:
    from crawler.settings import FetchSettings

    overrides: dict[str, Any] = {}
    if concurrency is not None:
        if concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        overrides["concurrency"] = concurrency
    if per_host_rps is not None:
        if per_host_rps < 0:
            raise UsageError("--per-host-rps must be 0 (no limit) or positive")
        overrides["per_host_rps"] = per_host_rps
    if per_host_concurrency is not None:
        if per_host_concurrency < 1:
            raise UsageError("--per-host-concurrency must be at least 1")
        overrides["per_host_concurrency"] = per_host_concurrency
    if sources is not None:
        overrides["sources_path"] = sources
    return FetchSettings.from_env(**overrides)


def _read_seeds(paths: list[Path]) -> list[SeedFile]:
    from crawler.seeds import read_seed_file

    files = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"seed file not found: {path}")
        files.append(read_seed_file(path))
    return files


def _reject_line(r: SeedReject) -> str:
    text = r.text.strip()[:120]
    detail = r.reason if text and text in r.reason else f"{r.reason}: {text}"
    return f"{r.source}:{r.line}: rejected: {detail}"


def _check_log_format(value: str) -> str:
    if value not in ("auto", "console", "json"):
        raise UsageError(f"--log-format must be auto, console or json, not {value!r}")
    return value


class _Progress:
    """A rich progress bar on a terminal; silent otherwise (logs carry the events)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.counts = {"fetched": 0, "refused": 0, "failed": 0, "flagged": 0}
        self._progress: Any = None
        self._task: Any = None
        self.total = total

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("[bold]crawl"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "crawl", total=self.total or None, counts=self._fmt()
            )
        return self

    def _fmt(self) -> str:
        c = self.counts
        return (
            f"fetched {c['fetched']} · refused {c['refused']} · "
            f"failed {c['failed']} · flagged {c['flagged']}"
        )

    def __call__(self, processed: Processed) -> None:
        self.counts[processed.result.outcome.value] += 1
        if processed.evaluation is not None and processed.evaluation.flagged:
            self.counts["flagged"] += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, counts=self._fmt())

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


def _install_stop_handlers(stop: asyncio.Event) -> None:
    """First SIGINT/SIGTERM: stop claiming and drain; a second one exits at once."""
    loop = asyncio.get_running_loop()

    def handler() -> None:
        if stop.is_set():
            sys.exit(130)
        print("triage: stopping: finishing in-flight pages (signal again to quit now)",
              file=sys.stderr)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass


async def _crawl(
    db: str,
    seed_files: list[SeedFile],
    settings: FetchSettings,
    rules_dir: Path | None,
    *,
    progress: bool,
    evidence_dir: Path | None,
    top: int,
    shared_politeness: bool = False,
    idle_exit: bool = True,
    worker_id: str | None = None,
    lease_seconds: float = 120.0,
) -> tuple[WorkerStats, list[dict[str, Any]], dict[str, int]]:
    from crawler.pipeline import run_worker
    from crawler.rules import RuleHolder
    from storage import open_store

    rules = RuleHolder(rules_dir)
    async with open_store(db) as store:
        for sf in seed_files:
            receipt = await store.add_batch(
                sf.source, sf.sha256, sf.seeds, sf.rejects, duplicates=sf.duplicates
            )
            typer.echo(
                f"batch {receipt.batch_id}: {sf.source}: {receipt.accepted} queued, "
                f"{receipt.duplicates} duplicate, {receipt.rejected} rejected",
                err=True,
            )
        counts = await store.counts()
        remaining = counts.get("queued", 0) + counts.get("fetching", 0)
        stop = asyncio.Event()
        _install_stop_handlers(stop)
        from crawler.evidence import make_sink

        evidence = make_sink(evidence_dir)
        from crawler.networks import StoreNetwork

        network = await StoreNetwork.open(store)  # state in the store: nothing rebuilt
        with _Progress(progress, remaining) as bar:
            stats = await run_worker(
                store,
                settings,
                rules,
                worker_id=worker_id,
                stop=stop,
                idle_exit=idle_exit,
                observers=[bar],
                evidence=evidence,
                network=network.hook(),
                shared_politeness=shared_politeness,
                lease_seconds=lease_seconds,
            )
        hits = [h.to_json() for h in await store.list_hits(status="pending", limit=top)]
        final_counts = await store.counts()
    return stats, hits, final_counts


EvidenceDirOption = Annotated[
    Path,
    typer.Option(
        "--evidence-dir",
        envvar="TRIAGE_EVIDENCE_DIR",
        show_envvar=False,
        help="WARC evidence of flagged pages goes here [env TRIAGE_EVIDENCE_DIR; ./evidence].",
    ),
]
NoEvidenceOption = Annotated[
    bool, typer.Option("--no-evidence", help="Do not write WARC evidence (not for casework).")
]


def _print_summary(stats: WorkerStats, counts: dict[str, int], hits: list[dict[str, Any]]) -> None:
    from rich.table import Table

    console = _console()
    table = Table(title="crawl summary")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for key in ("fetched", "refused", "failed", "flagged", "new_hits"):
        table.add_row(key.replace("_", " "), str(getattr(stats, key)))
    for reason, n in sorted(stats.by_reason.items()):
        table.add_row(f"  reason: {reason}", str(n))
    for state in URL_STATES:
        if counts.get(state):
            table.add_row(f"urls {state} (all batches)", str(counts[state]))
    console.print(table)
    _print_queue(console, hits, title="top of the review queue")


def _quotes(indicator: dict[str, Any], most: int = 2) -> str:
    """The longest distinct matched texts of an indicator: what a reviewer reads first."""
    texts = sorted({str(e["text"]) for e in indicator.get("evidence") or []}, key=len, reverse=True)
    return (": " + ", ".join(f'"{t[:60]}"' for t in texts[:most])) if texts else ""


def _console() -> Any:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=140)


def _print_queue(console: Any, hits: list[dict[str, Any]], title: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    if not hits:
        console.print("review queue: nothing flagged")
        return
    table = Table(title=title, show_lines=True)
    for col in ("id", "priority", "score", "url", "indicators (why)"):
        table.add_column(col, overflow="fold")
    for h in hits:
        why = [f"{ind['rule_id']}{_quotes(ind)}" for ind in h["indicators"]]
        table.add_row(
            str(h["id"]), h["priority"], f"{h['score']:g}", escape(h["url"]), escape("\n".join(why))
        )
    console.print(table)


@app.command()
def crawl(
    seeds: Annotated[
        list[Path] | None, typer.Argument(help="Seed files: one URL a line, or CSV url,label.")
    ] = None,
    db: DbOption = "triage.db",
    rules: RulesOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Any bad seed line fails the command (exit 2).")
    ] = False,
    concurrency: Annotated[
        int | None, typer.Option(help="Global concurrent requests [default 32].")
    ] = None,
    per_host_rps: Annotated[
        float | None, typer.Option(help="Requests per second per host; 0 = no limit [1.0].")
    ] = None,
    per_host_concurrency: Annotated[
        int | None, typer.Option(help="Concurrent requests per host [2].")
    ] = None,
    sources: Annotated[
        Path | None, typer.Option(help="Source policy YAML [env TRIAGE_SOURCES].")
    ] = None,
    evidence_dir: EvidenceDirOption = Path("evidence"),
    no_evidence: NoEvidenceOption = False,
    log_format: LogFormatOption = "auto",
    no_progress: Annotated[bool, typer.Option("--no-progress")] = False,
    top: Annotated[int, typer.Option(help="How many queue entries to print at the end.")] = 10,
) -> None:
    """Crawl seed URLs, evaluate the pages and fill the review queue (resumes an earlier run)."""
    from crawler import logs

    logs.configure(_check_log_format(log_format))  # type: ignore[arg-type]
    settings = _fetch_settings(concurrency, per_host_rps, per_host_concurrency, sources)
    seed_files = _read_seeds(seeds or [])
    rejects = [r for sf in seed_files for r in sf.rejects]
    for r in rejects:
        typer.echo(_reject_line(r), err=True)
    if strict and rejects:
        raise UsageError(f"{len(rejects)} bad seed line(s) and --strict given; nothing fetched")
    stats, hits, counts = asyncio.run(
        _crawl(
            db, seed_files, settings, rules,
            progress=sys.stderr.isatty() and not no_progress,
            evidence_dir=None if no_evidence else evidence_dir,
            top=top,
        )
    )
    _print_summary(stats, counts, hits)


@app.command()
def worker(
    db: DbOption = "triage.db",
    rules: RulesOption = None,
    concurrency: Annotated[int | None, typer.Option()] = None,
    per_host_rps: Annotated[float | None, typer.Option()] = None,
    per_host_concurrency: Annotated[int | None, typer.Option()] = None,
    sources: Annotated[Path | None, typer.Option()] = None,
    evidence_dir: EvidenceDirOption = Path("evidence"),
    no_evidence: NoEvidenceOption = False,
    exit_when_idle: Annotated[
        bool, typer.Option("--exit-when-idle", help="Stop when the frontier is empty.")
    ] = False,
    worker_id: Annotated[str | None, typer.Option(help="Default hostname:pid:0.")] = None,
    lease_seconds: Annotated[
        float, typer.Option(help="How long a claimed URL stays leased without renewal.")
    ] = 120.0,
    log_format: LogFormatOption = "auto",
) -> None:
    """Run one crawling worker against a shared store (scale-out: many workers, one database).

    Per-host politeness goes through the store, so all workers together keep each host's rate.
    """
    from crawler import logs

    logs.configure(_check_log_format(log_format))  # type: ignore[arg-type]
    settings = _fetch_settings(concurrency, per_host_rps, per_host_concurrency, sources)
    stats, _, _ = asyncio.run(
        _crawl(
            db, [], settings, rules,
            progress=False,
            evidence_dir=None if no_evidence else evidence_dir,
            top=0,
            shared_politeness=True,
            idle_exit=exit_when_idle,
            worker_id=worker_id,
            lease_seconds=lease_seconds,
        )
    )
    typer.echo(json.dumps({"worker": "stopped", **stats.__dict__}))


@app.command()
def urls(
    db: DbOption = "triage.db",
    state: Annotated[
        str | None, typer.Option(help="queued|fetching|done|refused|failed")
    ] = None,
    batch: Annotated[int | None, typer.Option(help="Only this batch id.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table|json")] = "table",
) -> None:
    """Every URL with its state and the reason it is in that state."""
    if state is not None and state not in URL_STATES:
        raise UsageError(f"--state must be one of {', '.join(URL_STATES)}, not {state!r}")
    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {fmt!r}")

    async def load() -> list[dict[str, Any]]:
        from storage import open_store

        async with open_store(db, create=False) as store:
            return [u.to_json() for u in await store.list_urls(state=state, batch_id=batch)]

    records = asyncio.run(load())
    if fmt == "json":
        for rec in records:
            typer.echo(json.dumps(rec, ensure_ascii=False))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for col in ("id", "state", "reason", "url", "detail"):
        table.add_column(col, overflow="fold")
    for rec in records:
        table.add_row(
            str(rec["id"]), rec["state"], rec["reason"] or "", escape(rec["url"]),
            escape(rec["detail"] or ""),
        )
    _console().print(table)


@app.command("demo-site")
def demo_site(
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8765,
) -> None:
    """Serve the bundled demo site of synthetic ads on loopback (Ctrl-C to stop)."""
    from crawler.demo.site import run_forever

    run_forever(host, port)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the demo site on 127.0.0.1.")] = 8765,
    db: DbOption = "demo.db",
    rules: RulesOption = None,
) -> None:
    """Start the demo site, crawl seeds/demo.txt, print the review queue. Needs loopback allowed
    (TRIAGE_ALLOW_CIDRS=127.0.0.1/32, as `make demo` sets)."""
    from crawler import logs
    from crawler.demo.site import DemoSite, demo_seeds_path

    logs.configure("json", level="warning")
    settings = _fetch_settings(None, 20.0, 4, None)
    seed_path = demo_seeds_path(port)
    with DemoSite("127.0.0.1", port):
        seed_files = _read_seeds([seed_path])
        for r in (r for sf in seed_files for r in sf.rejects):
            typer.echo(_reject_line(r), err=True)
        stats, hits, counts = asyncio.run(
            _crawl(
                db, seed_files, settings, rules,
                progress=sys.stderr.isatty(), evidence_dir=None, top=50,
            )
        )
    _print_summary(stats, counts, hits)
    typer.echo(f"\nDatabase: {db}. Try: triage queue list --db {db}; triage urls --db {db}")
