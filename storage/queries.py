"""Reading: URLs, the review queue (hits), page features, batches, evidence references, counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crawler.models import UrlState
from storage.base import (
    BatchRecord,
    EvidenceRef,
    HitRecord,
    PageFeatures,
    RescanBatch,
    RescanPage,
    UrlRecord,
)
from storage.sqlbase import Row, SqlBase, Tx, chunks, in_list, loads, to_dt, to_dt_req

HIT_COLUMNS = (
    "h.id, h.url, h.page_id, h.content_sha256, h.ruleset_version, h.score, h.priority, "
    "h.indicators, h.status, h.assignee, h.reviewer, h.reviewed_at, h.created_at, "
    "h.previous_hit_id, h.purged_at, u.batch_id, u.label, p.final_url, p.title, p.fetched_at, "
    "p.status AS http_status, p.warc_file, p.warc_offset, p.warc_sha256"
)
HIT_FROM = "FROM hits h JOIN pages p ON p.id = h.page_id JOIN urls u ON u.id = h.url_id"
HIT_ORDER = "ORDER BY h.priority_rank DESC, h.score DESC, h.id"


def hit_filter(
    *,
    status: str | None = None,
    priority: str | None = None,
    family: str | None = None,
    batch_id: int | None = None,
    text: str | None = None,
    hit_ids: Sequence[int] | None = None,
    assignee: str | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE clause over `HIT_FROM` (status None or 'all' means every status)."""
    where: list[str] = []
    params: list[Any] = []
    if status and status != "all":
        where.append("h.status = ?")
        params.append(status)
    if priority:
        where.append("h.priority = ?")
        params.append(priority)
    if family:
        where.append("h.families LIKE ?")
        params.append(f"%,{family},%")
    if batch_id is not None:
        where.append("u.batch_id = ?")
        params.append(batch_id)
    if assignee:
        where.append("h.assignee = ?")
        params.append(assignee)
    if text:
        where.append("(lower(h.url) LIKE ? OR lower(p.title) LIKE ? OR lower(p.body) LIKE ?)")
        needle = f"%{text.lower()}%"
        params += [needle, needle, needle]
    if hit_ids is not None:
        where.append(f"h.id IN {in_list(hit_ids)}" if hit_ids else "1 = 0")
        params += list(hit_ids)
    return ("WHERE " + " AND ".join(where)) if where else "", params


