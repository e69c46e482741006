"""WARC evidence: exact responses written, rotated, verified, and purged with retention."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.evidence import SHA256_HEADER, WarcWriter, make_sink, purge, verify, verify_files
from crawler.models import FetchResult, Outcome, Reason, utcnow
from storage import open_store
from tests.support.server import LoopbackSite
from tests.test_store import Clock, crawl_once, db_url, evaluation, seeds  # noqa: F401

HTML = b"<html><head><title>Hiring</title></head><body>Work abroad, no papers.</body></html>"


def result(url: str = "http://127.0.0.1:9/ad", body: bytes = HTML, **kw: Any) -> FetchResult:
    fields: dict[str, Any] = {
        "url": url, "outcome": Outcome.FETCHED, "reason": Reason.OK, "detail": "",
        "fetched_at": utcnow(), "final_url": url, "status": 200,
        "headers": {"content-type": "text/html; charset=utf-8"},
        "raw_headers": (("Content-Type", "text/html; charset=utf-8"), ("X-Test", "1")),
        "content_type": "text/html", "body": body, "sha256": hashlib.sha256(body).hexdigest(),
    }
    fields.update(kw)
    return FetchResult(**fields)


def records(path: Path) -> list[Any]:
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh):
            body = rec.content_stream().read()
            out.append((rec.rec_type, rec.rec_headers, rec.http_headers, body))
    return out


def flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_response_is_written_with_exact_status_headers_and_body(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    name, offset = writer.write(result(status=404))
    [(req_type, _, req_http, _), (rtype, rec, http, body)] = records(tmp_path / name)
    assert (req_type, req_http.protocol, req_http.statusline) == ("request", "GET", "/ad HTTP/1.1")
    assert rtype == "response" and body == HTML
    assert http.get_statuscode() == "404" and http.get_header("X-Test") == "1"
    assert rec.get_header(SHA256_HEADER) == hashlib.sha256(HTML).hexdigest()
    assert rec.get_header("WARC-Payload-Digest").startswith("sha1:")
    with (tmp_path / name).open("rb") as fh:
        fh.seek(offset)
        assert next(iter(ArchiveIterator(fh))).rec_type == "response"


def test_decoded_body_is_stored_with_original_encoding_headers_kept_aside(tmp_path: Path) -> None:
    raw = (("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Content-Length", "31"))
    name, _ = WarcWriter(tmp_path).write(result(raw_headers=raw))
    http = records(tmp_path / name)[1][2]
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("X-Triage-Orig-Content-Encoding") == "gzip"
    assert http.get_header("Content-Length") == str(len(HTML))


def test_only_text_pages_are_kept(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    image = result(content_type="image/jpeg", body=b"\xff\xd8\xff")
    assert asyncio.run(writer(image)) is None
    with pytest.raises(ValueError, match="not a text page"):
        writer.write(image)
    assert list(tmp_path.iterdir()) == []


def test_files_rotate_by_size(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, max_bytes=1500)
    names = {writer.write(result(url=f"http://127.0.0.1:9/{i}"))[0] for i in range(6)}
    assert len(names) >= 3
    assert all(gzip.decompress((tmp_path / n).read_bytes()) for n in names)
    report = verify_files(tmp_path)
    assert report.ok and report.files == len(names) and report.records == 12


async def test_real_loopback_response_round_trips(site: LoopbackSite, tmp_path: Path) -> None:
    site.route("/ad", body=HTML, headers={"Content-Type": "text/html", "X-Served-By": "loop"})
    async with httpx.AsyncClient() as client:
        resp = await client.get(site.url("/ad"))
    fr = result(url=site.url("/ad"), body=resp.content, status=resp.status_code,
                raw_headers=tuple(resp.headers.multi_items()))
    sink = make_sink(tmp_path)
    assert sink is not None
    ref = await sink(fr)
    assert ref is not None
    (_, _, http, body) = records(tmp_path / ref["file"])[1]
    assert body == resp.content and http.get_header("X-Served-By") == "loop"
    assert verify_files(tmp_path).ok


@pytest.mark.parametrize("where", ["gzip-header", "middle", "last"])
def test_verify_fails_when_one_byte_changes(tmp_path: Path, where: str) -> None:
    writer = WarcWriter(tmp_path)
    for i in range(3):
        writer.write(result(url=f"http://127.0.0.1:9/{i}"))
    [path] = list(tmp_path.glob("*.warc.gz"))
    assert verify_files(tmp_path).ok
    size = path.stat().st_size
    flip(path, {"gzip-header": 5, "middle": size // 2, "last": size - 1}[where])
    report = verify_files(tmp_path)
    assert not report.ok and path.name in report.problems[0]


def test_verify_reports_a_missing_manifest(tmp_path: Path) -> None:
    name, _ = WarcWriter(tmp_path).write(result())
    (tmp_path / (name + ".manifest")).unlink()
    assert "manifest" in verify_files(tmp_path).problems[0]


async def _flagged_with_evidence(store: Any, writer: WarcWriter, url: str, body: bytes) -> Any:
    """What the pipeline does: write the WARC, pass its reference to record_result."""
    [claim] = await store.claim("w1", 1, 60)
    assert claim.url == url
    fr = result(url=url, body=body)
    ref = await writer(fr)
    assert ref is not None
    return await store.record_result(claim, "w1", fr, None, evaluation(), (), evidence=ref)


async def test_verify_checks_the_store_references(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    evidence = tmp_path / "evidence"
    writer = WarcWriter(evidence)
    async with open_store(db_url) as store:
        await store.add_batch("s", "x", seeds(["http://127.0.0.1:9/a"]), [])
        out = await _flagged_with_evidence(store, writer, "http://127.0.0.1:9/a", HTML)
        hit = await store.get_hit(out.hit_id)
        assert hit is not None and hit.extra["warc"]["warc_file"]
        report = await verify(evidence, store)
        assert report.ok and report.pages == 1
        [path] = list(evidence.glob("*.warc.gz"))
        flip(path, path.stat().st_size - 20)
        report = await verify(evidence, store)
        assert not report.ok
        assert any(p.startswith(f"page {out.page_id}") for p in report.problems)


async def test_retention_drops_dismissed_records_and_keeps_others_verifiable(
    db_url: str, tmp_path: Path  # noqa: F811
) -> None:
    clock = Clock()
    evidence = tmp_path / "evidence"
    writer = WarcWriter(evidence)
    urls = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
    async with open_store(db_url, clock=clock) as store:
        await store.add_batch("s", "x", seeds(urls), [])
        first = await _flagged_with_evidence(store, writer, urls[0], b"<p>first</p>")
        second = await _flagged_with_evidence(store, writer, urls[1], b"<p>second</p>")
        before = await store.get_hit(second.hit_id)
        assert before is not None
        second_offset = before.extra["warc"]["warc_offset"]
        await store.review(first.hit_id, "dismissed", "ana")
        clock.advance(10 * 86_400)
        report = await purge(store, evidence, 7)
        assert (report.hits, len(report.evidence)) == (1, 1)
        [path] = list(evidence.glob("*.warc.gz"))
        # the writer still holds the file (it may append, rows pointing at it may be pending):
        # not rewritten now, the offsets wait beside it
        assert [r[3] for r in records(path) if r[0] == "response"] == [
            b"<p>first</p>", b"<p>second</p>"]
        assert (evidence / (path.name + ".purge")).exists()
        assert (await verify(evidence, store)).ok
        writer.close()  # the crawl is over: the next purge finishes the file
        again = await purge(store, evidence, 7)
        assert (again.hits, len(again.evidence)) == (0, 0)
        assert not (evidence / (path.name + ".purge")).exists()
        kept = [r for r in records(path) if r[0] == "response"]
        assert [r[3] for r in kept] == [b"<p>second</p>"]
        check = await verify(evidence, store)
        assert check.ok, check.problems
        assert check.pages == 1
        hit = await store.get_hit(second.hit_id)
        assert hit is not None and hit.extra["warc"]["warc_offset"] < second_offset  # moved


def _response_record(body: bytes, record_id: str) -> Any:
    import io

    from warcio.statusandheaders import StatusAndHeaders

    from crawler.evidence import _BUILDER

    http_headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                               ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
    return _BUILDER.create_warc_record(
        "http://127.0.0.1:9/ad?q=1", "response", payload=io.BytesIO(body), length=len(body),
        http_headers=http_headers,
        warc_headers_dict={"WARC-Date": "2026-01-01T00:00:00Z", "WARC-Record-ID": record_id},
    )


@pytest.mark.parametrize("body", [b"", HTML, HTML * 400, bytes(range(256)) * 40])
def test_one_shot_gzip_records_decompress_to_what_warcio_writes(body: bytes) -> None:
    import io
    import zlib

    from warcio.warcwriter import WARCWriter

    from crawler.evidence import _serialise

    rid = "<urn:uuid:00000000-0000-4000-8000-000000000001>"
    buf = io.BytesIO()
    WARCWriter(buf, gzip=True).write_record(_response_record(body, rid))  # warcio, level 9
    got = _serialise(_response_record(body, rid), 1)
    assert gzip.decompress(got) == gzip.decompress(buf.getvalue())
    d = zlib.decompressobj(wbits=31)
    d.decompress(got)
    assert d.eof and not d.unused_data  # exactly one gzip member

def test_concurrent_writers_share_fsyncs_and_every_record_verifies(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    writer = WarcWriter(tmp_path, max_bytes=20_000)
    bodies = [HTML + str(i).encode() * (i % 7 * 300) for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        refs = list(pool.map(lambda ib: writer.write_ref(
            result(url=f"http://127.0.0.1:9/{ib[0]}", body=ib[1])), enumerate(bodies)))
    for i, ref in enumerate(refs):
        with (tmp_path / ref["file"]).open("rb") as fh:
            fh.seek(ref["offset"])
            member = fh.read(ref["length"])
        assert hashlib.sha256(member).hexdigest() == ref["record_sha256"]
        rec = next(iter(ArchiveIterator(__import__("io").BytesIO(member))))
        assert rec.rec_type == "response" and rec.content_stream().read() == bodies[i]
    report = verify_files(tmp_path)
    assert report.ok, report.problems
    assert report.records == 128 and report.files >= 2
    ref = writer.write_ref(result(url="http://127.0.0.1:9/last"))  # alone: its own fsync
    f, durable = writer._durable
    assert f is not None and f.path.name == ref["file"]
    assert durable == ref["offset"] + ref["length"] == f.path.stat().st_size
    writer.close()


def _ids(record: bytes) -> str:
    return record.split(b"WARC-Record-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()


VARIED = [
    {},
    {"status": 404, "http_version": "HTTP/1.0"},
    {"status": 599, "body": b""},  # no reason phrase
    {"url": "http://127.0.0.1:9/a?b=1&c=%20", "final_url": "http://127.0.0.1:9/z/y?q=2"},
    {"url": "http://127.0.0.1:9", "final_url": "http://127.0.0.1:9"},  # empty path
    {"raw_headers": (), "headers": {"content-type": "text/plain", "x-a": "b"}},
    {"raw_headers": (("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"),
                     ("content-length", "10"), ("Set-Cookie", "a=1; b=2"), ("X-Empty", ""))},
    {"body": HTML * 50, "sha256": None},
    {"body": bytes(range(256)) * 20},
]


@pytest.mark.parametrize("fields", VARIED)
def test_direct_records_are_byte_for_byte_what_warcio_writes(fields: dict[str, Any]) -> None:
    from crawler.evidence import _records, _records_plain, _records_warcio, _response_head

    fr = result(**fields)
    want_req, want_resp = (gzip.decompress(r) for r in _records_warcio(fr, 9))
    ids = (_ids(want_req), _ids(want_resp))
    uri = fr.final_url or fr.url
    statusline, headers, protocol = _response_head(fr)
    got_req, got_resp = _records_plain(fr, uri, statusline, headers, protocol, ids)
    assert (got_req, got_resp) == (want_req, want_resp)
    req, resp = _records(fr)  # new record ids, the same layout
    assert len(gzip.decompress(req)) == len(want_req)
    assert len(gzip.decompress(resp)) == len(want_resp)
    assert _ids(gzip.decompress(resp)) not in ids


def test_non_ascii_headers_are_written_by_warcio(tmp_path: Path) -> None:
    fr = result(raw_headers=(("Content-Type", "text/html"),
                             ("Content-Disposition", "inline; filename=ñandú.html")))
    writer = WarcWriter(tmp_path)
    name, _ = writer.write(fr)
    http = records(tmp_path / name)[1][2]
    assert http.get_header("Content-Disposition") == "inline; filename*=UTF-8''%C3%B1and%C3%BA.html"
    assert verify_files(tmp_path).ok


def test_b32_digest_is_base64_b32encode() -> None:
    import base64
    import random

    from crawler.evidence import _b32_digest

    rng = random.Random(8)
    for n in [0, 5, 20, 20, 20, 32, 3, 40, 64]:
        for _ in range(200):
            digest = bytes(rng.randrange(256) for _ in range(n))
            assert _b32_digest(digest) == base64.b32encode(digest).decode()
    for edge in (b"\x00" * 20, b"\xff" * 20):
        assert _b32_digest(edge) == base64.b32encode(edge).decode()


@pytest.mark.parametrize("level", [0, 1, 2, 3, 6, 9])
def test_gzip_members_decompress_to_their_input_at_every_level(level: int) -> None:
    import random
    import zlib

    from crawler.evidence import _gzip

    rng = random.Random(level)
    inputs = [b"", HTML, HTML * 400, bytes(range(256)) * 40,
              bytes(rng.randrange(256) for _ in range(70_000)),
              b"".join(rng.choice([b"phone ", b"<div>", b"\r\n", b"\xc3\xa9"])
                       for _ in range(9000))]
    for data in inputs:
        member = _gzip(data, level)
        d = zlib.decompressobj(wbits=31)
        assert d.decompress(member) == data
        assert d.eof and not d.unused_data  # exactly one gzip member (CRC checked)


def test_write_ref_fsyncs_the_file_its_manifest_and_the_new_directory_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    writer = WarcWriter(tmp_path / "ev")
    ref = writer.write_ref(result())
    name = ref["file"]
    assert str(tmp_path / "ev") in synced  # the directory, once: the files' names are durable
    assert str(tmp_path / "ev" / name) in synced
    assert str(tmp_path / "ev" / (name + ".manifest")) in synced
    synced.clear()
    writer.write_ref(result(url="http://127.0.0.1:9/b"))
    assert sorted(synced) == sorted([str(tmp_path / "ev" / name),
                                     str(tmp_path / "ev" / (name + ".manifest"))])
    writer.close()


def test_rotation_keeps_the_previous_file_locked_and_closes_older_ones(tmp_path: Path) -> None:
    import fcntl
    import os

    def locked(path: Path) -> bool:
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    writer = WarcWriter(tmp_path, max_bytes=10)  # every pair fills a file
    names = [writer.write_ref(result(url=f"http://127.0.0.1:9/{i}"))["file"] for i in range(4)]
    assert len(set(names)) == 4
    assert [locked(tmp_path / n) for n in names] == [False, False, False, True]
    fifth = writer.write_ref(result(url="http://127.0.0.1:9/x"))["file"]
    assert (locked(tmp_path / names[3]), locked(tmp_path / fifth)) == (False, True)
    writer.close()
    assert not any(locked(p) for p in tmp_path.glob("*.warc.gz"))
    assert verify_files(tmp_path).ok
