"""schemathesis against the live /openapi.json: inputs generated from the schema get no 500.

(tests/test_api_fuzz.py does the same with plain hypothesis, including the review pages.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.test_api_support import LiveServer, add_hit

schemathesis = pytest.importorskip("schemathesis")


async def _setup(store: Any) -> None:
    await add_hit(store, body="+4915112345678 text my driver", phone="+4915112345678")
    await add_hit(store)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    with LiveServer(root / "s.db", root / "rules", setup=_setup) as server:
        yield server


def _openapi() -> dict[str, Any]:
    """The same document the server publishes at /openapi.json (no store needed to make it)."""
    from crawler.api.app import ServiceState, create_app
    from tests.test_api_support import access

    app = create_app(ServiceState(store=None, rules=None, access=access()))  # type: ignore[arg-type]
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_schema_generated_requests_get_no_server_error(live: LiveServer, case: Any) -> None:
    response = case.call(base_url=live.url, timeout=10)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
