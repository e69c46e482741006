"""Crawl-time network state in the store (tables `net_*`, migration 0002_networks).

    state = NetState(store)
    result = await state.add_page(PageInput(url, name, country, entities, sig, bands, ...))
    result.network_id, result.linked, result.entities["phone:+49..."]  # -> EntityStats

What a crawl worker needs to give a new page its network signals, kept in the database instead
of in process memory, so a worker's memory does not grow with pages crawled, nothing is rebuilt
at start, and every worker on one database sees the same networks:

- net_pages: one row per page URL (a refetch is the same ad): its key, first advertised name and
  country, confirmed flag;
- net_nodes / net_comps: connected components of pages, entities ('e:kind:value') and template
  clusters ('t:N'); a merge relabels the smaller component (each node moves O(log n) times);
  each component keeps its size, page count, confirmed pages and smallest page key (its id);
- net_entities (+ net_entity_pages/_names/_countries): per entity, distinct pages, names and
  countries, counted only when the (entity, page|name|country) row is new, so adding the same
  page twice (a resumed crawl after kill -9, two workers) never counts twice;
- net_tmpl_reps / net_tmpl_bands: the template LSH (representatives' MinHash signatures and
  their band hashes), at most `max_reps` representatives per cluster;
- net_confirmed: pages whose latest verdict is `confirmed`, followed from the append-only audit
  log (cursor in net_meta 'audit_id'), so a review in the API reaches every worker.

One page is one transaction: a handful of statements whatever the store size; on SQLite the
whole transaction runs in one trip to the database thread (`_sqlite_one_hop`). PostgreSQL
serialises these transactions with an advisory lock (component merges must not interleave).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from storage.sqlbase import Row, Tx

NET_LOCK = 7215006  # pg_advisory_xact_lock key of network updates
AUDIT_OVERLAP = 50  # audit rows read again (PostgreSQL ids may commit out of order)
REVIEW_SYNC_SECONDS = 2.0
PROVISIONAL_KEYS = 1 << 40
MAX_GROUP = 64  # pages in one transaction (group commit of concurrent hook calls)


@dataclass(frozen=True, slots=True)
class PageInput:
    url: str
    name: str | None  # advertised name as written (compared lower-case)
    country: str | None
    entity_keys: Sequence[str]  # "kind:value", distinct, in page order
    signature: np.ndarray | None = None  # template MinHash (uint32), None: too short
    bands: Sequence[int] = ()  # its LSH band hashes (signed 64-bit)
    page_key: int | None = None  # the store page id (backfill); None: a provisional key
    confirmed: bool = False  # (backfill) the page's hit is confirmed


@dataclass(frozen=True, slots=True)
class EntityStats:
    pages: int
    name_count: int
    country_count: int
    names: tuple[str, ...] = ()  # sorted, first `MAX_NAMES` (only for entities over threshold)
    countries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PageState:
    network_id: int | None  # None while the page is linked to no other page
    linked: bool  # its component holds a confirmed page other than itself
    entities: dict[str, EntityStats] = field(default_factory=dict)


class _SyncTx:
    """The `Tx` seam over a plain sqlite3 connection: its coroutines never suspend, so a body
    awaiting only them runs to completion in one `send` (in the database thread)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.cur = conn.cursor()
        self.cur.row_factory = sqlite3.Row  # C rows, read by column name like the store's dicts

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.cur.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self.cur.executemany(sql, rows).rowcount

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.cur.execute(sql, params).fetchall()

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.cur.execute(sql, params).fetchall()
        return rows[0] if rows else None  # type: ignore[no-any-return]

    async def script(self, sql: str) -> None:
        self.conn.executescript(sql)


def _run_body(conn: sqlite3.Connection, body: Callable[[Tx], Coroutine[Any, Any, Any]]) -> Any:
    """One write transaction around `body` on the database thread."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        coro = body(_SyncTx(conn))
        try:
            coro.send(None)
        except StopIteration as done:
            result = done.value
        else:
            coro.close()
            raise RuntimeError("a network body awaited something other than its tx")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


async def _sqlite_one_hop(store: Any, body: Callable[[Tx], Coroutine[Any, Any, Any]]) -> Any:
    """SQLite: the whole transaction in one trip to aiosqlite's thread (not one per statement),
    under the store's own lock, on its own connection (so no second writer to wait for)."""
    from crawler.errors import StoreError

    async with store._lock:
        conn = store._conn
        if conn is None:
            raise StoreError("the store is not open (use `async with open_store(...)`)")
        try:
            return await conn._execute(_run_body, conn._conn, body)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite: {exc}") from exc


