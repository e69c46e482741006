"""Compiled patterns: folded literals and RE2 regexes, plus the literal atoms a regex needs.

An *atom set* of a regex is a set of literal strings such that every match of the regex contains
at least one of them (`\\b(only|just)\\s+usdt\\b` -> {"usdt"}). The prefilter finds atoms with
Aho-Corasick; a regex runs only on scopes where one of its atoms occurs. Regexes without a usable
atom set (every atom at least 3 characters) are "unfiltered" and run on every page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import re2

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
    atoms: frozenset[str] | None = None  # prefilter atoms (regex); None = unfiltered
    regex_source: str = ""  # the folded source RE2 compiled (without the case flag)

    @property
    def is_regex(self) -> bool:
        return self.regex is not None


def _key(modifiers: set[str]) -> ViewKey:
    return ViewKey(
        cased="cased" in modifiers, leet="leet" in modifiers, digits="digits" in modifiers
    )


def compile_pattern(
    index: int, item: str | LiteralPattern | RegexPattern, selection_modifiers: list[str]
) -> CompiledPattern:
    mods = set(selection_modifiers)
    langs: frozenset[str] = frozenset()
    if isinstance(item, str):
        text = item
    else:
        mods |= set(item.modifiers)
        langs = frozenset(item.lang)
        if isinstance(item, RegexPattern):
            return _compile_regex(index, item.re, _key(mods), langs)
        text = item.text
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
    folded = fold_regex(source, key)
    regex = compile_re2(folded, cased=key.cased)
    if regex.search("") is not None:
        raise PatternError(f"regex '{source}' matches the empty string")
    atoms = regex_atoms(folded, cased=key.cased)
    return CompiledPattern(
        index=index,
        source=source,
        key=key,
        langs=langs,
        regex=regex,
        atoms=atoms,
        regex_source=folded,
    )


# ---------------------------------------------------------------------------- atom analysis

Info = tuple[frozenset[str] | None, frozenset[str] | None]  # (exact strings, required atoms)
_NOTHING: Info = (None, None)
_EMPTY: Info = (frozenset({""}), None)


def _score(atoms: frozenset[str] | None) -> tuple[int, int]:
    if not atoms:
        return (-1, 0)
    return (min(len(a) for a in atoms), -len(atoms))


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return a if _score(a) >= _score(b) else b


def _from_exact(exact: frozenset[str] | None) -> frozenset[str] | None:
    if not exact or "" in exact:
        return None
    return exact


def _required(info: Info) -> frozenset[str] | None:
    return _better(info[1], _from_exact(info[0]))


def _class_chars(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
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
        return frozenset({chr(av)}), None
    if op is sre_c.AT:
        return _EMPTY
    if op is sre_c.IN:
        chars = _class_chars(av)
        return (chars, None) if chars else _NOTHING
    if op is sre_c.SUBPATTERN:
        return _seq(av[-1])
    if op is sre_c.BRANCH:
        infos = [_seq(alt) for alt in av[1]]
        exact: frozenset[str] | None = None
        if all(i[0] is not None for i in infos):
            union = frozenset().union(*(i[0] for i in infos if i[0] is not None))
            exact = union if len(union) <= _MAX_SET else None
        reqs = [_required(i) for i in infos]
        required = None if any(r is None for r in reqs) else frozenset().union(*reqs)  # type: ignore[arg-type]
        return exact, required
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        lo, hi, sub = av
        info = _seq(sub)
        if lo == 0:
            if hi == 1 and info[0] is not None:
                return frozenset({""}) | info[0], None
            return _NOTHING
        if lo == hi == 1:
            return info
        return None, _required(info)
    return _NOTHING


def _seq(items: Any) -> Info:
    cur: frozenset[str] | None = frozenset({""})
    best: frozenset[str] | None = None
    complete = True
    for op, av in items:
        exact, required = _node(op, av)
        if cur is not None and exact is not None and len(cur) * len(exact) <= _MAX_SET:
            cur = frozenset(a + b for a in cur for b in exact)
            continue
        complete = False
        best = _better(best, _from_exact(cur))
        best = _better(best, required)
        cur = exact if exact is not None and len(exact) <= _MAX_SET else frozenset({""})
    if complete:
        return cur, _from_exact(cur)
    return None, _better(best, _from_exact(cur))


def regex_atoms(source: str, *, cased: bool) -> frozenset[str] | None:
    """Literal strings one of which every match contains, or None when there is no good set."""
    if cased and "(?" in source:
        return None  # inline flags could make a cased regex case-insensitive
    try:
        parsed = sre_parse.parse(source)
    except (re.error, OverflowError, RecursionError):
        return None
    atoms = _required(_seq(parsed))
    if not atoms or min(len(a) for a in atoms) < MIN_ATOM:
        return None
    return atoms if cased else frozenset(a.lower() for a in atoms)
