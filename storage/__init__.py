"""Persistence: the Store protocol and its SQLite and PostgreSQL implementations.

    async with open_store("triage.db") as store:                   # SQLite file
    async with open_store("sqlite:///var/lib/triage.db") as store:  # same, as a URL
    async with open_store("postgresql://user@db/triage") as store:  # PostgreSQL

Opening applies pending migrations and refuses a database written by a newer triage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crawler.errors import UsageError

if TYPE_CHECKING:
    from storage.postgres import PostgresStore
    from storage.sqlite import SqliteStore

__all__ = ["describe_store", "open_store"]


def open_store(
    url_or_path: str | Path,
    *,
    create: bool = True,
    clock: Callable[[], float] = time.time,
) -> SqliteStore | PostgresStore:
    """A store for a path or URL, not yet open: use it as `async with open_store(x) as store`.

    `create=False` refuses to create a new SQLite file (read-only commands on a missing db).
    `clock` (epoch seconds) is the seam tests use to move time.
    """
    target = str(url_or_path).strip()
    if not target:
        raise UsageError("no database given (--db PATH or a sqlite:/// or postgresql:// URL)")
    scheme = urlsplit(target).scheme.lower() if "://" in target else ""
    if scheme in ("postgresql", "postgres"):
        from storage.postgres import PostgresStore

        return PostgresStore(target, clock=clock)
    if scheme == "sqlite":
        path = target[len("sqlite://") :]
        if not path or path == "/":
            raise UsageError(f"no path in database URL {target!r} (use sqlite:///PATH)")
        # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
        path = path[1:] if path.startswith("/") else path
        from storage.sqlite import SqliteStore

        return SqliteStore(path, create=create, clock=clock)
    if scheme:
        raise UsageError(
            f"unsupported database URL scheme {scheme!r}: use a path, sqlite:///PATH "
            "or postgresql://..."
        )
    from storage.sqlite import SqliteStore

    return SqliteStore(target, create=create, clock=clock)


def describe_store(url_or_path: str) -> str:
    """The database for messages, without a password."""
    parts = urlsplit(url_or_path)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url_or_path
