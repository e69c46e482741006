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

import codecs
import csv
import hashlib
import re
from collections.abc import Iterator
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
_READ_BLOCK = 1 << 20


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
    parser = _LineParser(source)
    for number, raw in enumerate(text.split("\n"), start=1):
        item = parser.feed(number, raw.rstrip("\r"))
        if item is None:
            continue
        if isinstance(item, SeedReject):
            result.rejects.append(item)
            continue
        if item.url in seen:
            result.duplicates += 1
            continue
        seen.add(item.url)
        result.seeds.append(item)
    result.form = parser.form
    return result


class _LineParser:
    """One line at a time: a Seed, a SeedReject, or None (blank, comment, CSV header)."""

    __slots__ = ("_header_seen", "_label_column", "_url_column", "form", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.form = "lines"
        self._url_column: int | None = None
        self._label_column: int | None = None
        self._header_seen = False

    def feed(self, number: int, line: str) -> Seed | SeedReject | None:
        source = self.source
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return None
        if len(line) > MAX_LINE_CHARS:
            return SeedReject(source, number, line[:200], f"line too long ({len(line)} characters)")
        if not self._header_seen:
            self._header_seen = True
            columns = _csv_header(stripped)
            if columns is not None:
                self._url_column, self._label_column = columns
                self.form = "csv"
                return None
        if self._url_column is not None:
            parsed = _csv_row(stripped, self._url_column, self._label_column)
            if isinstance(parsed, str):
                return SeedReject(source, number, stripped, parsed)
            candidate, label = parsed
        else:
            candidate, label = _COMMENT.sub("", stripped), None
        try:
            url = _seed_url(candidate)
        except InvalidURL as exc:
            return SeedReject(source, number, stripped, exc.reason)
        return Seed(url=url, source=source, line=number, label=label)


@dataclass(slots=True)
class SeedStream:
    """A seed file parsed lazily, for ingest with flat memory (`triage submit`).

    `open_seed_stream` has already checked the whole file (size, UTF-8, no NUL) and hashed it;
    `seeds()` reads it again line by line and yields each accepted Seed, appending bad lines to
    `rejects` as it goes (so `rejects` is complete only once `seeds()` is exhausted). Repeats
    within the file are NOT dropped here: the store counts them as duplicates when it meets the
    URL a second time, so the receipt's duplicate count is the same as with `read_seed_file`.
    If the file's bytes change between the check and the read, `seeds()` raises SeedError at the
    end (inside the store's transaction, so nothing of the batch is kept).
    """

    source: str
    sha256: str
    path: Path
    rejects: list[SeedReject] = field(default_factory=list)
    form: str = "lines"

    def seeds(self) -> Iterator[Seed]:
        self.rejects.clear()
        parser = _LineParser(self.source)
        digest = hashlib.sha256()
        try:
            with self.path.open("rb") as fh:
                for number, raw in enumerate(fh, start=1):
                    digest.update(raw)
                    text = raw.decode("utf-8")
                    if number == 1:
                        text = text.removeprefix("\ufeff").removeprefix("\ufeff")
                    item = parser.feed(number, text.removesuffix("\n").rstrip("\r"))
                    if item is None:
                        continue
                    if isinstance(item, SeedReject):
                        self.rejects.append(item)
                    else:
                        yield item
        except (OSError, UnicodeDecodeError) as exc:
            raise SeedError(f"{self.path}: seed file changed while being read: {exc}") from exc
        self.form = parser.form
        if digest.hexdigest() != self.sha256:
            raise SeedError(f"{self.path}: seed file changed while being read; submit it again")


def open_seed_stream(path: Path, *, source: str | None = None) -> SeedStream:
    """Check and hash a seed file in one streaming pass (same SeedErrors as `read_seed_file`)."""
    name = source if source is not None else path.name
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    bad = False
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SeedError(f"{path}: seed file too large ({size} bytes, at most {MAX_FILE_BYTES})")
        with path.open("rb") as fh:
            while block := fh.read(_READ_BLOCK):
                digest.update(block)
                if b"\x00" in block:
                    bad = True
                    break
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    bad = True
                    break
            if not bad:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    bad = True
            if bad:  # the whole-file decoder names the offending line, as read_seed_file does
                decode_seed_bytes(path.read_bytes(), name)
    except IsADirectoryError as exc:
        raise SeedError(f"{path}: is a directory, not a seed file") from exc
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed file: {exc.strerror or exc}") from exc
    if bad:  # decode_seed_bytes did not object the second time: the file changed meanwhile
        raise SeedError(f"{path}: seed file changed while being read; submit it again")
    return SeedStream(source=name, sha256=digest.hexdigest(), path=path)


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
