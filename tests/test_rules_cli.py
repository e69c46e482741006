"""`triage rules check|schema`, `triage scan`, the committed schema, RuleHolder reload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import crawler.cli  # noqa: F401  (registers the commands on the app)
from crawler.cli.app import app
from crawler.errors import RuleLoadError, UsageError
from crawler.rules import RuleHolder, default_rules_dir
from crawler.rules.model import schema_text
from tests.rules_helpers import rule_dict, selection, write_rules

HERE = Path(__file__).parent
BROKEN = HERE / "rules_broken"
FIXTURES = HERE / "rules_fixtures"
REPO = HERE.parent

runner = CliRunner()


def test_check_passes_on_fixture_rules() -> None:
    result = runner.invoke(app, ["rules", "check", str(FIXTURES)])
    assert result.exit_code == 0, result.output
    assert "readme_complete.yaml:30: handler.third-party-contact: tests.positive[0]: ok" in (
        result.stdout
    )
    assert "0 failed" in result.stderr


def test_check_fails_on_broken_rules_with_readable_lines() -> None:
    result = runner.invoke(app, ["rules", "check", str(BROKEN)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) >= 10
    for line in lines:
        where, rule_id, field, message = line.split(": ", 3)
        file, lineno = where.rsplit(":", 1)
        assert file.startswith(str(BROKEN)) and int(lineno) > 0 and rule_id and field and message
    assert any("weigth: unknown field" in line for line in lines)
    assert "problem(s); inline tests not run" in result.stderr


def test_check_fails_when_an_inline_test_fails(tmp_path: Path) -> None:
    write_rules(tmp_path, rule_dict(tests={"negative": [{"body": "bitcoin"}]}))
    result = runner.invoke(app, ["rules", "check", str(tmp_path), "--quiet"])
    assert result.exit_code == 1
    assert result.stdout.strip().endswith(
        "t.rule: tests.negative[0]: FAIL: fired on a negative example (matched 'bitcoin')"
    )


def test_check_on_the_shipped_pack_passes() -> None:
    if not any(default_rules_dir().glob("*.yaml")):
        pytest.skip("no shipped rule packs yet")
    result = runner.invoke(app, ["rules", "check", str(REPO / "rules")])
    assert result.exit_code == 0, result.output


def test_check_bad_path_is_a_usage_error() -> None:
    result = runner.invoke(app, ["rules", "check", "/nonexistent/rules"])
    assert isinstance(result.exception, UsageError)


def test_bad_path_exits_2_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "scan", "/nonexistent/page.html"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "triage: error: /nonexistent/page.html: no such file or directory"


def test_committed_schema_equals_generated() -> None:
    committed = (REPO / "rules" / "schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run: triage rules schema > rules/schema.json"


def test_schema_command_prints_the_schema() -> None:
    result = runner.invoke(app, ["rules", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"id", "selections", "condition"} <= set(schema["required"])


# ---------------------------------------------------------------- scan


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return write_rules(
        tmp_path / "rules",
        rule_dict(
            id="t.crypto",
            family="crypto_only",
            weight=1.5,
            selections={"sel": selection("usdt only", scope="any")},
        ),
    )


def test_scan_text_file_as_json(tmp_path: Path, pack: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("Привет! Payment USDT only.", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(page), "--rules", str(pack), "--format", "json"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert record["path"] == str(page)
    assert record["score"] == 1.5 and record["priority"] == "low"
    (ind,) = record["indicators"]
    assert (ind["rule_id"], ind["family"], ind["weight"]) == ("t.crypto", "crypto_only", 1.5)
    (span,) = ind["evidence"]
    assert (span["scope"], span["start"], span["end"]) == ("body", 16, 25)
    assert span["text"] == "USDT only"
    assert isinstance(record["entities"], list)


def test_scan_stdin_and_several_files(tmp_path: Path, pack: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text("nothing to see", encoding="utf-8")
    result = runner.invoke(
        app,
        ["scan", "-", str(other), "--rules", str(pack), "--format", "json"],
        input="usdt only please",
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["path"], r["priority"]) for r in records] == [("-", "low"), (str(other), "none")]


def test_scan_html_file(tmp_path: Path, pack: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Jobs</title></head><body><p>USDT only</p></body></html>",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["scan", str(page), "--rules", str(pack), "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert [i["rule_id"] for i in record["indicators"]] == ["t.crypto"]


def test_scan_table_format(tmp_path: Path, pack: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("USDT only", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(page), "--rules", str(pack)])
    assert result.exit_code == 0
    assert "score=1.5  priority=low" in result.stdout
    assert "t.crypto v1  crypto_only  +1.5" in result.stdout


def test_scan_bad_format_and_bad_rules(tmp_path: Path, pack: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("x", encoding="utf-8")
    bad_format = runner.invoke(app, ["scan", str(page), "--format", "xml"])
    assert isinstance(bad_format.exception, UsageError)
    broken = runner.invoke(app, ["scan", str(page), "--rules", str(BROKEN)])
    assert isinstance(broken.exception, RuleLoadError)


# ---------------------------------------------------------------- holder


def test_holder_keeps_last_good_set_on_broken_edit(tmp_path: Path) -> None:
    write_rules(tmp_path, rule_dict())
    holder = RuleHolder(tmp_path)
    good = holder.current
    (tmp_path / "pack.yaml").write_text("id: [broken", encoding="utf-8")
    problems = holder.reload()
    assert problems and "invalid YAML" in problems[0].message
    assert holder.current is good
    write_rules(tmp_path, rule_dict(version=2))
    assert holder.reload() == []
    assert holder.current is not good and holder.current.rules[0].version == 2


def test_holder_first_load_raises(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError):
        RuleHolder(BROKEN)


def test_default_rules_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRIAGE_RULES", raising=False)
    assert default_rules_dir() == REPO / "rules"
    monkeypatch.setenv("TRIAGE_RULES", str(tmp_path))
    assert default_rules_dir() == tmp_path
