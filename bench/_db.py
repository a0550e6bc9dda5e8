"""The one helper the benchmarks share: their scratch PostgreSQL database, created on first use."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def database_ensure(url: str) -> None:
    """Create the PostgreSQL database `url` names unless it exists (nothing to do for SQLite)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        return
    name = parts.path.lstrip("/")
    with psycopg.connect(
        urlunsplit(parts._replace(path="/postgres", query="")), autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
