"""Shared fixtures. Tests only ever talk to loopback (127.0.0.0/8, ::1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import LoopbackSite

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    """A real HTTP server on 127.0.0.1 with a route table and a request log."""
    with LoopbackSite() as s:
        yield s


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback is refused by default; tests that crawl a LoopbackSite open it explicitly."""
    monkeypatch.setenv("TRIAGE_ALLOW_CIDRS", "127.0.0.1/32")
