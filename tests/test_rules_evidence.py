"""Evidence spans point at the right characters of the ORIGINAL text, whatever precedes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.models import Document, Span
from crawler.rules import RuleSet
from crawler.rules.normalize import ViewKey, make_view
from tests.rules_helpers import rule_dict, ruleset, selection


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    tmp = tmp_path_factory.mktemp("evidence")
    return ruleset(
        tmp,
        rule_dict(
            id="e.lit",
            selections={"s": selection("bitcoin only", "straße", scope="any")},
            condition="s",
        ),
        rule_dict(
            id="e.re",
            selections={"s": selection({"re": r"\busdt\s+deposit\b"}, scope="any")},
            condition="s",
        ),
        rule_dict(
            id="e.leet",
            selections={"s": selection("girl", scope="any", modifiers=["leet"])},
            condition="s",
        ),
        rule_dict(
            id="e.digits",
            selections={"s": selection({"re": r"\d \d \d"}, scope="any", modifiers=["digits"])},
            condition="s",
        ),
    )


def spans(rs: RuleSet, doc: Document, rule_id: str) -> list[Span]:
    for ind in rs.evaluate(doc).indicators:
        if ind.rule_id == rule_id:
            return list(ind.spans)
    raise AssertionError(f"{rule_id} did not fire")


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "Café crème — ",
        "Привет, как дела? ",
        "Maße ß groß ",
        "e\u0301e\u0301e\u0301 ",  # decomposed accents (deleted when folding)
        "🌹🌹🌹 👩‍❤️‍👨 ",
        "ﬁﬂ ｆｕｌｌ ",  # ligatures and full-width expand/contract under NFKC
        "a  \n\n\t  b    ",  # whitespace runs collapse
        "İstanbul ",  # dotted capital I casefolds to two characters
    ],
)
def test_offsets_point_at_original_text_after_non_ascii(rs: RuleSet, prefix: str) -> None:
    body = prefix + "Pay BITCOIN   ONLY; USDT\ndeposit please, new g1rl, straße"
    doc = Document(url="", body=body)
    (lit1, lit2) = spans(rs, doc, "e.lit")
    assert lit1.text == "BITCOIN   ONLY" == body[lit1.start : lit1.end]
    assert lit2.text == "straße" == body[lit2.start : lit2.end]
    (re_span,) = spans(rs, doc, "e.re")
    assert re_span.text == "USDT\ndeposit" == body[re_span.start : re_span.end]
    (leet_span,) = spans(rs, doc, "e.leet")
    assert leet_span.text == "g1rl"


def test_offsets_in_an_expanded_match(rs: RuleSet) -> None:
    body = "Привет STRASSE und Straße"
    found = [(s.start, s.end, s.text) for s in spans(rs, Document(url="", body=body), "e.lit")]
    assert found == [(7, 14, "STRASSE"), (19, 25, "Straße")]


def test_digits_evidence_is_the_spelled_out_words(rs: RuleSet) -> None:
    body = "Ünïcödé: call zero one seven"
    (span,) = spans(rs, Document(url="", body=body), "e.digits")
    assert span.text == "zero one seven"


def test_span_scope_and_context(rs: RuleSet) -> None:
    title = "x" * 100 + " bitcoin only " + "y" * 100
    (span,) = spans(rs, Document(url="", title=title), "e.lit")
    assert span.scope == "title"
    assert span.text == "bitcoin only"
    assert span.context == "x" * 39 + " bitcoin only " + "y" * 39


def test_evidence_excludes_selections_under_not(tmp_path: Path) -> None:
    rs2 = ruleset(
        tmp_path,
        rule_dict(
            selections={"a": selection("alpha"), "b": selection("beta")},
            condition="a and not (b and not a)",
        ),
    )
    (ind,) = rs2.evaluate(Document(url="", body="alpha beta")).indicators
    assert [s.text for s in ind.spans] == ["alpha"]


# ---------------------------------------------------------------- property: map back is exact

_alphabet = st.sampled_from(
    [*"aAbß ẞéÉ\u0301\u200b\n\tİıﬁ①１Жжω🌹\ufe0f\u20e3 xyz0l$", "seven", "Bitcoin", "  "]
)
_keys = st.sampled_from([ViewKey(), ViewKey(cased=True), ViewKey(leet=True), ViewKey(digits=True)])
_texts = st.lists(_alphabet, max_size=40).map("".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(prefix=_texts, suffix=_texts, key=_keys)
def test_view_offsets_map_back_to_the_needle(prefix: str, suffix: str, key: ViewKey) -> None:
    needle = "Kreditkarte"
    text = prefix + " " + needle + " " + suffix
    view = make_view(text, key)
    folded_needle = make_view(needle, key).text
    pos = view.text.find(" " + folded_needle + " ")
    assert pos >= 0
    start, end = view.to_original(pos + 1, pos + 1 + len(folded_needle))
    assert text[start:end] == needle


@settings(max_examples=200, deadline=None)
@given(text=_texts)
def test_view_offsets_are_monotonic_and_in_range(text: str) -> None:
    view = make_view(text, ViewKey())
    last = 0
    for i in range(len(view.text) + 1):
        s, e = view.to_original(i, i)
        assert 0 <= s <= len(text) and 0 <= e <= len(text)
        assert s >= last
        last = s
