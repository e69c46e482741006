"""Seed inbox: complete files become batches, are moved with a receipt, never lost or doubled."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crawler.intake import Inbox
from tests.test_api_support import open_test_store

SEEDS = "https://example.org/a\nhttps://example.org/b\nnot a url\nhttps://example.org/a\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    async with open_test_store(tmp_path / "t.db") as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox(store: Any, tmp_path: Path, clock: Clock) -> Inbox:
    box = Inbox(store, tmp_path / "inbox", stable_seconds=2.0, clock=clock)
    box.prepare()
    return box


def drop(inbox: Inbox, name: str, content: str | bytes) -> Path:
    """Write atomically, as documented: a hidden temp name, then rename into place."""
    data = content.encode() if isinstance(content, str) else content
    tmp = inbox.path / f".{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, inbox.path / name)
    return inbox.path / name


async def settle(inbox: Inbox, clock: Clock) -> list[dict[str, Any]]:
    first = await inbox.scan()
    clock.now += 3
    return first + await inbox.scan()


async def test_a_complete_file_becomes_a_batch_with_a_receipt(
    inbox: Inbox, clock: Clock, store: Any
) -> None:
    drop(inbox, "ops.txt", SEEDS)
    receipts = await settle(inbox, clock)
    assert len(receipts) == 1
    assert not (inbox.path / "ops.txt").exists()
    assert (inbox.processed / "ops.txt").read_text() == SEEDS
    receipt = json.loads((inbox.processed / "ops.txt.receipt.json").read_text())
    assert receipt["batch_id"] == receipts[0]["batch_id"]
    assert (receipt["accepted"], receipt["rejected"]) == (2, 1)
    assert receipt["rejects"][0]["line"] == 3 and receipt["rejects"][0]["reason"]
    assert len(await store.list_batches()) == 1
    assert len(await store.list_urls(state="queued")) == 2


async def test_a_file_still_growing_is_not_taken(inbox: Inbox, clock: Clock) -> None:
    path = inbox.path / "big.csv"
    path.write_text("https://example.org/1\n")
    assert await inbox.scan() == []
    clock.now += 1
    with path.open("a") as fh:
        fh.write("https://example.org/2\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    clock.now += 1.5
    assert await inbox.scan() == []  # changed within the window: wait again
    clock.now += 2.5
    receipts = await inbox.scan()
    assert [r["accepted"] for r in receipts] == [2]


async def test_other_files_are_ignored(inbox: Inbox, clock: Clock) -> None:
    drop(inbox, "notes.pdf", b"%PDF")
    (inbox.path / ".hidden.txt").write_text("https://example.org/h\n")
    assert await settle(inbox, clock) == []
    assert (inbox.path / "notes.pdf").exists() and (inbox.path / ".hidden.txt").exists()


async def test_a_binary_file_is_rejected_with_a_reason(inbox: Inbox, clock: Clock) -> None:
    drop(inbox, "x.txt", b"\xff\xfe\x00h\x00t")
    assert await settle(inbox, clock) == []
    assert (inbox.rejected / "x.txt").exists()
    assert "not a text file" in (inbox.rejected / "x.txt.reason.txt").read_text()


async def test_a_file_without_valid_urls_is_rejected_with_line_reasons(
    inbox: Inbox, clock: Clock, store: Any
) -> None:
    drop(inbox, "bad.txt", "hello\nftp://x\n")
    assert await settle(inbox, clock) == []
    reason = (inbox.rejected / "bad.txt.reason.txt").read_text()
    assert "no valid seed URL" in reason and "line 1:" in reason and "line 2:" in reason
    assert await store.list_batches() == []


async def test_same_name_twice_keeps_both_files(inbox: Inbox, clock: Clock) -> None:
    drop(inbox, "s.txt", "https://example.org/1\n")
    await settle(inbox, clock)
    drop(inbox, "s.txt", "https://example.org/2\n")
    await settle(inbox, clock)
    assert sorted(p.name for p in inbox.processed.iterdir()) == [
        "s.1.txt", "s.1.txt.receipt.json", "s.txt", "s.txt.receipt.json"]


async def test_crash_between_seeing_and_moving_does_not_process_twice(
    store: Any, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Inbox(store, tmp_path / "inbox", stable_seconds=0, clock=clock)
    box.prepare()
    drop(box, "ops.txt", SEEDS)

    class Crash(BaseException):
        pass

    def crash(*_: object) -> None:
        raise Crash  # the process dies after the batch is committed, before the move

    monkeypatch.setattr(Inbox, "_write_json", staticmethod(crash))
    with pytest.raises(Crash):
        await box.scan()
    monkeypatch.undo()
    assert (box.path / "ops.txt").exists()  # still in the inbox
    assert len(await store.list_batches()) == 1  # but its batch was recorded

    restarted = Inbox(store, tmp_path / "inbox", stable_seconds=0, clock=clock)
    receipts = await restarted.scan()
    assert [r["already_submitted"] for r in receipts] == [True]
    assert len(await store.list_batches()) == 1
    assert len(await store.list_urls()) == 2
    receipt = json.loads((box.processed / "ops.txt.receipt.json").read_text())
    assert receipt["batch_id"] == receipts[0]["batch_id"] and receipt["accepted"] == 2
    assert not (box.path / "ops.txt").exists()


async def test_run_stops_when_asked(inbox: Inbox) -> None:
    import asyncio

    stop = asyncio.Event()
    inbox.poll_seconds = 0.05
    task = asyncio.create_task(inbox.run(stop))
    drop(inbox, "live.txt", "https://example.org/live\n")
    inbox.stable_seconds = 0
    for _ in range(100):
        if (inbox.processed / "live.txt").exists():
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert (inbox.processed / "live.txt.receipt.json").exists()
