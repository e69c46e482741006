"""Networks: pages joined by a shared phone, handle, email, wallet or ad template.

Two views with the same signals:
- `StoreNetwork` (crawl time: `triage crawl`/`worker`, the service's workers): the state lives in
  the store's `net_*` tables (storage/netstate.py), so a worker holds nothing per page, nothing
  is rebuilt at start, and all workers on one database share it;
- `NetworkIndex` (analyst commands, API pages, tests): the whole graph in memory, built from the
  store on demand, with the members, entities and timeline of every network.

    network = await StoreNetwork.open(store)     # run_worker(..., network=network.hook())

    index = NetworkIndex()                       # or: await NetworkIndex.from_store(store)
    link = index.add_document(page_id, url, fetched_at, title, body, entities)
    link.indicators, link.linked_to_flagged_network   # -> RuleSet.evaluate(extra_indicators=...,
                                                      #        linked_to_flagged_network=...)
    index.networks(min_size=2)                   # connected components, biggest first

The graph's nodes are pages (keyed by URL: a refetch is the same ad), entities ("phone:+49...")
and template clusters; an edge joins a page to each entity on it and to its template cluster.
A network is a connected component with at least two pages. Components are a union-find with
aggregates (pages, entities, names, cities, countries, domains, first/last seen, flagged and
confirmed pages) kept at each root and merged small-into-large, so adding a page costs the same
with 10k or 1M pages stored.

Network signals (family `handler`): a contact (phone, handle, email) or wallet on this page that
other pages use for >= 3 different advertised persons or in >= 2 countries raises
`network.shared-contact` / `network.shared-wallet`, with the entity's span on this page as
evidence and a note naming the network. A page in a network that holds a confirmed hit is
`linked_to_flagged_network` (the rule engine's gate to priority `high`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.models import Document, Entity, Indicator, utcnow
from crawler.netmodels import (
    JoiningEntity,
    Network,
    NetworkPage,
    PageLink,
    entity_from_json,
    entity_key,
)
from crawler.profiles import ad_profile
from crawler.templates import TemplateIndex

__all__ = [
    "JoiningEntity", "Network", "NetworkIndex", "NetworkPage", "PageLink", "StoreNetwork",
    "entity_from_json", "entity_key",
]

if TYPE_CHECKING:
    from storage.base import PageFeatures, Store
    from storage.netstate import PageInput

NETWORK_FAMILY = "handler"
SHARED_CONTACT_WEIGHT = 2.0
MIN_PERSONS = 3  # distinct advertised names behind one contact
MIN_COUNTRIES = 2  # distinct countries behind one contact
CONTACT_KINDS = frozenset({"phone", "handle", "email"})
STORE_PAGE_BATCH = 1000

NetworkHook = Callable[[Document, Sequence[Entity]], Awaitable[tuple[Sequence[Indicator], bool]]]


@dataclass(frozen=True, slots=True)
class _Shared:
    """A contact or wallet on a page that other pages share across persons or countries."""

    entity: Entity
    pages: int
    name_count: int
    names: tuple[str, ...]  # sorted, the first six
    countries: tuple[str, ...]  # sorted


def _indicators(nid: int | None, found: Sequence[_Shared]) -> tuple[Indicator, ...]:
    by_rule: dict[str, list[tuple[Entity, str]]] = {}
    for f in found:
        ent = f.entity
        rule = "network.shared-wallet" if ent.kind == "wallet" else "network.shared-contact"
        note = (f"{ent.kind} {ent.value} on {f.pages} pages: {f.name_count} names "
                f"({', '.join(f.names)}), {len(f.countries)} countries "
                f"({', '.join(f.countries)})")
        by_rule.setdefault(rule, []).append((ent, note))
    return tuple(
        Indicator(
            rule_id=rule, rule_version=1, family=NETWORK_FAMILY, level="medium",
            weight=SHARED_CONTACT_WEIGHT,
            title="Same contact behind several advertised persons or countries"
            if rule.endswith("contact") else "Same wallet behind several persons or countries",
            spans=tuple(e.span for e, _ in items),
            note=f"network {nid}: " + "; ".join(note for _, note in items),
        )
        for rule, items in sorted(by_rule.items())
    )


def _domain(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


@dataclass
class _Page:
    url: str
    page_ids: list[int]
    first_seen: dt.datetime
    last_seen: dt.datetime
    name: str | None = None
    city: str | None = None
    country: str | None = None
    flagged: bool = False
    confirmed: bool = False
    entities: dict[str, Entity] = field(default_factory=dict)  # key -> first seen form
    template: int | None = None
    title: str = ""


@dataclass
class _Group:
    """Aggregates of one connected component, kept at its union-find root."""

    pages: set[str] = field(default_factory=set)
    entities: set[str] = field(default_factory=set)
    templates: set[int] = field(default_factory=set)
    confirmed: set[str] = field(default_factory=set)
    min_page_id: int | None = None

    def absorb(self, other: _Group) -> None:
        if other.min_page_id is not None:
            self.note_page_id(other.min_page_id)
        self.pages |= other.pages
        self.entities |= other.entities
        self.templates |= other.templates
        self.confirmed |= other.confirmed

    def note_page_id(self, page_id: int) -> None:
        if self.min_page_id is None or page_id < self.min_page_id:
            self.min_page_id = page_id

    def weight(self) -> int:
        return len(self.pages) + len(self.entities) + len(self.templates)


class NetworkIndex:
    """Incremental graph of pages, entities and templates. One owner; not thread-safe."""

    def __init__(self, templates: TemplateIndex | None = None) -> None:
        self.templates = templates if templates is not None else TemplateIndex()
        self._parent: dict[str, str] = {}
        self._groups: dict[str, _Group] = {}
        self._pages: dict[str, _Page] = {}
        self._entity_pages: dict[str, set[str]] = {}
        self._entity_names: dict[str, set[str]] = {}
        self._entity_countries: dict[str, set[str]] = {}
        self._template_pages: dict[int, set[str]] = {}
        self._template_keys: dict[str, int] = {}  # url -> key used in the TemplateIndex
        self._next_template_key = 1 << 40  # for pages added without a store page id

    # ------------------------------------------------------------------ union-find

    def _find(self, node: str) -> str:
        parent = self._parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def _node(self, node: str) -> str:
        if node not in self._parent:
            self._parent[node] = node
            self._groups[node] = _Group()
        return self._find(node)

    def _union(self, a: str, b: str) -> str:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return ra
        ga, gb = self._groups[ra], self._groups[rb]
        if ga.weight() < gb.weight():
            ra, rb, ga, gb = rb, ra, gb, ga
        self._parent[rb] = ra
        ga.absorb(gb)
        del self._groups[rb]
        return ra

    # ------------------------------------------------------------------ adding pages

    def add_page(
        self,
        page_id: int | None,
        url: str,
        fetched_at: dt.datetime,
        entities: Sequence[Entity],
        template_cluster: int | None = None,
        flagged: bool = False,
        confirmed: bool = False,
        person_name: str | None = None,
        city: str | None = None,
        country: str | None = None,
        *,
        template_merged: Sequence[int] = (),
        title: str = "",
    ) -> PageLink:
        """Add (or refresh) one page; returns the network signals for it."""
        pnode = "p:" + url
        page = self._pages.get(url)
        if page is None:
            page = _Page(url, [], fetched_at, fetched_at, person_name, city, country)
            self._pages[url] = page
            self._groups[self._node(pnode)].pages.add(url)
        if page_id is not None and page_id not in page.page_ids:
            page.page_ids.append(page_id)
            self._groups[self._find(pnode)].note_page_id(page_id)
        page.first_seen = min(page.first_seen, fetched_at)
        page.last_seen = max(page.last_seen, fetched_at)
        page.name, page.city = page.name or person_name, page.city or city
        page.country = page.country or country
        page.title = page.title or title
        page.flagged = page.flagged or flagged or confirmed
        if confirmed and not page.confirmed:
            page.confirmed = True
            self._groups[self._find(pnode)].confirmed.add(url)
        own_domain = _domain(url)
        for ent in entities:
            if own_domain and ent.kind == "email" and ent.value.endswith(own_domain):
                continue  # the site's own address joins nothing
            key = entity_key(ent.kind, ent.value)
            page.entities.setdefault(key, ent)
            self._entity_pages.setdefault(key, set()).add(url)
            if page.name:
                self._entity_names.setdefault(key, set()).add(page.name.lower())
            if page.country:
                self._entity_countries.setdefault(key, set()).add(page.country)
            enode = "e:" + key
            if enode not in self._parent:
                self._groups[self._node(enode)].entities.add(key)
            self._union(pnode, enode)
        if template_cluster is not None:
            page.template = template_cluster
            self._template_pages.setdefault(template_cluster, set()).add(url)
            tnode = f"t:{template_cluster}"
            if tnode not in self._parent:
                self._groups[self._node(tnode)].templates.add(template_cluster)
            self._union(pnode, tnode)
            for old in template_merged:
                self._template_pages[template_cluster] |= self._template_pages.pop(old, set())
                if f"t:{old}" in self._parent:
                    self._union(tnode, f"t:{old}")
        return self._link(page)

    def add_document(
        self,
        page_id: int | None,
        url: str,
        fetched_at: dt.datetime,
        title: str,
        body: str,
        entities: Sequence[Entity],
        flagged: bool = False,
        confirmed: bool = False,
    ) -> PageLink:
        """add_page with the template cluster and the advertised name/city/country worked out."""
        key = self._template_keys.get(url)
        if key is None:
            if page_id is None:
                key, self._next_template_key = self._next_template_key, self._next_template_key + 1
            else:
                key = page_id
            self._template_keys[url] = key
        profile = ad_profile(url, title, body)
        match = self.templates.match(key, body, mask=(profile.person_name or "",
                                                       profile.city or ""))
        if page_id is None:  # not stored yet (the pipeline hook): a provisional id >= 2**40
            self._node("p:" + url)
            self._groups[self._find("p:" + url)].note_page_id(key)
        return self.add_page(
            page_id, url, fetched_at, entities, match.cluster_id, flagged, confirmed,
            profile.person_name, profile.city, profile.country, template_merged=match.merged,
            title=title,
        )

    def add_features(self, f: PageFeatures) -> PageLink:
        """Add one stored page (what `from_store` does for each)."""
        flagged = f.hit_id is not None and f.hit_status != "dismissed"
        return self.add_document(
            f.page_id, f.final_url or f.url, f.fetched_at, f.title, f.body,
            [entity_from_json(d) for d in f.entities], flagged, f.hit_status == "confirmed",
        )

    @classmethod
    async def from_store(cls, store: Store, templates: TemplateIndex | None = None
                         ) -> NetworkIndex:
        """Rebuild from every stored page, in page id order."""
        index = cls(templates)
        after = 0
        while True:
            batch = await store.iter_page_features(after, STORE_PAGE_BATCH)
            if not batch:
                return index
            for f in batch:
                index.add_features(f)
            after = batch[-1].page_id

    def hook(self) -> NetworkHook:
        """The pipeline's NetworkHook: add the page being analysed, return its signals."""

        async def network(doc: Document, entities: Sequence[Entity]) -> tuple[
                Sequence[Indicator], bool]:
            link = self.add_document(None, doc.url, utcnow(), doc.title, doc.body, entities)
            return link.indicators, link.linked_to_flagged_network

        return network

    def set_review(self, url: str, *, flagged: bool, confirmed: bool) -> None:
        """Record a page's review state after the fact (a hit confirmed, or dismissed)."""
        page = self._pages.get(url)
        if page is None:
            return
        page.flagged, page.confirmed = flagged or confirmed, confirmed
        group = self._groups[self._find("p:" + url)]
        if confirmed:
            group.confirmed.add(url)
        else:
            group.confirmed.discard(url)

    # ------------------------------------------------------------------ signals

    def _link(self, page: _Page) -> PageLink:
        root = self._find("p:" + page.url)
        group = self._groups[root]
        linked = len(group.confirmed) > (1 if page.url in group.confirmed else 0)
        nid = self._network_id(group) if len(group.pages) > 1 else None
        found: list[_Shared] = []
        for key, ent in page.entities.items():
            if ent.kind not in CONTACT_KINDS and ent.kind != "wallet":
                continue
            names = self._entity_names.get(key, set())
            countries = self._entity_countries.get(key, set())
            if len(names) < MIN_PERSONS and len(countries) < MIN_COUNTRIES:
                continue
            found.append(_Shared(ent, len(self._entity_pages[key]), len(names),
                                 tuple(sorted(names)[:6]), tuple(sorted(countries))))
        return PageLink(nid, _indicators(nid, found), linked)

    # ------------------------------------------------------------------ reading

    def _network_id(self, group: _Group) -> int:
        return group.min_page_id or 0

    def network_of(self, url: str) -> Network | None:
        if url not in self._pages:
            return None
        group = self._groups[self._find("p:" + url)]
        return self._network(group) if len(group.pages) > 1 else None

    def networks(self, min_size: int = 2) -> list[Network]:
        """Every network of at least `min_size` pages, biggest first, then by id."""
        out = [self._network(g) for g in self._groups.values() if len(g.pages) >= max(2, min_size)]
        out.sort(key=lambda n: (-n.size, n.network_id))
        return out

    def network(self, network_id: int) -> Network | None:
        for group in self._groups.values():
            if len(group.pages) > 1 and self._network_id(group) == network_id:
                return self._network(group)
        return None

    def pages_with(self, kind: str, value: str) -> list[str]:
        """URLs of the pages that mention an entity."""
        return sorted(self._entity_pages.get(entity_key(kind, value), ()))

    def find_entities(self, value: str) -> list[tuple[Entity, list[str]]]:
        """Entities whose value equals (or, for handles, whose name is) `value`, with pages."""
        want = value.strip().lower()
        compact = "".join(c for c in want if c not in " ./-()")
        if compact.startswith("00") and compact[2:].isdigit():
            compact = "+" + compact[2:]
        if compact.startswith("+") and compact[1:].isdigit():
            want = compact
        out: list[tuple[Entity, list[str]]] = []
        for key, urls in self._entity_pages.items():
            low = key.partition(":")[2].lower()
            if want in (low, key.lower()) or low.partition(":")[2] in (want, want.lstrip("@")):
                ent = self._pages[next(iter(urls))].entities[key]
                out.append((ent, sorted(urls)))
        return out

    def page(self, url: str) -> NetworkPage | None:
        p = self._pages.get(url)
        return None if p is None else self._network_page(p)

    def _network_page(self, p: _Page) -> NetworkPage:
        joined = [k for k in p.entities if len(self._entity_pages.get(k, ())) > 1]
        if p.template is not None:
            cluster = self.templates.find(p.template)
            if len(self._template_pages.get(cluster, ())) > 1:
                joined.append(f"template:{cluster}")
        return NetworkPage(
            min(p.page_ids) if p.page_ids else None, p.url, p.first_seen, p.last_seen, p.name,
            p.city, p.country, p.flagged, p.confirmed, tuple(sorted(joined)), p.title,
            tuple(p.entities.values()),
        )

    def _network(self, group: _Group) -> Network:
        pages = sorted((self._pages[u] for u in group.pages), key=lambda p: (p.first_seen, p.url))
        ents: list[JoiningEntity] = []
        for key in sorted(group.entities):
            urls = self._entity_pages.get(key, set())
            if len(urls) > 1:
                ent = self._pages[next(iter(urls))].entities[key]
                ents.append(JoiningEntity(ent.kind, ent.subtype, ent.value, len(urls)))
        templates = sorted({self.templates.find(t) for t in group.templates
                            if len(self._template_pages.get(self.templates.find(t), ())) > 1})
        return Network(
            network_id=self._network_id(group),
            pages=tuple(self._network_page(p) for p in pages),
            entities=tuple(ents),
            templates=tuple(templates),
            names=tuple(sorted({p.name for p in pages if p.name})),
            cities=tuple(sorted({p.city for p in pages if p.city})),
            countries=tuple(sorted({p.country for p in pages if p.country})),
            domains=tuple(sorted({_domain(p.url) for p in pages})),
            first_seen=min(p.first_seen for p in pages),
            last_seen=max(p.last_seen for p in pages),
        )


