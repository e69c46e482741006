"""One exception tree for triage. Library errors are translated at the edge, chained with `from`.

    TriageError
    ├── UsageError            bad command-line input or settings (CLI exits 2, one line)
    │   └── SettingsError     a setting is invalid; names the key
    ├── SeedError             a seed file cannot be read at all (a bad *line* is a SeedReject)
    ├── RuleLoadError         rule files are broken; carries every RuleProblem found
    ├── StoreError            the database refused or is unusable
    │   └── SchemaTooNewError the database was written by a newer triage
    └── FetchError            internal to fetch.py; always turned into a FetchResult

A failure of one URL is a recorded outcome (FetchResult), never an exception escaping a worker.
"""

from __future__ import annotations

from dataclasses import dataclass


class TriageError(Exception):
    """Root of every error triage raises on purpose."""


class UsageError(TriageError):
    """Bad command-line input. The CLI prints the message on one line and exits 2."""


class SettingsError(UsageError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class SeedError(TriageError):
    """A seed file cannot be read at all (missing, unreadable, not text)."""


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One problem in a rule file, printed as `file:line: rule-id: field: message`."""

    file: str
    line: int
    rule_id: str
    field: str
    message: str

    def __str__(self) -> str:
        rule, where = self.rule_id or "-", self.field or "-"
        return f"{self.file}:{self.line}: {rule}: {where}: {self.message}"


class RuleLoadError(TriageError):
    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(TriageError):
    """The database refused an operation or is unusable."""


class SchemaTooNewError(StoreError):
    """The database schema is newer than this program understands."""


class FetchError(TriageError):
    """Raised inside fetch.py only; converted to a FetchResult before leaving it."""
