"""PostgresStore: scale-out on PostgreSQL (psycopg 3 async + psycopg_pool).

Many workers on many machines share one database: `claim()` leases rows with
`SELECT ... FOR UPDATE SKIP LOCKED`, `reserve_host()` is one atomic upsert on the `hosts` row,
hits are exactly-once through their unique key. Seeds are loaded with COPY.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from crawler.errors import StoreError
from crawler.models import Seed, SeedReject
from storage.base import BatchReceipt
from storage.frontier import FrontierMixin
from storage.migrate import apply_migrations
from storage.review import ReviewMixin
from storage.sqlbase import Row, Tx, host_of

ANALYZE_AFTER = 50_000  # new URLs in one batch


@functools.lru_cache(maxsize=512)
def _q(sql: str) -> str:
    """Our SQL uses `?` placeholders; psycopg wants `%s` (and literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx:
    def __init__(self, conn: psycopg.AsyncConnection[Row]) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await self.conn.execute(_q(sql), tuple(params))
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        async with self.conn.cursor() as cur:
            await cur.executemany(_q(sql), [tuple(r) for r in rows])
            return max(cur.rowcount, 0)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = await self.conn.execute(_q(sql), tuple(params))
        return await cur.fetchall()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        cur = await self.conn.execute(_q(sql), tuple(params))
        return await cur.fetchone()

    async def script(self, sql: str) -> None:
        await self.conn.execute(sql.encode())  # no parameters: several statements allowed


class PostgresStore(ReviewMixin, FrontierMixin):
    dialect = "postgres"
    GREATEST = "GREATEST"
    SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
    FOR_UPDATE = " FOR UPDATE"
    URL_KEY = "((md5(url)))"  # the unique index (see migrations/postgres/0001_init.sql)

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        self.conninfo = conninfo
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] | None = None
        self._sizes = (min_size, max_size)

    async def open(self) -> PostgresStore:
        if self._pool is not None:
            return self
        if self._closed:
            raise StoreError("the store is closed")
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
            self.conninfo,
            min_size=self._sizes[0],
            max_size=self._sizes[1],
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row},
            name="triage",
        )
        try:
            await pool.open(wait=True, timeout=30)
        except Exception as exc:
            await pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        self._pool = pool
        try:
            await apply_migrations(self, "postgres")
        except BaseException:
            await self.close()
            raise
        return self

    async def __aenter__(self) -> PostgresStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _tx(self, write: bool = True) -> AsyncIterator[Tx]:
        pool = self._pool
        if pool is None:
            raise StoreError("the store is not open (use `async with open_store(...)`)")
        try:
            async with pool.connection() as conn, conn.transaction():
                yield _PgTx(conn)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc

    async def add_batch(
        self,
        source: str,
        sha256: str,
        seeds: Iterable[Seed],
        rejects: Sequence[SeedReject],
        *,
        duplicates: int = 0,
    ) -> BatchReceipt:
        receipt = await super().add_batch(source, sha256, seeds, rejects, duplicates=duplicates)
        if receipt.accepted >= ANALYZE_AFTER:  # fresh statistics keep claim() on its index
            async with self._tx() as tx:
                await tx.script("ANALYZE urls")
        return receipt

    async def _insert_seeds(
        self, tx: Tx, batch_id: int, seeds: Iterable[Seed], now: float
    ) -> tuple[int, int]:
        assert isinstance(tx, _PgTx)
        conn = tx.conn
        await conn.execute(
            "CREATE TEMP TABLE triage_stage (n BIGINT, url TEXT, host TEXT, label TEXT) "
            "ON COMMIT DROP"
        )
        n = 0
        async with conn.cursor() as cur:
            async with cur.copy("COPY triage_stage (n, url, host, label) FROM STDIN") as copy:
                for seed in seeds:
                    n += 1
                    await copy.write_row((n, seed.url, host_of(seed.url), seed.label))
            await cur.execute(
                "INSERT INTO urls (url, host, batch_id, label, state, updated_at) "
                "SELECT url, host, %s, label, 'queued', %s FROM triage_stage ORDER BY n "
                "ON CONFLICT ((md5(url))) DO NOTHING",
                (batch_id, now),
            )
            inserted = cur.rowcount
        await conn.execute("DROP TABLE triage_stage")
        return n, inserted
