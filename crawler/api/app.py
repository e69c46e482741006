"""The FastAPI application: security headers, error bodies, identity, and the two routers.

    create_app(state) -> FastAPI
      /healthz /readyz /metrics      operations (no auth)
      /api/...                       JSON API (bearer token, proxy header or session + CSRF)
      /login /queue /hits/{id} ...   review pages (server-rendered, autoescaped, strict CSP)
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crawler.api import metrics
from crawler.api.auth import SESSION_COOKIE, AccessPolicy, Session
from crawler.errors import StoreError, TriageError, UsageError
from storage.base import Store

log = structlog.get_logger("triage.api")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}


@dataclass
class ServiceState:
    """What the routes need: the store, the rules, access policy and the intake."""

    store: Store
    rules: Any  # crawler.rules.RuleHolder (.current.version, .current.describe(), .reload())
    access: AccessPolicy
    max_upload_bytes: int = 20 * 1024 * 1024
    started: float = field(default_factory=time.time)
    workers: int = 0
    networks: Any = None  # crawler.api.netview.NetworkView, when the service built one
    gauges_every: float = 30.0  # store-derived metrics are recomputed at most this often
    gauges_at: float = -1e9


def state_of(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.triage
    return state


def session_of(request: Request) -> Session | None:
    return state_of(request).access.signer.loads(request.cookies.get(SESSION_COOKIE))


def identify(request: Request) -> tuple[str | None, str]:
    """(identity, how) — how is "proxy", "token", "session", "open" or "none"."""
    access = state_of(request).access
    if access.trusted_user_header:
        value = request.headers.get(access.trusted_user_header, "").strip()
        if value and len(value) <= 128 and value.isprintable():
            return value, "proxy"
    if access.token_ok(request.headers.get("authorization")):
        return "api", "token"
    session = session_of(request)
    if session is not None and session.user:
        return session.user, "session"
    if access.open:
        return "local", "open"
    return None, "none"


def csrf_ok(request: Request, token: str | None) -> bool:
    session = session_of(request)
    return bool(session and token and _eq(session.csrf, token))


def _eq(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(state: ServiceState) -> FastAPI:
    from crawler.api import pages, routes

    app = FastAPI(
        title="triage",
        summary="Review queue for pages flagged by indicator rules. It never decides: people do.",
        version="0.1.0",
        docs_url=None,  # Swagger UI loads remote scripts; the CSP forbids it. Use /openapi.json.
        redoc_url=None,
    )
    app.state.triage = state

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if state.access.open and not loopback_host(request.headers.get("host", "")):
            # Without authentication only loopback names are answered: a web page whose own
            # name was re-pointed at 127.0.0.1 (DNS rebinding) must not reach the queue.
            response: Response = error(421, "open (unauthenticated) service: use 127.0.0.1")
        else:
            response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return error(422, "invalid request", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (302, 303) and exc.headers:
            return Response(status_code=exc.status_code, headers=exc.headers)
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(UsageError)
    async def usage(request: Request, exc: UsageError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("store_error", path=request.url.path, error=str(exc))
        return error(503, f"store: {exc}")

    @app.exception_handler(TriageError)
    async def triage_error(request: Request, exc: TriageError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("request_crashed", path=request.url.path, error=repr(exc))
        return error(500, "internal error (logged)")

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, Any]:
        """The process is alive."""
        return {"status": "ok", "uptime_s": round(time.time() - state.started, 1)}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "not ready"}})
    async def readyz() -> JSONResponse:
        """The store answers and a rule set is loaded."""
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(state.store.counts(), timeout=3)
            checks["store"] = "ok"
        except (TimeoutError, TriageError, OSError) as exc:
            checks["store"] = f"unreachable: {exc!r}"
        version = ruleset_version(state)
        checks["rules"] = "ok" if version else "not loaded"
        ready = checks["store"] == "ok" and bool(version)
        return JSONResponse(
            {"ready": ready, "checks": checks, "ruleset_version": version},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics (text exposition format)."""
        await refresh_gauges(state)
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    app.include_router(routes.router)
    app.include_router(pages.router)
    return app


def loopback_host(host: str) -> bool:
    """Is a Host header (name[:port], [v6]:port) a loopback name or address?"""
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        name = host.partition(":")[0]
    else:
        name = host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def ruleset_version(state: ServiceState) -> str | None:
    current = getattr(state.rules, "current", None) if state.rules is not None else None
    version = getattr(current, "version", None)
    return str(version) if version else None


async def refresh_gauges(state: ServiceState) -> None:
    from crawler.api import storeops

    try:
        async with asyncio.timeout(5):
            metrics.set_queue(await state.store.counts())
            if time.monotonic() - state.gauges_at >= state.gauges_every:
                state.gauges_at = time.monotonic()  # the costlier per-host / per-hit scans
                metrics.set_host_depths(await storeops.host_depths(state.store))
                metrics.set_hits(await storeops.hit_counts(state.store))
    except (TimeoutError, TriageError) as exc:
        log.warning("metrics_refresh_failed", error=repr(exc))
    version = ruleset_version(state)
    if version:
        metrics.set_ruleset(version)


def require_user(request: Request) -> str:
    """For /api routes: the caller's identity, and CSRF for unsafe cookie/proxy requests."""
    user, how = identify(request)
    if user is None:
        raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in ("GET", "HEAD", "OPTIONS") and how != "token":
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        # A cross-site form cannot send JSON without a CORS preflight (which we never allow).
        token = request.headers.get("x-csrf-token")
        if ctype != "application/json" and not csrf_ok(request, token):
            raise HTTPException(403, "CSRF token missing or wrong (send X-CSRF-Token or JSON)")
    request.state.user = user
    return user
