"""crawler.transport: httpx over aiohttp, pinned to the vetted address, on a loopback server."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from tests.support.server import LoopbackSite

pytest.importorskip("aiohttp")

from crawler.transport import (
    ADDRESS_EXTENSION,
    RefusedAddress,
    TransportOptions,
    make_transport,
)

PAGE = "<html><body><p>hello</p></body></html>"


async def _pin_loopback(host: str, port: int) -> str:
    return "127.0.0.1"


def _client(resolver: object = _pin_loopback) -> httpx.AsyncClient:
    transport = make_transport(TransportOptions(max_connections=4), resolver)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5.0))


def _named(site: LoopbackSite, path: str) -> str:
    """The site's URL under a name that no DNS knows: only the pin can reach it."""
    return f"http://pinned.invalid:{site.port}{path}"


async def test_get_returns_status_headers_and_body(site: LoopbackSite) -> None:
    site.route("/a", PAGE, headers={"X-Test": "yes"})
    async with _client() as client:
        response = await client.get(site.url("/a"))
    assert response.status_code == 200
    assert response.headers["x-test"] == "yes"
    assert response.text == PAGE
    assert response.http_version == "HTTP/1.1"


async def test_connects_to_the_pinned_address_without_dns(site: LoopbackSite) -> None:
    site.route("/a", PAGE)
    async with _client() as client:
        response = await client.get(_named(site, "/a"))
    assert response.text == PAGE
    assert site.requests[-1].headers["Host"] == f"pinned.invalid:{site.port}"


async def test_request_extension_pin_wins_over_resolver(site: LoopbackSite) -> None:
    site.route("/a", PAGE)

    async def refuse(host: str, port: int) -> str:
        raise RefusedAddress(f"{host} refused")

    async with _client(refuse) as client:
        request = client.build_request(
            "GET", _named(site, "/a"), extensions={ADDRESS_EXTENSION: "127.0.0.1"}
        )
        response = await client.send(request)
    assert response.text == PAGE


async def test_refusing_resolver_means_no_connection(site: LoopbackSite) -> None:
    site.route("/a", PAGE)

    async def refuse(host: str, port: int) -> str:
        raise RefusedAddress(f"{host} resolves to a loopback address")

    async with _client(refuse) as client:
        with pytest.raises(RefusedAddress, match="loopback"):
            await client.get(site.url("/a"))
    assert site.requests == []


async def test_no_pin_and_no_resolver_is_refused(site: LoopbackSite) -> None:
    site.route("/a", PAGE)
    async with _client(None) as client:
        with pytest.raises(httpx.ConnectError, match="no vetted address"):
            await client.get(site.url("/a"))
    assert site.requests == []


async def test_pooled_connection_to_another_address_is_not_reused(site: LoopbackSite) -> None:
    site.route("/a", PAGE)
    async with _client(None) as client:
        first = client.build_request(
            "GET", _named(site, "/a"), extensions={ADDRESS_EXTENSION: "127.0.0.1"}
        )
        assert (await client.send(first)).status_code == 200
        # same host and port, now vetted to 127.0.0.2 where nothing listens: the kept-alive
        # connection to 127.0.0.1 must not carry this request
        second = client.build_request(
            "GET", _named(site, "/a"), extensions={ADDRESS_EXTENSION: "127.0.0.2"}
        )
        with pytest.raises(httpx.ConnectError):
            await client.send(second)
    assert len(site.requests) == 1


async def test_pooled_connection_is_reused_for_the_same_address(site: LoopbackSite) -> None:
    ports: list[int] = []

    def handler(req: BaseHTTPRequestHandler) -> None:
        ports.append(req.client_address[1])
        body = PAGE.encode()
        req.send_response(200)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    site.route("/h", handler=handler)
    async with _client() as client:
        for _ in range(3):
            assert (await client.get(site.url("/h"))).status_code == 200
    assert len(set(ports)) == 1


async def test_redirects_are_returned_not_followed(site: LoopbackSite) -> None:
    site.route("/r", status=302, headers={"Location": "/a"})
    site.route("/a", PAGE)
    async with _client() as client:
        response = await client.get(site.url("/r"))
    assert response.status_code == 302
    assert response.headers["location"] == "/a"
    assert site.paths() == ["/r"]


