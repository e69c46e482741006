"""One pass over each text decides which patterns can match: the YARA-style atom -> verify design.

Per text form (view key) there is one RE2 set (`re2.Set`, literal mode) holding every literal of
every rule and the atoms of every regex. One pass of it over a page's UTF-8 text says which of
those strings occur (RE2's DFA, in C: no Python work per occurrence). Then, per string that
occurs, Python checks the whole-word requirement of its literals (`str.find` until an occurrence
qualifies; where they all occur is found later, only when needed) and marks the atom sets it
satisfies. The regexes whose atom sets are all satisfied (and the regexes without atoms) are
confirmed by `re2.Set`s of CHUNK regexes: one pass per chunk says which match at all. Where a
confirmed regex matches is only computed when a condition (count, near) or the evidence of a
fired rule needs it (engine.py).

Cost per page is one literal-set pass per view key in use (usually one or two) plus the work for
strings that actually occur, so it barely grows with the number of rules.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
import re2

from crawler.rules.normalize import View, ViewKey
from crawler.rules.patterns import MIN_ATOM, CompiledPattern

MAX_MATCHES = 1000  # per pattern per scope; a pathological page cannot blow up memory
# regexes per re2.Set. A set's DFA never gives up a search (RE2::Set cannot fall back to the
# NFA: a full cache is reset and the search goes on; Set compilation checks the DFA can run at
# all), so a big set costs at worst speed on odd text, never a missed match. 256 puts the
# shipped packs' ~300 regexes of the folded view in 2 sets instead of 6 (~10 % of evaluate on
# rescan pages; dense and adversarial 20 KB pages no slower, same RSS).
CHUNK = 256


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
    """The literal patterns of one prefilter string that behave identically (same whole-word
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


# one string of the literal set: (its index in the set, the string, literal entries,
# (regex gid, atom-set bit) pairs, the entries per scope, whether any entry is limited to languages,
# the string's UTF-8)
WordValue = tuple[
    int,
    str,
    tuple[LiteralEntry, ...],
    tuple[tuple[int, int], ...],
    dict[str, tuple[LiteralEntry, ...]],
    bool,
    bytes,  # the string's UTF-8
    frozenset[int],  # regexes with a single atom set, this string in it: candidates outright
    int,  # the string's length in characters
    dict[str, "ScopeCheck"],  # per scope: its entries and how scan_literals checks them
]

# How scan_literals decides whether a string's entries for one scope occur:
# [entries, mode, search]. mode NO_REQUIREMENT: the string occurring is enough; BOUNDED: all
# entries share one whole-word requirement, checked by `occurs_bounded` with `search` (the
# bytes search of `_bounded_utf8`, compiled on first use: most strings never occur); MIXED:
# requirements differ (byte loop).
ScopeCheck = list[Any]
NO_REQUIREMENT, BOUNDED, MIXED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class ViewPlan:
    key: ViewKey
    scopes: frozenset[str]
    words: Any  # re2.Set of every literal and atom string of this view (literal mode) | None
    values: tuple[WordValue, ...]  # per index in `words`
    automaton: Any  # ahocorasick.Automaton of the same strings (values as in `values`) | None
    unfiltered: tuple[int, ...]  # regex gids without atoms
    chunks: tuple[RegexChunk, ...] = ()  # every regex of this view, in re2.Sets
    chunk_of: dict[int, int] = field(default_factory=dict)  # regex gid -> chunk index
    gate: Any = None  # cased views: case-insensitive re2.Set run on the folded view first
    # regex gid -> the atom-set bits the automaton path needs (sets worth scanning, see
    # _worth_scanning; the RE2 set path needs every set: `needed_masks`)
    need_automaton: dict[int, int] = field(default_factory=dict)
    # the literal set's DFA can never fill its cache (see literal_set_bound): an empty result
    # of `words` is then trusted without the automaton pass that checks it otherwise
    exact: bool = False
    longest: int = 0  # UTF-8 bytes of the longest string in `words`


@dataclass(frozen=True, slots=True)
class RegexChunk:
    """Up to CHUNK regexes in one re2.Set: one pass says which of them match at all."""

    regex_set: Any  # re2.Set
    gids: tuple[tuple[int, ...], ...]  # per set index: the regex gids with that source


def build_plans(refs: Iterable[PatternRef]) -> dict[ViewKey, ViewPlan]:
    refs = list(refs)
    refs_key = {ref.gid: ref.pattern.key for ref in refs}
    words: dict[ViewKey, dict[str, tuple[list[tuple[int, Any]], list[tuple[int, int]]]]] = {}
    unfiltered: dict[ViewKey, list[int]] = {}
    nsets: dict[int, int] = {}  # regex gid -> number of atom sets
    scanned: dict[int, int] = {}  # regex gid -> bits of its sets worth scanning
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
            nsets[ref.gid] = len(p.atoms)
            worth = _worth_scanning(p.atoms)
            scanned[ref.gid] = sum(1 << k for k, a in enumerate(p.atoms) if a in worth)
            for k, atom_set in enumerate(p.atoms):
                for atom in atom_set:
                    table.setdefault(atom, ([], []))[1].append((ref.gid, 1 << k))
        else:
            unfiltered.setdefault(p.key, []).append(ref.gid)
    plans: dict[ViewKey, ViewPlan] = {}
    for key in scopes:
        values: list[WordValue] = []
        for vid, (word, (lits, regs)) in enumerate(words.get(key, {}).items()):
            entries = _entries(word, lits)
            by_scope = {
                sc: tuple(e for e in entries if sc in e.scopes)
                for sc in {sc for e in entries for sc in e.scopes}
            }
            langs = any(e.langs for e in entries)
            single = frozenset(gid for gid, _ in regs if nsets[gid] == 1)
            multi = tuple((gid, bit) for gid, bit in regs if nsets[gid] > 1)
            checks = {sc: [ents, _mode(ents), None] for sc, ents in by_scope.items() if ents}
            values.append(
                (vid, word, entries, multi, by_scope, langs, word.encode(), single, len(word),
                 checks)
            )  # fmt: skip
        automaton = None
        if values:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for value in values:
                # 3-character atoms of regexes with longer ones are left out of the automaton
                if value[2] or any(bit & scanned[gid] for gid, bit in value[3]) or value[7]:
                    automaton.add_word(value[1], value)
            automaton.make_automaton()
        the_set, exact = _literal_set([v[1] for v in values]) if values else (None, False)
        plans[key] = ViewPlan(
            key=key,
            scopes=frozenset(scopes[key]),
            words=the_set,
            exact=exact,
            longest=max((len(v[6]) for v in values), default=0),
            values=tuple(values),
            automaton=automaton,
            unfiltered=tuple(unfiltered.get(key, ())),
            need_automaton={gid: bits for gid, bits in scanned.items() if refs_key[gid] == key},
        )
    return plans


LITERAL_MEM = 64 << 20  # the literal set's memory budget (bounds the DFA cache a worker keeps)
EXACT_MEM = 1 << 30  # at most this budget is given to a set small enough to be exact


def literal_set_bound(words: Iterable[str]) -> int:
    """An upper bound, in bytes, of what the DFA of a literal re2.Set of `words` can ever hold.

    In an unanchored search for literal strings, the threads alive after any input are fixed
    by the longest suffix of the input that is a prefix of some word (the Aho-Corasick state),
    so the DFA has at most one state per distinct prefix (B + 1 for B bytes of words), times
    the flag variants of a state (counted as 8). A state holds at most every instruction of
    the program (under 4 per byte of the words, plus a few; counted twice for RE2's marks) as
    4-byte ints, and one pointer per byte class (at most 257), plus its header. With a budget
    of three times this bound the cache never fills, so a search never gives up: an empty
    result means that no word occurs. (The program itself and the work queues are far below
    the third left over.)
    """
    return _bound_of_size(sum(len(w.encode()) for w in words))


MAX_PARTS = 4  # a literal set too big to be exact is split into at most this many exact sets


class SplitSet:
    """Several exact literal re2.Sets used as one: `Match` gives the indices of the words that
    occur, over all parts (in no particular order; None when none does, like re2.Set). A set
    too big to be exact is split when a few exact parts hold it: a pass over a small set's DFA
    costs about what a pass over the big one costs, and an empty result then needs no
    automaton pass."""

    __slots__ = ("parts",)

    def __init__(self, parts: Sequence[tuple[int, Any]]) -> None:
        self.parts = tuple(parts)  # (index of the part's first word, its re2.Set)

    def Match(self, data: bytes) -> list[int] | None:  # re2.Set's name
        out: list[int] = []
        for offset, part in self.parts:
            found = part.Match(data)
            if found:
                out.extend([offset + i for i in found] if offset else found)
        return out or None


def _split_exact(words: list[str]) -> list[list[str]] | None:
    """`words` cut, in order, into at most MAX_PARTS runs each small enough to be exact (see
    literal_set_bound), or None when that many do not suffice."""
    parts: list[list[str]] = [[]]
    size = 0
    for word in words:
        n = len(word.encode())
        if parts[-1] and 3 * _bound_of_size(size + n) > EXACT_MEM:
            parts.append([])
            size = 0
            if len(parts) > MAX_PARTS:
                return None
        parts[-1].append(word)
        size += n
    if 3 * _bound_of_size(size) > EXACT_MEM:
        return None  # one word alone too big
    return parts


def _bound_of_size(b: int) -> int:
    """literal_set_bound of words of b UTF-8 bytes in all (it depends only on that)."""
    states = 8 * (b + 2)
    state = 64 + 8 * 257 + 4 * 2 * (4 * b + 16)
    return states * state


def _literal_set(words: list[str]) -> tuple[Any, bool]:
    """An re2.Set matching each word as an exact, case-sensitive string (the words and the
    text are folded alike), so `Match` says which words occur anywhere in the text; and
    whether its empty result can be trusted (the set is small: see literal_set_bound).
    A set too big to be exact that a few exact sets can hold is made of those (SplitSet)."""
    need = 3 * literal_set_bound(words)
    exact = need <= EXACT_MEM
    if not exact:
        parts = _split_exact(words)
        if parts is not None and len(parts) > 1:
            offsets = [0]
            for part in parts[:-1]:
                offsets.append(offsets[-1] + len(part))
            sets = [(o, _literal_set(p)[0]) for o, p in zip(offsets, parts, strict=True)]
            return SplitSet(sets), True
    options = re2.Options()
    options.log_errors = True
    options.literal = True
    options.case_sensitive = True
    options.max_mem = max(LITERAL_MEM, need) if exact else LITERAL_MEM
    the_set = re2.Set.SearchSet(options)
    for word in words:
        the_set.Add(word)
    the_set.Compile()
    return the_set, exact


def _mode(entries: tuple[LiteralEntry, ...]) -> int:
    """The mode of ScopeCheck for these entries (see there)."""
    ws, we = entries[0].word_start, entries[0].word_end
    if not all(e.word_start == ws and e.word_end == we for e in entries):
        return MIXED
    return BOUNDED if ws or we else NO_REQUIREMENT


def needed_masks(refs: list[PatternRef]) -> list[int]:
    """Per gid: the atom-set bits scan_literals must see before the regex is worth running."""
    return [(1 << len(r.pattern.atoms)) - 1 if r.pattern.atoms else -1 for r in refs]


def _worth_scanning(atoms: tuple[frozenset[str], ...]) -> tuple[frozenset[str], ...]:
    """The atom sets the automaton path looks for: 3-character atoms ("the", "our", "age")
    occur hundreds of times per page and every occurrence costs a step of its scan loop, so
    they are used only when a regex has no set of longer atoms. (Fewer sets only means the
    regex is confirmed by its re2.Set more often; which pages match does not change.) The RE2
    set path uses every set: an occurrence costs it nothing."""
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
    """Put each view's regexes into re2.Sets of CHUNK."""
    out: dict[ViewKey, ViewPlan] = {}
    regexes: dict[ViewKey, dict[str, list[int]]] = {}  # view key -> regex source -> gids
    for ref in refs:
        p = ref.pattern
        if p.regex is not None:
            regexes.setdefault(p.key, {}).setdefault(p.regex_source, []).append(ref.gid)
    for key, plan in plans.items():
        by_source = regexes.get(key, {})
        # regexes without atoms run on every scope of every page: packed into the first sets,
        # so a page runs the other sets only for the regexes its atoms call for; then the
        # regexes by how long the atoms of their most selective atom set are at least (a
        # regex needing a 7-letter string is rarely a candidate, one needing "the" or "our"
        # often): the last set then holds rare candidates and most pages do not run it
        always = set(plan.unfiltered)
        sources = sorted(
            by_source,
            key=lambda src: (
                not always.issuperset(by_source[src]),
                _selectivity(refs[by_source[src][0]].pattern.atoms),
            ),
        )
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
        if key.cased and plan.words is None and unfiltered and all(s.isascii() for s in unfiltered):
            gate = _regex_set(unfiltered, cased=False)
        out[key] = dataclasses.replace(plan, chunks=tuple(chunks), chunk_of=chunk_of, gate=gate)
    return out


def _selectivity(atoms: tuple[frozenset[str], ...] | None) -> int:
    """The length its most selective atom set guarantees: the longest of its atom sets'
    shortest atoms (0 without atoms)."""
    return max((min(len(a) for a in atom_set) for atom_set in atoms or () if atom_set), default=0)


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


PROBE = 4096  # bytes of a long text probed first for its density
DENSE = 200  # strings occurring in one text above which the automaton pass is cheaper

# ASCII bytes that are word characters (str.isalnum() or "_")
_ASCII_WORD = tuple(chr(b).isalnum() or b == 0x5F for b in range(128))


def scan_literals(
    plan: ViewPlan, view: View, need: list[int], scope: str, lang: str | None,
    found: list[LiteralEntry], dense: int = DENSE, given: list[int] | None = None,
) -> set[int]:  # fmt: skip
    """Append to `found` the literal entries that occur (whole-word where required) in the
    view's text; return the regexes worth running (each atom set the prefilter looks for has an
    atom here).

    Only *whether* a literal occurs is decided here: where it occurs is found later, and only
    for the literals a condition or the evidence of a fired rule asks about
    (`LiteralEntry.find`). One RE2 set pass says which strings occur at all; only those are
    looked at from Python, and only until one occurrence satisfies each entry (`bytes.find`
    on the UTF-8). When more than `dense` strings occur, those searches would each rescan the
    text, so the Aho-Corasick automaton walks it once instead (same result).

    `given`: the strings of the set that occur in the view, when known (joint_scan).
    """
    data = view.utf8().data
    if given is not None:
        if not given:
            return set()
        present: list[int] | None = given
    elif len(data) > 4 * PROBE:
        probed = plan.words.Match(data[:PROBE]) or []
        if len(probed) > dense // 2:
            # a long text dense in pack strings from its start: skip the set pass over all of it
            return _scan_automaton(plan, view.text, scope, lang, found)
        # the rest of the text: every occurrence not wholly in the probe starts at most
        # longest - 1 bytes before its end
        present = _union(probed, plan.words.Match(data[max(0, PROBE - plan.longest + 1) :]))
    else:
        present = plan.words.Match(data)
    if not present and plan.exact:
        return set()  # what the automaton would find: nothing
    if not present or len(present) > dense:
        # nothing found: cheap to confirm with the automaton (no hits to walk), and RE2
        # reports a set whose DFA ran out of memory only as "no match", never partly
        return _scan_automaton(plan, view.text, scope, lang, found)
    masks: dict[int, int] = {}
    single: set[int] = set()
    n = len(data)
    values = plan.values
    for index in present:
        value = values[index]
        direct = value[7]
        if direct:
            single |= direct
        for gid, bit in value[3]:
            masks[gid] = masks.get(gid, 0) | bit
        scope_check = value[9].get(scope)
        if scope_check is None:
            continue
        entries, mode, search = scope_check
        if lang and value[5]:
            kept = tuple(e for e in entries if not (e.langs and lang not in e.langs))
            if not kept:
                continue
            if mode == MIXED and len(kept) < len(entries):
                mode, search = _mode(kept), None
            entries = kept
        if mode == NO_REQUIREMENT:
            found.extend(entries)
            continue
        if mode == BOUNDED:
            # one requirement for all: one regex search in C on the UTF-8 (a string occurring
            # often inside other words costs the loop below a step per occurrence); ASCII
            # neighbours are checked by the regex, a non-ASCII one here (rare)
            first = entries[0]
            if search is None:
                search = _bounded_utf8(value[6], first.word_start, first.word_end).search
                if entries is scope_check[0]:
                    scope_check[2] = search
            if occurs_bounded(search, data, first.word_start, first.word_end):
                found.extend(entries)
            continue
        word = value[6]
        size = len(word)
        i = data.find(word)
        while i >= 0:
            if i > 0:
                b = data[i - 1]
                before = _ASCII_WORD[b] if b < 0x80 else _word_char_before(data, i)
            else:
                before = False
            j = i + size
            if j < n:
                b = data[j]
                after = _ASCII_WORD[b] if b < 0x80 else _word_char_at(data, j)
            else:
                after = False
            if not (before or after):
                found.extend(entries)
                break
            keep = []
            for entry in entries:
                if (entry.word_start and before) or (entry.word_end and after):
                    keep.append(entry)
                else:
                    found.append(entry)
            if not keep:
                break
            entries = tuple(keep)
            i = data.find(word, i + 1)
    single.update(gid for gid, mask in masks.items() if mask == need[gid])
    return single


def _union(first: list[int], second: list[int] | None) -> list[int]:
    """The indices in either list, each once."""
    if not second:
        return first
    if not first:
        return second
    seen = set(first)
    return first + [i for i in second if i not in seen]


_BOUNDED: dict[tuple[str, bool, bool], re.Pattern[str]] = {}


def _bounded(string: str, word_start: bool, word_end: bool) -> re.Pattern[str]:
    """A regex finding `string` where no word character precedes it (word_start) and none
    follows it (word_end). Python's `\\w` on str is exactly `c.isalnum() or c == "_"` (what
    `_is_word` and the byte checks decide); the string comes first, so the search runs on
    its literal prefix, and the character before is checked by a fixed-width lookbehind.
    (The plain form of the check on text; scan_literals runs `_bounded_utf8` on the UTF-8.)"""
    key = (string, word_start, word_end)
    pattern = _BOUNDED.get(key)
    if pattern is None:
        body = re.escape(string)
        source = body + (f"(?<!\\w{body})" if word_start else "") + ("(?!\\w)" if word_end else "")
        if len(_BOUNDED) > 50_000:
            _BOUNDED.clear()
        pattern = _BOUNDED[key] = re.compile(source)
    return pattern


def occurs_bounded(search: Any, data: bytes, word_start: bool, word_end: bool) -> bool:
    """Does the string of `search` (the `search` of its `_bounded_utf8` pattern) occur in the
    UTF-8 `data` with no word character before it (word_start) and none after it (word_end)?
    What `LiteralEntry.find` on the decoded text says (it is not empty)."""
    n = len(data)
    m = search(data)
    while m is not None:
        i, j = m.span()
        if (word_start and i > 0 and data[i - 1] >= 0x80 and _word_char_before(data, i)) or (
            word_end and j < n and data[j] >= 0x80 and _word_char_at(data, j)
        ):
            m = search(data, i + 1)  # a non-ASCII word character next to it: look further
            continue
        return True
    return False


_BOUNDED_UTF8: dict[tuple[bytes, bool, bool], re.Pattern[bytes]] = {}


def _bounded_utf8(word: bytes, word_start: bool, word_end: bool) -> re.Pattern[bytes]:
    """`_bounded` on UTF-8: finds `word` (UTF-8) where no ASCII word character (exactly the
    ASCII characters `str.isalnum()` or "_" accepts) precedes it (word_start) and none follows
    it (word_end). A non-ASCII neighbour is let through: the caller decides it by its
    character (`_word_char_before` / `_word_char_at`). On text that is not pure ASCII (one
    accent or euro sign makes Python store it with 2 or 4 bytes a character), the search runs
    over the UTF-8, about a third of the memory."""
    key = (word, word_start, word_end)
    pattern = _BOUNDED_UTF8.get(key)
    if pattern is None:
        body = re.escape(word)
        source = (
            body
            + (b"(?<![0-9A-Za-z_]" + body + b")" if word_start else b"")
            + (b"(?![0-9A-Za-z_])" if word_end else b"")
        )
        if len(_BOUNDED_UTF8) > 50_000:
            _BOUNDED_UTF8.clear()
        pattern = _BOUNDED_UTF8[key] = re.compile(source)
    return pattern


def _word_char_before(data: bytes, i: int) -> bool:
    """Is the (non-ASCII) character ending at byte i a word character?"""
    k = i - 1
    while data[k] & 0xC0 == 0x80:  # continuation byte
        k -= 1
    c = data[k:i].decode("utf-8")
    return c.isalnum()


def _word_char_at(data: bytes, j: int) -> bool:
    """Is the (non-ASCII) character starting at byte j a word character?"""
    b = data[j]
    size = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
    return data[j : j + size].decode("utf-8").isalnum()


def _scan_automaton(
    plan: ViewPlan, text: str, scope: str, lang: str | None, found: list[LiteralEntry]
) -> set[int]:
    """scan_literals for texts where many strings occur: one Aho-Corasick pass; a string is
    retired after the occurrence that settles all its entries."""
    automaton = plan.automaton
    need = plan.need_automaton
    masks: dict[int, int] = {}
    single: set[int] = set()
    n = len(text)
    done = bytearray(len(plan.values))
    pending: dict[int, tuple[LiteralEntry, ...]] = {}
    for end, value in automaton.iter(text):
        vid = value[0]
        if done[vid]:
            continue
        entries = pending.get(vid)
        if entries is None:
            single |= value[7]
            for gid, bit in value[3]:
                masks[gid] = masks.get(gid, 0) | bit
            entries = value[4].get(scope)
            if entries and lang and value[5]:
                entries = tuple(e for e in entries if not (e.langs and lang not in e.langs))
            if not entries:
                done[vid] = 1
                continue
            pending[vid] = entries
        start = end - value[8] + 1
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
                pending[vid] = tuple(keep)
                continue
        else:
            found.extend(entries)
        done[vid] = 1
    single.update(gid for gid, mask in masks.items() if mask & need[gid] == need[gid])
    return single


def scan_literals_reference(
    plan: ViewPlan, text: str, need: Sequence[int] | dict[int, int], scope: str, lang: str | None
) -> tuple[set[LiteralEntry], set[int]]:
    """What scan_literals must find, by brute force (every entry and atom searched on its own):
    with `need` from needed_masks for the RE2 set path, plan.need_automaton for the automaton
    path; for tests."""
    found: set[LiteralEntry] = set()
    masks: dict[int, int] = {}
    for _vid, word, entries, regs, _by_scope, _langs, _utf8, single, _size, _ in plan.values:
        if word not in text:
            continue
        for gid, bit in (*regs, *((g, 1) for g in single)):
            masks[gid] = masks.get(gid, 0) | bit
        for entry in entries:
            if scope not in entry.scopes or (lang and entry.langs and lang not in entry.langs):
                continue
            if entry.find(text):
                found.add(entry)
    return found, {gid for gid, mask in masks.items() if mask & need[gid] == need[gid]}


_ANCHORS = ("^", "$", "\\A", "\\z", "\\Z")


def joinable(plan: ViewPlan, refs: list[PatternRef]) -> bool:
    """Can `nothing_in_any` decide for this plan? Not when a regex without atoms has an anchor
    (`^` matches at the start of each scope's text, not in the middle of the joined text)."""
    return not any(
        any(a in refs[gid].pattern.regex_source for a in _ANCHORS) for gid in plan.unfiltered
    )


JOINT_LOCATE = 4  # strings found in joined views located by bytes.find (more: scan each view)


def nothing_in_any(plan: ViewPlan, views: list[View]) -> bool:
    """True when none of the plan's patterns can match in any of the views (joint_scan)."""
    return joint_scan(plan, views)[0]


def joint_scan(plan: ViewPlan, views: list[View]) -> tuple[bool, list[list[int]] | None]:
    """(nothing, present). nothing: none of the plan's patterns can match in any of the
    views: one RE2 pass of
    the literal set and of the sets holding the regexes without atoms over the views' texts
    joined by newlines. No view text holds a newline (folding turns whitespace into spaces)
    and no literal does, so a literal in any view is in the joined text; a regex without
    anchors (see `joinable`) that matches in a view matches the same characters there, as a
    newline counts as a non-word character like the text's ends. Extra matches across the
    joins only mean the views are then scanned one by one.

    present: when the literal set found at most JOINT_LOCATE strings in the joined text, the
    strings of the set in each view (what its own pass would give, as scan_literals' `given`):
    each string found is located by `bytes.find`, view by view (no string holds a newline, so
    every occurrence lies in one view); else None."""
    data = b"\n".join(v.utf8().data for v in views)
    if plan.words is not None:
        found = plan.words.Match(data)
        if found:
            if len(found) > JOINT_LOCATE:
                return False, None
            starts = [0]
            for v in views:
                starts.append(starts[-1] + len(v.utf8().data) + 1)
            present: list[list[int]] = [[] for _ in views]
            values = plan.values
            for index in found:
                word = values[index][6]
                pos = data.find(word)
                while pos >= 0:
                    k = bisect_right(starts, pos) - 1
                    present[k].append(index)
                    pos = data.find(word, starts[k + 1])
            return False, present
        if not plan.exact:  # the set said nothing: its DFA may have run out of memory
            text = "\n".join(v.text for v in views)
            if next(plan.automaton.iter(text), None) is not None:
                return False, None
    unfiltered = set(plan.unfiltered)
    for index in sorted({plan.chunk_of[g] for g in unfiltered}):
        chunk = plan.chunks[index]
        for i in chunk.regex_set.Match(data) or ():
            if not unfiltered.isdisjoint(chunk.gids[i]):
                return False, None
    return True, None


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
