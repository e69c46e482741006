"""Entity extraction's fast paths give what the plain code they replaced gives (property tests)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import entities
from crawler.entities import _RUN_RE, _parse_phone, _run_scan, _Scan, extract_scope

# digits of several scripts (Arabic-Indic, Devanagari, fullwidth, Kawi: Unicode 15, which
# Python 3.11's \d does not know), keycaps, the letter O, separators, lone surrogates, text
_PIECES = st.sampled_from([
    *"0123456789", "٣", "۷", "५", "７", "\U00011f53", "\u20e3", "\ufe0f", "o", "O", " ", "\t",
    "\xa0", ".", "-", "/", "(", ")", "\u2013", "+", "a", "é", "€", "\n", "\ud800", "tel ",
    "0151 234", "+49 (0) ", "7\ufe0f\u20e3",
])  # fmt: skip
_TEXT = st.lists(_PIECES | st.characters(), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(_TEXT)
def test_run_scan_finds_exactly_the_digit_runs_of_the_python_regex(text: str) -> None:
    assert list(_Scan(text).spans(_run_scan())) == [m.span() for m in _RUN_RE.finditer(text)]


_WALLET_PY = re.compile(r"[0-9A-Za-z]{25,}")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a" * 13, "B7" * 7, "ü", "€", "\U0001f600", " ", "\ud800", "x"]),
                max_size=12).map("".join))  # fmt: skip
def test_byte_offsets_become_the_same_character_offsets(text: str) -> None:
    """_Scan.spans converts RE2's byte offsets incrementally; compare with a str regex."""
    assert list(_Scan(text).spans(entities._WALLET_SCAN)) == [
        m.span() for m in _WALLET_PY.finditer(text)
    ]


_NUMBERS = st.lists(st.sampled_from([*"0123456789", " ", "+", "(", ")"]), min_size=7,
                    max_size=18).map("".join)  # fmt: skip
_REGIONS = st.sampled_from([(), ("DE",), ("GB", "US", "IE"), ("FR", "BE", "CH"), ("XX",)])


@settings(max_examples=300, deadline=None)
@given(_NUMBERS, _REGIONS)
def test_cached_phone_parsing_equals_uncached(raw: str, regions: tuple[str, ...]) -> None:
    uncached = _parse_phone.__wrapped__(raw, regions)
    assert _parse_phone(raw, regions) == uncached
    assert _parse_phone(raw, regions) == uncached  # second call: from the cache


_PAGE_PIECE_LIST = [
    "Call me: ", "+49 1512 3456789", "0176 12345678", "tel ", "Bestellnummer 0176 1234567 ",
    "WhatsApp +44 7700 900123", " / ", "  ", "mail: a.b@example.com ", "lena (at) mail (dot) de",
    "t.me/lena_example ", "Telegram: @lena_x ", "€120 ", "01.02.2024 10:00 ", "\n", "zero one ",
    "sieben ", "７７００ ９００１２３", "0️⃣7️⃣", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq ",
]  # fmt: skip
_PAGE_PIECES = st.sampled_from(_PAGE_PIECE_LIST)


@settings(max_examples=150, deadline=None)
@given(st.lists(_PAGE_PIECES, max_size=10).map("".join),
       st.sampled_from(["body", "contact", "title"]), _REGIONS)  # fmt: skip
def test_entities_do_not_depend_on_the_parse_cache(text: str, scope: str,
                                                   regions: tuple[str, ...]) -> None:
    _parse_phone.cache_clear()
    cold = extract_scope(scope, text, regions)  # type: ignore[arg-type]
    warm = extract_scope(scope, text, regions)  # type: ignore[arg-type]
    assert cold == warm
    for entity in cold:
        assert text[entity.span.start : entity.span.end] == entity.span.text