class _Keys:
    """Provisional page keys, read once and written back once per transaction."""

    def __init__(self) -> None:
        self.value: int | None = None
        self.start: int | None = None

    async def next(self, tx: Tx) -> int:
        if self.value is None:
            row = await tx.fetchone("SELECT value FROM net_meta WHERE key = 'next_key'")
            self.value = self.start = int(row["value"]) if row else PROVISIONAL_KEYS
        self.value += 1
        return self.value - 1

    def give_back(self) -> None:
        """The key `next` just gave was not used (nothing was written with it)."""
        assert self.value is not None
        self.value -= 1

    async def save(self, tx: Tx) -> None:
        if self.value is not None and self.value != self.start:
            await tx.execute("UPDATE net_meta SET value = ? WHERE key = 'next_key'", (self.value,))


async def _insert_new(tx: Tx, table: str, column: str, value: str, keys: Sequence[str]
                      ) -> set[str]:
    """Insert (ekey, value) rows that are not there yet; returns the keys that were new."""
    rows = await tx.fetchall(
        f"INSERT INTO {table} (ekey, {column}) VALUES "
        + ",".join("(?, ?)" for _ in keys)
        + f" ON CONFLICT (ekey, {column}) DO NOTHING RETURNING ekey",
        [v for k in keys for v in (k, value)],
    )
    return {r["ekey"] for r in rows}


