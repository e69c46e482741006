"""End to end: crawl a loopback site where 12 ads share 2 phones, 1 wallet and one template among
40 unrelated ads; the networks found from the store are exactly the planted groups."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from crawler.networks import NetworkIndex
from storage import open_store
from tests.support.network_site import build_network_site
from tests.support.server import LoopbackSite
from tests.test_pipeline import RULES, triage


@pytest.mark.slow
def test_crawled_site_yields_exactly_the_planted_networks(
    site: LoopbackSite, tmp_path: Path
) -> None:
    planted = build_network_site()
    planted.install(site)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(site.url(p) for p in planted.pages) + "\n")
    db = tmp_path / "t.db"
    out = triage(
        "crawl", str(seeds), "--db", str(db), "--rules", str(RULES), "--per-host-rps", "0",
        "--no-progress", cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr

    async def groups() -> set[frozenset[str]]:
        async with open_store(str(db)) as store:
            index = await NetworkIndex.from_store(store)
        return {
            frozenset(p.url.removeprefix(site.base) for p in n.pages) for n in index.networks()
        }

    assert asyncio.run(groups()) == set(planted.expected_groups.values())
    listed = triage("networks", "--db", str(db), "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    sizes = sorted(json.loads(line)["size"] for line in listed.stdout.splitlines() if line.strip())
    assert sizes == sorted(len(g) for g in planted.expected_groups.values())


@pytest.mark.slow
def test_crawl_raises_the_shared_contact_indicator_with_evidence(
    site: LoopbackSite, tmp_path: Path
) -> None:
    from tests.test_pipeline import hit_records

    planted = build_network_site()
    planted.install(site)
    group = sorted(planted.expected_groups["phone-1"])
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(site.url(p) for p in group) + "\n")
    db = tmp_path / "t.db"
    out = triage("crawl", str(seeds), "--db", str(db), "--rules", str(RULES),
                 "--per-host-rps", "0", "--no-progress", "--concurrency", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    fired = [i for h in hit_records(db) for i in h["indicators"]
             if i["rule_id"] == "network.shared-contact"]
    assert fired, "the phone shared by 3 names in 3 countries raised no network indicator"
    assert all(i["family"] == "handler" and i["evidence"] for i in fired)