_EMAIL_PIECES = st.sampled_from([
    "a", "Z", "0", ".", "_", "%", "+", "-", " ", "\n", "@", "(at)", " [at] ", "é", "x.y",
    "mail", "ad0", "ex.com", ":", "\n\n", "(dot)", "😀",
])  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(_EMAIL_PIECES, max_size=30).map("".join), st.integers(0, 200))
def test_local_part_start_agrees_with_the_regex_where_an_email_can_start(text: str,
                                                                         at: int) -> None:
    mark = min(at, len(text))
    lo = max(0, mark - 64)
    m = entities._LOCAL_TAIL.search(text, lo, mark)
    got = entities._local_start(text, lo, mark)
    if m is not None and m.end() == mark:
        assert got == m.start()
    else:
        assert got is None
        if m is not None:  # it ends before a newline at mark - 1: it never starts an email
            assert text[m.end()] == "\n"
            assert entities.EMAIL_RE.match(text, m.start(), min(len(text), mark + 280)) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["Telegram", "tg", "WA", "whats app", "ſignal", "Insta", "ig",
                                 "only fans", "вайбер", " ", ":", "x", "\u212a", "snap", "sc"]),
                max_size=8).map("".join))  # fmt: skip
def test_cached_messenger_lookup_equals_the_regex(before: str) -> None:
    words = list(entities.MESSENGER_RE.finditer(before))
    expected = next(k for k, v in words[-1].groupdict().items() if v) if words else None
    entities._messenger_named_last.cache_clear()
    assert entities._messenger_named_last(before) == expected
    assert entities._messenger_named_last(before) == expected  # from the cache


@settings(max_examples=150, deadline=None)
@given(st.lists(_PAGE_PIECES, max_size=10).map("".join), _REGIONS)
def test_short_and_long_text_take_different_scans_with_the_same_result(
    text: str, regions: tuple[str, ...]
) -> None:
    """Short text is scanned with Python's re, long text with RE2: pad a text past both
    thresholds (with a line of its own) and the same entities come back, shifted."""
    pad = "x " * 600 + "\n"
    short = extract_scope("body", text, regions)
    long = extract_scope("body", pad + text, regions)
    shift = len(pad)
    assert [(e.kind, e.value, e.subtype, e.span.start + shift, e.span.end + shift, e.span.text)
            for e in short] == [(e.kind, e.value, e.subtype, e.span.start, e.span.end,
                                 e.span.text) for e in long]  # fmt: skip


_RARE_PIECES = st.sampled_from([
    *_PAGE_PIECE_LIST, "T.ME/x", "telegram.", "WhatsApp.com", "viber://", "signal.me/",
    "Instagram.com/", "(AT)", "[ at ]", "( @ )", "a" * 24, "b", "Zero", "ONE ", "два ",
    "1 2 3 4 5 6", " 7", "-", "–", "ſ", "\u212a", "é", "\ud800", "\U0001f600", "٣",
])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_RARE_PIECES | st.characters(), max_size=30).map("".join))
def test_rare_gate_matches_exactly_when_one_of_its_prefilters_does(text: str) -> None:
    scan = _Scan(text)
    singles = [entities._re2b(p) for p in entities._RARE_PATTERNS]
    assert scan.rare() == any(scan.found(rx) for rx in singles)


@settings(max_examples=300, deadline=None)
@given(st.lists(_RARE_PIECES, max_size=14).map("".join),
       st.sampled_from(["body", "contact", "title", "url"]), _REGIONS,
       st.sampled_from(["", "x " * 600 + "\n"]))  # fmt: skip
def test_entities_with_the_rare_gate_equal_those_without(text: str, scope: str,
                                                         regions: tuple[str, ...],
                                                         pad: str) -> None:
    """The one-pass gate skips the spelled-number, wallet, link and (at) scans only when
    none of them could match: the same entities, spans and subtypes either way (short text
    and text long enough for the RE2 scans)."""
    gated = extract_scope(scope, pad + text, regions)  # type: ignore[arg-type]
    entities.RARE_GATE = False
    try:
        plain = extract_scope(scope, pad + text, regions)  # type: ignore[arg-type]
    finally:
        entities.RARE_GATE = True
    assert gated == plain


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([*"0123456789oOx +-()./", "٣", "²", "７", "\u20e3", "\ufe0f"])
                | st.characters(), max_size=25).map("".join))
def test_digits_of_ascii_fast_path_equals_the_loop(candidate: str) -> None:
    assert entities._digits_of(candidate) == entities._digits_of_loop(candidate)
    ascii_only = "".join(c for c in candidate if c.isascii())
    assert entities._digits_of(ascii_only) == entities._digits_of_loop(ascii_only)
