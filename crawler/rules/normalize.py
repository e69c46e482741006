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
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import NamedTuple

# ---------------------------------------------------------------------------- offset maps


class OffsetMap:
    """Maps positions in a derived text back to its source; identity outside the edits.

    Edit i says `src[src_start:src_start+src_len]` became `new[new_start:new_start+new_len]`.
    Edits are added left to right; adjacent deletions are merged.
    """

    __slots__ = ("_new", "_new_len", "_src", "_src_len")

    def __init__(self) -> None:
        self._new: list[int] = []
        self._src: list[int] = []
        self._src_len: list[int] = []
        self._new_len: list[int] = []

    def add(self, new_start: int, src_start: int, src_len: int, new_len: int) -> None:
        if (
            new_len == 0
            and self._new
            and self._new_len[-1] == 0
            and self._new[-1] == new_start
            and self._src[-1] + self._src_len[-1] == src_start
        ):
            self._src_len[-1] += src_len
            return
        self._new.append(new_start)
        self._src.append(src_start)
        self._src_len.append(src_len)
        self._new_len.append(new_len)

    def __bool__(self) -> bool:
        return bool(self._new)

    def start(self, p: int) -> int:
        """Source index of the character at derived index p."""
        i = bisect_right(self._new, p) - 1
        if i < 0:
            return p
        ns, nl = self._new[i], self._new_len[i]
        if p < ns + nl:
            return self._src[i]
        return self._src[i] + self._src_len[i] + (p - ns - nl)

    def end(self, p: int) -> int:
        """Source end index (exclusive) for a derived exclusive end p."""
        i = bisect_left(self._new, p) - 1
        if i < 0:
            r = p
        else:
            ns, nl = self._new[i], self._new_len[i]
            r = self._src[i] + self._src_len[i] + (0 if p <= ns + nl else p - ns - nl)
        # take along characters deleted right after the match (combining accents, ZWJ)
        j = i + 1
        if j < len(self._new) and self._new[j] == p and self._new_len[j] == 0 and self._src[j] == r:
            r += self._src_len[j]
        return r


IDENTITY = OffsetMap()


@dataclass(frozen=True, slots=True)
class View:
    """A derived text and how to get back to the original."""

    text: str
    maps: tuple[OffsetMap, ...]  # innermost (closest to the original) first
    _utf8: list[Utf8] = field(default_factory=list, compare=False, repr=False)
    # a superset of the non-ASCII characters in text, when known (saves a scan for leet)
    nonascii: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        s, e = start, end
        for m in reversed(self.maps):
            s, e = m.start(s), m.end(e)
        return s, max(s, e)

    def utf8(self) -> Utf8:
        """The text as UTF-8 (RE2 works on bytes) and a byte -> character offset converter."""
        if not self._utf8:
            self._utf8.append(Utf8(self.text))
        return self._utf8[0]


class Utf8:
    """UTF-8 bytes of a text; converts byte offsets back to character offsets."""

    __slots__ = ("data",)

    def __init__(self, text: str, data: bytes | None = None) -> None:
        self.data = text.encode("utf-8") if data is None else data  # data: text's UTF-8, if known

    def chars(self, byte_offsets: list[int]) -> list[int]:
        """Character offsets of byte offsets (on character boundaries), in one pass over the
        bytes when the offsets are ascending (decoding runs at C speed)."""
        data = self.data
        out: list[int] = []
        byte = char = 0
        for b in byte_offsets:
            if b < byte:
                byte = char = 0
            char += len(data[byte:b].decode("utf-8"))
            byte = b
            out.append(char)
        return out

    def char(self, byte_offset: int) -> int:
        return self.chars([byte_offset])[0]


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


TABLE_SIZE = 0x3000  # Latin, Greek, Cyrillic, ... up to CJK punctuation: list-indexed folds


