"""The source policy: which hosts may be fetched, per-source rate and link-following rules.

    policy = SourcePolicy.load("seeds/sources.example.yaml")   # or SourcePolicy() for defaults
    policy.decide("http://abc.onion/")   # -> "host abc.onion matches deny pattern '.onion' ..."
    policy.rule_for("ads.example.org")   # -> SourceRule (rate, concurrency, max_depth, ...)

File format (see seeds/sources.example.yaml):

    allow: [example.org, "*.example.net"]   # empty or missing: any public host
    deny: [badsite.example]                 # added to DEFAULT_DENY unless default_deny: false
    legal_basis: "free text kept with every fetch"
    defaults: {max_depth: 0, same_site: true}
    sources:
      example.org: {rate: 0.5, concurrency: 1, max_depth: 2, include: ['^https://example\\.org/ads/'],
                    exclude: ['/login'], legal_basis: "Case 2026-17, warrant of 2026-11-02"}

A domain pattern `example.org` matches that host and its subdomains; `.onion` matches a suffix;
a pattern with `*` is a glob on the whole host name. When several `sources` match, the longest
pattern wins. A URL outside the policy is refused with a reason, never silently dropped.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from crawler.errors import SettingsError

DEFAULT_DENY: tuple[str, ...] = (
    ".onion", ".i2p", ".localhost", ".local", ".internal", ".home.arpa",
)

DECISION_MEMO_MAX = 10_000  # host decisions remembered by a SourcePolicy (all dropped when full)
_RULE_KEYS = {"rate", "concurrency", "max_depth", "same_site", "include", "exclude", "legal_basis"}
_TOP_KEYS = {"allow", "deny", "default_deny", "legal_basis", "defaults", "sources"}


def matches_domain(host: str, pattern: str) -> bool:
    host = host.lower().rstrip(".")
    pat = pattern.lower().strip().rstrip(".")
    if not pat:
        return False
    if "*" in pat or "?" in pat:
        return fnmatch.fnmatchcase(host, pat)
    if pat.startswith("."):
        return host.endswith(pat) or host == pat[1:]
    return host == pat or host.endswith("." + pat)


@dataclass(frozen=True)
class SourceRule:
    """Per-source overrides; None means "use the global setting"."""

    pattern: str = "*"
    rate: float | None = None  # requests per second for this host (0 = no limit)
    concurrency: int | None = None
    max_depth: int = 0  # 0 = only the listed URLs, no link following
    same_site: bool = True
    include: tuple[re.Pattern[str], ...] = ()  # a followed link must match one (if any given)
    exclude: tuple[re.Pattern[str], ...] = ()  # a followed link must match none
    legal_basis: str | None = None


@dataclass(frozen=True)
class SourcePolicy:
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = DEFAULT_DENY
    defaults: SourceRule = field(default_factory=SourceRule)
    sources: tuple[SourceRule, ...] = ()
    path: str | None = None
    # host -> decide()'s answer (it depends only on the host and the fields above, all fixed)
    _decisions: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False)

    # ------------------------------------------------------------------ decisions

    def decide(self, url: str) -> str | None:
        """None if the policy permits fetching `url`, else the reason."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host:
            return f"URL has no host: {url!r}"
        memo = self._decisions
        if host in memo:
            return memo[host]
        why = self._decide_host(host)
        if len(memo) >= DECISION_MEMO_MAX:
            memo.clear()
        memo[host] = why
        return why

    def _decide_host(self, host: str) -> str | None:
        where = f" ({self.path})" if self.path else ""
        for pattern in self.deny:
            if matches_domain(host, pattern):
                return f"host {host} matches deny pattern {pattern!r} of the source policy{where}"
        if self.allow and not any(matches_domain(host, p) for p in self.allow):
            return f"host {host} is not in the allow list of the source policy{where}"
        return None

    def rule_for(self, host: str) -> SourceRule:
        best: SourceRule | None = None
        for rule in self.sources:
            if matches_domain(host, rule.pattern) and (
                best is None or len(rule.pattern) > len(best.pattern)
            ):
                best = rule
        return best or self.defaults

    def legal_basis(self, url: str) -> str | None:
        if not self.sources:  # one rule for every host: no need to parse the URL
            return self.defaults.legal_basis
        return self.rule_for((urlsplit(url).hostname or "").lower()).legal_basis

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | Path) -> SourcePolicy:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError("TRIAGE_SOURCES", f"cannot read {p}: {exc}") from exc
        return cls.parse(text, str(p))

    @classmethod
    def parse(cls, text: str, name: str = "<sources>") -> SourcePolicy:
        try:
            data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 0
            raise SettingsError(
                "TRIAGE_SOURCES", f"{name}:{line}: invalid YAML: {exc.problem or exc}"
            ) from exc
        except yaml.YAMLError as exc:
            raise SettingsError("TRIAGE_SOURCES", f"{name}: invalid YAML: {exc}") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SettingsError("TRIAGE_SOURCES", f"{name}:1: the file must be a mapping")
        return _build(data, name)


