"""Versioned migrations: `storage/migrations/<dialect>/NNNN_name.sql`, applied at open.

The `schema_version` table records each applied file. A database whose version is higher than
the newest file this program ships was written by a newer triage: we refuse to touch it
(SchemaTooNewError) instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from crawler.errors import SchemaTooNewError, StoreError
from storage.sqlbase import SqlBase


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    folder = resources.files("storage.migrations").joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".sql") or not name[:4].isdigit():
            continue
        found.append(Migration(int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise StoreError(f"{dialect} migrations are not numbered 1..N: {versions}")
    return found


def latest_version(dialect: str) -> int:
    return len(migrations(dialect))


async def apply_migrations(store: SqlBase, dialect: str) -> int:
    """Bring the schema up to date in one transaction; returns the version now in place."""
    pending = migrations(dialect)
    latest = len(pending)
    async with store._tx() as tx:
        if dialect == "postgres":  # many workers may start at once
            await tx.fetchone("SELECT pg_advisory_xact_lock(7215005) AS locked")
        await tx.script(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        row = await tx.fetchone("SELECT max(version) AS v FROM schema_version")
        current = int(row["v"]) if row and row["v"] is not None else 0
        if current > latest:
            raise SchemaTooNewError(
                f"database schema version {current} is newer than this triage understands "
                f"(up to {latest}); upgrade triage"
            )
        for m in pending[current:]:
            await tx.script(m.sql)
            await tx.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, store._now()),
            )
    return latest
