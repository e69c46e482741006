"""Seed files: plain and CSV forms, line-numbered rejects, duplicates, encodings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.errors import SeedError
from crawler.seeds import parse_seed_text, read_seed_file

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str | bytes, name: str = "seeds.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def test_bad_lines_are_reported_with_file_line_and_reason_and_the_rest_still_parsed(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "# comment\n"
        "https://a.example/1\n"
        "ftp://files.example/x\n"
        "\n"
        "not a url at all\n"
        "https://user:pw@b.example/\n"
        "https://a.example/2   # trailing comment\n",
    )
    parsed = read_seed_file(path)
    assert [s.url for s in parsed.seeds] == ["https://a.example/1", "https://a.example/2"]
    assert [s.line for s in parsed.seeds] == [2, 7]
    assert {s.source for s in parsed.seeds} == {"seeds.txt"}
    rejects = {(r.source, r.line): r.reason for r in parsed.rejects}
    assert rejects[("seeds.txt", 3)] == "not http(s): ftp://files.example/x"
    assert rejects[("seeds.txt", 5)] == "not a URL"
    assert "contains credentials" in rejects[("seeds.txt", 6)]
    assert parsed.rejects[0].text == "ftp://files.example/x"


def test_line_too_long_is_rejected(tmp_path: Path) -> None:
    parsed = read_seed_file(write(tmp_path, "https://a.example/" + "a" * 20000 + "\n"))
    assert parsed.seeds == []
    assert parsed.rejects[0].reason.startswith("line too long")
    assert parsed.rejects[0].line == 1


def test_two_urls_on_one_line_get_a_clear_reason() -> None:
    parsed = parse_seed_text("https://a.example/ https://b.example/\n", "x")
    assert parsed.rejects[0].reason == "several URLs on one line; put one URL a line"


def test_duplicates_within_a_file_are_counted_after_canonicalisation() -> None:
    parsed = parse_seed_text(
        "https://a.example/x\nHTTPS://A.EXAMPLE:443/x#frag\nhttps://a.example/x\nhttps://b.example/\n",
        "dup.txt",
    )
    assert [s.url for s in parsed.seeds] == ["https://a.example/x", "https://b.example/"]
    assert parsed.duplicates == 2
    assert parsed.total_lines == 4


def test_csv_form_detected_by_header_with_labels(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "URL,Label\n"
        'https://a.example/1,"tip, from hotline"\n'
        "https://a.example/2,\n"
        "# a comment\n"
        "mailto:x@y.example,bad one\n",
        "seeds.csv",
    )
    parsed = read_seed_file(path)
    assert parsed.form == "csv"
    assert [(s.url, s.label, s.line) for s in parsed.seeds] == [
        ("https://a.example/1", "tip, from hotline", 2),
        ("https://a.example/2", None, 3),
    ]
    assert [(r.line, r.reason) for r in parsed.rejects] == [(5, "not http(s): mailto:x@y.example")]


def test_csv_with_url_column_not_first() -> None:
    parsed = parse_seed_text("label,url\nfirst,https://a.example/\n", "s.csv")
    assert [(s.url, s.label) for s in parsed.seeds] == [("https://a.example/", "first")]


def test_plain_file_is_not_taken_for_csv() -> None:
    parsed = parse_seed_text("https://a.example/?a=1,2\n", "s.txt")
    assert parsed.form == "lines"
    assert parsed.seeds[0].url == "https://a.example/?a=1%2C2"


def test_bom_and_crlf_are_handled_and_sha256_is_of_the_file_bytes(tmp_path: Path) -> None:
    data = "\ufeffhttps://a.example/1\r\nhttps://b.example/2\r\n".encode()
    parsed = read_seed_file(write(tmp_path, data))
    assert [s.url for s in parsed.seeds] == ["https://a.example/1", "https://b.example/2"]
    assert parsed.rejects == []
    assert parsed.sha256 == hashlib.sha256(data).hexdigest()


def test_idn_seed_becomes_punycode() -> None:
    parsed = parse_seed_text("https://bücher.example/kontakt\n", "s")
    assert parsed.seeds[0].url == "https://xn--bcher-kva.example/kontakt"


def test_source_name_can_be_given(tmp_path: Path) -> None:
    parsed = read_seed_file(write(tmp_path, "https://a.example/\n"), source="hotline-upload")
    assert parsed.seeds[0].source == "hotline-upload"


def test_non_utf8_file_raises_seed_error_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "https://a.example/\nhttps://b.example/caf\xe9\n".encode("latin-1"))
    with pytest.raises(SeedError, match=r"not UTF-8 text \(line 2"):
        read_seed_file(path)


def test_binary_file_raises_seed_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="not a text file"):
        read_seed_file(write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))


def test_missing_file_raises_seed_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read seed file"):
        read_seed_file(tmp_path / "nope.txt")


def test_directory_raises_seed_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="is a directory"):
        read_seed_file(tmp_path)


def test_shipped_example_seed_lists_parse_cleanly() -> None:
    txt = read_seed_file(ROOT / "seeds" / "example.txt")
    csv_ = read_seed_file(ROOT / "seeds" / "example.csv")
    assert txt.rejects == [] and csv_.rejects == []
    assert txt.duplicates == 1 and txt.form == "lines"
    assert csv_.form == "csv" and all(s.url.startswith("https://") for s in csv_.seeds)
    assert any(s.label for s in csv_.seeds)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(["url,label", "https://a.example/", "#c", "http://ü.example/x#y"]),
        ),
        max_size=12,
    )
)
def test_parse_never_raises_and_accounts_for_every_line(lines: list[str]) -> None:
    parsed = parse_seed_text("\n".join(lines), "fuzz.txt")
    assert all(s.url.startswith(("http://", "https://")) for s in parsed.seeds)
    assert len({s.url for s in parsed.seeds}) == len(parsed.seeds)
    assert all(r.reason for r in parsed.rejects)