class StoreNetwork:
    """The crawl-time network view, kept in the store (storage/netstate.py).

    Same signals as `NetworkIndex.hook()` (shared contact/wallet indicators with the entity's
    span and note, `linked_to_flagged_network`, template clusters joining pages), but the worker
    holds no per-page state: memory does not grow with pages crawled, nothing is rebuilt at
    start (a store written before the network tables existed is backfilled once), and every
    worker on one database shares one view. Reviews reach it through the audit log.

        network = await StoreNetwork.open(store)
        run_worker(..., network=network.hook())
    """

    def __init__(self, store: Store, templates: TemplateIndex | None = None) -> None:
        from storage.netstate import NetState

        self.templates = templates if templates is not None else TemplateIndex()
        self.state = NetState(
            store, threshold=self.templates.threshold,
            max_reps=self.templates.max_representatives, min_persons=MIN_PERSONS,
            min_countries=MIN_COUNTRIES,
        )
        self.store = store

    @classmethod
    async def open(cls, store: Store, templates: TemplateIndex | None = None) -> StoreNetwork:
        network = cls(store, templates)
        await network.backfill()
        return network

    async def backfill(self) -> int:
        """Add the pages stored before the network tables existed (once); returns how many."""
        if await self.state.meta("backfilled"):
            return 0
        after = n = 0
        while True:
            batch = await self.store.iter_page_features(after, STORE_PAGE_BATCH)
            if not batch:
                break
            await self.state.add_pages([
                self._input(f.final_url or f.url, f.title, f.body,
                            [entity_from_json(d) for d in f.entities], f.page_id,
                            f.hit_status == "confirmed")[0]
                for f in batch
            ])
            after, n = batch[-1].page_id, n + len(batch)
        await self.state.set_meta("backfilled", 1)
        return n

    def _input(self, url: str, title: str, body: str, entities: Sequence[Entity],
               page_key: int | None = None, confirmed: bool = False
               ) -> tuple[PageInput, dict[str, Entity]]:
        from storage.netstate import PageInput

        profile = ad_profile(url, title, body)
        sig = self.templates.sketch(body, mask=(profile.person_name or "", profile.city or ""))
        own_domain = _domain(url)
        ents: dict[str, Entity] = {}
        for ent in entities:
            if own_domain and ent.kind == "email" and ent.value.endswith(own_domain):
                continue  # the site's own address joins nothing
            ents.setdefault(entity_key(ent.kind, ent.value), ent)
        bands = self.templates.bands(sig) if sig is not None else []
        return PageInput(url, profile.person_name, profile.country, list(ents), sig, bands,
                         page_key, confirmed), ents

    async def add_document(self, url: str, title: str, body: str, entities: Sequence[Entity]
                           ) -> PageLink:
        """Add (or refresh) one page being crawled; returns its network signals."""
        page, ents = self._input(url, title, body, entities)
        state = await self.state.add_page(page)
        found = [
            _Shared(ent, s.pages, s.name_count, s.names, s.countries)
            for key, ent in ents.items()
            if (ent.kind in CONTACT_KINDS or ent.kind == "wallet")
            and (s := state.entities.get(key)) is not None
            and (s.name_count >= MIN_PERSONS or s.country_count >= MIN_COUNTRIES)
        ]
        return PageLink(state.network_id, _indicators(state.network_id, found), state.linked)

    def hook(self, feed: NetworkIndex | None = None) -> NetworkHook:
        """The pipeline's NetworkHook (same contract as `NetworkIndex.hook`).

        `feed`: an in-memory index (the service's API view) that is also given every page, so
        it stays current without a rebuild; the signals come from the store either way.
        """

        async def network(doc: Document, entities: Sequence[Entity]) -> tuple[
                Sequence[Indicator], bool]:
            link = await self.add_document(doc.url, doc.title, doc.body, entities)
            if feed is not None:
                feed.add_document(None, doc.url, utcnow(), doc.title, doc.body, entities)
            return link.indicators, link.linked_to_flagged_network

        return network
