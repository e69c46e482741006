"""Phones, emails, messaging handles and crypto wallets: found, validated, normalised.

    extract_entities(doc) -> [Entity]      runs on every fetched page, flagged or not

Each Entity's Span points into the ORIGINAL text of its scope (title, meta, body, contact, url):
`doc.text(span.scope)[span.start:span.end] == span.text`. The same (kind, value) is reported once
per scope (its first occurrence).

Precision over recall. A phone is accepted only when `phonenumbers` says it is a valid number
AND its shape or its context says "phone": an international prefix (+ / 00), a contact scope,
a phone word nearby (tel, WhatsApp, Handy, номер, ...), or a national trunk-0 mobile number.
Candidates that look like dates, prices, IBANs, order / tracking / reference numbers or that sit
next to such a word are dropped. Obfuscated forms are normalised first: spaced or dotted digits,
emoji keycaps (0️⃣7️⃣...), the letter O inside a digit run, and digits spelled out in en de fr es it
nl ro pl pt ru uk ("zero sieben sieben ..."). Wallets are accepted only when their checksum
validates (see crawler/wallets.py).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import phonenumbers
import re2

from crawler import wallets
from crawler.models import SCOPES, Document, Entity, EntityKind, Scope, Span

CONTEXT_CHARS = 40  # each side of a match in Span.context

# --------------------------------------------------------------------------- spans


def _span(scope: Scope, text: str, start: int, end: int) -> Span:
    ctx = text[max(0, start - CONTEXT_CHARS) : end + CONTEXT_CHARS]
    return Span(scope, start, end, text[start:end], " ".join(ctx.split()))


# --------------------------------------------------------------------------- RE2 prefilters

_UTF8 = re2.Options()
_UTF8.encoding = re2.Options.Encoding.UTF8


def _re2b(pattern: str) -> Any:
    """An RE2 pattern for UTF-8 bytes: scanning bytes is ~3x faster than str through re2."""
    return re2.compile(pattern.encode("utf-8"), _UTF8)


# google-re2's finditer wraps every match in a Python-level _Match; calling the compiled
# pattern's Match directly (what its finditer does for bytes, minus the wrapper) costs a third.
# Guarded: without that private API the public finditer is used.
_UNANCHORED = getattr(getattr(getattr(re2, "_re2", None), "RE2", None), "Anchor", None)
_UNANCHORED = getattr(_UNANCHORED, "UNANCHORED", None)


def _byte_spans(rx: Any, raw: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets of rx's successive matches in `raw`, as rx.finditer gives."""
    native = getattr(rx, "_regexp", None)
    if native is None or _UNANCHORED is None:
        for m in rx.finditer(raw):
            yield m.span()
        return
    pos, endpos = 0, len(raw)
    while True:
        start, end = native.Match(_UNANCHORED, raw, pos, endpos)[0]
        if start == -1:
            return
        yield start, end
        if pos == endpos:
            return
        pos = pos + 1 if pos == end else end  # an empty match at pos: step over it


