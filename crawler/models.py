"""Plain frozen data shared by every stage: seeds, fetch results, documents, indicators, hits.

These are the contracts between the modules. A stage takes one of these and returns the next:

    Seed --fetch.py--> FetchResult --extract.py--> Document --rules/--> Evaluation --storage/
                                                      \\--entities.py--> Entity
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Scope = Literal["title", "body", "contact", "url", "meta"]
SCOPES: tuple[Scope, ...] = ("title", "body", "contact", "url", "meta")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True, slots=True)
class Seed:
    """One accepted seed URL, already canonicalised."""

    url: str
    source: str  # seed file name (or "api", "stdin")
    line: int  # 1-based line in the source; 0 when not from a file
    label: str | None = None


@dataclass(frozen=True, slots=True)
class SeedReject:
    """A seed line that was not accepted, with the reason an analyst can read."""

    source: str
    line: int
    text: str
    reason: str


# --------------------------------------------------------------------------- url states


class UrlState(StrEnum):
    QUEUED = "queued"
    FETCHING = "fetching"
    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"


class Outcome(StrEnum):
    """What became of one fetch attempt."""

    FETCHED = "fetched"  # a body was read (status may still be 4xx: recorded, not evaluated)
    REFUSED = "refused"  # we chose not to fetch or read it (policy, robots, address, type, size)
    FAILED = "failed"  # we tried and the network or server failed us


class Reason(StrEnum):
    """Machine-readable reason codes. `detail` strings carry the human explanation."""

    OK = "ok"
    HTTP_STATUS = "http_status"  # fetched, but a non-2xx final status
    # refusals
    POLICY = "policy"  # source policy deny / not in allow list
    ROBOTS = "robots"  # robots.txt disallows (or failed closed)
    ADDRESS = "address"  # resolves to a private / reserved / non-permitted address
    SCHEME = "scheme"  # not http/https
    CONTENT_TYPE = "content_type"  # not an allowed text type (decided from headers)
    SNIFFED_MEDIA = "sniffed_media"  # body bytes look like image/video/archive/executable
    TOO_LARGE = "too_large"  # body (decoded) over the cap
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_REFUSED = "redirect_refused"  # a redirect hop was refused (detail says why)
    HOST_PAUSED = "host_paused"  # host kept failing and was paused
    # failures
    TIMEOUT = "timeout"
    NETWORK = "network"  # connect / DNS / TLS / protocol errors
    DNS = "dns"
    EXTRACT = "extract"  # body could not be turned into text
    INTERNAL = "internal"  # a bug; detail has the exception type


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of fetching one URL, hop by hop. Only fetch.py creates these."""

    url: str  # the URL asked for (canonical)
    outcome: Outcome
    reason: Reason
    detail: str  # human-readable, e.g. "Content-Type image/jpeg is not a text type"
    fetched_at: dt.datetime
    final_url: str | None = None  # after redirects
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # subset worth keeping, lower-case names
    content_type: str | None = None  # media type only, lower-case, e.g. "text/html"
    charset: str | None = None  # from the Content-Type header, if any
    body: bytes = b""  # decoded (decompressed) body, at most the cap
    sha256: str | None = None  # hex SHA-256 of `body`
    redirects: tuple[str, ...] = ()  # every hop's URL, in order, not including final_url
    elapsed_ms: float = 0.0
    legal_basis: str | None = None  # from the source policy, kept with the fetch
    raw_headers: tuple[tuple[str, str], ...] = ()  # the final response's headers, as received
    http_version: str = "HTTP/1.1"


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class Document:
    """Text extracted from one page. Offsets in evidence spans index into these strings."""

    url: str
    title: str = ""
    meta: str = ""  # meta description and keywords, newline-separated
    body: str = ""  # visible text, block elements separated by newlines
    contact: str = ""  # tel:/mailto:/messaging links and contact-ish elements, one per line
    links: tuple[str, ...] = ()  # absolute outgoing links (http/https only)
    language: str | None = None  # ISO 639-1 where it can be told
    warnings: tuple[str, ...] = ()  # e.g. "charset fallback", "text truncated at 2 MiB"

    def text(self, scope: Scope) -> str:
        if scope == "url":
            return self.url
        value: str = getattr(self, scope)
        return value


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Span:
    """Where a pattern matched: offsets are character offsets into Document.text(scope)."""

    scope: Scope
    start: int
    end: int
    text: str  # the matched characters, exactly Document.text(scope)[start:end]
    context: str  # ~80 characters around the match

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "context": self.context,
        }


@dataclass(frozen=True, slots=True)
class Indicator:
    """One fired rule, with the evidence that made it fire."""

    rule_id: str
    rule_version: int
    family: str
    level: str
    weight: float
    title: str
    spans: tuple[Span, ...] = ()
    note: str = ""  # e.g. "network evidence: phone +4915... on 4 pages"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "family": self.family,
            "level": self.level,
            "weight": self.weight,
            "title": self.title,
            "note": self.note,
            "evidence": [s.to_json() for s in self.spans],
        }


Priority = Literal["high", "medium", "low", "none"]
PRIORITY_ORDER: dict[str, int] = {"high": 3, "medium": 2, "low": 1, "none": 0}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What the rule set says about one Document. It never decides: people do."""

    score: float
    priority: Priority
    indicators: tuple[Indicator, ...]
    ruleset_version: str
    family_scores: dict[str, float] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return self.priority != "none"


# --------------------------------------------------------------------------- entities

EntityKind = Literal["phone", "email", "handle", "wallet"]


@dataclass(frozen=True, slots=True)
class Entity:
    """A validated, normalised identifier found on a page (phone in E.164, wallet, ...)."""

    kind: EntityKind
    value: str  # normalised: "+4915148273390", "bc1q...", "telegram:eurojobs_fast_hire"
    span: Span
    subtype: str = ""  # e.g. "telegram", "whatsapp", "btc", "eth", "trx"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subtype": self.subtype,
            "value": self.value,
            "evidence": self.span.to_json(),
        }


# --------------------------------------------------------------------------- review

HitStatus = Literal["pending", "confirmed", "dismissed", "escalated"]
HIT_STATUSES: tuple[str, ...] = ("pending", "confirmed", "dismissed", "escalated")
