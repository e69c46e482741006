"""Networks: pages joined by shared entities and templates, signals, rebuild from the store."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

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
from crawler.networks import NETWORK_FAMILY, NetworkIndex, PageLink, entity_from_json
from storage import open_store
from tests.support.network_site import PHONE_1, NetworkSite, build_network_site

BASE = "http://127.0.0.1:8000"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def phone(value: str, text: str = "0151") -> Entity:
    return Entity("phone", value, Span("body", 0, len(text), text, text))


def index_site(site: NetworkSite) -> tuple[NetworkIndex, dict[str, list[Indicator]]]:
    index = NetworkIndex()
    signals: dict[str, list[Indicator]] = {}
    for n, doc in enumerate(site.documents(BASE), start=1):
        link = index.add_document(n, doc.url, T0 + dt.timedelta(hours=n), doc.title, doc.body,
                                  extract_entities(doc))
        signals[doc.url.removeprefix(BASE)] = list(link.indicators)
    return index, signals


def groups(index: NetworkIndex) -> set[frozenset[str]]:
    return {frozenset(p.url.removeprefix(BASE) for p in n.pages) for n in index.networks()}


# --------------------------------------------------------------------------- the synthetic site


def test_synthetic_site_networks_are_exactly_the_planted_groups() -> None:
    site = build_network_site()
    assert len(site.pages) == 52
    index, _ = index_site(site)
    assert groups(index) == set(site.expected_groups.values())


def test_each_network_names_what_joins_it() -> None:
    site = build_network_site()
    index, _ = index_site(site)
    joined = {frozenset(p.url.removeprefix(BASE) for p in n.pages): n for n in index.networks()}
    phone1 = joined[site.expected_groups["phone-1"]]
    assert [(e.kind, e.value, e.pages) for e in phone1.entities] == [("phone", PHONE_1, 3)]
    assert phone1.names == ("Anna", "Chloé", "Emily")
    assert phone1.countries == ("DE", "FR", "GB")
    wallet = joined[site.expected_groups["wallet"]]
    assert [(e.kind, e.subtype, e.value) for e in wallet.entities] == [
        ("wallet", "btc", site.wallet)
    ]
    template = joined[site.expected_groups["template"]]
    assert template.entities == () and len(template.templates) == 1
    assert all(p.joined_by == (f"template:{template.templates[0]}",) for p in template.pages)
    assert template.first_seen < template.last_seen
    assert template.domains == ("127.0.0.1",)


def test_shared_contact_across_persons_and_countries_raises_a_handler_indicator() -> None:
    site = build_network_site()
    _, signals = index_site(site)
    last = sorted(site.expected_groups["phone-1"])[-1]
    [ind] = signals[last]
    assert (ind.rule_id, ind.family) == ("network.shared-contact", NETWORK_FAMILY)
    assert ind.spans and ind.spans[0].text  # the phone as written on this page
    assert PHONE_1 in ind.note and "network 1" in ind.note and "3 countries" in ind.note
    wallet_last = sorted(site.expected_groups["wallet"])[-1]
    assert [i.rule_id for i in signals[wallet_last]] == ["network.shared-wallet"]


def test_unrelated_and_template_pages_get_no_network_indicator() -> None:
    site = build_network_site()
    _, signals = index_site(site)
    linked = set().union(*(site.expected_groups[g] for g in ("phone-1", "phone-2", "wallet")))
    assert {path for path, inds in signals.items() if inds} <= linked


# --------------------------------------------------------------------------- signal thresholds


def add(index: NetworkIndex, n: int, entities: list[Entity], *, name: str | None = None,
        country: str | None = None, confirmed: bool = False, url: str | None = None) -> PageLink:
    return index.add_page(n, url or f"https://ads.example/{n}", T0 + dt.timedelta(days=n),
                          entities, None, confirmed, confirmed, name, None, country)


def test_two_names_in_one_country_raise_nothing_three_names_do() -> None:
    index = NetworkIndex()
    p = phone("+4915100000001")
    assert add(index, 1, [p], name="Anna", country="DE").indicators == ()
    assert add(index, 2, [p], name="Bea", country="DE").indicators == ()
    link = add(index, 3, [p], name="Cleo", country="DE")
    assert [i.rule_id for i in link.indicators] == ["network.shared-contact"]


def test_two_countries_are_enough() -> None:
    index = NetworkIndex()
    p = phone("+4915100000001")
    add(index, 1, [p], name="Anna", country="DE")
    link = add(index, 2, [p], name="Anna", country="AT")
    assert [i.rule_id for i in link.indicators] == ["network.shared-contact"]


def test_page_in_a_network_with_a_confirmed_hit_is_linked_to_a_flagged_network() -> None:
    index = NetworkIndex()
    p, q = phone("+4915100000001"), phone("+4915100000002")
    add(index, 1, [p], confirmed=True)
    add(index, 2, [p, q])
    link = add(index, 3, [q])  # two hops away from the confirmed page
    assert link.linked_to_flagged_network
    alone = add(index, 4, [phone("+4915100000003")])
    assert not alone.linked_to_flagged_network


def test_the_confirmed_page_itself_is_not_linked_by_its_own_hit() -> None:
    index = NetworkIndex()
    link = add(index, 1, [phone("+4915100000001")], confirmed=True)
    assert not link.linked_to_flagged_network


def test_refetching_a_url_keeps_one_page() -> None:
    index = NetworkIndex()
    p = phone("+4915100000001")
    add(index, 1, [p], url="https://ads.example/a")
    add(index, 2, [p], url="https://ads.example/a")
    assert index.networks() == []
    add(index, 3, [p], url="https://ads.example/b")
    [net] = index.networks()
    assert net.size == 2 and net.network_id == 1


def test_site_own_email_address_joins_nothing() -> None:
    index = NetworkIndex()
    own = Entity("email", "info@ads.example", Span("body", 0, 3, "x", "x"))
    add(index, 1, [own])
    add(index, 2, [own])
    assert index.networks() == []


def test_template_cluster_merge_joins_both_networks() -> None:
    index = NetworkIndex()
    index.add_page(1, "https://a.example/1", T0, [], template_cluster=1)
    index.add_page(2, "https://a.example/2", T0, [], template_cluster=1)
    index.add_page(3, "https://a.example/3", T0, [], template_cluster=3)
    index.add_page(4, "https://a.example/4", T0, [], template_cluster=3)
    assert len(index.networks()) == 2
    index.add_page(5, "https://a.example/5", T0, [], template_cluster=1, template_merged=[3])
    [net] = index.networks()
    assert net.size == 5 and net.templates == (1,)


def test_min_size_filters_networks() -> None:
    site = build_network_site()
    index, _ = index_site(site)
    assert len(index.networks(min_size=3)) == 4
    assert index.networks(min_size=4) == []


def test_find_entities_by_value_handle_name_and_formatted_phone() -> None:
    site = build_network_site()
    index, _ = index_site(site)
    found = {(e.kind, e.value): urls for e, urls in index.find_entities("+49 176 1234 5678")}
    assert set(found) == {("phone", PHONE_1), ("handle", f"whatsapp:{PHONE_1}")}
    assert len(found["phone", PHONE_1]) == 3
    assert index.find_entities(site.wallet.upper())[0][0].kind == "wallet"


def test_entity_json_round_trip() -> None:
    e = Entity("handle", "telegram:anna", Span("contact", 2, 9, "t.me/an", "x t.me/an"), "telegram")
    assert entity_from_json(e.to_json()) == e


# --------------------------------------------------------------------------- from the store


async def store_site(db: Path, site: NetworkSite, confirmed_path: str | None = None) -> None:
    """Record every page of the site in a real SQLite store (one hit confirmed)."""
    async with open_store(db) as store:
        urls = [BASE + p for p in site.pages]
        await store.add_batch("site", "sha", [Seed(u, "site", i + 1) for i, u in
                                              enumerate(urls)], [])
        claims = await store.claim("w", 1000, 60)
        docs = {d.url: d for d in site.documents(BASE)}
        for claim in sorted(claims, key=lambda c: c.url_id):
            doc: Document = docs[claim.url]
            body = doc.body.encode()
            result = FetchResult(
                url=claim.url, outcome=Outcome.FETCHED, reason=Reason.OK, detail="",
                fetched_at=T0 + dt.timedelta(minutes=claim.url_id), final_url=claim.url,
                status=200, content_type="text/html", body=body,
                sha256=hashlib.sha256(body).hexdigest(),
            )
            flagged = claim.url == BASE + (confirmed_path or "")
            ev = Evaluation(2.5, "medium", (), "v1") if flagged else None
            out = await store.record_result(claim, "w", result, doc, ev, extract_entities(doc))
            if flagged:
                assert out.hit_id is not None
                await store.review(out.hit_id, "confirmed", "analyst")


async def test_rebuild_from_store_finds_the_planted_groups(tmp_path: Path) -> None:
    site = build_network_site()
    await store_site(tmp_path / "t.db", site)
    async with open_store(tmp_path / "t.db") as store:
        index = await NetworkIndex.from_store(store)
    assert groups(index) == set(site.expected_groups.values())
    assert all(p.page_id is not None for n in index.networks() for p in n.pages)


async def test_rebuilt_index_links_a_new_page_to_a_confirmed_network(tmp_path: Path) -> None:
    site = build_network_site()
    confirmed = sorted(site.expected_groups["phone-1"])[0]
    await store_site(tmp_path / "t.db", site, confirmed_path=confirmed)
    async with open_store(tmp_path / "t.db") as store:
        index = await NetworkIndex.from_store(store)
    [net] = [n for n in index.networks() if n.confirmed]
    assert {p.url for p in net.flagged_pages} == {BASE + confirmed}
    hook = index.hook()
    new = Document(url="https://other.example/ad", title="Vera – Wien",
                   body="Neu hier. Ruf mich an: +49 176 12345678", language="de")
    indicators, linked = await hook(new, extract_entities(new))
    assert linked
    assert [i.rule_id for i in indicators] == ["network.shared-contact"]


def test_review_after_the_fact_links_and_unlinks_the_network() -> None:
    index = NetworkIndex()
    p = phone("+4915100000001")
    add(index, 1, [p], url="https://ads.example/a")
    index.set_review("https://ads.example/a", flagged=True, confirmed=True)
    assert add(index, 2, [p]).linked_to_flagged_network
    index.set_review("https://ads.example/a", flagged=False, confirmed=False)
    assert not add(index, 3, [p]).linked_to_flagged_network
    [net] = index.networks()
    assert net.flagged_pages == () and not net.confirmed


async def test_pages_added_through_the_hook_get_distinct_network_ids() -> None:
    index = NetworkIndex()
    hook = index.hook()
    for n, number in ((1, "+49 176 11111111"), (2, "+49 176 11111111"), (3, "+49 176 22222222"),
                      (4, "+49 176 22222222")):
        doc = Document(url=f"https://ads.example/{n}", body=f"Tel {number}", language="de")
        await hook(doc, extract_entities(doc))
    ids = [n.network_id for n in index.networks()]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(i >= 2**40 for i in ids)
    assert all(index.network(i) is not None for i in ids)


def test_names_and_cities_from_the_title_are_masked_in_a_lowercase_template() -> None:
    text = ("hi gentlemen, i am {name}, new in {city} for a few days only. i offer a relaxed time "
            "in my private apartment near the central station of {city}. discretion is "
            "guaranteed and i speak english. {name} is waiting for you in {city} tonight.")
    index = NetworkIndex()
    for n, (name, city) in enumerate((("Anna", "Berlin"), ("Sofia", "Paris")), start=1):
        body = text.format(name=name.lower(), city=city.lower())
        index.add_document(n, f"https://ads.example/{n}", T0, f"{name} – {city}", body, [])
    [net] = index.networks()
    assert net.names == ("Anna", "Sofia") and len(net.templates) == 1


def test_ad_profile_reads_the_title_once_with_the_same_result() -> None:
    """ad_profile (title's cities found once, shared by city and name) equals the plain
    composition of find_city / person_name / tld_country on varied titles, paths and bodies."""
    import random
    from urllib.parse import unquote, urlsplit

    from crawler.profiles import AdProfile, ad_profile, find_city, person_name, tld_country

    def plain(url: str, title: str, body: str) -> AdProfile:
        path = unquote(urlsplit(url).path).replace("-", " ").replace("_", " ")
        found = find_city(title, path, body[:600])
        city, country = found if found else (None, None)
        return AdProfile(person_name(title), city, country or tld_country(url))

    rng = random.Random(12)
    words = ["Anna", "Paris", "paris", "Berlin", "MÜNCHEN", "Sofia", "new", "Hot", "VIP", "Wien",
             "den Haag", "Mia", "escort", "in", "23", "–", ",", "Zürich", "lyon", "Roma", "x"]
    hosts = ["ads.example", "ads.example.de", "x.co.uk", "y.fr", "z"]
    for _ in range(3000):
        title = " ".join(rng.choices(words, k=rng.randint(0, 6)))
        path = "/" + "-".join(rng.choices(words, k=rng.randint(0, 3)))
        body = " ".join(rng.choices(words, k=rng.randint(0, 40)))
        url = f"https://{rng.choice(hosts)}{path}"
        assert ad_profile(url, title, body) == plain(url, title, body), (url, title, body)
