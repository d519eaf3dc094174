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


store_gen = Table(
    "store_gen",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("gen", BigInteger, nullable=False, server_default="0"),
)

#: What changes provisioned data (everything but the SQN, which every vector advances).
_PROVISIONED_COLUMNS = "k, opc, op, amf, auth_method, profile, data, version"


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[subscribers, profiles, context_data])


def _v2(conn: Connection) -> None:
    """The provisioning generation, and context documents in a WITHOUT ROWID table.

    The generation is one counter that every change of provisioned data bumps.
    A process caching subscribers and profiles re-reads them only when this counter moved, not
    on every commit of another process (those are mostly SQN updates and context documents).
    On SQLite, triggers keep it: any writer of the file (this code, an older tool, the sqlite3
    shell) bumps it in the same transaction as its change. The PostgreSQL path does not cache.
    """
    store_gen.create(conn)
    conn.execute(insert(store_gen).values(id=0, gen=0))
    if conn.dialect.name != "sqlite":
        return
    # context_data keyed by its primary key alone (WITHOUT ROWID): one B-tree instead of a
    # table plus its primary-key index, so a UDR context PUT commits one page, not two.
    conn.exec_driver_sql(
        "CREATE TABLE context_data_v2 (supi VARCHAR(64) NOT NULL, kind VARCHAR(48) NOT NULL, "
        '"key" VARCHAR(64) NOT NULL, data JSON NOT NULL, PRIMARY KEY (supi, kind, "key")) WITHOUT ROWID')
    conn.exec_driver_sql('INSERT INTO context_data_v2 (supi, kind, "key", data) '
                         'SELECT supi, kind, "key", data FROM context_data')
    conn.exec_driver_sql("DROP TABLE context_data")
    conn.exec_driver_sql("ALTER TABLE context_data_v2 RENAME TO context_data")
    bump = "BEGIN UPDATE store_gen SET gen = gen + 1 WHERE id = 0; END"
    for name, when in (
        ("subscribers_ins", "AFTER INSERT ON subscribers"),
        ("subscribers_del", "AFTER DELETE ON subscribers"),
        ("subscribers_upd", f"AFTER UPDATE OF {_PROVISIONED_COLUMNS} ON subscribers"),
        ("profiles_ins", "AFTER INSERT ON profiles"),
        ("profiles_del", "AFTER DELETE ON profiles"),
        ("profiles_upd", "AFTER UPDATE ON profiles"),
    ):
        conn.exec_driver_sql(f"CREATE TRIGGER store_gen_{name} {when} FOR EACH ROW {bump}")


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _v1), (2, _v2)]
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
