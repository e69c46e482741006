"""Pipeline per-page glue: the log context and the url_done line (fast paths vs structlog's own)."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.contextvars import (
    bind_contextvars,
    bound_contextvars,
    clear_contextvars,
    get_contextvars,
    unbind_contextvars,
)

from crawler import logs
from crawler.fetch import Fetcher
from crawler.models import Seed
from crawler.pipeline import Pipeline, _LogContext
from crawler.rules import RuleHolder
from crawler.settings import FetchSettings
from storage import open_store
from tests.support.server import LoopbackSite

RULES = Path(__file__).resolve().parent / "pipeline_rules"
Factory = Callable[..., AbstractContextManager[Any]]


def _walk(make: Factory, rng: random.Random, depth: int, seen: list[dict[str, Any]]) -> None:
    """Random nesting of bindings, unbindings and exceptions; the context noted at each step."""
    keys = ["url", "host", "batch", "other"]
    kw = {k: rng.choice([None, 1, "x", f"v{rng.randrange(5)}"])
          for k in rng.sample(keys, rng.randrange(1, 4))}
    try:
        with make(**kw):
            seen.append(get_contextvars())
            if rng.random() < 0.3:
                bind_contextvars(**{rng.choice(keys): "inner"})
            if rng.random() < 0.2:
                unbind_contextvars(rng.choice(keys))
            seen.append(get_contextvars())
            if depth < 3:
                for _ in range(rng.randrange(3)):
                    _walk(make, rng, depth + 1, seen)
            if rng.random() < 0.2:
                raise KeyError("inside")
    except KeyError:
        pass
    seen.append(get_contextvars())


@pytest.mark.parametrize("seed", range(60))
def test_log_context_binds_and_restores_like_bound_contextvars(seed: int) -> None:
    def run(make: Factory) -> list[dict[str, Any]]:
        clear_contextvars()
        rng = random.Random(seed)
        if rng.random() < 0.5:
            bind_contextvars(url="before", batch=7)
        seen: list[dict[str, Any]] = []
        for _ in range(3):
            _walk(make, rng, 0, seen)
        return seen

    try:
        expected = run(bound_contextvars)
        assert run(_LogContext) == expected
    finally:
        clear_contextvars()


@contextmanager
def _json_logs() -> Iterator[io.StringIO]:
    saved = structlog.get_config()
    out = io.StringIO()
    logs.configure("json", stream=out)
    try:
        yield out
    finally:
        structlog.configure(**saved)


async def test_url_done_carries_the_url_context_and_its_fields(
    site: LoopbackSite, tmp_path: Path
) -> None:
    url = site.route("/ad", "<p>text my driver</p>")
    settings = FetchSettings.from_env({"TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}, per_host_rps=0.0)
    with _json_logs() as out:
        async with open_store(tmp_path / "t.db") as store, Fetcher(settings) as fetcher:
            await store.add_batch("s.txt", "0" * 64, [Seed(url, "s.txt", 1)], [])
            [claim] = await store.claim("w:1:0", 1, 60)
            pipeline = Pipeline(store, fetcher, RuleHolder(RULES), worker_id="w:1:0")
            processed = await pipeline.process(claim)
        assert get_contextvars() == {}  # nothing left bound after the page
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    [done] = [e for e in events if e["event"] == "url_done"]
    assert set(done) == {"url", "host", "batch", "outcome", "reason", "status", "priority",
                         "score", "level", "timestamp", "event"}
    assert (done["url"], done["host"], done["batch"]) == (url, claim.host, claim.batch_id)
    assert (done["outcome"], done["reason"], done["status"]) == ("fetched", "ok", 200)
    evaluation = processed.evaluation
    assert evaluation is not None
    assert (done["priority"], done["score"]) == (evaluation.priority, evaluation.score)
    assert done["level"] == "info"
