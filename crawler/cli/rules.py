"""`triage rules check` and `triage scan`: check rule files; try rules on saved pages offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crawler.cli.app import RulesOption, app, rules_app
from crawler.errors import UsageError

if TYPE_CHECKING:
    from crawler.models import Document, Entity, Evaluation

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt", ".text", ".md")


@rules_app.command("check")
def check(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Rule files or directories [default: the rules directory]"),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems")] = False,
) -> None:
    """Validate rule files and run every rule's inline tests. Exit 0 only if all pass."""
    from crawler.rules import check_paths, default_rules_dir

    targets = list(paths) if paths else [default_rules_dir()]
    for target in targets:
        if not target.exists():
            raise UsageError(f"{target}: no such file or directory")
    report = check_paths(targets)
    for problem in report.problems:
        typer.echo(str(problem))
    for result in report.tests:
        if not result.passed or not quiet:
            typer.echo(str(result))
    if report.problems:
        typer.echo(f"{len(report.problems)} problem(s); inline tests not run", err=True)
        raise typer.Exit(1)
    failed = len(report.failures)
    typer.echo(
        f"{report.rules} rule(s), {len(report.tests)} inline test(s), {failed} failed "
        f"(rule set {report.ruleset_version})",
        err=True,
    )
    if failed:
        raise typer.Exit(1)


def _inputs(paths: list[str]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        if raw == "-":
            out.append(raw)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                str(p)
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in HTML_SUFFIXES + TEXT_SUFFIXES
            )
            if not files:
                raise UsageError(f"{raw}: no .html or .txt files in this directory")
            out.extend(files)
        elif path.is_file():
            out.append(raw)
        else:
            raise UsageError(f"{raw}: no such file or directory")
    return out


def _document(raw: str, url: str | None) -> Document:
    from crawler.models import Document

    if raw == "-":
        data = sys.stdin.buffer.read()
        page_url = url or "stdin:"
        is_html = data.lstrip()[:1] == b"<"
    else:
        path = Path(raw)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{raw}: cannot read: {exc.strerror or exc}") from exc
        page_url = url or path.resolve().as_uri()
        is_html = path.suffix.lower() in HTML_SUFFIXES
    if is_html:
        try:
            from crawler.extract import extract
        except ImportError:  # extractor not installed yet: treat the markup as text
            return Document(url=page_url, body=data.decode("utf-8", "replace"))
        doc: Document = extract(data, url=page_url, content_type="text/html")
        return doc
    return Document(url=page_url, body=data.decode("utf-8", "replace"))


def _entities(doc: Document) -> list[Entity]:
    try:
        from crawler.entities import extract_entities
    except ImportError:
        return []
    return list(extract_entities(doc))


def _record(raw: str, evaluation: Evaluation, entities: list[Entity]) -> dict[str, Any]:
    return {
        "path": raw,
        "score": evaluation.score,
        "priority": evaluation.priority,
        "ruleset_version": evaluation.ruleset_version,
        "family_scores": evaluation.family_scores,
        "indicators": [ind.to_json() for ind in evaluation.indicators],
        "entities": [ent.to_json() for ent in entities],
    }


def _table(record: dict[str, Any]) -> str:
    lines = [f"{record['path']}  score={record['score']:g}  priority={record['priority']}"]
    for ind in record["indicators"]:
        lines.append(
            f"  {ind['rule_id']} v{ind['rule_version']}  {ind['family']}  {ind['weight']:+g}"
        )
        for span in ind["evidence"][:5]:
            lines.append(f"      {span['scope']}[{span['start']}:{span['end']}] {span['text']!r}")
    for ent in record["entities"]:
        lines.append(f"  entity {ent['kind']}{':' + ent['subtype'] if ent['subtype'] else ''} "
                     f"{ent['value']}")  # fmt: skip
    return "\n".join(lines)


@app.command("scan")
def scan(
    paths: Annotated[list[str], typer.Argument(help="Saved .html/.txt files, directories, or -")],
    rules: RulesOption = None,
    output: Annotated[
        str, typer.Option("--format", "-f", help="json (one object per line) | table")
    ] = "table",
    url: Annotated[
        str | None, typer.Option("--url", help="Page URL to assume (for url-scoped rules)")
    ] = None,
) -> None:
    """Evaluate saved pages with the rules, without any network access."""
    if output not in ("json", "table"):
        raise UsageError(f"--format must be json or table, not {output!r}")
    if rules is not None and not rules.exists():
        raise UsageError(f"--rules {rules}: no such file or directory")
    inputs = _inputs(paths)
    from crawler.rules import load_ruleset

    ruleset = load_ruleset(rules)
    for raw in inputs:
        doc = _document(raw, url)
        entities = _entities(doc)
        record = _record(raw, ruleset.evaluate(doc, entities), entities)
        if output == "json":
            typer.echo(json.dumps(record, ensure_ascii=False))
        else:
            typer.echo(_table(record))


@rules_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of one rule document (the content of rules/schema.json)."""
    from crawler.rules.model import schema_text

    typer.echo(schema_text(), nl=False)
