from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from crawler.errors import SettingsError
from crawler.settings import FetchSettings


def test_defaults_are_the_documented_ones() -> None:
    s = FetchSettings.from_env({})
    assert s.concurrency == 32
    assert s.per_host_rps == 1.0
    assert s.per_host_concurrency == 2
    assert s.max_redirects == 5
    assert s.max_body_bytes == 5 * 1024 * 1024
    assert s.allowed_content_types == ("text/html", "application/xhtml+xml", "text/plain")
    assert s.allow_cidrs == ()
    assert s.proxy is None
    assert s.transport == "auto"
    assert s.robots_ttl_max == 86400
    assert s.robots_max_bytes == 500 * 1024
    assert s.user_agent.startswith("triage/")


def test_docs_list_every_setting() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "safety.md").read_text()
    from crawler.settings import env_key

    for name in FetchSettings.__dataclass_fields__:
        if name == "sniff_bytes":
            continue
        assert env_key(name) in doc, f"{env_key(name)} missing from docs/safety.md"


def test_environment_is_read_and_typed() -> None:
    s = FetchSettings.from_env({
        "TRIAGE_PER_HOST_RPS": "0.5",
        "TRIAGE_CONCURRENCY": "8",
        "TRIAGE_ALLOW_CIDRS": "127.0.0.1/32, ::1/128",
        "TRIAGE_MAX_BODY_BYTES": "2MiB",
        "TRIAGE_CONTENT_TYPES": "text/html",
        "TRIAGE_CONTACT": "mailto:osint@example.org",
        "TRIAGE_USER_AGENT": "triage-unit7",
        "TRIAGE_SOURCES": "seeds/sources.example.yaml",
        "TRIAGE_PROXY": "http://gateway.example:3128",
    })
    assert s.per_host_rps == 0.5 and s.concurrency == 8
    assert s.allow_cidrs == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    assert s.max_body_bytes == 2 * 1024 * 1024
    assert s.allowed_content_types == ("text/html",)
    assert s.user_agent == "triage-unit7/0.1.0 (+mailto:osint@example.org)"
    assert s.sources_path == Path("seeds/sources.example.yaml")
    assert s.proxy == "http://gateway.example:3128"


def test_overrides_win_over_environment() -> None:
    s = FetchSettings.from_env({"TRIAGE_PER_HOST_RPS": "0.5"}, per_host_rps=0, concurrency=None)
    assert s.per_host_rps == 0
    assert s.concurrency == 32


def test_process_environment_is_used_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_ALLOW_CIDRS", "127.0.0.1/32")
    assert FetchSettings.from_env().allow_cidrs == (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"TRIAGE_PER_HOST_RPS": "fast"}, "TRIAGE_PER_HOST_RPS"),
        ({"TRIAGE_PER_HOST_RPS": "-1"}, "TRIAGE_PER_HOST_RPS"),
        ({"TRIAGE_CONCURRENCY": "0"}, "TRIAGE_CONCURRENCY"),
        ({"TRIAGE_ALLOW_CIDRS": "127.0.0.1/33"}, "TRIAGE_ALLOW_CIDRS"),
        ({"TRIAGE_MAX_REDIRECTS": "50"}, "TRIAGE_MAX_REDIRECTS"),
        ({"TRIAGE_ROBOTS_TTL_MAX": "90000"}, "TRIAGE_ROBOTS_TTL_MAX"),
        ({"TRIAGE_ROBOTS_MAX_BYTES": "1000"}, "TRIAGE_ROBOTS_MAX_BYTES"),
        ({"TRIAGE_PROXY": "ftp://x"}, "TRIAGE_PROXY"),
        ({"TRIAGE_PROXY": "socks5://gw:1080"}, "TRIAGE_PROXY"),
        ({"TRIAGE_USER_AGENT": "Mozilla/5.0"}, "TRIAGE_USER_AGENT"),
        ({"TRIAGE_CONTENT_TYPES": "html"}, "TRIAGE_CONTENT_TYPES"),
        ({"TRIAGE_TOTAL_TIMEOUT": "0"}, "TRIAGE_TOTAL_TIMEOUT"),
        ({"TRIAGE_TRANSPORT": "curl"}, "TRIAGE_TRANSPORT"),
        ({"TRIAGE_TRANSPORT": "aiohttp", "TRIAGE_PROXY": "http://gw:3128"}, "TRIAGE_TRANSPORT"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as info:
        FetchSettings.from_env(env)
    assert info.value.key == key
    assert key in str(info.value)


def test_unknown_override_is_refused() -> None:
    with pytest.raises(SettingsError) as info:
        FetchSettings.from_env({}, per_host_rpss=3)
    assert info.value.key == "per_host_rpss"


def test_settings_are_frozen() -> None:
    s = FetchSettings()
    with pytest.raises(AttributeError):
        s.concurrency = 3  # type: ignore[misc]


def test_direct_construction_normalises_cidrs() -> None:
    s = FetchSettings(allow_cidrs=("127.0.0.1/32",))  # type: ignore[arg-type]
    assert s.allow_cidrs == (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.mark.parametrize(
    ("env", "chosen"),
    [
        ({}, "aiohttp"),
        ({"TRIAGE_PROXY": "http://gw:3128"}, "httpx"),
        ({"TRIAGE_TRANSPORT": "httpx"}, "httpx"),
        ({"TRIAGE_TRANSPORT": " AIOHTTP "}, "aiohttp"),
        ({"TRIAGE_TRANSPORT": "auto", "TRIAGE_PROXY": "http://gw:3128"}, "httpx"),
        ({"TRIAGE_TRANSPORT": "httpx", "TRIAGE_PROXY": "http://gw:3128"}, "httpx"),
    ],
)
def test_transport_is_aiohttp_unless_a_proxy_or_chosen(env: dict[str, str], chosen: str) -> None:
    assert FetchSettings.from_env(env).http_transport == chosen
