"""The network view the API and pages read: a `crawler.networks.NetworkIndex` kept current.

The service builds the index from the store at start. In-process workers feed it through its
pipeline hook as they fetch; an API-only process (`--no-crawl`) rebuilds it every
`refresh_seconds` when the store's counts changed. Reviews update a page's confirmed state.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from crawler.networks import NetworkIndex
    from storage.base import HitRecord, Store

log = structlog.get_logger("triage.networks")


class NetworkView:
    def __init__(self, store: Store, index: NetworkIndex | None = None) -> None:
        self.store = store
        self.index = index
        self.built_at = 0.0
        self._counts: dict[str, int] | None = None

    async def build(self) -> NetworkView:
        from crawler.networks import NetworkIndex

        started = time.monotonic()
        self.index = await NetworkIndex.from_store(self.store)
        self._counts = await self.store.counts()
        self.built_at = time.time()
        log.info("networks_built", seconds=round(time.monotonic() - started, 3),
                 networks=len(self.index.networks()))
        return self

    async def refresh_forever(self, stop: asyncio.Event, every: float) -> None:
        """Rebuild when the store changed, until `stop` is set (API-only processes)."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
                return
            except TimeoutError:
                pass
            if await self.store.counts() != self._counts:
                await self.build()

    def note_review(self, hit: HitRecord, verdict: str) -> None:
        if self.index is None:
            return
        self.index.set_review(hit.final_url or hit.url, flagged=verdict != "dismissed",
                              confirmed=verdict == "confirmed")

    def network_of(self, hit: HitRecord) -> dict[str, Any] | None:
        if self.index is None:
            return None
        net = self.index.network_of(hit.final_url or hit.url) or self.index.network_of(hit.url)
        return net.to_json(members=False) if net is not None else None

    def page_id(self, url: str) -> int | None:
        page = self.index.page(url) if self.index is not None else None
        return page.page_id if page is not None else None

    def pages_sharing(self, hit: HitRecord) -> dict[str, list[str]]:
        """URL -> the entity values it shares with this hit (the hit's own page excluded)."""
        if self.index is None:
            return {}
        own = {hit.url, hit.final_url}
        out: dict[str, list[str]] = {}
        for e in hit.entities:
            kind, value = e.get("kind"), e.get("value")
            if not kind or not value:
                continue
            for url in self.index.pages_with(str(kind), str(value)):
                if url not in own:
                    shared = out.setdefault(url, [])
                    if value not in shared:
                        shared.append(str(value))
        return out
