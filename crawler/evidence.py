"""WARC evidence of flagged pages: write, verify, purge.

Each flagged page's exact response (status line, headers, body bytes) is written with warcio as a
`request` + `response` record pair, one gzip member per record, into size-rotated files
`triage-<utc>-<host>-<pid>-<token>-<seq>.warc.gz` (one file per writer: workers never share one).
The files replay with standard tools (pywb, warcio).

Integrity, three ways, all checked by `verify()` (`triage evidence verify`):
- the response record carries `WARC-Payload-Digest` (sha1, warcio) and `WARC-Triage-Payload-SHA256`
  (hex SHA-256 of the body, the same value stored on the page and hit as `content_sha256`);
- a manifest beside each file (`<file>.manifest`: `offset length sha256 type uri` per record)
  covers every byte of the file, so one changed byte anywhere is found;
- the store keeps each page's record offset, length and SHA-256.

Bodies are stored as fetch.py decoded them (decompressed): `Content-Encoding`, `Transfer-Encoding`
and `Content-Length` of the original response are kept as `X-Triage-Orig-*` headers and
`Content-Length` is set to the stored body's length, so replay serves exactly the bytes we hashed.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import fcntl
import hashlib
import io
import os
import socket
import threading
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.models import FetchResult

_ISAL: Any
try:  # ISA-L's deflate: ~3x faster than zlib at level 1 (optional: zlib otherwise)
    from isal import isal_zlib as _ISAL
except ImportError:  # pragma: no cover - isal is a dependency; zlib still works without it
    _ISAL = None

if TYPE_CHECKING:
    from storage.base import EvidenceRef, PurgeReport, Store

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
SHA256_HEADER = "WARC-Triage-Payload-SHA256"
MANIFEST_SUFFIX = ".manifest"
TEXT_TYPES = frozenset({"text/html", "text/plain", "application/xhtml+xml"})
_DROPPED = ("content-encoding", "transfer-encoding", "content-length")
DEFAULT_LEVEL = 1  # gzip level of a record
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class _OpenFile:
    """A WARC file and its manifest kept open while a writer appends to them.

    The writer holds a shared `flock` on the WARC file for as long as it is open (and one file
    longer: see `WarcWriter._rotate`): `drop_records` (retention) never rewrites a file a live
    writer may still append to or whose page rows may not be committed yet."""

    __slots__ = ("fd", "mfd", "path", "pending")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, _APPEND, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_SH)
            self.mfd = os.open(path.parent / (path.name + MANIFEST_SUFFIX), _APPEND, 0o644)
        except BaseException:
            os.close(self.fd)
            raise
        self.pending = 0  # threads between their append and their fsync

    def close(self) -> None:
        os.close(self.mfd)
        os.close(self.fd)  # releases the lock


class WarcWriter:
    """Append request/response pairs to rotated `.warc.gz` files in `directory` (thread-safe).

    `write_ref` returns only once the pair and its manifest lines are on disk (fsync of both
    files; the directory is fsynced once when a file is created): the page row that points at
    it is committed after that. Writers running at the same time share one fsync (group sync):
    a thread whose bytes were already covered by another thread's fsync does not sync again.
    The current file and its manifest stay open (and locked against retention rewrites) until
    rotation or `close()`. `level` is the gzip level of each record (1: ~3x less CPU than
    warcio's 9 on HTML pages; ISA-L's level when `isal` is installed, zlib's otherwise; the
    stored bytes, hashes and records are the same)."""

    def __init__(
        self, directory: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, *, prefix: str = "triage",
        level: int = DEFAULT_LEVEL,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max(1, int(max_bytes))
        self.prefix = prefix
        self.level = level
        self._lock = threading.Lock()  # appends (file and manifest), rotation, closing
        self._sync_lock = threading.Lock()  # one fsync at a time; covers every earlier append
        self._seq = 0
        self._current: _OpenFile | None = None
        self._retired: list[_OpenFile] = []  # rotated away, not closed yet
        self._written: tuple[_OpenFile | None, int] = (None, 0)  # end of the last append
        self._durable: tuple[_OpenFile | None, int] = (None, 0)  # end of the last fsynced one
        self._token = uuid.uuid4().hex[:6]  # two writers in one process never share a file

    def write(self, result: FetchResult) -> tuple[str, int]:
        """Write one response; returns (file name, offset of its response record)."""
        ref = self.write_ref(result)
        return str(ref["file"]), int(ref["offset"])

    def write_ref(self, result: FetchResult) -> dict[str, Any]:
        """Write one response; returns file, offset, length and record_sha256 of its record.

        Returns once both records and their manifest lines are durable (fsync)."""
        if result.status is None:
            raise ValueError("only fetched responses (with a status) are evidence")
        if not is_text(result.content_type):
            raise ValueError(f"not a text page ({result.content_type}): no evidence is kept")
        request, response = _records(result, self.level)
        req_sha, resp_sha = _sha(request), _sha(response)
        uri = result.final_url or result.url
        with self._lock:
            f = self._file()
            offset = os.lseek(f.fd, 0, os.SEEK_END)
            _write_all(f.fd, request + response)
            size = offset + len(request) + len(response)
            resp_offset = offset + len(request)
            lines = (f"{offset} {len(request)} {req_sha} request {uri}\n"
                     f"{resp_offset} {len(response)} {resp_sha} response {uri}\n")
            _write_all(f.mfd, lines.encode("utf-8"))
            self._written = (f, size)
            f.pending += 1
            if size >= self.max_bytes:
                self._rotate()
        try:
            self._sync(f, size)
        finally:
            with self._lock:
                f.pending -= 1
                self._close_retired()
        return {"file": f.path.name, "offset": resp_offset, "length": len(response),
                "record_sha256": resp_sha}

    def _sync(self, f: _OpenFile, size: int) -> None:
        """Make `f` (and its manifest) durable up to `size` (one fsync pair shared by the
        threads waiting for it)."""
        with self._sync_lock:
            done_file, done = self._durable
            if done_file is f and done >= size:
                return  # another thread's fsync began after our append
            with self._lock:
                written_file, written = self._written
            target = written if written_file is f else size
            os.fsync(f.fd)
            os.fsync(f.mfd)
            self._durable = (f, target)

    async def __call__(self, result: FetchResult) -> dict[str, Any] | None:
        """The pipeline's EvidenceSink: write off the event loop, return the reference.

        Only text pages (HTML, plain text) are kept; anything else returns None."""
        if result.status is None or not is_text(result.content_type):
            return None
        return await asyncio.to_thread(self.write_ref, result)

    def close(self) -> None:
        """Close (and unlock) the open files; call after the last `write_ref` returned. A later
        write starts a new file."""
        with self._lock:
            files = [*self._retired, *([self._current] if self._current else [])]
            self._retired, self._current = [], None
            self._written = self._durable = (None, 0)
        for f in files:
            f.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the OS closes them anyway
            pass

    def _file(self) -> _OpenFile:
        if self._current is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
            host = socket.gethostname().replace("-", "_")
            name = (f"{self.prefix}-{stamp}-{host}-{os.getpid()}-{self._token}-"
                    f"{self._seq:05d}.warc.gz")
            self._current = _OpenFile(self.directory / name)
            _fsync_dir(self.directory)  # the new names survive a power loss
        return self._current

    def _rotate(self) -> None:
        """Retire the current file (under `_lock`). It stays open and locked until the NEXT
        rotation: the page row pointing at its last record is committed after `write_ref`
        returns, and retention must not move records whose rows may still be written."""
        assert self._current is not None
        self._retired.append(self._current)
        self._current = None
        self._close_retired()

    def _close_retired(self) -> None:
        """Close retired files nobody is syncing, except the most recently retired one."""
        keep = self._retired[-1:]
        for f in self._retired[:-1]:
            if f.pending:
                keep.append(f)
            else:
                f.close()
        self._retired = [f for f in self._retired if f in keep]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in TEXT_TYPES


def make_sink(
    directory: str | Path | None, max_bytes: int = DEFAULT_MAX_BYTES
) -> WarcWriter | None:
    """An EvidenceSink for `crawler.pipeline` (`await sink(result)` -> reference dict).

    None without a directory: no evidence is written (`--no-evidence`)."""
    return None if directory is None else WarcWriter(directory, max_bytes)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _records(result: FetchResult, level: int = DEFAULT_LEVEL) -> tuple[bytes, bytes]:
    """The request and response records of `result`, each one gzip member at `level`.

    Written directly, byte for byte what warcio writes (tests compare them), when every header
    and the URI are ASCII; otherwise by warcio (`_records_warcio`)."""
    uri = result.final_url or result.url
    statusline, headers, protocol = _response_head(result)
    if not (uri.isascii() and result.url.isascii() and "".join(
            [statusline, protocol, *(k + v for k, v in headers)]).isascii()):
        return _records_warcio(result, level)
    ids = (_warc_id(), _warc_id())
    request, response = _records_plain(result, uri, statusline, headers, protocol, ids)
    return _gzip(request, level), _gzip(response, level)


def _warc_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


_EMPTY_SHA1 = "sha1:" + base64.b32encode(hashlib.sha1(b"").digest()).decode()


def _records_plain(
    result: FetchResult, uri: str, statusline: str, headers: list[tuple[str, str]],
    protocol: str, ids: tuple[str, str],
) -> tuple[bytes, bytes]:
    """Both records uncompressed, laid out as warcio's WARCWriter lays them out."""
    parts = urlsplit(uri)
    date = result.fetched_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    req_id, resp_id = ids
    req_http = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode("ascii")
    request = _warc_block([
        ("WARC-Date", date), ("WARC-Type", "request"), ("WARC-Record-ID", req_id),
        ("WARC-Target-URI", uri), ("WARC-Payload-Digest", _EMPTY_SHA1),
        ("WARC-Concurrent-To", resp_id), ("WARC-Block-Digest", _sha1(req_http)),
        ("Content-Type", "application/http; msgtype=request"),
        ("Content-Length", str(len(req_http))),
    ], req_http, b"")
    head = protocol + (" " if protocol and statusline else "") + statusline
    http = "".join([head, "\r\n" if head else "", *(f"{k}: {v}\r\n" for k, v in headers),
                    "\r\n"]).encode("ascii")
    body = result.body
    block = hashlib.sha1(http)
    block.update(body)
    warc: list[tuple[str, str]] = [
        ("WARC-Date", date), (SHA256_HEADER, result.sha256 or _sha(body))]
    if result.url != uri:
        warc.append(("WARC-Triage-Requested-URI", result.url))
    warc += [
        ("WARC-Type", "response"), ("WARC-Record-ID", resp_id), ("WARC-Target-URI", uri),
        ("WARC-Payload-Digest", _sha1(body)),
        ("WARC-Block-Digest", "sha1:" + _b32_digest(block.digest())),
        ("Content-Type", "application/http; msgtype=response"),
        ("Content-Length", str(len(http) + len(body))),
    ]
    return request, _warc_block(warc, http, body)


