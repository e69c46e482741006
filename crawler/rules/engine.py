"""RuleSet: an immutable compiled rule pack, and its evaluation of one Document.

views per scope (normalize.py) -> one literal-set pass per view (prefilter.py)
  -> regexes whose atoms occur, confirmed by re2.Sets -> conditions of the rules touched
  (condition.py; regex spans found only when count/near/evidence need them)
  -> indicators with evidence on the original text -> score and priority (scoring.py)
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crawler.models import SCOPES, Document, Entity, Evaluation, Indicator, Span
from crawler.rules.compile import CompiledRule
from crawler.rules.model import PackSettings
from crawler.rules.normalize import View, ViewKey, Views
from crawler.rules.prefilter import (
    LiteralEntry,
    PatternRef,
    ViewPlan,
    attach_sets,
    build_plans,
    confirm,
    find_all,
    joinable,
    joint_scan,
    needed_masks,
    scan_literals,
)
from crawler.rules.scoring import score_indicators

MAX_SPANS = 20
CONTEXT = 40  # characters each side of a match
NEAR_HITS = 200  # hits per selection and scope considered by near()
_WORD = re.compile(r"\w+")
_FOLDED = ViewKey()
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What the API and CLI show about one loaded rule."""

    id: str
    version: int
    family: str
    level: str
    weight: float
    title: str
    status: str
    file: str
    line: int
    tags: tuple[str, ...]
    languages: tuple[str, ...]
    falsepositives: tuple[str, ...]
    description: str
    condition: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "family": self.family,
            "level": self.level,
            "weight": self.weight,
            "title": self.title,
            "status": self.status,
            "file": self.file,
            "line": self.line,
            "tags": list(self.tags),
            "languages": list(self.languages),
            "falsepositives": list(self.falsepositives),
            "description": self.description,
            "condition": self.condition,
        }


class Occurrences:
    """Where one literal entry or regex matches in one view; found on first use."""

    __slots__ = ("_spans", "finder", "view")

    def __init__(self, view: View, finder: LiteralEntry | Any) -> None:
        self.view = view
        self.finder = finder  # a LiteralEntry, or an re2 regex
        self._spans: list[tuple[int, int]] | None = None

    def spans(self) -> list[tuple[int, int]]:
        if self._spans is None:
            f = self.finder
            if type(f) is LiteralEntry:
                self._spans = f.find(self.view.text)
            else:
                self._spans = find_all(f, self.view)
        return self._spans


# One pattern's matches in one scope: (pattern index in its selection, scope, occurrences).
# A plain tuple: a page creates one per matching pattern and rule, so it must be cheap.
Group = tuple[int, str, Occurrences]


def _positions(groups: list[Group], shared: View | None) -> list[tuple[int, int]]:
    """The groups' matches, sorted (at most NEAR_HITS): offsets in `shared` when every group
    is in that one view (no mapping needed), else offsets in the original text."""
    out: list[tuple[int, int]] = []
    for _, _, occ in groups:
        spans = occ.spans()[:NEAR_HITS]
        view = occ.view
        out.extend(spans if shared is not None else (view.to_original(s, e) for s, e in spans))
    out.sort()
    return out[:NEAR_HITS]


class _PageContext:
    """Answers a condition's questions for one rule on one page."""

    def __init__(self, doc: Document, hits: dict[str, list[Group]], kinds: set[tuple[str, str]]):
        self.doc = doc
        self.hits = hits
        self.kinds = kinds

    def matched(self, sel: str) -> bool:
        return sel in self.hits

    def distinct(self, sel: str) -> int:
        return len({g[0] for g in self.hits.get(sel, ())})

    def count(self, sel: str) -> int:
        return sum(len(g[2].spans()) for g in self.hits.get(sel, ()))

    def extracted(self, kind: str, subtype: str) -> bool:
        return (kind, subtype) in self.kinds

    def near(self, a: str, b: str, within: int) -> bool:
        groups_a, groups_b = self.hits.get(a), self.hits.get(b)
        if not groups_a or not groups_b:
            return False
        for scope in {g[1] for g in groups_a} & {g[1] for g in groups_b}:
            in_a = [g for g in groups_a if g[1] == scope]
            in_b = [g for g in groups_b if g[1] == scope]
            views = {id(g[2].view): g[2].view for g in in_a + in_b}
            shared = next(iter(views.values())) if len(views) == 1 else None
            text = shared.text if shared is not None else self.doc.text(scope)  # type: ignore[arg-type]
            spans_a, spans_b = _positions(in_a, shared), _positions(in_b, shared)
            starts_b = [s for s, _ in spans_b]
            for sa, ea in spans_a:
                j = bisect_left(starts_b, sa)
                for sb, eb in spans_b[max(0, j - 2) : j + 2]:
                    if sa < eb and sb < ea:
                        return True  # overlapping
                    x, y = (eb, sa) if eb <= sa else (ea, sb)
                    if _few_words(text, x, y, within):
                        return True
        return False


