"""A network as a graph file for the tools analysts already use (Gephi, Maltego, i2, networkx).

    graph = network_graph(net)      # node-link JSON: {"nodes": [...], "links": [...]}
    graphml(graph)                  # the same graph as GraphML (XML) text

Nodes are pages (`page:<id>`), entities (`phone:+49...`, `handle:telegram:x`, `wallet:bc1...`)
and template clusters (`template:<id>`); an undirected edge joins a page to each entity on it
(`mentions`) and to its template (`uses_template`). Entities that only one page mentions are
kept (analysts pivot on them) and marked `joining: false`.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from crawler.netmodels import Network, entity_key


def network_graph(net: Network) -> dict[str, Any]:
    """Node-link JSON (the networkx / d3 layout) of one network."""
    joining = {entity_key(e.kind, e.value) for e in net.entities}
    nodes: dict[str, dict[str, Any]] = {}
    links: list[dict[str, Any]] = []
    for page in net.pages:
        pid = f"page:{page.page_id if page.page_id is not None else page.url}"
        nodes[pid] = {
            "id": pid, "type": "page", "label": page.title or page.url, "url": page.url,
            "page_id": page.page_id, "name": page.name or "", "city": page.city or "",
            "country": page.country or "", "first_seen": page.first_seen.isoformat(),
            "last_seen": page.last_seen.isoformat(), "flagged": page.flagged,
            "confirmed": page.confirmed,
        }  # fmt: skip
        for ent in page.entities:
            key = entity_key(ent.kind, ent.value)
            nodes.setdefault(key, {
                "id": key, "type": ent.kind, "label": ent.value, "subtype": ent.subtype,
                "value": ent.value, "joining": key in joining,
            })  # fmt: skip
            links.append({"source": pid, "target": key, "type": "mentions",
                          "evidence": ent.span.text})
        for joined in page.joined_by:
            if joined.startswith("template:"):
                nodes.setdefault(joined, {"id": joined, "type": "template", "label": joined,
                                          "joining": True})
                links.append({"source": pid, "target": joined, "type": "uses_template",
                              "evidence": ""})
    return {
        "directed": False,
        "multigraph": False,
        "graph": {"network_id": net.network_id, "size": net.size,
                  "first_seen": net.first_seen.isoformat(),
                  "last_seen": net.last_seen.isoformat()},
        "nodes": list(nodes.values()),
        "links": links,
    }


_GRAPHML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}


def _attr_type(value: object) -> str:
    return _GRAPHML_TYPES.get(type(value), "string")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def graphml(graph: dict[str, Any]) -> str:
    """GraphML text (Gephi, yEd, Maltego import, networkx.read_graphml)."""
    node_keys: dict[str, str] = {}
    edge_keys: dict[str, str] = {}
    for node in graph["nodes"]:
        for k, v in node.items():
            if k != "id" and v is not None:
                node_keys.setdefault(k, _attr_type(v))
    for link in graph["links"]:
        for k, v in link.items():
            if k not in ("source", "target"):
                edge_keys.setdefault(k, _attr_type(v))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">']
    for k, t in node_keys.items():
        out.append(f'  <key id="n_{k}" for="node" attr.name={quoteattr(k)} attr.type="{t}"/>')
    for k, t in edge_keys.items():
        out.append(f'  <key id="e_{k}" for="edge" attr.name={quoteattr(k)} attr.type="{t}"/>')
    gid = quoteattr(f"network-{graph['graph'].get('network_id', '')}")
    out.append(f'  <graph id={gid} edgedefault="undirected">')
    for node in graph["nodes"]:
        out.append(f"    <node id={quoteattr(node['id'])}>")
        for k, v in node.items():
            if k != "id" and v is not None:
                out.append(f'      <data key="n_{k}">{escape(_text(v))}</data>')
        out.append("    </node>")
    for i, link in enumerate(graph["links"]):
        out.append(f"    <edge id=\"e{i}\" source={quoteattr(link['source'])} "
                   f"target={quoteattr(link['target'])}>")
        for k, v in link.items():
            if k not in ("source", "target"):
                out.append(f'      <data key="e_{k}">{escape(_text(v))}</data>')
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out)
