"""The crawl-time network view kept in the store (StoreNetwork): same signals as the in-memory
NetworkIndex, idempotent on refetch, backfilled once, shared by workers, fed by reviews."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from crawler.entities import extract_entities
from crawler.models import (
    Document,
    Entity,
    Evaluation,
    FetchResult,
    Indicator,
    Outcome,
    Reason,
    Seed,
    Span,
)
from crawler.networks import NetworkIndex, StoreNetwork
from storage import open_store
from tests.support.network_site import PHONE_1, build_network_site
from tests.test_networks import BASE, store_site
from tests.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)

Signals = tuple[Sequence[Indicator], bool]


def phone(value: str) -> Entity:
    return Entity("phone", value, Span("body", 0, 4, "0151", "Tel 0151"))


def doc(n: int | str, title: str, body: str = "", host: str = "ads.example") -> Document:
    return Document(url=f"https://{host}/{n}", title=title, body=body)


async def test_store_view_gives_the_in_memory_signals_on_the_synthetic_site(db_url: str,  # noqa: F811
) -> None:
    site = build_network_site()
    memory = NetworkIndex().hook()
    async with open_store(db_url) as store:
        stored = (await StoreNetwork.open(store)).hook()
        fired = 0
        for _ in range(2):  # the second round is every page fetched again
            for d in site.documents(BASE):
                entities = extract_entities(d)
                want: Signals = await memory(d, entities)
                got: Signals = await stored(d, entities)
                assert got == want, d.url
                fired += len(got[0])
    assert fired >= 4  # the shared phones and the wallet raised indicators on both rounds


async def test_a_page_added_twice_counts_once(db_url: str,  # noqa: F811
) -> None:
    p = phone("+4915100000001")
    async with open_store(db_url) as store:
        net = await StoreNetwork.open(store)
        for _ in range(3):  # e.g. fetched again after the worker was killed before recording
            link = await net.add_document("https://ads.example/1", "Anna – Berlin", "", [p])
            assert link.indicators == () and link.network_id is None
        await net.add_document("https://ads.example/2", "Bea – Berlin", "", [p])
        link = await net.add_document("https://ads.example/3", "Cleo – Berlin", "", [p])
    [ind] = link.indicators
    assert ind.rule_id == "network.shared-contact"
    assert "on 3 pages: 3 names (anna, bea, cleo), 1 countries (DE)" in ind.note
    assert link.network_id is not None and f"network {link.network_id}:" in ind.note


async def test_two_workers_on_one_database_share_the_view(db_url: str,  # noqa: F811
) -> None:
    p = phone("+4915100000001")
    async with open_store(db_url) as a_store, open_store(db_url) as b_store:
        a, b = await StoreNetwork.open(a_store), await StoreNetwork.open(b_store)
        await a.add_document("https://ads.example/1", "Anna – Berlin", "", [p])
        link = await b.add_document("https://ads.example/2", "Anna – Paris", "", [p])
    assert [i.rule_id for i in link.indicators] == ["network.shared-contact"]


async def test_template_pages_join_one_network_through_the_store_lsh(db_url: str,  # noqa: F811
) -> None:
    text = ("hi gentlemen, i am {name}, new in {city} for a few days only. i offer a relaxed time "
            "in my private apartment near the central station of {city}. discretion is "
            "guaranteed and i speak english. {name} is waiting for you in {city} tonight.")
    other = " ".join(f"word{i}" for i in range(60))
    async with open_store(db_url) as store:
        net = await StoreNetwork.open(store)
        first = await net.add_document("https://a.example/1", "Anna – Berlin",
                                       text.format(name="anna", city="berlin"), [])
        alone = await net.add_document("https://a.example/2", "Mia – Wien", other, [])
        second = await net.add_document("https://a.example/3", "Sofia – Paris",
                                        text.format(name="sofia", city="paris"), [])
    assert first.network_id is None and alone.network_id is None
    assert second.network_id is not None


async def test_backfill_then_a_new_page_links_to_the_confirmed_network(db_url: str,  # noqa: F811
) -> None:
    site = build_network_site()
    confirmed = sorted(site.expected_groups["phone-1"])[0]
    await store_site(db_url, site, confirmed_path=confirmed)  # type: ignore[arg-type]
    async with open_store(db_url) as store:
        net = StoreNetwork(store)
        assert await net.backfill() == len(site.pages)
        assert await net.backfill() == 0  # once
        new = Document(url="https://other.example/ad", title="Vera – Wien",
                       body="Neu hier. Ruf mich an: +49 176 12345678", language="de")
        indicators, linked = await net.hook()(new, extract_entities(new))
    assert linked
    [ind] = indicators
    assert ind.rule_id == "network.shared-contact" and PHONE_1 in ind.note
    assert "on 4 pages" in ind.note  # the three stored pages and this one


async def test_reviews_reach_every_worker_through_the_audit_log(db_url: str,  # noqa: F811
) -> None:
    p = phone("+4915100000001")
    async with open_store(db_url) as store:
        await store.add_batch("s", "sha", [Seed("https://ads.example/a", "s", 1)], [])
        [claim] = await store.claim("w", 1, 60)
        body = b"<p>Tel 0151</p>"
        result = FetchResult(
            url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="",
            fetched_at=dt.datetime.now(dt.UTC), final_url=claim.url, status=200,
            content_type="text/html", body=body, sha256=hashlib.sha256(body).hexdigest(),
        )
        net = await StoreNetwork.open(store)
        page = doc("a", "Anna")
        await net.add_document(page.url, page.title, "", [p])
        out = await store.record_result(claim, "w", result, page,
                                        Evaluation(2.5, "medium", (), "v1"), [p])
        assert out.hit_id is not None
        assert not (await net.add_document("https://ads.example/b", "", "", [p])
                    ).linked_to_flagged_network
        await store.review(out.hit_id, "confirmed", "analyst")
        await net.state.sync_reviews()
        assert (await net.add_document("https://ads.example/c", "", "", [p])
                ).linked_to_flagged_network
        assert not (await net.add_document(page.url, page.title, "", [p])
                    ).linked_to_flagged_network  # not linked by its own hit
        await store.review(out.hit_id, "dismissed", "analyst")
        await net.state.sync_reviews()
        assert not (await net.add_document("https://ads.example/d", "", "", [p])
                    ).linked_to_flagged_network


async def test_site_own_email_address_joins_nothing_in_the_store(db_url: str,  # noqa: F811
) -> None:
    own = Entity("email", "info@ads.example", Span("body", 0, 3, "x", "x"))
    async with open_store(db_url) as store:
        net = await StoreNetwork.open(store)
        await net.add_document("https://ads.example/1", "", "", [own])
        link = await net.add_document("https://ads.example/2", "", "", [own])
    assert link.network_id is None


async def test_concurrent_workers_count_every_page_once(db_url: str,  # noqa: F811
) -> None:
    import asyncio

    p = phone("+4915100000001")
    async with open_store(db_url) as a_store, open_store(db_url) as b_store:
        a, b = await StoreNetwork.open(a_store), await StoreNetwork.open(b_store)
        # both workers see every page (a resumed crawl racing a second worker)
        await asyncio.gather(*(
            net.add_document(f"https://ads.example/{n}", f"Lea{chr(97 + n)} – Berlin", "", [p])
            for n in range(20) for net in (a, b)
        ))
        link = await a.add_document("https://ads.example/last", "Vera – Wien", "", [p])
    [ind] = link.indicators
    assert "on 21 pages: 21 names" in ind.note and "2 countries (AT, DE)" in ind.note


async def test_the_hook_also_feeds_an_in_memory_view(db_url: str,  # noqa: F811
) -> None:
    p = phone("+4915100000001")
    view = NetworkIndex()
    async with open_store(db_url) as store:
        hook = (await StoreNetwork.open(store)).hook(feed=view)
        for n in (1, 2):
            await hook(doc(n, f"Ann{'ab'[n - 1]} – Berlin"), [p])
    [net] = view.networks()
    assert net.size == 2 and [e.value for e in net.entities] == ["+4915100000001"]


def _template_pages(n: int, seed: int) -> list[tuple[str, str, str, list[Entity]]]:
    """Pages from a few ad templates with names, cities and words swapped (clusters that grow
    past the representative cap and merge), shared and own phones, short pages, refetches.
    (A refetch is the same page again: when its entities change, the in-memory index still
    reports the earlier fetch's entities, the store view only the current ones.)"""
    import random

    rng = random.Random(seed)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 8)))
             for _ in range(400)]
    templates = [" ".join(rng.choices(words, k=50)) for _ in range(4)]
    bridge = templates[0][: len(templates[0]) // 2] + " " + templates[1][len(templates[1]) // 2:]
    names = ["Anna", "Bea", "Cleo", "Dana", "Eva", "Fay", "Gina", "Hana"]
    cities = ["Berlin", "Paris", "Wien", "Roma", "Madrid"]
    out: list[tuple[str, str, str, list[Entity]]] = []
    for i in range(n):
        name, city = rng.choice(names), rng.choice(cities)
        r = rng.random()
        if r < 0.8:
            base = rng.choice([*templates, bridge]).split()
            for _ in range(rng.randint(0, 3)):  # a few words changed: near, not equal
                base[rng.randrange(len(base))] = rng.choice(words)
            body = f"{name} in {city}: " + " ".join(base)
        elif r < 0.9:
            body = " ".join(rng.choices(words, k=40))
        else:
            body = "short ad"
        ph = f"+4915100000{rng.randrange(20):03d}" if rng.random() < 0.4 else f"+4917{i:09d}"
        if out and rng.random() < 0.15:  # a refetch of an earlier page (the same ad)
            out.append(rng.choice(out))
        else:
            out.append((f"https://ads{i % 3}.example/{i}", f"{name} – {city}", body, [phone(ph)]))
    return out


async def test_store_view_gives_the_in_memory_links_on_template_heavy_pages(db_url: str,  # noqa: F811
) -> None:
    """Network ids, indicators and linked flags (PageLink) equal the in-memory index's, with
    template clusters past `max_representatives` and merging, pages added in groups (one
    transaction) and one at a time."""
    import asyncio

    import numpy as np

    from crawler.templates import TemplateIndex

    pages = _template_pages(260, seed=4)
    memory = NetworkIndex(TemplateIndex(max_representatives=4))
    async with open_store(db_url) as store:
        net = await StoreNetwork.open(store, TemplateIndex(max_representatives=4))
        want = [memory.add_document(None, u, BASE_T, t, b, e) for u, t, b, e in pages]
        got = []
        for i in range(0, len(pages), 13):  # groups of concurrent calls, as a worker makes
            got += await asyncio.gather(*(net.add_document(u, t, b, e)
                                          for u, t, b, e in pages[i : i + 13]))
    assert got == want
    ids = [link.network_id for link in got]
    assert len({i for i in ids if i is not None}) >= 2 and np.mean([i is None for i in ids]) < 0.5
    assert sum(bool(link.indicators) for link in got) >= 10
    clusters = {memory.templates.find(k) for k in memory.templates._parent}
    assert max(memory.templates.cluster_size(c) for c in clusters) > 4  # past the cap


BASE_T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
