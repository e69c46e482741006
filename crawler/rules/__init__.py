"""The rule engine: load and check YAML indicator rules, compile them, evaluate Documents.

    rules/*.yaml --loader.py--> RuleSpec (model.py) --compile.py--> CompiledRule
                 --engine.py--> RuleSet.evaluate(Document, entities) -> Evaluation

The format is documented in rules/README.md. Public API:

    load_ruleset(paths=None) -> RuleSet        raises RuleLoadError with every problem
    RuleHolder(paths=None)                     .current, .reload() (keeps the last good set)
    check_paths(paths) -> CheckReport          schema problems + inline test results
    default_rules_dir() -> Path                env TRIAGE_RULES, else the repo's rules/
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from crawler.errors import RuleLoadError, RuleProblem
from crawler.rules.engine import RuleInfo, RuleSet
from crawler.rules.tests import EntityFn, TestResult

__all__ = [
    "CheckReport",
    "RuleHolder",
    "RuleInfo",
    "RuleSet",
    "TestResult",
    "check_paths",
    "default_rules_dir",
    "load_ruleset",
]

log = structlog.get_logger("triage.rules")


def default_rules_dir() -> Path:
    """`TRIAGE_RULES` if set, else the `rules/` directory next to the `crawler` package."""
    env = os.environ.get("TRIAGE_RULES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "rules"


def _as_paths(paths: Sequence[Path] | Path | str | None) -> list[Path]:
    if paths is None:
        return [default_rules_dir()]
    if isinstance(paths, str | Path):
        return [Path(paths)]
    return [Path(p) for p in paths]


def _build(paths: Sequence[Path] | Path | str | None) -> tuple[RuleSet | None, list[RuleProblem]]:
    # building a pack allocates some 10^5 small objects, none of them garbage in a cycle: the
    # cyclic collector would only walk the whole heap several times meanwhile (~20 % of it)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_all(paths)
    finally:
        if enabled:
            gc.enable()


def _build_all(
    paths: Sequence[Path] | Path | str | None,
) -> tuple[RuleSet | None, list[RuleProblem]]:
    from crawler.rules.compile import compile_rule
    from crawler.rules.loader import load_specs
    from crawler.rules.patterns import save_atom_cache

    loaded = load_specs(_as_paths(paths))
    problems = list(loaded.problems)
    compiled = []
    unique = {id(rule) for rule in loaded.rules}
    for rule in loaded.rules + loaded.duplicates:
        result, rule_problems = compile_rule(rule)
        problems.extend(rule_problems)
        if result is not None and id(rule) in unique:
            compiled.append(result)
    save_atom_cache()
    if problems:
        problems.sort(key=lambda p: (p.file, p.line))
        return None, problems
    return RuleSet(compiled, loaded.settings), []


def load_ruleset(paths: Sequence[Path] | Path | str | None = None) -> RuleSet:
    """Load, validate and compile rule files (directories: every *.yaml/*.yml + settings.yaml)."""
    ruleset, problems = _build(paths)
    if ruleset is None:
        raise RuleLoadError(problems)
    return ruleset


class RuleHolder:
    """Holds the current RuleSet; `reload()` swaps in a new one only if it loads cleanly.

    The first load raises RuleLoadError (a service must not start without rules); later reloads
    keep the last good set and return the problems.
    """

    def __init__(self, paths: Sequence[Path] | Path | str | None = None) -> None:
        self.paths = _as_paths(paths)
        self._lock = threading.Lock()
        self._current = load_ruleset(self.paths)
        self.last_problems: list[RuleProblem] = []

    @property
    def current(self) -> RuleSet:
        return self._current

    def reload(self) -> list[RuleProblem]:
        with self._lock:
            ruleset, problems = _build(self.paths)
            self.last_problems = problems
            if ruleset is None:
                log.warning(
                    "rules_reload_failed",
                    problems=len(problems),
                    first=str(problems[0]) if problems else "",
                    kept=self._current.version,
                )
                return problems
            if ruleset.version != self._current.version:
                log.info("rules_reloaded", old=self._current.version, new=ruleset.version)
            self._current = ruleset  # one reference assignment: atomic for readers
            return []


@dataclass(frozen=True)
class CheckReport:
    """What `triage rules check` prints: load problems, then inline test results."""

    problems: list[RuleProblem]
    tests: list[TestResult] = field(default_factory=list)
    rules: int = 0
    ruleset_version: str = ""

    @property
    def failures(self) -> list[TestResult]:
        return [t for t in self.tests if not t.passed]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failures


def check_paths(
    paths: Sequence[Path] | Path | str | None = None, *, entities: EntityFn | None = None
) -> CheckReport:
    """Validate rule files and run every inline test (tests run only when everything loads)."""
    from crawler.rules.tests import run_inline_tests

    ruleset, problems = _build(paths)
    if ruleset is None:
        return CheckReport(problems=problems)
    return CheckReport(
        problems=[],
        tests=run_inline_tests(ruleset, entities),
        rules=len(ruleset),
        ruleset_version=ruleset.version,
    )
