"""Pathological pages and regexes are evaluated in bounded time (generous bounds)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crawler.models import Document
from crawler.rules import RuleSet
from crawler.rules.prefilter import MAX_MATCHES
from tests.rules_helpers import rule_dict, ruleset, selection

BOUND_S = 10.0  # far above the expected ~0.1-1 s; catches exponential or quadratic behaviour


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    tmp = tmp_path_factory.mktemp("safety")
    return ruleset(
        tmp,
        rule_dict(id="s.redos", selections={"s": selection({"re": "(a+)+$"})}, condition="s"),
        rule_dict(
            id="s.nested",
            selections={"s": selection({"re": r"(\w+\s?)*x"}, {"re": "(a|aa)+b"})},
            condition="s",
        ),
        rule_dict(
            id="s.lit",
            selections={
                "a": selection("a", modifiers=["substring"]),
                "e": selection({"text": "🌹", "modifiers": ["substring"]}, scope="any"),
            },
            condition="count(a) > 5 or near(a, e, within=3) or count(e) > 2",
        ),
        rule_dict(
            id="s.leet",
            selections={"s": selection("aaaa", modifiers=["leet", "digits"])},
            condition="s",
        ),
    )


def timed(rs: RuleSet, doc: Document) -> tuple[float, set[str]]:
    t0 = time.perf_counter()
    ev = rs.evaluate(doc)
    return time.perf_counter() - t0, {i.rule_id for i in ev.indicators}


def test_redos_regex_on_50k_a_returns_promptly(rs: RuleSet) -> None:
    elapsed, fired = timed(rs, Document(url="", body="a" * 50_000 + "!"))
    assert elapsed < BOUND_S
    assert "s.redos" not in fired  # `$` does not match before "!"
    elapsed, fired = timed(rs, Document(url="", body="a" * 50_000))
    assert elapsed < BOUND_S and "s.redos" in fired


def test_one_megabyte_of_a(rs: RuleSet) -> None:
    elapsed, fired = timed(rs, Document(url="", body="a" * 1_000_000 + " aaaa"))
    assert elapsed < BOUND_S
    assert {"s.lit", "s.leet"} <= fired


def test_match_lists_are_capped(rs: RuleSet) -> None:
    ev = rs.evaluate(Document(url="", body="a " * 100_000))
    (ind,) = [i for i in ev.indicators if i.rule_id == "s.lit"]
    assert len(ind.spans) <= 20
    assert MAX_MATCHES <= 1000


def test_100k_emojis(rs: RuleSet) -> None:
    body = "🌹\ufe0f" * 50_000 + "👩‍❤️‍👨" * 10_000 + "a 🌹"
    elapsed, fired = timed(rs, Document(url="", body=body))
    assert elapsed < BOUND_S
    assert "s.lit" in fired


def test_mixed_scripts_and_combining_marks(rs: RuleSet) -> None:
    unit = "Жж ω ﬁ Straße e\u0301\u0301\u0301 ١٢٣ 漢字 \u200b a"
    elapsed, _ = timed(rs, Document(url="", body=unit * 20_000))
    assert elapsed < BOUND_S


def test_many_words_for_near(rs: RuleSet) -> None:
    body = "a b " * 200_000 + "🌹"
    elapsed, fired = timed(rs, Document(url="", body=body))
    assert elapsed < BOUND_S and "s.lit" in fired


def test_huge_pattern_is_refused_not_compiled_forever(tmp_path: Path) -> None:
    from crawler.errors import RuleLoadError

    with pytest.raises(RuleLoadError, match="not valid RE2"):
        ruleset(
            tmp_path,
            rule_dict(selections={"s": selection({"re": "((a{100}){100}){100}"})}, condition="s"),
        )