class _Scan:
    """One scope's text and its UTF-8 bytes; RE2 prefilters run on the bytes."""

    __slots__ = ("_rare", "ascii", "raw", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.raw = text.encode("utf-8", "surrogatepass")
        self.ascii = len(self.raw) == len(text)
        self._rare: bool | None = None

    def rare(self) -> bool:
        """Whether any of the rare-entity prefilters (`_RARE_PATTERNS`) matches anywhere: one
        RE2 pass over the text instead of one per prefilter (most pages match none)."""
        if self._rare is None:
            self._rare = not RARE_GATE or self.found(_RARE_SCAN)
        return self._rare

    def spans(self, rx: Any) -> Iterator[tuple[int, int]]:
        """Character (not byte) offsets of every match, converted incrementally (linear)."""
        if self.ascii:
            yield from _byte_spans(rx, self.raw)
            return
        raw = self.raw
        byte_at = char_at = 0  # a byte offset and its character offset, moving forward
        for start, end in _byte_spans(rx, raw):
            char_at += len(raw[byte_at:start].decode("utf-8", "surrogatepass"))
            char_start = char_at
            char_at += len(raw[start:end].decode("utf-8", "surrogatepass"))
            byte_at = end
            yield char_start, char_at

    def found(self, rx: Any) -> bool:
        for _ in _byte_spans(rx, self.raw):
            return True
        return False


# --------------------------------------------------------------------------- region hints

_LANG_REGIONS: dict[str, tuple[str, ...]] = {
    "en": ("GB", "US", "IE"), "de": ("DE", "AT", "CH"), "fr": ("FR", "BE", "CH"),
    "es": ("ES",), "it": ("IT",), "nl": ("NL", "BE"), "ro": ("RO", "MD"), "pl": ("PL",),
    "pt": ("PT", "BR"), "ru": ("RU", "UA"), "uk": ("UA",), "bg": ("BG",), "cs": ("CZ",),
    "hu": ("HU",), "el": ("GR",), "sv": ("SE",), "da": ("DK",), "fi": ("FI",),
}  # fmt: skip
_TLD_REGION = {"uk": "GB", "eu": "", "com": "", "net": "", "org": "", "info": ""}


def region_hints(doc: Document) -> tuple[str, ...]:
    """Regions to parse national numbers in: the URL's country TLD first, then the language's."""
    hints: list[str] = []
    host = urlsplit(doc.url).hostname or ""
    tld = host.rsplit(".", 1)[-1].lower() if "." in host else ""
    region = _TLD_REGION.get(tld, tld.upper() if len(tld) == 2 and tld.isalpha() else "")
    if region:
        hints.append(region)
    for r in _LANG_REGIONS.get((doc.language or "").lower()[:2], ()):
        if r not in hints:
            hints.append(r)
    return tuple(hints)


# --------------------------------------------------------------------------- phones

_LETTER = r"[^\W\d_]"
# one digit: a plain digit, an emoji keycap (7️⃣ / 7⃣), or a letter O standing for zero
_D = rf"(?:\d\ufe0f?\u20e3?|(?<!{_LETTER})[oO](?!{_LETTER}))"
_SEP = r"[ \t\u00a0.\-/()\u2013]{0,3}"
PHONE_RE = re.compile(rf"(?<![\w+#=/&%])(?:(?:\+|\b00)\s?)?\(?{_D}(?:{_SEP}{_D}){{6,}}(?!\w)")

_NUMBER_WORDS: dict[str, str] = {}
for _digit, _words in enumerate((
    "zero null zéro cero nul ноль нуль",
    "one eins ein un une uno een één unu jeden um один",
    "two zwei zwo deux dos due twee doi dwa dois duas два",
    "three drei trois tres tre drie trei trzy três три",
    "four vier quatre cuatro quattro patru cztery quatro четыре чотири",
    "five fünf fuenf cinq cinco cinque vijf cinci pięć piec пять п'ять пʼять",
    "six sechs seis sei zes șase şase sase sześć szesc шесть шість",
    "seven sieben sept siete sette zeven șapte şapte sapte siedem sete семь сім",
    "eight acht huit ocho otto opt osiem oito восемь вісім",
    "nine neun neuf nueve nove negen nouă noua dziewięć dziewiec девять дев'ять девʼять",
)):
    for _w in _words.split():
        _NUMBER_WORDS[_w] = str(_digit)
_WORD_ALT = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
_TOKEN = rf"(?:{_WORD_ALT}|\d{{1,4}})"
SPELLED_RE = re.compile(
    rf"(?<!\w)(?:(?:\+|plus)\s?)?{_TOKEN}(?:[\s,.\-–/]{{1,3}}{_TOKEN}){{6,}}(?!\w)", re.IGNORECASE
)
_SPELLED_TOKEN_RE = re.compile(rf"{_TOKEN}|\+|plus", re.IGNORECASE)
# RE2 (linear-time DFA) finds the rare stretch of 7+ number tokens cheaply; the exact regex above
# then runs on that stretch only. No word boundaries here: it is a superset prefilter.
_SPELLED_PATTERN = (
    rf"(?i:(?:{_WORD_ALT}|\d{{1,4}})(?:[\s,.\-–/]{{1,3}}(?:{_WORD_ALT}|\d{{1,4}})){{6,}})"
)
_SPELLED_SCAN = _re2b(_SPELLED_PATTERN)
# a run of digit-like characters long enough to hold a phone (starts at a digit or keycap)
_RUN_RE = re.compile(r"[\d\u20e3][\d\u20e3\ufe0f \t\u00a0.\-/()\u2013oO]{5,}")


def _re2_class(chars: str) -> str:
    """An RE2 character class of exactly these characters (ranges of consecutive code points)."""
    points = sorted(set(map(ord, chars)))
    out: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        out.append(f"\\x{{{points[i]:x}}}" + (f"-\\x{{{points[j]:x}}}" if j > i else ""))
        i = j + 1
    return "[" + "".join(out) + "]"


_RUN_RE2_FROM = 1024  # characters: below, Python's re finds the runs faster (measured)


@functools.cache
def _run_scan() -> Any:
    """RE2 twin of _RUN_RE with Python's \\d spelled out (this interpreter's Unicode tables; RE2's
    may be newer), so it finds exactly _RUN_RE's matches. Built on first use (~0.1 s)."""
    digits = "".join(filter(str.isdecimal, map(chr, range(0x110000))))
    return _re2b(
        _re2_class(digits + "\u20e3")
        + _re2_class(digits + "\u20e3\ufe0f \t\u00a0.-/()\u2013oO")
        + "{5,}"
    )


# Context cues, looked up per word of the stretch before a candidate (word sets and prefixes are
# much cheaper than one big case-insensitive alternation run at every character).
_POS_WORDS = frozenset("tel tél тел ring bel sms text wa gsm call cell ruf mob".split())
_POS_PREFIXES = (
    "phone", "telef", "téléph", "telefoon", "телефон", "calling", "anruf", "appel", "llam",
    "lláma", "chiam", "zadzwo", "sună", "suna", "звон", "дзвон", "mobil", "handy", "cellul",
    "celular", "móvil", "movil", "portabl", "whats", "viber", "signal", "telegram", "kontakt",
    "contact", "contatt", "contato", "number", "nummer", "numéro", "numero", "número", "номер",
)  # fmt: skip
_NEG_WORDS = frozenset(
    "ref réf bic plz zip cap id sku ean eur usd chf pln ron rub lei km kg cena conto data prix "
    "colis paket item date".split()
)
_NEG_PREFIXES = (
    "order", "bestell", "auftrag", "commande", "pedido", "ordine", "zamówien", "zamowien",
    "comand", "заказ", "invoice", "rechnung", "factur", "fattur", "factuur", "faktur", "referen",
    "référen", "riferim", "tracking", "sendung", "parcel", "suivi", "envío", "envio",
    "spedizion", "iban", "swift", "konto", "account", "compte", "cuenta", "rekening", "postcode",
    "postal", "postleit", "artikel", "isbn", "serial", "serien", "ticket", "booking", "buchung",
    "réservation", "reservation", "reserva", "prenotaz", "price", "preis", "precio", "prezzo",
    "prijs", "preço", "цена", "ціна", "fecha", "datum", "wallet", "btc",
)  # fmt: skip
_POS_SYMBOLS = frozenset("☎📞📱✆")
_NEG_SYMBOLS = frozenset("€$£#№")
_CUE_RE = re.compile(r"\w+|[€$£#№☎📞📱✆]")
_CURRENCY_AFTER = re.compile(r"\s?(?:[€$£₽]|eur\b|euro|usd|chf|pln|ron|lei|rub|zł|,-|\.-|,\d)",
                             re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(r"[€$£₽]\s?$")
_DATE_RE = re.compile(
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})"
    r"(?:\s?[-–/]\s?(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2}))?"
)
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_KEYCAP_OR_O = re.compile(r"[\ufe0f\u20e3oO]")
_WINDOW = 32  # context characters looked at before a candidate (same line)


