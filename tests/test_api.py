"""The JSON API: every route's happy path and its bad-input answer (4xx with a JSON body)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_api_support import (
    BROKEN_RULE,
    TOKEN,
    access,
    add_hit,
    api_client,
    make_rules,
    open_test_store,
    write_rules,
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Any]:
    async with open_test_store(tmp_path / "t.db") as s:
        yield s


@pytest.fixture
def rules(tmp_path: Path) -> Any:
    return make_rules(tmp_path / "rules")


@pytest.fixture
async def client(store: Any, rules: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(store, rules) as c:
        yield c


def is_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert "error" in response.json()


# --------------------------------------------------------------------------- operations


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


async def test_readyz_reports_store_and_rules(client: httpx.AsyncClient, rules: Any) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"store": "ok", "rules": "ok"}
    assert r.json()["ruleset_version"] == str(rules.current.version)


async def test_readyz_is_503_when_the_store_is_closed(tmp_path: Path, rules: Any) -> None:
    async with open_test_store(tmp_path / "c.db") as s:
        async with api_client(s, rules) as c:
            await s.close()
            r = await c.get("/readyz")
    assert r.status_code == 503 and r.json()["ready"] is False


async def test_metrics_expose_queue_hits_and_ruleset(
    client: httpx.AsyncClient, store: Any
) -> None:
    await add_hit(store, priority="high")
    r = await client.get("/metrics")
    assert r.status_code == 200
    text = r.text
    assert 'triage_urls{state="done"} 1.0' in text
    assert 'triage_hits{priority="high",status="pending"} 1.0' in text
    assert "triage_ruleset_info{version=" in text
    assert "triage_fetch_seconds_bucket" in text


async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/api/hits", "/queue", "/api/hits/999"):
        r = await client.get(path)
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


async def test_openapi_is_published(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/hits/{hit_id}/review" in spec["paths"]
    assert "/api/rules/reload" in spec["paths"]


# --------------------------------------------------------------------------- batches


async def test_post_json_urls_makes_a_batch_with_a_receipt(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/batches", json={
        "source": "ops.txt", "urls": ["https://example.org/a", "not a url", "https://example.org/a"]
    })
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["accepted"] == 1 and receipt["rejected"] == 1
    assert receipt["already_submitted"] is False
    assert receipt["rejects"][0]["line"] == 2


async def test_same_content_twice_is_one_batch(client: httpx.AsyncClient) -> None:
    body = {"text": "https://example.org/x\n"}
    first = await client.post("/api/batches", json=body)
    again = await client.post("/api/batches", json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["already_submitted"] is True
    assert again.json()["batch_id"] == first.json()["batch_id"]


async def test_file_upload_without_token_needs_csrf(client: httpx.AsyncClient) -> None:
    # A multipart body can come from a cross-site form: without a bearer token it needs the
    # session's CSRF token.
    r = await client.post(
        "/api/batches", files={"file": ("list.txt", b"https://example.org/u1\n", "text/plain")}
    )
    is_error(r, 403)


async def test_post_file_upload_with_token(store: Any, rules: Any) -> None:
    async with api_client(store, rules, access(token=TOKEN)) as c:
        r = await c.post("/api/batches",
                         files={"file": ("../../etc/list.txt", b"https://example.org/u1\n")},
                         headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "list.txt"
    assert r.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"https://example.org", "headers": {"content-type": "text/plain"}}, 415),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
        ({"json": {"urls": ["https://a.example"], "text": "x"}}, 422),
        ({"json": {}}, 422),
        ({"json": {"urls": "https://a.example"}}, 422),
        ({"json": {"text": "https://a.example/\u0000"}}, 422),
        ({"json": {"source": "a/b", "text": "https://a.example/"}}, 422),
    ],
)
async def test_bad_batches_are_4xx(
    store: Any, rules: Any, kwargs: dict[str, Any], status: int
) -> None:
    headers = {**kwargs.pop("headers", {}), "authorization": f"Bearer {TOKEN}"}
    async with api_client(store, rules, access(token=TOKEN)) as c:
        r = await c.post("/api/batches", headers=headers, **kwargs)
    is_error(r, status)


async def test_batch_list_and_progress(client: httpx.AsyncClient) -> None:
    made = (await client.post("/api/batches", json={"urls": ["https://example.org/p"]})).json()
    listed = (await client.get("/api/batches")).json()
    assert [b["batch_id"] for b in listed] == [made["batch_id"]]
    one = (await client.get(f"/api/batches/{made['batch_id']}")).json()
    assert one["progress"]["queued"] == 1
    is_error(await client.get("/api/batches/999"), 404)
    is_error(await client.get("/api/batches/0"), 422)
    is_error(await client.get("/api/batches/abc"), 422)


# --------------------------------------------------------------------------- urls and hits


async def test_urls_with_state_filter(client: httpx.AsyncClient, store: Any) -> None:
    await add_hit(store)
    await client.post("/api/batches", json={"urls": ["https://example.org/q"]})
    done = (await client.get("/api/urls", params={"state": "done"})).json()
    queued = (await client.get("/api/urls", params={"state": "queued"})).json()
    assert len(done) == 1 and done[0]["reason"] == "ok"
    assert [u["url"] for u in queued] == ["https://example.org/q"]
    is_error(await client.get("/api/urls", params={"state": "nope"}), 422)
    is_error(await client.get("/api/urls", params={"limit": 0}), 422)


async def test_hits_filters_and_pagination(client: httpx.AsyncClient, store: Any) -> None:
    high = await add_hit(store, priority="high", score=9, title="alpha")
    low = await add_hit(store, priority="low", score=1, title="bravo")
    mid = await add_hit(store, priority="medium", score=4, title="charlie",
                        body="charlie says text my driver now", family="movement")
    page = (await client.get("/api/hits", params={"limit": 2})).json()
    assert [h["id"] for h in page["items"]] == [high, mid]
    assert page["next_offset"] == 2
    rest = (await client.get("/api/hits", params={"limit": 2, "offset": 2})).json()
    assert [h["id"] for h in rest["items"]] == [low] and rest["next_offset"] is None
    by_prio = (await client.get("/api/hits", params={"priority": "low"})).json()["items"]
    assert [h["id"] for h in by_prio] == [low]
    by_family = (await client.get("/api/hits", params={"family": "movement"})).json()["items"]
    assert [h["id"] for h in by_family] == [mid]
    by_text = (await client.get("/api/hits", params={"q": "charlie"})).json()["items"]
    assert [h["id"] for h in by_text] == [mid]


@pytest.mark.parametrize(
    "params",
    [{"priority": "urgent"}, {"status": "x"}, {"limit": 501}, {"offset": -1},
     {"family": "a b"}, {"q": "x" * 201}, {"batch": 0}, {"q": "a\u0000b"}],
)
async def test_bad_hit_filters_are_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    is_error(await client.get("/api/hits", params=params), 422)


async def test_hit_detail_has_evidence_text_and_linked_pages(
    client: httpx.AsyncClient, store: Any
) -> None:
    a = await add_hit(store, body="Call +4915112345678, text my driver", phone="+4915112345678")
    b = await add_hit(store, body="New number +4915112345678. Text my driver.",
                      phone="+4915112345678")
    await add_hit(store)  # unrelated
    hit = (await client.get(f"/api/hits/{a}")).json()
    assert hit["indicators"][0]["evidence"][0]["text"] == "text my driver"
    assert hit["text"]["body"] == "Call +4915112345678, text my driver"
    assert hit["entities"][0]["value"] == "+4915112345678"
    assert [(x["hit_id"], x["shared"]) for x in hit["linked"]] == [(b, ["+4915112345678"])]
    is_error(await client.get("/api/hits/424242"), 404)
    is_error(await client.get("/api/hits/-1"), 422)


# --------------------------------------------------------------------------- review


async def test_review_writes_status_and_audit(client: httpx.AsyncClient, store: Any) -> None:
    hit = await add_hit(store)
    r = await client.post(f"/api/hits/{hit}/review", json={"verdict": "confirmed", "note": "ok"})
    assert r.status_code == 200, r.text
    assert (await store.get_hit(hit)).status == "confirmed"
    audit = (await client.get("/api/audit", params={"hit": hit})).json()
    review = [a for a in audit if a["action"] == "review"]
    assert review[-1]["actor"] == "local" and review[-1]["to"] == "confirmed"
    assert review[-1]["note"] == "ok"


@pytest.mark.parametrize(
    "body", [{"verdict": "guilty"}, {}, {"verdict": "confirmed", "note": "x" * 4001}, [1]]
)
async def test_bad_reviews_are_422(client: httpx.AsyncClient, store: Any, body: Any) -> None:
    hit = await add_hit(store)
    is_error(await client.post(f"/api/hits/{hit}/review", json=body), 422)


async def test_review_of_unknown_hit_is_404(client: httpx.AsyncClient) -> None:
    is_error(await client.post("/api/hits/77/review", json={"verdict": "dismissed"}), 404)


async def test_assign_and_note_are_audited(client: httpx.AsyncClient, store: Any) -> None:
    hit = await add_hit(store)
    r = await client.post(f"/api/hits/{hit}/assign", json={"assignee": "ana"})
    assert r.status_code == 200, r.text
    assert (await store.get_hit(hit)).assignee == "ana"
    r = await client.post(f"/api/hits/{hit}/note", json={"note": "asked colleague"})
    assert r.status_code == 200, r.text
    actions = [(a["action"], a["note"]) for a in (await client.get(
        "/api/audit", params={"hit": hit})).json()]
    assert ("assign", "") in actions or any(a == "assign" for a, _ in actions)
    assert any(note == "asked colleague" for _, note in actions)
    is_error(await client.post(f"/api/hits/{hit}/assign", json={"assignee": "a b"}), 422)
    is_error(await client.post(f"/api/hits/{hit}/note", json={"note": ""}), 422)
    is_error(await client.get("/api/audit", params={"hit": "x"}), 422)


# --------------------------------------------------------------------------- export


async def test_export_jsonl_and_csv(client: httpx.AsyncClient, store: Any) -> None:
    await add_hit(store, title="=HYPERLINK(\"http://evil\")")
    await add_hit(store, title="plain")
    lines = (await client.get("/api/export")).text.splitlines()
    assert len(lines) == 2 and all(json.loads(x)["indicators"] for x in lines)
    r = await client.get("/api/export", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    titles = sorted(row["title"] for row in rows)
    assert titles == ["'=HYPERLINK(\"http://evil\")", "plain"]
    is_error(await client.get("/api/export", params={"format": "xml"}), 422)


# --------------------------------------------------------------------------- rules


async def test_rules_in_force(client: httpx.AsyncClient, rules: Any) -> None:
    r = (await client.get("/api/rules")).json()
    assert r["version"] == str(rules.current.version)
    assert "test.driver" in json.dumps(r["rules"])


async def test_reload_without_json_or_token_is_refused(client: httpx.AsyncClient) -> None:
    # An empty cross-site POST (fetch no-cors) carries no content type: it must not pass.
    is_error(await client.post("/api/rules/reload"), 403)


async def test_reload_keeps_the_old_set_on_a_broken_edit(
    client: httpx.AsyncClient, rules: Any, tmp_path: Path
) -> None:
    before = (await client.get("/api/rules")).json()["version"]
    write_rules(tmp_path / "rules", BROKEN_RULE)
    r = await client.post("/api/rules/reload", json={})
    is_error(r, 422)
    assert r.json()["version"] == before and r.json()["problems"]
    assert (await client.get("/api/rules")).json()["version"] == before


async def test_reload_picks_up_a_good_edit(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    from tests.test_api_support import RULE

    before = (await client.get("/api/rules")).json()["version"]
    write_rules(tmp_path / "rules", RULE.replace("version: 1", "version: 2"))
    r = await client.post("/api/rules/reload", json={})
    assert r.status_code == 200, r.text
    assert r.json()["version"] != before


# --------------------------------------------------------------------------- access


async def test_token_is_required_when_configured(store: Any, rules: Any) -> None:
    async with api_client(store, rules, access(token=TOKEN)) as c:
        is_error(await c.get("/api/hits"), 401)
        is_error(await c.get("/api/hits", headers={"authorization": "Bearer wrong"}), 401)
        ok = await c.get("/api/hits", headers={"authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert (await c.get("/healthz")).status_code == 200


async def test_proxy_header_identity_goes_into_the_audit_log(store: Any, rules: Any) -> None:
    hit = await add_hit(store)
    async with api_client(store, rules, access(header="X-Remote-User")) as c:
        is_error(await c.post(f"/api/hits/{hit}/review", json={"verdict": "escalated"}), 401)
        r = await c.post(f"/api/hits/{hit}/review", json={"verdict": "escalated"},
                         headers={"x-remote-user": "maria"})
        assert r.status_code == 200
    entries = await store.list_audit(hit_id=hit)
    assert entries[-1].actor == "maria" and entries[-1].to_value == "escalated"


# --------------------------------------------------------------------------- networks

PHONE = "+4915112345678"


async def _network(store: Any) -> tuple[int, int]:
    a = await add_hit(store, title="Lena", body=f"Lena, call {PHONE}, text my driver",
                      phone=PHONE)
    await add_hit(store, priority="none", title="Mia",
                  body=f"Mia new in town {PHONE} text my driver", phone=PHONE)
    b = await add_hit(store, title="Unrelated", body="Text my driver for a ride")
    return a, b


async def test_networks_entities_and_linked_unflagged_pages(store: Any, rules: Any) -> None:
    a, _ = await _network(store)
    async with api_client(store, rules, networks=True) as c:
        nets = (await c.get("/api/networks")).json()
        assert [n["size"] for n in nets] == [2]
        net = (await c.get(f"/api/networks/{nets[0]['id']}")).json()
        assert [e["value"] for e in net["entities"]] == [PHONE]
        assert len(net["pages"]) == 2
        found = (await c.get("/api/entities", params={"value": PHONE})).json()
        assert len(found) == 1 and len(found[0]["pages"]) == 2
        hit = (await c.get(f"/api/hits/{a}")).json()
        assert hit["network"]["id"] == nets[0]["id"]
        assert [(x["hit_id"], x["shared"]) for x in hit["linked"]] == [(None, [PHONE])]
        is_error(await c.get("/api/networks/999999"), 404)
        is_error(await c.get("/api/networks", params={"min_size": 1}), 422)
        is_error(await c.get("/api/entities"), 422)


async def test_network_routes_need_a_network_view(client: httpx.AsyncClient) -> None:
    is_error(await client.get("/api/networks"), 503)


async def test_an_open_service_answers_only_loopback_host_names(client: httpx.AsyncClient) -> None:
    # DNS rebinding: evil.example re-pointed at 127.0.0.1 must not reach an unauthenticated queue
    is_error(await client.get("/api/hits", headers={"host": "evil.example"}), 421)
    is_error(await client.get("/queue", headers={"host": "evil.example:8000"}), 421)
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert (await client.get("/api/hits", headers={"host": host})).status_code == 200


async def test_with_auth_any_host_name_is_answered(store: Any, rules: Any) -> None:
    async with api_client(store, rules, access(token=TOKEN)) as c:
        r = await c.get("/api/hits", headers={"host": "triage.example",
                                              "authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