def _warc_block(warc_headers: list[tuple[str, str]], http: bytes, payload: bytes) -> bytes:
    head = "".join(["WARC/1.0\r\n", *(f"{k}: {v}\r\n" for k, v in warc_headers), "\r\n"])
    return b"".join([head.encode("utf-8"), http, payload, b"\r\n\r\n"])


def _sha1(data: bytes) -> str:
    return "sha1:" + _b32_digest(hashlib.sha1(data).digest())


_B32_PAIRS = [a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
              for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"]


def _b32_digest(digest: bytes) -> str:
    """`base64.b32encode(digest).decode()` (pure Python in 3.11), 10 bits at a time; any length
    that is a multiple of 5 bytes (a SHA-1 digest: 20) has no padding."""
    if len(digest) % 5:
        return base64.b32encode(digest).decode()
    n = int.from_bytes(digest, "big")
    pairs = _B32_PAIRS
    return "".join([pairs[(n >> s) & 0x3FF] for s in range(len(digest) * 8 - 10, -10, -10)])


def _response_head(result: FetchResult) -> tuple[str, list[tuple[str, str]], str]:
    """Status line, headers (originals of the dropped ones kept aside) and protocol."""
    raw = list(result.raw_headers) or list(result.headers.items())
    headers = [(k, v) for k, v in raw if k.lower() not in _DROPPED]
    headers += [(f"X-Triage-Orig-{k}", v) for k, v in raw if k.lower() in _DROPPED]
    headers.append(("Content-Length", str(len(result.body))))
    status = int(result.status or 0)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"{status} {phrase}".strip(), headers, result.http_version or "HTTP/1.1"


def _records_warcio(result: FetchResult, level: int = DEFAULT_LEVEL) -> tuple[bytes, bytes]:
    """`_records` built by warcio (any header text: non-ASCII values are %-encoded by it)."""
    uri = result.final_url or result.url
    parts = urlsplit(uri)
    date = result.fetched_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    builder = _BUILDER
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    req_headers = StatusAndHeaders(
        f"GET {path} HTTP/1.1", [("Host", parts.netloc)], is_http_request=True
    )
    request = builder.create_warc_record(
        uri, "request", payload=io.BytesIO(b""), length=0, http_headers=req_headers,
        warc_headers_dict={"WARC-Date": date},
    )
    statusline, headers, protocol = _response_head(result)
    http_headers = StatusAndHeaders(statusline, headers, protocol=protocol)
    sha = result.sha256 or _sha(result.body)
    warc_headers = {"WARC-Date": date, SHA256_HEADER: sha}
    if result.url != uri:
        warc_headers["WARC-Triage-Requested-URI"] = result.url
    response = builder.create_warc_record(
        uri, "response", payload=io.BytesIO(result.body), length=len(result.body),
        http_headers=http_headers, warc_headers_dict=warc_headers,
    )
    request.rec_headers.add_header(
        "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
    )
    return _serialise(request, level), _serialise(response, level)


_BUILDER = WARCWriter(io.BytesIO(), gzip=False)  # builds records; holds no per-record state


def _serialise(record: Any, level: int = DEFAULT_LEVEL) -> bytes:
    """One record as one gzip member: warcio writes it plain, zlib compresses it in one call
    (warcio's own gzip wrapper is level 9, one compress call per header block and chunk)."""
    buf = io.BytesIO()
    WARCWriter(buf, gzip=False).write_record(record)
    return _gzip(buf.getvalue(), level)


def _gzip(data: bytes, level: int) -> bytes:
    """`data` as one gzip member: ISA-L (`isal`, ~3x faster than zlib at level 1, slightly
    smaller output) for levels 1-3 when installed, zlib otherwise."""
    if _ISAL is not None and 1 <= level <= 3:
        fast = _ISAL.compressobj(level, _ISAL.DEFLATED, _ISAL.MAX_WBITS + 16)
        member: bytes = fast.compress(data) + fast.flush()
        return member
    gz = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return gz.compress(data) + gz.flush()


# --------------------------------------------------------------------------- verify


@dataclass
class VerifyReport:
    files: int = 0
    records: int = 0
    pages: int = 0  # store references checked
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "files": self.files, "records": self.records,
                "pages": self.pages, "problems": self.problems}


