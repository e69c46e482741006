"""record_result: one URL's outcome (url state, page, hit, entities, audit) in one transaction.

Exactly-once: a hit is keyed by (canonical URL, content SHA-256, rule-set version) and inserted
(the URL as its urls.id, one row per canonical URL)
with ON CONFLICT DO NOTHING, so a resumed crawl or a second worker never writes it twice.

Versions and reviewer decisions:
- the same page content under the same rule set is the same hit (a dismissed page that comes
  back unchanged stays dismissed and does not return to the queue);
- changed content gives a new pending hit linked to the URL's previous hit (previous_hit_id);
- the same content re-evaluated under a new rule-set version gives a new hit linked to the old
  one that *carries the reviewer's verdict forward* (status, reviewer, reviewed time), with an
  audit entry `carried_forward` naming the hit it came from. Changed text always needs a person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crawler.models import Document, Entity, Evaluation, FetchResult, Outcome
from storage.base import Claim, RecordOutcome
from storage.sqlbase import (
    SqlBase,
    Tx,
    dumps,
    families_key,
    headers_json,
    priority_rank,
    span_json,
)


class ResultsMixin(SqlBase):
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
        """`retry_after` (seconds) with a FAILED result: back to `queued`, not before then.

        `evidence`: where the page's WARC record is (the dict an evidence sink returns: file,
        offset, length, record_sha256).
        """
        self._check_open()
        item = RecordItem(claim, worker, result, document, evaluation, entities, retry_after,
                          evidence)
        return await self._run(lambda tx: self._record_in_tx(tx, item, self._now()))

    async def _record_in_tx(self, tx: Tx, item: RecordItem, now: float) -> RecordOutcome:
        """The whole of one record_result inside an open transaction (awaits only `tx`)."""
        claim, result = item.claim, item.result
        state = _STATE[result.outcome]
        not_before = None
        if item.retry_after is not None and result.outcome is Outcome.FAILED:
            state, not_before = "queued", now + max(0.0, item.retry_after)
        held = await tx.execute(
            "UPDATE urls SET state = ?, reason = ?, detail = ?, lease_owner = NULL, "
            "lease_until = NULL, not_before = ?, updated_at = ? "
            "WHERE id = ? AND lease_owner = ? AND state = 'fetching'",
            (state, result.reason.value, result.detail, not_before, now, claim.url_id,
             item.worker),
        )
        if not held:  # the lease expired and someone else has (or had) the URL
            return _NOTHING
        if result.outcome is not Outcome.FETCHED:
            return _NOTHING
        page_id = await self._insert_page(tx, claim, result, item.document, now, item.evidence)
        if item.entities:
            await tx.executemany(
                "INSERT INTO entities (page_id, kind, subtype, value, span) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (page_id, e.kind, e.subtype, e.value, span_json(e.span))
                    for e in item.entities
                ],
            )
        evaluation = item.evaluation
        if evaluation is None or not evaluation.flagged or not result.sha256:
            return RecordOutcome(page_id=page_id, hit_id=None, new_hit=False)
        hit_id, new = await self._insert_hit(
            tx, claim, item.worker, result, evaluation, page_id, now
        )
        return RecordOutcome(page_id=page_id, hit_id=hit_id, new_hit=new)

    async def record_evaluation(
        self, page_id: int, url_id: int, url: str, sha256: str, evaluation: Evaluation,
        actor: str,
    ) -> RecordOutcome:
        """Re-evaluate a stored page (rescan): the same exactly-once hit path as a crawl."""
        [out] = await self.record_evaluations([(page_id, url_id, url, sha256, evaluation)], actor)
        return out

    async def record_evaluations(
        self, items: Sequence[tuple[int, int, str, str, Evaluation]], actor: str
    ) -> list[RecordOutcome]:
        """Hits for stored pages, (page_id, url_id, url, sha256, evaluation) each, in one
        transaction (rescan); pages that do not fire write nothing."""
        self._check_open()
        if not any(ev.flagged for *_, ev in items):
            return [RecordOutcome(page_id=p, hit_id=None, new_hit=False) for p, *_ in items]
        return await self._run(lambda tx: self._evaluations_in_tx(tx, items, actor))

    async def _evaluations_in_tx(
        self, tx: Tx, items: Sequence[tuple[int, int, str, str, Evaluation]], actor: str
    ) -> list[RecordOutcome]:
        now = self._now()
        out = []
        for page_id, url_id, url, sha256, evaluation in items:
            if not evaluation.flagged:
                out.append(RecordOutcome(page_id=page_id, hit_id=None, new_hit=False))
                continue
            claim = Claim(url_id=url_id, url=url, host="", batch_id=0, attempts=0)
            hit_id, new = await self._insert_hit(
                tx, claim, actor, _Sha(sha256), evaluation, page_id, now
            )
            out.append(RecordOutcome(page_id=page_id, hit_id=hit_id, new_hit=new))
        return out

    async def _insert_page(
        self, tx: Tx, claim: Claim, result: FetchResult, doc: Document | None, now: float,
        evidence: Mapping[str, Any] | None = None,
    ) -> int:
        row = await tx.fetchone(
            "INSERT INTO pages (url_id, final_url, status, headers, content_type, bytes, sha256, "
            "fetched_at, title, body, contact, meta, language, legal_basis, previous_page_id, "
            "warc_file, warc_offset, warc_length, warc_sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "(SELECT max(id) FROM pages WHERE url_id = ?), ?, ?, ?, ?) RETURNING id",
            (claim.url_id, *page_row(result, doc, evidence, previous_of=claim.url_id)),
        )
        assert row is not None
        return int(row["id"])

    async def _insert_hit(
        self,
        tx: Tx,
        claim: Claim,
        worker: str,
        result: FetchResult | _Sha,
        evaluation: Evaluation,
        page_id: int,
        now: float,
    ) -> tuple[int, bool]:
        sha = result.sha256
        previous = await tx.fetchone(
            "SELECT id, content_sha256, ruleset_version, status, reviewer, reviewed_at "
            "FROM hits WHERE url_id = ? ORDER BY id DESC LIMIT 1",
            (claim.url_id,),
        )
        row = await tx.fetchone(
            "INSERT INTO hits (page_id, url_id, url, content_sha256, ruleset_version, score, "
            "priority, priority_rank, families, indicators, status, created_at, previous_hit_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) "
            "ON CONFLICT (url_id, content_sha256, ruleset_version) DO NOTHING RETURNING id",
            (
                page_id,
                claim.url_id,
                claim.url,
                sha,
                evaluation.ruleset_version,
                float(evaluation.score),
                evaluation.priority,
                priority_rank(evaluation.priority),
                families_key(i.family for i in evaluation.indicators),
                dumps([i.to_json() for i in evaluation.indicators]),
                now,
                previous["id"] if previous else None,
            ),
        )
        if row is None:  # exactly-once: this (url, content, rule set) already has its hit
            existing = await tx.fetchone(
                "SELECT id FROM hits WHERE url_id = ? AND content_sha256 = ? "
                "AND ruleset_version = ?",
                (claim.url_id, sha, evaluation.ruleset_version),
            )
            assert existing is not None
            return int(existing["id"]), False
        hit_id = int(row["id"])
        await self._audit(tx, hit_id, worker, now, "flagged", None, "pending",
                          f"{evaluation.priority} {evaluation.score:g} "
                          f"ruleset {evaluation.ruleset_version}")
        if (
            previous is not None
            and previous["content_sha256"] == sha
            and previous["status"] != "pending"
        ):
            await tx.execute(
                "UPDATE hits SET status = ?, reviewer = ?, reviewed_at = ? WHERE id = ?",
                (previous["status"], previous["reviewer"], previous["reviewed_at"], hit_id),
            )
            await self._audit(
                tx, hit_id, "system", now, "carried_forward", "pending", previous["status"],
                f"verdict of hit {previous['id']} (same content, ruleset "
                f"{previous['ruleset_version']} -> {evaluation.ruleset_version})",
            )
        return hit_id, True

    async def _audit(
        self, tx: Tx, hit_id: int | None, actor: str, at: float, action: str,
        from_value: str | None, to_value: str | None, note: str = "",
    ) -> None:
        await tx.execute(
            "INSERT INTO audit (hit_id, actor, at, action, from_value, to_value, note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (hit_id, actor, at, action, from_value, to_value, note),
        )


@dataclass(frozen=True, slots=True)
class _Sha:
    """What `_insert_hit` needs of a FetchResult: the body's SHA-256."""

    sha256: str


