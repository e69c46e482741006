"""The Store protocol: everything triage persists goes through these methods.

Two implementations pass the same contract tests: `storage.sqlite.SqliteStore` (embedded default)
and `storage.postgres.PostgresStore` (scale-out). Open one with `storage.open_store(url)`.

The frontier lives in the store so a crash loses nothing:

    queued --claim()--> fetching --record_result()--> done | refused | failed
       ^                    |
       +-- lease expired / release() / dead worker

Exactly-once results: a hit is keyed by (canonical URL, content SHA-256, rule-set version), so
recording the same page twice (a resumed crawl, a second worker) never creates a second hit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crawler.errors import StoreError
from crawler.models import (
    Document,
    Entity,
    Evaluation,
    FetchResult,
    Seed,
    SeedReject,
)


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    batch_id: int
    source: str
    sha256: str
    submitted_at: dt.datetime
    accepted: int  # new URLs queued by this batch
    duplicates: int  # lines whose URL was already known (this batch or an earlier one)
    rejected: int  # bad lines (see rejects)
    rejects: tuple[SeedReject, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "source": self.source,
            "sha256": self.sha256,
            "submitted_at": self.submitted_at.isoformat(),
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rejects": [
                {"source": r.source, "line": r.line, "text": r.text, "reason": r.reason}
                for r in self.rejects
            ],
        }


@dataclass(frozen=True, slots=True)
class Claim:
    """A URL leased to one worker until `lease_until`."""

    url_id: int
    url: str
    host: str
    batch_id: int
    attempts: int
    depth: int = 0


@dataclass(frozen=True, slots=True)
class UrlRecord:
    url_id: int
    url: str
    state: str
    reason: str | None
    detail: str | None
    batch_id: int
    label: str | None
    attempts: int
    updated_at: dt.datetime | None
    final_url: str | None = None
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.url_id,
            "url": self.url,
            "state": self.state,
            "reason": self.reason,
            "detail": self.detail,
            "batch_id": self.batch_id,
            "label": self.label,
            "attempts": self.attempts,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "final_url": self.final_url,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class HitRecord:
    hit_id: int
    url: str
    final_url: str | None
    title: str
    score: float
    priority: str
    status: str
    indicators: list[dict[str, Any]]  # Indicator.to_json() each
    entities: list[dict[str, Any]]  # Entity.to_json() each
    content_sha256: str
    fetched_at: dt.datetime
    created_at: dt.datetime
    ruleset_version: str
    batch_id: int | None = None
    assignee: str | None = None
    page_id: int | None = None
    previous_hit_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.hit_id,
            "url": self.url,
            "final_url": self.final_url,
            "title": self.title,
            "score": self.score,
            "priority": self.priority,
            "status": self.status,
            "assignee": self.assignee,
            "families": sorted({i["family"] for i in self.indicators}),
            "indicators": self.indicators,
            "entities": self.entities,
            "content_sha256": self.content_sha256,
            "fetched_at": self.fetched_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "ruleset_version": self.ruleset_version,
            "batch_id": self.batch_id,
            "page_id": self.page_id,
            "previous_hit_id": self.previous_hit_id,
            **self.extra,
        }


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    page_id: int | None
    hit_id: int | None
    new_hit: bool  # False when an identical hit already existed (exactly-once)


@dataclass(frozen=True, slots=True)
class PageFeatures:
    page_id: int
    url_id: int
    url: str
    final_url: str | None
    fetched_at: dt.datetime
    content_sha256: str
    title: str
    body: str
    contact: str
    meta: str
    language: str | None
    entities: list[dict[str, Any]]  # Entity.to_json() each
    hit_id: int | None
    hit_status: str | None


@dataclass(frozen=True, slots=True)
class RescanPage:
    """What a rescan needs of one stored page: its text, entity kinds and hit state."""

    page_id: int
    url_id: int
    url: str
    final_url: str | None
    content_sha256: str
    title: str
    body: str
    contact: str
    meta: str
    language: str | None
    entity_kinds: tuple[tuple[str, str], ...]  # (kind, subtype) of its stored entities
    hit_id: int | None  # the URL's latest hit on this same content, any rule-set version
    hit_status: str | None


@dataclass(frozen=True, slots=True)
class RescanBatch:
    """One batch of pages in id order, sorted out in the store (texts only where needed)."""

    last_page_id: int  # resume after this id; equal to the `after` asked when nothing is left
    read: int  # pages in the id range
    superseded: int  # not the URL's newest page (history, not re-flagged)
    before_since: int  # newest pages fetched before the `since` time
    unchanged: int  # newest pages that already have a hit under the rule-set version asked
    pages: list[RescanPage] = field(default_factory=list)  # the rest: to evaluate


class UnknownHitError(StoreError, LookupError):
    """No hit with that id (the CLI prints one line and exits 2)."""

    def __init__(self, hit_id: int) -> None:
        super().__init__(f"no hit with id {hit_id}")
        self.hit_id = hit_id


REVIEW_VERDICTS: tuple[str, ...] = ("confirmed", "dismissed", "escalated", "pending")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One append-only audit entry: who did what to which hit, when, from what to what."""

    audit_id: int
    hit_id: int | None
    actor: str
    at: dt.datetime
    action: str  # flagged | carried_forward | review | assign | purge
    from_value: str | None
    to_value: str | None
    note: str
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.audit_id,
            "hit_id": self.hit_id,
            "url": self.url,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "action": self.action,
            "from": self.from_value,
            "to": self.to_value,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class BatchRecord:
    batch_id: int
    source: str
    sha256: str
    submitted_at: dt.datetime
    accepted: int
    duplicates: int
    rejected: int
    states: dict[str, int] = field(default_factory=dict)  # this batch's URLs by state

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "source": self.source,
            "sha256": self.sha256,
            "submitted_at": self.submitted_at.isoformat(),
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "states": self.states,
        }


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """Where a page's WARC response record lives (see crawler/evidence.py)."""

    page_id: int
    file: str
    offset: int
    length: int | None
    record_sha256: str | None  # SHA-256 of the record's bytes as stored (gzip member)
    payload_sha256: str | None  # SHA-256 of the body (pages.sha256)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    hits: int  # dismissed hits whose evidence was purged
    pages: int  # pages whose text was blanked
    evidence: tuple[EvidenceRef, ...] = ()  # WARC records the caller should drop