def _line_before(text: str, start: int) -> str:
    lo = max(0, start - _WINDOW)
    chunk = text[lo:start]
    nl = chunk.rfind("\n")
    return chunk[nl + 1 :] if nl >= 0 else chunk


def _context_verdict(before: str) -> int:
    """+1 a phone word is the nearest cue, -1 a non-phone word is, 0 neither is present."""
    verdict = 0
    for m in _CUE_RE.finditer(before.lower()):
        w = m.group()
        if w in _NEG_SYMBOLS or w in _NEG_WORDS or w.startswith(_NEG_PREFIXES):
            verdict = -1  # checked first: "Bestellnummer" is an order number
        elif w in _POS_SYMBOLS or w in _POS_WORDS or w.startswith(_POS_PREFIXES):
            verdict = 1
    return verdict


# ASCII text: digits kept, o/O read as 0, everything else dropped (what _digits_of_loop does)
_ASCII_DIGITS = {c: (chr(c) if chr(c).isdigit() else "0" if chr(c) in "oO" else None)
                 for c in range(128)}


def _digits_of(candidate: str) -> str:
    if candidate.isascii():
        return candidate.translate(_ASCII_DIGITS)
    return _digits_of_loop(candidate)


def _digits_of_loop(candidate: str) -> str:
    out = []
    for ch in candidate:
        if ch.isdigit():
            out.append(ch)
        elif ch in "oO":
            out.append("0")
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _parse_phone(raw: str, regions: tuple[str, ...]) -> phonenumbers.PhoneNumber | None:
    """The valid number `raw` is in the first region it parses in (None: invalid anywhere).

    Cached: a page repeats its number (link target, label, contact block, body), and so do the
    pages of one advertiser. Callers only read the returned object."""
    tries: tuple[str | None, ...] = (None,) if raw.startswith("+") else regions
    for region in tries:
        try:
            num = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return num
    return None


