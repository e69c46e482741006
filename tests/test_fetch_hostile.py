"""Hostile servers: decompression bombs, trickling bodies, length lies, endless bodies."""

from __future__ import annotations

import gzip
import time
import zlib
from typing import Any

import brotli
import pytest
import zstandard

from crawler.decoding import (
    BrotliDecoder,
    DecodeError,
    ZlibDecoder,
    ZstdDecoder,
    decoder_for,
    sniff_media,
)
from crawler.fetch import Fetcher
from crawler.models import Outcome, Reason
from crawler.settings import FetchSettings
from tests.support.hostile import (
    HostileServer,
    content_length_lie,
    endless,
    gzip_bomb,
    trickle,
)
from tests.support.server import LoopbackSite
from tests.support.transports import current_transport, transport  # noqa: F401

MiB = 1024 * 1024


def settings(**kw: Any) -> FetchSettings:
    base: dict[str, Any] = {"transport": current_transport(),
                            "allow_cidrs": ("127.0.0.1/32",), "per_host_rps": 0,
                            "backoff_base": 0.01, "retries": 0}
    return FetchSettings(**{**base, **kw})


async def test_gzip_bomb_stops_at_the_cap_within_a_second() -> None:
    async with HostileServer(gzip_bomb(decoded_mib=1024)) as srv:  # 1 GiB of zeros
        async with Fetcher(settings()) as f:
            started = time.monotonic()
            r = await f.fetch(srv.url("/bomb.html"))
            elapsed = time.monotonic() - started
    assert r.outcome is Outcome.REFUSED and r.reason is Reason.TOO_LARGE
    assert "gzip" in r.detail and r.body == b""
    assert elapsed < 1.0
    assert srv.bytes_sent < 50 * MiB  # the server was stopped long before 1 GiB


async def test_trickling_server_is_cut_at_the_total_deadline() -> None:
    async with HostileServer(trickle(interval=0.1)) as srv:
        async with Fetcher(settings(total_timeout=1.0, read_timeout=5.0)) as f:
            started = time.monotonic()
            r = await f.fetch(srv.url("/slow.html"))
            elapsed = time.monotonic() - started
    assert r.outcome is Outcome.FAILED and r.reason is Reason.TIMEOUT
    assert "deadline" in r.detail
    assert 0.9 <= elapsed < 2.0


async def test_endless_body_is_cut_at_the_cap() -> None:
    async with HostileServer(endless()) as srv:
        async with Fetcher(settings(max_body_bytes=2 * MiB)) as f:
            r = await f.fetch(srv.url("/endless"))
    assert r.reason is Reason.TOO_LARGE
    assert srv.bytes_sent < 40 * MiB


async def test_content_length_lie_short_is_trimmed_to_declared_length() -> None:
    async with HostileServer(content_length_lie(10, b"<p>0123456789 and much more</p>")) as srv:
        async with Fetcher(settings()) as f:
            r = await f.fetch(srv.url("/lie"))
    if current_transport() == "httpx":
        assert r.outcome is Outcome.FETCHED and r.body == b"<p>0123456"
    else:  # aiohttp parses the bytes past Content-Length as a next response: protocol error
        assert r.outcome is Outcome.FAILED and r.reason is Reason.NETWORK and r.body == b""
        assert "Bad status line" in r.detail


async def test_content_length_lie_long_is_a_network_failure() -> None:
    async with HostileServer(content_length_lie(100_000, b"<p>short</p>")) as srv:
        async with Fetcher(settings()) as f:
            r = await f.fetch(srv.url("/lie"))
    assert r.outcome is Outcome.FAILED and r.reason is Reason.NETWORK


async def test_content_length_under_cap_but_endless_body_is_bounded() -> None:
    async with HostileServer(content_length_lie(1000, b"a" * (3 * MiB), close=False)) as srv:
        async with Fetcher(settings(max_body_bytes=MiB)) as f:
            r = await f.fetch(srv.url("/lie"))
    if current_transport() == "httpx":
        assert r.outcome is Outcome.FETCHED and len(r.body) == 1000
    else:  # aiohttp: the bytes past Content-Length are a protocol error, nothing kept
        assert r.outcome is Outcome.FAILED and r.reason is Reason.NETWORK and r.body == b""
    assert srv.bytes_sent <= 3 * MiB


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress),
     ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
     ("br", brotli.compress), ("zstd", lambda b: zstandard.ZstdCompressor().compress(b))],
)
async def test_each_accepted_encoding_is_decoded(site: LoopbackSite, encoding: str,
                                                 compress: Any) -> None:
    page = ("<html><p>" + "über " * 2000 + "</p></html>").encode()
    site.route("/c", compress(page), headers={"Content-Encoding": encoding})
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/c"))
    assert r.outcome is Outcome.FETCHED and r.body == page
    assert "br" in site.requests[-1].headers["Accept-Encoding"]