def _few_words(text: str, start: int, end: int, limit: int) -> bool:
    """Are there at most `limit` words in text[start:end]? (stops counting early)"""
    for n, _ in enumerate(_WORD.finditer(text, start, end)):
        if n >= limit:
            return False
    return True


def _span(doc: Document, scope: str, start: int, end: int) -> Span:
    text = doc.text(scope)  # type: ignore[arg-type]
    context = _SPACES.sub(" ", text[max(0, start - CONTEXT) : end + CONTEXT])
    return Span(scope=scope, start=start, end=end, text=text[start:end], context=context)  # type: ignore[arg-type]


def _lang(doc: Document) -> str | None:
    if not doc.language:
        return None
    return doc.language.lower().replace("_", "-").split("-")[0]


class RuleSet:
    """An immutable compiled rule pack. Build with `load_ruleset()`; share freely between tasks."""

    def __init__(self, rules: Sequence[CompiledRule], settings: PackSettings) -> None:
        self._rules = tuple(rules)
        self.settings = settings
        self.rules: list[RuleInfo] = [_info(r) for r in self._rules]
        self.version = _version(self._rules, settings)
        active = [i for i, r in enumerate(self._rules) if r.source.spec.status != "deprecated"]
        refs: list[PatternRef] = []
        for ri in active:
            for sel in self._rules[ri].selections.values():
                scopes, name = frozenset(sel.scopes), sel.name
                for p in sel.patterns:
                    refs.append(PatternRef(len(refs), ri, name, p, scopes))
        self._refs = refs
        self._plans: dict[ViewKey, ViewPlan] = attach_sets(build_plans(refs), refs)
        self._scopes: tuple[str, ...] = tuple(
            s for s in SCOPES if any(s in plan.scopes for plan in self._plans.values())
        )
        self._always = tuple(ri for ri in active if self._rules[ri].always)
        # derived text forms (leet, digits) rarely match: all scopes are checked in one pass
        self._joint = frozenset(
            key
            for key, plan in self._plans.items()
            if key != _FOLDED and plan.gate is None and joinable(plan, refs)
        )
        self._need = needed_masks(refs)
        # regexes per scope, and those limited to languages (what _applies() decides, in bulk)
        regex_refs = [r for r in refs if r.pattern.regex is not None]
        self._regex_in: dict[str, frozenset[int]] = {
            scope: frozenset(r.gid for r in regex_refs if scope in r.scopes) for scope in SCOPES
        }
        self._lang_limited = frozenset(r.gid for r in refs if r.pattern.langs)
        # (rule, selection) pairs as small ints: a page collects its matches per slot
        slots: dict[tuple[int, str], int] = {}
        self._target: list[tuple[int, int]] = []  # gid -> (slot, pattern index)
        for ref in refs:
            slot = slots.setdefault((ref.rule, ref.selection), len(slots))
            self._target.append((slot, ref.pattern.index))
        self._slot_rule: list[int] = [ri for ri, _ in slots]
        self._rule_slots: dict[int, tuple[tuple[str, int], ...]] = {}
        for (ri, name), slot in slots.items():
            self._rule_slots[ri] = (*self._rule_slots.get(ri, ()), (name, slot))
        # per rule: the slots of the selections its condition needs (condition.needed)
        self._needs: list[tuple[int, ...]] = [
            tuple(slots[(ri, sel)] for sel in sorted(rule.condition.needs) if (ri, sel) in slots)
            for ri, rule in enumerate(self._rules)
        ]
        self._entry_targets: dict[LiteralEntry, tuple[tuple[int, int], ...]] = {}
        for plan in self._plans.values():
            for entry in _literal_entries(plan):
                self._entry_targets[entry] = tuple(self._target[g] for g in entry.gids)

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"<RuleSet {self.version} rules={len(self._rules)}>"

    def describe(self) -> list[dict[str, Any]]:
        return [info.to_json() for info in self.rules]

    def evaluate(
        self,
        doc: Document,
        entities: Sequence[Entity] = (),
        *,
        extra_indicators: Sequence[Indicator] = (),
        linked_to_flagged_network: bool = False,
    ) -> Evaluation:
        by_slot: dict[int, list[Group]] = {}
        for targets, scope, occ in self._scan(doc):
            for slot, index in targets:
                groups = by_slot.get(slot)
                if groups is None:
                    by_slot[slot] = [(index, scope, occ)]
                else:
                    groups.append((index, scope, occ))
        slot_rule = self._slot_rule
        touched = {slot_rule[slot] for slot in by_slot}
        touched.update(self._always)
        kinds: set[tuple[str, str]] = set()
        for ent in entities:
            kinds.add((ent.kind, ""))
            if ent.subtype:
                kinds.add((ent.kind, ent.subtype.lower()))
        indicators: list[Indicator] = []
        needs = self._needs
        for ri in sorted(touched):
            if not all(slot in by_slot for slot in needs[ri]):
                continue  # a selection the condition needs did not match: it is false
            rule = self._rules[ri]
            hits = {
                sel: by_slot[slot] for sel, slot in self._rule_slots.get(ri, ()) if slot in by_slot
            }
            if rule.condition.eval(_PageContext(doc, hits, kinds)):
                indicators.append(self._indicator(doc, rule, hits))
        indicators.extend(extra_indicators)
        score, prio, families = score_indicators(
            indicators, self.settings, linked=linked_to_flagged_network
        )
        return Evaluation(
            score=score,
            priority=prio,
            indicators=tuple(indicators),
            ruleset_version=self.version,
            family_scores=families,
        )

    def _scan(self, doc: Document) -> list[tuple[tuple[tuple[int, int], ...], str, Occurrences]]:
        """Every match: ((slot, pattern index) of each pattern, scope, where they match)."""
        lang = _lang(doc)
        out: list[tuple[tuple[tuple[int, int], ...], str, Occurrences]] = []
        by_scope: list[tuple[str, Views]] = []
        for scope in self._scopes:
            text = doc.text(scope)  # type: ignore[arg-type]
            if text:
                by_scope.append((scope, Views(text)))
        for key, plan in self._plans.items():
            in_plan = [(scope, views) for scope, views in by_scope if scope in plan.scopes]
            given: list[list[int]] | None = None  # the literal set's strings per scope, if known
            if key in self._joint and len(in_plan) > 1:
                nothing, given = joint_scan(plan, [views.get(key) for _, views in in_plan])
                if nothing:
                    continue  # one pass over all scopes at once: no pattern of this form occurs
            for k, (scope, views) in enumerate(in_plan):
                if plan.gate is not None and not plan.gate.Match(views.get(_FOLDED).utf8().data):
                    continue  # nothing in the case-folded text: the cased view cannot match
                view = views.get(key)
                found: list[LiteralEntry] = []
                candidates: set[int] = set()
                if plan.words is not None:
                    candidates = scan_literals(
                        plan, view, self._need, scope, lang, found,
                        given=None if given is None else given[k],
                    )  # fmt: skip
                candidates.update(plan.unfiltered)
                targets = self._entry_targets
                out.extend((targets[e], scope, Occurrences(view, e)) for e in found)
                candidates &= self._regex_in[scope]
                if lang and not self._lang_limited.isdisjoint(candidates):
                    candidates = {g for g in candidates if self._applies(g, scope, lang)}
                if candidates:
                    refs = self._refs
                    for g in confirm(plan, candidates, view):
                        occ = Occurrences(view, refs[g].pattern.regex)
                        out.append(((self._target[g],), scope, occ))
        return out

    def _applies(self, gid: int, scope: str, lang: str | None) -> bool:
        ref = self._refs[gid]
        langs = ref.pattern.langs
        return scope in ref.scopes and not (lang and langs and lang not in langs)

    def _indicator(
        self, doc: Document, rule: CompiledRule, hits: dict[str, list[Group]]
    ) -> Indicator:
        order: dict[str, int] = {s: i for i, s in enumerate(SCOPES)}
        evidence: set[tuple[int, int, int, str]] = set()
        for sel, groups in hits.items():
            if sel not in rule.evidence_selections:
                continue
            for _, scope, occ in groups:
                for s, e in occ.spans()[:MAX_SPANS]:
                    start, end = occ.view.to_original(s, e)
                    evidence.add((order.get(scope, 9), start, end, scope))
        spec = rule.source.spec
        return Indicator(
            rule_id=spec.id,
            rule_version=spec.version,
            family=spec.family,
            level=spec.level,
            weight=spec.weight,
            title=spec.title,
            spans=tuple(_span(doc, scope, s, e) for _, s, e, scope in sorted(evidence)[:MAX_SPANS]),
        )

    def compiled(self) -> tuple[CompiledRule, ...]:
        return self._rules


def _literal_entries(plan: ViewPlan) -> list[LiteralEntry]:
    return [entry for value in plan.values for entry in value[2]]


def _info(rule: CompiledRule) -> RuleInfo:
    spec = rule.source.spec
    return RuleInfo(
        id=spec.id,
        version=spec.version,
        family=spec.family,
        level=spec.level,
        weight=spec.weight,
        title=spec.title,
        status=spec.status,
        file=rule.source.file,
        line=rule.source.line,
        tags=tuple(spec.tags),
        languages=tuple(spec.languages),
        falsepositives=tuple(spec.falsepositives),
        description=spec.description,
        condition=spec.condition,
    )


def _version(rules: Sequence[CompiledRule], settings: PackSettings) -> str:
    payload = {
        "rules": sorted([r.source.spec.id, r.source.spec.version] for r in rules),
        "settings": settings.model_dump(mode="json"),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return digest[:12]