class _CharFold:
    """Fold tables for one case mode.

    `table` is a list indexed by code point (faster than a dict in `str.translate`) holding the
    one-character fold of every character below TABLE_SIZE whose fold is one character. `odd`
    finds the characters that need care: those below TABLE_SIZE whose fold is not one character
    (ß, combining accents, zero-width) and everything from TABLE_SIZE up (looked up one by one).
    """

    __slots__ = ("_odd", "_table", "cache", "casefold")

    def __init__(self, casefold: bool) -> None:
        self.casefold = casefold
        self.cache: dict[str, str] = {}
        self._table: list[str] | None = None
        self._odd: re.Pattern[str] | None = None

    @property
    def table(self) -> list[str]:
        if self._table is None:
            self._build()
        return self._table  # type: ignore[return-value]

    @property
    def odd(self) -> re.Pattern[str]:
        if self._odd is None:
            self._build()
        return self._odd  # type: ignore[return-value]

    def _build(self) -> None:
        """The tables (~30 ms per case mode), on first use: ASCII text, literals and what
        `_fold_by_replace` folds (mostly-ASCII text) do not need them."""
        casefold = self.casefold
        table: list[str] = [chr(i) for i in range(TABLE_SIZE)]
        odd_chars: list[str] = []
        for i in range(TABLE_SIZE):
            c = chr(i)
            f = _fold_char(c, casefold)
            if len(f) == 1:
                table[i] = f
            else:
                odd_chars.append(c)
        self._odd = re.compile(
            "[" + "".join(re.escape(c) for c in odd_chars) + chr(TABLE_SIZE) + "-\U0010ffff]"
        )
        self._table = table

    def fold(self, c: str) -> str:
        f = self.cache.get(c)
        if f is None:
            if len(self.cache) > 100_000:
                self.cache.clear()
            f = self.cache[c] = _fold_char(c, self.casefold)
        return f


_FOLDS: dict[bool, _CharFold] = {}
# two literal spaces first (not " {2,}"): Python's re then searches for the literal prefix at
# C speed instead of trying a match at every space (~3x faster on a 20 KB page; same runs)
_SPACE_RUN = re.compile(r"  +")
_SPACE_RUN_BYTES = re.compile(rb"  +")


def _folder(casefold: bool) -> _CharFold:
    folder = _FOLDS.get(casefold)
    if folder is None:
        folder = _FOLDS[casefold] = _CharFold(casefold)
    return folder


def _fold(text: str, casefold: bool) -> View:
    if text.isascii():
        out = text.lower() if casefold else text
        return _collapse(out.translate(_ASCII_SPACE), ())
    if (len(text.encode("utf-8")) - len(text)) * SPARSE < len(text):
        view = _fold_by_replace(text, casefold)  # mostly ASCII: few distinct other characters
        if view is not None:
            return view
    return _fold_by_table(text, casefold)


def _ascii_fold_bytes(casefold: bool) -> bytes:
    """bytes.translate table: the fold of each ASCII character; other bytes unchanged."""
    table = bytearray(range(256))
    for i in range(128):
        f = _fold_char(chr(i), casefold)
        if len(f) == 1 and f.isascii():
            table[i] = ord(f)
    return bytes(table)


_ASCII_FOLD_BYTES = {True: _ascii_fold_bytes(True), False: _ascii_fold_bytes(False)}
_NON_ASCII_BYTES = re.compile(rb"[\x80-\xff]+")


def _fold_by_replace(text: str, casefold: bool) -> View | None:
    """_fold for mostly-ASCII text (on dense non-ASCII text the replacements cost more than the
    table), worked on the UTF-8 bytes at C speed: ASCII by one `bytes.translate`, then one
    `bytes.replace` per distinct non-ASCII character whose fold is another single character
    (`€`, accented letters, emoji: lengths in characters unchanged). The few characters whose
    fold has another length (ß, combining marks, ligatures) are then folded where they occur,
    with an offset map as in `_fold_by_table`. Without those, the folded text's UTF-8 (what
    RE2 reads) comes for free.

    None when more than MAX_REPLACE characters need replacing, or one character's fold is
    another character to fold (replacements would chain): `_fold_by_table` does it then.
    """
    data = text.encode("utf-8")
    folder = _folder(casefold)
    pairs: list[tuple[str, str]] = []
    odd: list[str] = []
    folded: set[str] = set()
    for c in set(data.translate(None, _ASCII_BYTES).decode("utf-8")):
        f = folder.fold(c)
        if len(f) != 1:
            odd.append(c)
        elif f != c:
            pairs.append((c, f))
            if len(pairs) > MAX_REPLACE:
                return None
        folded.update(ch for ch in f if not ch.isascii())
    if {f for _, f in pairs} & ({c for c, _ in pairs} | set(odd)):
        return None
    out = data.translate(_ASCII_FOLD_BYTES[casefold])
    for c, f in pairs:
        out = out.replace(c.encode("utf-8"), f.encode("utf-8"))
    chars = frozenset(folded)
    if odd:
        return _fold_odd(out.decode("utf-8"), odd, folder, chars)
    if b"  " not in out:
        return View(out.decode("utf-8"), (), [Utf8("", out)], chars)
    collapsed = _SPACE_RUN_BYTES.sub(b" ", out)
    return View(collapsed.decode("utf-8"), (_CollapseMap(out),), [Utf8("", collapsed)], chars)


_ASCII_BYTES = bytes(range(128))
MAX_REPLACE = 8  # each replacement is a pass over the text: with more, the table path is cheaper