_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE,
                 phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def _accept_phone(
    scope: Scope, text: str, start: int, end: int, digits: str, intl: bool,
    obfuscated: bool, regions: tuple[str, ...],
) -> str | None:
    """E.164 value when the candidate text[start:end] (digits normalised) is a phone."""
    if not 7 <= len(digits) <= 15:
        return None
    candidate = text[start:end]
    bare = candidate.strip("() ")
    date = _DATE_RE.match(bare)
    rest = bare[date.end() :] if date is not None else "x"
    if not rest or (rest[0].isspace() and sum(c.isdigit() for c in rest) <= 4):
        return None  # a date, or a date and a time ("01.02.2024 10:00"); not "06.12.34.56.78"
    if _CURRENCY_AFTER.match(text, end) or _CURRENCY_BEFORE.search(text, max(0, start - 2), start):
        return None
    for m in _IBAN_RE.finditer(text, max(0, start - 8), min(len(text), end + 8)):
        if m.start() < end and start < m.end():
            return None
    verdict = 1 if scope == "contact" else _context_verdict(_line_before(text, start))
    if verdict < 0:
        return None
    trunk = digits.startswith("0") and len(digits) >= 9
    if verdict == 0 and not intl and (scope == "url" or not trunk):
        return None  # a bare national number with nothing saying "phone"
    raw = "+" + digits[2:] if digits.startswith("00") and intl else digits
    if intl and not raw.startswith("+"):
        raw = "+" + raw
    num = _parse_phone(raw, regions)
    if num is None:
        return None
    if verdict == 0 and not intl and not (
        obfuscated or phonenumbers.number_type(num) in _MOBILE_TYPES
    ):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