def _check_member(data: bytes) -> tuple[str | None, str | None]:
    """Decompress one gzip member strictly (CRC) and check its WARC digests.

    Returns (problem or None, payload sha256 or None)."""
    try:
        d = zlib.decompressobj(wbits=31)
        d.decompress(data)
        if not d.eof or d.unused_data:
            return "not exactly one complete gzip member", None
        record = next(iter(ArchiveIterator(io.BytesIO(data))))
        payload = record.raw_stream.read()
    except Exception as exc:  # corrupt bytes surface as many library errors
        return f"unreadable record ({type(exc).__name__}: {exc})", None
    if record.rec_type != "response":
        return None, None
    sha = _sha(payload)
    want = record.rec_headers.get_header(SHA256_HEADER)
    if want and want != sha:
        return f"payload SHA-256 {sha} != {SHA256_HEADER} {want}", sha
    digest = record.rec_headers.get_header("WARC-Payload-Digest") or ""
    if digest.startswith("sha1:"):
        sha1 = base64.b32encode(hashlib.sha1(payload).digest()).decode()
        if digest[5:] != sha1:
            return f"payload sha1 {sha1} != WARC-Payload-Digest {digest[5:]}", sha
    return None, sha


def verify_files(directory: str | Path, refs: Iterable[EvidenceRef] = ()) -> VerifyReport:
    """Recompute every hash of every WARC file in `directory`, and of each store reference."""
    root = Path(directory)
    report = VerifyReport()
    for path in sorted(root.glob("*.warc.gz")):
        report.files += 1
        data = path.read_bytes()
        manifest = path.parent / (path.name + MANIFEST_SUFFIX)
        if not manifest.exists():
            report.problems.append(f"{path.name}: manifest {manifest.name} is missing")
            continue
        pos = 0
        for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
            fields = line.split(" ", 4)
            if len(fields) < 4:
                report.problems.append(f"{manifest.name}:{n}: malformed line")
                continue
            off, length, sha = int(fields[0]), int(fields[1]), fields[2]
            if off != pos:
                report.problems.append(f"{path.name}: bytes {pos}..{off} not in the manifest")
            member = data[off : off + length]
            report.records += 1
            pos = off + length
            if _sha(member) != sha:
                report.problems.append(f"{path.name}@{off}: record bytes changed (SHA-256)")
                continue
            problem, _ = _check_member(member)
            if problem:
                report.problems.append(f"{path.name}@{off}: {problem}")
        if pos != len(data):
            report.problems.append(f"{path.name}: {len(data) - pos} bytes after the last record")
    for ref in refs:
        report.pages += 1
        path = root / ref.file
        where = f"page {ref.page_id} ({ref.file}@{ref.offset})"
        if not path.exists():
            report.problems.append(f"{where}: WARC file missing")
            continue
        with path.open("rb") as fh:
            fh.seek(ref.offset)
            member = fh.read(ref.length) if ref.length else fh.read()
        if ref.length and ref.record_sha256 and _sha(member) != ref.record_sha256:
            report.problems.append(f"{where}: record bytes differ from the store's SHA-256")
            continue
        problem, body_sha = _check_member(member) if ref.length else (None, None)
        if problem:
            report.problems.append(f"{where}: {problem}")
        elif ref.payload_sha256 and body_sha is not None and body_sha != ref.payload_sha256:
            report.problems.append(
                f"{where}: body SHA-256 {body_sha} != page {ref.payload_sha256}"
            )
    return report


