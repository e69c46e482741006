"""Review pages: login, the queue, a hit with highlighted evidence, keyboard verdicts.

Server-rendered with Jinja2 (autoescape on for every template). Page text is passed to the
templates as plain strings cut into segments (`highlight.segments`); nothing scraped is ever
marked safe, and the page's own HTML, images and remote resources are never rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from crawler.api import highlight, storeops
from crawler.api.app import csrf_ok, identify, ruleset_version, session_of, state_of
from crawler.api.auth import SESSION_COOKIE, SESSION_SECONDS, Session, valid_name
from crawler.api.routes import MAX_ID, PriorityQ, StatusQ
from crawler.errors import StoreError

router = APIRouter(include_in_schema=False)
HERE = Path(__file__).parent
STATIC = {"app.css": "text/css", "app.js": "text/javascript"}
PAGE_SIZE = 50
NEIGHBOUR_PAGE = 100  # queue rows read at a time to find a hit's previous / next
VERDICT_KEYS = {"confirmed": "c", "dismissed": "d", "escalated": "e"}

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its extension
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    session = ensure_session(request)
    user, _ = identify(request)
    html = env.get_template(name).render(user=user, csrf=session.csrf, **ctx)
    response = HTMLResponse(html, status_code=status)
    set_session(request, response, session)
    return response


def ensure_session(request: Request) -> Session:
    cached: Session | None = getattr(request.state, "session", None)
    if cached is None:
        cached = session_of(request) or state_of(request).access.signer.new(None)
        request.state.session = cached
    return cached


def set_session(request: Request, response: Response, session: Session) -> None:
    access = state_of(request).access
    response.set_cookie(
        SESSION_COOKIE, access.signer.dumps(session), max_age=SESSION_SECONDS, httponly=True,
        samesite="strict", secure=access.secure_cookies or request.url.scheme == "https",
        path="/",
    )


def need_user(request: Request) -> str:
    user, _ = identify(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, headers={"Location": "/login?" + urlencode({"next": target})})
    return user


def need_csrf(request: Request, token: str) -> None:
    if not csrf_ok(request, token):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")


def safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


# --------------------------------------------------------------------------- static, login


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        raise HTTPException(404, "not found")
    return FileResponse(HERE / "static" / name, media_type=STATIC[name],
                        headers={"cache-control": "max-age=300"})


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str = "/queue") -> HTMLResponse:
    return render(request, "login.html", next=safe_next(next), failed=False)


@router.post("/login")
async def login(
    request: Request, name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)], csrf: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/queue",
) -> Response:
    need_csrf(request, csrf)
    access = state_of(request).access
    if not valid_name(name) or not access.reviewers.check(name, password):
        return render(request, "login.html", status=401, next=safe_next(next), failed=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session(request, response, access.signer.new(name))  # fresh CSRF token on login
    return response


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=200)]) -> Response:
    need_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- queue


@router.get("/queue")
async def queue(
    request: Request, status: StatusQ = "pending", priority: PriorityQ | None = None,
    family: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")] = None,
    batch: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    need_user(request)
    store = state_of(request).store
    q = (q or "").replace("\x00", "").strip() or None
    rows = await store.list_hits(
        status=None if status == "all" else status, priority=priority, family=family or None,
        batch_id=batch, text=q, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE,
    )
    filters = {"status": status, "priority": priority or "", "family": family or "",
               "batch": batch or "", "q": q or ""}
    base = {k: v for k, v in filters.items() if v}
    return render(
        request, "queue.html", hits=[h.to_json() for h in rows[:PAGE_SIZE]], filters=filters,
        page=page, prev_url=f"/queue?{urlencode({**base, 'page': page - 1})}" if page > 1 else "",
        next_url=f"/queue?{urlencode({**base, 'page': page + 1})}"
        if len(rows) > PAGE_SIZE else "",
        ruleset=ruleset_version(state_of(request)) or "",
    )


# --------------------------------------------------------------------------- hit


async def neighbours(request: Request, hit_id: int) -> tuple[int | None, int | None]:
    """(previous, next) pending hits in queue order around `hit_id`.

    Reads the queue a page at a time (reviewers work from the top, so this stops early); a hit
    that is not pending (just reviewed) has the queue's first pending hit as its next.
    """
    store = state_of(request).store
    step, offset, previous, first = NEIGHBOUR_PAGE, 0, None, None
    while offset < storeops.SCAN_LIMIT:
        page = await store.list_hits(status="pending", limit=step + 1, offset=offset)
        ids = [h.hit_id for h in page]
        if first is None and ids:
            first = ids[0]
        if hit_id in ids[:step]:
            i = ids.index(hit_id)
            before = ids[i - 1] if i > 0 else previous
            return before, (ids[i + 1] if i + 1 < len(ids) else None)
        if len(ids) <= step:
            break
        previous, offset = ids[step - 1], offset + step
    return None, (first if first != hit_id else None)


@router.get("/hits/{hit_id}")
async def hit_page(request: Request, hit_id: int) -> HTMLResponse:
    need_user(request)
    if not 1 <= hit_id <= MAX_ID:
        raise HTTPException(404, f"no hit {hit_id}")
    store = state_of(request).store
    hit = await store.get_hit(hit_id)
    if hit is None:
        return render(request, "error.html", status=404, message=f"No hit {hit_id}.")
    data = hit.to_json()
    texts = await storeops.page_text(store, hit)
    sections = []
    for scope in ("title", "meta", "body", "contact", "url"):
        text = texts.get(scope) or ""
        spans = highlight.spans_for(hit.indicators, scope)
        if text or spans:
            sections.append({"scope": scope, "segments": highlight.segments(text, spans),
                             "marks": len(spans)})
    prev_id, next_id = await neighbours(request, hit_id)
    try:
        history = await storeops.audit(store, hit_id=hit_id, limit=50)
    except StoreError:  # a store without an audit log: the page still works
        history = []
    return render(
        request, "hit.html", hit=data, sections=sections,
        linked=await storeops.linked_pages(store, hit, networks=state_of(request).networks),
        network=state_of(request).networks.network_of(hit)
        if state_of(request).networks is not None else None,
        history=history,
        prev_id=prev_id, next_id=next_id, verdict_keys=VERDICT_KEYS, notes=rule_notes(request),
        fetch=fetch_facts(data),
    )


def rule_notes(request: Request) -> dict[str, dict[str, Any]]:
    """rule id -> its description, condition and known false positives (from the rules in force)."""
    current = getattr(state_of(request).rules, "current", None)
    describe = getattr(current, "describe", None)
    rows = describe() if callable(describe) else []
    out: dict[str, dict[str, Any]] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("id"):
            out[str(row["id"])] = {
                "description": str(row.get("description") or "").strip(),
                "condition": str(row.get("condition") or ""),
                "falsepositives": [str(x) for x in row.get("falsepositives") or []],
            }
    return out


def fetch_facts(hit: dict[str, Any]) -> list[tuple[str, str]]:
    """Capture and provenance facts for the hit page, in reading order."""
    keys = ("url", "final_url", "http_status", "fetched_at", "content_sha256", "ruleset_version",
            "batch_id", "label", "page_id", "previous_hit_id", "created_at", "reviewer",
            "reviewed_at", "purged_at")
    facts = [(k, str(hit[k])) for k in keys if hit.get(k) not in (None, "")]
    warc = hit.get("warc")
    if isinstance(warc, dict):
        facts += [(k, str(v)) for k, v in warc.items() if v not in (None, "")]
    return facts


@router.post("/hits/{hit_id}/review")
async def review_form(
    request: Request, hit_id: int, verdict: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str, Form(max_length=200)],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    user = need_user(request)
    need_csrf(request, csrf)
    if verdict not in storeops.VERDICTS:
        raise HTTPException(422, "verdict must be confirmed, dismissed or escalated")
    state = state_of(request)
    hit = await state.store.get_hit(hit_id) if 1 <= hit_id <= MAX_ID else None
    if hit is None:
        raise HTTPException(404, f"no hit {hit_id}")
    await storeops.review(state.store, hit_id, verdict, user,
                          note.replace("\x00", "").strip() or None)
    if state.networks is not None:
        state.networks.note_review(hit, verdict)
    _, next_id = await neighbours(request, hit_id)
    return RedirectResponse(f"/hits/{next_id}" if next_id else "/queue", status_code=303)


@router.get("/networks/{network_id}")
async def network_page(request: Request, network_id: int) -> HTMLResponse:
    need_user(request)
    view = state_of(request).networks
    found = view.index.network(network_id) if view is not None and view.index else None
    if found is None or not 0 <= network_id <= MAX_ID:
        return render(request, "error.html", status=404, message=f"No network {network_id}.")
    store = state_of(request).store
    hits: dict[str, int] = {}
    for member in found.pages[:200]:
        hit = await storeops.hit_for_url(store, member.url, member.page_id)
        if hit is not None:
            hits[member.url] = hit.hit_id
    return render(request, "network.html", net=found.to_json(), hits=hits)


@router.post("/hits/{hit_id}/assign")
async def assign_form(
    request: Request, hit_id: int, csrf: Annotated[str, Form(max_length=200)],
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    user = need_user(request)
    need_csrf(request, csrf)
    if assignee and not valid_name(assignee):
        raise HTTPException(422, "assignee: letters, digits, '.', '_', '-', '@'")
    store = state_of(request).store
    if not 1 <= hit_id <= MAX_ID or await store.get_hit(hit_id) is None:
        raise HTTPException(404, f"no hit {hit_id}")
    await storeops.assign(store, hit_id, assignee or None, user)
    return RedirectResponse(f"/hits/{hit_id}", status_code=303)
