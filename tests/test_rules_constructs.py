"""Every construct of the rule language, one behaviour per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.models import Document, Entity, Span
from crawler.rules import RuleSet
from tests.rules_helpers import fired, rule_dict, ruleset, selection


def one(tmp_path: Path, *patterns: object, condition: str = "sel", **sel_extra: object) -> RuleSet:
    return ruleset(
        tmp_path,
        rule_dict(selections={"sel": selection(*patterns, **sel_extra)}, condition=condition),
    )


# ---------------------------------------------------------------- literals


def test_literal_is_case_insensitive(tmp_path: Path) -> None:
    assert fired(one(tmp_path, "Bitcoin"), "pay in BITCOIN") == {"t.rule"}


def test_literal_is_whole_word_by_default(tmp_path: Path) -> None:
    rs = one(tmp_path, "eth")
    assert fired(rs, "the method works") == set()
    assert fired(rs, "pay in eth, please") == {"t.rule"}


def test_literal_substring_modifier(tmp_path: Path) -> None:
    rs = one(tmp_path, "crypto", modifiers=["substring"])
    assert fired(rs, "cryptowallet accepted") == {"t.rule"}


def test_literal_folds_accents_and_unicode_forms(tmp_path: Path) -> None:
    rs = one(tmp_path, "café", "straße")
    assert fired(rs, "CAFE open") == {"t.rule"}
    assert fired(rs, "ｓｔｒａｓｓｅ 5") == {"t.rule"}  # full-width, ß -> ss
    assert fired(rs, "cafe\u0301 open") == {"t.rule"}  # decomposed accent


def test_literal_with_non_word_edges_needs_no_boundary(tmp_path: Path) -> None:
    rs = one(tmp_path, "18+")
    assert fired(rs, "only 18+only") == {"t.rule"}


def test_literal_whitespace_runs_count_as_one_space(tmp_path: Path) -> None:
    assert fired(one(tmp_path, "text my driver"), "TEXT  my\n\tdriver") == {"t.rule"}


def test_zero_width_characters_do_not_hide_a_word(tmp_path: Path) -> None:
    assert fired(one(tmp_path, "bitcoin"), "bit\u200bcoin only") == {"t.rule"}


def test_cased_modifier(tmp_path: Path) -> None:
    rs = one(tmp_path, {"text": "VIP", "modifiers": ["cased"]})
    assert fired(rs, "VIP service") == {"t.rule"}
    assert fired(rs, "vip service") == set()


def test_leet_modifier_folds_digits_symbols_and_lookalikes(tmp_path: Path) -> None:
    rs = one(tmp_path, "bitcoin", "girl", modifiers=["leet"])
    assert fired(rs, "b1tc0in accepted") == {"t.rule"}
    assert fired(rs, "new g1rl") == {"t.rule"}
    assert fired(rs, "bіtcоin") == {"t.rule"}  # Cyrillic і and о
    assert fired(one(tmp_path / "plain", "bitcoin"), "b1tc0in accepted") == set()


def test_digits_modifier_reads_spelled_out_digits_and_keycaps(tmp_path: Path) -> None:
    rs = one(tmp_path, {"re": r"\d \d \d", "modifiers": ["digits"]})
    assert fired(rs, "call zero one seven now") == {"t.rule"}
    assert fired(rs, "call null eins sieben") == {"t.rule"}
    assert fired(rs, "call 0\ufe0f\u20e3 1\ufe0f\u20e3 7\ufe0f\u20e3") == {"t.rule"}
    assert fired(one(tmp_path / "plain", {"re": r"\d \d \d"}), "call zero one seven") == set()


# ---------------------------------------------------------------- regexes, lang, scopes


def test_regex_pattern(tmp_path: Path) -> None:
    rs = one(tmp_path, {"re": r"\b(only|exclusively)\s+(btc|usdt)\b"})
    assert fired(rs, "Payment: ONLY  USDT") == {"t.rule"}
    assert fired(rs, "usdt only") == set()


def test_regex_runs_on_accent_folded_text(tmp_path: Path) -> None:
    rs = one(tmp_path, {"re": r"\bneue\s+m[äa]dchen\b"})
    assert fired(rs, "Neue Mädchen!") == {"t.rule"}


def test_regex_without_atoms_still_matches(tmp_path: Path) -> None:
    rs = one(tmp_path, {"re": r"\d{9,}"}, {"re": r"[a-z]\d[a-z]\d"})
    assert fired(rs, "call 015112345678") == {"t.rule"}
    assert fired(rs, "code a1b2") == {"t.rule"}
    assert fired(rs, "nothing here") == set()


def test_per_pattern_lang(tmp_path: Path) -> None:
    rs = one(tmp_path, {"text": "nur", "lang": ["de"]})
    de = Document(url="", body="nur heute", language="de")
    en = Document(url="", body="nur heute", language="en")
    unknown = Document(url="", body="nur heute")
    assert [len(rs.evaluate(d).indicators) for d in (de, en, unknown)] == [1, 0, 1]


def test_scope_restricts_where_patterns_are_searched(tmp_path: Path) -> None:
    rs = one(tmp_path, "bitcoin", scope=["title", "contact"])
    assert fired(rs, "bitcoin") == set()
    assert fired(rs, title="Bitcoin") == {"t.rule"}
    assert fired(rs, contact="bitcoin: bc1...") == {"t.rule"}


def test_scope_any_and_url_and_meta(tmp_path: Path) -> None:
    rs = one(tmp_path, "escort", scope="any")
    assert fired(rs, url="https://example.test/escort/1") == {"t.rule"}
    assert fired(rs, meta="escort ads") == {"t.rule"}


# ---------------------------------------------------------------- conditions


def _cond(tmp_path: Path, condition: str, **sels: list[object]) -> RuleSet:
    return ruleset(
        tmp_path,
        rule_dict(selections={k: selection(*v) for k, v in sels.items()}, condition=condition),
    )


def test_and_or_not_and_parentheses(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "(a or b) and not c", a=["alpha"], b=["beta"], c=["gamma"])
    assert fired(rs, "alpha") == {"t.rule"}
    assert fired(rs, "beta") == {"t.rule"}
    assert fired(rs, "beta gamma") == set()
    assert fired(rs, "delta") == set()


def test_not_binds_tighter_than_and_which_binds_tighter_than_or(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "a or b and not c", a=["alpha"], b=["beta"], c=["gamma"])
    assert fired(rs, "alpha gamma") == {"t.rule"}  # a or (b and not c)
    assert fired(rs, "beta gamma") == set()


def test_condition_with_only_not_fires_on_pages_without_matches(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "not a", a=["alpha"])
    assert fired(rs, "nothing") == {"t.rule"}
    assert fired(rs, "alpha") == set()


def test_n_of_selection_glob(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "2 of cue_*", cue_a=["alpha"], cue_b=["beta"], cue_c=["gamma"])
    assert fired(rs, "alpha") == set()
    assert fired(rs, "alpha gamma") == {"t.rule"}


def test_all_of_them_and_any_of(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "all of them", a=["alpha"], b=["beta"])
    assert fired(rs, "alpha") == set()
    assert fired(rs, "beta alpha") == {"t.rule"}
    rs2 = _cond(tmp_path / "2", "any of x_*", x_a=["alpha"], x_b=["beta"])
    assert fired(rs2, "beta") == {"t.rule"}


def test_n_of_patterns_counts_distinct_patterns(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "2 of (p)", p=["alpha", "beta", "gamma"])
    assert fired(rs, "alpha alpha alpha") == set()
    assert fired(rs, "alpha then gamma") == {"t.rule"}


def test_count_counts_every_occurrence(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "count(rose) >= 3", rose=[{"text": "🌹", "modifiers": ["substring"]}])
    assert fired(rs, "🌹🌹") == set()
    assert fired(rs, "🌹🌹🌹") == {"t.rule"}


@pytest.mark.parametrize(
    ("op", "n", "expected"),
    [(">", 1, True), ("==", 2, True), ("!=", 2, False), ("<=", 1, False), ("<", 3, True)],
)
def test_count_operators(tmp_path: Path, op: str, n: int, expected: bool) -> None:
    rs = _cond(tmp_path, f"a and count(a) {op} {n}", a=["alpha"])
    assert (fired(rs, "alpha, alpha") == {"t.rule"}) is expected


def test_near_counts_words_between_matches_in_the_same_scope(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "near(a, b, within=2)", a=["only"], b=["usdt"])
    assert fired(rs, "usdt only") == {"t.rule"}
    assert fired(rs, "only in usdt") == {"t.rule"}
    assert fired(rs, "only pay in usdt") == {"t.rule"}
    assert fired(rs, "only we take pay in usdt") == set()


def test_near_does_not_cross_scopes(tmp_path: Path) -> None:
    rs = ruleset(
        tmp_path,
        rule_dict(
            selections={
                "a": selection("only", scope="any"),
                "b": selection("usdt", scope="any"),
            },
            condition="near(a, b, within=5)",
        ),
    )
    assert fired(rs, "usdt", title="only") == set()
    assert fired(rs, "usdt only", title="only") == {"t.rule"}


def _entity(kind: str, subtype: str = "") -> Entity:
    span = Span(scope="body", start=0, end=1, text="x", context="x")
    return Entity(kind=kind, value="v", span=span, subtype=subtype)  # type: ignore[arg-type]


def test_extracted_kind_and_subtype(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "a and extracted(wallet)", a=["deposit"])
    doc = Document(url="", body="deposit first")
    assert rs.evaluate(doc).indicators == ()
    assert len(rs.evaluate(doc, [_entity("wallet", "btc")]).indicators) == 1
    rs2 = _cond(tmp_path / "2", "a and extracted(handle:telegram)", a=["deposit"])
    assert rs2.evaluate(doc, [_entity("handle", "whatsapp")]).indicators == ()
    assert len(rs2.evaluate(doc, [_entity("handle", "telegram")]).indicators) == 1


def test_extracted_alone_is_evaluated_without_any_text_match(tmp_path: Path) -> None:
    rs = _cond(tmp_path, "extracted(phone) or a", a=["deposit"])
    doc = Document(url="", body="nothing")
    assert len(rs.evaluate(doc, [_entity("phone")]).indicators) == 1


def test_deprecated_rules_are_loaded_but_not_evaluated(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule_dict(status="deprecated"))
    assert [r.status for r in rs.rules] == ["deprecated"]
    assert fired(rs, "bitcoin") == set()


def test_many_rules_share_literals(tmp_path: Path) -> None:
    rules = [rule_dict(id=f"t.r{i}", selections={"s": selection("bitcoin")}, condition="s")
             for i in range(5)]  # fmt: skip
    rs = ruleset(tmp_path, *rules)
    assert fired(rs, "bitcoin") == {f"t.r{i}" for i in range(5)}


def test_describe_lists_rules_for_the_api(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, rule_dict(tags=["thb.payment"]))
    (info,) = rs.describe()
    assert info["id"] == "t.rule" and info["version"] == 1 and info["tags"] == ["thb.payment"]
    assert info["file"].endswith("pack.yaml")
