"""One pass over each text decides which patterns can match: the YARA-style atom -> verify design.

Per text form (view key) there is one Aho-Corasick automaton holding every literal of every rule
and the atoms of every regex. Scanning a page's text once yields literal matches directly (after
the whole-word check) and the set of regexes worth running. Regexes without atoms are grouped in
one `re2.Set` per view key that says in one pass which of them match at all.

Cost per page is one automaton pass per view key in use (usually one or two) plus the work for
patterns that actually occur, so it barely grows with the number of rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ahocorasick
import re2

from crawler.rules.normalize import ViewKey, is_word_char
from crawler.rules.patterns import CompiledPattern

MAX_MATCHES = 1000  # per pattern per scope; a pathological page cannot blow up memory
MAX_ANCHORS = 64  # atom sightings remembered per regex; beyond, the regex scans the whole text


@dataclass(frozen=True, slots=True)
class PatternRef:
    """A pattern in the context of its rule: global id, owner, scopes."""

    gid: int
    rule: int
    selection: str
    pattern: CompiledPattern
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class ViewPlan:
    key: ViewKey
    scopes: frozenset[str]
    automaton: Any  # ahocorasick.Automaton | None
    unfiltered: tuple[int, ...]  # regex gids without atoms
    unfiltered_set: Any  # re2.Set over `unfiltered` (None when fewer than 2)
    gate: Any = None  # cased views: case-insensitive re2.Set run on the folded view first


def build_plans(refs: Iterable[PatternRef]) -> dict[ViewKey, ViewPlan]:
    words: dict[ViewKey, dict[str, tuple[list[int], list[tuple[int, int]]]]] = {}
    unfiltered: dict[ViewKey, list[int]] = {}
    scopes: dict[ViewKey, set[str]] = {}
    for ref in refs:
        p = ref.pattern
        scopes.setdefault(p.key, set()).update(ref.scopes)
        table = words.setdefault(p.key, {})
        if p.literal is not None:
            table.setdefault(p.literal, ([], []))[0].append(ref.gid)
        elif p.atoms is not None:
            for k, atom_set in enumerate(p.atoms):
                for atom in atom_set:
                    table.setdefault(atom, ([], []))[1].append((ref.gid, 1 << k))
        else:
            unfiltered.setdefault(p.key, []).append(ref.gid)
    plans: dict[ViewKey, ViewPlan] = {}
    for key in scopes:
        automaton = None
        if words.get(key):
            automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for word, (lits, regs) in words[key].items():
                automaton.add_word(word, (len(word), tuple(lits), tuple(regs)))
            automaton.make_automaton()
        plans[key] = ViewPlan(
            key=key,
            scopes=frozenset(scopes[key]),
            automaton=automaton,
            unfiltered=tuple(unfiltered.get(key, ())),
            unfiltered_set=None,
        )
    return plans


def attach_sets(plans: dict[ViewKey, ViewPlan], refs: list[PatternRef]) -> dict[ViewKey, ViewPlan]:
    """Group each view's unfiltered regexes into one re2.Set (index in set == position)."""
    out: dict[ViewKey, ViewPlan] = {}
    for key, plan in plans.items():
        the_set = None
        if len(plan.unfiltered) >= 2:
            options = re2.Options()
            options.log_errors = False
            options.case_sensitive = key.cased
            the_set = re2.Set.SearchSet(options)
            for gid in plan.unfiltered:
                the_set.Add(refs[gid].pattern.regex_source)
            the_set.Compile()
        gate = None
        sources = [refs[gid].pattern.regex_source for gid in plan.unfiltered]
        if key.cased and plan.automaton is None and sources and all(s.isascii() for s in sources):
            options = re2.Options()
            options.log_errors = False
            options.case_sensitive = False
            gate = re2.Set.SearchSet(options)
            for source in sources:
                gate.Add(source)
            gate.Compile()
        out[key] = ViewPlan(plan.key, plan.scopes, plan.automaton, plan.unfiltered, the_set, gate)
    return out