class Store(Protocol):
    """Persistence for batches, the frontier, pages, hits, entities, reviews and audit."""

    async def __aenter__(self) -> Store: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def close(self) -> None: ...

    # ---- intake
    async def add_batch(
        self,
        source: str,
        sha256: str,
        seeds: Sequence[Seed],
        rejects: Sequence[SeedReject],
        *,
        duplicates: int = 0,
    ) -> BatchReceipt:
        """Record a batch and queue its new URLs; URLs already known count as duplicates.

        `duplicates`: lines the seed reader already dropped as repeats within the file (added
        to the receipt's count). `seeds` may be any iterable (the 1M-URL bench streams them).
        """
        ...

    # ---- frontier
    async def recover(self, worker: str) -> int:
        """Make URLs whose lease expired, or that a dead worker on this host held, claimable.

        Returns how many were re-queued. Called at start and periodically.
        """
        ...

    async def claim(self, worker: str, limit: int, lease_seconds: float) -> list[Claim]:
        """Lease up to `limit` queued URLs (oldest first) to `worker`."""
        ...

    async def renew(self, worker: str, url_ids: Sequence[int], lease_seconds: float) -> None: ...

    async def release(self, worker: str, url_ids: Sequence[int]) -> None:
        """Give leased URLs back (graceful shutdown): they return to `queued`."""
        ...

    async def reserve_host(self, host: str, interval_s: float) -> float:
        """Atomically reserve the next request slot for `host`; returns seconds to wait first.

        Holds across workers and machines: next_allowed = max(now, next_allowed) + interval.
        """
        ...

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
        """Write one URL's outcome in one transaction: url state, page, hit, entities.

        No-op (all None) when `worker` no longer holds the claim. With `retry_after` seconds a
        FAILED result puts the URL back in the queue, claimable after that delay. `evidence`:
        the page's WARC location as an evidence sink returns it (file, offset, length,
        record_sha256).
        Returns only once the outcome is committed (a kill -9 after it cannot lose it).
        """
        ...

    async def enqueue_discovered(
        self, parent: Claim, urls: Sequence[str], depth: int
    ) -> int:
        """Queue links found on a page (link following); known URLs are skipped. Returns count."""
        ...

    # ---- reading
    async def list_urls(
        self, state: str | None = None, batch_id: int | None = None,
        limit: int | None = None, offset: int = 0,
    ) -> list[UrlRecord]: ...

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
        """Hits, highest priority then score first. status None means all."""
        ...

    async def get_hit(self, hit_id: int) -> HitRecord | None: ...

    async def iter_page_features(
        self, after_page_id: int = 0, limit: int = 1000
    ) -> list[PageFeatures]:
        """Pages in id order with their text, entities and hit state (networks, rescan)."""
        ...

    async def rescan_pages(
        self, after_page_id: int, limit: int, ruleset_version: str,
        since_epoch: float | None = None,
    ) -> RescanBatch:
        """The next `limit` pages sorted out for a rescan (text only for pages to evaluate)."""
        ...

    async def record_evaluations(
        self, items: Sequence[tuple[int, int, str, str, Evaluation]], actor: str
    ) -> list[RecordOutcome]:
        """Hits for stored pages (page_id, url_id, url, sha256, evaluation) in one transaction."""
        ...

    async def counts(self) -> dict[str, int]:
        """URL counts by state plus 'hits' and 'flagged' (for progress and summaries)."""
        ...

    # ---- review (added by storage; every change appends to the audit log)
    async def review(
        self, hit_id: int, verdict: str, reviewer: str, note: str = ""
    ) -> HitRecord:
        """Set a hit's status (confirmed|dismissed|escalated|pending).

        An unknown id raises UnknownHitError."""
        ...

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
        """Bulk review: every hit matching the filter (as list_hits). Returns the ids changed."""
        ...

    async def assign(self, hit_id: int, assignee: str | None, actor: str) -> HitRecord: ...

    async def list_audit(
        self, hit_id: int | None = None, actor: str | None = None,
        limit: int | None = None, offset: int = 0,
    ) -> list[AuditRecord]:
        """Audit entries, oldest first."""
        ...

    async def purge_dismissed(
        self, older_than_days: float, actor: str = "retention"
    ) -> PurgeReport:
        """Retention: blank page text, entities and indicator evidence of hits dismissed more
        than N days ago; audit entries stay. Returns the WARC records to drop."""
        ...

    async def list_evidence(self) -> list[EvidenceRef]:
        """Every page with a WARC record (for `triage evidence verify`)."""
        ...

    async def relocate_evidence(self, file: str, moves: dict[int, int]) -> None:
        """A WARC file was rewritten (retention): record old offset -> new offset."""
        ...

    async def list_batches(self) -> list[BatchRecord]: ...

    async def requeue(
        self, url_ids: Sequence[int] | None = None, *, state: str | None = None
    ) -> int:
        """Put finished URLs back in the queue (re-crawl); returns how many."""
        ...

    async def get_batch(self, batch_id: int) -> BatchRecord | None: ...