# --------------------------------------------------------------------------- YAML with lines


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers where each mapping starts (key `__line__`)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _fail(name: str, line: object, message: str) -> SettingsError:
    return SettingsError("TRIAGE_SOURCES", f"{name}:{line}: {message}")


def _patterns(value: Any, name: str, line: object, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(name, line, f"{key}: must be a list of domain patterns")
    return tuple(v.strip().lower() for v in value)


def _rule(pattern: str, data: Mapping[str, Any], base: SourceRule, name: str) -> SourceRule:
    line = data.get("__line__", "?")
    unknown = set(data) - _RULE_KEYS - {"__line__"}
    if unknown:
        raise _fail(name, line, f"{pattern}: unknown key(s) {sorted(unknown)}; "
                                f"expected {sorted(_RULE_KEYS)}")

    def num(key: str, kind: type, minimum: float) -> Any:
        v = data.get(key)
        if v is None:
            return getattr(base, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or (kind is int and
                                                                     not isinstance(v, int)):
            raise _fail(name, line, f"{pattern}: {key}: must be a {kind.__name__}, not {v!r}")
        if v < minimum:
            raise _fail(name, line, f"{pattern}: {key}: must be >= {minimum}, not {v!r}")
        return kind(v)

    def regexes(key: str) -> tuple[re.Pattern[str], ...]:
        v = data.get(key)
        if v is None:
            return tuple(getattr(base, key))
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise _fail(name, line, f"{pattern}: {key}: must be a list of regular expressions")
        out = []
        for x in v:
            try:
                out.append(re.compile(x))
            except re.error as exc:
                raise _fail(
                    name, line, f"{pattern}: {key}: bad regular expression {x!r}: {exc}"
                ) from exc
        return tuple(out)

    same_site = data.get("same_site", base.same_site)
    if not isinstance(same_site, bool):
        raise _fail(name, line, f"{pattern}: same_site: must be true or false")
    legal = data.get("legal_basis", base.legal_basis)
    if legal is not None and not isinstance(legal, str):
        raise _fail(name, line, f"{pattern}: legal_basis: must be text")
    return SourceRule(
        pattern=pattern,
        rate=num("rate", float, 0),
        concurrency=num("concurrency", int, 1),
        max_depth=num("max_depth", int, 0),
        same_site=same_site,
        include=regexes("include"),
        exclude=regexes("exclude"),
        legal_basis=legal,
    )


def _build(data: dict[str, Any], name: str) -> SourcePolicy:
    line = data.get("__line__", 1)
    unknown = set(data) - _TOP_KEYS - {"__line__"}
    if unknown:
        raise _fail(name, line, f"unknown key(s) {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
    allow = _patterns(data.get("allow"), name, line, "allow")
    deny = _patterns(data.get("deny"), name, line, "deny")
    default_deny = data.get("default_deny", True)
    if not isinstance(default_deny, bool):
        raise _fail(name, line, "default_deny: must be true or false")
    if default_deny:
        deny = DEFAULT_DENY + tuple(d for d in deny if d not in DEFAULT_DENY)
    legal = data.get("legal_basis")
    if legal is not None and not isinstance(legal, str):
        raise _fail(name, line, "legal_basis: must be text")
    raw_defaults = data.get("defaults") or {}
    if not isinstance(raw_defaults, dict):
        raise _fail(name, line, "defaults: must be a mapping")
    defaults = _rule("defaults", raw_defaults, SourceRule(legal_basis=legal), name)
    raw_sources = data.get("sources") or {}
    if not isinstance(raw_sources, dict):
        raise _fail(name, line, "sources: must be a mapping of domain pattern -> settings")
    sources = []
    for pattern, rule in raw_sources.items():
        if pattern == "__line__":
            continue
        if not isinstance(pattern, str) or not pattern.strip():
            raise _fail(name, raw_sources.get("__line__", line), "sources: keys must be domains")
        if rule is None:
            rule = {}
        if not isinstance(rule, dict):
            raise _fail(name, raw_sources.get("__line__", line),
                        f"sources: {pattern}: must be a mapping of settings")
        sources.append(_rule(pattern.strip().lower(), rule, defaults, name))
    return SourcePolicy(allow=allow, deny=deny, defaults=defaults, sources=tuple(sources),
                        path=name)
