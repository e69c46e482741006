"""Run a fetch test module once per Fetcher transport (crawler.settings.TRANSPORTS).

    from tests.support.transports import current_transport, transport  # noqa: F401

    def settings(**kw): return FetchSettings(**{"transport": current_transport(), **kw})

`transport` is an autouse fixture parametrized over "aiohttp" (crawler/transport.py, the
default) and "httpx" (httpcore + pinning.PinnedBackend); the test id says which.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

FETCH_TRANSPORTS = ("aiohttp", "httpx")
_current = ["aiohttp"]


def current_transport() -> str:
    """The transport of the running test ("aiohttp" outside the fixture)."""
    return _current[0]


@pytest.fixture(autouse=True, params=FETCH_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> Iterator[str]:
    _current[0] = request.param
    try:
        yield request.param
    finally:
        _current[0] = "aiohttp"