async def verify(directory: str | Path, store: Store | None = None) -> VerifyReport:
    """`verify_files` on `directory`, plus every page reference in `store` when given."""
    refs = await store.list_evidence() if store is not None else []
    return await asyncio.to_thread(verify_files, directory, refs)


# --------------------------------------------------------------------------- retention


PURGE_SUFFIX = ".purge"  # offsets of records to drop once no writer holds the file


def drop_records(directory: str | Path, refs: Sequence[EvidenceRef]) -> dict[str, dict[int, int]]:
    """Rewrite WARC files without the given response records (and their request records).

    A file a live writer still holds (`WarcWriter` keeps a shared lock on its current file and
    the one before) is not rewritten: its offsets are added to `<file>.purge` and dropped by a
    later call once the writer has moved on, closed or died (every call also finishes such
    pending files). Returns, per file, the new offset of every record that moved (old -> new)."""
    root = Path(directory)
    by_file: dict[str, set[int]] = {}
    for ref in refs:
        by_file.setdefault(ref.file, set()).add(ref.offset)
    for pending in root.glob("*" + PURGE_SUFFIX):
        by_file.setdefault(pending.name[: -len(PURGE_SUFFIX)], set())
    moves: dict[str, dict[int, int]] = {}
    for name, offsets in by_file.items():
        path = root / name
        manifest = root / (name + MANIFEST_SUFFIX)
        sidecar = root / (name + PURGE_SUFFIX)
        if not path.exists() or not manifest.exists():
            continue
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a writer may append or commit rows pointing here
                if offsets:
                    sfd = os.open(sidecar, _APPEND, 0o644)
                    try:
                        _write_all(sfd, "".join(f"{o}\n" for o in sorted(offsets)).encode())
                        os.fsync(sfd)
                    finally:
                        os.close(sfd)
                continue
            if sidecar.exists():
                offsets |= {int(x) for x in sidecar.read_text("utf-8").split()}
            moves[name] = _rewrite_without(path, manifest, offsets)
            sidecar.unlink(missing_ok=True)
        finally:
            os.close(fd)  # unlocks
    return moves