def _fold_odd(text: str, odd: list[str], folder: _CharFold, chars: frozenset[str]) -> View:
    """Fold the characters `odd` (each folds to zero or several characters) where they occur
    in `text` (everything else already folded, at the same positions as in the source)."""
    positions: list[int] = []
    for c in odd:
        i = text.find(c)
        while i >= 0:
            positions.append(i)
            i = text.find(c, i + 1)
    positions.sort()
    pieces: list[str] = []
    edits = OffsetMap()
    pos = 0
    new_pos = 0
    for i in positions:
        if i > pos:
            pieces.append(text[pos:i])
            new_pos += i - pos
        f = folder.fold(text[i])
        pieces.append(f)
        edits.add(new_pos, i, 1, len(f))
        new_pos += len(f)
        pos = i + 1
    pieces.append(text[pos:])
    view = _collapse("".join(pieces), (edits,))
    return View(view.text, view.maps, nonascii=chars)


def _fold_by_table(text: str, casefold: bool) -> View:
    """_fold for any text: per-character fold tables, with an offset map for the characters
    whose fold is not one character."""
    folder = _folder(casefold)
    table = folder.table
    if (len(text.encode("utf-8")) - len(text)) * SPARSE < len(text):
        return _fold_sparse(text, folder)
    if folder.odd.search(text) is None:
        return _collapse(text.translate(table), ())
    pieces: list[str] = []
    edits = OffsetMap()
    pos = 0
    new_pos = 0
    for m in folder.odd.finditer(text):
        i = m.start()
        if i > pos:
            chunk = text[pos:i].translate(table)
            pieces.append(chunk)
            new_pos += len(chunk)
        f = folder.fold(m.group())
        pieces.append(f)
        if len(f) != 1:
            edits.add(new_pos, i, 1, len(f))
        new_pos += len(f)
        pos = i + 1
    pieces.append(text[pos:].translate(table))
    return _collapse("".join(pieces), (edits,) if edits else ())


SPARSE = 16  # fewer than 1/SPARSE extra UTF-8 bytes per character: mostly ASCII text
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _fold_sparse(text: str, folder: _CharFold) -> View:
    """_fold for mostly-ASCII text: `str.translate` with a list table looks up every character
    after the first non-ASCII one, so the ASCII stretches are folded on their own (C fast paths)
    and only the non-ASCII runs go through the table."""
    table = folder.table
    odd = folder.odd
    casefold = folder.casefold
    pieces: list[str] = []
    edits = OffsetMap()
    pos = 0
    new_pos = 0
    for m in _NON_ASCII_RUN.finditer(text):
        start, end = m.span()
        if start > pos:
            chunk = text[pos:start]
            pieces.append((chunk.lower() if casefold else chunk).translate(_ASCII_SPACE))
            new_pos += start - pos
        run = m.group()
        if odd.search(run) is None:
            pieces.append(run.translate(table))
            new_pos += end - start
        else:
            for i, c in enumerate(run, start):
                f = folder.fold(c)
                pieces.append(f)
                if len(f) != 1:
                    edits.add(new_pos, i, 1, len(f))
                new_pos += len(f)
        pos = end
    chunk = text[pos:]
    pieces.append((chunk.lower() if casefold else chunk).translate(_ASCII_SPACE))
    return _collapse("".join(pieces), (edits,) if edits else ())


