"""`triage eval`: measure the rule packs on a labelled corpus, a CSV of ordinary ads, or verdicts.

    triage eval CORPUS.jsonl [--rules DIR] [--format table|json]
    triage eval ADS.csv --csv-map title=title,body=description+requirements \
        [--legit-column fraudulent --legit-value 0] [--max-flag-rate 0.02]
    triage eval --db triage.db

See docs/eval.md for the corpus format and what the figures mean.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crawler.cli.app import RulesOption, app
from crawler.errors import UsageError

if TYPE_CHECKING:
    from crawler.evaluation import EvalReport, Evaluator, FlagRateReport, ReviewReport

FORMATS = ("table", "json")


@app.command("eval")
def eval_command(
    corpus: Annotated[
        Path | None,
        typer.Argument(help="Labelled JSON Lines corpus (.jsonl) or a CSV of ads (.csv)"),
    ] = None,
    rules: RulesOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    db: Annotated[
        str | None,
        typer.Option("--db", help="Instead of a corpus: reviewers' verdicts in this store"),
    ] = None,
    csv_map: Annotated[
        str | None,
        typer.Option(
            "--csv-map",
            help="CSV columns per field: FIELD=COL[+COL...],... with FIELD in "
            "id,title,body,contact,meta,lang (default: same-named columns)",
        ),
    ] = None,
    legit_column: Annotated[
        str | None, typer.Option("--legit-column", help="CSV column telling ordinary rows apart")
    ] = None,
    legit_value: Annotated[
        str, typer.Option("--legit-value", help="Value of --legit-column on ordinary rows")
    ] = "0",
    lang: Annotated[
        str | None, typer.Option("--lang", help="Language of CSV rows without a lang column")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Misses / false alarms listed per label")] = 5,
    max_flag_rate: Annotated[
        float | None,
        typer.Option("--max-flag-rate", help="CSV mode: exit 1 if the flag rate is above this"),
    ] = None,
) -> None:
    """Precision/recall of the rules per family and for `risk` (priority >= medium)."""
    from crawler import evaluation

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if (corpus is None) == (db is None):
        raise UsageError("give either a corpus file or --db (not both)")
    if db is not None:
        review = asyncio.run(_review(db))
        _emit(fmt, review.to_json(), lambda: _review_table(review, top))
        return
    assert corpus is not None
    if not corpus.is_file():
        raise UsageError(f"corpus not found: {corpus}")
    ruleset = load_ruleset(rules)
    if corpus.suffix.lower() == ".csv" or csv_map is not None:
        ads = evaluation.load_csv(
            corpus, csv_map, legit_column=legit_column, legit_value=legit_value, lang=lang
        )
        flags = evaluation.evaluate_csv(ruleset, ads, source=str(corpus))
        _emit(fmt, flags.to_json(top), lambda: _flag_table(flags, top))
        if max_flag_rate is not None and flags.flag_rate > max_flag_rate:
            raise typer.Exit(1)
        return
    report = evaluation.evaluate_corpus(
        ruleset, evaluation.load_corpus(corpus), source=str(corpus)
    )
    _emit(fmt, report.to_json(top), lambda: _corpus_table(report, top))


def load_ruleset(rules_dir: Path | None) -> Evaluator:
    """The compiled rule set from `rules_dir` (default: the bundled pack)."""
    from crawler.rules import RuleHolder

    ruleset: Evaluator = RuleHolder(rules_dir).current
    return ruleset


async def _review(db: str) -> ReviewReport:
    from crawler.evaluation import review_report
    from storage import open_store

    async with open_store(db) as store:
        hits = await store.list_hits(status=None)
    return review_report(hits)


def _emit(fmt: str, data: dict[str, Any], table: Any) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        typer.echo(table())


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def _corpus_table(report: EvalReport, top: int) -> str:
    lines = [
        f"{report.source}: {report.ads} ads",
        f"{'label':<22}{'TP':>4}{'FP':>4}{'FN':>4}{'TN':>5}  {'prec':>5}  {'rec':>5}  {'F1':>5}",
    ]
    for r in report.labels:
        c = r.confusion
        lines.append(
            f"{r.label:<22}{c.tp:>4}{c.fp:>4}{c.fn:>4}{c.tn:>5}  "
            f"{_fmt(c.precision)}  {_fmt(c.recall)}  {_fmt(c.f1)}"
        )
    for r in report.labels:
        for kind, items in (("missed", r.misses), ("false alarm", r.false_alarms)):
            for o in items[:top]:
                fams = ",".join(o.families) or "-"
                lines.append(
                    f"  {r.label} {kind}: {o.id} score={o.score:.1f} {o.priority} "
                    f"families={fams} | {o.title}"
                )
    return "\n".join(lines)


def _flag_table(report: FlagRateReport, top: int) -> str:
    lines = [
        f"{report.source}: {report.rows} rows, {report.legit} known ordinary",
        f"ordinary rows flagged (priority >= medium): {len(report.legit_flagged)}/{report.legit}"
        f" = {report.flag_rate:.1%}",
        f"ordinary rows with any indicator: {report.legit_any_indicator}/{report.legit}",
    ]
    if report.family_rates:
        fams = ", ".join(f"{k}={v}" for k, v in report.family_rates.items())
        lines.append(f"families firing on ordinary rows: {fams}")
    if report.other:
        lines.append(f"other rows flagged: {report.other_flagged}/{report.other}")
    for o in report.legit_flagged[:top]:
        lines.append(f"  flagged: {o.id} score={o.score:.1f} {o.priority} "
                     f"rules={','.join(o.rules)} | {o.title}")
    return "\n".join(lines)


def _review_table(report: ReviewReport, top: int) -> str:
    lines = [
        f"{report.hits} hits; recall cannot be measured from verdicts (only flagged pages "
        "are reviewed)",
        f"{'':<40}{'confirmed':>10}{'dismissed':>10}{'pending':>8}  {'prec':>5}",
    ]

    def row(name: str, v: Any) -> str:
        return (f"{name:<40}{v.confirmed:>10}{v.dismissed:>10}{v.pending:>8}  "
                f"{_fmt(v.precision)}")

    lines.append(row("risk (priority >= medium)", report.risk))
    lines.extend(row(f"family {k}", v) for k, v in report.families.items())
    lines.extend(row(f"rule {k}", v) for k, v in report.rules.items())
    wasteful = report.wasteful_rules()[:top]
    if wasteful:
        lines.append("most dismissed rules: " + ", ".join(
            f"{r} ({v.dismissed} dismissed)" for r, v in wasteful))
    return "\n".join(lines)
