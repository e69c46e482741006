"""A fast, deterministic synthetic ad site on 127.0.0.1 for benchmarks.

    python -m bench.site --pages 20000 [--port 0] [--cpu 1]

prints `READY <port>` on stdout once listening, then serves until stdin closes or SIGTERM.

Pages are `/ad/<i>` for 0 <= i < pages: ~25 KB of ad-like HTML, ~5 KB of it visible text (title,
meta, paragraphs, a price, an attribute table, a contact block with phone/email/messenger handle,
related-ad cards, navigation, inline style and script; about one page in five carries indicator
phrases). Every page is unique (its id, phone and handle differ) but built from
a few pre-rendered byte chunks, so serving one costs a dict lookup and a join: the site must not
be the bottleneck. `/robots.txt` allows everything; anything else is 404. `/__stats` returns
JSON {served, first, last, cpu_s} since the last `/__reset` (the harness measures throughput as
the server saw it, and the site's own CPU share).

The server is a raw asyncio Protocol (HTTP/1.1 keep-alive, GET/HEAD only): no framework cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import sys
import time
from collections.abc import Iterator

VARIANTS = 64  # distinct pre-rendered page bodies; pages pick one by id

_WORDS = (
    "apartment room city centre clean friendly discreet available today tomorrow evening weekend "
    "call message photos real new arrival young sweet service relax massage visit hotel outcall "
    "incall private quiet parking station near airport travel tour europe week days only booking "
    "appointment welcome gentleman respectful polite safe smile beautiful elegant sporty natural "
    "languages english german french spanish russian romanian italian meeting dinner companion"
).split()
_CITIES = ("Berlin", "Hamburg", "Vienna", "Zurich", "Milan", "Madrid", "Lyon", "Prague", "Warsaw")
_INDICATOR_PHRASES = (
    "New girls every week, just arrived from abroad.",
    "Accommodation and travel provided, no papers needed.",
    "Payment only in crypto, no cash.",
    "Young and fresh, 18 years old, barely legal.",
    "Driver will bring her to you, available 24/7.",
    "Work abroad, visa arranged, we pay your ticket, you pay back later.",
    "Cannot speak English, agency handles all contact.",
)
_FILLER_PARAGRAPHS = 10


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))


def _style(rng: random.Random) -> str:
    rules = []
    for k in range(60):
        rules.append(f".c{k} .x{rng.randrange(999)}{{margin:{rng.randrange(20)}px;"
                     f"color:#{rng.randrange(0xFFFFFF):06x};font-size:{10 + k % 9}px}}")
    return "<style>" + "\n".join(rules) + "</style>\n"


def _script(rng: random.Random) -> str:
    items = ",".join(
        f'{{"id":{rng.randrange(10**6)},"slot":"s{k}","w":{rng.randrange(900)},"tag":"t{k}"}}'
        for k in range(70)
    )
    return f"<script>window.__STATE__={{\"ads\":[{items}]}};</script>\n"


def _variant(v: int) -> tuple[bytes, bytes, bytes]:
    """(head up to the title id, middle up to the contact block, tail) for variant v.

    Shaped like a real ad page: ~25 KB of HTML of which ~5 KB is visible text (navigation,
    styles, scripts and related-ad cards are most of the bytes).
    """
    rng = random.Random(1000 + v)
    city = _CITIES[v % len(_CITIES)]
    price = 80 + (v * 17) % 220
    flagged = v % 5 == 0
    head = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<meta name=\"description\" content=\"Escort and companion ads in {city}\">\n"
        "<meta name=\"keywords\" content=\"escort, massage, companion, " + city.lower() + "\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<link rel=\"stylesheet\" href=\"/static/site.css\">\n"
        + _style(rng) + _script(rng) + "<title>"
        f"{city} - {rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS)} - ad "
    )
    parts: list[str] = [
        "</title></head>\n<body class=\"page page-ad\">\n<header class=\"top\"><nav><ul>"
        + "".join(f"<li class=\"nav-item\"><a class=\"nav-link\" href=\"/city/{c.lower()}/"
                  f"{k}\">{c} {k}</a></li>" for c in _CITIES for k in range(4))
        + "</ul></nav></header>\n<main class=\"ad\"><div class=\"ad-body\">\n"
        f"<h1>{_sentence(rng)}</h1>\n<div class=\"price\">From €{price} / hour, "
        f"€{price * 6} / night</div>\n"
    ]
    if flagged:
        phrases = rng.sample(_INDICATOR_PHRASES, 2)
        parts.append(f"<p class=\"highlight\">{phrases[0]}</p>\n")
    for k in range(_FILLER_PARAGRAPHS):
        parts.append(f"<div class=\"para c{k}\"><p>{_paragraph(rng)}</p></div>\n")
        if flagged and k == _FILLER_PARAGRAPHS // 2:
            parts.append(f"<p>{phrases[1]}</p>\n")
    parts.append("<table class=\"attrs\">" + "".join(
        f"<tr><th class=\"attr-name\">{name}</th><td class=\"attr-value\">"
        f"{rng.choice(_WORDS)}</td></tr>"
        for name in ("Age", "Height", "Hair", "Eyes", "Languages", "Nationality", "Availability",
                     "Incall", "Outcall", "Area"))
        + "</table>\n")
    parts.append("<section class=\"contact\"><h2>Contact</h2>\n")
    middle = "".join(parts)
    tail_parts = ["</section></div>\n<aside class=\"related\"><h3>Similar ads</h3>\n"]
    for _ in range(30):
        j = rng.randrange(1_000_000)
        tail_parts.append(
            f"<div class=\"card card-ad\" data-id=\"{j}\"><a class=\"card-link\" "
            f"href=\"/ad/{j}\"><img class=\"card-img\" loading=\"lazy\" "
            f"src=\"/img/{j}/thumb.jpg\" width=\"160\" height=\"120\" alt=\"\">"
            f"<span class=\"card-title\">{_sentence(rng)[:30]}</span></a>"
            f"<span class=\"card-price\">€{rng.randrange(80, 300)}</span></div>\n"
        )
    tail_parts.append(
        "</aside>\n</main>\n<footer><a href=\"/terms\">Terms</a> "
        "<a href=\"https://example.org/report\">Report abuse</a>"
        "<script>var t=1;</script></footer>\n</body></html>\n"
    )
    return head.encode(), middle.encode(), "".join(tail_parts).encode()


class SiteContent:
    """Page bodies for `/ad/<i>`, built from pre-rendered chunks (deterministic)."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self._variants = [_variant(v) for v in range(VARIANTS)]

    def page(self, i: int) -> bytes:
        head, middle, tail = self._variants[i % VARIANTS]
        phone = f"+49 151 {4000000 + (i * 7919) % 5000000:07d}"
        tel = phone.replace(" ", "")
        contact = (
            f"<p>Call or WhatsApp: <a href=\"tel:{tel}\">{phone}</a></p>\n"
            f"<p>Email: <a href=\"mailto:ad{i}@example.com\">ad{i}@example.com</a></p>\n"
            f"<p>Telegram: <a href=\"https://t.me/ad_{i}_contact\">@ad_{i}_contact</a></p>\n"
        )
        return b"".join((head, str(i).encode(), middle, contact.encode(), tail))

    def paths(self) -> Iterator[str]:
        for i in range(self.pages):
            yield f"/ad/{i}"