def _rewrite_without(path: Path, manifest: Path, offsets: set[int]) -> dict[int, int]:
    data = path.read_bytes()
    entries = [line.split(" ", 4) for line in manifest.read_text("utf-8").splitlines()]
    drop: set[int] = set()
    for i, e in enumerate(entries):
        if int(e[0]) in offsets:
            drop.add(i)
            if i > 0 and entries[i - 1][3] == "request":
                drop.add(i - 1)
    out, lines, moved, pos = bytearray(), [], {}, 0
    for i, e in enumerate(entries):
        if i in drop:
            continue
        off, length = int(e[0]), int(e[1])
        if off != pos:
            moved[off] = pos
        out += data[off : off + length]
        lines.append(" ".join([str(pos), *e[1:]]))
        pos += length
    tmp = path.with_name(path.name + ".tmp")
    tmp_manifest = manifest.with_name(manifest.name + ".tmp")
    _write_durably(tmp, bytes(out))
    _write_durably(tmp_manifest, "".join(f"{line}\n" for line in lines).encode("utf-8"))
    os.replace(tmp, path)
    os.replace(tmp_manifest, manifest)
    _fsync_dir(path.parent)
    return moved


def _write_durably(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


async def purge(store: Store, directory: str | Path | None, older_than_days: float,
                actor: str = "retention") -> PurgeReport:
    """Retention: blank text of hits dismissed over N days ago and drop their WARC records."""
    report = await store.purge_dismissed(older_than_days, actor=actor)
    if directory is not None:  # also finishes files an earlier purge had to leave pending
        moves = await asyncio.to_thread(drop_records, directory, report.evidence)
        for name, moved in moves.items():
            if moved:
                await store.relocate_evidence(name, moved)
    return report