_LIST_SEP = re.compile(r"\s/\s|\s{2,}|\t")  # "0151 2345678 / 0176 1234567": two numbers


def _phone_candidates(scan: _Scan) -> Iterator[tuple[int, int]]:
    """(start, end) of PHONE_RE matches, found by scanning only around runs of digits.

    A match too long for one number is split where a list separator (" / ", two spaces)
    sits, so two numbers written side by side are not lost as one 20-digit run.
    """
    text = scan.text
    last_end = 0
    # the same runs either way: Python's re is cheaper on short text, RE2 on long text
    runs = (
        (m.span() for m in _RUN_RE.finditer(text))
        if len(text) < _RUN_RE2_FROM
        else scan.spans(_run_scan())
    )
    for run_start, run_end in runs:
        lo = max(last_end, run_start - 6)
        for m in PHONE_RE.finditer(text, lo, min(len(text), run_end + 1)):
            if m.start() < last_end:
                continue
            last_end = m.end()
            g = m.group()
            if len(g) <= 15 or sum(c.isdigit() for c in g) <= 15 or not _LIST_SEP.search(g):
                yield m.span()
                continue
            piece = m.start()
            for sep in _LIST_SEP.finditer(text, m.start(), m.end()):
                yield from _trimmed(text, piece, sep.start())
                piece = sep.end()
            yield from _trimmed(text, piece, m.end())


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    m = PHONE_RE.search(text, start, end + 1 if end < len(text) else end)
    if m is not None and m.end() <= end:
        yield m.span()


