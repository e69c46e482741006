"""Intake and the frontier: batches in, URLs leased out, leases renewed, released, recovered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from crawler.models import Seed, SeedReject
from storage.base import BatchReceipt, Claim
from storage.sqlbase import SqlBase, Tx, chunks, host_of, in_list, to_dt_req

# A URL whose lease expired this many times (it keeps killing workers) is failed, not retried.
MAX_LEASE_ATTEMPTS = 5
BULK_CHUNK = 20_000


class FrontierMixin(SqlBase):
    # ---------------------------------------------------------------- intake

    async def add_batch(
        self,
        source: str,
        sha256: str,
        seeds: Iterable[Seed],
        rejects: Sequence[SeedReject],
        *,
        duplicates: int = 0,
    ) -> BatchReceipt:
        self._check_open()
        now = self._now()
        async with self._tx() as tx:
            row = await tx.fetchone(
                "INSERT INTO batches (source, sha256, submitted_at) VALUES (?, ?, ?) RETURNING id",
                (source, sha256, now),
            )
            assert row is not None
            batch_id = int(row["id"])
            total, accepted = await self._insert_seeds(tx, batch_id, seeds, now)
            # `rejects` is read only now, once `seeds` is exhausted: a streaming seed reader
            # (crawler.seeds.SeedStream) fills it while its seeds are consumed.
            if rejects:
                await tx.executemany(
                    "INSERT INTO seed_rejects (batch_id, source, line, text, reason) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(batch_id, r.source, r.line, r.text, r.reason) for r in rejects],
                )
            dupes = total - accepted + duplicates
            await tx.execute(
                "UPDATE batches SET accepted = ?, duplicates = ?, rejected = ? WHERE id = ?",
                (accepted, dupes, len(rejects), batch_id),
            )
        return BatchReceipt(
            batch_id=batch_id,
            source=source,
            sha256=sha256,
            submitted_at=to_dt_req(now),
            accepted=accepted,
            duplicates=dupes,
            rejected=len(rejects),
            rejects=tuple(rejects),
        )

    async def _insert_seeds(
        self, tx: Tx, batch_id: int, seeds: Iterable[Seed], now: float
    ) -> tuple[int, int]:
        """Insert new URLs (known ones are skipped). Returns (seen, inserted)."""
        total = inserted = 0
        sql = (
            "INSERT INTO urls (url, host, batch_id, label, state, updated_at) "
            f"VALUES (?, ?, ?, ?, 'queued', ?) ON CONFLICT {self.URL_KEY} DO NOTHING"
        )
        for chunk in _seed_chunks(seeds, BULK_CHUNK):
            total += len(chunk)
            inserted += await tx.executemany(
                sql, [(s.url, host_of(s.url), batch_id, s.label, now) for s in chunk]
            )
        return total, inserted

    async def enqueue_discovered(self, parent: Claim, urls: Sequence[str], depth: int) -> int:
        self._check_open()
        if not urls:
            return 0
        now = self._now()
        rows = [
            (u, host_of(u), parent.batch_id, depth, parent.url_id, now)
            for u in dict.fromkeys(urls)
        ]
        return await self._run(
            lambda tx: tx.executemany(
                "INSERT INTO urls (url, host, batch_id, state, depth, parent_id, updated_at) "
                f"VALUES (?, ?, ?, 'queued', ?, ?, ?) ON CONFLICT {self.URL_KEY} DO NOTHING",
                rows,
            )
        )

    async def requeue(
        self, url_ids: Sequence[int] | None = None, *, state: str | None = None
    ) -> int:
        """Put finished URLs back in the queue (re-crawl, rescan); leased ones are left alone.

        `url_ids` None with `state` set requeues every URL in that state (done|refused|failed).
        """
        self._check_open()
        now = self._now()
        base = (
            "UPDATE urls SET state = 'queued', lease_owner = NULL, lease_until = NULL, "
            "attempts = 0, not_before = NULL, updated_at = ? "
            "WHERE state IN ('done', 'refused', 'failed')"
        )
        async with self._tx() as tx:
            if url_ids is None:
                if state is None:
                    return await tx.execute(base, (now,))
                return await tx.execute(base + " AND state = ?", (now, state))
            n = 0
            for part in chunks(list(url_ids)):
                n += await tx.execute(base + f" AND id IN {in_list(part)}", (now, *part))
            return n

    # ---------------------------------------------------------------- leases

    async def recover(self, worker: str) -> int:
        self._check_open()
        now = self._now()
        async with self._tx() as tx:
            n = await self._fail_poisoned(tx, now)
            # rows another transaction holds (a renew, a record) are skipped: next time
            n += await tx.execute(
                "UPDATE urls SET state = 'queued', lease_owner = NULL, lease_until = NULL, "
                "updated_at = ? WHERE id IN (SELECT id FROM urls WHERE state = 'fetching' "
                f"AND lease_until < ? ORDER BY id{self.SKIP_LOCKED})",
                (now, now),
            )
            n += await self._recover_dead_local(tx, worker, now)
        return n

    async def _fail_poisoned(self, tx: Tx, now: float) -> int:
        return await tx.execute(
            "UPDATE urls SET state = 'failed', reason = 'internal', lease_owner = NULL, "
            "lease_until = NULL, updated_at = ?, detail = 'lease expired ' || attempts || "
            "' times (a worker died on every attempt)' "
            "WHERE id IN (SELECT id FROM urls WHERE state = 'fetching' AND lease_until < ? "
            f"AND attempts >= ? ORDER BY id{self.SKIP_LOCKED})",
            (now, now, MAX_LEASE_ATTEMPTS),
        )

    async def _recover_dead_local(self, tx: Tx, worker: str, now: float) -> int:
        """Backends where workers share one machine also free leases of dead local pids."""
        return 0

    async def claim(self, worker: str, limit: int, lease_seconds: float) -> list[Claim]:
        self._check_open()
        if limit <= 0:
            return []
        now = self._now()
        rows = await self._run(
            lambda tx: tx.fetchall(
                # MATERIALIZED: the locked selection runs exactly once (never re-scanned)
                "WITH ready AS MATERIALIZED (SELECT id FROM urls WHERE state = 'queued' "
                "AND (not_before IS NULL OR not_before <= ?) ORDER BY id LIMIT ?"
                f"{self.SKIP_LOCKED}) "
                "UPDATE urls SET state = 'fetching', lease_owner = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? WHERE id IN (SELECT id FROM ready) "
                "RETURNING id, url, host, batch_id, attempts, depth",
                (now, limit, worker, now + lease_seconds, now),
            )
        )
        return sorted(
            (
                Claim(
                    url_id=int(r["id"]),
                    url=r["url"],
                    host=r["host"],
                    batch_id=int(r["batch_id"]),
                    attempts=int(r["attempts"]),
                    depth=int(r["depth"]),
                )
                for r in rows
            ),
            key=lambda c: c.url_id,
        )

    async def renew(self, worker: str, url_ids: Sequence[int], lease_seconds: float) -> None:
        self._check_open()
        if not url_ids:
            return
        now = self._now()

        async def body(tx: Tx) -> None:
            for part in chunks(list(url_ids)):
                await tx.execute(
                    f"UPDATE urls SET lease_until = ? WHERE id IN {in_list(part)} "
                    "AND lease_owner = ? AND state = 'fetching'",
                    (now + lease_seconds, *part, worker),
                )

        await self._run(body)

    async def release(self, worker: str, url_ids: Sequence[int]) -> None:
        self._check_open()
        if not url_ids:
            return
        now = self._now()
        async with self._tx() as tx:
            for part in chunks(list(url_ids)):
                await tx.execute(
                    "UPDATE urls SET state = 'queued', lease_owner = NULL, lease_until = NULL, "
                    "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
                    f"updated_at = ? WHERE id IN {in_list(part)} "
                    "AND lease_owner = ? AND state = 'fetching'",
                    (now, *part, worker),
                )

    async def reserve_host(self, host: str, interval_s: float) -> float:
        self._check_open()
        now = self._now()
        interval = max(0.0, float(interval_s))
        row = await self._run(
            lambda tx: tx.fetchone(
                "INSERT INTO hosts (host, next_allowed_at) VALUES (?, ?) "
                "ON CONFLICT (host) DO UPDATE SET next_allowed_at = "
                f"{self.GREATEST}(hosts.next_allowed_at, ?) + ? RETURNING next_allowed_at",
                (host, now + interval, now, interval),
            )
        )
        assert row is not None
        slot = float(row["next_allowed_at"]) - interval
        return max(0.0, slot - now)


def _seed_chunks(seeds: Iterable[Seed], size: int) -> Iterator[list[Seed]]:
    chunk: list[Seed] = []
    for seed in seeds:
        chunk.append(seed)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