_ASCII_SPACE = str.maketrans({c: " " for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"})


def _collapse(text: str, maps: tuple[OffsetMap, ...]) -> View:
    """Collapse runs of spaces to one space (the extra spaces are deleted)."""
    if "  " not in text:
        return View(text, maps)
    return View(_SPACE_RUN.sub(" ", text), (*maps, _CollapseMap(text)))


class _CollapseMap(OffsetMap):
    """The OffsetMap of `_collapse`, built on first use: offsets are only mapped back for the
    evidence of fired rules (and near() across views), so most pages never need it."""

    __slots__ = ("_source",)

    def __init__(self, source: str | bytes) -> None:
        super().__init__()
        # the text before collapsing (has a run of spaces), or its UTF-8
        self._source: str | bytes | None = source

    def _build(self) -> None:
        """What `add(s + 1 - removed, s + 1, e - s - 1, 0)` per run of spaces [s, e) gives
        (runs are maximal, so no two deletions are adjacent and none merge), list by list."""
        source, self._source = self._source, None
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        spans = [m.span() for m in _SPACE_RUN.finditer(text or "")]
        extra = [e - s - 1 for s, e in spans]
        removed = accumulate(extra, initial=0)  # spaces removed before each run
        self._new = [s + 1 - r for (s, _), r in zip(spans, removed, strict=False)]  # 1 extra
        self._src = [s + 1 for s, _ in spans]
        self._src_len = extra
        self._new_len = [0] * len(spans)

    def __bool__(self) -> bool:
        return True  # made only for a text with a run of spaces

    def start(self, p: int) -> int:
        if self._source is not None:
            self._build()
        return super().start(p)

    def end(self, p: int) -> int:
        if self._source is not None:
            self._build()
        return super().end(p)


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
LEET_TABLE: list[str] = [chr(i) for i in range(0x530)]  # up to the end of Cyrillic
for _k, _v in _LEET_PAIRS.items():
    LEET_TABLE[ord(_k)] = _v


LEET_BYTES = bytes(ord(LEET_TABLE[i]) for i in range(128)) + bytes(range(128, 256))


def _leet_view(view: View) -> View:
    """The view with one-to-one look-alike folding applied (lengths unchanged, so offsets are
    unchanged): the same text as `leet_reference(view.text)`, faster. The ASCII characters are
    mapped on the UTF-8 bytes (`bytes.translate`, leaving the bytes of other characters
    alone), then each non-ASCII look-alike present is replaced; the new view keeps the UTF-8."""
    chars = view.nonascii
    if chars is None:  # text folded by the table path (dense non-ASCII): translate it all
        return View(_leet_text(view.text), view.maps)
    data = view.utf8().data
    out = data.translate(LEET_BYTES)
    if len(data) != len(view.text):
        for c in chars:
            v = _LEET_PAIRS.get(c)
            if v is not None:
                out = out.replace(c.encode("utf-8"), v.encode("utf-8"))
    return View(out.decode("utf-8"), view.maps, [Utf8("", out)])


_NON_ASCII_SPLIT = re.compile(r"([^\x00-\x7f]+)")


def _leet_text(text: str) -> str:
    """leet_reference(text), with mostly-ASCII text translated piecewise: `str.translate`
    has a fast path for ASCII strings only, and a character beyond the table costs a caught
    IndexError."""
    if text.isascii() or (len(text.encode("utf-8")) - len(text)) * SPARSE >= len(text):
        return text.translate(LEET_TABLE)
    return "".join([piece.translate(LEET_TABLE) for piece in _NON_ASCII_SPLIT.split(text)])


def leet_reference(text: str) -> str:
    """What _leet_view() must give (the plain definition; for tests)."""
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
    edits = OffsetMap()
    pieces: list[str] = []
    pos = 0
    delta = 0
    for m in _DIGIT_RE.finditer(text):
        s, e = m.span()
        pieces.append(text[pos:s])
        edits.add(s - delta, s, e - s, 1)
        pieces.append(_WORD_TO_DIGIT[m.group().lower()])
        delta += e - s - 1
        pos = e
    if not edits:
        return text, IDENTITY
    pieces.append(text[pos:])
    return "".join(pieces), edits


# ---------------------------------------------------------------------------- views


class ViewKey(NamedTuple):
    """Which text form a pattern runs on."""

    cased: bool = False
    leet: bool = False
    digits: bool = False


def _derive(base: View, key: ViewKey) -> View:
    """Add the digits and leet layers of `key` to a folded base view."""
    view = base
    if key.digits:
        digits_text, dmap = spelled_digits(view.text)
        if dmap:
            view = View(digits_text, (*view.maps, dmap), nonascii=view.nonascii)
    if key.leet:
        view = _leet_view(view)
    return view


def make_view(text: str, key: ViewKey) -> View:
    return _derive(_fold(text, casefold=not key.cased), key)


class Views:
    """The views of one text, built on first use (the folded base is shared)."""

    __slots__ = ("_cache", "original")

    def __init__(self, original: str) -> None:
        self.original = original
        self._cache: dict[ViewKey, View] = {}

    def get(self, key: ViewKey) -> View:
        view = self._cache.get(key)
        if view is None:
            base_key = ViewKey(cased=key.cased)
            base = self._cache.get(base_key)
            if base is None:
                base = self._cache[base_key] = _fold(self.original, casefold=not key.cased)
            view = self._cache[key] = _derive(base, key)
        return view


@lru_cache(maxsize=65536)
def fold_literal(text: str, key: ViewKey) -> str:
    """A literal pattern folded exactly like the page text it is matched against:
    `make_view(text, key).text.strip()`. Every path of `_fold` gives the characters' folds
    joined, with space runs collapsed; a literal is short, so it is folded one character at
    a time (the fold tables are not needed for it; tests compare with make_view)."""
    if text.isascii():
        return make_view(text, key).text.strip()
    fold = _folder(casefold=not key.cased).fold
    return _derive(_collapse("".join([fold(c) for c in text]), ()), key).text.strip()


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
