"""Property-based run over every route in /openapi.json: no input gets a 500.

(schemathesis would do this from the schema; it pulls in a large dependency tree, so this is the
equivalent with hypothesis, which the dev extras already have.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_api_support import LiveServer, add_hit


async def _setup(store: Any) -> None:
    await add_hit(store, phone=None)
    await add_hit(store, body="+4915112345678 text my driver", phone="+4915112345678")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, list[Any]]]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    with LiveServer(root / "f.db", root / "rules", setup=_setup) as server:
        spec = httpx.get(server.url + "/openapi.json").json()
        ops = []
        for path, methods in spec["paths"].items():
            for method, op in methods.items():
                params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
                ops.append((method.upper(), path, params, "requestBody" in op))
        # the review pages are not in the schema; they get the same treatment
        ops += [("GET", "/queue", ["status", "priority", "family", "batch", "q", "page"], False),
                ("GET", "/hits/{hit_id}", [], False), ("GET", "/networks/{network_id}", [], False),
                ("GET", "/login", ["next"], False), ("GET", "/static/{name}", [], False)]
        yield server, ops


SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=40),
    st.sampled_from(["1", "2", "0", "-1", "pending", "all", "high", "csv", "jsonl", "confirmed",
                     "", "\x00", "%00", "1e309", "NaN", "../etc/passwd", "<script>"]),
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(),
              st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(
                                ["verdict", "note", "assignee", "urls", "text", "source", "x"]),
                                inner, max_size=4)),
    max_leaves=8,
)


@pytest.mark.slow
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_route_answers_500(live: tuple[LiveServer, list[Any]], data: st.DataObject) -> None:
    server, ops = live
    method, template, names, has_body = data.draw(st.sampled_from(ops))
    path = re.sub(r"\{[^}]+\}", lambda _: quote(str(data.draw(SCALARS)), safe=""), template)
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    params = {name: str(data.draw(SCALARS)) for name in chosen}
    kwargs: dict[str, Any] = {"params": params}
    if has_body or method == "POST":
        kwargs["json"] = data.draw(JSON)
    r = httpx.request(method, server.url + path, timeout=10, **kwargs)
    assert r.status_code < 500, (method, path, params, kwargs.get("json"), r.text)
    if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
        assert "error" in r.json()
