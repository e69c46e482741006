"""`triage networks`, `triage network ID [--export graphml|json]`, `triage entity VALUE`.

Networks are computed from the store at command start (NetworkIndex.from_store): pages joined by
a shared phone, handle, email, wallet or ad template. JSON records are `Network.to_json()`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crawler.cli.app import DbOption, app
from crawler.errors import TriageError, UsageError

if TYPE_CHECKING:
    from crawler.networks import Network, NetworkIndex

FormatOption = Annotated[str, typer.Option("--format", help="table|json")]


def _load(db: str) -> NetworkIndex:
    """Rebuild the network index from the store; errors become one line and an exit code."""
    from crawler.networks import NetworkIndex
    from storage import open_store

    async def load() -> NetworkIndex:
        async with open_store(db, create=False) as store:
            return await NetworkIndex.from_store(store)

    try:
        return asyncio.run(load())
    except UsageError as exc:
        typer.echo(f"triage: error: {exc}", err=True)
        raise typer.Exit(2) from None
    except TriageError as exc:
        typer.echo(f"triage: error: {exc}", err=True)
        raise typer.Exit(1) from None


def _check(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        typer.echo(f"triage: error: {name} must be one of {', '.join(allowed)}, not {value!r}",
                   err=True)
        raise typer.Exit(2)


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def _joins(net: Network) -> str:
    parts = [f"{e.kind} {e.value} ({e.pages})" for e in net.entities]
    parts += [f"template {t}" for t in net.templates]
    return "; ".join(parts)


@app.command("networks")
def networks_cmd(
    db: DbOption = "triage.db",
    min_size: Annotated[int, typer.Option("--min-size", min=2, help="At least N pages.")] = 2,
    fmt: FormatOption = "table",
) -> None:
    """Groups of pages joined by a shared phone, handle, email, wallet or ad template."""
    _check("--format", fmt, ("table", "json"))
    nets = _load(db).networks(min_size=min_size)
    if fmt == "json":
        for net in nets:
            typer.echo(json.dumps(net.to_json(members=False), ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"networks ({len(nets)})")
    for col in ("id", "pages", "flagged", "names", "cities", "countries", "domains", "joined by",
                "first seen", "last seen"):
        table.add_column(col, overflow="fold")
    for n in nets:
        flagged = f"{len(n.flagged_pages)}{' confirmed' if n.confirmed else ''}"
        table.add_row(str(n.network_id), str(n.size), flagged, ", ".join(n.names),
                      ", ".join(n.cities), ", ".join(n.countries), ", ".join(n.domains),
                      _joins(n), n.first_seen.date().isoformat(), n.last_seen.date().isoformat())
    Console().print(table)


@app.command("network")
def network_cmd(
    network_id: Annotated[int, typer.Argument(help="Network id (see `triage networks`).")],
    db: DbOption = "triage.db",
    fmt: FormatOption = "table",
    export: Annotated[str | None, typer.Option(
        "--export", help="Write the network as a graph: graphml|json (Gephi, Maltego, i2)."
    )] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Export file [default: stdout].")] = None,
) -> None:
    """One network: its members as a timeline, the entities and templates that join them."""
    _check("--format", fmt, ("table", "json"))
    _check("--export", export, ("graphml", "json"))
    net = _load(db).network(network_id)
    if net is None:
        typer.echo(f"triage: error: no network {network_id} (see `triage networks`)", err=True)
        raise typer.Exit(2)
    if export is not None:
        from crawler.netexport import graphml, network_graph

        graph = network_graph(net)
        text = graphml(graph) if export == "graphml" else json.dumps(
            graph, ensure_ascii=False, indent=2) + "\n"
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {export} graph of network {network_id} "
                       f"({len(graph['nodes'])} nodes, {len(graph['links'])} edges) to {out}")
        return
    if fmt == "json":
        _print_json(net.to_json())
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]network {net.network_id}[/bold]: {net.size} pages, "
                  f"{net.first_seen:%Y-%m-%d} .. {net.last_seen:%Y-%m-%d}; "
                  f"names {', '.join(net.names) or '-'}; "
                  f"countries {', '.join(net.countries) or '-'}")
    console.print(f"joined by: {_joins(net)}")
    table = Table(title="members (timeline)")
    for col in ("first seen", "page", "flag", "name", "city", "country", "url", "shares"):
        table.add_column(col, overflow="fold")
    for p in net.pages:
        flag = "confirmed" if p.confirmed else "flagged" if p.flagged else ""
        table.add_row(f"{p.first_seen:%Y-%m-%d %H:%M}", str(p.page_id or ""), flag, p.name or "",
                      p.city or "", p.country or "", p.url, "\n".join(p.joined_by))
    console.print(table)


@app.command("entity")
def entity_cmd(
    value: Annotated[str, typer.Argument(
        help="A phone (any format with + or 00), email, wallet, handle or handle name.")],
    db: DbOption = "triage.db",
    fmt: FormatOption = "table",
) -> None:
    """Every page that mentions an entity, with its network."""
    _check("--format", fmt, ("table", "json"))
    index = _load(db)
    records: list[dict[str, Any]] = []
    for ent, urls in index.find_entities(value):
        pages = []
        for url in urls:
            page = index.page(url)
            net = index.network_of(url)
            if page is None:
                continue
            mention = next((e for e in page.entities if (e.kind, e.value) == (ent.kind, ent.value)),
                           ent)
            pages.append({**page.to_json(), "network_id": net.network_id if net else None,
                          "evidence": mention.span.to_json()})
        records.append({"kind": ent.kind, "subtype": ent.subtype, "value": ent.value,
                        "pages": pages})
    if fmt == "json":
        _print_json(records)
        return
    if not records:
        typer.echo(f"no page mentions {value!r}")
        raise typer.Exit(1)
    from rich.console import Console
    from rich.table import Table

    for rec in records:
        table = Table(title=f"{rec['kind']} {rec['value']} ({len(rec['pages'])} pages)")
        for col in ("page", "network", "first seen", "flag", "name", "url", "context"):
            table.add_column(col, overflow="fold")
        for p in rec["pages"]:
            flag = "confirmed" if p["confirmed"] else "flagged" if p["flagged"] else ""
            table.add_row(str(p["page_id"] or ""), str(p["network_id"] or ""),
                          p["first_seen"][:16], flag, p["name"] or "", p["url"],
                          p["evidence"]["context"])
        Console().print(table)
