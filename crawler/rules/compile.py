"""Validated RuleSpecs -> compiled rules (patterns, conditions), with every problem collected."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.errors import RuleProblem
from crawler.rules.condition import Condition, ConditionError, always_possible, parse_condition
from crawler.rules.loader import SourcedRule
from crawler.rules.patterns import CompiledPattern, PatternError, compile_pattern


@dataclass(frozen=True, slots=True)
class CompiledSelection:
    name: str
    scopes: tuple[str, ...]
    patterns: tuple[CompiledPattern, ...]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    source: SourcedRule
    selections: dict[str, CompiledSelection]
    condition: Condition
    evidence_selections: frozenset[str]  # named outside `not`
    always: bool  # condition can be true with no selection matching

    @property
    def id(self) -> str:
        return self.source.spec.id


def compile_rule(rule: SourcedRule) -> tuple[CompiledRule | None, list[RuleProblem]]:
    spec = rule.spec
    problems: list[RuleProblem] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        problems.append(RuleProblem(rule.file, rule.line_of(*path), spec.id, _field(path), message))

    if spec.status in ("test", "stable") and not (spec.tests.positive and spec.tests.negative):
        problem(
            ("tests",),
            f"status {spec.status!r} needs at least one positive and one negative test",
        )
    selections: dict[str, CompiledSelection] = {}
    for name, sel in spec.selections.items():
        compiled: list[CompiledPattern] = []
        for i, item in enumerate(sel.patterns):
            try:
                compiled.append(compile_pattern(i, item, list(sel.modifiers)))
            except PatternError as exc:
                problem(("selections", name, "patterns", i), str(exc))
        selections[name] = CompiledSelection(name, sel.scopes(), tuple(compiled))
    try:
        condition = parse_condition(
            spec.condition, {n: len(s.patterns) for n, s in spec.selections.items()}
        )
    except ConditionError as exc:
        problem(("condition",), str(exc))
        return None, problems
    unused = sorted(set(spec.selections) - condition.referenced())
    for name in unused:
        problem(("selections", name), "selection is defined but not used in the condition")
    if problems:
        return None, problems
    return (
        CompiledRule(
            source=rule,
            selections=selections,
            condition=condition,
            evidence_selections=frozenset(condition.positive()),
            always=always_possible(condition, list(selections)),
        ),
        [],
    )


def _field(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out
