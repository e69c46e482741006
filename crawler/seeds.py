"""Seed files -> validated, canonical Seeds, with line-numbered rejects. No network.

Two forms are read, told apart by the first line that is not blank or a comment:

    # plain form: one URL a line                # CSV form: a header naming a `url` column
    https://ads.example/city/123                url,label
    https://ads.example/city/456   # why        https://ads.example/city/123,tip from hotline

`#` starts a comment at the start of a line, or after whitespace (a `#` inside a URL is its
fragment, which canonicalisation drops). A bad line becomes a SeedReject(source, line, text,
reason) and the rest of the file still counts; a repeated URL (after canonicalisation) is counted
in `duplicates` and not kept twice. A file that cannot be read as UTF-8 text at all (missing,
binary, another encoding) raises SeedError naming the first offending line: seed lists are small
and typed by people, so a wrong encoding means the whole file should be saved again as UTF-8
rather than half of it silently skipped.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from crawler.errors import SeedError
from crawler.models import Seed, SeedReject
from crawler.urls import MAX_URL_LENGTH, InvalidURL, canonicalize

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_LINE_CHARS = MAX_URL_LENGTH + 1024  # room for a label and a comment
MAX_LABEL_CHARS = 500
_COMMENT = re.compile(r"\s+#.*$")
_SCHEME_ANYWHERE = re.compile(r"https?://", re.IGNORECASE)


@dataclass(slots=True)
class SeedFile:
    """One parsed seed list. `sha256` is of the file's bytes (of the UTF-8 text when parsed
    from a string); `duplicates` counts repeats within this file only."""

    source: str
    sha256: str
    seeds: list[Seed] = field(default_factory=list)
    rejects: list[SeedReject] = field(default_factory=list)
    duplicates: int = 0
    form: str = "lines"  # "lines" or "csv"

    @property
    def total_lines(self) -> int:
        """URL-bearing lines seen: accepted + rejected + duplicates."""
        return len(self.seeds) + len(self.rejects) + self.duplicates


def read_seed_file(path: Path, *, source: str | None = None) -> SeedFile:
    """Read and parse a seed file; SeedError when it cannot be read as UTF-8 text at all."""
    name = source if source is not None else path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SeedError(f"{path}: seed file too large ({size} bytes, at most {MAX_FILE_BYTES})")
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise SeedError(f"{path}: is a directory, not a seed file") from exc
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed file: {exc.strerror or exc}") from exc
    text = decode_seed_bytes(data, name)
    parsed = parse_seed_text(text, name)
    parsed.sha256 = hashlib.sha256(data).hexdigest()
    return parsed


def decode_seed_bytes(data: bytes, name: str = "seed file") -> str:
    """UTF-8 (a BOM is dropped). NUL bytes or invalid UTF-8 raise SeedError with the line."""
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise SeedError(f"{name}: not a text file (NUL byte on line {line})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SeedError(
            f"{name}: not UTF-8 text (line {line}, byte {exc.start}); save the file as UTF-8"
        ) from exc


def parse_seed_text(text: str, source: str) -> SeedFile:
    """Parse seed-list text (plain or CSV form). Never raises for bad lines."""
    result = SeedFile(source=source, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
    if text.startswith("\ufeff"):
        text = text[1:]
    seen: set[str] = set()
    url_column: int | None = None
    label_column: int | None = None
    header_seen = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(line) > MAX_LINE_CHARS:
            result.rejects.append(
                SeedReject(source, number, line[:200], f"line too long ({len(line)} characters)")
            )
            continue
        if not header_seen:
            header_seen = True
            columns = _csv_header(stripped)
            if columns is not None:
                url_column, label_column = columns
                result.form = "csv"
                continue
        if url_column is not None:
            parsed = _csv_row(stripped, url_column, label_column)
            if isinstance(parsed, str):
                result.rejects.append(SeedReject(source, number, stripped, parsed))
                continue
            candidate, label = parsed
        else:
            candidate, label = _COMMENT.sub("", stripped), None
        try:
            url = _seed_url(candidate)
        except InvalidURL as exc:
            result.rejects.append(SeedReject(source, number, stripped, exc.reason))
            continue
        if url in seen:
            result.duplicates += 1
            continue
        seen.add(url)
        result.seeds.append(Seed(url=url, source=source, line=number, label=label))
    return result


def _seed_url(candidate: str) -> str:
    if any(c.isspace() for c in candidate) and len(_SCHEME_ANYWHERE.findall(candidate)) > 1:
        raise InvalidURL("several URLs on one line; put one URL a line")
    if not _SCHEME_ANYWHERE.match(candidate) and "://" not in candidate:
        if any(c.isspace() for c in candidate) or "." not in candidate:
            raise InvalidURL("not a URL")
    return canonicalize(candidate)


def _csv_header(line: str) -> tuple[int, int | None] | None:
    """(url column, label column) when `line` is a CSV header naming a `url` column."""
    if "://" in line:
        return None
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None
    names = [f.strip().lower() for f in fields]
    if "url" not in names:
        return None
    label = names.index("label") if "label" in names else None
    return names.index("url"), label


def _csv_row(line: str, url_column: int, label_column: int | None) -> tuple[str, str | None] | str:
    try:
        fields = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return "not a CSV row"
    if url_column >= len(fields):
        return f"CSV row has {len(fields)} field(s), no url column"
    label: str | None = None
    if label_column is not None and label_column < len(fields):
        label = fields[label_column].strip()[:MAX_LABEL_CHARS] or None
    return fields[url_column].strip(), label
