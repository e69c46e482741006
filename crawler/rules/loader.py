"""Rule files -> validated RuleSpecs, with every problem as `file:line: rule-id: field: message`.

YAML is composed into nodes (so each value keeps its line), turned into plain data while recording
`path -> line`, then validated by the pydantic models. Nothing stops at the first problem: every
document of every file is read and all problems are collected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crawler.errors import RuleProblem
from crawler.rules.model import PackSettings, RuleSpec

SETTINGS_NAME = "settings.yaml"
RULE_SUFFIXES = (".yaml", ".yml")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SourcedRule:
    """A validated rule and where it came from (file, first line, line of every field path)."""

    spec: RuleSpec
    file: str
    line: int
    lines: dict[Path_, int]

    def line_of(self, *path: str | int) -> int:
        return _line_for(self.lines, path, self.line)


@dataclass(frozen=True, slots=True)
class Loaded:
    rules: list[SourcedRule]  # unique ids, in file order
    duplicates: list[SourcedRule]  # later rules reusing an id (checked, never used)
    settings: PackSettings
    settings_file: str | None
    problems: list[RuleProblem]


def _line_for(lines: dict[Path_, int], path: Sequence[str | int], default: int) -> int:
    key = tuple(path)
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return lines.get((), default)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


_CONSTRUCTOR = yaml.SafeLoader("")
_COMPOSER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


def _to_data(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if type(node) is yaml.ScalarNode and node.tag == _STR_TAG:
        return node.value  # what the safe constructor makes of a str scalar
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_data(key_node, (*path, "<key>"), {})
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            if key in out:
                raise _DuplicateKey(str(key), key_node.start_mark.line + 1)
            sub = (*path, key if isinstance(key, str | int) else str(key))
            out[key] = _to_data(value_node, sub, lines)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _CONSTRUCTOR.construct_object(node, deep=True)


def _field(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


_UNION_TAGS = {"literal", "text", "regex", "str", "float", "int"}


def _clean_loc(loc: Sequence[str | int], data: Any) -> list[str | int]:
    """Drop pydantic's union/discriminator tags from an error location (keep real keys)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and (part in _UNION_TAGS or "[" in part):
            continue
        else:
            out.append(part)
            node = None
    return out


def _problems_from(
    exc: ValidationError, data: Any, file: str, rule_id: str, lines: dict[Path_, int], line: int
) -> list[RuleProblem]:
    problems = []
    seen: set[tuple[int, str]] = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"], data)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        msg = msg.removeprefix("Value error, ")
        where = _line_for(lines, loc, line)
        key = (where, _field(loc))
        if key in seen:  # a union reports one error per member: keep the first
            continue
        seen.add(key)
        problems.append(RuleProblem(file, where, rule_id, _field(loc), msg))
    return problems


def rule_files(paths: Iterable[Path]) -> tuple[list[Path], Path | None, list[RuleProblem]]:
    """Expand directories; return (rule files, settings file, problems for missing paths)."""
    files: list[Path] = []
    settings: Path | None = None
    problems: list[RuleProblem] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.name == SETTINGS_NAME:
                    settings = child
                elif child.suffix in RULE_SUFFIXES and child.is_file():
                    files.append(child)
        elif path.is_file():
            if path.name == SETTINGS_NAME:
                settings = path
            else:
                files.append(path)
        else:
            problems.append(RuleProblem(str(path), 0, "", "", "no such file or directory"))
    return files, settings, problems


def _compose(text: str, file: str) -> tuple[list[yaml.Node], list[RuleProblem]]:
    try:
        return [n for n in yaml.compose_all(text, Loader=_COMPOSER) if n is not None], []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        return [], [RuleProblem(file, line, "", "", f"invalid YAML: {problem}")]


def _read(path: Path) -> tuple[str | None, RuleProblem | None]:
    try:
        return path.read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, RuleProblem(str(path), 0, "", "", f"cannot read: {exc}")


def load_settings(path: Path | None) -> tuple[PackSettings, list[RuleProblem]]:
    if path is None:
        return PackSettings(), []
    file = str(path)
    text, problem = _read(path)
    if problem is not None or text is None:
        return PackSettings(), [problem] if problem else []
    nodes, problems = _compose(text, file)
    if problems:
        return PackSettings(), problems
    if not nodes:
        return PackSettings(), []
    lines: dict[Path_, int] = {}
    try:
        data = _to_data(nodes[0], (), lines)
    except _DuplicateKey as dup:
        return PackSettings(), [RuleProblem(file, dup.line, "settings", dup.key, "duplicate key")]
    if not isinstance(data, dict):
        return PackSettings(), [RuleProblem(file, 1, "settings", "", "expected a mapping")]
    try:
        return PackSettings.model_validate(data), []
    except ValidationError as exc:
        return PackSettings(), _problems_from(exc, data, file, "settings", lines, 1)


def load_rule_file(path: Path) -> tuple[list[SourcedRule], list[RuleProblem]]:
    file = str(path)
    text, problem = _read(path)
    if problem is not None or text is None:
        return [], [problem] if problem else []
    nodes, problems = _compose(text, file)
    rules: list[SourcedRule] = []
    for node in nodes:
        line = node.start_mark.line + 1
        lines: dict[Path_, int] = {}
        try:
            data = _to_data(node, (), lines)
        except _DuplicateKey as dup:
            problems.append(RuleProblem(file, dup.line, "", dup.key, "duplicate key"))
            continue
        if not isinstance(data, dict):
            problems.append(RuleProblem(file, line, "", "", "a rule must be a YAML mapping"))
            continue
        rule_id = data.get("id") if isinstance(data.get("id"), str) else ""
        try:
            spec = RuleSpec.model_validate(data)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, data, file, str(rule_id), lines, line))
            continue
        rules.append(SourcedRule(spec, file, line, lines))
    return rules, problems


def load_specs(paths: Sequence[Path]) -> Loaded:
    """Read and validate every rule file and the settings; never raises for bad content."""
    files, settings_path, problems = rule_files(paths)
    settings, settings_problems = load_settings(settings_path)
    problems.extend(settings_problems)
    rules: list[SourcedRule] = []
    duplicates: list[SourcedRule] = []
    first_seen: dict[str, SourcedRule] = {}
    for path in files:
        file_rules, file_problems = load_rule_file(path)
        problems.extend(file_problems)
        for rule in file_rules:
            earlier = first_seen.get(rule.spec.id)
            if earlier is not None:
                problems.append(
                    RuleProblem(
                        rule.file,
                        rule.line_of("id"),
                        rule.spec.id,
                        "id",
                        f"duplicate id (first defined at {earlier.file}:{earlier.line_of('id')})",
                    )
                )
                duplicates.append(rule)
                continue
            first_seen[rule.spec.id] = rule
            rules.append(rule)
    problems.sort(key=lambda p: (p.file, p.line))
    return Loaded(
        rules, duplicates, settings, str(settings_path) if settings_path else None, problems
    )