class NetState:
    """Network state of one store. Cheap to create; holds no per-page data."""

    MAX_NAMES = 6

    def __init__(
        self,
        store: Any,
        *,
        threshold: float = 0.8,
        max_reps: int = 16,
        min_persons: int = 3,
        min_countries: int = 2,
    ) -> None:
        self.store = store
        self.threshold = threshold
        self.max_reps = max_reps
        self.min_persons = min_persons
        self.min_countries = min_countries
        self._postgres = getattr(store, "dialect", "sqlite") == "postgres"
        self._synced = 0.0
        self._pending: list[tuple[PageInput, asyncio.Future[PageState]]] = []
        self._flusher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ transactions

    async def _in_tx(self, body: Any) -> Any:
        if self._sqlite_conn() is not None:
            return await _sqlite_one_hop(self.store, body)
        async with self.store._tx() as tx:
            return await body(tx)

    def _sqlite_conn(self) -> Any:
        conn = getattr(self.store, "_conn", None)
        return conn if getattr(self.store, "dialect", "") == "sqlite" and hasattr(
            conn, "_execute") else None

    async def add_page(self, page: PageInput) -> PageState:
        """Add (or refresh) one page; returns its network state.

        Pages added at the same time (a worker's concurrent fetches) share one transaction: the
        first caller starts a flush that takes every page queued by then, in order, and callers
        arriving while it runs form the next group (group commit; a page costs a few indexed
        statements instead of a commit of its own).
        """
        future: asyncio.Future[PageState] = asyncio.get_running_loop().create_future()
        self._pending.append((page, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="netstate-flush")
        return await future

    async def _flush(self) -> None:
        while self._pending:
            group = self._pending[:MAX_GROUP]
            del self._pending[:MAX_GROUP]
            sync = time.monotonic() - self._synced >= REVIEW_SYNC_SECONDS
            if sync:
                self._synced = time.monotonic()

            async def body(tx: Tx, group: list[tuple[PageInput, Any]] = group,
                           sync: bool = sync) -> list[PageState]:
                if self._postgres:
                    await tx.fetchone("SELECT pg_advisory_xact_lock(?) AS locked", (NET_LOCK,))
                if sync:
                    await self._sync_reviews(tx)
                keys = _Keys()
                states = [await self._add(tx, page, keys) for page, _ in group]
                await keys.save(tx)
                return states

            try:
                states: list[PageState] = await self._in_tx(body)
            except Exception as exc:  # every page of the group fails alike; callers decide
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), state in zip(group, states, strict=True):
                if not future.done():  # the caller may have been cancelled meanwhile
                    future.set_result(state)

    async def add_pages(self, pages: Sequence[PageInput]) -> None:
        """Several pages in one transaction (the backfill)."""

        async def body(tx: Tx) -> None:
            if self._postgres:
                await tx.fetchone("SELECT pg_advisory_xact_lock(?) AS locked", (NET_LOCK,))
            keys = _Keys()
            for page in pages:
                await self._add(tx, page, keys)
            await keys.save(tx)

        await self._in_tx(body)

    async def meta(self, key: str) -> int:
        async def body(tx: Tx) -> int:
            row = await tx.fetchone("SELECT value FROM net_meta WHERE key = ?", (key,))
            return int(row["value"]) if row else 0

        value: int = await self._in_tx(body)
        return value

    async def set_meta(self, key: str, value: int) -> None:
        async def body(tx: Tx) -> None:
            await tx.execute("UPDATE net_meta SET value = ? WHERE key = ?", (value, key))

        await self._in_tx(body)

    async def sync_reviews(self) -> None:
        async def body(tx: Tx) -> None:
            if self._postgres:
                await tx.fetchone("SELECT pg_advisory_xact_lock(?) AS locked", (NET_LOCK,))
            await self._sync_reviews(tx)

        self._synced = time.monotonic()
        await self._in_tx(body)

    # ------------------------------------------------------------------ one page

    async def _add(self, tx: Tx, page: PageInput, keys: _Keys) -> PageState:
        url = page.url
        # A new URL (the usual case) is one statement: the insert tells whether it was new
        # and, with the page's verdict from the audit log, whether it is confirmed.
        pkey = page.page_key if page.page_key is not None else await keys.next(tx)
        row = await tx.fetchone(
            "INSERT INTO net_pages (url, pkey, name, country, confirmed) VALUES (?, ?, ?, ?, "
            "CASE WHEN ? = 1 OR EXISTS (SELECT 1 FROM net_confirmed c WHERE c.url = ?) "
            "THEN 1 ELSE 0 END) ON CONFLICT (url) DO NOTHING RETURNING confirmed",
            (url, pkey, page.name, page.country, int(page.confirmed), url),
        )
        new_page = row is not None
        if row is not None:
            confirmed = bool(row["confirmed"])
            name, country = page.name, page.country
        else:  # a refetch: the key was not used after all
            if page.page_key is None:
                keys.give_back()
            row = await tx.fetchone(
                "SELECT pkey, name, country, confirmed FROM net_pages WHERE url = ?", (url,)
            )
            assert row is not None
            pkey, confirmed = int(row["pkey"]), bool(row["confirmed"])
            name, country = row["name"] or page.name, row["country"] or page.country
            if (name, country) != (row["name"], row["country"]):
                await tx.execute(
                    "UPDATE net_pages SET name = ?, country = ? WHERE url = ?", (name, country, url)
                )
            if page.confirmed and not confirmed:  # backfill: a later version was confirmed
                confirmed = True
                await tx.execute("UPDATE net_pages SET confirmed = 1 WHERE url = ?", (url,))
                await tx.execute(
                    "UPDATE net_comps SET confirmed = confirmed + 1 WHERE comp = "
                    "(SELECT comp FROM net_nodes WHERE node = ?)", ("p:" + url,),
                )

        tnodes: list[str] = []
        if new_page and page.signature is not None:
            tnodes = await self._template(tx, pkey, page.signature, page.bands)

        stats = await self._entities(tx, url, page.entity_keys, name, country)
        nodes = ["p:" + url] + ["e:" + k for k in page.entity_keys] + tnodes
        net_id, pages, comp_confirmed = await self._join(tx, nodes, pkey, confirmed)
        linked = comp_confirmed - (1 if confirmed else 0) > 0
        return PageState(net_id if pages > 1 else None, linked, stats)

    async def _template(self, tx: Tx, pkey: int, sig: np.ndarray, bands: Sequence[int]
                        ) -> list[str]:
        """Match the page's MinHash against the LSH; returns its template nodes (root first)."""
        roots: set[int] = set()
        reps = 0  # representatives in the page's cluster (the merged clusters' together)
        if bands:
            # every candidate (a page sharing a band key), then one count of the
            # representatives of the clusters matched (a count per candidate row, read with
            # it, cost more: a template-heavy page has max_reps candidates of one cluster)
            cands = await tx.fetchall(
                "SELECT r.cluster, r.sig FROM net_tmpl_reps r WHERE r.pkey IN "
                "(SELECT pkey FROM net_tmpl_bands WHERE bhash IN "
                f"({','.join('?' * len(bands))}))", list(bands),
            )
            width = len(sig) * 4
            cands = [c for c in cands if len(c["sig"]) == width]
            if cands:  # every candidate's signature against this one, in one numpy pass
                others = np.frombuffer(b"".join([c["sig"] for c in cands]),
                                       dtype=np.uint32).reshape(len(cands), len(sig))
                same = np.count_nonzero(others == sig.astype(np.uint32), axis=1)
                roots.update(int(cands[i]["cluster"]) for i in
                             np.flatnonzero(same >= self.threshold * len(sig)).tolist())
            if roots:
                matched = sorted(roots)
                row = await tx.fetchone(
                    "SELECT count(*) AS reps FROM net_tmpl_reps WHERE cluster IN "
                    f"({','.join('?' * len(matched))})", matched,
                )
                reps = int(row["reps"]) if row is not None else 0
        root = min(roots | {pkey})
        if root == pkey:  # (a backfilled page older than every cluster it matched)
            reps = 0
        merged = sorted(r for r in roots if r != root)
        if merged:
            await tx.execute(
                "UPDATE net_tmpl_reps SET cluster = ? WHERE cluster IN "
                f"({','.join('?' * len(merged))})",
                [root, *merged],
            )
        if reps < self.max_reps:
            await tx.execute(
                "INSERT INTO net_tmpl_reps (pkey, cluster, sig) VALUES (?, ?, ?) "
                "ON CONFLICT (pkey) DO NOTHING", (pkey, root, sig.astype(np.uint32).tobytes()),
            )
            if bands:
                await tx.executemany(
                    "INSERT INTO net_tmpl_bands (bhash, pkey) VALUES (?, ?) "
                    "ON CONFLICT (bhash, pkey) DO NOTHING", [(b, pkey) for b in bands],
                )
        return [f"t:{root}"] + [f"t:{m}" for m in merged]

    async def _entities(self, tx: Tx, url: str, keys: Sequence[str], name: str | None,
                        country: str | None) -> dict[str, EntityStats]:
        if not keys:
            return {}
        new_pages = await _insert_new(tx, "net_entity_pages", "url", url, keys)
        new_names = await _insert_new(tx, "net_entity_names", "name", name.lower(), keys
                                      ) if name else set()
        new_countries = await _insert_new(tx, "net_entity_countries", "country", country, keys
                                          ) if country else set()
        rows = await tx.fetchall(
            "INSERT INTO net_entities (ekey, pages, names, countries) VALUES "
            + ",".join("(?, ?, ?, ?)" for _ in keys)
            + " ON CONFLICT (ekey) DO UPDATE SET pages = net_entities.pages + excluded.pages, "
            "names = net_entities.names + excluded.names, "
            "countries = net_entities.countries + excluded.countries "
            "RETURNING ekey, pages, names, countries",
            [v for k in keys for v in (k, int(k in new_pages), int(k in new_names),
                                       int(k in new_countries))],
        )
        out: dict[str, EntityStats] = {}
        for r in rows:
            key, n_names, n_countries = r["ekey"], int(r["names"]), int(r["countries"])
            names: tuple[str, ...] = ()
            countries: tuple[str, ...] = ()
            if n_names >= self.min_persons or n_countries >= self.min_countries:
                names = tuple(x["name"] for x in await tx.fetchall(
                    "SELECT name FROM net_entity_names WHERE ekey = ? ORDER BY name LIMIT ?",
                    (key, self.MAX_NAMES)))
                countries = tuple(x["country"] for x in await tx.fetchall(
                    "SELECT country FROM net_entity_countries WHERE ekey = ? ORDER BY country",
                    (key,)))
            out[key] = EntityStats(int(r["pages"]), n_names, n_countries, names, countries)
        return out

    async def _join(self, tx: Tx, nodes: list[str], pkey: int, confirmed: bool
                    ) -> tuple[int, int, int]:
        """Union the page's nodes; returns its component's (network id, pages, confirmed)."""
        nodes = list(dict.fromkeys(nodes))
        marks = ",".join("?" * len(nodes))
        found: set[str] = set()
        by_comp: dict[int, Row] = {}
        for r in await tx.fetchall(
            "SELECT n.node, c.comp, c.size, c.pages, c.confirmed, c.net_id FROM net_nodes n "
            f"JOIN net_comps c ON c.comp = n.comp WHERE n.node IN ({marks})", nodes,
        ):
            found.add(r["node"])
            by_comp[int(r["comp"])] = r
        rows = list(by_comp.values())
        if rows:
            target = max(rows, key=lambda r: (int(r["size"]), -int(r["comp"])))
            comp = int(target["comp"])
            size = sum(int(r["size"]) for r in rows)
            pages = sum(int(r["pages"]) for r in rows)
            n_confirmed = sum(int(r["confirmed"]) for r in rows)
            net_id = min(int(r["net_id"]) for r in rows)
            others = [int(r["comp"]) for r in rows if int(r["comp"]) != comp]
        else:
            comp, size, pages, n_confirmed, net_id, others = pkey, 0, 0, 0, pkey, []
        missing = [n for n in nodes if n not in found]
        if others:
            marks = ",".join("?" * len(others))
            await tx.execute(f"UPDATE net_nodes SET comp = ? WHERE comp IN ({marks})",
                             [comp, *others])
            await tx.execute(f"DELETE FROM net_comps WHERE comp IN ({marks})", others)
        if missing:
            await tx.executemany("INSERT INTO net_nodes (node, comp) VALUES (?, ?)",
                                 [(n, comp) for n in missing])
            size += len(missing)
            if nodes[0] in missing:  # the page itself is new
                pages += 1
                n_confirmed += int(confirmed)
                net_id = min(net_id, pkey)
        if not rows:
            await tx.execute(
                "INSERT INTO net_comps (comp, size, pages, confirmed, net_id) "
                "VALUES (?, ?, ?, ?, ?)", (comp, size, pages, n_confirmed, net_id),
            )
        elif others or missing:
            await tx.execute(
                "UPDATE net_comps SET size = ?, pages = ?, confirmed = ?, net_id = ? "
                "WHERE comp = ?", (size, pages, n_confirmed, net_id, comp),
            )
        return net_id, pages, n_confirmed

    # ------------------------------------------------------------------ reviews

    async def _sync_reviews(self, tx: Tx) -> None:
        row = await tx.fetchone("SELECT value FROM net_meta WHERE key = 'audit_id'")
        cursor = int(row["value"]) if row else 0
        events = await tx.fetchall(
            "SELECT a.id, a.to_value, COALESCE(p.final_url, h.url) AS url FROM audit a "
            "JOIN hits h ON h.id = a.hit_id JOIN pages p ON p.id = h.page_id "
            "WHERE a.id > ? AND a.action IN ('review', 'carried_forward') ORDER BY a.id",
            (max(0, cursor - AUDIT_OVERLAP),),
        )
        if not events:
            return
        latest: dict[str, bool] = {}
        for e in events:
            latest[str(e["url"])] = e["to_value"] == "confirmed"
        for url, want in latest.items():
            await self._set_confirmed(tx, url, want)
        top = max(int(e["id"]) for e in events)
        if top > cursor:
            await tx.execute("UPDATE net_meta SET value = ? WHERE key = 'audit_id'", (top,))

    async def _set_confirmed(self, tx: Tx, url: str, want: bool) -> None:
        if want:
            await tx.execute(
                "INSERT INTO net_confirmed (url) VALUES (?) ON CONFLICT (url) DO NOTHING", (url,)
            )
        else:
            await tx.execute("DELETE FROM net_confirmed WHERE url = ?", (url,))
        changed = await tx.execute(
            "UPDATE net_pages SET confirmed = ? WHERE url = ? AND confirmed = ?",
            (int(want), url, int(not want)),
        )
        if changed:
            await tx.execute(
                f"UPDATE net_comps SET confirmed = confirmed {'+' if want else '-'} 1 "
                "WHERE comp = (SELECT comp FROM net_nodes WHERE node = ?)", ("p:" + url,),
            )