class _Claimed:
    """Spans other entities already claimed (merged, sorted): a phone must not overlap them."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for s, e in sorted(spans):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.ends, start)  # first span ending after `start`
        return i < len(self.starts) and self.starts[i] < end


def _phones(scope: Scope, scan: _Scan, regions: tuple[str, ...],
            taken: list[tuple[int, int]]) -> Iterator[tuple[int, int, str]]:
    text = scan.text
    accepted: set[tuple[str, bool]] = set()  # a repeat of an accepted number is a duplicate
    claimed = _Claimed(taken)
    for start, end in _phone_candidates(scan):
        cand = text[start:end]
        stripped = cand.lstrip("(")
        digits = _digits_of(stripped.lstrip("+").strip())
        intl = stripped.startswith("+") or digits.startswith("00")
        if (digits, intl) in accepted or claimed.overlaps(start, end):
            continue
        obfuscated = bool(_KEYCAP_OR_O.search(cand))
        value = _accept_phone(scope, text, start, end, digits, intl, obfuscated, regions)
        if value:
            accepted.add((digits, intl))
            yield start, end, value
    for found_start, found_end in scan.spans(_SPELLED_SCAN) if scan.rare() else ():
        lo, hi = max(0, found_start - 8), min(len(text), found_end + 8)
        for m in SPELLED_RE.finditer(text, lo, hi):
            start, end = m.span()
            tokens = _SPELLED_TOKEN_RE.findall(m.group())
            if not any(t.lower() in _NUMBER_WORDS for t in tokens):
                continue  # plain digits: the digit pass above decided already
            intl = tokens[0].lower() in ("+", "plus")
            digits = "".join(_NUMBER_WORDS.get(t.lower(), t) for t in tokens
                             if t.isdigit() or t.lower() in _NUMBER_WORDS)
            if claimed.overlaps(start, end):
                continue
            value = _accept_phone(scope, text, start, end, digits, intl, True, regions)
            if value:
                yield start, end, value


# --------------------------------------------------------------------------- emails

EMAIL_RE = re.compile(
    r"(?<![\w.+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})(@|\s?[\[(]\s?(?i:at|@)\s?[\])]\s?)"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.|\s?[\[(]\s?(?i:dot)\s?[\])]\s?))+"
    r"[A-Za-z]{2,24})(?![\w-])"
)
_NOT_TLD = {"png", "jpg", "jpeg", "gif", "webp", "svg", "js", "css"}


# the local part of an email, ending at a mark
_LOCAL_TAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}$")  # what _local_start computes
_LOCAL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-"


def _local_start(text: str, lo: int, mark: int) -> int | None:
    """Start of the local part of an email ending at `mark` (None: none), looked at in
    text[lo:mark] (lo >= mark - 64): the first ASCII letter or digit of the run of local-part
    characters that ends at `mark`. That is _LOCAL_TAIL.search(text, lo, mark).start() whenever
    the match can start an email (its other matches, ending before a newline at mark - 1, never
    do), with str.rstrip/lstrip in C instead of a regex retried at every start."""
    window = text[lo:mark]
    local = window[len(window.rstrip(_LOCAL_CHARS)) :].lstrip("._%+-")
    return mark - len(local) if local else None
_OBFUSCATED_DOT = re.compile(r"\s?[\[(]\s?dot\s?[\])]\s?", re.IGNORECASE)
_OBFUSCATED_AT_PATTERN = r"(?i:[\[(]\s?(?:at|@)\s?[\])])"
_OBFUSCATED_AT = _re2b(_OBFUSCATED_AT_PATTERN)


def _email_marks(scan: _Scan) -> list[int]:
    """Where an '@' or an obfuscated '(at)' sits: the only places an email can be."""
    text = scan.text
    marks: list[int] = []
    p = text.find("@")
    while p >= 0:
        marks.append(p)
        p = text.find("@", p + 1)
    if ("(" in text or "[" in text) and scan.rare():
        for start, _ in scan.spans(_OBFUSCATED_AT):
            marks.append(start - 1 if start and text[start - 1].isspace() else start)
    return sorted(marks)


def _emails(scan: _Scan) -> Iterator[tuple[int, int, str]]:
    text = scan.text
    last_end = 0
    for mark in _email_marks(scan):
        if mark < last_end:
            continue
        local = _local_start(text, max(last_end, mark - 64), mark)
        if local is None:
            continue
        m = EMAIL_RE.match(text, local, min(len(text), mark + 280))
        if m is None:
            continue
        last_end = m.end()
        domain = m.group(3)
        if "(" in domain or "[" in domain:
            domain = _OBFUSCATED_DOT.sub(".", domain)
        if domain.rsplit(".", 1)[-1].lower() in _NOT_TLD:
            continue
        yield m.start(), m.end(), f"{m.group(1)}@{domain}".lower()


# --------------------------------------------------------------------------- handles

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.]{1,31}"
LINK_RE = re.compile(
    r"(?i)(?<![\w.])(?:https?://)?(?:www\.)?"
    r"(?:(?P<tg>t\.me|telegram\.me|telegram\.dog)/(?:s/)?(?P<tgn>[A-Za-z][A-Za-z0-9_]{3,31})"
    r"|(?P<wa>wa\.me|api\.whatsapp\.com/send/?\?phone=)/?\+?(?P<wan>\d{7,15})"
    r"|signal\.me/#p/(?P<sgn>\+?\d{7,15})"
    r"|viber://(?:chat|add|contact)\?number=(?P<vbn>(?:%2B|\+)?\d{7,15})"
    r"|(?P<svc>onlyfans\.com|instagram\.com|snapchat\.com/add)/(?P<svn>" + _NAME + r"))"
    r"(?![\w])"
)
_RESERVED_NAMES = {
    "joinchat", "share", "addstickers", "proxy", "socks", "setlanguage", "iv", "c",
    "p", "reel", "reels", "explore", "accounts", "stories", "about", "legal", "developer",
    "my", "home", "terms", "privacy", "help", "login", "signup", "tv", "direct", "add",
}  # fmt: skip
_LINK_PATTERN = (r"(?i:t\.me/|telegram\.|wa\.me/|whatsapp\.com|signal\.me/|viber://|"
                 r"onlyfans\.com/|instagram\.com/|snapchat\.com/)")
_LINK_SCAN = _re2b(_LINK_PATTERN)
_SVC_SUBTYPE = {"onlyfans.com": "onlyfans", "instagram.com": "instagram",
                "snapchat.com/add": "snapchat"}

_MESSENGER_WORDS = (
    ("telegram", r"telegram|телеграмм?|\btg\b"),
    ("whatsapp", r"whats\s?app|ватсап|вотсап|\bwa\b"),
    ("signal", r"\bsignal\b"),
    ("viber", r"viber|вайбер"),
    ("snapchat", r"snapchat|\bsnap\b|\bsc\b"),
    ("onlyfans", r"onlyfans|only\s?fans"),
    ("instagram", r"instagram|\binsta\b|\big\b"),
)
MESSENGER_RE = re.compile(
    "|".join(f"(?P<{name}>{pat})" for name, pat in _MESSENGER_WORDS), re.IGNORECASE
)
AT_HANDLE_RE = re.compile(r"(?<![\w@.])@([A-Za-z][A-Za-z0-9_.]{2,31})(?![\w@])")
_HANDLE_WINDOW = 40


@functools.lru_cache(maxsize=4096)
def _messenger_named_last(before: str) -> str | None:
    """The messenger of the last MESSENGER_RE match in `before` (None: no match).

    Cached: the text before an @handle is usually the site's own label ("Telegram: ")."""
    words = list(MESSENGER_RE.finditer(before))
    if not words:
        return None
    return next(k for k, v in words[-1].groupdict().items() if v)


