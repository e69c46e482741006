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

Cost: the store sorts each batch out itself (`rescan_pages`: newest version? already a hit under
this rule set? fetched since?) and returns text only for the pages to evaluate, with their entity
kinds (the rules look at kind and subtype only; values and spans stay in the store, unparsed).
Hits of a batch are written in one transaction (`record_evaluations`); pages that do not fire
write nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from crawler.errors import StoreError, UsageError
from crawler.models import Document, Entity, Evaluation, Span
from storage.base import PageFeatures, RecordOutcome, RescanBatch, RescanPage

ACTOR = "rescan"
BATCH = 2000
_NO_SPAN = Span("body", 0, 0, "", "")  # rules read an entity's kind and subtype only


class _RuleSet(Protocol):
    version: str

    def evaluate(self, doc: Document, entities: Sequence[Entity] = ...) -> Evaluation: ...


class _RescanStore(Protocol):
    async def rescan_pages(
        self, after_page_id: int, limit: int, ruleset_version: str,
        since_epoch: float | None = None,
    ) -> RescanBatch: ...

    async def record_evaluations(
        self, items: Sequence[tuple[int, int, str, str, Evaluation]], actor: str
    ) -> list[RecordOutcome]: ...


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


def document_of(page: PageFeatures | RescanPage) -> Document:
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


def kinds_of(page: RescanPage) -> list[Entity]:
    """Entities standing for the page's stored ones as the rules see them: kind and subtype."""
    return [Entity(kind, "", _NO_SPAN, subtype) for kind, subtype in page.entity_kinds]  # type: ignore[arg-type]


async def _since_epoch(store: Any, version: str) -> float:
    if not hasattr(store, "_tx"):
        raise UsageError("--since needs a SQL store")
    async with store._tx(write=False) as tx:
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


async def rescan(
    store: _RescanStore,
    ruleset: _RuleSet,
    *,
    since: str | None = None,
    after_page_id: int = 0,
    batch: int = BATCH,
    limit: int | None = None,
    progress: Callable[[RescanReport], None] | None = None,
) -> RescanReport:
    """Re-evaluate stored pages with `ruleset`; write hits for the ones that fire."""
    if not (hasattr(store, "rescan_pages") and hasattr(store, "record_evaluations")):
        raise StoreError(f"{type(store).__name__} cannot rescan stored pages")
    report = RescanReport(ruleset_version=ruleset.version, last_page_id=after_page_id)
    since_t = await _since_epoch(store, since) if since else None
    t0, c0 = time.perf_counter(), time.process_time()
    cursor = after_page_id
    evaluate = ruleset.evaluate
    while limit is None or report.pages < limit:
        size = batch if limit is None else min(batch, limit - report.pages)
        found = await store.rescan_pages(cursor, size, ruleset.version, since_t)
        if not found.read:
            break
        cursor = found.last_page_id
        report.pages += found.read
        report.superseded += found.superseded
        report.unchanged += found.unchanged  # same content, same rules: the same hit; not re-run
        fired: list[tuple[RescanPage, Evaluation]] = []
        for page in found.pages:
            ev = evaluate(document_of(page), kinds_of(page))
            report.evaluated += 1
            if ev.flagged:
                report.flagged += 1
                fired.append((page, ev))
            elif page.hit_id is not None:
                report.no_longer_fire += 1
        if fired:
            outcomes = await store.record_evaluations(
                [(p.page_id, p.url_id, p.url, p.content_sha256, ev) for p, ev in fired], ACTOR
            )
            for (page, _ev), out in zip(fired, outcomes, strict=True):
                if not out.new_hit:
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
