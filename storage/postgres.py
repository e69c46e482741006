"""PostgresStore: scale-out on PostgreSQL (psycopg 3 async + psycopg_pool).

Many workers on many machines share one database: `claim()` leases rows with
`SELECT ... FOR UPDATE SKIP LOCKED`, `reserve_host()` is one atomic upsert on the `hosts` row,
hits are exactly-once through their unique key. Seeds are loaded with COPY.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from crawler.errors import StoreError
from crawler.models import Document, Entity, Evaluation, FetchResult, Outcome, Seed, SeedReject
from storage.base import BatchReceipt, Claim, RecordOutcome
from storage.frontier import FrontierMixin
from storage.migrate import apply_migrations
from storage.results import _NOTHING, _STATE, RecordItem, page_row
from storage.review import ReviewMixin
from storage.sqlbase import Row, Tx, dumps, families_key, host_of, priority_rank, span_json

ANALYZE_AFTER = 50_000  # new URLs in one batch

# record_result's url state, page and entities in ONE statement (one round trip; atomic on its
# own, so a page that raises no hit needs no BEGIN/COMMIT). The max(id) subquery sees the
# snapshot before the statement, as the separate SELECT did.
RECORD_SQL = (
    "WITH held AS (UPDATE urls SET state = ?, reason = ?, detail = ?, lease_owner = NULL, "
    "lease_until = NULL, not_before = ?::double precision, updated_at = ? "
    "WHERE id = ? AND lease_owner = ? AND state = 'fetching' RETURNING id), "
    "page AS (INSERT INTO pages (url_id, final_url, status, headers, content_type, bytes, "
    "sha256, fetched_at, title, body, contact, meta, language, legal_basis, previous_page_id, "
    "warc_file, warc_offset, warc_length, warc_sha256) "
    "SELECT held.id, ?::text, ?::integer, ?::text, ?::text, ?::integer, ?::text, "
    "?::double precision, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, "
    "(SELECT max(p.id) FROM pages p WHERE p.url_id = held.id), ?::text, ?::integer, "
    "?::integer, ?::text FROM held WHERE ?::boolean RETURNING id), "
    "ents AS (INSERT INTO entities (page_id, kind, subtype, value, span) "
    "SELECT page.id, e.kind, e.subtype, e.value, e.span FROM page, "
    "unnest(?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY "
    "AS e(kind, subtype, value, span, n) ORDER BY e.n) "
    "SELECT (SELECT count(*) FROM held) AS held, (SELECT id FROM page) AS page_id"
)


# A new hit's previous-hit lookup, the hit and its `flagged` audit entry in ONE statement (the
# three statements of ResultsMixin._insert_hit; the rare follow-ups stay separate: the existing
# hit on a conflict, the carried-forward verdict).
HIT_SQL = (
    "WITH prev AS (SELECT id, content_sha256, ruleset_version, status, reviewer, reviewed_at "
    "FROM hits WHERE url_id = ? ORDER BY id DESC LIMIT 1), "
    "ins AS (INSERT INTO hits (page_id, url_id, url, content_sha256, ruleset_version, score, "
    "priority, priority_rank, families, indicators, status, created_at, previous_hit_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, (SELECT id FROM prev)) "
    "ON CONFLICT (url_id, content_sha256, ruleset_version) DO NOTHING RETURNING id), "
    "aud AS (INSERT INTO audit (hit_id, actor, at, action, from_value, to_value, note) "
    "SELECT ins.id, ?::text, ?::double precision, 'flagged', NULL, 'pending', ?::text FROM ins) "
    "SELECT (SELECT id FROM ins) AS id, prev.id AS prev_id, prev.content_sha256, "
    "prev.ruleset_version, prev.status, prev.reviewer, prev.reviewed_at "
    "FROM (SELECT 1) AS one LEFT JOIN prev ON true"
)


# A page with a new hit: RECORD_SQL's url state, page and entities plus the hit (a carried
# verdict written in the row itself) and its audit entries (`flagged`, and `carried_forward`
# after it) in ONE statement: one round trip, atomic without BEGIN/COMMIT. The same rows as
# ResultsMixin's statements (tests compare them). `existing_id`: the hit this content already had.
_RECORD_CTES = RECORD_SQL[: RECORD_SQL.index(" SELECT (SELECT count(*) FROM held)")]
RECORD_HIT_SQL = (
    _RECORD_CTES + ", "
    "prev AS (SELECT id, content_sha256, ruleset_version, status, reviewer, reviewed_at "
    "FROM hits WHERE url_id = ? ORDER BY id DESC LIMIT 1), "
    "carry AS (SELECT * FROM prev WHERE content_sha256 = ?::text AND status <> 'pending'), "
    "ins AS (INSERT INTO hits (page_id, url_id, url, content_sha256, ruleset_version, score, "
    "priority, priority_rank, families, indicators, status, reviewer, reviewed_at, created_at, "
    "previous_hit_id) "
    "SELECT page.id, ?::bigint, ?::text, ?::text, ?::text, ?::double precision, ?::text, "
    "?::integer, ?::text, ?::text, COALESCE((SELECT status FROM carry), 'pending'), "
    "(SELECT reviewer FROM carry), (SELECT reviewed_at FROM carry), ?::double precision, "
    "(SELECT id FROM prev) FROM page "
    "ON CONFLICT (url_id, content_sha256, ruleset_version) DO NOTHING RETURNING id), "
    # audit ids in order without relying on INSERT ... SELECT ... ORDER BY: the
    # carried_forward row is made from the flagged row's RETURNING, so its id is drawn after
    "args AS (SELECT ?::double precision AS at, ?::text AS actor, ?::text AS note, "
    "?::text AS rs), "
    "aud AS (INSERT INTO audit (hit_id, actor, at, action, from_value, to_value, note) "
    "SELECT ins.id, args.actor, args.at, 'flagged', NULL, 'pending', args.note FROM ins, args "
    "RETURNING hit_id), "
    "aud2 AS (INSERT INTO audit (hit_id, actor, at, action, from_value, to_value, note) "
    "SELECT aud.hit_id, 'system', args.at, 'carried_forward', 'pending', carry.status, "
    "'verdict of hit ' || carry.id || ' (same content, ruleset ' || carry.ruleset_version "
    "|| ' -> ' || args.rs || ')' FROM aud, carry, args) "
    "SELECT (SELECT count(*) FROM held) AS held, (SELECT id FROM page) AS page_id, "
    "(SELECT id FROM ins) AS hit_id, (SELECT id FROM hits WHERE url_id = ? AND "
    "content_sha256 = ?::text AND ruleset_version = ?::text) AS existing_id"
)


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
        """One statement (one round trip, autocommit) for a page, with or without a hit."""
        self._check_open()
        item = RecordItem(claim, worker, result, document, evaluation, entities, retry_after,
                          evidence)
        pool = self._pool
        if pool is None:
            raise StoreError("the store is not open (use `async with open_store(...)`)")
        try:
            async with pool.connection() as conn:  # autocommit: one statement is atomic
                return await self._record_in_tx(_PgTx(conn), item, self._now())
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: {exc}") from exc

    async def _record_in_tx(self, tx: Tx, item: RecordItem, now: float) -> RecordOutcome:
        claim, result = item.claim, item.result
        state = _STATE[result.outcome]
        not_before = None
        if item.retry_after is not None and result.outcome is Outcome.FAILED:
            state, not_before = "queued", now + max(0.0, item.retry_after)
        fetched = result.outcome is Outcome.FETCHED
        ents = item.entities if fetched else ()
        evaluation = item.evaluation
        sha = result.sha256
        hit = fetched and evaluation is not None and evaluation.flagged and bool(sha)
        params = (
            state, result.reason.value, result.detail, not_before, now, claim.url_id,
            item.worker,
            *page_row(result, item.document, item.evidence),
            fetched,
            [e.kind for e in ents], [e.subtype for e in ents], [e.value for e in ents],
            [span_json(e.span) for e in ents],
        )
        if hit:
            assert evaluation is not None
            version = evaluation.ruleset_version
            params += (
                claim.url_id, sha,
                claim.url_id, claim.url, sha, version, float(evaluation.score),
                evaluation.priority, priority_rank(evaluation.priority),
                families_key(i.family for i in evaluation.indicators),
                dumps([i.to_json() for i in evaluation.indicators]), now,
                now, item.worker,
                f"{evaluation.priority} {evaluation.score:g} ruleset {version}", version,
                claim.url_id, sha, version,
            )
        row = await tx.fetchone(RECORD_HIT_SQL if hit else RECORD_SQL, params)
        if row is None or not row["held"]:  # the lease expired: someone else has the URL
            return _NOTHING
        if row["page_id"] is None:
            return _NOTHING
        page_id = int(row["page_id"])
        if not hit:
            return RecordOutcome(page_id=page_id, hit_id=None, new_hit=False)
        if row["hit_id"] is not None:
            return RecordOutcome(page_id=page_id, hit_id=int(row["hit_id"]), new_hit=True)
        existing = row["existing_id"]
        if existing is None:  # written by another worker since this statement's snapshot
            found = await tx.fetchone(
                "SELECT id FROM hits WHERE url_id = ? AND content_sha256 = ? "
                "AND ruleset_version = ?",
                (claim.url_id, sha, evaluation.ruleset_version),  # type: ignore[union-attr]
            )
            assert found is not None
            existing = found["id"]
        return RecordOutcome(page_id=page_id, hit_id=int(existing), new_hit=False)

    async def _insert_hit(
        self,
        tx: Tx,
        claim: Claim,
        worker: str,
        result: FetchResult | Any,
        evaluation: Evaluation,
        page_id: int,
        now: float,
    ) -> tuple[int, bool]:
        """ResultsMixin._insert_hit in one round trip for a new hit (HIT_SQL)."""
        sha = result.sha256
        row = await tx.fetchone(
            HIT_SQL,
            (
                claim.url_id,
                page_id, claim.url_id, claim.url, sha, evaluation.ruleset_version,
                float(evaluation.score), evaluation.priority,
                priority_rank(evaluation.priority),
                families_key(i.family for i in evaluation.indicators),
                dumps([i.to_json() for i in evaluation.indicators]), now,
                worker, now,
                f"{evaluation.priority} {evaluation.score:g} ruleset {evaluation.ruleset_version}",
            ),
        )
        assert row is not None
        if row["id"] is None:  # exactly-once: this (url, content, rule set) already has its hit
            existing = await tx.fetchone(
                "SELECT id FROM hits WHERE url_id = ? AND content_sha256 = ? "
                "AND ruleset_version = ?",
                (claim.url_id, sha, evaluation.ruleset_version),
            )
            assert existing is not None
            return int(existing["id"]), False
        hit_id = int(row["id"])
        if row["prev_id"] is not None and row["content_sha256"] == sha and (
            row["status"] != "pending"
        ):
            await tx.execute(
                "UPDATE hits SET status = ?, reviewer = ?, reviewed_at = ? WHERE id = ?",
                (row["status"], row["reviewer"], row["reviewed_at"], hit_id),
            )
            await self._audit(
                tx, hit_id, "system", now, "carried_forward", "pending", row["status"],
                f"verdict of hit {row['prev_id']} (same content, ruleset "
                f"{row['ruleset_version']} -> {evaluation.ruleset_version})",
            )
        return hit_id, True

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
