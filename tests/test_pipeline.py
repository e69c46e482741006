"""The whole path on a real loopback site: seeds -> fetch -> extract -> rules -> SQLite queue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import LoopbackSite

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "tests" / "pipeline_rules"

HANDLER_AND_CRYPTO = (
    "<html><head><title>Anna, new</title></head><body><p>Sweet and discreet.</p>"
    "<p>Text my driver for bookings. Bitcoin only, no cash.</p></body></html>"
)
HANDLER_ONLY = (
    "<html><head><title>Mia</title></head><body><p>Call my driver, she does not speak English."
    "</p></body></html>"
)
ORDINARY = "<html><head><title>Bakery</title></head><body><p>Fresh bread daily.</p></body></html>"


def triage(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would; WARC evidence lands in `cwd` (default: a fresh temp dir)."""
    full_env = {**os.environ, "TRIAGE_ALLOW_CIDRS": "127.0.0.1/32", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd or tempfile.mkdtemp(prefix="triage-test-"),
    )


def build_site(site: LoopbackSite) -> list[str]:
    site.route("/ad/1", HANDLER_AND_CRYPTO)
    site.route("/ad/2", HANDLER_ONLY)
    site.route("/bakery", ORDINARY)
    site.route("/photo.html", b"\xff\xd8\xff\xe0" + b"0" * 100, content_type="image/jpeg")
    site.route("/moved", status=301, headers={"Location": "/ad/2"}, content_type="text/plain")
    site.route("/hop1", status=302, headers={"Location": "/hop2"}, content_type="text/plain")
    site.route("/hop2", status=302, headers={"Location": "/bakery"}, content_type="text/plain")
    site.route("/big", b"<html><body>" + b"a " * (3 * 1024 * 1024) + b"</body></html>")
    site.route(
        "/cp1251",
        "<html><head><meta charset='utf-8'><title>Объявление</title></head><body><div><p>Текст "
        "text my driver<b><i></p></div><table><tr><td>broken".encode("cp1251"),
        content_type="text/html",
    )
    return [
        site.url("/ad/1"),
        site.url("/ad/2"),
        site.url("/bakery"),
        site.url("/photo.html"),
        site.url("/moved"),
        site.url("/hop1"),
        site.url("/big"),
        site.url("/cp1251"),
        site.url("/missing"),
    ]


def crawl_args(seeds: Path, db: Path, *extra: str) -> list[str]:
    """`triage crawl` on one seed file with the test rules, politeness off for the test site."""
    return [
        "crawl",
        str(seeds),
        "--db",
        str(db),
        "--rules",
        str(RULES),
        "--per-host-rps",
        "0",
        "--no-progress",
        *extra,
    ]


def write_seeds(path: Path, urls: list[str], extra: str = "") -> Path:
    path.write_text("# test seeds\n\n" + "\n".join(urls) + "\n" + extra, encoding="utf-8")
    return path


def urls_json(db: Path) -> list[dict[str, object]]:
    out = triage("urls", "--db", str(db), "--format", "json")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def hit_records(db: Path | str) -> list[dict[str, Any]]:
    from storage import open_store

    async def load() -> list[dict[str, Any]]:
        async with open_store(str(db)) as store:
            return [h.to_json() for h in await store.list_hits(status=None)]

    return asyncio.run(load())


def hits(db: Path) -> set[tuple[str, str]]:
    return {(h["url"], h["content_sha256"]) for h in hit_records(db)}


def test_crawl_gives_every_seed_one_final_state_with_a_reason(
    site: LoopbackSite, tmp_path: Path
) -> None:
    urls = build_site(site)
    seeds = write_seeds(tmp_path / "seeds.txt", [*urls, urls[0]], "ftp://nope.example/\n")
    db = tmp_path / "t.db"
    out = triage(
        *crawl_args(seeds, db),
        "--log-format",
        "json",
        env={"TRIAGE_MAX_BODY_BYTES": str(2 * 1024 * 1024)},
    )
    assert out.returncode == 0, out.stderr
    assert "seeds.txt:" in out.stderr and "rejected" in out.stderr  # the ftp line, with its line no
    records = urls_json(db)
    by_url = {r["url"]: r for r in records}
    assert len(records) == len(urls)  # the duplicate line did not create a second URL
    for rec in records:
        assert rec["state"] in {"done", "refused", "failed"}, rec
        assert rec["reason"], rec
    assert by_url[site.url("/photo.html")]["state"] == "refused"
    assert by_url[site.url("/photo.html")]["reason"] == "content_type"
    assert by_url[site.url("/big")]["reason"] == "too_large"
    assert by_url[site.url("/missing")]["reason"] == "http_status"
    assert by_url[site.url("/hop1")]["state"] == "done"
    assert by_url[site.url("/hop1")]["final_url"] == site.url("/bakery")
    # the image body was refused unread; every other URL was fetched once
    assert site.paths().count("/ad/1") == 1


