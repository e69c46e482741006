from __future__ import annotations

from pathlib import Path

import pytest

from crawler.errors import SettingsError
from crawler.fetch import Fetcher
from crawler.policy import SourcePolicy, matches_domain
from crawler.settings import FetchSettings

ROOT = Path(__file__).resolve().parent.parent


def test_default_policy_refuses_onion_and_i2p_with_a_reason() -> None:
    policy = SourcePolicy()
    why = policy.decide("http://abcdefghijklmnop.onion/ad")
    assert why is not None and ".onion" in why
    assert policy.decide("http://forum.i2p/") is not None
    assert policy.decide("http://printer.local/") is not None
    assert policy.decide("https://example.org/a") is None


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("example.org", "example.org", True),
        ("ads.example.org", "example.org", True),
        ("badexample.org", "example.org", False),
        ("x.onion", ".onion", True),
        ("a.example.net", "*.example.net", True),
        ("example.net", "*.example.net", False),
        ("EXAMPLE.org.", "example.org", True),
    ],
)
def test_domain_patterns(host: str, pattern: str, expected: bool) -> None:
    assert matches_domain(host, pattern) is expected


def test_allow_list_refuses_other_hosts() -> None:
    policy = SourcePolicy.parse("allow: [example.org]\n", "s.yaml")
    assert policy.decide("https://ads.example.org/1") is None
    why = policy.decide("https://other.example/1")
    assert why is not None and "allow list" in why and "s.yaml" in why


def test_example_file_loads_with_overrides_and_legal_basis() -> None:
    policy = SourcePolicy.load(ROOT / "seeds" / "sources.example.yaml")
    rule = policy.rule_for("ads.example.org")
    assert rule.rate == 0.5 and rule.concurrency == 1 and rule.max_depth == 2
    assert policy.legal_basis("https://ads.example.org/ad/1") == (
        "Case 2026-0417, production order of 2026-11-02")
    assert policy.legal_basis("https://elsewhere.example/") is not None  # the file default
    assert policy.decide("http://tracker.example/") is not None
    assert policy.decide("http://x.onion/") is not None  # defaults kept


def test_longest_pattern_wins() -> None:
    policy = SourcePolicy.parse(
        "sources:\n  example.org: {rate: 1}\n  ads.example.org: {rate: 0.2}\n")
    assert policy.rule_for("ads.example.org").rate == 0.2
    assert policy.rule_for("www.example.org").rate == 1
    assert policy.rule_for("other.example").rate is None


def test_broken_yaml_names_file_and_line() -> None:
    with pytest.raises(SettingsError) as info:
        SourcePolicy.parse("allow:\n  - a.example\n deny: [\n", "broken.yaml")
    assert info.value.key == "TRIAGE_SOURCES"
    assert "broken.yaml:3" in str(info.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sources:\n  example.org:\n    rate: fast\n", "broken.yaml:3: example.org: rate"),
        ("sources:\n  example.org:\n    include: ['(']\n", "bad regular expression"),
        ("sources:\n  example.org:\n    speed: 3\n", "unknown key"),
        ("allow: 3\n", "allow"),
        ("colour: red\n", "unknown key"),
        ("- a\n- b\n", "mapping"),
    ],
)
def test_invalid_policy_is_refused_with_location(text: str, needle: str) -> None:
    with pytest.raises(SettingsError) as info:
        SourcePolicy.parse(text, "broken.yaml")
    assert needle in str(info.value)


def test_missing_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        SourcePolicy.load(tmp_path / "nope.yaml")


def test_fetcher_loads_policy_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("deny: [blocked.example]\n")
    fetcher = Fetcher(FetchSettings(sources_path=path))
    assert fetcher.policy.decide("http://blocked.example/") is not None


def _follower(text: str) -> Fetcher:
    return Fetcher(FetchSettings(), policy=SourcePolicy.parse(text))


def test_links_are_not_followed_by_default() -> None:
    f = _follower("")
    assert not f.should_follow("https://example.org/", "https://example.org/b", 1)


def test_follow_rules_depth_same_site_include_exclude() -> None:
    f = _follower(
        "sources:\n"
        "  example.org:\n"
        "    max_depth: 2\n"
        "    include: ['^https://example\\.org/ads/']\n"
        "    exclude: ['/login']\n"
    )
    parent = "https://example.org/ads/"
    assert f.should_follow(parent, "https://example.org/ads/2", 1)
    assert f.should_follow(parent, "https://example.org/ads/2", 2)
    assert not f.should_follow(parent, "https://example.org/ads/2", 3)  # too deep
    assert not f.should_follow(parent, "https://example.org/about", 1)  # not included
    assert not f.should_follow(parent, "https://example.org/ads/login", 1)  # excluded
    assert not f.should_follow(parent, "https://other.example/ads/1", 1)  # other site
    assert not f.should_follow(parent, "mailto:a@example.org", 1)
    assert not f.should_follow(parent, "http://x.onion/ads/", 1)


def test_cross_site_following_when_allowed() -> None:
    f = _follower("defaults: {max_depth: 1, same_site: false}\n")
    assert f.should_follow("https://example.org/", "https://other.example/x", 1)


def test_remembered_host_decisions_are_the_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    import crawler.policy as policy_module

    monkeypatch.setattr(policy_module, "DECISION_MEMO_MAX", 3)  # filled and dropped often
    policy = SourcePolicy.parse("allow: [example.org, '*.example.net']\ndeny: [bad.example.org]\n")
    urls = ["http://example.org/a", "https://x.example.org/", "http://bad.example.org/",
            "http://a.example.net/", "http://example.com/", "http://abc.onion/",
            "http://EXAMPLE.org./", "http:///nohost", "http://user@example.org:81/"]
    for _ in range(3):
        for url in urls:
            from urllib.parse import urlsplit

            host = (urlsplit(url).hostname or "").lower()
            expected = (f"URL has no host: {url!r}" if not host
                        else policy._decide_host(host))
            assert policy.decide(url) == expected, url
    assert len(policy._decisions) <= 3
    assert policy == SourcePolicy.parse(
        "allow: [example.org, '*.example.net']\ndeny: [bad.example.org]\n")  # memo not compared
