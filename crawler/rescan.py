"""Re-evaluate stored page text with the current rules, without fetching anything.

    async with open_store(db) as store:
        report = await rescan(store, load_ruleset(rules_dir))

For the latest stored version of every URL's page (older versions are history, not re-flagged):
the page's Document is rebuilt from the stored text, its stored entities are reused, and the rule
set evaluates it. A page that fires gets a hit under the current rule-set version through the
store's own exactly-once hit path, so:
- a page that already has a hit under this rule-set version is left alone and not re-evaluated
  (`unchanged`: same content and same rules give the same result);
- a page that now fires gets a new pending hit (`new_hits`), linked to its previous hit;
- a page whose previous hit (same content) was reviewed gets the new hit with the reviewer's
  verdict carried forward (`verdicts_kept`): people's decisions are never thrown away;
- a page whose old hit no longer fires is counted (`no_longer_fire`), its hit is left as is.

`since`: only pages fetched at or after the earliest-fetched page that has a hit under rule-set
version SINCE (the pages added since that rule set came in; the store keeps no rule-set version
for pages that did not fire, so the first flagged page marks it).
Writes go in one transaction per batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from crawler.errors import StoreError, UsageError
from crawler.models import Document, Entity, Evaluation, Span
from storage.base import Claim, PageFeatures

ACTOR = "rescan"


class _RuleSet(Protocol):
    version: str

    def evaluate(self, doc: Document, entities: Sequence[Entity] = ...) -> Evaluation: ...


class _PageStore(Protocol):
    async def iter_page_features(
        self, after_page_id: int = 0, limit: int = 1000
    ) -> list[PageFeatures]: ...


@dataclass
class RescanReport:
    ruleset_version: str
    pages: int = 0  # pages read
    evaluated: int = 0  # latest page versions evaluated
    superseded: int = 0  # older page versions skipped
    flagged: int = 0  # evaluated pages that fire under the current rules
    new_hits: int = 0
    verdicts_kept: int = 0  # new hits that carried a reviewer's verdict forward
    unchanged: int = 0  # already had a hit under this rule-set version (not re-evaluated)
    no_longer_fire: int = 0  # had a hit, do not fire now (hit left as is)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    last_page_id: int = 0

    @property
    def rescanned(self) -> int:
        """Latest page versions considered: evaluated, or known to have this rule set's hit."""
        return self.evaluated + self.unchanged

    @property
    def pages_per_second(self) -> float:
        return self.rescanned / self.seconds if self.seconds > 0 else 0.0

    @property
    def pages_per_cpu_second(self) -> float:
        return self.rescanned / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "pages_per_second": round(self.pages_per_second, 1),
            "pages_per_cpu_second": round(self.pages_per_cpu_second, 1),
        }


def document_of(page: PageFeatures) -> Document:
    return Document(
        url=page.final_url or page.url,
        title=page.title or "",
        meta=page.meta or "",
        body=page.body or "",
        contact=page.contact or "",
        language=page.language,
    )


def entities_of(page: PageFeatures) -> list[Entity]:
    out = []
    for e in page.entities:
        ev = e.get("evidence") or {}
        try:
            span = Span(ev["scope"], int(ev["start"]), int(ev["end"]), ev["text"],
                        ev.get("context", ""))
            out.append(Entity(e["kind"], e["value"], span, e.get("subtype", "")))
        except (KeyError, TypeError, ValueError):
            continue  # an entity stored by an older version: rules only need kind/subtype
    return out


