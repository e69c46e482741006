"""The bundled demo site: a real loopback server, its seed list, and what its pages contain."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from protego import Protego

from crawler.demo.pages import (
    IMAGE_PATH,
    NETWORK_PHONE,
    NETWORK_WALLET,
    PAGES,
    PRIVATE_PAGE,
    REDIRECT_PATH,
    REDIRECT_TARGET,
)
from crawler.demo.site import ROBOTS_TXT, DemoSite, demo_seeds_path, routes, seed_text
from crawler.entities import extract_entities
from crawler.extract import extract
from crawler.models import Document
from crawler.seeds import read_seed_file

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoSite]:
    with DemoSite("127.0.0.1", 0) as site:
        yield site


def fetch(site: DemoSite, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def page_document(path: str) -> Document:
    _, headers, body = routes()[path]
    media, _, charset = headers["Content-Type"].partition("; charset=")
    return extract(body, url="http://127.0.0.1:8765" + path, content_type=media, charset=charset)


def test_index_links_every_page_but_not_the_private_one(demo: DemoSite) -> None:
    status, headers, body = fetch(demo, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    doc = extract(body, url=demo.url("/"), content_type="text/html")
    assert {demo.url(p.path) for p in PAGES} <= set(doc.links)
    assert demo.url(PRIVATE_PAGE.path) not in doc.links
    assert len(PAGES) >= 20


def test_robots_allows_everything_but_private(demo: DemoSite) -> None:
    status, _headers, body = fetch(demo, "/robots.txt")
    assert status == 200 and body == ROBOTS_TXT
    robots = Protego.parse(body.decode())
    assert not robots.can_fetch(demo.url(PRIVATE_PAGE.path), "triage")
    for page in PAGES:
        assert robots.can_fetch(demo.url(page.path), "triage"), page.path


def test_image_is_served_as_jpeg(demo: DemoSite) -> None:
    status, headers, body = fetch(demo, IMAGE_PATH)
    assert status == 200 and headers["content-type"] == "image/jpeg"
    assert body.startswith(b"\xff\xd8\xff")


def test_redirect_points_at_an_ad(demo: DemoSite) -> None:
    status, headers, _ = fetch(demo, REDIRECT_PATH)
    assert status == 301 and headers["location"] == REDIRECT_TARGET
    assert fetch(demo, REDIRECT_TARGET)[0] == 200


def test_unknown_path_is_404_and_head_has_no_body(demo: DemoSite) -> None:
    assert fetch(demo, "/nope.html")[0] == 404
    status, headers, body = fetch(demo, PAGES[0].path, method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_requests_are_logged(demo: DemoSite) -> None:
    fetch(demo, "/ads/lyon-agence.html?x=1")
    assert "/ads/lyon-agence.html" in demo.requests


def test_a_page_is_served_in_windows_1251(demo: DemoSite) -> None:
    _status, headers, body = fetch(demo, "/ads/kyiv-salon.html")
    assert headers["content-type"] == "text/html; charset=windows-1251"
    assert "Новенькие девушки" in body.decode("cp1251")


def test_every_page_extracts_in_its_language() -> None:
    for page in (*PAGES, PRIVATE_PAGE):
        doc = page_document(page.path)
        assert doc.warnings == (), page.path
        assert doc.language == page.lang, page.path
        assert doc.title.startswith(page.title.split(" {")[0]), page.path
        assert "cheap flights" not in doc.body  # the hidden SEO block is not visible text


def test_pages_share_one_phone_and_one_wallet() -> None:
    phone = "+" + "".join(c for c in NETWORK_PHONE if c.isdigit())
    by_value: dict[str, set[str]] = {}
    for page in PAGES:
        for entity in extract_entities(page_document(page.path)):
            by_value.setdefault(entity.value, set()).add(page.path)
    assert len(by_value[phone]) >= 3
    assert len(by_value[NETWORK_WALLET]) >= 3


def test_positives_and_hard_negatives_with_the_shipped_rules() -> None:
    from crawler.rules import load_ruleset

    ruleset = load_ruleset()
    for page in PAGES:
        doc = page_document(page.path)
        evaluation = ruleset.evaluate(doc, extract_entities(doc))
        fired = {i.family for i in evaluation.indicators}
        if page.families:
            assert evaluation.flagged, page.path
            assert set(page.families) <= fired, (page.path, fired)
        else:
            assert not evaluation.flagged, (page.path, fired)
    combined = [p for p in PAGES if len(p.families) >= 2]
    assert len(combined) >= 5


def test_shipped_demo_seeds_match_the_site() -> None:
    assert (ROOT / "seeds" / "demo.txt").read_text(encoding="utf-8") == seed_text(
        "http://127.0.0.1:8765"
    )


def test_demo_seeds_parse_with_one_reject_and_one_duplicate() -> None:
    parsed = read_seed_file(ROOT / "seeds" / "demo.txt")
    assert parsed.duplicates == 1
    [reject] = parsed.rejects
    assert reject.reason.startswith("not http(s)") and reject.line > 1
    urls = {s.url for s in parsed.seeds}
    base = "http://127.0.0.1:8765"
    for path in (IMAGE_PATH, REDIRECT_PATH, PRIVATE_PAGE.path, "/", *(p.path for p in PAGES)):
        assert base + path in urls
    assert len(urls) == len(PAGES) + 4


def test_seeds_for_another_port_are_generated(tmp_path: Path) -> None:
    path = demo_seeds_path(18766)
    assert "http://127.0.0.1:18766/ads/" in path.read_text(encoding="utf-8")
    assert demo_seeds_path() == ROOT / "seeds" / "demo.txt"


def test_site_can_be_restarted_on_a_fresh_port() -> None:
    with DemoSite("127.0.0.1", 0) as site:
        assert fetch(site, "/")[0] == 200
    with pytest.raises(RuntimeError):
        _ = site.port


def test_run_forever_serves_until_interrupted() -> None:
    import signal
    import subprocess
    import sys

    code = "from crawler.demo.site import run_forever; run_forever('127.0.0.1', 0)"
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("triage demo site on http://127.0.0.1:")
            port = int(first.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/robots.txt")
            assert conn.getresponse().read() == ROBOTS_TXT
            conn.close()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
