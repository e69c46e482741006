"""Compiled patterns: folded literals and RE2 regexes, plus the literal atoms a regex needs.

An *atom set* of a regex is a set of literal strings such that every match of the regex contains
at least one of them; a regex has up to three such sets, all of which must be satisfied
(`\\b(only|just)\\s+(usdt|btc)\\b` -> {"only", "just"} and {"usdt", "btc"}). The prefilter finds
atoms with Aho-Corasick; a regex runs only on scopes where every one of its sets has an atom.
Regexes without a usable set (all atoms at least 3 characters) run on every page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import re2

from crawler.rules.atomcache import AtomCache, cache_dir
from crawler.rules.model import LiteralPattern, RegexPattern
from crawler.rules.normalize import ViewKey, fold_literal, fold_regex, is_word_char

MIN_ATOM = 3
_MAX_SET = 64
_MAX_CLASS = 16

_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_BACKREF = re.compile(r"(?<!\\)(?:\\\\)*\\([1-9]|k<|g<|g\{|k\{|\(\?P=)")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 64 << 20


class PatternError(ValueError):
    """A pattern cannot be compiled; the message names the pattern."""


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    index: int  # position in its selection
    source: str  # as written, for messages and describe()
    key: ViewKey
    langs: frozenset[str]
    literal: str | None = None  # folded literal (literal patterns)
    word_start: bool = False
    word_end: bool = False
    regex: Any = None  # re2 compiled regex (regex patterns)
    atoms: tuple[frozenset[str], ...] | None = None  # prefilter atom sets; None = unfiltered
    regex_source: str = ""  # the folded source RE2 compiled (without the case flag)

    @property
    def is_regex(self) -> bool:
        return self.regex is not None


def _key(modifiers: set[str] | frozenset[str]) -> ViewKey:
    return ViewKey(
        cased="cased" in modifiers, leet="leet" in modifiers, digits="digits" in modifiers
    )


_NO_LANGS: frozenset[str] = frozenset()


def compile_pattern(
    index: int, item: str | LiteralPattern | RegexPattern, selection_modifiers: list[str]
) -> CompiledPattern:
    if isinstance(item, str):
        # plain literals are most of a pack, repeated across rules (same word, same place)
        return _literal_pattern(index, item, frozenset(selection_modifiers), _NO_LANGS)
    mods = set(selection_modifiers) | set(item.modifiers)
    langs = frozenset(item.lang)
    if isinstance(item, RegexPattern):
        return _compile_regex(index, item.re, _key(mods), langs)
    return _literal_pattern(index, item.text, frozenset(mods), langs)


@lru_cache(maxsize=16384)
def _literal_pattern(
    index: int, text: str, mods: frozenset[str], langs: frozenset[str]
) -> CompiledPattern:
    """A literal pattern (a pure function of its arguments: computed once per process; the
    result is immutable and may be shared by rules). PatternError is raised again each time."""
    key = _key(mods)
    folded = fold_literal(text, key)
    if not folded:
        raise PatternError(f"literal '{text}' is empty after normalisation")
    substring = "substring" in mods
    return CompiledPattern(
        index=index,
        source=text,
        key=key,
        langs=langs,
        literal=folded,
        word_start=not substring and is_word_char(folded[0]),
        word_end=not substring and is_word_char(folded[-1]),
    )


def compile_re2(source: str, *, cased: bool) -> Any:
    """Compile with RE2; lookaround/backreferences and anything RE2 rejects raise PatternError."""
    if _LOOKAROUND.search(source):
        raise PatternError(f"regex '{source}' uses lookaround, which RE2 does not support")
    if _BACKREF.search(source):
        raise PatternError(f"regex '{source}' uses a backreference, which RE2 does not support")
    try:
        return re2.compile(source if cased else "(?i)" + source, options=_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        detail = str(detail).replace("(?i)", "", 1) if not cased else str(detail)
        raise PatternError(f"regex '{source}' is not valid RE2: {detail}") from exc


def _compile_regex(index: int, source: str, key: ViewKey, langs: frozenset[str]) -> CompiledPattern:
    folded, regex, atoms = regex_analysis(source, key)
    return CompiledPattern(
        index=index,
        source=source,
        key=key,
        langs=langs,
        regex=regex,
        atoms=atoms,
        regex_source=folded,
    )


@lru_cache(maxsize=8192)
def regex_analysis(source: str, key: ViewKey) -> tuple[str, Any, tuple[Atoms, ...] | None]:
    """(folded source, RE2 regex, atom sets) of a regex pattern: a pure function of its
    source and text form, so computed once per process (packs repeat many regexes, and a
    reload recompiles every rule). A PatternError is raised again each time (not cached)."""
    folded = fold_regex(source, key)
    regex = compile_re2(folded, cased=key.cased)
    if regex.search("") is not None:
        raise PatternError(f"regex '{source}' matches the empty string")
    return folded, regex, cached_atoms(folded, key.cased)


_DISK: list[AtomCache] = []  # the process's on-disk atom cache, opened on first use


def _disk() -> AtomCache:
    if not _DISK:
        try:
            code = Path(__file__).read_bytes()
            directory = cache_dir()
        except OSError:
            code, directory = b"", None
        cache = AtomCache(directory, code)
        cache.load(lambda source, cased: regex_atoms(source, cased=cased))
        _DISK.append(cache)
    return _DISK[0]


def cached_atoms(source: str, cased: bool) -> tuple[Atoms, ...] | None:
    """regex_atoms(source, cased=cased), from the on-disk cache when it has them (atomcache)."""
    cache = _disk()
    hit, atoms = cache.get(source, cased)
    if not hit:
        atoms = regex_atoms(source, cased=cased)
        cache.put(source, cased, atoms)
    return atoms


def save_atom_cache() -> None:
    """Write what this process added to the on-disk atom cache (no-op if nothing)."""
    if _DISK:
        _DISK[0].save()


def reset_atom_cache() -> None:
    """Forget the opened cache (tests: the next use reads TRIAGE_RULES_CACHE again)."""
    _DISK.clear()
    regex_analysis.cache_clear()


# ---------------------------------------------------------------------------- atom analysis

Atoms = frozenset[str]
# (exact strings the part can match, or None; sets of atoms each of which every match needs)
Info = tuple[Atoms | None, tuple[Atoms, ...]]
_NOTHING: Info = (None, ())
_EMPTY: Info = (frozenset({""}), ())
MAX_ATOM_SETS = 3


def _score(atoms: Atoms | None) -> tuple[int, int]:
    if not atoms:
        return (-1, 0)
    return (min(map(len, atoms)), -len(atoms))


def _from_exact(exact: Atoms | None) -> tuple[Atoms, ...]:
    if not exact or "" in exact:
        return ()
    return (exact,)


def _all_required(info: Info) -> tuple[Atoms, ...]:
    return info[1] + _from_exact(info[0])


def _best(info: Info) -> Atoms | None:
    sets = _all_required(info)
    return max(sets, key=_score) if sets else None


def _class_chars(items: list[tuple[Any, Any]]) -> Atoms | None:
    chars: set[str] = set()
    for op, av in items:
        if op is sre_c.LITERAL:
            chars.add(chr(av))
        elif op is sre_c.RANGE and av[1] - av[0] < _MAX_CLASS:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return None
        if len(chars) > _MAX_CLASS:
            return None
    return frozenset(chars)


def _node(op: Any, av: Any) -> Info:
    if op is sre_c.LITERAL:
        return frozenset({chr(av)}), ()
    if op is sre_c.AT:
        return _EMPTY
    if op is sre_c.IN:
        chars = _class_chars(av)
        return (chars, ()) if chars else _NOTHING
    if op is sre_c.SUBPATTERN:
        return _seq(av[-1])
    if op is sre_c.BRANCH:
        infos = [_seq(alt) for alt in av[1]]
        exact: Atoms | None = None
        if all(i[0] is not None for i in infos):
            union: Atoms = frozenset().union(*(i[0] for i in infos if i[0] is not None))
            exact = union if len(union) <= _MAX_SET else None
        bests = [_best(i) for i in infos]
        if any(b is None for b in bests):
            return exact, ()
        return exact, (frozenset().union(*(b for b in bests if b is not None)),)
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        lo, hi, sub = av
        info = _seq(sub)
        if lo == 0:
            if hi == 1 and info[0] is not None:
                return frozenset({""}) | info[0], ()
            return _NOTHING
        if lo == hi == 1:
            return info
        return None, _all_required(info)
    return _NOTHING


def _seq(items: Any) -> Info:
    cur: Atoms | None = frozenset({""})
    reqs: tuple[Atoms, ...] = ()
    complete = True
    for op, av in items:
        exact, required = _node(op, av)
        if cur is not None and exact is not None and len(cur) * len(exact) <= _MAX_SET:
            cur = frozenset(a + b for a in cur for b in exact)
            reqs += required
            continue
        complete = False
        reqs += _from_exact(cur) + required
        cur = exact if exact is not None and len(exact) <= _MAX_SET else frozenset({""})
    if complete:
        return cur, reqs
    return None, reqs + _from_exact(cur)


def regex_atoms(source: str, *, cased: bool) -> tuple[Atoms, ...] | None:
    """Sets of literal strings: every match contains one string of EACH set (AND of ORs).

    None when no set has all strings of at least MIN_ATOM characters (the regex then runs on
    every page). At most MAX_ATOM_SETS sets are kept, the most selective first.
    """
    if cased and "(?" in source:
        return None  # inline flags could make a cased regex case-insensitive
    try:
        parsed = sre_parse.parse(source)
    except (re.error, OverflowError, RecursionError):
        return None
    sets = {
        (s if cased else frozenset(a.lower() for a in s))
        for s in _all_required(_seq(parsed))
        if s and min(map(len, s)) >= MIN_ATOM
    }
    if not sets:
        return None
    return tuple(sorted(sets, key=lambda s: (_score(s), sorted(s)), reverse=True)[:MAX_ATOM_SETS])