def page_row(
    result: FetchResult, doc: Document | None, evidence: Mapping[str, Any] | None,
    previous_of: int | None = None,
) -> tuple[Any, ...]:
    """The pages columns after url_id (previous_page_id's parameter only with `previous_of`).

    The WARC location comes from `evidence` (None: no evidence written)."""
    headers: Mapping[str, str] = result.headers
    ev: dict[str, Any] = dict(evidence or {})
    head = (
        result.final_url,
        result.status,
        headers_json(headers),
        result.content_type,
        len(result.body),
        result.sha256,
        result.fetched_at.timestamp(),
        doc.title if doc else "",
        doc.body if doc else "",
        doc.contact if doc else "",
        doc.meta if doc else "",
        doc.language if doc else None,
        result.legal_basis,
    )
    tail = (_str(ev.get("file")), _int(ev.get("offset")), _int(ev.get("length")),
            _str(ev.get("record_sha256")))
    return (*head, previous_of, *tail) if previous_of is not None else (*head, *tail)


@dataclass(frozen=True, slots=True)
class RecordItem:
    """One record_result call's arguments (SQLite commits several in one transaction)."""

    claim: Claim
    worker: str
    result: FetchResult
    document: Document | None
    evaluation: Evaluation | None
    entities: Sequence[Entity]
    retry_after: float | None = None
    evidence: Mapping[str, Any] | None = None


_STATE = {Outcome.FETCHED: "done", Outcome.REFUSED: "refused", Outcome.FAILED: "failed"}
_NOTHING = RecordOutcome(page_id=None, hit_id=None, new_hit=False)


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
