"""Helpers for tests/test_rules_*.py: write small rule files and evaluate text with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crawler.models import Document
from crawler.rules import RuleSet, load_ruleset


def rule_dict(**overrides: Any) -> dict[str, Any]:
    """A minimal valid rule; override any field (None removes it)."""
    base: dict[str, Any] = {
        "id": "t.rule",
        "title": "Test rule",
        "version": 1,
        "status": "experimental",
        "family": "handler",
        "level": "low",
        "weight": 1.0,
        "selections": {"sel": {"scope": "body", "patterns": ["bitcoin"]}},
        "condition": "sel",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def write_rules(
    directory: Path, *rules: dict[str, Any], settings: dict[str, Any] | None = None
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = "\n---\n".join(yaml.safe_dump(r, allow_unicode=True, sort_keys=False) for r in rules)
    (directory / "pack.yaml").write_text(text, encoding="utf-8")
    if settings is not None:
        (directory / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return directory


def ruleset(tmp_path: Path, *rules: dict[str, Any], **kw: Any) -> RuleSet:
    return load_ruleset(write_rules(tmp_path / "rules", *rules, **kw))


def fired(rs: RuleSet, body: str = "", **fields: Any) -> set[str]:
    doc = Document(url=fields.pop("url", ""), body=body, **fields)
    return {i.rule_id for i in rs.evaluate(doc).indicators}


def selection(*patterns: Any, scope: Any = "body", **extra: Any) -> dict[str, Any]:
    return {"scope": scope, "patterns": list(patterns), **extra}
