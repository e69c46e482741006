"""SqliteStore: the embedded default (aiosqlite, WAL, busy timeout, foreign keys).

One connection per store, serialised by an asyncio lock; every write runs in `BEGIN IMMEDIATE`
so several processes on one machine take turns as the single writer (busy_timeout waits).
Leases held by a dead process on this machine (worker id `hostname:pid:n`) are freed by
`recover()` without waiting for the lease to expire.

Hot paths (`_run`: claim, record_result, rescan) run a whole transaction in the connection's
thread in one hop. `record_result` uses group commit: calls that arrive while a transaction is
being written are queued and written together in the next one (each in its own savepoint, so
one failing record does not undo the others), committed once; every caller's await returns only
after the COMMIT that holds its result, so a result reported as recorded survives kill -9.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import sqlite3
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from crawler.errors import StoreError
from crawler.models import Document, Entity, Evaluation, FetchResult
from storage.base import Claim, RecordOutcome
from storage.frontier import FrontierMixin
from storage.migrate import apply_migrations
from storage.results import RecordItem
from storage.review import ReviewMixin
from storage.sqlbase import Row, Tx

BUSY_TIMEOUT_MS = 30_000
GROUP_MAX = 256  # results committed together at most
CACHED_STATEMENTS = 512  # prepared statements kept per connection (sqlite3's default: 128)

T = TypeVar("T")


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class _SqliteTx:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        async with self.conn.executemany(sql, rows) as cur:
            return cur.rowcount

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self.conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())  # type: ignore[arg-type]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self.conn.execute(sql, tuple(params)) as cur:
            rows = list(await cur.fetchall())
        return rows[0] if rows else None  # type: ignore[return-value]

    async def script(self, sql: str) -> None:
        buf = ""
        for line in sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                await self.conn.execute(buf)
                buf = ""
        if buf.strip() and not buf.strip().startswith("--"):
            await self.conn.execute(buf)


class _ThreadTx:
    """A Tx used inside the connection's own thread: its coroutines never suspend."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self.conn.executemany(sql, rows).rowcount

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.conn.execute(sql, params).fetchall()
        return rows[0] if rows else None  # type: ignore[no-any-return]

    async def script(self, sql: str) -> None:
        buf = ""  # statement by statement: executescript would COMMIT the transaction
        for line in sql.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                self.conn.execute(buf)
                buf = ""
        if buf.strip() and not buf.strip().startswith("--"):
            self.conn.execute(buf)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it awaits only `_ThreadTx` methods)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a store transaction body awaited something other than its Tx")


