"""What the network view hands out: per-page links and signals, networks, their members.

Plain frozen dataclasses with `to_json()` (the CLI, the API and the graph export read these),
and the entity key/JSON helpers shared by the index and its readers. Built by crawler/networks.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crawler.models import Entity, Indicator, Span


def entity_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def entity_from_json(d: dict[str, Any]) -> Entity:
    """Inverse of Entity.to_json() (what the store keeps)."""
    ev = d.get("evidence") or {}
    span = Span(ev.get("scope", "body"), int(ev.get("start", 0)), int(ev.get("end", 0)),
                str(ev.get("text", "")), str(ev.get("context", "")))
    return Entity(d["kind"], str(d["value"]), span, str(d.get("subtype") or ""))


@dataclass(frozen=True, slots=True)
class PageLink:
    """What the network view adds to one page's evaluation."""

    network_id: int | None  # None while the page is not linked to any other page
    indicators: tuple[Indicator, ...]
    linked_to_flagged_network: bool


@dataclass(frozen=True, slots=True)
class NetworkPage:
    page_id: int | None
    url: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    name: str | None
    city: str | None
    country: str | None
    flagged: bool
    confirmed: bool
    joined_by: tuple[str, ...]  # entity keys and "template:N" this page shares with others
    title: str = ""
    entities: tuple[Entity, ...] = ()  # every entity on the page (joining or not)

    def to_json(self) -> dict[str, Any]:
        return {
            "page_id": self.page_id, "url": self.url, "title": self.title,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(), "name": self.name, "city": self.city,
            "country": self.country, "flagged": self.flagged, "confirmed": self.confirmed,
            "joined_by": list(self.joined_by),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class JoiningEntity:
    kind: str
    subtype: str
    value: str
    pages: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "subtype": self.subtype, "value": self.value,
                "pages": self.pages}


@dataclass(frozen=True, slots=True)
class Network:
    network_id: int  # the smallest page id in it (stable while the store is unchanged)
    pages: tuple[NetworkPage, ...]  # in order of first sight (a timeline)
    entities: tuple[JoiningEntity, ...]  # entities on two or more of its pages
    templates: tuple[int, ...]  # template clusters shared by two or more of its pages
    names: tuple[str, ...]
    cities: tuple[str, ...]
    countries: tuple[str, ...]
    domains: tuple[str, ...]
    first_seen: dt.datetime
    last_seen: dt.datetime

    @property
    def size(self) -> int:
        return len(self.pages)

    @property
    def flagged_pages(self) -> tuple[NetworkPage, ...]:
        return tuple(p for p in self.pages if p.flagged)

    @property
    def confirmed(self) -> bool:
        return any(p.confirmed for p in self.pages)

    def to_json(self, *, members: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.network_id, "size": self.size,
            "entities": [e.to_json() for e in self.entities],
            "templates": list(self.templates), "names": list(self.names),
            "cities": list(self.cities), "countries": list(self.countries),
            "domains": list(self.domains), "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "flagged_pages": [p.page_id for p in self.flagged_pages],
            "confirmed": self.confirmed,
        }  # fmt: skip
        if members:
            out["pages"] = [p.to_json() for p in self.pages]
        return out
