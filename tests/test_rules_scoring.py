"""Scoring: family caps, thresholds, the two-family gate, weight-0 and negative weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.models import Document, Indicator
from crawler.rules import RuleSet
from tests.rules_helpers import rule_dict, ruleset, selection

SETTINGS: dict[str, Any] = {
    "default_cap": 4.0,
    "family_caps": {"ai_generated": 1.0},
    "thresholds": {"high": 4.0, "medium": 2.5, "low": 1.0},
    "min_families_for_high": 2,
}


def r(rule_id: str, word: str, family: str, weight: float) -> dict[str, Any]:
    return rule_dict(
        id=rule_id,
        family=family,
        weight=weight,
        selections={"s": selection(word)},
        condition="s",
    )


def pack(tmp_path: Path) -> RuleSet:
    return ruleset(
        tmp_path,
        r("h.one", "driver", "handler", 3.0),
        r("h.two", "manager", "handler", 3.0),
        r("c.one", "usdt", "crypto_only", 1.5),
        r("a.one", "journey", "ai_generated", 0.8),
        r("a.two", "dynamic", "ai_generated", 0.8),
        r("m.zero", "new in town", "movement", 0.0),
        r("l.neg", "registered employer", "labour_exploitation", -2.0),
        r("l.pos", "passport kept", "labour_exploitation", 1.0),
        settings=SETTINGS,
    )


def ev(rs: RuleSet, body: str, **kw: Any) -> Any:
    return rs.evaluate(Document(url="", body=body), **kw)


def test_nothing_fires_means_none(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "hello")
    assert (e.score, e.priority, e.indicators, e.family_scores) == (0, "none", (), {})


def test_family_total_is_capped(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "driver and manager")
    assert e.family_scores == {"handler": 4.0}
    assert e.score == 4.0


def test_single_family_never_reaches_high(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "driver and manager")
    assert e.priority == "medium"


def test_two_families_reach_high(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "driver, manager, usdt")
    assert e.score == 5.5 and e.priority == "high"


def test_two_families_below_high_threshold_stay_medium(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "driver, journey")
    assert e.score == 3.8 and e.priority == "medium"


def test_link_to_flagged_network_replaces_the_second_family(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "driver and manager", linked_to_flagged_network=True)
    assert e.priority == "high"


def test_low_cap_family_only_corroborates(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "journey dynamic")
    assert e.family_scores == {"ai_generated": 1.0}
    assert e.priority == "low"


def test_weight_zero_rule_is_recorded_but_adds_nothing(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "new in town")
    assert [i.rule_id for i in e.indicators] == ["m.zero"]
    assert (e.score, e.priority) == (0, "none")
    assert not e.flagged


def test_weight_zero_family_does_not_count_for_the_gate(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "driver manager new in town")
    assert e.priority == "medium"


def test_negative_weight_lowers_its_family(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "passport kept by a registered employer, driver")
    assert e.family_scores == {"handler": 3.0, "labour_exploitation": -1.0}
    assert e.score == 2.0 and e.priority == "low"


def test_score_below_low_threshold_is_none(tmp_path: Path) -> None:
    e = ev(pack(tmp_path), "journey")
    assert e.score == 0.8 and e.priority == "none"
    assert len(e.indicators) == 1


def test_extra_indicators_are_scored_like_rules(tmp_path: Path) -> None:
    extra = Indicator("network.shared-phone", 1, "network", "medium", 2.0, "shared phone")
    e = ev(pack(tmp_path), "driver and manager", extra_indicators=[extra])
    assert e.family_scores == {"handler": 4.0, "network": 2.0}
    assert e.priority == "high"
    assert e.indicators[-1] is extra


def test_default_settings_when_no_settings_file(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, r("h.one", "driver", "handler", 9.0))
    assert ev(rs, "driver").score == 4.0  # default cap


def test_ruleset_version_changes_with_rule_versions_and_settings(tmp_path: Path) -> None:
    a = ruleset(tmp_path / "a", r("h.one", "driver", "handler", 1.0))
    same = ruleset(tmp_path / "b", r("h.one", "driver", "handler", 1.0))
    bumped = ruleset(tmp_path / "c", {**r("h.one", "driver", "handler", 1.0), "version": 2})
    capped = ruleset(tmp_path / "d", r("h.one", "driver", "handler", 1.0), settings=SETTINGS)
    assert a.version == same.version
    assert len({a.version, bumped.version, capped.version}) == 3
    assert ev(a, "driver").ruleset_version == a.version