async def test_body_is_decoded_by_httpx_chunk_by_chunk(site: LoopbackSite) -> None:
    raw = b"<p>" + b"x" * 300_000 + b"</p>"
    site.route("/gz", gzip.compress(raw), headers={"Content-Encoding": "gzip"})
    got = 0
    async with _client() as client, client.stream("GET", site.url("/gz")) as response:
        assert response.headers["content-encoding"] == "gzip"
        async for chunk in response.aiter_bytes():
            got += len(chunk)
    assert got == len(raw)


async def test_stopping_early_closes_a_huge_stream(site: LoopbackSite) -> None:
    def endless() -> AsyncIterator[bytes] | object:
        return (b"a" * 65536 for _ in range(10_000))  # 640 MiB if read to the end

    site.route("/big", endless)  # type: ignore[arg-type]
    cap = 256 * 1024
    started = time.monotonic()
    async with _client() as client:
        async with client.stream("GET", site.url("/big")) as response:
            seen = 0
            async for chunk in response.aiter_bytes():
                seen += len(chunk)
                if seen > cap:
                    break
        # the pool still works after a dropped connection
        site.route("/a", PAGE)
        assert (await client.get(site.url("/a"))).text == PAGE
    assert cap < seen < cap + 256 * 1024
    assert time.monotonic() - started < 3


async def test_read_timeout_between_reads(site: LoopbackSite) -> None:
    def slow(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", "10")
        req.end_headers()
        req.wfile.write(b"12345")
        req.wfile.flush()
        time.sleep(1.5)

    site.route("/slow", handler=slow)
    transport = make_transport(TransportOptions(), _pin_loopback)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(0.3)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(site.url("/slow"))


async def test_connection_refused_is_a_connect_error() -> None:
    async def pin(host: str, port: int) -> str:
        return "127.0.0.1"

    async with _client(pin) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:1/")


async def test_closed_transport_refuses_reuse(site: LoopbackSite) -> None:
    site.route("/a", PAGE)
    transport = make_transport(TransportOptions(), _pin_loopback)
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get(site.url("/a"))
    with pytest.raises(RuntimeError, match="closed"):
        await transport.handle_async_request(httpx.Request("GET", site.url("/a")))


async def test_non_ascii_response_header_bytes_are_passed_through(site: LoopbackSite) -> None:
    site.route("/a", PAGE, headers={"X-Name": "café"})  # sent as latin-1 by http.server
    async with _client() as client:
        response = await client.get(site.url("/a"))
    assert response.headers["x-name"] == "café"
    raw = [(k.lower(), v) for k, v in response.headers.raw]
    assert (b"x-name", "café".encode("latin-1")) in raw
    assert response.text == PAGE


async def test_connection_log_is_bounded(
    site: LoopbackSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.transport as transport_module

    monkeypatch.setattr(transport_module, "CONNECT_LOG_MAX", 4)
    site.route("/a", PAGE)
    transport = make_transport(TransportOptions(), _pin_loopback)
    async with httpx.AsyncClient(transport=transport) as client:
        for i in range(7):  # Connection: close -> a new connection for every request
            response = await client.get(site.url("/a"), headers={"Connection": "close"})
            assert response.status_code == 200, i
    assert 2 <= len(transport.connects) <= 4
    assert all(entry == ("127.0.0.1", site.port) for entry in transport.connects)


async def test_request_headers_go_out_as_given_and_aiohttp_adds_none(site: LoopbackSite) -> None:
    # header sets are converted once per transport and reused; aiohttp's own User-Agent,
    # Accept and Accept-Encoding are added to none of them, whichever of these they carry
    site.route("/a", PAGE)
    host = f"127.0.0.1:{site.port}".encode()
    sets = [
        [(b"Host", host), (b"Connection", b"keep-alive"), (b"User-Agent", b"ua/1"),
         (b"Accept", b"text/html"), (b"Accept-Encoding", b"gzip"), (b"Accept-Language", b"*")],
        [(b"Host", host), (b"X-B", b"2")],
        [(b"Host", host), (b"accept", b"*/x"), (b"X-C", b"3")],
        [(b"Host", host), (b"user-agent", b"ua/2"), (b"ACCEPT", b"a"), (b"Accept-encoding", b"br")],
    ]
    async with make_transport(TransportOptions(max_connections=4), _pin_loopback) as transport:
        for _ in range(2):  # the second round from the remembered header sets
            for raw in sets:
                request = httpx.Request("GET", site.url("/a"), headers=raw)
                response = await transport.handle_async_request(request)
                assert await response.aread() == PAGE.encode()
                await response.aclose()
                sent = list(site.requests[-1].headers.items())
                assert sent == [(k.decode(), v.decode()) for k, v in raw]
