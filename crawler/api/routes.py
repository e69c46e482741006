"""JSON API under /api: batches, URLs, hits, review actions, audit, export, rules."""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator

from crawler import intake
from crawler.api import metrics, storeops
from crawler.api.app import require_user, ruleset_version, state_of
from crawler.errors import SeedError
from storage.base import HitRecord

router = APIRouter(prefix="/api", tags=["api"])

User = Annotated[str, Depends(require_user)]
MAX_ID = 2**53
HitId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
StatusQ = Literal["pending", "confirmed", "dismissed", "escalated", "all"]
PriorityQ = Literal["high", "medium", "low", "none"]
UrlState = Literal["queued", "fetching", "done", "refused", "failed"]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        raise HTTPException(422, "NUL characters are not allowed")
    return value.strip() or None


Text = Annotated[str | None, Query(max_length=200)]
Family = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class ReviewIn(BaseModel):
    verdict: Literal["confirmed", "dismissed", "escalated"]
    note: str | None = Field(default=None, max_length=4000)

    @field_validator("note")
    @classmethod
    def no_nul(cls, v: str | None) -> str | None:
        return _clean(v)


class AssignIn(BaseModel):
    assignee: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000)

    @field_validator("note")
    @classmethod
    def no_nul(cls, v: str) -> str:
        cleaned = _clean(v)
        if not cleaned:
            raise ValueError("note is empty")
        return cleaned


class BatchIn(BaseModel):
    source: str = Field(default="api", min_length=1, max_length=200, pattern=r"^[^\x00/\\]+$")
    urls: list[Annotated[str, Field(max_length=8192)]] | None = Field(
        default=None, max_length=100_000
    )
    text: str | None = Field(default=None, max_length=20 * 1024 * 1024)


BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": BatchIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


# --------------------------------------------------------------------------- batches


