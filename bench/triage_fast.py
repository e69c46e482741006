"""`triage` with crawler.transport's aiohttp transport plugged into the Fetcher (measurement shim).

    python bench/triage_fast.py crawl SEEDS --db ...     # same arguments as `triage`

Until fetch.py builds its client on `crawler.transport.make_transport`, this shim passes the
transport in through `Fetcher(transport=...)`, with a resolver that answers only the address
fetch.py vetted for the host in this task (its `_PINS`). Everything else is the real pipeline.
"""

from __future__ import annotations

from typing import Any

import crawler.fetch as fetch
from crawler.transport import RefusedAddress, TransportOptions, make_transport

_original_init = fetch.Fetcher.__init__


async def _vetted_address(host: str, port: int) -> str:
    address = (fetch._PINS.get() or {}).get(host.strip("[]").lower())
    if address is None:
        raise RefusedAddress(f"refusing a connection to {host}: address not vetted")
    return address


def _init(self: fetch.Fetcher, settings: Any, **kwargs: Any) -> None:
    if kwargs.get("transport") is None and not settings.proxy:
        kwargs["transport"] = make_transport(
            TransportOptions(max_connections=settings.concurrency * 2,
                             max_connections_per_host=settings.per_host_concurrency),
            _vetted_address,
        )
    _original_init(self, settings, **kwargs)


fetch.Fetcher.__init__ = _init  # type: ignore[method-assign]

if __name__ == "__main__":
    from crawler.cli import main

    main()
