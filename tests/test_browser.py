"""The review pages in a real browser (Playwright driving Debian's Chromium, headless).

Logs in, opens the queue, opens a hit whose page title is a <script>, checks the highlighted
spans and that no page script ran, confirms with the keyboard, and reads the audit log back.
Takes a screenshot of the hit page; with TRIAGE_UPDATE_SCREENSHOT=1 it replaces
docs/screenshot-hit.png (the one the README shows), otherwise it goes to the test's tmp dir.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from crawler.api.auth import Reviewers
from tests.test_api_support import LiveServer, access, add_hit

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot-hit.png"
PASSWORD = "a long test password"
EVIL_TITLE = '<script>window.__pwned = 1; document.title = "pwned"</script> New girls in town'
BODY = (
    "New girls in town, 19 and 21, just arrived from abroad.\n"
    "Outcall only. No calls: text my driver on +49 151 12345678 for appointments.\n"
    "<img src=http://127.0.0.1:9/track.png> Payment in advance. Text my driver, not the girls."
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason="needs Debian's chromium (apt-get install -y chromium)"),
]


async def _setup(store: Any) -> dict[str, int]:
    evil = await add_hit(store, title=EVIL_TITLE, body=BODY, score=8.5,
                         phone="+49 151 12345678")
    other = await add_hit(store, title="Second ad, same phone",
                          body="Call +49 151 12345678 or text my driver", score=4.0,
                          phone="+49 151 12345678")
    return {"evil": evil, "other": other}


def test_review_a_hostile_hit_with_the_keyboard(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    reviewers = tmp_path / "reviewers.json"
    Reviewers(reviewers).add("ana", PASSWORD)
    with LiveServer(tmp_path / "b.db", tmp_path / "rules", access(reviewers=reviewers),
                    setup=_setup) as server, sync_api.sync_playwright() as pw:
        ids = server.setup_result
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1100})
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text else None)

            page.goto(server.url + "/queue")
            assert page.url.startswith(server.url + "/login")
            page.fill("input[name=name]", "ana")
            page.fill("input[name=password]", PASSWORD)
            page.click("form.login button[type=submit]")
            page.wait_for_url(server.url + "/queue")

            titles = page.locator("td.title a").all_inner_texts()
            assert titles[0] == EVIL_TITLE  # shown as text, first by score
            page.click(f"a[href='/hits/{ids['evil']}'] >> nth=1")
            page.wait_for_url(server.url + f"/hits/{ids['evil']}")

            assert page.locator("h1#hit-title").inner_text() == EVIL_TITLE
            assert page.evaluate("window.__pwned") is None
            assert page.title() != "pwned"
            scripts = page.evaluate(
                "Array.from(document.scripts).map(s => s.getAttribute('src'))")
            assert scripts == ["/static/app.js"]
            assert page.locator("img").count() == 0
            marks = page.locator("pre.page-text[data-scope=body] mark.hl").all_inner_texts()
            assert marks == ["text my driver", "Text my driver"]
            assert "<img src=http://127.0.0.1:9/track.png>" in page.locator(
                "pre.page-text[data-scope=body]").inner_text()
            assert page.locator(".linked li a").inner_text() == "Second ad, same phone"

            shot = SCREENSHOT if os.environ.get("TRIAGE_UPDATE_SCREENSHOT") == "1" else (
                tmp_path / "screenshot-hit.png")
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            page.keyboard.press("c")
            page.wait_for_url(server.url + f"/hits/{ids['other']}")

            audit = page.request.get(server.url + f"/api/audit?hit={ids['evil']}").json()
            reviews = [a for a in audit if a["action"] == "review"]
            assert [(a["actor"], a["from"], a["to"]) for a in reviews] == [
                ("ana", "pending", "confirmed")]
            assert violations == []
        finally:
            browser.close()
