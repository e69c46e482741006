"""The store operations the service needs beyond `storage.base.Store`'s reading methods.

A thin adapter: each function calls the store's method when it has one and otherwise falls back
on the protocol's generic reads, so the API keeps working while the store grows. Everything
returns plain JSON-able dicts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from crawler.errors import StoreError
from storage.base import HitRecord, Store

VERDICTS = ("confirmed", "dismissed", "escalated")
SCAN_LIMIT = 5000  # fallback scans never read more than this many rows


def _method(store: Store, *names: str) -> Callable[..., Any] | None:
    for name in names:
        fn = getattr(store, name, None)
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return jsonable(to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


# --------------------------------------------------------------------------- batches


async def find_batch_by_sha256(store: Store, sha256: str) -> dict[str, Any] | None:
    fn = _method(store, "find_batch_by_sha256", "batch_by_sha256", "get_batch_by_sha256")
    if fn is not None:
        found = await fn(sha256)
        return dict(jsonable(found)) if found is not None else None
    for batch in await list_batches(store, limit=SCAN_LIMIT):
        if batch.get("sha256") == sha256:
            return batch
    return None


async def list_batches(store: Store, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Batches, newest first (the store returns them all; the page is cut here)."""
    fn = _method(store, "list_batches", "batches")
    if fn is None:
        raise StoreError("this store cannot list batches (no list_batches method)")
    rows = sorted(await fn(), key=lambda b: -int(getattr(b, "batch_id", 0) or 0))
    return [jsonable(r) for r in rows[offset : offset + limit]]


async def get_batch(store: Store, batch_id: int) -> dict[str, Any] | None:
    fn = _method(store, "get_batch")
    batch: dict[str, Any] | None
    if fn is not None:
        found = await fn(batch_id)
        batch = dict(jsonable(found)) if found is not None else None
    else:
        batch = next(
            (b for b in await list_batches(store, limit=SCAN_LIMIT) if b.get("batch_id") == batch_id
             or b.get("id") == batch_id),
            None,
        )
    if batch is None:
        return None
    batch["progress"] = await batch_progress(store, batch_id)
    return batch


async def batch_progress(store: Store, batch_id: int) -> dict[str, int]:
    fn = _method(store, "batch_progress", "batch_counts")
    if fn is not None:
        return dict(await fn(batch_id))
    record = await store.get_batch(batch_id) if hasattr(store, "get_batch") else None
    if record is not None and getattr(record, "states", None) is not None:
        states = dict(record.states)
        return {s: states.get(s, 0) for s in ("queued", "fetching", "done", "refused", "failed")}
    states = Counter(u.state for u in await store.list_urls(batch_id=batch_id, limit=SCAN_LIMIT))
    return {s: states.get(s, 0) for s in ("queued", "fetching", "done", "refused", "failed")}


# --------------------------------------------------------------------------- review


async def review(
    store: Store, hit_id: int, verdict: str, reviewer: str, note: str | None
) -> dict[str, Any]:
    fn = _method(store, "review", "review_hit", "set_verdict")
    if fn is None:
        raise StoreError("this store cannot record reviews (no review method)")
    result = await fn(hit_id, verdict, reviewer, note or "")
    return {"hit_id": hit_id, "status": verdict, "reviewer": reviewer, "hit": jsonable(result)}


async def assign(store: Store, hit_id: int, assignee: str | None, reviewer: str) -> dict[str, Any]:
    fn = _method(store, "assign", "assign_hit")
    if fn is None:
        raise StoreError("this store cannot assign hits (no assign method)")
    result = await fn(hit_id, assignee, reviewer)
    return {"hit_id": hit_id, "assignee": assignee, "hit": jsonable(result)}


async def add_note(store: Store, hit_id: int, note: str, reviewer: str) -> dict[str, Any]:
    fn = _method(store, "add_note", "note_hit", "annotate")
    if fn is not None:
        result = await fn(hit_id, note, reviewer)
        return {"hit_id": hit_id, "note": note, "hit": jsonable(result)}
    # No separate note call: a review that keeps the current status records the note.
    hit = await store.get_hit(hit_id)
    if hit is None:
        raise StoreError(f"no hit {hit_id}")
    done = await review(store, hit_id, hit.status, reviewer, note)
    return {"hit_id": hit_id, "note": note, "hit": done["hit"]}