class QueriesMixin(SqlBase):
    def _page(self, limit: int | None, offset: int) -> str:
        if limit is None and offset:
            limit_sql = " LIMIT -1" if self.dialect == "sqlite" else " LIMIT ALL"
            return f"{limit_sql} OFFSET {int(offset)}"
        out = f" LIMIT {int(limit)}" if limit is not None else ""
        return out + (f" OFFSET {int(offset)}" if offset else "")

    async def list_urls(
        self, state: str | None = None, batch_id: int | None = None,
        limit: int | None = None, offset: int = 0,
    ) -> list[UrlRecord]:
        self._check_open()
        where: list[str] = []
        params: list[Any] = []
        if state:
            where.append("u.state = ?")
            params.append(state)
        if batch_id is not None:
            where.append("u.batch_id = ?")
            params.append(batch_id)
        sql = (
            "SELECT u.id, u.url, u.state, u.reason, u.detail, u.batch_id, u.label, u.attempts, "
            "u.updated_at, p.final_url, p.status FROM urls u LEFT JOIN pages p ON p.id = "
            "(SELECT max(id) FROM pages WHERE url_id = u.id) "
            + (("WHERE " + " AND ".join(where)) if where else "")
            + " ORDER BY u.id" + self._page(limit, offset)
        )
        async with self._tx(write=False) as tx:
            rows = await tx.fetchall(sql, params)
        return [
            UrlRecord(
                url_id=int(r["id"]), url=r["url"], state=r["state"], reason=r["reason"],
                detail=r["detail"], batch_id=int(r["batch_id"]), label=r["label"],
                attempts=int(r["attempts"]), updated_at=to_dt(r["updated_at"]),
                final_url=r["final_url"], status=r["status"],
            )
            for r in rows
        ]

    async def list_hits(
        self,
        status: str | None = "pending",
        priority: str | None = None,
        family: str | None = None,
        batch_id: int | None = None,
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        *,
        assignee: str | None = None,
    ) -> list[HitRecord]:
        self._check_open()
        where, params = hit_filter(
            status=status, priority=priority, family=family, batch_id=batch_id, text=text,
            assignee=assignee,
        )
        async with self._tx(write=False) as tx:
            rows = await tx.fetchall(
                f"SELECT {HIT_COLUMNS} {HIT_FROM} {where} {HIT_ORDER}{self._page(limit, offset)}",
                params,
            )
            return await self._hit_records(tx, rows)

    async def get_hit(self, hit_id: int) -> HitRecord | None:
        self._check_open()
        async with self._tx(write=False) as tx:
            rows = await tx.fetchall(f"SELECT {HIT_COLUMNS} {HIT_FROM} WHERE h.id = ?", (hit_id,))
            records = await self._hit_records(tx, rows)
        return records[0] if records else None

    async def _hit_records(self, tx: Tx, rows: list[Row]) -> list[HitRecord]:
        entities = await self._entities_for(tx, [int(r["page_id"]) for r in rows])
        return [
            HitRecord(
                hit_id=int(r["id"]),
                url=r["url"],
                final_url=r["final_url"],
                title=r["title"] or "",
                score=float(r["score"]),
                priority=r["priority"],
                status=r["status"],
                indicators=loads(r["indicators"], []),
                entities=entities.get(int(r["page_id"]), []),
                content_sha256=r["content_sha256"],
                fetched_at=to_dt_req(r["fetched_at"]),
                created_at=to_dt_req(r["created_at"]),
                ruleset_version=r["ruleset_version"],
                batch_id=r["batch_id"],
                assignee=r["assignee"],
                page_id=int(r["page_id"]),
                previous_hit_id=r["previous_hit_id"],
                extra={
                    "label": r["label"],
                    "http_status": r["http_status"],
                    "reviewer": r["reviewer"],
                    "reviewed_at": _iso(r["reviewed_at"]),
                    "purged_at": _iso(r["purged_at"]),
                    "warc": {
                        "warc_file": r["warc_file"],
                        "warc_offset": r["warc_offset"],
                        "warc_record_sha256": r["warc_sha256"],
                    }
                    if r["warc_file"]
                    else None,
                },
            )
            for r in rows
        ]

    async def _entities_for(self, tx: Tx, page_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        ids = sorted(set(page_ids))
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            rows = await tx.fetchall(
                f"SELECT page_id, kind, subtype, value, span FROM entities "
                f"WHERE page_id IN {in_list(part)} ORDER BY id",
                part,
            )
            for r in rows:
                out.setdefault(int(r["page_id"]), []).append(
                    {"kind": r["kind"], "subtype": r["subtype"], "value": r["value"],
                     "evidence": loads(r["span"], {})}
                )
        return out

    async def iter_page_features(
        self, after_page_id: int = 0, limit: int = 1000
    ) -> list[PageFeatures]:
        self._check_open()
        async with self._tx(write=False) as tx:
            rows = await tx.fetchall(
                "SELECT p.id, p.url_id, u.url, p.final_url, p.fetched_at, p.sha256, p.title, "
                "p.body, p.contact, p.meta, p.language, h.id AS hit_id, h.status AS hit_status "
                "FROM pages p JOIN urls u ON u.id = p.url_id "
                "LEFT JOIN hits h ON h.id = (SELECT max(id) FROM hits WHERE url_id = p.url_id "
                "AND content_sha256 = p.sha256) "
                "WHERE p.id > ? ORDER BY p.id LIMIT ?",
                (after_page_id, limit),
            )
            entities = await self._entities_for(tx, [int(r["id"]) for r in rows])
        return [
            PageFeatures(
                page_id=int(r["id"]), url_id=int(r["url_id"]), url=r["url"],
                final_url=r["final_url"], fetched_at=to_dt_req(r["fetched_at"]),
                content_sha256=r["sha256"] or "", title=r["title"], body=r["body"],
                contact=r["contact"], meta=r["meta"], language=r["language"],
                entities=entities.get(int(r["id"]), []),
                hit_id=r["hit_id"], hit_status=r["hit_status"],
            )
            for r in rows
        ]

    async def rescan_pages(
        self,
        after_page_id: int,
        limit: int,
        ruleset_version: str,
        since_epoch: float | None = None,
    ) -> RescanBatch:
        """The next `limit` pages after `after_page_id`, sorted out for a rescan in the store.

        Only the newest page of each URL, fetched at or after `since_epoch`, that has no hit
        under `ruleset_version` yet, is returned with its text (no JSON is parsed: entities
        come as (kind, subtype)); the others are only counted. One read transaction.
        """
        self._check_open()
        return await self._run(
            lambda tx: self._rescan_pages(tx, after_page_id, limit, ruleset_version, since_epoch),
            write=False,
        )

    async def _rescan_pages(
        self, tx: Tx, after: int, limit: int, version: str, since: float | None
    ) -> RescanBatch:
        rows = await tx.fetchall(
            "SELECT p.id, p.fetched_at, "
            "CASE WHEN p.id = (SELECT max(id) FROM pages l WHERE l.url_id = p.url_id) "
            "THEN 1 ELSE 0 END AS latest, "
            "CASE WHEN EXISTS (SELECT 1 FROM hits k WHERE k.url_id = p.url_id "
            "AND k.content_sha256 = p.sha256 AND k.ruleset_version = ?) THEN 1 ELSE 0 END "
            "AS known FROM pages p WHERE p.id > ? ORDER BY p.id LIMIT ?",
            (version, after, int(limit)),
        )
        if not rows:
            return RescanBatch(last_page_id=after, read=0, superseded=0, before_since=0,
                               unchanged=0)
        superseded = before = unchanged = 0
        wanted: list[int] = []
        for r in rows:
            if not r["latest"]:
                superseded += 1
            elif since is not None and float(r["fetched_at"]) < since:
                before += 1
            elif r["known"]:
                unchanged += 1
            else:
                wanted.append(int(r["id"]))
        last = int(rows[-1]["id"])
        pages: list[RescanPage] = []
        if wanted:
            kinds: dict[int, set[tuple[str, str]]] = {}
            for e in await tx.fetchall(
                "SELECT page_id, kind, subtype FROM entities WHERE page_id > ? AND page_id <= ?",
                (after, last),
            ):
                kinds.setdefault(e["page_id"], set()).add((e["kind"], e["subtype"] or ""))
            for part in chunks(wanted, 500):
                for r in await tx.fetchall(
                    "SELECT p.id, p.url_id, u.url, p.final_url, p.sha256, p.title, p.body, "
                    "p.contact, p.meta, p.language, h.id AS hit_id, h.status AS hit_status "
                    "FROM pages p JOIN urls u ON u.id = p.url_id "
                    "LEFT JOIN hits h ON h.id = (SELECT max(id) FROM hits WHERE "
                    "url_id = p.url_id AND content_sha256 = p.sha256) "
                    f"WHERE p.id IN {in_list(part)} ORDER BY p.id",
                    part,
                ):
                    page_id = int(r["id"])
                    pages.append(RescanPage(
                        page_id=page_id, url_id=int(r["url_id"]), url=r["url"],
                        final_url=r["final_url"], content_sha256=r["sha256"] or "",
                        title=r["title"] or "", body=r["body"] or "",
                        contact=r["contact"] or "", meta=r["meta"] or "",
                        language=r["language"],
                        entity_kinds=tuple(sorted(kinds.get(page_id, ()))),
                        hit_id=r["hit_id"], hit_status=r["hit_status"],
                    ))
        return RescanBatch(last_page_id=last, read=len(rows), superseded=superseded,
                           before_since=before, unchanged=unchanged, pages=pages)

    async def counts(self) -> dict[str, int]:
        self._check_open()
        out = {s.value: 0 for s in UrlState}
        async with self._tx(write=False) as tx:
            for r in await tx.fetchall("SELECT state, count(*) AS n FROM urls GROUP BY state"):
                out[r["state"]] = int(r["n"])
            row = await tx.fetchone(
                "SELECT count(*) AS hits, count(DISTINCT url_id) AS flagged, "
                "sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending FROM hits"
            )
        assert row is not None
        out["hits"] = int(row["hits"])
        out["flagged"] = int(row["flagged"])
        out["pending"] = int(row["pending"] or 0)
        return out

    async def list_batches(self) -> list[BatchRecord]:
        return await self._batches(None)

    async def get_batch(self, batch_id: int) -> BatchRecord | None:
        found = await self._batches(batch_id)
        return found[0] if found else None

    async def _batches(self, batch_id: int | None) -> list[BatchRecord]:
        self._check_open()
        where = "WHERE b.id = ?" if batch_id is not None else ""
        params = [batch_id] if batch_id is not None else []
        async with self._tx(write=False) as tx:
            rows = await tx.fetchall(f"SELECT * FROM batches b {where} ORDER BY b.id", params)
            states = await tx.fetchall(
                "SELECT batch_id, state, count(*) AS n FROM urls "
                + ("WHERE batch_id = ? " if batch_id is not None else "")
                + "GROUP BY batch_id, state",
                params,
            )
        by_batch: dict[int, dict[str, int]] = {}
        for s in states:
            by_batch.setdefault(int(s["batch_id"]), {})[s["state"]] = int(s["n"])
        return [
            BatchRecord(
                batch_id=int(r["id"]), source=r["source"], sha256=r["sha256"],
                submitted_at=to_dt_req(r["submitted_at"]), accepted=int(r["accepted"]),
                duplicates=int(r["duplicates"]), rejected=int(r["rejected"]),
                states=by_batch.get(int(r["id"]), {}),
            )
            for r in rows
        ]

    async def find_batch_by_sha256(self, sha256: str) -> BatchRecord | None:
        """The newest batch whose file had this SHA-256 (re-submission check)."""
        self._check_open()
        async with self._tx(write=False) as tx:
            row = await tx.fetchone(
                "SELECT max(id) AS id FROM batches WHERE sha256 = ?", (sha256,)
            )
        if row is None or row["id"] is None:
            return None
        return await self.get_batch(int(row["id"]))

    async def list_evidence(self) -> list[EvidenceRef]:
        self._check_open()
        async with self._tx(write=False) as tx:
            rows = await tx.fetchall(
                "SELECT id, warc_file, warc_offset, warc_length, warc_sha256, sha256 FROM pages "
                "WHERE warc_file IS NOT NULL ORDER BY id"
            )
        return [
            EvidenceRef(
                page_id=int(r["id"]), file=r["warc_file"], offset=int(r["warc_offset"] or 0),
                length=r["warc_length"], record_sha256=r["warc_sha256"], payload_sha256=r["sha256"],
            )
            for r in rows
        ]


def _iso(value: float | None) -> str | None:
    d = to_dt(value)
    return d.isoformat() if d else None
