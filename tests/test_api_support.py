"""Helpers for the service tests: a real SQLite store with real hits, rules, an app client.

Hits are made the way the pipeline makes them: add_batch -> claim -> record_result.
(No tests in this module; it is named test_api_* to sit with the files the service owns.)
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from crawler.api.app import ServiceState, create_app
from crawler.api.auth import AccessPolicy, Reviewers, SessionSigner
from crawler.models import (
    Document,
    Entity,
    Evaluation,
    FetchResult,
    Indicator,
    Outcome,
    Reason,
    Seed,
    Span,
    utcnow,
)

RULE = """\
id: test.driver
title: A third party arranges contact
version: 1
status: experimental
family: handler
level: medium
weight: 2.0
selections:
  driver:
    scope: [body, title]
    patterns:
      - text my driver
condition: driver
"""
BROKEN_RULE = "id: test.driver\ntitle: [unclosed\n"
TOKEN = "t0ken-for-tests-0123456789"
_counter = itertools.count(1)


def write_rules(folder: Path, text: str = RULE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "handler.yaml").write_text(text, "utf-8")
    return folder


def make_rules(folder: Path) -> Any:
    from crawler.rules import RuleHolder

    return RuleHolder(write_rules(folder))


@asynccontextmanager
async def open_test_store(path: Path | str) -> AsyncIterator[Any]:
    from storage import open_store

    async with open_store(str(path)) as store:
        yield store


async def add_hit(
    store: Any,
    *,
    title: str = "Two new girls",
    body: str = "Two new girls in town. Text my driver for appointments.",
    match: str = "text my driver",
    priority: str = "high",
    score: float = 5.0,
    family: str = "handler",
    phone: str | None = None,
    url: str | None = None,
) -> int:
    """Record one flagged page through the store's real write path; returns the hit id."""
    n = next(_counter)
    url = url or f"http://127.0.0.1:9/ad/{n}"
    await store.add_batch(f"seed-{n}.txt", hashlib.sha256(url.encode()).hexdigest(),
                          [Seed(url=url, source=f"seed-{n}.txt", line=1)], [])
    claims = await store.claim("test-worker", 1, 60)
    assert claims and claims[0].url == url
    lower, spans = body.lower(), []
    start = lower.find(match.lower())
    assert start >= 0, "match must occur in body"
    while start >= 0:  # every occurrence is evidence, as the rule engine reports it
        end = start + len(match)
        spans.append(Span("body", start, end, body[start:end], body[max(0, start - 40):end + 40]))
        start = lower.find(match.lower(), end)
    indicator = Indicator("test.driver", 1, family, "medium", 2.0,
                          "A third party arranges contact", tuple(spans))
    raw = f"<html><title>{title}</title><body>{body}</body></html>".encode()
    result = FetchResult(
        url=url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="ok", fetched_at=utcnow(),
        final_url=url, status=200, headers={"content-type": "text/html"},
        content_type="text/html", body=raw, sha256=hashlib.sha256(raw).hexdigest(),
    )
    entities: list[Entity] = []
    if phone:
        text_at = body.find(phone)
        assert text_at >= 0
        e164 = phone.replace(" ", "")
        entities.append(Entity("phone", e164, Span("body", text_at, text_at + len(phone),
                                                    phone, phone)))
    doc = Document(url=url, title=title, body=body)
    evaluation = Evaluation(score, priority, (indicator,), "rules-v1",  # type: ignore[arg-type]
                            {family: score})
    outcome = await store.record_result(claims[0], "test-worker", result, doc, evaluation,
                                        entities)
    if priority == "none":  # an unflagged page: stored, no hit
        assert outcome.hit_id is None and outcome.page_id is not None
        return 0
    assert outcome.hit_id is not None
    return int(outcome.hit_id)


def access(
    *, token: str | None = None, reviewers: Path | None = None, header: str | None = None
) -> AccessPolicy:
    return AccessPolicy(api_token=token, reviewers=Reviewers(reviewers),
                        trusted_user_header=header, signer=SessionSigner(b"test-secret"))


@asynccontextmanager
async def api_client(
    store: Any, rules: Any, policy: AccessPolicy | None = None, *, networks: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    from crawler.api.netview import NetworkView

    view = await NetworkView(store).build() if networks else None
    app = create_app(ServiceState(store=store, rules=rules, access=policy or access(),
                                  networks=view))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


class LiveServer:
    """The real app under uvicorn on 127.0.0.1:<free port>, in a thread with its own loop.

    `setup(store)` runs in that loop before serving (add hits there: the store belongs to it).
    """

    def __init__(
        self,
        db: Path,
        rules_dir: Path,
        policy: AccessPolicy | None = None,
        setup: Callable[[Any], Awaitable[Any]] | None = None,
    ) -> None:
        self.db, self.rules_dir, self.policy, self.setup = db, rules_dir, policy, setup
        self.port = 0
        self.setup_result: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("server did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(15)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        import uvicorn

        from crawler.service import _Server, bind

        async with open_test_store(self.db) as store:
            if self.setup is not None:
                self.setup_result = await self.setup(store)
            from crawler.api.netview import NetworkView

            app = create_app(ServiceState(store=store, rules=make_rules(self.rules_dir),
                                          access=self.policy or access(),
                                          networks=await NetworkView(store).build()))
            sock = bind("127.0.0.1", 0)
            self.port = sock.getsockname()[1]
            self._server = _Server(uvicorn.Config(app, log_config=None, access_log=False,
                                                  lifespan="off"))
            serving = asyncio.create_task(self._server.serve(sockets=[sock]))
            while not self._server.started and not serving.done():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            self._ready.set()
            await serving