class Stats:
    """What the site served since the last `/__reset`: the harness reads it from `/__stats`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.served = 0  # 200 responses to /ad/<i>
        self.first: float | None = None  # time.monotonic() of the first, system-wide clock
        self.last: float | None = None
        self.cpu0 = _cpu_seconds()

    def hit(self) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        self.served += 1

    def to_json(self) -> bytes:
        return json.dumps({
            "served": self.served, "first": self.first, "last": self.last,
            "cpu_s": _cpu_seconds() - self.cpu0,
        }).encode()


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


_ROBOTS = b"User-agent: *\nAllow: /\n"
_NOT_FOUND = b"not found\n"


def _response(status: bytes, ctype: bytes, body: bytes, head_only: bool) -> bytes:
    header = (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype
        + b"\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\nServer: bench-site\r\n\r\n"
    )
    return header if head_only else header + body


class _HttpProtocol(asyncio.Protocol):
    def __init__(self, content: SiteContent, stats: Stats) -> None:
        self._content = content
        self._stats = stats
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        transport = self._transport
        assert transport is not None
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > 65536:
                    transport.close()
                return
            request, self._buf = self._buf[:end], self._buf[end + 4:]
            line = request.split(b"\r\n", 1)[0]
            try:
                method, target, _ = line.split(b" ", 2)
            except ValueError:
                transport.write(_response(b"400 Bad Request", b"text/plain", b"", False))
                transport.close()
                return
            transport.write(self._answer(method, target))
            if b"\r\nconnection: close" in request.lower():
                transport.close()
                return

    def _answer(self, method: bytes, target: bytes) -> bytes:
        head_only = method == b"HEAD"
        path = target.split(b"?", 1)[0]
        if path.startswith(b"/ad/"):
            try:
                i = int(path[4:])
            except ValueError:
                i = -1
            if 0 <= i < self._content.pages:
                body = self._content.page(i)
                self._stats.hit()
                return _response(b"200 OK", b"text/html; charset=utf-8", body, head_only)
        elif path == b"/robots.txt":
            return _response(b"200 OK", b"text/plain", _ROBOTS, head_only)
        elif path == b"/__stats":
            return _response(b"200 OK", b"application/json", self._stats.to_json(), head_only)
        elif path == b"/__reset":
            self._stats.reset()
            return _response(b"200 OK", b"text/plain", b"ok\n", head_only)
        return _response(b"404 Not Found", b"text/plain", _NOT_FOUND, head_only)


async def serve(pages: int, port: int = 0, host: str = "127.0.0.1") -> None:
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("bench site serves loopback only")
    content = SiteContent(pages)
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _HttpProtocol(content, stats), host, port, backlog=1024
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (Linux)")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(serve(args.pages, args.port))


if __name__ == "__main__":
    main()
