"""`triage rescan`: re-evaluate stored pages with the current rules, no fetching."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from crawler.cli.app import DbOption, RulesOption, app

if TYPE_CHECKING:
    from crawler.rescan import RescanReport


@app.command("rescan")
def rescan_command(
    db: DbOption = "triage.db",
    rules: RulesOption = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="VERSION",
                     help="Only pages fetched since rule-set VERSION first recorded a hit"),
    ] = None,
    after_page: Annotated[
        int, typer.Option("--after-page", help="Resume after this page id (printed at the end)")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Re-evaluate stored pages with the current rules (no fetching); verdicts are kept.

    Pages that now fire get a new hit under the current rule-set version; a reviewer's verdict
    on the same content is carried forward to it.
    """
    import asyncio

    from crawler.rescan import rescan
    from crawler.rules import load_ruleset
    from storage import open_store

    ruleset = load_ruleset(rules)

    def progress(r: RescanReport) -> None:
        if sys.stderr.isatty():
            print(f"\rrescan: {r.evaluated} pages, {r.new_hits} new hits", end="",
                  file=sys.stderr, flush=True)

    async def run() -> RescanReport:
        async with open_store(db, create=False) as store:
            return await rescan(store, ruleset, since=since, after_page_id=after_page,
                                progress=progress)

    report = asyncio.run(run())
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    typer.echo(
        f"rescan with rule set {report.ruleset_version}: {report.evaluated} pages evaluated "
        f"({report.superseded} older versions skipped) in {report.seconds:.1f} s "
        f"({report.pages_per_second:.0f} pages/s); {report.flagged} fire: "
        f"{report.new_hits} new hits ({report.verdicts_kept} with the reviewer's verdict kept), "
        f"{report.unchanged} unchanged; {report.no_longer_fire} earlier hits no longer fire "
        f"(left as they are); last page {report.last_page_id}"
    )
