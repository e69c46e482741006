"""Measure a rule set against labelled ads, ordinary ads, or reviewers' verdicts.

Three sources of truth, one vocabulary (true/false positives, precision, recall):

    labelled JSONL corpus  --evaluate_corpus()-->  EvalReport     per family + `risk`
    CSV of ordinary ads    --evaluate_csv()----->  FlagRateReport flag rate on known-legit rows
    store verdicts         --review_report()---->  ReviewReport   confirmed vs dismissed per rule

A family is *predicted* for an ad when at least one indicator of that family fired with a
weight >= 0 (weight-0 rules such as `movement` count: they record the indicator; negative-weight
rules are counter-evidence and do not). `risk` is predicted when the priority is medium or high.
Pure functions over a rule set passed in; the CLI (`crawler/cli/eval.py`) only prints.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from crawler.errors import UsageError
from crawler.models import PRIORITY_ORDER, Document, Entity, Evaluation

RISK = "risk"
MEDIUM = PRIORITY_ORDER["medium"]
CSV_FIELDS = ("id", "title", "body", "contact", "meta", "lang")


class Evaluator(Protocol):
    """What evaluation needs from a compiled rule set (crawler.rules.RuleSet)."""

    def evaluate(self, doc: Document, entities: Sequence[Entity]) -> Evaluation: ...


EntityFn = Callable[[Document], Sequence[Entity]]


def default_entity_fn() -> EntityFn:
    """`crawler.entities.extract_entities` when that module is installed, else no entities."""
    try:
        from crawler.entities import extract_entities
    except ImportError:  # pragma: no cover - entities.py is written by another engineer
        return lambda _doc: ()
    return extract_entities  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class LabelledAd:
    """One ad of a corpus. `labels` holds a boolean per family plus `risk` (may be empty)."""

    id: str
    title: str = ""
    body: str = ""
    contact: str = ""
    lang: str | None = None
    meta: str = ""
    labels: Mapping[str, bool] = field(default_factory=dict)
    legit: bool | None = None  # CSV mode: the row is known to be an ordinary ad

    def document(self) -> Document:
        return Document(
            url="", title=self.title, body=self.body, contact=self.contact,
            meta=self.meta, language=self.lang,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the rule set said about one ad."""

    id: str
    title: str
    score: float
    priority: str
    families: tuple[str, ...]  # predicted families (see module docstring)
    rules: tuple[str, ...]
    family_scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def risky(self) -> bool:
        return PRIORITY_ORDER.get(self.priority, 0) >= MEDIUM

    def predicts(self, label: str) -> bool:
        return self.risky if label == RISK else label in self.families

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "score": round(self.score, 3),
            "priority": self.priority, "families": list(self.families), "rules": list(self.rules),
        }


@dataclass(slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
            "precision": _round(self.precision), "recall": _round(self.recall),
            "f1": _round(self.f1),
        }


@dataclass(frozen=True, slots=True)
class LabelReport:
    label: str
    confusion: Confusion
    misses: tuple[Outcome, ...]  # false negatives, quietest first
    false_alarms: tuple[Outcome, ...]  # false positives, loudest first

    def to_json(self, top: int) -> dict[str, Any]:
        return {
            "label": self.label, **self.confusion.to_json(),
            "misses": [o.to_json() for o in self.misses[:top]],
            "false_alarms": [o.to_json() for o in self.false_alarms[:top]],
        }


