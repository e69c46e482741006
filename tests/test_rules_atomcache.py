"""The on-disk atom cache: used only when safe, never changes what a pack compiles to."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.rules import load_ruleset
from crawler.rules import patterns as P
from crawler.rules.atomcache import SPOT_CHECKS


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "cache"
    monkeypatch.setenv("TRIAGE_RULES_CACHE", str(directory))
    P.reset_atom_cache()
    yield directory
    P.reset_atom_cache()


def _atoms_of_shipped() -> dict[tuple[str, bool], object]:
    rs = load_ruleset(None)
    return {
        (p.regex_source, p.key.cased): p.atoms
        for r in rs.compiled()
        for sel in r.selections.values()
        for p in sel.patterns
        if p.regex is not None
    }


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = P.regex_atoms

    def counted(source: str, *, cased: bool) -> object:
        calls.append(source)
        return real(source, cased=cased)

    monkeypatch.setattr(P, "regex_atoms", counted)
    return calls


def _fresh() -> None:
    """A new process, as far as the caches go."""
    P.reset_atom_cache()
    P._literal_pattern.cache_clear()


def test_a_second_start_reads_the_atoms_from_disk(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = _atoms_of_shipped()
    (file,) = cache.glob("atoms-*.json")
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert oct(file.stat().st_mode & 0o777) == "0o600"
    _fresh()
    calls = _counting(monkeypatch)
    assert _atoms_of_shipped() == want
    assert len(calls) == SPOT_CHECKS  # only the spot checks: the rest came from the file


def _tamper(file: Path) -> None:
    data = json.loads(file.read_text())
    for entry in data["entries"]:
        entry[2] = [["zzzzzz"]]  # would keep every regex from ever running
    file.write_text(json.dumps(data))


def test_a_tampered_file_is_detected_and_rewritten(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = _atoms_of_shipped()
    (file,) = cache.glob("atoms-*.json")
    _tamper(file)
    _fresh()
    assert _atoms_of_shipped() == want
    _fresh()
    calls = _counting(monkeypatch)
    assert _atoms_of_shipped() == want
    assert len(calls) == SPOT_CHECKS  # the rewritten file is whole again


@pytest.mark.parametrize("how", ["group-writable", "symlink", "not json", "other code"])
def test_an_unsafe_or_foreign_file_is_not_read(
    cache: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    want = _atoms_of_shipped()
    (file,) = cache.glob("atoms-*.json")
    if how == "group-writable":
        file.chmod(0o664)
    elif how == "symlink":
        target = cache.parent / "elsewhere.json"
        file.rename(target)
        file.symlink_to(target)
    elif how == "not json":
        file.write_bytes(b"\x80 not json")
    else:
        data = json.loads(file.read_text())
        data["code"] = "0" * 64
        file.write_text(json.dumps(data))
    _fresh()
    calls = _counting(monkeypatch)
    assert _atoms_of_shipped() == want
    assert len(calls) > 100  # computed, not read


def test_a_directory_others_can_write_is_neither_read_nor_written(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir(mode=0o700)
    cache.chmod(0o777)
    want = _atoms_of_shipped()
    assert not list(cache.glob("atoms-*.json"))
    _fresh()
    assert _atoms_of_shipped() == want


@pytest.mark.parametrize("where", ["a file", "read-only", "off"])
def test_no_usable_directory_just_computes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "a file":
        blocker = tmp_path / "file"
        blocker.write_text("x")
        monkeypatch.setenv("TRIAGE_RULES_CACHE", str(blocker / "cache"))
    elif where == "read-only":
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        monkeypatch.setenv("TRIAGE_RULES_CACHE", str(ro / "cache"))
    else:
        monkeypatch.setenv("TRIAGE_RULES_CACHE", "off")
    P.reset_atom_cache()
    try:
        want = _atoms_of_shipped()
        assert all(v is None or v for v in want.values())
    finally:
        P.reset_atom_cache()
    if where != "read-only" or os.getuid() != 0:  # root may write anywhere
        assert not list(tmp_path.rglob("atoms-*.json"))
