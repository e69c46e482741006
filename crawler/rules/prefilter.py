"""One pass over each text decides which patterns can match: the YARA-style atom -> verify design.

Per text form (view key) there is one Aho-Corasick automaton holding every literal of every rule
and the atoms of every regex. Scanning a page's text once yields the literals that occur (after
the whole-word check; where they occur is found later, only when needed) and the regexes whose
atoms all occur. Those candidates (and the regexes
without atoms) are then confirmed by `re2.Set`s of CHUNK regexes: one pass per chunk says which
match at all. Where a confirmed regex matches is only computed when a condition (count, near) or
the evidence of a fired rule needs it (engine.py).

Cost per page is one automaton pass per view key in use (usually one or two) plus the work for
patterns that actually occur, so it barely grows with the number of rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
import re2

from crawler.rules.normalize import View, ViewKey
from crawler.rules.patterns import MIN_ATOM, CompiledPattern

MAX_MATCHES = 1000  # per pattern per scope; a pathological page cannot blow up memory
CHUNK = 64  # regexes per re2.Set (bigger sets are faster but risk RE2's DFA memory budget)


@dataclass(frozen=True, slots=True)
class PatternRef:
    """A pattern in the context of its rule: global id, owner, scopes."""

    gid: int
    rule: int
    selection: str
    pattern: CompiledPattern
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True, eq=False)
class LiteralEntry:
    """The literal patterns of one automaton key that behave identically (same whole-word
    flags, scopes and languages): a common word used by many rules is checked once."""

    literal: str
    word_start: bool
    word_end: bool
    scopes: frozenset[str]
    langs: frozenset[str]
    gids: tuple[int, ...]

    def find(self, text: str) -> list[tuple[int, int]]:
        """Every (overlapping) whole-word occurrence in `text`, at most MAX_MATCHES."""
        lit, n, size = self.literal, len(text), len(self.literal)
        ws, we = self.word_start, self.word_end
        hits: list[tuple[int, int]] = []
        i = text.find(lit)
        while i >= 0:
            j = i + size
            if not (ws and i > 0 and _is_word(text[i - 1])) and not (
                we and j < n and _is_word(text[j])
            ):
                hits.append((i, j))
                if len(hits) >= MAX_MATCHES:
                    break
            i = text.find(lit, i + 1)
        return hits


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


# automaton value: (value id, literal length, literal entries, (regex gid, atom-set bit) pairs)
# plus the entries per scope, and whether any entry is limited to languages
AutomatonValue = tuple[
    int,
    int,
    tuple[LiteralEntry, ...],
    tuple[tuple[int, int], ...],
    dict[str, tuple[LiteralEntry, ...]],
    bool,
]


@dataclass(frozen=True, slots=True)
class ViewPlan:
    key: ViewKey
    scopes: frozenset[str]
    automaton: Any  # ahocorasick.Automaton | None
    unfiltered: tuple[int, ...]  # regex gids without atoms
    chunks: tuple[RegexChunk, ...] = ()  # every regex of this view, in re2.Sets
    chunk_of: dict[int, int] = field(default_factory=dict)  # regex gid -> chunk index
    gate: Any = None  # cased views: case-insensitive re2.Set run on the folded view first


@dataclass(frozen=True, slots=True)
class RegexChunk:
    """Up to CHUNK regexes in one re2.Set: one pass says which of them match at all."""

    regex_set: Any  # re2.Set
    gids: tuple[tuple[int, ...], ...]  # per set index: the regex gids with that source


def build_plans(refs: Iterable[PatternRef]) -> dict[ViewKey, ViewPlan]:
    words: dict[ViewKey, dict[str, tuple[list[tuple[int, Any]], list[tuple[int, int]]]]] = {}
    unfiltered: dict[ViewKey, list[int]] = {}
    scopes: dict[ViewKey, set[str]] = {}
    for ref in refs:
        p = ref.pattern
        scopes.setdefault(p.key, set()).update(ref.scopes)
        table = words.setdefault(p.key, {})
        if p.literal is not None:
            table.setdefault(p.literal, ([], []))[0].append(
                (ref.gid, (p.word_start, p.word_end, ref.scopes, p.langs))
            )
        elif p.atoms is not None:
            for k, atom_set in enumerate(_worth_scanning(p.atoms)):
                for atom in atom_set:
                    table.setdefault(atom, ([], []))[1].append((ref.gid, 1 << k))
        else:
            unfiltered.setdefault(p.key, []).append(ref.gid)
    plans: dict[ViewKey, ViewPlan] = {}
    for key in scopes:
        automaton = None
        if words.get(key):
            automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for vid, (word, (lits, regs)) in enumerate(words[key].items()):
                entries = _entries(word, lits)
                by_scope = {
                    sc: tuple(e for e in entries if sc in e.scopes)
                    for sc in {sc for e in entries for sc in e.scopes}
                }
                langs = any(e.langs for e in entries)
                value = (vid, len(word), entries, tuple(regs), by_scope, langs)
                automaton.add_word(word, value)
            automaton.make_automaton()
        plans[key] = ViewPlan(
            key=key,
            scopes=frozenset(scopes[key]),
            automaton=automaton,
            unfiltered=tuple(unfiltered.get(key, ())),
        )
    return plans


def needed_masks(refs: list[PatternRef]) -> list[int]:
    """Per gid: the atom-set bits scan_literals must see before the regex is worth running."""
    return [
        (1 << len(_worth_scanning(r.pattern.atoms))) - 1 if r.pattern.atoms else -1 for r in refs
    ]


def _worth_scanning(atoms: tuple[frozenset[str], ...]) -> tuple[frozenset[str], ...]:
    """The atom sets the automaton looks for: 3-character atoms ("the", "our", "age") occur
    hundreds of times per page and every occurrence costs a step of the scan loop, so they are
    used only when a regex has no set of longer atoms. (Fewer sets only means the regex is
    confirmed by its re2.Set more often; which pages match does not change.)"""
    longer = tuple(s for s in atoms if min(len(a) for a in s) > MIN_ATOM)
    return longer or atoms


def _entries(word: str, lits: list[tuple[int, Any]]) -> tuple[LiteralEntry, ...]:
    classes: dict[Any, list[int]] = {}
    for gid, behaviour in lits:
        classes.setdefault(behaviour, []).append(gid)
    return tuple(
        LiteralEntry(word, ws, we, scopes, langs, tuple(gids))
        for (ws, we, scopes, langs), gids in classes.items()
    )


def _regex_set(sources: Iterable[str], cased: bool) -> Any:
    options = re2.Options()
    # RE2 reports a Set whose DFA runs out of memory only through its log: keep it on stderr
    options.log_errors = True
    options.case_sensitive = cased
    options.max_mem = 128 << 20
    the_set = re2.Set.SearchSet(options)
    for source in sources:
        the_set.Add(source)
    the_set.Compile()
    return the_set


def attach_sets(plans: dict[ViewKey, ViewPlan], refs: list[PatternRef]) -> dict[ViewKey, ViewPlan]:
    """Put each view's regexes into re2.Sets of CHUNK (small sets keep RE2's DFA small)."""
    out: dict[ViewKey, ViewPlan] = {}
    for key, plan in plans.items():
        by_source: dict[str, list[int]] = {}
        for ref in refs:
            if ref.pattern.is_regex and ref.pattern.key == key:
                by_source.setdefault(ref.pattern.regex_source, []).append(ref.gid)
        sources = list(by_source)
        chunks: list[RegexChunk] = []
        chunk_of: dict[int, int] = {}
        for i in range(0, len(sources), CHUNK):
            part = sources[i : i + CHUNK]
            for source in part:
                for gid in by_source[source]:
                    chunk_of[gid] = len(chunks)
            chunks.append(
                RegexChunk(_regex_set(part, key.cased), tuple(tuple(by_source[s]) for s in part))
            )
        gate = None
        unfiltered = [refs[gid].pattern.regex_source for gid in plan.unfiltered]
        if (
            key.cased
            and plan.automaton is None
            and unfiltered
            and all(s.isascii() for s in unfiltered)
        ):
            gate = _regex_set(unfiltered, cased=False)
        out[key] = ViewPlan(
            plan.key, plan.scopes, plan.automaton, plan.unfiltered, tuple(chunks), chunk_of, gate
        )
    return out


def confirm(plan: ViewPlan, candidates: set[int], view: View) -> set[int]:
    """The candidate regexes that match somewhere in `text` (one re2.Set pass per chunk)."""
    data = view.utf8().data
    by_chunk: dict[int, set[int]] = {}
    for gid in candidates:
        by_chunk.setdefault(plan.chunk_of[gid], set()).add(gid)
    confirmed: set[int] = set()
    for index, wanted in by_chunk.items():
        chunk = plan.chunks[index]
        for i in chunk.regex_set.Match(data) or ():
            confirmed.update(g for g in chunk.gids[i] if g in wanted)
    return confirmed


def scan_literals(
    automaton: Any, text: str, need: list[int], scope: str, lang: str | None,
    found: list[LiteralEntry],
) -> set[int]:  # fmt: skip
    """Append to `found` the literal entries that occur (whole-word where required) in `text`;
    return the regexes worth running (each atom set the automaton looks for has an atom here).

    Only *whether* a literal occurs is decided here: where it occurs is found later, and only
    for the literals a condition or the evidence of a fired rule asks about
    (`LiteralEntry.find`). So an automaton value is retired after its first valid occurrence
    and every later occurrence costs one cheap loop step.
    """
    masks: dict[int, int] = {}
    n = len(text)
    done = bytearray(len(automaton))
    pending: dict[int, Sequence[LiteralEntry]] = {}
    for end, value in automaton.iter(text):
        vid = value[0]
        if done[vid]:
            continue
        entries = pending.get(vid)
        if entries is None:
            for gid, bit in value[3]:
                masks[gid] = masks.get(gid, 0) | bit
            entries = value[4].get(scope)
            if entries and lang and value[5]:
                entries = [e for e in entries if not (e.langs and lang not in e.langs)]
            if not entries:
                done[vid] = 1
                continue
            pending[vid] = entries
        start = end - value[1] + 1
        if start > 0:
            c = text[start - 1]
            before = c.isalnum() or c == "_"
        else:
            before = False
        if end + 1 < n:
            c = text[end + 1]
            after = c.isalnum() or c == "_"
        else:
            after = False
        if before or after:
            keep = []
            for entry in entries:
                if (entry.word_start and before) or (entry.word_end and after):
                    keep.append(entry)
                else:
                    found.append(entry)
            if keep:
                pending[vid] = keep
                continue
        else:
            found.extend(entries)
        done[vid] = 1
    return {gid for gid, mask in masks.items() if mask == need[gid]}


def find_all(regex: Any, view: View) -> list[tuple[int, int]]:
    """Where `regex` matches in the view text (character offsets, at most MAX_MATCHES).

    Runs on the UTF-8 bytes: google-re2's str interface does per-match work in Python that
    costs about three times as much.
    """
    utf8 = view.utf8()
    hits: list[tuple[int, int]] = []
    for m in regex.finditer(utf8.data):
        hits.append(m.span())
        if len(hits) >= MAX_MATCHES:
            break
    if hits and len(utf8.data) != len(view.text):
        flat = utf8.chars([x for span in hits for x in span])
        hits = list(zip(flat[::2], flat[1::2], strict=True))
    return hits
