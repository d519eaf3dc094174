"""Tables and versioned migrations of the subscriber store.

Each migration is a function applied once, in order, inside one transaction; the table
``fivecore_schema`` records the versions applied. Never edit a released migration: add one.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)

metadata = MetaData()

schema_version = Table(
    "fivecore_schema",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), server_default=func.now()),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("supi", String(64), primary_key=True),
    Column("k", String(32), nullable=False),
    Column("opc", String(32)),
    Column("op", String(32)),
    Column("amf", String(4), nullable=False, server_default="8000"),
    Column("sqn", BigInteger, nullable=False, server_default="0"),
    Column("auth_method", String(16), nullable=False, server_default="5G_AKA"),
    Column("profile", String(64)),
    Column("data", JSON),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), server_default=func.now()),
)

profiles = Table(
    "profiles",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
)

context_data = Table(
    "context_data",
    metadata,
    Column("supi", String(64), primary_key=True),
    Column("kind", String(48), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("data", JSON, nullable=False),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[subscribers, profiles, context_data])


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _v1)]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    schema_version.create(conn, checkfirst=True)
    v = conn.execute(select(func.max(schema_version.c.version))).scalar()
    return int(v or 0)


def migrate(conn: Connection) -> list[int]:
    """Apply the missing migrations; returns the versions applied."""
    have = current_version(conn)
    done = []
    for version, fn in MIGRATIONS:
        if version > have:
            fn(conn)
            conn.execute(insert(schema_version).values(version=version))
            done.append(version)
    return done