class _HitWriter:
    """Writes hits for existing pages through the store's record path (one tx per batch).

    Prefers a public `record_evaluation(page_id, url_id, url, sha256, evaluation, actor)` if
    the store has one; otherwise uses the SQL stores' own exactly-once `_insert_hit` (the same
    code `record_result` runs), so both SQLite and PostgreSQL behave like a crawl would.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.public = getattr(store, "record_evaluation", None)
        if self.public is None and not (hasattr(store, "_tx") and hasattr(store, "_insert_hit")):
            raise StoreError(f"{type(store).__name__} cannot record hits for stored pages")

    async def write(self, items: list[tuple[PageFeatures, Evaluation]]) -> list[bool]:
        """For each (page, evaluation): True when a new hit was created."""
        if not items:
            return []
        if self.public is not None:
            return [
                bool((await self.public(p.page_id, p.url_id, p.url, p.content_sha256, ev,
                                        ACTOR)).new_hit)
                for p, ev in items
            ]
        out = []
        now = self.store._now()
        async with self.store._tx() as tx:
            for page, ev in items:
                claim = Claim(url_id=page.url_id, url=page.url, host="", batch_id=0, attempts=0)
                _hit_id, new = await self.store._insert_hit(
                    tx, claim, ACTOR, _Sha(page.content_sha256), ev, page.page_id, now
                )
                out.append(bool(new))
        return out

    async def latest_pages(self) -> set[int] | None:
        """Ids of the newest page of every URL (None when the store cannot tell)."""
        if not hasattr(self.store, "_tx"):
            return None
        async with self.store._tx(write=False) as tx:
            rows = await tx.fetchall("SELECT max(id) AS id FROM pages GROUP BY url_id")
        return {int(r["id"]) for r in rows}

    async def known_hits(self, version: str) -> set[tuple[int, str]]:
        """(url_id, content sha) pairs that already have a hit under `version`."""
        if not hasattr(self.store, "_tx"):
            return set()
        async with self.store._tx(write=False) as tx:
            rows = await tx.fetchall(
                "SELECT url_id, content_sha256 FROM hits WHERE ruleset_version = ?", (version,)
            )
        return {(int(r["url_id"]), str(r["content_sha256"])) for r in rows}

    async def since_epoch(self, version: str) -> float:
        if not hasattr(self.store, "_tx"):
            raise UsageError("--since needs a SQL store")
        async with self.store._tx(write=False) as tx:
            row = await tx.fetchone(
                "SELECT min(p.fetched_at) AS t FROM hits h JOIN pages p ON p.id = h.page_id "
                "WHERE h.ruleset_version = ?", (version,)
            )
            if row is None or row["t"] is None:
                known = await tx.fetchall(
                    "SELECT ruleset_version, min(created_at) AS t FROM hits "
                    "GROUP BY ruleset_version ORDER BY t"
                )
                names = ", ".join(r["ruleset_version"] for r in known) or "none yet"
                raise UsageError(f"--since: no hit was recorded under rule set {version!r} "
                                 f"(known: {names})")
        return float(row["t"])


@dataclass(frozen=True, slots=True)
class _Sha:
    sha256: str


async def rescan(
    store: _PageStore,
    ruleset: _RuleSet,
    *,
    since: str | None = None,
    after_page_id: int = 0,
    batch: int = 500,
    limit: int | None = None,
    progress: Callable[[RescanReport], None] | None = None,
) -> RescanReport:
    """Re-evaluate stored pages with `ruleset`; write hits for the ones that fire."""
    writer = _HitWriter(store)
    report = RescanReport(ruleset_version=ruleset.version, last_page_id=after_page_id)
    latest = await writer.latest_pages()
    known = await writer.known_hits(ruleset.version)
    since_t = await writer.since_epoch(since) if since else None
    t0, c0 = time.perf_counter(), time.process_time()
    cursor = after_page_id
    while limit is None or report.pages < limit:
        pages = await store.iter_page_features(after_page_id=cursor, limit=batch)
        if not pages:
            break
        cursor = pages[-1].page_id
        fired: list[tuple[PageFeatures, Evaluation]] = []
        for page in pages:
            report.pages += 1
            if latest is not None and page.page_id not in latest:
                report.superseded += 1
                continue
            if since_t is not None and page.fetched_at.timestamp() < since_t:
                continue
            if (page.url_id, page.content_sha256) in known:
                report.unchanged += 1  # same content, same rules: the same hit; not re-run
                continue
            ev = ruleset.evaluate(document_of(page), entities_of(page))
            report.evaluated += 1
            if ev.flagged:
                report.flagged += 1
                fired.append((page, ev))
            elif page.hit_id is not None:
                report.no_longer_fire += 1
        for (page, _ev), new in zip(fired, await writer.write(fired), strict=True):
            if not new:
                report.unchanged += 1
                continue
            report.new_hits += 1
            if page.hit_status not in (None, "pending"):
                report.verdicts_kept += 1
        report.last_page_id = cursor
        report.seconds = time.perf_counter() - t0
        report.cpu_seconds = time.process_time() - c0
        if progress is not None:
            progress(report)
    report.seconds = time.perf_counter() - t0
    report.cpu_seconds = time.process_time() - c0
    return report
