"""The engine's fast paths give exactly what their plain, slow definitions give.

Each fast path (the RE2-set literal scan, ...) is compared with a brute-force reference on
mixed-script, accented, leet and combining-mark text, property-style.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.rules import RuleSet, load_ruleset
from crawler.rules.normalize import Views
from crawler.rules.prefilter import LiteralEntry, scan_literals, scan_literals_reference
from tests.rules_helpers import rule_dict, ruleset, selection

# joiners around words: word characters (defeat whole-word matches), ASCII and non-ASCII
# non-word characters, combining marks, look-alikes, emoji
_JOINERS = [
    " ", "", "x", "_", "1", "é", "ß", "а", "—", "«", "🌹", "\u0301", "\u200d", "\n", ".",
    "ǅ", "Σ", "İ", "\u00a0", "0", "@", "$",
]  # fmt: skip


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_ruleset(None)


def _pack_words(rs: RuleSet) -> list[str]:
    words = sorted({value[1] for plan in rs._plans.values() for value in plan.values})
    return words[:: max(1, len(words) // 400)]


def _texts(words: list[str]) -> st.SearchStrategy[str]:
    piece = st.one_of(
        st.sampled_from(words),
        st.sampled_from(words).map(str.upper),
        st.sampled_from(_JOINERS),
        st.text(max_size=3),
    )
    return st.lists(piece, max_size=40).map("".join)


def _check_scan(rs: RuleSet, text: str, lang: str | None) -> None:
    views = Views(text)
    for key, plan in rs._plans.items():
        if plan.words is None:
            continue
        view = views.get(key)
        for scope in sorted(plan.scopes):
            found: list[LiteralEntry] = []
            candidates = scan_literals(plan, view, rs._need, scope, lang, found)
            want_found, want_candidates = scan_literals_reference(
                plan, view.text, rs._need, scope, lang
            )
            assert set(found) == want_found, (key, scope)
            assert len(found) == len(set(found))
            assert candidates == want_candidates, (key, scope)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_literal_scan_equals_brute_force_on_the_shipped_packs(
    shipped: RuleSet, data: st.DataObject
) -> None:
    text = data.draw(_texts(_pack_words(shipped)))
    lang = data.draw(st.sampled_from([None, "en", "de", "ro", "xx"]))
    _check_scan(shipped, text, lang)


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    """Literals with every whole-word/substring combination, one word shared by several."""
    tmp = tmp_path_factory.mktemp("fastpaths")
    pats: list[object] = [
        "call", "call me", "café", "straße", {"text": "call", "modifiers": ["substring"]},
        "-call", "call-", "ca", {"text": "rufen", "lang": ["de"]}, "руб", "a_b",
        {"re": r"\b(only|just)\s+(usdt|btc)\b"}, {"re": r"call\w*\s+now"},
    ]  # fmt: skip
    return ruleset(
        tmp,
        rule_dict(id="t.a", selections={"s": selection(*pats)}, condition="s"),
        rule_dict(
            id="t.b",
            selections={"s": {"scope": ["title", "body"], "patterns": pats[:4]}},
            condition="s",
        ),
        rule_dict(
            id="t.c",
            selections={"s": selection("c4ll", "caf3", modifiers=["leet"])},
            condition="s",
        ),
    )


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            ["call", "CALL", "call me", "-call", "call-", "café", "cafe\u0301", "strasse",
             "straße", "rufen", "руб", "a_b", "only", "usdt", "c4ll", "caf3", "recall", "callx",
             "now", "ca", *_JOINERS]
        ),
        max_size=30,
    ),
    lang=st.sampled_from([None, "de", "en"]),
)  # fmt: skip
def test_literal_scan_equals_brute_force_on_word_boundaries(
    bounded: RuleSet, pieces: list[str], lang: str | None
) -> None:
    _check_scan(bounded, "".join(pieces), lang)