def _digits_to_e164(digits: str) -> str | None:
    digits = unquote(digits).lstrip("+")
    num = _parse_phone("+" + digits, ())
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) if num else None


def _handles(scan: _Scan) -> Iterator[tuple[EntityKind, str, int, int, str]]:
    """(kind, subtype, start, end, value) for links and @handles near a messenger word."""
    text = scan.text
    links = LINK_RE.finditer(text) if scan.rare() and scan.found(_LINK_SCAN) else iter(())
    for m in links:
        start, end = m.span()
        if m.group("tgn"):
            name = m.group("tgn").lower()
            if name not in _RESERVED_NAMES:
                yield "handle", "telegram", start, end, f"telegram:{name}"
            continue
        number = m.group("wan") or m.group("sgn") or m.group("vbn")
        if number:
            subtype = "whatsapp" if m.group("wan") else "signal" if m.group("sgn") else "viber"
            e164 = _digits_to_e164(number)
            if e164:
                yield "handle", subtype, start, end, f"{subtype}:{e164}"
                yield "phone", "", start, end, e164
            continue
        name = m.group("svn").lower().rstrip(".")
        if name not in _RESERVED_NAMES:
            sub = _SVC_SUBTYPE[m.group("svc").lower()]
            yield "handle", sub, start, end, f"{sub}:{name}"
    at = text.find("@")
    while at >= 0:
        hm = AT_HANDLE_RE.match(text, at)
        at = text.find("@", at + 1)
        if hm is None:
            continue
        lo = max(0, hm.start() - _HANDLE_WINDOW)
        before = text[lo : hm.start()]
        before = before[before.rfind("\n") + 1 :]
        messenger = _messenger_named_last(before)
        if messenger is None:
            continue
        name = hm.group(1).lower().rstrip(".")
        yield "handle", messenger, hm.start(), hm.end(), f"{messenger}:{name}"


# --------------------------------------------------------------------------- wallets

