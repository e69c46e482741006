"""Seed intake: an inbox directory watched for seed lists, and the shared submit path.

    inbox/NAME.txt  --complete?-->  parse  -->  store.add_batch (sha256 recorded)
                                                    |
                    processed/NAME + processed/NAME.receipt.json   (or rejected/NAME + .reason.txt)

A file is complete when it was renamed into place (writers should write `.NAME.tmp` and rename)
or its size and mtime have been stable for `stable_seconds`. A file is never lost or processed
twice: the batch (with the file's SHA-256) is committed *before* the file is moved, and a file
whose SHA-256 already has a batch is only moved, with the existing batch's receipt. So a crash
between "seen" and "moved" ends, on restart, with the same single batch and the file in processed/.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from crawler.errors import SeedError, TriageError

if TYPE_CHECKING:
    from storage.base import Store

log = structlog.get_logger("triage.intake")

SUFFIXES = (".txt", ".csv")
MAX_FILE_BYTES = 50 * 1024 * 1024


def safe_source(name: str) -> str:
    """A file name usable as a batch source: no directories, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable()).strip() or "upload.txt"
    return cleaned[:200]


def decode_seed_bytes(data: bytes, name: str = "seed file") -> str:
    """UTF-8 text (a BOM is dropped); anything else is refused (SeedError) as not a seed list."""
    from crawler import seeds

    return seeds.decode_seed_bytes(data, name)


async def submit_text(
    store: Store, text: str, source: str, raw: bytes | None = None
) -> dict[str, Any]:
    """Parse a seed list and queue it as one batch; the same content twice is one batch.

    The batch's SHA-256 is that of the file's bytes (`raw`), as `triage submit` records it, so
    a file sent by any channel is recognised. Returns the receipt (BatchReceipt.to_json()), with
    "already_submitted": true when a batch with this SHA-256 already existed.
    """
    from crawler.seeds import parse_seed_text

    seed_file = parse_seed_text(text, source)
    seed_file.sha256 = hashlib.sha256(raw if raw is not None else text.encode()).hexdigest()
    return await submit_parsed(store, seed_file)


async def submit_parsed(store: Store, seed_file: Any) -> dict[str, Any]:
    """Queue an already parsed `crawler.seeds.SeedFile` unless its SHA-256 has a batch."""
    from crawler.api import storeops

    existing = await storeops.find_batch_by_sha256(store, seed_file.sha256)
    if existing is not None:
        return {**existing, "already_submitted": True}
    receipt = await store.add_batch(
        seed_file.source, seed_file.sha256, seed_file.seeds, seed_file.rejects,
        duplicates=_count(getattr(seed_file, "duplicates", 0)),
    )
    log.info("batch_added", batch=receipt.batch_id, source=seed_file.source,
             accepted=receipt.accepted, rejected=receipt.rejected,
             duplicates=receipt.duplicates)
    return {**receipt.to_json(), "already_submitted": False}


def _read_capped(path: Path) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise SeedError(f"file is over {MAX_FILE_BYTES} bytes")
    return data


def _count(value: Any) -> int:
    return value if isinstance(value, int) else len(value or ())


@dataclass
class _Watch:
    size: int
    mtime_ns: int
    since: float


class Inbox:
    """Watches one directory. `scan()` processes what is complete; `run(stop)` loops."""

    def __init__(
        self,
        store: Store,
        path: Path,
        *,
        poll_seconds: float = 1.0,
        stable_seconds: float = 2.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.store = store
        self.path = path
        self.processed = path / "processed"
        self.rejected = path / "rejected"
        self.poll_seconds = poll_seconds
        self.stable_seconds = stable_seconds
        self._clock = clock
        self._watch: dict[str, _Watch] = {}

    def prepare(self) -> None:
        for d in (self.path, self.processed, self.rejected):
            d.mkdir(parents=True, exist_ok=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Scan until `stop` is set; the file being processed when it is set is finished first."""
        self.prepare()
        log.info("inbox_watching", path=str(self.path))
        while not stop.is_set():
            try:
                await self.scan()
            except (OSError, TriageError) as exc:  # store down, disk full: try again next poll
                log.error("inbox_scan_failed", error=repr(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
        log.info("inbox_stopped")

    def candidates(self) -> list[Path]:
        out = []
        for entry in sorted(self.path.iterdir()):
            if entry.name.startswith(".") or entry.suffix.lower() not in SUFFIXES:
                continue
            if entry.is_file() and not entry.is_symlink():
                out.append(entry)
        return out

    def complete(self, path: Path) -> bool:
        """True once size and mtime have not changed for `stable_seconds`."""
        st = path.stat()
        now = self._clock()
        seen = self._watch.get(path.name)
        if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
            self._watch[path.name] = _Watch(st.st_size, st.st_mtime_ns, now)
            return self.stable_seconds <= 0
        return bool(now - seen.since >= self.stable_seconds)

    async def scan(self) -> list[dict[str, Any]]:
        """Process every complete file now in the inbox; returns their receipts."""
        done: list[dict[str, Any]] = []
        names = set()
        for path in self.candidates():
            names.add(path.name)
            try:
                if not self.complete(path):
                    continue
            except FileNotFoundError:
                continue
            receipt = await self.take(path)
            self._watch.pop(path.name, None)
            if receipt is not None:
                done.append(receipt)
        for gone in set(self._watch) - names:
            self._watch.pop(gone, None)
        return done

    async def take(self, path: Path) -> dict[str, Any] | None:
        """Turn one complete file into a batch (or a rejection) and move it out of the inbox."""
        from crawler.api import metrics
        from crawler.seeds import parse_seed_text

        with structlog.contextvars.bound_contextvars(file=path.name):
            try:
                data = await asyncio.to_thread(_read_capped, path)
                seed_file = parse_seed_text(decode_seed_bytes(data, path.name),
                                            safe_source(path.name))
                seed_file.sha256 = hashlib.sha256(data).hexdigest()
            except SeedError as exc:
                self._reject(path, str(exc))
                return None
            if not seed_file.seeds:
                lines = [f"line {r.line}: {r.reason}: {r.text[:200]}" for r in seed_file.rejects]
                self._reject(path, "no valid seed URL in the file", lines)
                return None
            receipt = await submit_parsed(self.store, seed_file)
            target = self._target(path, self.processed)
            self._write_json(self.processed, target.name + ".receipt.json", receipt)
            os.replace(path, target)
            metrics.BATCHES.labels("inbox").inc()
            log.info("inbox_file_processed", batch=receipt.get("batch_id"),
                     already=receipt.get("already_submitted"), moved_to=str(target))
            return receipt

    def _reject(self, path: Path, reason: str, details: list[str] | None = None) -> None:
        target = self._target(path, self.rejected)
        text = "\n".join([reason, *(details or [])]) + "\n"
        (self.rejected / (target.name + ".reason.txt")).write_text(text, "utf-8")
        os.replace(path, target)
        log.warning("inbox_file_rejected", reason=reason, moved_to=str(target))

    @staticmethod
    def _write_json(folder: Path, name: str, data: dict[str, Any]) -> None:
        tmp = folder / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str), "utf-8")
        os.replace(tmp, folder / name)

    @staticmethod
    def _target(path: Path, folder: Path) -> Path:
        target = folder / path.name
        n = 1
        while target.exists():  # an earlier file of the same name: keep both
            target = folder / f"{path.stem}.{n}{path.suffix}"
            n += 1
        return target
