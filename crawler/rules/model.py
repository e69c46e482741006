"""The rule format as pydantic models: what the loader validates and what rules/schema.json says.

One YAML document is one `RuleSpec`; `settings.yaml` is one `PackSettings`. These models only
describe and validate the *shape*; meaning (conditions, regexes) is checked in compile.py.

Regenerate the schema with `triage rules schema > rules/schema.json`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

ScopeName = Literal["title", "body", "contact", "url", "meta", "any"]
Modifier = Literal["substring", "cased", "leet", "digits"]
Status = Literal["experimental", "test", "stable", "deprecated"]
Level = Literal["informational", "low", "medium", "high", "critical"]
PriorityName = Literal["low", "medium", "high"]

RULE_ID_RE = r"^[a-z0-9]+([._-][a-z0-9]+)*$"
FAMILY_RE = r"^[a-z0-9_]+$"
SELECTION_RE = r"^[a-z_][a-z0-9_]*$"
LANG_RE = r"^[a-z]{2}$"

KEYWORDS = frozenset(
    {"and", "or", "not", "of", "them", "all", "any", "count", "near", "extracted", "within"}
)

Lang = Annotated[str, Field(pattern=LANG_RE, description="ISO 639-1 code, lower case")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class LiteralPattern(_Strict):
    """A literal written as a mapping, to give it `lang` or `modifiers`."""

    text: str = Field(min_length=1, description="The literal (case/accent-insensitive, whole word)")
    lang: list[Lang] = Field(
        default_factory=list, description="Run only on pages in these languages"
    )
    modifiers: list[Modifier] = Field(default_factory=list)


class RegexPattern(_Strict):
    """An RE2 regular expression (no lookaround, no backreferences)."""

    re: str = Field(min_length=1, description="RE2 syntax; matched on the normalised text")
    lang: list[Lang] = Field(
        default_factory=list, description="Run only on pages in these languages"
    )
    modifiers: list[Modifier] = Field(default_factory=list)


def _pattern_kind(value: Any) -> str:
    if isinstance(value, str):
        return "literal"
    if isinstance(value, dict) and "re" in value:
        return "regex"
    if isinstance(value, dict):
        return "text"
    return "literal"  # let the str validator report the wrong type


PatternItem = Annotated[
    Annotated[str, Tag("literal"), Field(min_length=1)]
    | Annotated[LiteralPattern, Tag("text")]
    | Annotated[RegexPattern, Tag("regex")],
    Discriminator(_pattern_kind),
]


class Selection(_Strict):
    """A named list of patterns searched in some scopes; matches when any pattern matches."""

    scope: ScopeName | list[ScopeName] = Field(default="any")
    modifiers: list[Modifier] = Field(default_factory=list, description="Apply to every pattern")
    patterns: list[PatternItem] = Field(min_length=1)

    def scopes(self) -> tuple[str, ...]:
        names = [self.scope] if isinstance(self.scope, str) else list(self.scope)
        if "any" in names:
            return ("title", "body", "contact", "url", "meta")
        return tuple(dict.fromkeys(names))


class Example(_Strict):
    """A page for an inline test: any of the text fields, optional language and expectations."""

    title: str = ""
    body: str = ""
    contact: str = ""
    url: str = ""
    meta: str = ""
    language: Annotated[str, Field(pattern=LANG_RE)] | None = None
    note: str = ""
    min_score: float | None = Field(default=None, description="positive only: page score >= this")
    min_priority: PriorityName | None = Field(default=None, description="positive only")
    fires: list[str] = Field(default_factory=list, description="positive only: other rule ids")

    @field_validator("min_score", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Tests(_Strict):
    positive: list[Example] = Field(default_factory=list)
    negative: list[Example] = Field(default_factory=list)


class RuleSpec(_Strict):
    """One indicator rule (one YAML document)."""

    id: str = Field(pattern=RULE_ID_RE, description="Stable dotted id, unique across the pack")
    title: str = Field(min_length=1)
    version: int = Field(ge=1, description="Bump when the rule's behaviour changes")
    status: Status
    family: str = Field(pattern=FAMILY_RE, description="Indicator family; family totals are capped")
    level: Level
    weight: float = Field(description="Added to the family total when the rule fires; may be <= 0")
    languages: list[Lang] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    falsepositives: list[str] = Field(default_factory=list)
    description: str = ""
    selections: dict[Annotated[str, Field(pattern=SELECTION_RE)], Selection] = Field(min_length=1)
    condition: str = Field(min_length=1)
    tests: Tests = Field(default_factory=Tests)

    @field_validator("weight", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("selections")
    @classmethod
    def _no_keyword_names(cls, value: dict[str, Selection]) -> dict[str, Selection]:
        bad = sorted(k for k in value if k in KEYWORDS)
        if bad:
            raise ValueError(f"selection name {bad[0]!r} is a condition keyword")
        return value


class Thresholds(_Strict):
    high: float = 4.0
    medium: float = 2.5
    low: float = 1.0

    @field_validator("high", "medium", "low", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.low <= self.medium <= self.high:
            raise ValueError("thresholds must satisfy low <= medium <= high")
        return self


class PackSettings(_Strict):
    """rules/settings.yaml: family caps and priority thresholds."""

    default_cap: float = Field(default=4.0, gt=0)
    family_caps: dict[Annotated[str, Field(pattern=FAMILY_RE)], float] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    min_families_for_high: int = Field(default=2, ge=1)

    @field_validator("default_cap", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("family_caps", mode="before")
    @classmethod
    def _int_caps(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in value.items()
            }
        return value

    def cap(self, family: str) -> float:
        return self.family_caps.get(family, self.default_cap)


def rule_schema() -> dict[str, Any]:
    schema = RuleSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://github.com/triage/triage/rules/schema.json"
    schema["title"] = "triage indicator rule"
    return schema


def schema_text() -> str:
    return json.dumps(rule_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
