"""`triage submit`, `queue list|show|review|assign`, `audit`, `export`, `evidence verify|purge`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import crawler.cli.queue  # noqa: F401  (registers the commands)
from crawler.cli.app import app
from crawler.evidence import WarcWriter
from storage import open_store
from tests.test_evidence import result
from tests.test_store import db_url, evaluation, record, seeds  # noqa: F401

runner = CliRunner()


def triage(*args: str, env: dict[str, str] | None = None) -> Any:
    base = {"TRIAGE_DATABASE_URL": "", "TRIAGE_DB": "", "TRIAGE_REVIEWER": "tester"}
    return runner.invoke(app, list(args), env={**base, **(env or {})})


def populate(db: Path, evidence: Path | None = None) -> list[int]:
    """Three hits: high 7 (handler), medium 4 (youth), low 1 (handler). Returns hit ids."""
    plan = [("high", 7.0, "handler"), ("medium", 4.0, "youth"), ("low", 1.0, "handler")]

    async def go() -> list[int]:
        writer = WarcWriter(evidence) if evidence else None
        ids = []
        async with open_store(db) as store:
            urls = [f"http://127.0.0.1:9/ad{i}" for i in range(3)]
            await store.add_batch("s.txt", "x", seeds(urls), [])
            for claim, (prio, score, fam) in zip(
                await store.claim("w1", 3, 60), plan, strict=True
            ):
                if writer is None:
                    ev = evaluation(prio, score, fam)
                    out = await record(store, claim, claim.url.encode(), ev)
                else:
                    fr = result(url=claim.url, body=claim.url.encode())
                    ref = await writer(fr)
                    assert ref is not None
                    out = await store.record_result(
                        claim, "w1", fr, None, evaluation(prio, score, fam), (), evidence=ref)
                ids.append(int(out.hit_id))
        return ids

    return asyncio.run(go())


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_submit_prints_a_receipt_and_dedupes_across_batches(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    seed_file = tmp_path / "s.txt"
    seed_file.write_text("https://a.example/1\nhttps://a.example/2\nftp://x\nhttps://a.example/1\n")
    first = triage("submit", str(seed_file), "--db", db, "--format", "json")
    assert first.exit_code == 0, first.output
    [receipt] = jsonl(first.stdout)
    assert (receipt["accepted"], receipt["duplicates"], receipt["rejected"]) == (2, 1, 1)
    assert receipt["rejects"][0]["line"] == 3
    again = triage("submit", str(seed_file), "--db", db)
    assert again.exit_code == 0 and "batches submitted" in again.stdout
    assert "s.txt:3:" in again.stdout  # the bad line is reported with its line number


@pytest.mark.slow
def test_submit_streams_a_large_file_with_the_same_receipt_as_the_whole_file_reader(
    tmp_path: Path,
) -> None:
    """200k lines (BOM, CRLF, rejects, in-file repeats, a URL known from an earlier batch):
    `triage submit` reads them line by line, and its receipt, queued URLs (first line and label
    wins) and stored rejects equal what the whole-file reader + add_batch give."""
    from crawler.seeds import open_seed_stream, read_seed_file

    lines = ["\ufeff# big list"]
    for i in range(200_000):
        if i % 1000 == 7:
            lines.append(f"not a url {i}")
        elif i % 500 == 3:
            lines.append(f"https://big.example/p/{i - 1}   # repeat")
        else:
            lines.append(f"https://big.example/p/{i}")
    seed_file = tmp_path / "big.txt"
    seed_file.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    known = ["https://big.example/p/10", "https://elsewhere.example/"]

    async def reference(db: Path) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
        whole = read_seed_file(seed_file)
        async with open_store(str(db)) as store:
            await store.add_batch("earlier.txt", "e", seeds(known), [])
            receipt = await store.add_batch(whole.source, whole.sha256, whole.seeds,
                                            whole.rejects, duplicates=whole.duplicates)
        return receipt.to_json(), dump(db)

    def dump(db: Path) -> list[tuple[Any, ...]]:
        import sqlite3

        with sqlite3.connect(db) as conn:
            urls = conn.execute("SELECT url, batch_id, label FROM urls ORDER BY id").fetchall()
            rej = conn.execute("SELECT batch_id, source, line, text, reason FROM seed_rejects "
                               "ORDER BY line").fetchall()
        return [*urls, *rej]

    want, want_rows = asyncio.run(reference(tmp_path / "ref.db"))
    db = tmp_path / "t.db"

    async def earlier() -> None:
        async with open_store(str(db)) as store:
            await store.add_batch("earlier.txt", "e", seeds(known), [])

    asyncio.run(earlier())
    res = triage("submit", str(seed_file), "--db", str(db), "--format", "json")
    assert res.exit_code == 0, res.output
    [got] = jsonl(res.stdout)
    assert want["accepted"] > 190_000 and want["rejected"] == 200 and want["duplicates"] > 400
    for key in ("source", "sha256", "accepted", "duplicates", "rejected", "rejects"):
        assert got[key] == want[key], key
    assert dump(db) == want_rows
    stream = open_seed_stream(seed_file)
    assert stream.sha256 == want["sha256"]
    assert sum(1 for _ in stream.seeds()) == want["accepted"] + want["duplicates"]  # repeats too


def test_submit_of_a_file_that_changes_while_read_queues_nothing(tmp_path: Path) -> None:
    from crawler.errors import SeedError
    from crawler.seeds import open_seed_stream

    seed_file = tmp_path / "s.txt"
    seed_file.write_text("https://a.example/1\nhttps://a.example/2\n")
    stream = open_seed_stream(seed_file)
    seed_file.write_text("https://a.example/1\nhttps://a.example/3\n")

    async def go() -> None:
        async with open_store(str(tmp_path / "t.db")) as store:
            with pytest.raises(SeedError, match="changed while being read"):
                await store.add_batch(stream.source, stream.sha256, stream.seeds(),
                                      stream.rejects)

    asyncio.run(go())
    import sqlite3

    with sqlite3.connect(tmp_path / "t.db") as conn:
        assert conn.execute("SELECT count(*) FROM urls").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM batches").fetchone() == (0,)


def test_submit_missing_seed_file_is_a_usage_error(tmp_path: Path) -> None:
    res = triage("submit", str(tmp_path / "nope.txt"), "--db", str(tmp_path / "t.db"))
    assert res.exit_code == 2 and "seed file not found" in res.stderr


def test_queue_list_json_is_ranked_with_indicator_evidence(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    populate(db)
    res = triage("queue", "list", "--db", str(db), "--format", "json")
    assert res.exit_code == 0, res.output
    recs = jsonl(res.stdout)
    assert [(r["priority"], r["score"]) for r in recs] == [("high", 7.0), ("medium", 4.0),
                                                          ("low", 1.0)]
    first = recs[0]
    assert {"id", "url", "score", "priority", "status", "indicators"} <= set(first)
    ind = first["indicators"][0]
    assert (ind["rule_id"], ind["family"]) == ("handler.rule", "handler")
    assert ind["evidence"][0]["text"] == "text"
    only = jsonl(triage("queue", "list", "--db", str(db), "--format", "json",
                        "--family", "youth").stdout)
    assert [r["priority"] for r in only] == ["medium"]


def test_queue_list_csv_and_table(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    populate(db)
    res = triage("queue", "list", "--db", str(db), "--format", "csv", "--priority", "low")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["priority"], r["rule_ids"]) for r in rows] == [("low", "handler.rule")]
    table = triage("queue", "list", "--db", str(db))
    assert table.exit_code == 0 and "review queue (3)" in table.stdout


def test_review_changes_status_and_is_audited(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    ids = populate(db)
    res = triage("queue", "review", str(ids[0]), "--verdict", "escalated", "--note", "JIT",
                 "--db", str(db))
    assert res.exit_code == 0 and "escalated by tester" in res.stdout
    audit = jsonl(triage("audit", "--db", str(db), "--format", "json").stdout)
    last = audit[-1]
    assert (last["hit_id"], last["actor"], last["from"], last["to"], last["note"]) == (
        ids[0], "tester", "pending", "escalated", "JIT")
    pending = jsonl(triage("queue", "list", "--db", str(db), "--format", "json").stdout)
    assert ids[0] not in [r["id"] for r in pending]
    shown = json.loads(triage("queue", "show", str(ids[0]), "--db", str(db)).stdout)
    assert shown["status"] == "escalated" and shown["audit"][-1]["to"] == "escalated"


def test_reviewer_option_overrides_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    ids = populate(db)
    triage("queue", "review", str(ids[1]), "--verdict", "confirmed", "--reviewer", "ana",
           "--db", str(db))
    assert jsonl(triage("audit", "--db", str(db), "--format", "json").stdout)[-1]["actor"] == "ana"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["queue", "review", "999", "--verdict", "confirmed"], "no hit with id 999"),
        (["queue", "review", "1", "--verdict", "maybe"], "--verdict must be one of"),
        (["queue", "review", "--verdict", "dismissed"], "give a HIT_ID, or --all"),
        (["queue", "show", "999"], "no hit with id 999"),
        (["queue", "assign", "999", "--assign", "ana"], "no hit with id 999"),
        (["queue", "list", "--status", "open"], "--status must be one of"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "t.db"
    populate(db)
    res = triage(*args, "--db", str(db))
    assert res.exit_code == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_bulk_review_by_filter(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    populate(db)
    res = triage("queue", "review", "--all", "--family", "handler", "--priority", "low",
                 "--verdict", "dismissed", "--note", "bulk", "--db", str(db))
    assert res.exit_code == 0 and "1 hits: dismissed" in res.stdout
    left = jsonl(triage("queue", "list", "--db", str(db), "--format", "json").stdout)
    assert [r["priority"] for r in left] == ["high", "medium"]


def test_assign(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    ids = populate(db)
    res = triage("queue", "assign", str(ids[2]), "--assign", "ben", "--db", str(db))
    assert res.exit_code == 0 and "assigned to ben" in res.stdout
    mine = jsonl(triage("queue", "list", "--assignee", "ben", "--db", str(db),
                        "--format", "json").stdout)
    assert [r["id"] for r in mine] == [ids[2]]


def test_export_queue_and_audit(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    ids = populate(db)
    triage("queue", "review", str(ids[0]), "--verdict", "dismissed", "--db", str(db))
    out = tmp_path / "queue.jsonl"
    res = triage("export", "--format", "jsonl", "--out", str(out), "--db", str(db))
    assert res.exit_code == 0
    exported = jsonl(out.read_text())
    assert sorted(r["id"] for r in exported) == sorted(ids)  # every status by default
    audit_csv = triage("export", "--format", "csv", "--what", "audit", "--db", str(db)).stdout
    rows = list(csv.DictReader(io.StringIO(audit_csv)))
    assert [r["action"] for r in rows] == ["flagged"] * 3 + ["review"]
    assert rows[-1]["to"] == "dismissed"


def test_evidence_verify_passes_then_fails_after_one_byte_changes(tmp_path: Path) -> None:
    db, evidence = tmp_path / "t.db", tmp_path / "evidence"
    populate(db, evidence)
    ok = triage("evidence", "verify", "--db", str(db), "--evidence-dir", str(evidence))
    assert ok.exit_code == 0, ok.output
    assert "OK: 1 files, 6 records, 3 page references" in ok.stdout
    [warc] = list(evidence.glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 3] ^= 0x20
    warc.write_bytes(bytes(data))
    bad = triage("evidence", "verify", "--db", str(db), "--evidence-dir", str(evidence))
    assert bad.exit_code == 1 and "FAIL" in bad.stdout and "FAILED" in bad.stdout


def test_evidence_purge_drops_old_dismissed_records(tmp_path: Path) -> None:
    db, evidence = tmp_path / "t.db", tmp_path / "evidence"
    ids = populate(db, evidence)
    triage("queue", "review", str(ids[2]), "--verdict", "dismissed", "--db", str(db))
    res = triage("evidence", "purge", "--older-than-days", "0", "--db", str(db),
                 "--evidence-dir", str(evidence))
    assert res.exit_code == 0 and "purged 1 dismissed hits" in res.stdout
    ok = triage("evidence", "verify", "--db", str(db), "--evidence-dir", str(evidence))
    assert ok.exit_code == 0 and "4 records, 2 page references" in ok.stdout


def test_submit_list_review_on_each_backend(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    seed_file = tmp_path / "s.txt"
    seed_file.write_text("https://a.example/1\nhttps://a.example/2\n")
    res = triage("submit", str(seed_file), "--database-url", db_url, "--format", "json")
    assert res.exit_code == 0, res.output
    assert jsonl(res.stdout)[0]["accepted"] == 2

    async def flag_one() -> int:
        async with open_store(db_url) as store:
            [claim] = await store.claim("w1", 1, 60)
            out = await record(store, claim, b"x", evaluation())
            return int(out.hit_id)

    hit_id = asyncio.run(flag_one())
    listed = jsonl(triage("queue", "list", "--db", db_url, "--format", "json").stdout)
    assert [r["id"] for r in listed] == [hit_id]
    ok = triage("queue", "review", str(hit_id), "--verdict", "confirmed", "--db", db_url)
    assert ok.exit_code == 0
    assert jsonl(triage("audit", "--db", db_url, "--format", "json").stdout)[-1]["to"] == (
        "confirmed")
