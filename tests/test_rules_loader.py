"""Every error form: `file:line: rule-id: field: message`, all problems reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.errors import RuleLoadError, RuleProblem
from crawler.rules import check_paths, load_ruleset
from tests.rules_helpers import rule_dict, selection, write_rules

BROKEN = Path(__file__).parent / "rules_broken"
FIXTURES = Path(__file__).parent / "rules_fixtures"


def problems_for(tmp_path: Path, text: str, name: str = "r.yaml") -> list[RuleProblem]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(RuleLoadError) as info:
        load_ruleset(tmp_path)
    return info.value.problems


VALID = """\
id: t.ok
title: ok
version: 1
status: experimental
family: handler
level: low
weight: 1
selections:
  sel:
    scope: body
    patterns: [bitcoin]
condition: sel
"""


def test_valid_rule_loads(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(VALID)
    rs = load_ruleset(tmp_path)
    assert [r.id for r in rs.rules] == ["t.ok"]


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("[bitcoin]", "[bitcoin"))
    assert p.file.endswith("r.yaml") and p.line == 12
    assert "invalid YAML" in p.message


def test_unknown_field_names_the_field_and_its_line(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID + "weigth: 2\n")
    assert (p.line, p.rule_id, p.field, p.message) == (13, "t.ok", "weigth", "unknown field")
    assert str(p).endswith("r.yaml:13: t.ok: weigth: unknown field")


def test_unknown_field_inside_a_pattern(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("[bitcoin]", "[{re: 'x+y+z', langs: [de]}]"))
    assert (p.line, p.field, p.message) == (11, "selections.sel.patterns[0].langs", "unknown field")


def test_wrong_type(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("version: 1", "version: one"))
    assert (p.line, p.field) == (3, "version")
    assert "integer" in p.message


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("weight: 1", "weight: yes"))
    assert p.field == "weight"


def test_missing_required_field(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("title: ok\n", ""))
    assert (p.field, p.message) == ("title", "required field is missing")


def test_bad_scope_is_reported_once(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("scope: body", "scope: bodyy"))
    assert (p.line, p.field) == (10, "selections.sel.scope")
    assert "'body'" in p.message


def test_undefined_selection_in_condition(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("condition: sel", "condition: sel and not other"))
    assert (p.line, p.field) == (12, "condition")
    assert "'other' is not defined" in p.message


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("sel and", "expected a selection name"),
        ("(sel", "expected ')'"),
        ("sel sel", "unexpected 'sel'"),
        ("2 of s*", "needs 2 selections but only 1"),
        ("3 of (sel)", "needs 3 distinct patterns"),
        ("1 of nomatch_* or sel", "'nomatch_*' matches no selection"),
        ("nomatch and sel", "'nomatch' is not defined"),
        ("count(sel) => 2", "expected a comparison"),
        ("count(sel) 2", "expected a comparison"),
        ("near(sel, sel)", "expected ','"),
        ("sel and extracted(bitcoin)", "extracted() takes one of"),
        ("sel & sel", "unexpected character '&'"),
    ],
)
def test_condition_errors(tmp_path: Path, condition: str, fragment: str) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("condition: sel", f"condition: {condition}"))
    assert p.field == "condition"
    assert fragment in p.message


def test_unused_selection(tmp_path: Path) -> None:
    text = VALID.replace("condition: sel", "  other: {patterns: [x]}\ncondition: sel")
    (p,) = problems_for(tmp_path, text)
    assert (p.field, p.message) == (
        "selections.other",
        "selection is defined but not used in the condition",
    )


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID)
    (p,) = problems_for(tmp_path, VALID, name="b.yaml")
    assert p.file.endswith("b.yaml") and p.field == "id"
    assert "duplicate id (first defined at" in p.message and "a.yaml:1" in p.message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID + "weight: 2\n")
    assert (p.line, p.field, p.message) == (13, "weight", "duplicate key")


@pytest.mark.parametrize(
    ("regex", "fragment"),
    [
        (r"bitcoin(?!\s+atm)", "uses lookaround"),
        (r"(?<=pay )usdt", "uses lookaround"),
        (r"(\w+) \1", "uses a backreference"),
        (r"(bitcoin", "is not valid RE2"),
        (r"a{1,5000}", "is not valid RE2"),
        (r"x*", "matches the empty string"),
    ],
)
def test_bad_regex_names_rule_and_pattern(tmp_path: Path, regex: str, fragment: str) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("[bitcoin]", f"[{{re: '{regex}'}}]"))
    assert (p.rule_id, p.field, p.line) == ("t.ok", "selections.sel.patterns[0]", 11)
    assert fragment in p.message and regex in p.message


def test_redos_prone_regex_is_accepted_because_re2_is_linear(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(VALID.replace("[bitcoin]", "[{re: '(a+)+$'}]"))
    assert len(load_ruleset(tmp_path).rules) == 1


def test_stable_rule_needs_tests(tmp_path: Path) -> None:
    (p,) = problems_for(tmp_path, VALID.replace("experimental", "stable"))
    assert p.field == "tests" and "needs at least one positive and one negative" in p.message


def test_all_problems_are_reported_not_just_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(VALID.replace("version: 1", "version: x"))
    bad = VALID.replace("t.ok", "t.two").replace("condition: sel", "condition: nope")
    problems = problems_for(tmp_path, bad + "---\n" + VALID.replace("t.ok", "t.3") + "extra: 1\n",
                            name="b.yaml")  # fmt: skip
    assert [(Path(p.file).name, p.rule_id, p.field) for p in problems] == [
        ("a.yaml", "t.ok", "version"),
        ("b.yaml", "t.two", "condition"),
        ("b.yaml", "t.3", "extra"),
    ]


def test_settings_errors_are_problems(tmp_path: Path) -> None:
    write_rules(tmp_path, rule_dict())
    (tmp_path / "settings.yaml").write_text(
        "default_cap: 4\nfamily_cap: {x: 1}\nthresholds: {high: one}\n"
    )
    with pytest.raises(RuleLoadError) as info:
        load_ruleset(tmp_path)
    fields = {(p.rule_id, p.field) for p in info.value.problems}
    assert fields == {("settings", "family_cap"), ("settings", "thresholds.high")}


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError, match="no such file or directory"):
        load_ruleset(tmp_path / "nope")


def test_broken_directory_reports_every_kind_of_problem() -> None:
    report = check_paths(BROKEN)
    assert not report.ok and report.tests == []
    text = "\n".join(str(p) for p in report.problems)
    for fragment in (
        "bad_yaml.yaml:3: -: -: invalid YAML",
        "fields.yaml:8: broken.unknown-field: weigth: unknown field",
        "fields.yaml:15: broken.wrong-type: version: Input should be a valid integer",
        "conditions.yaml:10: broken.undefined-selection: condition: selection 'self_voice' is not",
        "regexes.yaml:1: broken.lookahead: id: duplicate id",
        "regexes.yaml:12: broken.lookahead: selections.sel.patterns[0]: regex",
        "regexes.yaml:26: broken.backreference: selections.sel.patterns[0]: regex",
        "tests_fail.yaml:1: broken.stable-without-tests: tests: status 'stable'",
    ):
        assert fragment in text


def test_inline_test_failures_are_reported(tmp_path: Path) -> None:
    write_rules(
        tmp_path,
        rule_dict(
            selections={"sel": selection("bitcoin")},
            tests={
                "positive": [
                    {"body": "bitcoin"},
                    {"body": "nothing"},
                    {"body": "bitcoin", "min_score": 5},
                    {"body": "bitcoin", "fires": ["t.other"]},
                ],
                "negative": [{"body": "no coins"}, {"body": "Bitcoin!"}],
            },
        ),
    )
    report = check_paths(tmp_path)
    assert not report.ok
    outcome = [(t.field, t.passed, t.message) for t in report.tests]
    assert outcome == [
        ("tests.positive[0]", True, ""),
        ("tests.positive[1]", False, "did not fire"),
        ("tests.positive[2]", False, "score 1 < min_score 5"),
        ("tests.positive[3]", False, "expected t.other to fire too"),
        ("tests.negative[0]", True, ""),
        ("tests.negative[1]", False, "fired on a negative example (matched 'Bitcoin')"),
    ]
    assert str(report.tests[1]).endswith(": t.rule: tests.positive[1]: FAIL: did not fire")


def test_fixture_rules_pass_their_inline_tests() -> None:
    report = check_paths(FIXTURES)
    assert report.ok, [str(t) for t in report.failures] + [str(p) for p in report.problems]
    assert report.rules >= 6 and len(report.tests) >= 10


def test_every_complete_rule_in_the_readme_loads_and_passes(tmp_path: Path) -> None:
    import re

    readme = (Path(__file__).parent.parent / "rules" / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "\ncondition:" in b]
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        (tmp_path / f"readme{i}.yaml").write_text(block, encoding="utf-8")
    report = check_paths(tmp_path)
    assert report.ok, [str(p) for p in report.problems] + [str(t) for t in report.failures]
    assert report.rules >= 6


def test_settings_thresholds_must_be_ordered(tmp_path: Path) -> None:
    write_rules(tmp_path, rule_dict(), settings={"thresholds": {"high": 1.0, "medium": 2.0}})
    with pytest.raises(RuleLoadError) as info:
        load_ruleset(tmp_path)
    (p,) = info.value.problems
    assert (p.rule_id, p.field) == ("settings", "thresholds")
    assert "low <= medium <= high" in p.message
