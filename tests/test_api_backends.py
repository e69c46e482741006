"""The API's review workflow on each store backend (SQLite; PostgreSQL when .ci/run starts it)."""

from __future__ import annotations

from pathlib import Path

from tests.test_api_support import add_hit, api_client, make_rules, open_test_store
from tests.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)


async def test_queue_review_audit_and_batches_on_each_backend(
    db_url: str, tmp_path: Path  # noqa: F811
) -> None:
    async with open_test_store(db_url) as store:
        high = await add_hit(store, priority="high", score=7, phone="+4915112345678",
                             body="+4915112345678 text my driver")
        low = await add_hit(store, priority="low", score=1, phone="+4915112345678",
                            body="text my driver at +4915112345678")
        async with api_client(store, make_rules(tmp_path / "rules"), networks=True) as c:
            queue = (await c.get("/api/hits")).json()["items"]
            assert [h["id"] for h in queue] == [high, low]
            detail = (await c.get(f"/api/hits/{high}")).json()
            assert [x["hit_id"] for x in detail["linked"]] == [low]
            r = await c.post(f"/api/hits/{high}/review",
                             json={"verdict": "confirmed", "note": "same phone"})
            assert r.status_code == 200, r.text
            assert [h["id"] for h in (await c.get("/api/hits")).json()["items"]] == [low]
            audit = (await c.get("/api/audit", params={"hit": high})).json()
            assert (audit[-1]["actor"], audit[-1]["to"]) == ("local", "confirmed")
            made = await c.post("/api/batches", json={"urls": ["https://example.org/n"]})
            assert made.status_code == 201
            batch = (await c.get(f"/api/batches/{made.json()['batch_id']}")).json()
            assert batch["progress"]["queued"] == 1
            again = await c.post("/api/batches", json={"urls": ["https://example.org/n"]})
            assert again.json()["already_submitted"] is True
            assert (await c.get("/readyz")).status_code == 200