def test_crawl_flags_pages_with_evidence(site: LoopbackSite, tmp_path: Path) -> None:
    urls = build_site(site)
    db = tmp_path / "t.db"
    out = triage(
        *crawl_args(write_seeds(tmp_path / "s.txt", urls), db),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = hit_records(db)
    flagged = {r["url"]: r for r in rows}
    assert set(flagged) == {
        site.url("/ad/1"),
        site.url("/ad/2"),
        site.url("/moved"),
        site.url("/cp1251"),
    }
    top = flagged[site.url("/ad/1")]
    assert top["priority"] == "high" and top["score"] == 5
    indicators = top["indicators"]
    assert {i["rule_id"] for i in indicators} == {"test.handler.driver", "test.crypto.only"}
    crypto = next(i for i in indicators if i["rule_id"] == "test.crypto.only")
    assert crypto["rule_version"] == 2
    span = crypto["evidence"][0]
    assert span["text"].lower() == "bitcoin only" and span["scope"] == "body"
    # the wrong charset page was decoded well enough to match its Latin phrase
    assert flagged[site.url("/cp1251")]["priority"] == "medium"
    # the exact responses of flagged pages are in WARC files that verify
    assert list((tmp_path / "evidence").glob("*.warc.gz"))
    verify = triage("evidence", "verify", "--db", str(db), cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_strict_fails_before_fetching_anything(site: LoopbackSite, tmp_path: Path) -> None:
    urls = build_site(site)
    seeds = write_seeds(tmp_path / "s.txt", urls, "not a url at all\n")
    out = triage(
        "crawl", str(seeds), "--db", str(tmp_path / "t.db"), "--rules", str(RULES), "--strict"
    )
    assert out.returncode == 2
    assert "s.txt:" in out.stderr and "strict" in out.stderr
    assert "Traceback" not in out.stderr
    assert site.requests == []


def test_second_crawl_does_not_refetch_finished_urls(site: LoopbackSite, tmp_path: Path) -> None:
    urls = build_site(site)
    seeds = write_seeds(tmp_path / "s.txt", urls)
    db = tmp_path / "t.db"
    args = crawl_args(seeds, db)
    assert triage(*args).returncode == 0
    first = hits(db)
    n = len(site.requests)
    again = triage(*args)
    assert again.returncode == 0, again.stderr
    assert len(site.requests) == n
    assert hits(db) == first


@pytest.mark.slow
def test_kill_9_then_resume_ends_with_the_same_hits(tmp_path: Path) -> None:
    """SIGKILL part way, resume: same hits as an uninterrupted crawl, nothing finished refetched."""
    with LoopbackSite() as site:
        pages = []
        for i in range(60):
            body = HANDLER_AND_CRYPTO if i % 3 == 0 else (HANDLER_ONLY if i % 3 == 1 else ORDINARY)
            pages.append(site.route(f"/p/{i}", body.replace("Anna", f"Anna {i}")))
        seeds = write_seeds(tmp_path / "s.txt", pages)
        common = [
            "--rules",
            str(RULES),
            "--per-host-rps",
            "40",
            "--per-host-concurrency",
            "2",
            "--no-progress",
            "--log-format",
            "json",
        ]

        reference = tmp_path / "ref.db"
        assert triage("crawl", str(seeds), "--db", str(reference), *common).returncode == 0
        site.requests.clear()

        db = tmp_path / "t.db"
        env = {**os.environ, "TRIAGE_ALLOW_CIDRS": "127.0.0.1/32"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", str(seeds), "--db", str(db), *common],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while len(site.requests) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at = len(site.requests)
        assert 0 < killed_at < 60, "the kill should land part way through"
        finished = {
            str(r["url"]) for r in urls_json(db) if r["state"] not in ("queued", "fetching")
        }
        resumed = triage("crawl", "--db", str(db), *common)
        assert resumed.returncode == 0, resumed.stderr
        refetched = {site.url(r.path) for r in site.requests[killed_at:]}
        assert not (refetched & finished), "a URL finished before the kill was fetched again"
        assert hits(db) == hits(reference)
        states = {r["state"] for r in urls_json(db)}
        assert states == {"done"}
