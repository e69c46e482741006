"""`triage ...` commands. Thin: parse options, call into the modules, print results."""

from __future__ import annotations

import sys

from crawler.cli import crawl as _crawl  # noqa: F401  (registers commands)
from crawler.cli import eval as _eval  # noqa: F401
from crawler.cli import networks as _networks  # noqa: F401
from crawler.cli import queue as _queue  # noqa: F401
from crawler.cli import rescan as _rescan  # noqa: F401
from crawler.cli import rules as _rules  # noqa: F401
from crawler.cli import serve as _serve  # noqa: F401
from crawler.cli.app import app
from crawler.errors import TriageError, UsageError


def main() -> None:
    """Entry point: known errors become one line on stderr (exit 2 for usage, 1 otherwise)."""
    try:
        app()
    except UsageError as exc:
        print(f"triage: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except TriageError as exc:
        print(f"triage: error: {exc}", file=sys.stderr)
        sys.exit(1)
