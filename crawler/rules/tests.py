"""Inline rule tests: every rule's positive and negative examples, run against the whole set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crawler.models import PRIORITY_ORDER, Document, Entity
from crawler.rules.engine import RuleSet
from crawler.rules.model import Example

EntityFn = Callable[[Document], Sequence[Entity]]


@dataclass(frozen=True, slots=True)
class TestResult:
    """One inline example's outcome; `str()` reads like a problem line."""

    __test__ = False  # not a pytest test class

    file: str
    line: int
    rule_id: str
    field: str  # e.g. "tests.positive[0]"
    passed: bool
    message: str = ""

    def __str__(self) -> str:
        status = "ok" if self.passed else "FAIL"
        tail = f": {self.message}" if self.message else ""
        return f"{self.file}:{self.line}: {self.rule_id}: {self.field}: {status}{tail}"


def example_document(example: Example) -> Document:
    return Document(
        url=example.url,
        title=example.title,
        body=example.body,
        contact=example.contact,
        meta=example.meta,
        language=example.language,
    )


def default_entities() -> EntityFn:
    """The entity extractor if it is installed, else no entities."""
    try:
        from crawler.entities import extract_entities
    except ImportError:
        return lambda doc: ()
    return extract_entities  # type: ignore[no-any-return]


def run_inline_tests(ruleset: RuleSet, entities: EntityFn | None = None) -> list[TestResult]:
    find = entities or default_entities()
    results: list[TestResult] = []
    for rule in ruleset.compiled():
        spec = rule.source.spec
        for kind in ("positive", "negative"):
            examples: list[Example] = getattr(spec.tests, kind)
            for i, example in enumerate(examples):
                field = f"tests.{kind}[{i}]"
                line = rule.source.line_of("tests", kind, i)
                doc = example_document(example)
                ev = ruleset.evaluate(doc, find(doc))
                fired = {ind.rule_id for ind in ev.indicators}
                failures: list[str] = []
                if spec.status == "deprecated":
                    pass
                elif kind == "negative":
                    if spec.id in fired:
                        spans = next(i.spans for i in ev.indicators if i.rule_id == spec.id)
                        shown = ", ".join(repr(s.text) for s in spans[:3])
                        failures.append(f"fired on a negative example (matched {shown})")
                else:
                    if spec.id not in fired:
                        failures.append("did not fire")
                    missing = [r for r in example.fires if r not in fired]
                    if missing:
                        failures.append(f"expected {', '.join(missing)} to fire too")
                    if example.min_score is not None and ev.score < example.min_score:
                        failures.append(f"score {ev.score:g} < min_score {example.min_score:g}")
                    if example.min_priority is not None and (
                        PRIORITY_ORDER[ev.priority] < PRIORITY_ORDER[example.min_priority]
                    ):
                        failures.append(
                            f"priority {ev.priority} < min_priority {example.min_priority}"
                        )
                results.append(
                    TestResult(rule.source.file, line, spec.id, field, not failures,
                               "; ".join(failures))
                )  # fmt: skip
    return results
