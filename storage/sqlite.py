"""SqliteStore: the embedded default (aiosqlite, WAL, busy timeout, foreign keys).

One connection per store, serialised by an asyncio lock; every write runs in `BEGIN IMMEDIATE`
so several processes on one machine take turns as the single writer (busy_timeout waits).
Leases held by a dead process on this machine (worker id `hostname:pid:n`) are freed by
`recover()` without waiting for the lease to expire.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from crawler.errors import StoreError
from storage.frontier import FrontierMixin
from storage.migrate import apply_migrations
from storage.review import ReviewMixin
from storage.sqlbase import Row, Tx

BUSY_TIMEOUT_MS = 30_000


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

    async def open(self) -> SqliteStore:
        if self._conn is not None:
            return self
        if self._closed:
            raise StoreError("the store is closed")
        if not self.create and not self.path.exists():
            raise StoreError(f"no database at {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.path, isolation_level=None)
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
