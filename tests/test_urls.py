"""URL canonicalisation, host keys and same-site decisions (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.urls import (
    InvalidURL,
    canonicalize,
    canonicalize_fast,
    host_key,
    is_http_url,
    same_site,
    site_of,
)


def test_idn_host_becomes_punycode() -> None:
    assert canonicalize("http://Bücher.Example/") == "http://xn--bcher-kva.example/"


def test_fragment_is_dropped() -> None:
    assert canonicalize("https://a.example/page?x=1#contact") == "https://a.example/page?x=1"


def test_default_port_removed_and_other_port_kept() -> None:
    assert canonicalize("https://A.Example:443/x") == "https://a.example/x"
    assert canonicalize("http://a.example:80") == "http://a.example/"
    assert canonicalize("http://127.0.0.1:8765/ads/1.html") == "http://127.0.0.1:8765/ads/1.html"


def test_scheme_and_host_lower_case_trailing_dot_removed() -> None:
    assert canonicalize("HTTP://WWW.Example.ORG./A") == "http://www.example.org/A"


def test_percent_encoding_normalised_and_query_sorted() -> None:
    assert canonicalize("http://a.example/%7euser/caf%c3%a9?b=2&a=1") == (
        "http://a.example/~user/caf%C3%A9?a=1&b=2"
    )
    assert canonicalize("http://a.example/straße") == "http://a.example/stra%C3%9Fe"


def test_same_url_spelled_differently_canonicalises_equal() -> None:
    a = canonicalize("http://EXAMPLE.com:80/a?y=2&x=1#top")
    b = canonicalize("http://example.com/a?x=1&y=2")
    assert a == b


def test_ipv6_literal_kept_with_port() -> None:
    assert canonicalize("http://[::1]:8080/x") == "http://[::1]:8080/x"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://files.example/a", "not http(s): ftp://files.example/a"),
        ("javascript:alert(1)", "not http(s)"),
        ("www.example.com/page", "no http:// or https:// scheme"),
        ("not a url at all", "whitespace"),
        ("http://user:secret@a.example/", "contains credentials"),
        ("http://a.example/\x00x", "control characters"),
        ("http://a.exa mple/", "whitespace"),
        ("http:/a.example/", "expected //"),
        ("http://a.example:99999/", "bad port"),
        ("http://-bad-.example/", "bad host name"),
        ("http:///path", "no host name"),
        ("", "empty"),
        ("http://a.example/" + "x" * 9000, "longer than"),
    ],
)
def test_bad_urls_are_refused_with_a_readable_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidURL) as info:
        canonicalize(url)
    assert reason in info.value.reason
    assert not is_http_url(url)


def test_is_http_url_accepts_plain_urls() -> None:
    assert is_http_url("https://a.example/")


def test_host_key_includes_only_non_default_ports() -> None:
    assert host_key("http://127.0.0.1:8765/a") == "127.0.0.1:8765"
    assert host_key("https://Shop.Example:443/") == "shop.example"
    assert host_key("http://[::1]:81/") == "[::1]:81"


def test_same_site_uses_registrable_domain() -> None:
    assert same_site("http://a.ads.example/x", "https://www.ads.example/y")
    assert same_site("http://a.shop.co.uk/", "http://b.shop.co.uk/")
    assert not same_site("http://shop.co.uk/", "http://other.co.uk/")
    assert not same_site("http://a.example/", "http://b.example/")
    assert not same_site("http://127.0.0.1/", "http://127.0.0.2/")
    assert site_of("x.y.example.com") == "example.com"


@pytest.mark.parametrize(
    "url",
    [
        "http://a.example/x/y-z_1.html",
        "http://a.example",
        "http://a.example:8080/a//b",
        "http://a.example:80/x",
        "http://A.example/x",
        "http://a.example/a/./b/../c",
        "https://a.example/a'b(c)*!$&+,;=:@~",
        "http://a.example:065/",
        "http://a.example/%41?b=1&a=2",
        "http://a.example/ü",
    ],
)
def test_fast_path_agrees_with_canonicalize(url: str) -> None:
    assert canonicalize_fast(url) == canonicalize(url)


def test_fast_path_still_refuses_bad_urls() -> None:
    with pytest.raises(InvalidURL):
        canonicalize_fast("http://a.example:99999/")


_PIECES = st.sampled_from(
    [*"abcAB09-._~%/?#&=;:@!$'()*+,[]üé ", "%2F", "%41", "%zz", "%e4", "/..", "/./", "?a=1&b="]
)


@settings(max_examples=300, deadline=None)
@given(
    host=st.sampled_from(["a.example", "B.Example", "bücher.example", "127.0.0.1:8765", "[::1]"]),
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    rest=st.lists(_PIECES, max_size=12).map("".join),
)
def test_canonical_form_is_a_fixed_point(host: str, scheme: str, rest: str) -> None:
    try:
        canonical = canonicalize(f"{scheme}://{host}/{rest}")
    except InvalidURL:
        return
    assert canonicalize(canonical) == canonical
    assert canonicalize_fast(canonical) == canonical


_HOSTS = st.sampled_from(["a.example", "B.Example", "bücher.example", "127.0.0.1", "[::1]",
                          "a-b.example", "-a.example", "a..example", "x" * 64 + ".example"])
_PORTS = st.sampled_from(["", ":80", ":443", ":8080", ":080", ":0", ":65535", ":65536", ":"])
_PATH_PIECES = st.sampled_from(
    [*"abcAB09-._~!$&'()*+,;=:@/?#%[] é", "%2F", "%41", "%7e", "%zz", "/..", "/./", "//",
     ";", ";p=1", "?b=2&a=1", "#top", "\t"]
)


@settings(max_examples=600, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    host=_HOSTS,
    port=_PORTS,
    path=st.lists(_PATH_PIECES, max_size=10).map("".join),
)
def test_fast_path_agrees_with_canonicalize_on_random_urls(
    scheme: str, host: str, port: str, path: str
) -> None:
    url = f"{scheme}://{host}{port}{'/' if path and path[0] not in '/?#' else ''}{path}"
    try:
        slow: str | None = canonicalize(url)
    except InvalidURL:
        slow = None
    try:
        fast: str | None = canonicalize_fast(url)
    except InvalidURL:
        fast = None
    assert fast == slow, url
