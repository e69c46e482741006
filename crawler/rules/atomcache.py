"""A per-user on-disk cache of regex atom sets (`patterns.regex_atoms`), read at start-up.

The atom analysis (Python's regex parser plus a walk of the tree) is the largest part of
loading a pack (~0.08 s of ~0.24 s for the shipped packs), and its result depends only on the
folded regex source, the case flag and the analysis code. So it is kept on disk:

- Keyed by the pack contents and the code version: the file name is a digest of the analysis
  code (patterns.py as bytes), the Python version (its regex parser) and the format; inside,
  every entry is keyed by its exact input (folded source, cased). A stale or foreign file
  only gives misses, never another regex's atoms.
- Never trusted blindly: JSON only (no pickle); the whole file is dropped if any entry is not
  well formed or if a few entries recomputed at random differ. Only a directory and a file
  owned by the current user and writable by no one else are used (a file is opened without
  following symlinks); a larger file than MAX_BYTES is ignored.
- Never in the way: a missing, unreadable or read-only directory means no cache (the analysis
  runs as before); writes go to a temporary file renamed into place.

`TRIAGE_RULES_CACHE`: a directory, or `off` (or empty) to disable; default
`$XDG_CACHE_HOME/triage`, else `~/.cache/triage`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = "triage-rule-atoms-1"
MAX_BYTES = 16 << 20
MAX_ENTRIES = 50_000
SPOT_CHECKS = 4

Atoms = tuple[frozenset[str], ...] | None
Key = tuple[str, bool]


def cache_dir() -> Path | None:
    env = os.environ.get("TRIAGE_RULES_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "no") else Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    try:
        base = Path(xdg) if xdg else Path.home() / ".cache"
    except RuntimeError:  # no home directory
        return None
    return base / "triage"


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by no one else."""
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _trusted_dir(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _private(st)


class AtomCache:
    """Atom sets by (folded source, cased); `load()` once, `get`/`put`, `save()` if changed."""

    def __init__(self, directory: Path | None, code: bytes) -> None:
        self.directory = directory
        digest = hashlib.sha256(FORMAT.encode() + b"\0" + sys.version.encode() + b"\0" + code)
        self.digest = digest.hexdigest()
        self.entries: dict[Key, Atoms] = {}
        self.loaded = False
        self.dirty = False

    @property
    def path(self) -> Path | None:
        return None if self.directory is None else self.directory / f"atoms-{self.digest[:24]}.json"

    def load(self, compute: Callable[[str, bool], Atoms]) -> None:
        """Read the file if it is safe to; `compute` spot-checks a few entries."""
        self.loaded = True
        path = self.path
        if path is None or self.directory is None or not _trusted_dir(self.directory):
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return
        try:
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode) or not _private(st) or st.st_size > MAX_BYTES:
                    return
                data = json.loads(fh.read(MAX_BYTES + 1))
        except (OSError, ValueError):
            return
        entries = _parse(data, self.digest)
        if entries is None:
            return
        sample = random.Random().sample(sorted(entries), min(SPOT_CHECKS, len(entries)))
        if any(compute(source, cased) != entries[(source, cased)] for source, cased in sample):
            self.dirty = True  # rewritten with what this process computes
            return
        self.entries = entries

    def get(self, source: str, cased: bool) -> tuple[bool, Atoms]:
        key = (source, cased)
        if key in self.entries:
            return True, self.entries[key]
        return False, None

    def put(self, source: str, cased: bool, atoms: Atoms) -> None:
        if len(self.entries) < MAX_ENTRIES:
            self.entries[(source, cased)] = atoms
            self.dirty = True

    def save(self) -> None:
        """Write the entries (atomically) if anything was added; never raises for I/O."""
        path = self.path
        if not self.dirty or path is None or self.directory is None:
            return
        self.dirty = False
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not _trusted_dir(self.directory):
                return
            payload = {
                "format": FORMAT,
                "code": self.digest,
                "entries": [
                    [source, cased, None if atoms is None else [sorted(s) for s in atoms]]
                    for (source, cased), atoms in sorted(self.entries.items())
                ],
            }
            fd, tmp = tempfile.mkstemp(prefix=".atoms-", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(payload, fh, ensure_ascii=False, separators=(",", ":"))
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            return


def _parse(data: Any, digest: str) -> dict[Key, Atoms] | None:
    """The entries of a cache file, or None if anything in it is not as `save` writes it."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("code") != digest:
        return None
    raw = data.get("entries")
    if not isinstance(raw, list):
        return None
    out: dict[Key, Atoms] = {}
    for item in raw:
        if not (isinstance(item, list) and len(item) == 3):
            return None
        source, cased, sets = item
        if not isinstance(source, str) or not isinstance(cased, bool):
            return None
        if sets is None:
            out[(source, cased)] = None
            continue
        if not isinstance(sets, list) or not sets:
            return None
        atoms: list[frozenset[str]] = []
        for atom_set in sets:
            if not isinstance(atom_set, list) or not atom_set:
                return None
            if not all(isinstance(a, str) and a for a in atom_set):
                return None
            atoms.append(frozenset(atom_set))
        out[(source, cased)] = tuple(atoms)
    return out
