"""Text forms the patterns run on, each with a map back to the original characters.

A *view* of a text is the text after folding (NFKC, case fold, accents and zero-width characters
removed, whitespace runs collapsed to one space), optionally with leetspeak/look-alike folding and
spelled-out digits. Folding changes lengths (`ß` -> `ss`, `é` decomposed -> `e`, `seven` -> `7`),
so every view carries an `OffsetMap`; evidence offsets are mapped back to the original text.

Speed: per distinct character the fold is computed once (cached); the text itself goes through
`str.translate` (C speed), and only characters whose fold is not exactly one character are visited
from Python.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

# ---------------------------------------------------------------------------- offset maps


class Edit(NamedTuple):
    """`src[src_start:src_start+src_len]` became `new[new_start:new_start+new_len]`."""

    new_start: int
    src_start: int
    src_len: int
    new_len: int


class OffsetMap:
    """Maps positions in a derived text back to its source; identity outside the edits."""

    __slots__ = ("_edits", "_starts")

    def __init__(self, edits: list[Edit]) -> None:
        self._edits = edits  # sorted by new_start (built left to right)
        self._starts = [e.new_start for e in edits]

    def start(self, p: int) -> int:
        """Source index of the character at derived index p."""
        i = bisect_right(self._starts, p) - 1
        if i < 0:
            return p
        e = self._edits[i]
        if p < e.new_start + e.new_len:
            return e.src_start
        return e.src_start + e.src_len + (p - e.new_start - e.new_len)

    def end(self, p: int) -> int:
        """Source end index (exclusive) for a derived exclusive end p."""
        i = bisect_left(self._starts, p) - 1
        if i < 0:
            r = p
        else:
            e = self._edits[i]
            if p <= e.new_start + e.new_len:
                r = e.src_start + e.src_len
            else:
                r = e.src_start + e.src_len + (p - e.new_start - e.new_len)
        # take along characters deleted right after the match (combining accents, ZWJ)
        j = i + 1
        while j < len(self._edits):
            e = self._edits[j]
            if e.new_start != p or e.new_len != 0 or e.src_start != r:
                break
            r += e.src_len
            j += 1
        return r


IDENTITY = OffsetMap([])


@dataclass(frozen=True, slots=True)
class View:
    """A derived text and how to get back to the original."""

    text: str
    maps: tuple[OffsetMap, ...]  # innermost (closest to the original) first

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        s, e = start, end
        for m in reversed(self.maps):
            s, e = m.start(s), m.end(e)
        return s, max(s, e)


# ---------------------------------------------------------------------------- character fold

_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf"})


def _fold_char(c: str, casefold: bool) -> str:
    if c.isspace():
        return " "
    s = unicodedata.normalize("NFKC", c)
    if casefold:
        s = s.casefold()
    s = unicodedata.normalize("NFD", s)
    s = "".join(ch for ch in s if unicodedata.category(ch) not in _DROP_CATEGORIES)
    s = unicodedata.normalize("NFC", s)
    return "".join(" " if ch.isspace() else ch for ch in s)


class _CharFold:
    """Per-character fold table, grown as new characters are seen."""

    def __init__(self, casefold: bool) -> None:
        self.casefold = casefold
        self.single: dict[int, str] = {}  # ord -> 1-char fold (for str.translate)
        self.odd: dict[str, str] = {}  # char -> fold of length != 1
        self.known: set[str] = set()

    def learn(self, chars: set[str]) -> None:
        for c in chars - self.known:
            f = _fold_char(c, self.casefold)
            if len(f) == 1:
                if f != c:
                    self.single[ord(c)] = f
            else:
                self.odd[c] = f
            self.known.add(c)


_FOLDS = {True: _CharFold(True), False: _CharFold(False)}
_SPACE_RUN = re.compile(r" {2,}")


def _fold(text: str, casefold: bool) -> View:
    folder = _FOLDS[casefold]
    if text.isascii():
        out = text.lower() if casefold else text
        return _collapse(out.translate(_ASCII_SPACE), ())
    chars = set(text)
    folder.learn(chars)
    odd_here = [c for c in folder.odd if c in chars] if folder.odd else []
    if not odd_here:
        return _collapse(text.translate(folder.single), ())
    pieces: list[str] = []
    edits: list[Edit] = []
    pos = 0
    new_pos = 0
    finder = re.compile("[" + "".join(re.escape(c) for c in odd_here) + "]")
    for m in finder.finditer(text):
        i = m.start()
        if i > pos:
            chunk = text[pos:i].translate(folder.single)
            pieces.append(chunk)
            new_pos += len(chunk)
        f = folder.odd[m.group()]
        pieces.append(f)
        edits.append(Edit(new_pos, i, 1, len(f)))
        new_pos += len(f)
        pos = i + 1
    pieces.append(text[pos:].translate(folder.single))
    return _collapse("".join(pieces), (OffsetMap(edits),))


_ASCII_SPACE = str.maketrans({c: " " for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"})


def _collapse(text: str, maps: tuple[OffsetMap, ...]) -> View:
    """Collapse runs of spaces to one space (the extra spaces are deleted)."""
    if "  " not in text:
        return View(text, maps)
    edits: list[Edit] = []
    pieces: list[str] = []
    pos = 0
    removed = 0
    for m in _SPACE_RUN.finditer(text):
        s, e = m.span()
        pieces.append(text[pos : s + 1])
        edits.append(Edit(s + 1 - removed, s + 1, e - s - 1, 0))
        removed += e - s - 1
        pos = e
    pieces.append(text[pos:])
    return View("".join(pieces), (*maps, OffsetMap(edits)))


# ---------------------------------------------------------------------------- leet / confusables

_LEET_PAIRS = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
    "@": "a", "$": "s", "!": "i", "|": "i", "l": "i",
    # Cyrillic look-alikes (after case folding)
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "к": "k", "ԁ": "d", "ӏ": "i", "һ": "h", "ԛ": "q", "ԝ": "w",
    # Greek look-alikes
    "α": "a", "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ε": "e", "ς": "s", "σ": "o",
}  # fmt: skip
LEET_TABLE = str.maketrans(_LEET_PAIRS)


def leet(text: str) -> str:
    """One-to-one look-alike folding (lengths unchanged, so offsets are unchanged)."""
    return text.translate(LEET_TABLE)


# ---------------------------------------------------------------------------- spelled-out digits

_DIGIT_WORDS: dict[str, tuple[str, ...]] = {
    "0": ("zero", "null", "nul", "cero"),
    "1": ("one", "eins", "uno", "unu", "jeden", "jedna"),
    "2": (
        "two",
        "zwei",
        "deux",
        "dos",
        "dois",
        "duas",
        "due",
        "twee",
        "doi",
        "doua",
        "dwa",
        "dwie",
    ),
    "3": ("three", "drei", "trois", "tres", "tre", "drie", "trei", "trzy"),
    "4": ("four", "vier", "quatre", "cuatro", "quatro", "quattro", "patru", "cztery"),
    "5": ("five", "funf", "cinq", "cinco", "cinque", "vijf", "cinci", "piec"),
    "6": ("six", "sechs", "seis", "sei", "zes", "sase", "szesc"),
    "7": ("seven", "sieben", "sept", "siete", "sete", "sette", "zeven", "sapte", "siedem"),
    "8": ("eight", "acht", "huit", "ocho", "oito", "otto", "opt", "osiem"),
    "9": ("nine", "neun", "neuf", "nueve", "nove", "negen", "noua", "dziewiec"),
}
_WORD_TO_DIGIT = {w: d for d, words in _DIGIT_WORDS.items() for w in words}
_DIGIT_RE = re.compile(
    r"(?<!\w)(" + "|".join(sorted(_WORD_TO_DIGIT, key=len, reverse=True)) + r")(?!\w)",
    re.IGNORECASE,
)


def spelled_digits(text: str) -> tuple[str, OffsetMap]:
    """`zero one seven` -> `0 1 7` (en, de, fr, es, pt, it, nl, ro, pl; text already folded)."""
    edits: list[Edit] = []
    pieces: list[str] = []
    pos = 0
    delta = 0
    for m in _DIGIT_RE.finditer(text):
        s, e = m.span()
        pieces.append(text[pos:s])
        edits.append(Edit(s - delta, s, e - s, 1))
        pieces.append(_WORD_TO_DIGIT[m.group().lower()])
        delta += e - s - 1
        pos = e
    if not edits:
        return text, IDENTITY
    pieces.append(text[pos:])
    return "".join(pieces), OffsetMap(edits)


# ---------------------------------------------------------------------------- views


class ViewKey(NamedTuple):
    """Which text form a pattern runs on."""

    cased: bool = False
    leet: bool = False
    digits: bool = False


def make_view(text: str, key: ViewKey) -> View:
    view = _fold(text, casefold=not key.cased)
    if key.digits:
        digits_text, dmap = spelled_digits(view.text)
        if dmap is not IDENTITY:
            view = View(digits_text, (*view.maps, dmap))
    if key.leet:
        view = View(leet(view.text), view.maps)
    return view


class Views:
    """The views of one text, built on first use."""

    __slots__ = ("_cache", "original")

    def __init__(self, original: str) -> None:
        self.original = original
        self._cache: dict[ViewKey, View] = {}

    def get(self, key: ViewKey) -> View:
        view = self._cache.get(key)
        if view is None:
            base_key = ViewKey(cased=key.cased)
            if key != base_key and base_key in self._cache and not key.digits:
                base = self._cache[base_key]
                view = View(leet(base.text), base.maps)
            else:
                view = make_view(self.original, key)
            self._cache[key] = view
        return view


@lru_cache(maxsize=65536)
def fold_literal(text: str, key: ViewKey) -> str:
    """A literal pattern folded exactly like the page text it is matched against."""
    return make_view(text, key).text.strip()


# ---------------------------------------------------------------------------- regex sources

_REGEX_SKIP = re.compile(
    r"\\[pP]\{[^}]*\}|\\[xX]\{[^}]*\}|\\.|\(\?P?<[A-Za-z_][A-Za-z0-9_]*>|\(\?[a-zA-Z-]+[:)]"
)


def fold_regex(source: str, key: ViewKey) -> str:
    """Fold the literal characters of a regex like the text (escapes and group syntax kept).

    ASCII case is left to the case-insensitive flag; non-ASCII characters are folded (so `ä`
    becomes `a` like in the text); with `leet`, letters are mapped like the text (`l` -> `i`).
    """
    out: list[str] = []
    pos = 0

    def fold_run(run: str) -> str:
        if not run.isascii():
            run = "".join(c if c.isascii() else _fold_char(c, casefold=not key.cased) for c in run)
        if key.leet:
            run = "".join(_LEET_PAIRS.get(c, c) if c.isalpha() else c for c in run)
        return run

    for m in _REGEX_SKIP.finditer(source):
        out.append(fold_run(source[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(fold_run(source[pos:]))
    return "".join(out)


def is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"
