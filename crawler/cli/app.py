"""The Typer application and the options every command shares.

Each `crawler/cli/<area>.py` registers its commands on these apps. Keep this module light:
`triage --help` must stay fast, so heavy imports happen inside command functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="triage",
    help="Fetch public pages politely and safely, apply indicator rules, queue flags for review. "
    "It never decides: people do.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts show "[env X; default Y]" literally
    context_settings={"help_option_names": ["-h", "--help"]},
)
rules_app = typer.Typer(
    help="Check and try indicator rules.", no_args_is_help=True, rich_markup_mode=None
)
queue_app = typer.Typer(
    help="The review queue: list and review flagged pages.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
evidence_app = typer.Typer(
    help="WARC evidence of flagged pages.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(rules_app, name="rules")
app.add_typer(queue_app, name="queue")
app.add_typer(evidence_app, name="evidence")


def default_db() -> str:
    return os.environ.get("TRIAGE_DATABASE_URL") or os.environ.get("TRIAGE_DB") or "triage.db"


# Use as `db: DbOption = "triage.db"` (the env vars win over that default when set).
DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        "--database-url",
        help="SQLite path, sqlite:///PATH or postgresql://... "
        "[env TRIAGE_DATABASE_URL or TRIAGE_DB; default ./triage.db]",
        envvar=["TRIAGE_DATABASE_URL", "TRIAGE_DB"],
        show_envvar=False,
    ),
]
RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Rule pack directory [env TRIAGE_RULES; default: the bundled rules/]",
        envvar="TRIAGE_RULES",
        show_envvar=False,
    ),
]
