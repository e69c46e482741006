"""`triage eval` and crawler.evaluation: metrics, corpus/CSV loading, the CLI, reviewer verdicts."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import crawler.cli  # noqa: F401  (registers the commands)
from crawler.cli.app import app
from crawler.errors import UsageError
from crawler.evaluation import (
    Confusion,
    CsvMapping,
    evaluate_corpus,
    evaluate_csv,
    load_corpus,
    load_csv,
    review_report,
)
from crawler.models import Document, FetchResult, Outcome, Reason, Seed, utcnow
from crawler.rules import RuleSet, load_ruleset
from storage.base import HitRecord

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "labelled.jsonl"
CSV_FIXTURE = ROOT / "tests" / "fixtures" / "labelled_jobs.csv"
CSV_MAP = "id=job_id,title=title,body=company_profile+description+requirements"

runner = CliRunner()


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset(ROOT / "rules")


# --------------------------------------------------------------------------- metrics


def test_confusion_counts_and_scores() -> None:
    c = Confusion()
    for predicted, actual in [(True, True)] * 3 + [(True, False), (False, True), (False, False)]:
        c.add(predicted, actual)
    assert (c.tp, c.fp, c.fn, c.tn) == (3, 1, 1, 1)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.75)
    assert c.f1 == pytest.approx(0.75)


def test_confusion_without_predictions_has_no_precision() -> None:
    c = Confusion()
    c.add(False, True)
    assert c.precision is None
    assert c.recall == 0
    assert c.f1 is None


# --------------------------------------------------------------------------- corpus


def test_load_corpus_reads_the_fixture() -> None:
    ads = load_corpus(FIXTURE)
    assert len(ads) >= 30
    assert {ad.lang for ad in ads} >= {"en", "de", "fr", "es", "it", "nl", "ro", "pl", "pt", "ru"}
    assert all("risk" in ad.labels for ad in ads)


def test_load_corpus_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "labels": {}}\n{not json}\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"bad\.jsonl:2"):
        load_corpus(path)


def test_labels_must_be_booleans(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "labels": {"risk": "yes"}}\n', encoding="utf-8")
    with pytest.raises(UsageError, match="booleans"):
        load_corpus(path)


def test_evaluate_corpus_lists_misses_and_false_alarms(ruleset: RuleSet, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [
        # a positive the packs catch, one they cannot (no indicator), one false label
        {"id": "hit", "lang": "en", "title": "", "body": "Girls available. Text my driver.",
         "contact": "", "labels": {"handler": True, "risk": True}},
        {"id": "miss", "lang": "en", "title": "", "body": "Hello there.", "contact": "",
         "labels": {"handler": True, "risk": True}},
        {"id": "alarm", "lang": "en", "title": "", "body": "Ladies. Call our manager to book.",
         "contact": "", "labels": {"handler": False, "risk": False}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = evaluate_corpus(ruleset, load_corpus(path), entity_fn=lambda _doc: ())
    handler = report.get("handler")
    assert (handler.confusion.tp, handler.confusion.fn, handler.confusion.fp) == (1, 1, 1)
    assert [o.id for o in handler.misses] == ["miss"]
    assert [o.id for o in handler.false_alarms] == ["alarm"]
    assert [r.label for r in report.labels][-1] == "risk"


# --------------------------------------------------------------------------- CSV


def test_csv_mapping_joins_columns_and_unescapes_html() -> None:
    ads = load_csv(CSV_FIXTURE, CSV_MAP, legit_column="fraudulent", legit_value="0", lang="en")
    first = ads[0]
    assert first.id == "1"
    assert first.body.startswith("Coffee & Co\n")
    assert first.lang == "en"
    assert [ad.legit for ad in ads].count(False) == 1


def test_csv_mapping_guesses_same_named_columns() -> None:
    mapping = CsvMapping.parse(None, ["job_id", "title", "description", "other"])
    assert dict(mapping.columns) == {"title": ("title",), "body": ("description",),
                                     "id": ("job_id",)}


@pytest.mark.parametrize(
    ("spec", "message"),
    [("title", "bad entry"), ("colour=title", "bad entry"), ("body=nope", "no such column"),
     ("id=job_id", "at least one of title= or body=")],
)
def test_csv_mapping_errors_are_readable(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        CsvMapping.parse(spec, ["job_id", "title", "description"])


def test_flag_rate_on_ordinary_rows(ruleset: RuleSet) -> None:
    ads = load_csv(CSV_FIXTURE, CSV_MAP, legit_column="fraudulent", legit_value="0", lang="en")
    report = evaluate_csv(ruleset, ads, entity_fn=lambda _doc: ())
    assert report.legit == 5
    assert report.flag_rate == 0.0
    assert (report.other, report.other_flagged) == (1, 1)


# --------------------------------------------------------------------------- CLI


def test_cli_eval_prints_the_metrics_table() -> None:
    result = runner.invoke(app, ["eval", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("label"))
    assert "prec" in header and "rec" in header and "F1" in header
    labels = {line.split()[0] for line in lines[lines.index(header) + 1:] if line[:1].isalpha()}
    assert {"handler", "crypto_only", "ai_generated", "restricted_freedom",
            "labour_exploitation", "movement", "risk"} <= labels


def test_cli_eval_json_has_figures_per_label() -> None:
    result = runner.invoke(app, ["eval", str(FIXTURE), "--format", "json", "--rules",
                                 str(ROOT / "rules")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    risk = next(r for r in data["labels"] if r["label"] == "risk")
    assert risk["tp"] + risk["fn"] > 0
    assert risk["precision"] >= 0.85 and risk["recall"] >= 0.85


def test_cli_eval_csv_mode_reports_flag_rate() -> None:
    result = runner.invoke(app, [
        "eval", str(CSV_FIXTURE), "--csv-map", CSV_MAP, "--legit-column", "fraudulent",
        "--legit-value", "0", "--lang", "en", "--max-flag-rate", "0.02",
    ])
    assert result.exit_code == 0, result.output
    assert "ordinary rows flagged (priority >= medium): 0/5 = 0.0%" in result.output
    assert "other rows flagged: 1/1" in result.output


def test_cli_eval_csv_mode_fails_over_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "ads.csv"
    path.write_text(
        "title,body\nFarm job,No experience. Recruitment fee 400 € before departure.\n"
        "Barista,Part-time job in a café.\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["eval", str(path), "--max-flag-rate", "0.1", "--lang", "en"])
    assert result.exit_code == 1, result.output
    assert "1/2 = 50.0%" in result.output


def test_cli_eval_needs_exactly_one_source() -> None:
    result = runner.invoke(app, ["eval"])
    assert isinstance(result.exception, UsageError)


# --------------------------------------------------------------------------- reviewer verdicts


def hit(hit_id: int, status: str, priority: str, *rules: tuple[str, str, float]) -> HitRecord:
    now = dt.datetime.now(dt.UTC)
    return HitRecord(
        hit_id=hit_id, url=f"https://a.example/{hit_id}", final_url=None, title="t",
        score=3.0, priority=priority, status=status,
        indicators=[{"rule_id": r, "family": f, "weight": w} for r, f, w in rules],
        entities=[], content_sha256="0" * 64, fetched_at=now, created_at=now,
        ruleset_version="v",
    )


def test_review_report_counts_verdicts_per_family_and_rule() -> None:
    report = review_report([
        hit(1, "confirmed", "medium", ("handler.a", "handler", 3.0)),
        hit(2, "dismissed", "medium", ("handler.a", "handler", 3.0)),
        hit(3, "dismissed", "low", ("crypto_only.b", "crypto_only", 1.5)),
        hit(4, "escalated", "high", ("handler.a", "handler", 3.0), ("movement.c", "movement", 0)),
        hit(5, "pending", "medium", ("handler.a", "handler", 3.0)),
    ])
    assert (report.risk.confirmed, report.risk.dismissed, report.risk.pending) == (2, 1, 1)
    assert report.families["handler"].precision == pytest.approx(2 / 3)
    assert report.rules["crypto_only.b"].dismissed == 1
    assert [r for r, _ in report.wasteful_rules()] == ["crypto_only.b", "handler.a"] or [
        r for r, _ in report.wasteful_rules()
    ] == ["handler.a", "crypto_only.b"]


async def _store_with_reviewed_hits(db: Path, ruleset: RuleSet) -> None:
    from storage import open_store

    texts = {
        "https://a.example/1": "Girls available. Text my driver for the address.",
        "https://a.example/2": "Ladies, outcall. Bookings only through our agency office.",
    }
    async with open_store(db) as store:
        seeds = [Seed(url=u, source="s.txt", line=i + 1) for i, u in enumerate(texts)]
        await store.add_batch("s.txt", "x", seeds, [])
        for claim in await store.claim("w1", 10, 60):
            body = texts[claim.url].encode()
            doc = Document(url=claim.url, body=texts[claim.url], language="en")
            result = FetchResult(
                url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="",
                fetched_at=utcnow(), final_url=claim.url, status=200,
                content_type="text/plain", body=body, sha256=hashlib.sha256(body).hexdigest(),
            )
            await store.record_result(claim, "w1", result, doc, ruleset.evaluate(doc, ()), ())
        hits = await store.list_hits(status=None)
        verdicts = {"https://a.example/1": "confirmed", "https://a.example/2": "dismissed"}
        for h in hits:
            await store.review(h.hit_id, verdicts[h.url], "analyst")


def test_cli_eval_from_reviewer_verdicts(tmp_path: Path, ruleset: RuleSet) -> None:
    db = tmp_path / "triage.db"
    asyncio.run(_store_with_reviewed_hits(db, ruleset))
    result = runner.invoke(app, ["eval", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    assert data["hits"] == 2
    assert data["families"]["handler"] == {
        "confirmed": 1, "dismissed": 1, "pending": 0, "precision": 0.5,
    }
    table = runner.invoke(app, ["eval", "--db", str(db)])
    assert "family handler" in table.output
