"""`triage serve`, `triage reviewer add|list`, `triage submit-http`."""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from crawler.cli.app import RulesOption, app
from crawler.errors import SettingsError, UsageError

reviewer_app = typer.Typer(
    help="Reviewer accounts for the review pages.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(reviewer_app, name="reviewer")

ReviewersOption = Annotated[
    Path | None,
    typer.Option("--reviewers-file", help="(env TRIAGE_REVIEWERS_FILE; default ./reviewers.json)"),
]


@app.command()
def serve(
    db: Annotated[str | None, typer.Option(
        "--db", "--database-url", help="SQLite path or postgresql://... (env TRIAGE_DATABASE_URL)",
        show_default=False)] = None,
    rules: RulesOption = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML or TOML settings file (keys as in docs/service.md)")] = None,
    host: Annotated[str | None, typer.Option(help="(env TRIAGE_HOST; default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(
        help="(env TRIAGE_PORT; default 8000; 0 = any free port)")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Crawling workers in this process (env TRIAGE_WORKERS; default 1)")] = None,
    no_crawl: Annotated[bool, typer.Option(
        "--no-crawl", help="API (and inbox) only: workers run elsewhere")] = False,
    inbox: Annotated[Path | None, typer.Option(
        help="Seed inbox directory (env TRIAGE_INBOX)")] = None,
    evidence_dir: Annotated[Path | None, typer.Option(
        help="WARC evidence directory (env TRIAGE_EVIDENCE_DIR)")] = None,
    reviewers_file: ReviewersOption = None,
    drain_seconds: Annotated[float | None, typer.Option(
        help="On SIGTERM, let in-flight fetches finish this long (default 20)")] = None,
    log_format: Annotated[str | None, typer.Option(
        help="auto | console | json (env TRIAGE_LOG_FORMAT)")] = None,
) -> None:
    """Run the service: seed inbox + crawling workers + HTTP API and review pages.

    Refuses to listen on a non-loopback address unless authentication is configured.
    SIGTERM drains and stops (a second one exits at once); SIGHUP reloads the rules.
    """
    from crawler.service import ServiceSettings, run_service

    settings = ServiceSettings.load(
        config_file=config, database_url=db, rules_path=rules, host=host, port=port,
        workers=workers, crawl=False if no_crawl else None, inbox=inbox,
        evidence_dir=evidence_dir, reviewers_file=reviewers_file, drain_seconds=drain_seconds,
        log_format=log_format,
    )
    if settings.reviewers_file is None and Path("reviewers.json").exists():
        settings = dataclasses.replace(settings, reviewers_file=Path("reviewers.json"))
    fetch = None
    if settings.crawl and settings.workers:
        from crawler.settings import FetchSettings

        fetch = FetchSettings.from_env()
    run_service(settings, fetch)


def _reviewers_path(path: Path | None) -> Path:
    return path or Path(os.environ.get("TRIAGE_REVIEWERS_FILE") or "reviewers.json")


@reviewer_app.command("add")
def reviewer_add(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ - @)")],
    reviewers_file: ReviewersOption = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from stdin instead of prompting")] = False,
) -> None:
    """Create or reset a reviewer account (password stored as an scrypt hash, file mode 0600)."""
    from crawler.api.auth import Reviewers

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("passwords differ")
    path = _reviewers_path(reviewers_file)
    try:
        Reviewers(path).add(name, password)
    except SettingsError as exc:
        raise UsageError(str(exc)) from exc
    typer.echo(f"reviewer {name} saved in {path}")


@reviewer_app.command("list")
def reviewer_list(reviewers_file: ReviewersOption = None) -> None:
    """List reviewer names."""
    from crawler.api.auth import Reviewers

    for name in Reviewers(_reviewers_path(reviewers_file)).names():
        typer.echo(name)


def submit_to_server(server: str, paths: list[Path], token: str | None) -> list[dict[str, Any]]:
    """POST each seed file to a running `triage serve` (`/api/batches`); returns the receipts."""
    import httpx

    from crawler.intake import decode_seed_bytes

    headers = {"authorization": f"Bearer {token}"} if token else {}
    receipts = []
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=60,
                      follow_redirects=False) as client:
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise UsageError(f"{path}: {exc.strerror}") from exc
            body = {"source": path.name, "text": decode_seed_bytes(data, path.name)}
            try:
                # JSON (not multipart): accepted with a token, a proxy header or on an open
                # loopback server, and never mistaken for a cross-site form post.
                response = client.post("/api/batches", json=body)
            except httpx.HTTPError as exc:
                raise UsageError(f"{server}: {exc}") from exc
            if response.status_code >= 400:
                try:
                    message = response.json().get("error", response.text)
                except ValueError:
                    message = response.text
                raise UsageError(f"{path}: server answered {response.status_code}: {message}")
            receipts.append(response.json())
    return receipts


@app.command("submit-http")
def submit_http(
    seeds: Annotated[list[Path], typer.Argument(help="Seed files (.txt or .csv)")],
    server: Annotated[str, typer.Option(
        "--server", help="Base URL of a running `triage serve`, e.g. http://127.0.0.1:8000")],
    token: Annotated[str | None, typer.Option(
        envvar="TRIAGE_API_TOKEN", help="API token (env TRIAGE_API_TOKEN)", show_default=False)
    ] = None,
) -> None:
    """Queue seed files on a running server (the database-level `triage submit` needs --db)."""
    for receipt in submit_to_server(server, seeds, token):
        typer.echo(json.dumps(receipt, ensure_ascii=False))
