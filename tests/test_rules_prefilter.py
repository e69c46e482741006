"""The prefilter decides which regexes run; it must never lose a match a full run would find."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.models import Document
from crawler.rules import RuleSet
from crawler.rules.normalize import ViewKey, make_view
from crawler.rules.patterns import compile_re2, regex_atoms
from tests.rules_helpers import rule_dict, ruleset, selection


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"\b(only|just)\s+(usdt|btc)\b", [{"only", "just"}, {"usdt", "btc"}]),
        (r"(?:nur|only)\s+krypto", [{"krypto"}, {"nur", "only"}]),
        (r"caf[ée]", [{"café", "cafe"}]),
        (r"\bis\s+this\s+(job\s+)?(legit|real|a\s+scam)\b", [{"this"}, {"legit", "real", "scam"}]),
        (r"USDT", [{"usdt"}]),
        (r"\d{9,}", None),
        (r"[a-z]+@[a-z]+", None),
        (r"ab?c", None),  # atoms shorter than 3 characters are not worth it
        (r"x(?:abc)*y", None),
    ],
)
def test_regex_atom_sets(regex: str, expected: list[set[str]] | None) -> None:
    atoms = regex_atoms(regex, cased=False)
    if expected is None:
        assert atoms is None
    else:
        assert atoms is not None
        assert sorted(map(sorted, atoms)) == sorted(map(sorted, expected))


REGEXES = [
    r"\b(only|just)\s+(usdt|btc|eth)\b",
    r"\bpay\w*\s+(in|with)\s+\w+",
    r"(deposit|vorkasse)[^.]{0,20}(usdt|btc)",
    r"\b(\d\s?){7,}",
    r"sta(y|ys|ying)\s+with\s+(us|me)",
]
_word = st.sampled_from(
    ["only", "just", "usdt", "btc", "eth", "pay", "payment", "in", "with", "deposit", "vorkasse",
     "stay", "stays", "us", "me", "1", "2", "3", ".", "Ünï", "ß", "ONLY", "Usdt", "x"]
)  # fmt: skip


@pytest.fixture(scope="module")
def rs(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    tmp = tmp_path_factory.mktemp("prefilter")
    return ruleset(
        tmp,
        *[
            rule_dict(id=f"p.r{i}", selections={"s": selection({"re": rx})}, condition="s")
            for i, rx in enumerate(REGEXES)
        ],
    )


@settings(max_examples=200, deadline=None)
@given(words=st.lists(_word, max_size=30))
def test_prefiltered_evaluation_equals_running_every_regex(rs: RuleSet, words: list[str]) -> None:
    body = " ".join(words)
    view = make_view(body, ViewKey()).text
    expected = {
        f"p.r{i}" for i, rx in enumerate(REGEXES) if compile_re2(rx, cased=False).search(view)
    }
    got = {i.rule_id for i in rs.evaluate(Document(url="", body=body)).indicators}
    assert got == expected


def test_cased_regex_behind_the_case_insensitive_gate(tmp_path: Path) -> None:
    rs = ruleset(
        tmp_path,
        rule_dict(
            selections={
                "s": selection({"re": r"\bT[1-9A-HJ-NP-Za-km-z]{33}\b", "modifiers": ["cased"]})
            },
            condition="s",
        ),
    )
    addr = "TXYZabcdefghijkmnopqrstuvwxyz12345"
    assert len(addr) == 34
    assert [i.rule_id for i in rs.evaluate(Document(url="", body=f"send to {addr}")).indicators]
    assert not rs.evaluate(Document(url="", body=f"send to {addr.lower()}")).indicators
    assert not rs.evaluate(Document(url="", body="nothing here")).indicators
