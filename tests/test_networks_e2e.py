"""End to end: crawl the synthetic ad site on loopback; the networks found are the planted ones."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from crawler.networks import NetworkIndex
from storage import open_store
from tests.support.network_site import build_network_site
from tests.support.server import LoopbackSite
from tests.test_pipeline import RULES, hit_records, triage, write_seeds


async def stored_networks(db: Path, base: str) -> list[frozenset[str]]:
    async with open_store(db, create=False) as store:
        index = await NetworkIndex.from_store(store)
    return [frozenset(p.url.removeprefix(base) for p in n.pages) for n in index.networks()]


@pytest.mark.slow
def test_crawl_of_the_network_site_finds_exactly_the_planted_networks(
    site: LoopbackSite, tmp_path: Path
) -> None:
    ads = build_network_site()
    ads.install(site)
    seeds = write_seeds(tmp_path / "seeds.txt", [site.url(p) for p in ads.pages])
    db = tmp_path / "t.db"
    out = triage("crawl", str(seeds), "--db", str(db), "--rules", str(RULES),
                 "--per-host-rps", "0", "--no-progress")
    assert out.returncode == 0, out.stderr

    base = site.url("/").rstrip("/")
    found = set(asyncio.run(stored_networks(db, base)))
    assert found == set(ads.expected_groups.values())
    listed = triage("networks", "--db", str(db), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(json.loads(line)["size"] for line in listed.stdout.splitlines()) == [3] * 4

    # the shared German phone (3 names, 3 countries) raised the network indicator on a page
    phone_group = {base + p for p in ads.expected_groups["phone-1"]}
    rules = {i["rule_id"] for h in hit_records(db) if h["url"] in phone_group
             for i in h["indicators"]}
    assert "network.shared-contact" in rules