@router.post("/batches", status_code=201, openapi_extra=BATCH_BODY)
async def submit_batch(request: Request, user: User) -> JSONResponse:
    """Queue a seed list: JSON {"urls": [...]} or {"text": "..."}, or a multipart `file`."""
    state = state_of(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = int(request.headers.get("content-length") or 0)
    if length > state.max_upload_bytes:
        raise HTTPException(413, f"seed list over {state.max_upload_bytes} bytes")
    if ctype == "application/json":
        try:
            body = BatchIn.model_validate_json(await request.body())
        except ValueError as exc:
            raise HTTPException(422, f"invalid batch: {exc}") from exc
        if (body.urls is None) == (body.text is None):
            raise HTTPException(422, "send exactly one of 'urls' or 'text'")
        text = "\n".join(body.urls) if body.urls is not None else (body.text or "")
        source = body.source
        raw = None
    elif ctype == "multipart/form-data":
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise HTTPException(422, "multipart body needs a 'file' part")
            data = await upload.read(state.max_upload_bytes + 1)
            filename = upload.filename or "upload.txt"
        if len(data) > state.max_upload_bytes:
            raise HTTPException(413, f"seed list over {state.max_upload_bytes} bytes")
        source = intake.safe_source(filename)
        try:
            text = intake.decode_seed_bytes(data, source)
        except SeedError as exc:
            raise HTTPException(422, str(exc)) from exc
        raw = data
    else:
        raise HTTPException(415, "send application/json or multipart/form-data")
    if "\x00" in text:
        raise HTTPException(422, "seed list contains NUL characters")
    receipt = await intake.submit_text(state.store, text, source, raw)
    metrics.BATCHES.labels("api").inc()
    status = 200 if receipt.get("already_submitted") else 201
    return JSONResponse(receipt, status_code=status)


@router.get("/batches")
async def batches(request: Request, user: User, limit: Limit = 100,
                  offset: Offset = 0) -> list[dict[str, Any]]:
    """Batches, newest first."""
    return await storeops.list_batches(state_of(request).store, limit=limit, offset=offset)


@router.get("/batches/{batch_id}")
async def batch(request: Request, user: User,
                batch_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    """One batch with its progress (URL counts by state)."""
    found = await storeops.get_batch(state_of(request).store, batch_id)
    if found is None:
        raise HTTPException(404, f"no batch {batch_id}")
    return found


# --------------------------------------------------------------------------- urls and hits


@router.get("/urls")
async def urls(
    request: Request, user: User, state: UrlState | None = None,
    batch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 100, offset: Offset = 0,
) -> list[dict[str, Any]]:
    """URLs and their outcomes (reason code and readable detail)."""
    rows = await state_of(request).store.list_urls(
        state=state, batch_id=batch, limit=limit, offset=offset
    )
    return [r.to_json() for r in rows]


@router.get("/hits")
async def hits(
    request: Request, user: User, status: StatusQ = "pending", priority: PriorityQ | None = None,
    family: Family = None, batch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Text = None, limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """The review queue: highest priority and score first."""
    rows = await state_of(request).store.list_hits(
        status=None if status == "all" else status, priority=priority, family=_clean(family),
        batch_id=batch, text=_clean(q), limit=limit + 1, offset=offset,
    )
    more = len(rows) > limit
    return {
        "items": [summary(h.to_json()) for h in rows[:limit]],
        "offset": offset, "limit": limit,
        "next_offset": offset + limit if more else None,
    }


def summary(hit: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "url", "title", "score", "priority", "status", "assignee", "families",
            "batch_id", "fetched_at", "ruleset_version", "content_sha256")
    return {k: hit.get(k) for k in keep}


@router.get("/hits/{hit_id}")
async def hit_detail(request: Request, user: User, hit_id: HitId) -> dict[str, Any]:
    """A hit with its indicators (and evidence spans), entities, page text and linked pages."""
    store = state_of(request).store
    hit = await store.get_hit(hit_id)
    if hit is None:
        raise HTTPException(404, f"no hit {hit_id}")
    out = hit.to_json()
    networks = state_of(request).networks
    out["text"] = await storeops.page_text(store, hit)
    out["linked"] = await storeops.linked_pages(store, hit, networks=networks)
    out["network"] = networks.network_of(hit) if networks is not None else None
    return out


async def _existing(request: Request, hit_id: int) -> HitRecord:
    hit = await state_of(request).store.get_hit(hit_id)
    if hit is None:
        raise HTTPException(404, f"no hit {hit_id}")
    return hit


@router.post("/hits/{hit_id}/review")
async def review(request: Request, user: User, hit_id: HitId, body: ReviewIn) -> dict[str, Any]:
    """Record a verdict (confirmed, dismissed, escalated); written to the audit log."""
    hit = await _existing(request, hit_id)
    state = state_of(request)
    done = await storeops.review(state.store, hit_id, body.verdict, user, body.note)
    if state.networks is not None:
        state.networks.note_review(hit, body.verdict)
    return done


@router.post("/hits/{hit_id}/assign")
async def assign(request: Request, user: User, hit_id: HitId, body: AssignIn) -> dict[str, Any]:
    """Assign the hit to a reviewer (null to unassign); written to the audit log."""
    await _existing(request, hit_id)
    return await storeops.assign(state_of(request).store, hit_id, body.assignee, user)


@router.post("/hits/{hit_id}/note")
async def note(request: Request, user: User, hit_id: HitId, body: NoteIn) -> dict[str, Any]:
    """Add a note without changing the verdict; written to the audit log."""
    await _existing(request, hit_id)
    return await storeops.add_note(state_of(request).store, hit_id, body.note, user)


@router.get("/audit")
async def audit(
    request: Request, user: User, hit: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 100, offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The append-only audit log (who, when, from, to, note), oldest first."""
    return await storeops.audit(state_of(request).store, hit_id=hit, limit=limit, offset=offset)


# --------------------------------------------------------------------------- networks


def _view(request: Request) -> Any:
    view = state_of(request).networks
    if view is None or view.index is None:
        raise HTTPException(503, "the network view is not built in this process")
    return view


@router.get("/networks")
async def networks(
    request: Request, user: User, min_size: Annotated[int, Query(ge=2, le=1_000_000)] = 2,
    limit: Limit = 100, offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Networks (pages joined by shared entities or an ad template), biggest first."""
    found = _view(request).index.networks(min_size=min_size)
    return [n.to_json(members=False) for n in found[offset : offset + limit]]


@router.get("/networks/{network_id}")
async def network(
    request: Request, user: User, network_id: Annotated[int, Path(ge=0, le=MAX_ID)]
) -> dict[str, Any]:
    """One network with its member pages (a timeline), joining entities and templates."""
    found = _view(request).index.network(network_id)
    if found is None:
        raise HTTPException(404, f"no network {network_id}")
    out: dict[str, Any] = found.to_json()
    return out


@router.get("/entities")
async def entities(
    request: Request, user: User, value: Annotated[str, Query(min_length=1, max_length=200)]
) -> list[dict[str, Any]]:
    """Every stored page that mentions an entity (phone, email, handle or wallet)."""
    return [
        {"entity": {"kind": e.kind, "subtype": e.subtype, "value": e.value}, "pages": urls}
        for e, urls in _view(request).index.find_entities(_clean(value) or "")
    ]


# --------------------------------------------------------------------------- export

CSV_FIELDS = ("id", "url", "final_url", "title", "priority", "score", "status", "assignee",
              "families", "content_sha256", "fetched_at", "ruleset_version", "batch_id")


def _cell(value: Any) -> str:
    text = ";".join(value) if isinstance(value, list) else "" if value is None else str(value)
    # Spreadsheet formula injection: page titles are attacker-written.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/export")
async def export(
    request: Request, user: User, format: Literal["jsonl", "csv"] = "jsonl",
    status: StatusQ = "all", priority: PriorityQ | None = None,
    batch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> StreamingResponse:
    """The queue as JSON lines (full hits) or CSV (one row per hit), streamed."""
    store = state_of(request).store

    async def rows() -> AsyncIterator[str]:
        if format == "csv":
            buf = io.StringIO()
            csv.writer(buf).writerow(CSV_FIELDS)
            yield buf.getvalue()
        offset = 0
        while True:
            page = await store.list_hits(status=None if status == "all" else status,
                                         priority=priority, batch_id=batch, limit=500,
                                         offset=offset)
            for h in page:
                data = h.to_json()
                if format == "jsonl":
                    yield json.dumps(data, ensure_ascii=False, default=str) + "\n"
                else:
                    buf = io.StringIO()
                    csv.writer(buf).writerow([_cell(data.get(f)) for f in CSV_FIELDS])
                    yield buf.getvalue()
            if len(page) < 500:
                break
            offset += 500

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        rows(), media_type=media,
        headers={"content-disposition": f'attachment; filename="triage-hits.{format}"'},
    )


# --------------------------------------------------------------------------- rules


@router.get("/rules")
async def rules(request: Request, user: User) -> dict[str, Any]:
    """The rule set in force: its version and a description of its rules."""
    state = state_of(request)
    current = getattr(state.rules, "current", None)
    if current is None:
        raise HTTPException(503, "no rule set loaded")
    describe = getattr(current, "describe", None)
    return {
        "version": ruleset_version(state),
        "rules": storeops.jsonable(describe()) if callable(describe) else None,
    }


@router.post("/rules/reload", responses={422: {"description": "broken rules; old set kept"}})
async def reload_rules(request: Request, user: User) -> JSONResponse:
    """Reload rule files; on any problem the set in force is kept and the problems are listed."""
    state = state_of(request)
    problems = await reload(state.rules)
    version = ruleset_version(state)
    if problems:
        metrics.RULE_RELOADS.labels("rejected").inc()
        return JSONResponse(
            {"error": "rules not reloaded; the previous set stays in force", "version": version,
             "problems": [str(p) for p in problems]},
            status_code=422,
        )
    metrics.RULE_RELOADS.labels("ok").inc()
    if version:
        metrics.set_ruleset(version)
    return JSONResponse({"reloaded": True, "version": version, "by": user})


async def reload(holder: Any) -> list[Any]:
    """Call `RuleHolder.reload()` (sync or async) off the event loop; returns its problems."""
    if holder is None:
        return ["no rule holder configured"]
    fn = holder.reload
    if inspect.iscoroutinefunction(fn):
        result = await fn()
    else:
        result = await asyncio.to_thread(fn)
    return list(result or [])
