"""`triage queue list|show|review|assign`, `triage audit`, `triage export`, `triage submit`,
`triage evidence verify|purge`.

Thin: parse options, call the store, print. Output formats are stable and documented in the
README: JSON queue records are `HitRecord.to_json()`, audit records `AuditRecord.to_json()`.
"""

from __future__ import annotations

import asyncio
import csv
import getpass
import io
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from crawler.cli.app import DbOption, app, evidence_app, queue_app
from crawler.errors import TriageError, UsageError

T = TypeVar("T")
STATUSES = ("pending", "confirmed", "dismissed", "escalated", "all")
VERDICTS = ("confirmed", "dismissed", "escalated", "pending")
PRIORITIES = ("high", "medium", "low")
QUEUE_CSV = ("id", "url", "score", "priority", "status", "assignee", "families", "rule_ids",
             "title", "content_sha256", "ruleset_version", "fetched_at", "created_at",
             "reviewer", "reviewed_at", "batch_id", "previous_hit_id", "indicators")
AUDIT_CSV = ("id", "hit_id", "url", "actor", "at", "action", "from", "to", "note")

FormatOption = Annotated[str, typer.Option("--format", help="table|json|csv")]
EvidenceDirOption = Annotated[
    Path,
    typer.Option("--evidence-dir", envvar="TRIAGE_EVIDENCE_DIR", show_envvar=False,
                 help="WARC directory [env TRIAGE_EVIDENCE_DIR; default ./evidence]"),
]


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """Run one async step; known errors become one line on stderr (exit 2 usage, 1 otherwise)."""
    from storage.base import UnknownHitError

    try:
        return asyncio.run(make())  # type: ignore[arg-type]
    except (UsageError, UnknownHitError) as exc:
        typer.echo(f"triage: error: {exc}", err=True)
        raise typer.Exit(2) from None
    except TriageError as exc:
        typer.echo(f"triage: error: {exc}", err=True)
        raise typer.Exit(1) from None


