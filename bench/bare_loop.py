"""The limit: a bare asyncio loop doing only GET (aiohttp) + selectolax text extraction.

    python bench/bare_loop.py SEEDS [--concurrency 64] [--client aiohttp|httpx|httpx-fast]

`--client httpx` is the same loop over httpx.AsyncClient's default transport, and `httpx-fast`
over `crawler.transport.make_transport` (fetch.py's default): the transport measurement.

Prints one JSON line: {"pages": n, "errors": n, "chars": n, "elapsed_s": s}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time


async def crawl_httpx(urls: list[str], concurrency: int, fast: bool) -> dict[str, float]:
    import httpx
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    queue: asyncio.Queue[str] = asyncio.Queue()
    for u in urls:
        queue.put_nowait(u)
    counts = {"pages": 0, "errors": 0, "chars": 0}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport: httpx.AsyncBaseTransport
    if fast:
        from crawler.netguard import AddressGuard, vet_host
        from crawler.transport import RefusedAddress, TransportOptions, make_transport

        guard = AddressGuard(["127.0.0.1/32"])

        async def pin(host: str, port: int) -> str:  # what fetch.py does on every hop
            address, why = await vet_host(host, port, guard)
            if address is None:
                raise RefusedAddress(why or "refused")
            return address

        transport = make_transport(TransportOptions(max_connections=concurrency), pin)
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits)
    t0 = time.monotonic()
    async with httpx.AsyncClient(transport=transport, limits=limits) as client:

        async def worker() -> None:
            while True:
                try:
                    url = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    resp = await client.get(url)
                    tree = HTMLParser(resp.content)
                    text = tree.body.text(separator="\n") if tree.body is not None else ""
                    counts["pages"] += 1
                    counts["chars"] += len(text)
                except httpx.HTTPError:
                    counts["errors"] += 1

        async with asyncio.TaskGroup() as tg:
            for _ in range(concurrency):
                tg.create_task(worker())
    return {**counts, "elapsed_s": time.monotonic() - t0}


async def crawl(urls: list[str], concurrency: int) -> dict[str, float]:
    import aiohttp
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    queue: asyncio.Queue[str] = asyncio.Queue()
    for u in urls:
        queue.put_nowait(u)
    counts = {"pages": 0, "errors": 0, "chars": 0}
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    t0 = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while True:
                try:
                    url = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    async with session.get(url) as resp:
                        body = await resp.read()
                    tree = HTMLParser(body)
                    text = tree.body.text(separator="\n") if tree.body is not None else ""
                    counts["pages"] += 1
                    counts["chars"] += len(text)
                except aiohttp.ClientError:
                    counts["errors"] += 1

        async with asyncio.TaskGroup() as tg:
            for _ in range(concurrency):
                tg.create_task(worker())
    return {**counts, "elapsed_s": time.monotonic() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--client", choices=("aiohttp", "httpx", "httpx-fast"), default="aiohttp")
    args = parser.parse_args()
    with open(args.seeds) as f:
        urls = [line.strip() for line in f if line.strip()]
    if args.client == "aiohttp":
        result = asyncio.run(crawl(urls, args.concurrency))
    else:
        result = asyncio.run(crawl_httpx(urls, args.concurrency, args.client == "httpx-fast"))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
