"""`triage networks`, `triage network ID [--export]`, `triage entity VALUE` on a real store."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import crawler.cli.networks  # noqa: F401  (registers the commands)
from crawler.cli.app import app
from tests.support.network_site import PHONE_1, build_network_site
from tests.test_networks import BASE, store_site

runner = CliRunner()
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def triage(*args: str) -> Any:
    env = {"TRIAGE_DATABASE_URL": "", "TRIAGE_DB": "", "COLUMNS": "300"}
    return runner.invoke(app, list(args), env=env)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("net") / "t.db"
    site = build_network_site()
    asyncio.run(store_site(path, site, confirmed_path=sorted(site.expected_groups["wallet"])[0]))
    return path


def networks_json(db: Path, *extra: str) -> list[dict[str, Any]]:
    res = triage("networks", "--db", str(db), "--format", "json", *extra)
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.output.splitlines()]


def test_networks_lists_the_four_planted_networks(db: Path) -> None:
    nets = networks_json(db)
    assert [n["size"] for n in nets] == [3, 3, 3, 3]
    assert sum(n["confirmed"] for n in nets) == 1
    assert networks_json(db, "--min-size", "4") == []


def test_networks_table_shows_joining_entities(db: Path) -> None:
    res = triage("networks", "--db", str(db))
    assert res.exit_code == 0
    assert PHONE_1 in res.output and "template" in res.output


def test_network_shows_members_as_a_timeline(db: Path) -> None:
    nid = networks_json(db)[0]["id"]
    res = triage("network", str(nid), "--db", str(db), "--format", "json")
    assert res.exit_code == 0, res.output
    net = json.loads(res.output)
    seen = [p["first_seen"] for p in net["pages"]]
    assert seen == sorted(seen) and len(net["pages"]) == 3
    table = triage("network", str(nid), "--db", str(db))
    assert table.exit_code == 0 and BASE in table.output


def test_unknown_network_is_a_usage_error(db: Path) -> None:
    res = triage("network", "99999", "--db", str(db))
    assert res.exit_code == 2 and "no network 99999" in res.output


def test_export_graphml_is_valid_xml_with_pages_and_entities(db: Path, tmp_path: Path) -> None:
    nid = next(n["id"] for n in networks_json(db) if n["entities"]
               and n["entities"][0]["value"] == PHONE_1)
    out = tmp_path / "n.graphml"
    res = triage("network", str(nid), "--db", str(db), "--export", "graphml", "--out", str(out))
    assert res.exit_code == 0, res.output
    root = ET.parse(out).getroot()
    graph = root.find(f"{GRAPHML}graph")
    assert graph is not None
    nodes = {n.get("id") for n in graph.findall(f"{GRAPHML}node")}
    assert f"phone:{PHONE_1}" in nodes
    assert sum(1 for n in nodes if n and n.startswith("page:")) == 3
    edges = graph.findall(f"{GRAPHML}edge")
    assert sum(1 for e in edges if e.get("target") == f"phone:{PHONE_1}") == 3


def test_export_json_graph_is_node_link(db: Path) -> None:
    nid = networks_json(db)[0]["id"]
    res = triage("network", str(nid), "--db", str(db), "--export", "json")
    assert res.exit_code == 0, res.output
    graph = json.loads(res.output)
    ids = {n["id"] for n in graph["nodes"]}
    assert all(link["source"] in ids and link["target"] in ids for link in graph["links"])
    assert graph["graph"]["network_id"] == nid


def test_entity_lists_every_page_mentioning_it(db: Path) -> None:
    res = triage("entity", "0049 176 1234 5678", "--db", str(db), "--format", "json")
    assert res.exit_code == 0, res.output
    records = {r["kind"]: r for r in json.loads(res.output)}
    assert len(records["phone"]["pages"]) == 3
    assert all(p["network_id"] for p in records["phone"]["pages"])
    assert all(p["evidence"]["text"] for p in records["phone"]["pages"])


def test_entity_not_found_exits_1(db: Path) -> None:
    res = triage("entity", "nobody@nowhere.example", "--db", str(db))
    assert res.exit_code == 1 and "no page mentions" in res.output


def test_missing_database_is_an_error(tmp_path: Path) -> None:
    res = triage("networks", "--db", str(tmp_path / "missing.db"))
    assert res.exit_code in (1, 2) and "triage: error" in res.output
