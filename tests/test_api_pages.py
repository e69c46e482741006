"""Review pages: login, queue, hit page escaping and highlighting, CSRF-protected verdicts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crawler.api.auth import Reviewers
from tests.test_api_support import access, add_hit, api_client, make_rules, open_test_store

PASSWORD = "correct horse battery"
EVIL = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    async with open_test_store(tmp_path / "t.db") as s:
        yield s


@pytest.fixture
def reviewers_file(tmp_path: Path) -> Path:
    path = tmp_path / "reviewers.json"
    Reviewers(path).add("ana", PASSWORD)
    return path


@pytest.fixture
async def client(
    store: Any, tmp_path: Path, reviewers_file: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(store, make_rules(tmp_path / "rules"),
                          access(reviewers=reviewers_file)) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


async def login(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    return await client.post("/login", data={
        "name": "ana", "password": password, "csrf": csrf_of(page.text), "next": "/queue"})


async def test_pages_redirect_to_login_without_a_session(client: httpx.AsyncClient) -> None:
    r = await client.get("/queue?status=all")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fqueue%3Fstatus%3Dall"


async def test_login_with_the_right_password(client: httpx.AsyncClient) -> None:
    r = await login(client)
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    queue = await client.get("/queue")
    assert queue.status_code == 200 and "ana" in queue.text


async def test_login_with_a_wrong_password_is_401(client: httpx.AsyncClient) -> None:
    r = await login(client, "wrong password!")
    assert r.status_code == 401 and "Wrong name or password" in r.text
    assert (await client.get("/queue")).status_code == 303


async def test_login_without_csrf_is_403(client: httpx.AsyncClient) -> None:
    r = await client.post("/login", data={"name": "ana", "password": PASSWORD, "csrf": "x"})
    assert r.status_code == 403


async def test_login_never_redirects_off_site(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    r = await client.post("/login", data={"name": "ana", "password": PASSWORD,
                                          "csrf": csrf_of(page.text), "next": "//evil.example/"})
    assert r.headers["location"] == "/queue"


async def test_session_cookie_is_httponly_and_samesite(client: httpx.AsyncClient) -> None:
    r = await client.get("/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


async def test_queue_shows_a_script_title_as_text(
    client: httpx.AsyncClient, store: Any
) -> None:
    await add_hit(store, title=EVIL)
    await login(client)
    html = (await client.get("/queue")).text
    assert "<script>document" not in html and "<img src=x" not in html
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html


async def test_hit_page_highlights_spans_and_escapes_text(
    client: httpx.AsyncClient, store: Any
) -> None:
    body = "<b>Two</b> new girls. Text my driver & wait."
    hit = await add_hit(store, title=EVIL, body=body)
    await login(client)
    r = await client.get(f"/hits/{hit}")
    assert r.status_code == 200
    html = r.text
    assert "<script>document" not in html and "<b>Two</b>" not in html
    assert ('&lt;b&gt;Two&lt;/b&gt; new girls. <mark class="hl" title="test.driver">'
            'Text my driver</mark> &amp; wait.') in html
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_hit_page_lists_linked_pages(client: httpx.AsyncClient, store: Any) -> None:
    a = await add_hit(store, body="Call 015112345678 text my driver", phone="015112345678")
    b = await add_hit(store, title="other ad", body="015112345678: text my driver",
                      phone="015112345678")
    await login(client)
    html = (await client.get(f"/hits/{a}")).text
    assert f'<a href="/hits/{b}">other ad</a>' in html


async def test_verdict_form_needs_csrf(client: httpx.AsyncClient, store: Any) -> None:
    hit = await add_hit(store)
    await login(client)
    r = await client.post(f"/hits/{hit}/review", data={"verdict": "confirmed", "csrf": "nope"})
    assert r.status_code == 403
    assert (await store.get_hit(hit)).status == "pending"


async def test_verdict_form_moves_to_the_next_hit_and_audits_the_reviewer(
    client: httpx.AsyncClient, store: Any
) -> None:
    first = await add_hit(store, score=9)
    second = await add_hit(store, score=3)
    await login(client)
    page = await client.get(f"/hits/{first}")
    r = await client.post(f"/hits/{first}/review",
                          data={"verdict": "dismissed", "csrf": csrf_of(page.text), "note": "ad"})
    assert r.status_code == 303 and r.headers["location"] == f"/hits/{second}"
    entry = (await store.list_audit(hit_id=first))[-1]
    assert (entry.actor, entry.to_value, entry.note) == ("ana", "dismissed", "ad")


async def test_assign_form(client: httpx.AsyncClient, store: Any) -> None:
    hit = await add_hit(store)
    await login(client)
    page = await client.get(f"/hits/{hit}")
    r = await client.post(f"/hits/{hit}/assign",
                          data={"assignee": "bo", "csrf": csrf_of(page.text)})
    assert r.status_code == 303
    assert (await store.get_hit(hit)).assignee == "bo"


async def test_static_assets_are_served_from_the_app(client: httpx.AsyncClient) -> None:
    js = await client.get("/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/static/app.css")).headers["content-type"].startswith("text/css")
    assert (await client.get("/static/..%2Fapp.py")).status_code == 404


async def test_unknown_hit_page_is_404(client: httpx.AsyncClient) -> None:
    await login(client)
    assert (await client.get("/hits/999")).status_code == 404


async def test_a_reviewer_added_while_running_can_log_in(
    client: httpx.AsyncClient, reviewers_file: Path
) -> None:
    Reviewers(reviewers_file).add("bo", "another long password")
    page = await client.get("/login")
    r = await client.post("/login", data={"name": "bo", "password": "another long password",
                                          "csrf": csrf_of(page.text)})
    assert r.status_code == 303


async def test_network_page_lists_members_as_text(
    store: Any, tmp_path: Path, reviewers_file: Path
) -> None:
    phone = "+4915112345678"
    a = await add_hit(store, title="one", body=f"{EVIL} {phone} text my driver", phone=phone)
    await add_hit(store, title="two", body=f"call {phone}, text my driver", phone=phone)
    async with api_client(store, make_rules(tmp_path / "rules"), access(reviewers=reviewers_file),
                          networks=True) as c:
        await login(c)
        hit_html = (await c.get(f"/hits/{a}")).text
        found = re.search(r'href="/networks/(\d+)"', hit_html)
        assert found, "hit page links its network"
        r = await c.get(f"/networks/{found.group(1)}")
        assert r.status_code == 200
        assert f"<code>{phone}</code> on 2 pages" in r.text
        assert f'<a href="/hits/{a}">' in r.text
        assert (await c.get("/networks/424242")).status_code == 404


async def test_previous_and_next_links_across_queue_pages(
    client: httpx.AsyncClient, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.api import pages

    monkeypatch.setattr(pages, "NEIGHBOUR_PAGE", 2)
    ids = [await add_hit(store, score=10 - n) for n in range(5)]  # queue order = ids
    await login(client)

    def links(html: str) -> tuple[str | None, str | None]:
        prev = re.search(r'rel="prev" href="/hits/(\d+)"', html)
        nxt = re.search(r'rel="next" href="/hits/(\d+)"', html)
        return (prev.group(1) if prev else None), (nxt.group(1) if nxt else None)

    for i, hit in enumerate(ids):
        want_prev = str(ids[i - 1]) if i > 0 else None
        want_next = str(ids[i + 1]) if i + 1 < len(ids) else None
        assert links((await client.get(f"/hits/{hit}")).text) == (want_prev, want_next)


async def test_hit_page_explains_why_the_rule_fired(client: httpx.AsyncClient, store: Any) -> None:
    hit = await add_hit(store)
    await login(client)
    html = (await client.get(f"/hits/{hit}")).text
    assert "Fires when: <code>driver</code>" in html  # the condition of test.driver