@dataclass(frozen=True, slots=True)
class EvalReport:
    source: str
    ads: int
    labels: tuple[LabelReport, ...]
    outcomes: tuple[Outcome, ...]

    def get(self, label: str) -> LabelReport:
        for report in self.labels:
            if report.label == label:
                return report
        raise KeyError(label)

    def to_json(self, top: int = 5) -> dict[str, Any]:
        return {
            "source": self.source, "ads": self.ads,
            "labels": [r.to_json(top) for r in self.labels],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# --------------------------------------------------------------------------- running rules


def run(ruleset: Evaluator, ad: LabelledAd, entity_fn: EntityFn) -> Outcome:
    doc = ad.document()
    evaluation = ruleset.evaluate(doc, entity_fn(doc))
    families = sorted({i.family for i in evaluation.indicators if i.weight >= 0})
    rules = sorted({i.rule_id for i in evaluation.indicators})
    return Outcome(
        id=ad.id, title=ad.title[:80], score=evaluation.score, priority=evaluation.priority,
        families=tuple(families), rules=tuple(rules),
        family_scores=dict(evaluation.family_scores),
    )


def evaluate_corpus(
    ruleset: Evaluator,
    ads: Sequence[LabelledAd],
    *,
    source: str = "",
    entity_fn: EntityFn | None = None,
) -> EvalReport:
    """Confusion counts per label found in the corpus (families first, `risk` last)."""
    efn = entity_fn or default_entity_fn()
    outcomes = [run(ruleset, ad, efn) for ad in ads]
    names = sorted({k for ad in ads for k in ad.labels if k != RISK})
    if any(RISK in ad.labels for ad in ads):
        names.append(RISK)
    reports = []
    for name in names:
        confusion = Confusion()
        misses: list[Outcome] = []
        alarms: list[Outcome] = []
        for ad, outcome in zip(ads, outcomes, strict=True):
            if name not in ad.labels:
                continue
            actual, predicted = bool(ad.labels[name]), outcome.predicts(name)
            confusion.add(predicted, actual)
            if actual and not predicted:
                misses.append(outcome)
            elif predicted and not actual:
                alarms.append(outcome)
        misses.sort(key=lambda o: (o.score, o.id))
        alarms.sort(key=lambda o: (-o.score, o.id))
        reports.append(LabelReport(name, confusion, tuple(misses), tuple(alarms)))
    return EvalReport(source, len(ads), tuple(reports), tuple(outcomes))


# --------------------------------------------------------------------------- JSONL corpus


def load_corpus(path: Path) -> list[LabelledAd]:
    """Read a labelled JSON Lines corpus; an error names the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read corpus {path}: {exc}") from exc
    ads = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not JSON: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise UsageError(f"{path}:{number}: expected a JSON object")
        labels = row.get("labels", {})
        if not isinstance(labels, dict) or not all(isinstance(v, bool) for v in labels.values()):
            raise UsageError(f"{path}:{number}: labels must be an object of booleans")
        for key in ("title", "body", "contact"):
            if not isinstance(row.get(key, ""), str):
                raise UsageError(f"{path}:{number}: {key} must be a string")
        ads.append(LabelledAd(
            id=str(row.get("id") or f"line-{number}"),
            title=row.get("title", ""), body=row.get("body", ""),
            contact=row.get("contact", ""), lang=row.get("lang") or None,
            labels=labels,
        ))
    return ads


# --------------------------------------------------------------------------- CSV of ordinary ads


@dataclass(frozen=True, slots=True)
class CsvMapping:
    """Which CSV columns make up each document field; several columns are joined by newlines.

    Spec syntax: ``title=title,body=description+requirements+company_profile,id=job_id``.
    Fields: id, title, body, contact, meta, lang.
    """

    columns: Mapping[str, tuple[str, ...]]

    @classmethod
    def parse(cls, spec: str | None, header: Sequence[str]) -> CsvMapping:
        if not spec:
            guessed = {f: (f,) for f in CSV_FIELDS if f in header}
            if "body" not in guessed and "description" in header:
                guessed["body"] = ("description",)
            if "id" not in guessed and "job_id" in header:
                guessed["id"] = ("job_id",)
            mapping = cls(guessed)
        else:
            columns: dict[str, tuple[str, ...]] = {}
            for part in spec.split(","):
                key, sep, value = part.partition("=")
                key = key.strip()
                if not sep or key not in CSV_FIELDS or not value.strip():
                    raise UsageError(
                        f"--csv-map: bad entry {part!r}; expected FIELD=COL[+COL...] "
                        f"with FIELD one of {', '.join(CSV_FIELDS)}"
                    )
                columns[key] = tuple(c.strip() for c in value.split("+") if c.strip())
            mapping = cls(columns)
        missing = [c for cols in mapping.columns.values() for c in cols if c not in header]
        if missing:
            raise UsageError(f"--csv-map: no such column(s): {', '.join(missing)}")
        if not {"title", "body"} & set(mapping.columns):
            raise UsageError("--csv-map: map at least one of title= or body=")
        return mapping

    def ad(self, row: Mapping[str, str], number: int, lang: str | None) -> LabelledAd:
        def get(name: str) -> str:
            cells = (html.unescape(row.get(c) or "").strip() for c in self.columns.get(name, ()))
            return "\n".join(c for c in cells if c)

        return LabelledAd(
            id=get("id") or f"row-{number}", title=get("title"), body=get("body"),
            contact=get("contact"), meta=get("meta"), lang=get("lang") or lang,
        )


def load_csv(
    path: Path,
    spec: str | None = None,
    *,
    legit_column: str | None = None,
    legit_value: str = "0",
    lang: str | None = None,
) -> list[LabelledAd]:
    """Rows of a CSV as ads; `legit` is set from `legit_column == legit_value` (else True)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            mapping = CsvMapping.parse(spec, header)
            if legit_column is not None and legit_column not in header:
                raise UsageError(f"--legit-column: no such column: {legit_column}")
            ads = []
            for number, row in enumerate(reader, start=2):
                ad = mapping.ad(row, number, lang)
                legit = True if legit_column is None else (
                    (row.get(legit_column) or "").strip() == legit_value
                )
                ads.append(_with_legit(ad, legit))
            return ads
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read CSV {path}: {exc}") from exc


def _with_legit(ad: LabelledAd, legit: bool) -> LabelledAd:
    return LabelledAd(ad.id, ad.title, ad.body, ad.contact, ad.lang, ad.meta, ad.labels, legit)


@dataclass(frozen=True, slots=True)
class FlagRateReport:
    source: str
    rows: int
    legit: int
    legit_flagged: tuple[Outcome, ...]  # legit rows at priority >= medium, loudest first
    legit_any_indicator: int  # legit rows with at least one indicator (any weight)
    family_rates: Mapping[str, int]  # legit rows on which each family fired
    other: int
    other_flagged: int

    @property
    def flag_rate(self) -> float:
        return len(self.legit_flagged) / self.legit if self.legit else 0.0

    def to_json(self, top: int = 10) -> dict[str, Any]:
        return {
            "source": self.source, "rows": self.rows, "legit_rows": self.legit,
            "legit_flagged": len(self.legit_flagged), "flag_rate": round(self.flag_rate, 4),
            "legit_with_any_indicator": self.legit_any_indicator,
            "legit_family_counts": dict(self.family_rates),
            "other_rows": self.other, "other_flagged": self.other_flagged,
            "flagged": [o.to_json() for o in self.legit_flagged[:top]],
        }


def evaluate_csv(
    ruleset: Evaluator,
    ads: Sequence[LabelledAd],
    *,
    source: str = "",
    entity_fn: EntityFn | None = None,
) -> FlagRateReport:
    """Flag rate (priority >= medium) on the rows known to be ordinary."""
    efn = entity_fn or default_entity_fn()
    flagged: list[Outcome] = []
    families: dict[str, int] = {}
    any_indicator = legit = other = other_flagged = 0
    for ad in ads:
        outcome = run(ruleset, ad, efn)
        if not ad.legit:
            other += 1
            other_flagged += outcome.risky
            continue
        legit += 1
        any_indicator += bool(outcome.rules)
        for fam in outcome.families:
            families[fam] = families.get(fam, 0) + 1
        if outcome.risky:
            flagged.append(outcome)
    flagged.sort(key=lambda o: (-o.score, o.id))
    return FlagRateReport(
        source, len(ads), legit, tuple(flagged), any_indicator,
        dict(sorted(families.items())), other, other_flagged,
    )


# --------------------------------------------------------------------------- reviewer verdicts

CONFIRMED = frozenset({"confirmed", "escalated"})
DISMISSED = frozenset({"dismissed"})


@dataclass(slots=True)
class Verdicts:
    confirmed: int = 0
    dismissed: int = 0
    pending: int = 0

    @property
    def precision(self) -> float | None:
        decided = self.confirmed + self.dismissed
        return self.confirmed / decided if decided else None

    def add(self, status: str) -> None:
        if status in CONFIRMED:
            self.confirmed += 1
        elif status in DISMISSED:
            self.dismissed += 1
        else:
            self.pending += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "confirmed": self.confirmed, "dismissed": self.dismissed, "pending": self.pending,
            "precision": _round(self.precision),
        }