def _choice(name: str, value: str | None, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value is not None and value not in allowed:
        raise UsageError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def default_reviewer() -> str:
    name = os.environ.get("TRIAGE_REVIEWER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _queue_row(rec: dict[str, Any]) -> dict[str, Any]:
    row = {k: rec.get(k) for k in QUEUE_CSV}
    row["families"] = " ".join(rec.get("families", []))
    row["rule_ids"] = " ".join(i["rule_id"] for i in rec.get("indicators", []))
    row["indicators"] = json.dumps(rec.get("indicators", []), ensure_ascii=False)
    return row


def _emit(records: list[dict[str, Any]], fmt: str, columns: tuple[str, ...],
          table: Callable[[list[dict[str, Any]]], None], out: io.TextIOBase | Any = None) -> None:
    stream = out or sys.stdout
    if fmt in ("json", "jsonl"):
        for rec in records:
            stream.write(json.dumps(rec, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        for rec in records:
            writer.writerow(_queue_row(rec) if "indicators" in rec else rec)
    else:
        table(records)


def _queue_table(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"review queue ({len(records)})")
    for col in ("id", "priority", "score", "status", "assignee", "families", "url", "title"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(str(r["id"]), r["priority"], f"{r['score']:g}", r["status"],
                      r.get("assignee") or "", ", ".join(r["families"]), r["url"], r["title"])
    Console().print(table)


def _audit_table(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"audit log ({len(records)})")
    for col in ("id", "at", "hit", "actor", "action", "from", "to", "note"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(str(r["id"]), r["at"], str(r["hit_id"] or ""), r["actor"], r["action"],
                      r["from"] or "", r["to"] or "", r["note"])
    Console().print(table)


# --------------------------------------------------------------------------- queue


@queue_app.command("list")
def queue_list(
    db: DbOption = "triage.db",
    status: Annotated[str, typer.Option(help="pending|confirmed|dismissed|escalated|all")] = (
        "pending"
    ),
    priority: Annotated[str | None, typer.Option(help="high|medium|low")] = None,
    family: Annotated[str | None, typer.Option(help="Indicator family, e.g. handler.")] = None,
    batch: Annotated[int | None, typer.Option(help="Only this batch id.")] = None,
    text: Annotated[str | None, typer.Option(help="Substring of URL, title or text.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Only hits assigned to NAME.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N hits.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """Flagged pages, highest priority and score first."""

    async def load() -> list[dict[str, Any]]:
        _choice("--status", status, STATUSES)
        _choice("--priority", priority, PRIORITIES)
        _choice("--format", fmt, ("table", "json", "csv"))
        from storage import open_store

        async with open_store(db, create=False) as store:
            hits = await store.list_hits(
                status=None if status == "all" else status, priority=priority, family=family,
                batch_id=batch, text=text, limit=limit, assignee=assignee,
            )
        return [h.to_json() for h in hits]

    _emit(_run(load), fmt, QUEUE_CSV, _queue_table)


@queue_app.command("show")
def queue_show(hit_id: int, db: DbOption = "triage.db") -> None:
    """One hit as JSON, with its indicators, evidence, entities and audit trail."""

    async def load() -> dict[str, Any]:
        from storage import open_store
        from storage.base import UnknownHitError

        async with open_store(db, create=False) as store:
            hit = await store.get_hit(hit_id)
            if hit is None:
                raise UnknownHitError(hit_id)
            rec = hit.to_json()
            rec["audit"] = [a.to_json() for a in await store.list_audit(hit_id=hit_id)]
        return rec

    typer.echo(json.dumps(_run(load), ensure_ascii=False, indent=2))


@queue_app.command("review")
def queue_review(
    hit_id: Annotated[int | None, typer.Argument(help="The hit to review (or use --all).")] = None,
    verdict: Annotated[str, typer.Option(help="confirmed|dismissed|escalated|pending")] = "",
    note: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
    reviewer: Annotated[str | None, typer.Option(
        help="Who decides [env TRIAGE_REVIEWER; default: the OS user]")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Bulk: every hit matching the filters.")] = (
        False
    ),
    status: Annotated[str, typer.Option(help="Bulk filter: current status (or all).")] = "pending",
    priority: Annotated[str | None, typer.Option(help="Bulk filter: high|medium|low")] = None,
    family: Annotated[str | None, typer.Option(help="Bulk filter: indicator family.")] = None,
    batch: Annotated[int | None, typer.Option(help="Bulk filter: batch id.")] = None,
    text: Annotated[str | None, typer.Option(help="Bulk filter: substring.")] = None,
    db: DbOption = "triage.db",
) -> None:
    """Record a verdict on one hit, or with --all on every hit matching the filters."""
    who = reviewer or default_reviewer()

    async def act() -> str:
        _choice("--verdict", verdict or None, VERDICTS)
        if not verdict:
            raise UsageError("--verdict is required (confirmed|dismissed|escalated)")
        if (hit_id is None) == (not all_):
            raise UsageError("give a HIT_ID, or --all with filters for a bulk review")
        _choice("--status", status, STATUSES)
        _choice("--priority", priority, PRIORITIES)
        from storage import open_store

        async with open_store(db, create=False) as store:
            if hit_id is not None:
                hit = await store.review(hit_id, verdict, who, note)
                return f"hit {hit.hit_id}: {hit.status} by {who}"
            ids = await store.review_where(
                verdict, who, note, status=None if status == "all" else status,
                priority=priority, family=family, batch_id=batch, text=text,
            )
            return f"{len(ids)} hits: {verdict} by {who}"

    typer.echo(_run(act))


@queue_app.command("assign")
def queue_assign(
    hit_id: int,
    assign: Annotated[str, typer.Option("--assign", help="Assignee (empty string: nobody).")],
    actor: Annotated[str | None, typer.Option(help="Who assigns [default: reviewer]")] = None,
    db: DbOption = "triage.db",
) -> None:
    """Assign a hit to an analyst (audited)."""
    who = actor or default_reviewer()

    async def act() -> str:
        from storage import open_store

        async with open_store(db, create=False) as store:
            hit = await store.assign(hit_id, assign or None, who)
        return f"hit {hit.hit_id}: assigned to {hit.assignee or 'nobody'} by {who}"

    typer.echo(_run(act))


# --------------------------------------------------------------------------- audit, export


@app.command("audit")
def audit(
    db: DbOption = "triage.db",
    hit: Annotated[int | None, typer.Option(help="Only this hit.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    fmt: FormatOption = "table",
) -> None:
    """The append-only audit log: who changed which hit, when, from what to what."""

    async def load() -> list[dict[str, Any]]:
        _choice("--format", fmt, ("table", "json", "csv"))
        from storage import open_store

        async with open_store(db, create=False) as store:
            return [a.to_json() for a in await store.list_audit(hit_id=hit, actor=actor)]

    _emit(_run(load), fmt, AUDIT_CSV, _audit_table)


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="jsonl|csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="File to write [default: stdout]")] = (
        None
    ),
    what: Annotated[str, typer.Option("--what", help="queue|audit")] = "queue",
    status: Annotated[str, typer.Option(help="Queue: which statuses (default all).")] = "all",
    db: DbOption = "triage.db",
) -> None:
    """Export the review queue (every hit) or the audit log as JSON Lines or CSV."""

    async def load() -> list[dict[str, Any]]:
        _choice("--format", fmt, ("jsonl", "csv"))
        _choice("--what", what, ("queue", "audit"))
        _choice("--status", status, STATUSES)
        from storage import open_store

        async with open_store(db, create=False) as store:
            if what == "audit":
                return [a.to_json() for a in await store.list_audit()]
            hits = await store.list_hits(status=None if status == "all" else status)
            return [h.to_json() for h in hits]

    records = _run(load)
    columns = AUDIT_CSV if what == "audit" else QUEUE_CSV
    if out is None:
        _emit(records, fmt, columns, _queue_table)
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        _emit(records, fmt, columns, _queue_table, fh)
    typer.echo(f"wrote {len(records)} {what} records to {out}", err=True)


# --------------------------------------------------------------------------- submit


@app.command("submit")
def submit(
    seeds: Annotated[list[Path], typer.Argument(help="Seed files (one URL a line, or CSV).")],
    db: DbOption = "triage.db",
    fmt: Annotated[str, typer.Option("--format", help="table|json")] = "table",
) -> None:
    """Enqueue seed batches for workers (`triage worker`); prints a receipt per batch."""

    async def act() -> list[dict[str, Any]]:
        _choice("--format", fmt, ("table", "json"))
        from crawler.seeds import open_seed_stream
        from storage import open_store

        # Every file is checked (size, UTF-8) and hashed first, streaming; then each is parsed
        # again line by line straight into its batch (one transaction a file), so memory stays
        # flat at a million URLs. Repeats within a file are counted by the store.
        files = []
        for path in seeds:
            if not path.is_file():
                raise UsageError(f"seed file not found: {path}")
            files.append(open_seed_stream(path))
        receipts = []
        async with open_store(db) as store:
            for sf in files:
                receipt = await store.add_batch(sf.source, sf.sha256, sf.seeds(), sf.rejects)
                receipts.append(receipt.to_json())
        return receipts

    receipts = _run(act)
    if fmt == "json":
        for rec in receipts:
            typer.echo(json.dumps(rec, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="batches submitted")
    for col in ("batch", "source", "accepted", "duplicates", "rejected", "sha256"):
        table.add_column(col, overflow="fold")
    for r in receipts:
        table.add_row(str(r["batch_id"]), r["source"], str(r["accepted"]),
                      str(r["duplicates"]), str(r["rejected"]), r["sha256"][:16])
    console.print(table)
    for r in receipts:
        for rej in r["rejects"]:
            console.print(f"{rej['source']}:{rej['line']}: {rej['reason']}: {rej['text']}",
                          markup=False, highlight=False)


# --------------------------------------------------------------------------- evidence


@evidence_app.command("verify")
def evidence_verify(
    db: DbOption = "triage.db",
    evidence_dir: EvidenceDirOption = Path("evidence"),
    fmt: Annotated[str, typer.Option("--format", help="text|json")] = "text",
) -> None:
    """Recompute every WARC hash (and each page's stored hashes); exit 1 on any mismatch."""

    async def act() -> dict[str, Any]:
        from crawler.errors import StoreError
        from crawler.evidence import verify
        from storage import open_store

        if not evidence_dir.is_dir():
            raise UsageError(f"evidence directory not found: {evidence_dir}")
        try:
            async with open_store(db, create=False) as store:
                return (await verify(evidence_dir, store)).to_json()
        except StoreError as exc:
            if "no database" not in str(exc):
                raise
        return (await verify(evidence_dir)).to_json()

    report = _run(act)
    if fmt == "json":
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        for problem in report["problems"]:
            typer.echo(f"FAIL {problem}")
        typer.echo(
            f"{'OK' if report['ok'] else 'FAILED'}: {report['files']} files, "
            f"{report['records']} records, {report['pages']} page references, "
            f"{len(report['problems'])} problems"
        )
    if not report["ok"]:
        raise typer.Exit(1)


@evidence_app.command("purge")
def evidence_purge(
    older_than_days: Annotated[float, typer.Option(
        "--older-than-days", help="Purge hits dismissed more than N days ago.")],
    db: DbOption = "triage.db",
    evidence_dir: EvidenceDirOption = Path("evidence"),
) -> None:
    """Retention: blank page text and drop WARC records of long-dismissed hits (audit kept)."""

    async def act() -> str:
        if older_than_days < 0:
            raise UsageError("--older-than-days must be 0 or more")
        from crawler.evidence import purge
        from storage import open_store

        async with open_store(db, create=False) as store:
            directory = evidence_dir if evidence_dir.is_dir() else None
            report = await purge(store, directory, older_than_days, actor=default_reviewer())
        return (f"purged {report.hits} dismissed hits: {report.pages} pages blanked, "
                f"{len(report.evidence)} WARC records dropped")

    typer.echo(_run(act))