def scan_literals(
    automaton: Any, text: str, refs: list[PatternRef], scope: str, lang: str | None,
    found: dict[int, list[tuple[int, int]]],
) -> dict[int, list[tuple[int, int]] | None]:  # fmt: skip
    """Feed literal matches (view offsets) into `found`; return regexes worth running.

    The result maps each candidate regex to where its most selective atoms occur (or None when
    there are too many to be worth windowing). An automaton entry is retired for the rest of
    the text once it has nothing left to do, so a page of a million identical characters costs
    one cheap loop step per character.
    """
    masks: dict[int, int] = {}
    anchors: dict[int, list[tuple[int, int]]] = {}
    n = len(text)
    done: set[int] = set()
    for end, value in automaton.iter(text):
        vid = id(value)
        if vid in done:
            continue
        length, lits, regs = value
        live = False
        for gid, bit in regs:
            masks[gid] = masks.get(gid, 0) | bit
            if bit == 1:
                spots = anchors.setdefault(gid, [])
                if len(spots) <= MAX_ANCHORS:
                    spots.append((end - length + 1, end + 1))
                    live = True
        if lits:
            start = end - length + 1
            before = start > 0 and is_word_char(text[start - 1])
            after = end + 1 < n and is_word_char(text[end + 1])
            for gid in lits:
                ref = refs[gid]
                p = ref.pattern
                if scope not in ref.scopes or (lang and p.langs and lang not in p.langs):
                    continue
                hits = found.setdefault(gid, [])
                if len(hits) >= MAX_MATCHES:
                    continue
                live = True
                if (p.word_start and before) or (p.word_end and after):
                    continue
                hits.append((start, end + 1))
        if not live:
            done.add(vid)
    candidates: dict[int, list[tuple[int, int]] | None] = {}
    for gid, mask in masks.items():
        atoms = refs[gid].pattern.atoms
        if atoms is not None and mask == (1 << len(atoms)) - 1:
            seen = anchors.get(gid)
            candidates[gid] = seen if seen and len(seen) <= MAX_ANCHORS else None
    return candidates


def _windows(spots: list[tuple[int, int]], width: int, n: int) -> list[tuple[int, int]]:
    """Merged text windows that can hold a match of at most `width` containing an atom."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spots):
        ws, we = max(0, e - width), min(n, s + width)
        if out and ws <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], we))
        else:
            out.append((ws, we))
    return out


def _run(regex: Any, text: str, window: tuple[int, int] | None) -> list[tuple[int, int]]:
    if window is None:
        hits = []
        for m in regex.finditer(text):
            hits.append(m.span())
            if len(hits) >= MAX_MATCHES:
                break
        return hits
    # one character of context on each side so \b, ^ and $ see the real neighbours
    ws, we = window
    left, right = max(0, ws - 1), min(len(text), we + 1)
    sub = text[left:right]
    lo = ws - left
    hi = len(sub) - (right - we)
    return [
        (s + left, e + left)
        for s, e in (m.span() for m in regex.finditer(sub))
        if s >= lo and e <= hi
    ]


def scan_regexes(
    candidates: dict[int, list[tuple[int, int]] | None], text: str, refs: list[PatternRef],
    scope: str, lang: str | None, found: dict[int, list[tuple[int, int]]],
) -> None:  # fmt: skip
    """Run candidate regexes: near their atoms when the match length is bounded, else everywhere."""
    n = len(text)
    for gid in sorted(candidates):
        ref = refs[gid]
        p = ref.pattern
        if scope not in ref.scopes or (lang and p.langs and lang not in p.langs):
            continue
        spots = candidates[gid]
        if spots is None or p.max_width is None:
            hits = _run(p.regex, text, None)
        else:
            hits = []
            for window in _windows(spots, p.max_width, n):
                hits.extend(_run(p.regex, text, window))
                if len(hits) >= MAX_MATCHES:
                    break
        if hits:
            found.setdefault(gid, []).extend(hits[:MAX_MATCHES])


def unfiltered_candidates(plan: ViewPlan, text: str) -> Iterable[int]:
    if plan.unfiltered_set is None:
        return plan.unfiltered
    return [plan.unfiltered[i] for i in plan.unfiltered_set.Match(text) or ()]