WALLET_RE = re.compile(
    r"(?<![\w])(?:"
    r"(?P<b58>[13LMT][1-9A-HJ-NP-Za-km-z]{25,34})"
    r"|(?P<bech>(?:bc|BC|ltc|LTC)1[ac-hj-np-zAC-HJ-NP-Z02-9]{8,87})"
    r"|(?P<eth>0[xX][0-9a-fA-F]{40})"
    r"|(?P<xmr>[48][1-9A-HJ-NP-Za-km-z]{94}(?:[1-9A-HJ-NP-Za-km-z]{11})?)"
    r")(?![\w])"
)
_WALLET_PATTERN = r"[0-9A-Za-z]{25,}"  # every address is one long alphanumeric run
_WALLET_SCAN = _re2b(_WALLET_PATTERN)
_WALLET_RUN = re.compile(r"[0-9A-Za-z]{25,}")  # the same on str, for short text
_WALLET_RE2_FROM = 100  # characters (measured crossover)


def _wallets(scan: _Scan) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, subtype, value) of addresses whose checksum validates."""
    text = scan.text
    runs = (
        (m.span() for m in _WALLET_RUN.finditer(text))
        if len(text) < _WALLET_RE2_FROM
        else scan.spans(_WALLET_SCAN) if scan.rare() else ()
    )
    for run_start, run_end in runs:
        m = WALLET_RE.match(text, run_start, min(len(text), run_end + 1))
        if m is None:
            continue
        s = m.group()
        if m.group("b58"):
            sub = wallets.base58_wallet(s)
            if sub:
                yield m.start(), m.end(), sub, s
        elif m.group("bech"):
            sub = wallets.segwit_wallet(s)
            if sub:
                yield m.start(), m.end(), sub, s.lower()
        elif m.group("eth"):
            if wallets.eth_valid(s):
                yield m.start(), m.end(), "eth", "0x" + s[2:].lower()
        elif wallets.xmr_valid(s):
            yield m.start(), m.end(), "xmr", s


# --------------------------------------------------------------------------- the rare gate

# The prefilters of entities most text has none of, as one alternation: it matches somewhere
# exactly when one of them does (RE2 falls back from its DFA to an NFA rather than give up, so
# no match is ever missed), and then each runs alone as before.
_RARE_PATTERNS = (_SPELLED_PATTERN, _WALLET_PATTERN, _LINK_PATTERN, _OBFUSCATED_AT_PATTERN)
_RARE_SCAN = _re2b("|".join(f"(?:{p})" for p in _RARE_PATTERNS))
RARE_GATE = True  # False: every prefilter runs (what tests compare the gate with)


# --------------------------------------------------------------------------- entry point


def extract_scope(scope: Scope, text: str, regions: tuple[str, ...] = ()) -> list[Entity]:
    """Entities in one scope's text, first occurrence of each (kind, value), in text order."""
    found: list[Entity] = []
    seen: set[tuple[str, str]] = set()
    taken: list[tuple[int, int]] = []

    def add(kind: EntityKind, subtype: str, start: int, end: int, value: str) -> None:
        taken.append((start, end))
        if (kind, value) in seen:
            return
        seen.add((kind, value))
        found.append(Entity(kind, value, _span(scope, text, start, end), subtype))

    if not text:
        return found
    scan = _Scan(text)
    for start, end, sub, value in _wallets(scan):
        add("wallet", sub, start, end, value)
    for start, end, value in _emails(scan):
        add("email", "", start, end, value)
    for kind, sub, start, end, value in _handles(scan):
        add(kind, sub, start, end, value)
    for start, end, value in _phones(scope, scan, regions, taken):
        add("phone", "", start, end, value)
    found.sort(key=lambda e: (e.span.start, e.kind))
    return found


def extract_entities(doc: Document) -> list[Entity]:
    """Every validated phone, email, handle and wallet on the page, per scope, with its span."""
    regions = region_hints(doc)
    out: list[Entity] = []
    for scope in SCOPES:
        out.extend(extract_scope(scope, doc.text(scope), regions))
    return out