async def audit(
    store: Store, hit_id: int | None = None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    fn = _method(store, "list_audit", "audit_log", "audit")
    if fn is None:
        raise StoreError("this store has no audit log (no list_audit method)")
    rows = await fn(hit_id=hit_id, limit=limit, offset=offset)
    return [jsonable(r) for r in rows]



# --------------------------------------------------------------------------- pages and links


async def page_text(store: Store, hit: HitRecord) -> dict[str, str]:
    """The extracted text of the hit's page, by scope (empty strings when not stored)."""
    scopes = {"title": hit.title, "body": "", "contact": "", "meta": "", "url": hit.url}
    if hit.page_id is None:
        return scopes
    pages = await store.iter_page_features(after_page_id=hit.page_id - 1, limit=1)
    if pages and pages[0].page_id == hit.page_id:
        page = pages[0]
        scopes.update(title=page.title, body=page.body, contact=page.contact, meta=page.meta)
    return scopes


async def linked_pages(
    store: Store, hit: HitRecord, limit: int = 50, networks: Any = None
) -> list[dict[str, Any]]:
    """Other pages that share one of this hit's entities, with the shared values.

    With a network view (`crawler.api.netview.NetworkView`) every stored page counts, flagged
    or not; without one, the other hits are scanned.
    """
    values = {str(e["value"]) for e in hit.entities if e.get("value")}
    if not values:
        return []
    if networks is not None and networks.index is not None:
        sharing = networks.pages_sharing(hit)
        rows = []
        for url, shared in sorted(sharing.items())[:limit]:
            found = await hit_for_url(store, url, networks.page_id(url))
            rows.append({
                "hit_id": found.hit_id if found else None, "url": url,
                "title": found.title if found else "", "priority": found.priority if found
                else None, "status": found.status if found else None, "shared": shared,
            })
        rows.sort(key=lambda r: r["hit_id"] is None)
        return rows
    fn = _method(store, "hits_sharing_entities", "pages_sharing_entities")
    if fn is not None:
        return [jsonable(r) for r in await fn(hit.hit_id, limit=limit)]
    out: list[dict[str, Any]] = []
    for other in await store.list_hits(status=None, limit=SCAN_LIMIT):
        if other.hit_id == hit.hit_id:
            continue
        shared = sorted(values & {str(e["value"]) for e in other.entities if e.get("value")})
        if shared:
            out.append({
                "hit_id": other.hit_id, "url": other.url, "title": other.title,
                "priority": other.priority, "status": other.status, "shared": shared,
            })
            if len(out) >= limit:
                break
    return out


async def hit_for_url(store: Store, url: str, page_id: int | None) -> HitRecord | None:
    """The hit on a page, if it has one: by page id (primary key) or else by URL."""
    if page_id is not None:
        pages = await store.iter_page_features(after_page_id=page_id - 1, limit=1)
        if pages and pages[0].page_id == page_id and pages[0].hit_id is not None:
            return await store.get_hit(pages[0].hit_id)
    for other in await store.list_hits(status=None, text=url, limit=20):
        if url in (other.url, other.final_url):
            return other
    return None


async def host_depths(store: Store, top: int = 50) -> dict[str, int]:
    fn = _method(store, "host_queue_depths", "queued_by_host")
    if fn is not None:
        return dict(await fn(limit=top))
    from urllib.parse import urlsplit

    hosts = Counter(
        (urlsplit(u.url).hostname or "?") for u in await store.list_urls(state="queued",
                                                                        limit=SCAN_LIMIT)
    )
    return dict(hosts.most_common(top))


async def hit_counts(store: Store) -> dict[tuple[str, str], int]:
    fn = _method(store, "hit_counts")
    if fn is not None:
        return {tuple(k.split("/", 1)) if isinstance(k, str) else k: v  # type: ignore[misc]
                for k, v in (await fn()).items()}
    hits = await store.list_hits(status=None, limit=SCAN_LIMIT)
    return dict(Counter((h.priority, h.status) for h in hits))