async def test_unknown_or_stacked_encoding_is_refused(site: LoopbackSite) -> None:
    site.route("/c", b"xx", headers={"Content-Encoding": "compress"})
    site.route("/d", b"xx", headers={"Content-Encoding": "gzip, br"})
    async with Fetcher(settings()) as f:
        a = await f.fetch(site.url("/c"))
        b = await f.fetch(site.url("/d"))
    assert a.reason is Reason.CONTENT_TYPE and "compress" in a.detail
    assert b.reason is Reason.CONTENT_TYPE


async def test_corrupt_gzip_is_a_recorded_failure(site: LoopbackSite) -> None:
    site.route("/c", b"\x1f\x8b\x08\x00garbage-garbage", headers={"Content-Encoding": "gzip"})
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/c"))
    assert r.outcome is Outcome.FAILED and "gzip" in r.detail


# --------------------------------------------------------------------------- decoders (pure)


def _bounded(decoder: Any, data: bytes, cap: int) -> int:
    got = 0
    for i in range(0, len(data), 65536):
        got += len(decoder.decode(data[i : i + 65536], cap + 1 - got))
        if got > cap:
            break
    return got


@pytest.mark.parametrize(
    ("make", "compress"),
    [(lambda: ZlibDecoder(gzip=True), lambda b: gzip.compress(b, 9)),
     (BrotliDecoder, lambda b: brotli.compress(b, quality=5)),
     (ZstdDecoder, lambda b: zstandard.ZstdCompressor(level=3).compress(b))],
)
def test_bombs_stop_at_the_cap_for_every_encoding(make: Any, compress: Any) -> None:
    bomb = compress(bytes(32 * MiB))
    assert len(bomb) < MiB
    started = time.monotonic()
    got = _bounded(make(), bomb, MiB)
    assert MiB < got <= MiB + 1
    assert time.monotonic() - started < 1.0


def test_one_small_input_cannot_expand_past_the_limit() -> None:
    bomb = brotli.compress(bytes(64 * MiB), quality=5)  # about a hundred bytes
    out = BrotliDecoder().decode(bomb, 1000)
    assert len(out) <= 1000


def test_concatenated_gzip_members_are_decoded() -> None:
    data = gzip.compress(b"one ") + gzip.compress(b"two")
    assert ZlibDecoder(gzip=True).decode(data, 100) == b"one two"


def test_bad_data_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        ZstdDecoder().decode(b"not zstd at all, really", 100)


def test_identity_and_unknown_encodings() -> None:
    assert decoder_for(None) is not None
    assert decoder_for("identity") is not None
    assert decoder_for("compress") is None
    assert decoder_for("gzip, gzip") is None


@pytest.mark.parametrize(
    ("head", "expected"),
    [(b"GIF89a...", "GIF"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"), (b"%PDF-1.4", "PDF"),
     (b"\x1aE\xdf\xa3\x00", "WebM"), (b"MZ\x90\x00\x03\x00", "executable"),
     (b"<!doctype html><p>MZ", None), (b"MZ is a town", None), (b"BZh is not bzip", None),
     (b"Hello, plain text", None)],
)
def test_sniffing(head: bytes, expected: str | None) -> None:
    what = sniff_media(head)
    if expected is None:
        assert what is None
    else:
        assert what is not None and expected in what


async def test_truncated_compressed_body_is_a_recorded_failure(site: LoopbackSite) -> None:
    site.route("/t", gzip.compress(b"<p>" + b"x" * 5000 + b"</p>")[:-12],
               headers={"Content-Encoding": "gzip"})
    async with Fetcher(settings()) as f:
        r = await f.fetch(site.url("/t"))
    assert r.outcome is Outcome.FAILED and "cut short" in r.detail


def _with_magic() -> Any:
    from hypothesis import strategies as st

    from crawler.decoding import _MAGIC

    def place(args: tuple[int, bytes, bytes]) -> bytes:
        i, filler, tail = args
        offset, magic, _ = _MAGIC[i % len(_MAGIC)]
        return (filler * 300)[:offset] + magic + tail

    riff = st.tuples(st.binary(max_size=4), st.sampled_from([b"WEBP", b"AVI ", b"WAVE", b"TEXT"]))
    return st.one_of(
        st.binary(max_size=600),
        st.tuples(st.integers(0, 1000), st.binary(min_size=1, max_size=3),
                  st.binary(max_size=40)).map(place),
        riff.map(lambda p: b"RIFF" + (p[0] + b"\0\0\0\0")[:4] + p[1] + b"..."),
        st.sampled_from([b"<!doctype html>", b"MZ<html>", b"BZh9<p>", b"  \n<html", b""]),
    )


def test_the_sniffing_shortcut_answers_as_the_full_scan() -> None:
    from hypothesis import given, settings

    from crawler.decoding import _sniff_media, sniff_media

    @settings(max_examples=400, deadline=None)
    @given(_with_magic())
    def check(head: bytes) -> None:
        assert sniff_media(head) == _sniff_media(head)

    check()