def _in_transaction(conn: sqlite3.Connection, body: Callable[[], T], write: bool) -> T:
    """In the connection's thread: BEGIN, body, COMMIT (ROLLBACK on any error)."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        out = body()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return out


class _RecordFailed(Exception):
    """A record of a group written without savepoints failed: write the group again isolated."""


class _Pending:
    __slots__ = ("future", "item")

    def __init__(self, item: RecordItem, future: asyncio.Future[RecordOutcome]) -> None:
        self.item = item
        self.future = future


class SqliteStore(ReviewMixin, FrontierMixin):
    dialect = "sqlite"

    def __init__(
        self, path: str | Path, *, create: bool = True, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(clock=clock)
        self.path = Path(path)
        self.create = create
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    async def open(self) -> SqliteStore:
        if self._conn is not None:
            return self
        if self._closed:
            raise StoreError("the store is closed")
        if not self.create and not self.path.exists():
            raise StoreError(f"no database at {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.path, isolation_level=None,
                                           cached_statements=CACHED_STATEMENTS)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        conn.row_factory = _dict_row  # type: ignore[assignment]
        self._conn = conn
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await apply_migrations(self, "sqlite")
        except BaseException:
            await self.close()
            raise
        return self

    async def __aenter__(self) -> SqliteStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        if self._flusher is not None:  # results already handed in are committed first
            await asyncio.wait([self._flusher])
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    @asynccontextmanager
    async def _tx(self, write: bool = True) -> AsyncIterator[Tx]:
        conn = self._conn
        if conn is None:
            raise StoreError("the store is not open (use `async with open_store(...)`)")
        async with self._lock:
            try:
                await conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise StoreError(f"database busy or unusable: {exc}") from exc
            try:
                yield _SqliteTx(conn)
            except sqlite3.Error as exc:
                await conn.execute("ROLLBACK")
                raise StoreError(f"SQLite: {exc}") from exc
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            try:
                await conn.execute("COMMIT")
            except sqlite3.Error as exc:
                await conn.execute("ROLLBACK")
                raise StoreError(f"commit failed: {exc}") from exc

    async def _run(self, body: Callable[[Tx], Awaitable[T]], write: bool = True) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError("the store is not open (use `async with open_store(...)`)")
        raw = conn._conn  # the sqlite3 connection aiosqlite's thread owns
        tx = _ThreadTx(raw)

        def work() -> T:
            return _in_transaction(raw, lambda: run_sync(body(tx)), write)  # type: ignore[arg-type]

        async with self._lock:
            try:
                return await conn._execute(work)  # type: ignore[no-untyped-call,no-any-return]
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite: {exc}") from exc

    async def record_result(
        self,
        claim: Claim,
        worker: str,
        result: FetchResult,
        document: Document | None,
        evaluation: Evaluation | None,
        entities: Sequence[Entity],
        *,
        retry_after: float | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> RecordOutcome:
        """Group commit: returns once the transaction holding this result has committed."""
        self._check_open()
        if self._conn is None:
            raise StoreError("the store is not open (use `async with open_store(...)`)")
        item = RecordItem(claim, worker, result, document, evaluation, entities, retry_after,
                          evidence)
        future: asyncio.Future[RecordOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_results())
        return await future

    async def _flush_results(self) -> None:
        try:
            while self._pending:
                group = [p for p in self._pending[:GROUP_MAX] if not p.future.done()]
                del self._pending[:GROUP_MAX]
                if not group:
                    continue
                try:
                    try:  # optimistic: no savepoints (one record failing is rare)
                        outcomes = await self._run(
                            functools.partial(self._record_group, group=group, isolate=False)
                        )
                    except _RecordFailed:  # rolled back whole: again, each record isolated
                        outcomes = await self._run(
                            functools.partial(self._record_group, group=group, isolate=True)
                        )
                except BaseException as exc:  # nothing of the group was committed
                    for p in group:
                        if not p.future.done():
                            p.future.set_exception(
                                exc if isinstance(exc, Exception) else StoreError(repr(exc))
                            )
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for p, out in zip(group, outcomes, strict=True):
                    if p.future.done():
                        continue
                    if isinstance(out, BaseException):
                        p.future.set_exception(out)
                    else:
                        p.future.set_result(out)
        finally:
            self._flusher = None
            for p in self._pending:  # only when cancelled: nobody will write these
                if not p.future.done():
                    p.future.set_exception(StoreError("the store stopped before recording"))
            self._pending.clear()

    async def _record_group(
        self, tx: Tx, *, group: list[_Pending], isolate: bool = True
    ) -> list[RecordOutcome | Exception]:
        """Each record in a savepoint (`isolate`): a failing one is undone alone and reported to
        its caller. Without `isolate` (the first try) the first failure raises `_RecordFailed`,
        the whole transaction is rolled back and the group is written again isolated."""
        assert isinstance(tx, _ThreadTx)
        conn = tx.conn
        now = self._now()
        out: list[RecordOutcome | Exception] = []
        if not isolate:
            for p in group:
                try:
                    out.append(await self._record_in_tx(tx, p.item, now))
                except Exception as exc:
                    raise _RecordFailed from exc
            return out
        for p in group:
            conn.execute("SAVEPOINT record")
            try:
                outcome = await self._record_in_tx(tx, p.item, now)
            except Exception as exc:
                conn.execute("ROLLBACK TO record")
                conn.execute("RELEASE record")
                if isinstance(exc, sqlite3.Error):
                    exc = StoreError(f"SQLite: {exc}")
                out.append(exc)
                continue
            conn.execute("RELEASE record")
            out.append(outcome)
        return out

    async def _recover_dead_local(self, tx: Tx, worker: str, now: float) -> int:
        me = socket.gethostname()
        rows = await tx.fetchall(
            "SELECT DISTINCT lease_owner FROM urls WHERE state = 'fetching' AND lease_owner LIKE ?",
            (f"{me}:%",),
        )
        n = 0
        for r in rows:
            owner = str(r["lease_owner"])
            if owner == worker or not owner.startswith(f"{me}:") or _pid_alive(owner, me):
                continue
            n += await tx.execute(
                "UPDATE urls SET state = 'queued', lease_owner = NULL, lease_until = NULL, "
                "updated_at = ? WHERE state = 'fetching' AND lease_owner = ?",
                (now, owner),
            )
        return n


def _pid_alive(owner: str, hostname: str) -> bool:
    """`hostname:pid:n` -> is that pid alive here? Unknown shapes count as alive."""
    parts = owner[len(hostname) + 1 :].split(":")
    if not parts or not parts[0].isdigit():
        return True
    pid = int(parts[0])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
