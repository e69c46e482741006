"""The review workflow: verdicts, bulk verdicts, assignment, the audit log and retention.

Every change to a hit appends one audit row (who, when, action, from, to, note). The audit table
refuses UPDATE and DELETE (a trigger), so the log is append-only in the database itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from crawler.errors import UsageError
from storage.base import (
    REVIEW_VERDICTS,
    AuditRecord,
    EvidenceRef,
    HitRecord,
    PurgeReport,
    UnknownHitError,
)
from storage.queries import HIT_FROM, QueriesMixin, hit_filter
from storage.results import ResultsMixin
from storage.sqlbase import Tx, dumps, to_dt_req

DAY = 86_400.0


def _check_verdict(verdict: str) -> None:
    if verdict not in REVIEW_VERDICTS:
        raise UsageError(
            f"unknown verdict {verdict!r}: expected one of {', '.join(REVIEW_VERDICTS)}"
        )


class ReviewMixin(QueriesMixin, ResultsMixin):
    async def review(
        self, hit_id: int, verdict: str, reviewer: str, note: str = ""
    ) -> HitRecord:
        self._check_open()
        _check_verdict(verdict)
        async with self._tx() as tx:
            if not await self._review_one(tx, hit_id, verdict, reviewer, note, self._now()):
                raise UnknownHitError(hit_id)
        hit = await self.get_hit(hit_id)
        assert hit is not None
        return hit

    async def _review_one(
        self, tx: Tx, hit_id: int, verdict: str, reviewer: str, note: str, now: float
    ) -> bool:
        row = await tx.fetchone(f"SELECT status FROM hits WHERE id = ?{self.FOR_UPDATE}", (hit_id,))
        if row is None:
            return False
        await tx.execute(
            "UPDATE hits SET status = ?, reviewer = ?, reviewed_at = ? WHERE id = ?",
            (verdict, reviewer, now, hit_id),
        )
        await self._audit(tx, hit_id, reviewer, now, "review", row["status"], verdict, note)
        return True

    async def review_where(
        self,
        verdict: str,
        reviewer: str,
        note: str = "",
        *,
        status: str | None = "pending",
        priority: str | None = None,
        family: str | None = None,
        batch_id: int | None = None,
        text: str | None = None,
        hit_ids: Sequence[int] | None = None,
    ) -> list[int]:
        self._check_open()
        _check_verdict(verdict)
        where, params = hit_filter(
            status=status, priority=priority, family=family, batch_id=batch_id, text=text,
            hit_ids=hit_ids,
        )
        now = self._now()
        done: list[int] = []
        async with self._tx() as tx:
            rows = await tx.fetchall(f"SELECT h.id {HIT_FROM} {where} ORDER BY h.id", params)
            for r in rows:
                if await self._review_one(tx, int(r["id"]), verdict, reviewer, note, now):
                    done.append(int(r["id"]))
        return done

    async def add_note(self, hit_id: int, note: str, reviewer: str) -> HitRecord:
        """A note on a hit without changing its status (audited as `note`)."""
        self._check_open()
        now = self._now()
        async with self._tx() as tx:
            row = await tx.fetchone("SELECT status FROM hits WHERE id = ?", (hit_id,))
            if row is None:
                raise UnknownHitError(hit_id)
            await self._audit(tx, hit_id, reviewer, now, "note", row["status"], row["status"],
                              note)
        hit = await self.get_hit(hit_id)
        assert hit is not None
        return hit

    async def assign(self, hit_id: int, assignee: str | None, actor: str) -> HitRecord:
        self._check_open()
        now = self._now()
        async with self._tx() as tx:
            row = await tx.fetchone(
                f"SELECT assignee FROM hits WHERE id = ?{self.FOR_UPDATE}", (hit_id,)
            )
            if row is None:
                raise UnknownHitError(hit_id)
            await tx.execute("UPDATE hits SET assignee = ? WHERE id = ?", (assignee, hit_id))
            await self._audit(tx, hit_id, actor, now, "assign", row["assignee"], assignee)
        hit = await self.get_hit(hit_id)
        assert hit is not None
        return hit

    async def list_audit(
        self, hit_id: int | None = None, actor: str | None = None,
        limit: int | None = None, offset: int = 0,
    ) -> list[AuditRecord]:
        self._check_open()
        where: list[str] = []
        params: list[Any] = []
        if hit_id is not None:
            where.append("a.hit_id = ?")
            params.append(hit_id)
        if actor:
            where.append("a.actor = ?")
            params.append(actor)
        sql = (
            "SELECT a.*, h.url FROM audit a LEFT JOIN hits h ON h.id = a.hit_id "
            + (("WHERE " + " AND ".join(where)) if where else "")
            + " ORDER BY a.id" + self._page(limit, offset)
        )
        async with self._tx(write=False) as tx:
            rows = await tx.fetchall(sql, params)
        return [
            AuditRecord(
                audit_id=int(r["id"]), hit_id=r["hit_id"], actor=r["actor"],
                at=to_dt_req(r["at"]), action=r["action"], from_value=r["from_value"],
                to_value=r["to_value"], note=r["note"], url=r["url"],
            )
            for r in rows
        ]

    async def purge_dismissed(
        self, older_than_days: float, actor: str = "retention"
    ) -> PurgeReport:
        self._check_open()
        now = self._now()
        cutoff = now - float(older_than_days) * DAY
        async with self._tx() as tx:
            hits = await tx.fetchall(
                "SELECT id, url_id, content_sha256, indicators FROM hits "
                "WHERE status = 'dismissed' AND reviewed_at < ? AND purged_at IS NULL",
                (cutoff,),
            )
            pages = await tx.fetchall(
                "SELECT DISTINCT p.id, p.warc_file, p.warc_offset, p.warc_length, p.warc_sha256, "
                "p.sha256 FROM pages p JOIN hits h ON h.url_id = p.url_id "
                "AND h.content_sha256 = p.sha256 "
                "WHERE h.status = 'dismissed' AND h.reviewed_at < ? AND p.purged_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM hits h2 WHERE h2.url_id = p.url_id "
                "AND h2.content_sha256 = p.sha256 AND h2.status <> 'dismissed')",
                (cutoff,),
            )
            for p in pages:
                await tx.execute("DELETE FROM entities WHERE page_id = ?", (p["id"],))
                await tx.execute(
                    "UPDATE pages SET title = '', body = '', contact = '', meta = '', "
                    "purged_at = ?, warc_file = NULL, warc_offset = NULL, warc_length = NULL, "
                    "warc_sha256 = NULL WHERE id = ?",
                    (now, p["id"]),
                )
            for h in hits:
                await tx.execute(
                    "UPDATE hits SET indicators = ?, purged_at = ? WHERE id = ?",
                    (_strip_evidence(h["indicators"]), now, h["id"]),
                )
                await self._audit(
                    tx, int(h["id"]), actor, now, "purge", "dismissed", "dismissed",
                    f"retention: page text and evidence purged (dismissed > "
                    f"{older_than_days:g} days)",
                )
        refs = tuple(
            EvidenceRef(
                page_id=int(p["id"]), file=p["warc_file"], offset=int(p["warc_offset"] or 0),
                length=p["warc_length"], record_sha256=p["warc_sha256"],
                payload_sha256=p["sha256"],
            )
            for p in pages
            if p["warc_file"]
        )
        return PurgeReport(hits=len(hits), pages=len(pages), evidence=refs)

    async def relocate_evidence(self, file: str, moves: dict[int, int]) -> None:
        """After a WARC file was rewritten without purged records: old offset -> new offset."""
        self._check_open()
        async with self._tx() as tx:
            # two steps through negative offsets so moves never collide mid-way
            for old, new in moves.items():
                await tx.execute(
                    "UPDATE pages SET warc_offset = ? WHERE warc_file = ? AND warc_offset = ?",
                    (-new - 1, file, old),
                )
            await tx.execute(
                "UPDATE pages SET warc_offset = -warc_offset - 1 "
                "WHERE warc_file = ? AND warc_offset < 0",
                (file,),
            )


def _strip_evidence(indicators_json: str) -> str:
    indicators: list[dict[str, Any]] = json.loads(indicators_json or "[]")
    for ind in indicators:
        ind["evidence"] = []
        ind["note"] = ""
    return dumps(indicators)