@dataclass(frozen=True, slots=True)
class ReviewReport:
    """Reviewers' verdicts per family, per rule and for `risk` (hits at priority >= medium).

    Only flagged pages are reviewed, so recall cannot be measured here: confirmed hits are the
    true positives, dismissed hits the false positives (time the rule cost the team).
    """

    hits: int
    risk: Verdicts
    families: Mapping[str, Verdicts]
    rules: Mapping[str, Verdicts]

    def wasteful_rules(self) -> list[tuple[str, Verdicts]]:
        """Rules by dismissed hits, most first (then lowest precision)."""
        items = [(r, v) for r, v in self.rules.items() if v.dismissed]
        return sorted(items, key=lambda kv: (-kv[1].dismissed, kv[1].precision or 0.0, kv[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "hits": self.hits, "risk": self.risk.to_json(),
            "families": {k: v.to_json() for k, v in self.families.items()},
            "rules": {k: v.to_json() for k, v in self.rules.items()},
            "wasteful_rules": [r for r, _ in self.wasteful_rules()],
        }


def review_report(hits: Iterable[Any]) -> ReviewReport:
    """Aggregate `storage.base.HitRecord`s (anything with status, priority, indicators)."""
    risk = Verdicts()
    families: dict[str, Verdicts] = {}
    rules: dict[str, Verdicts] = {}
    count = 0
    for hit in hits:
        count += 1
        if PRIORITY_ORDER.get(hit.priority, 0) >= MEDIUM:
            risk.add(hit.status)
        fams = {i.get("family", "") for i in hit.indicators if i.get("weight", 0) >= 0}
        for fam in sorted(fams):
            families.setdefault(fam, Verdicts()).add(hit.status)
        for rule in sorted({i.get("rule_id", "") for i in hit.indicators}):
            rules.setdefault(rule, Verdicts()).add(hit.status)
    return ReviewReport(count, risk, dict(sorted(families.items())), dict(sorted(rules.items())))
