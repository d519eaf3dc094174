"""The subscriber store's read cache stays coherent with writes by other connections and processes.

Every test reads through store ``a`` (warming its cache), writes through something else (a second
store, a raw sqlite3 connection as the sqlite3 shell would, another process) and checks that
``a``'s very next read sees the write.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.store import NotFound, Subscriber, SubscriberStore

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
K2 = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
SUPI = "imsi-001010000000001"
SUPI2 = "imsi-001010000000002"


@pytest.fixture()
def path(tmp_path) -> Path:
    return tmp_path / "subs.db"


@pytest.fixture()
def stores(path):
    a = SubscriberStore(f"sqlite:///{path}")
    b = SubscriberStore(f"sqlite:///{path}")
    a.add(Subscriber(SUPI, K, OPC, sqn=0x20, profile="default"))
    yield a, b
    a.close()
    b.close()


def _other_process(path: Path, code: str) -> None:
    """Run ``code`` with ``s`` a SubscriberStore on ``path`` in a fresh interpreter."""
    prog = ("import sys; from fivecore.store import SubscriberStore, Subscriber; "
            f"s = SubscriberStore(sys.argv[1]); {code}; s.close()")
    subprocess.run([sys.executable, "-c", prog, f"sqlite:///{path}"], check=True, timeout=60)


def test_cache_is_used_while_nobody_else_writes(stores):
    a, _ = stores
    a.get(SUPI)
    before = a._subs[SUPI]
    a.get(SUPI)
    a.sections(SUPI, ("am",))
    assert a._subs[SUPI] is before  # served from the cache, not re-read
    assert a.cas_sqn(SUPI, 0x20, 0x40)  # our own write updates the cached SQN
    assert a.get(SUPI).sqn == 0x40


def test_sqn_changed_by_another_process_is_seen_without_dropping_the_subscriber(stores, path):
    a, _ = stores
    assert a.get(SUPI).sqn == 0x20
    cached = a._subs[SUPI]
    _other_process(path, f"assert s.cas_sqn('{SUPI}', 0x20, 0x60)")
    assert a.get(SUPI).sqn == 0x60
    # an SQN update is not a change of provisioned data: the decoded subscriber stayed cached
    assert a._subs[SUPI] is cached
    assert not a.cas_sqn(SUPI, 0x20, 0x40)  # the stale value loses
    assert a.cas_sqn(SUPI, 0x60, 0x80)
    assert a.get(SUPI).sqn == 0x80


def test_an_uncached_subscriber_read_without_a_version_look_stays_coherent(stores):
    """A subscriber not in the cache is read at once (no ``PRAGMA data_version`` first): the
    read and everything cached before or after it still see foreign writes."""
    a, b = stores
    a.get(SUPI)  # a knows the data_version as of now
    b.add(Subscriber(SUPI2, K, OPC, sqn=0x20))  # foreign commits a has not looked for
    assert b.cas_sqn(SUPI, 0x20, 0x40)
    got = a.get(SUPI2)
    assert (got.k, got.sqn) == (K, 0x20)
    assert a.get(SUPI).sqn == 0x40
    assert b.cas_sqn(SUPI2, 0x20, 0x60)
    assert a.get(SUPI2).sqn == 0x60
    b.update(SUPI2, k=K2)
    assert a.get(SUPI2).k == K2
    assert a.cas_sqn(SUPI2, 0x60, 0x80) and b.get(SUPI2).sqn == 0x80


def test_keys_and_data_changed_by_another_process_are_seen(stores, path):
    a, _ = stores
    a.get(SUPI)
    assert "msisdn" not in a.sections(SUPI, ("am", "msisdn"))
    _other_process(path, f"s.update('{SUPI}', k='{K2.hex()}', data={{'msisdn': '4670'}})")
    assert a.get(SUPI).k == K2
    assert a.sections(SUPI, ("msisdn",)) == {"msisdn": "4670"}


def test_raw_sqlite_writes_invalidate_too(stores, path):
    """A writer that knows nothing of the cache (the sqlite3 shell) is caught by the triggers."""
    a, _ = stores
    a.get(SUPI)
    a.get_profile("default")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE subscribers SET amf = '9001' WHERE supi = ?", (SUPI,))
        db.execute("INSERT INTO profiles (name, data) VALUES ('default', ?)",
                   (json.dumps({"am": {"subscribedDnnList": ["ims"]}}),))
    assert a.get(SUPI).amf == b"\x90\x01"
    assert a.get_profile("default") == {"am": {"subscribedDnnList": ["ims"]}}
    assert a.sections(SUPI, ("am",))["am"] == {"subscribedDnnList": ["ims"]}
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM subscribers WHERE supi = ?", (SUPI,))
    with pytest.raises(NotFound):
        a.get(SUPI)
    assert not a.exists(SUPI)


def test_delete_and_add_in_another_process(stores, path):
    a, _ = stores
    assert a.exists(SUPI) and a.get(SUPI).k == K
    _other_process(path, f"s.delete('{SUPI}')")
    assert not a.exists(SUPI)
    with pytest.raises(NotFound):
        a.sections(SUPI, ("am",))
    _other_process(path, f"s.add(Subscriber('{SUPI}', k=bytes.fromhex('{K2.hex()}'), opc=bytes(16)))")
    assert a.get(SUPI).k == K2 and a.exists(SUPI)


def test_profile_replaced_by_another_process(stores, path):
    a, _ = stores
    a.put_profile("gold", {"am": {"subscribedDnnList": ["internet"]}})
    a.update(SUPI, profile="gold")
    assert a.sections(SUPI, ("am",))["am"]["subscribedDnnList"] == ["internet"]
    _other_process(path, "s.put_profile('gold', {'am': {'subscribedDnnList': ['ims']}})")
    assert a.sections(SUPI, ("am",))["am"]["subscribedDnnList"] == ["ims"]
    assert a.get_profile("gold") == {"am": {"subscribedDnnList": ["ims"]}}


def test_sections_are_private_copies(stores):
    a, _ = stores
    first = a.sections(SUPI, ("am", "sm"))
    first["am"]["nssai"]["defaultSingleNssais"].append({"sst": 9})
    first["sm"].clear()
    again = a.sections(SUPI, ("am", "sm"))
    assert again["am"]["nssai"]["defaultSingleNssais"] == [{"sst": 1}]
    assert again["sm"]
    assert a.sections(SUPI, ("no-such-section",)) == {}


def test_sections_match_effective(stores):
    a, b = stores
    b.update(SUPI, data={"am": {"gpsis": ["msisdn-1"]}, "msisdn": "1"})
    eff = a.effective(a.get(SUPI))
    assert a.sections(SUPI, tuple(eff)) == eff
    assert "op" not in a.sections(SUPI, ("op",))


def test_context_read_checks_the_subscriber_in_the_same_statement(stores, path):
    a, b = stores
    assert a.get_context(SUPI, "amf-3gpp-access", subscriber=True) is None
    b.put_context(SUPI, "amf-3gpp-access", "", {"v": 1}, subscriber=True)
    assert a.get_context(SUPI, "amf-3gpp-access", subscriber=True) == {"v": 1}
    with pytest.raises(NotFound):
        a.get_context(SUPI2, "amf-3gpp-access", subscriber=True)
    _other_process(path, f"s.delete('{SUPI}')")
    with pytest.raises(NotFound):
        a.get_context(SUPI, "amf-3gpp-access", subscriber=True)


def _v1_file(path) -> None:
    """A store file as the first schema version left it (no ``store_gen``, rowid contexts)."""
    from sqlalchemy import create_engine

    from fivecore.store.schema import MIGRATIONS, current_version, schema_version

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        current_version(conn)
        MIGRATIONS[0][1](conn)
        conn.execute(schema_version.insert().values(version=1))
    engine.dispose()


def test_store_on_an_unmigrated_v1_file_stays_coherent(path):
    """Opened with create=False on a schema without ``store_gen``: every foreign commit
    invalidates everything (no generation to tell provisioning from SQN updates)."""
    _v1_file(path)
    a = SubscriberStore(f"sqlite:///{path}", create=False)
    assert not a._has_gen
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO subscribers (supi, k, opc, amf, sqn, auth_method, version) "
                   "VALUES (?, ?, ?, '8000', 32, '5G_AKA', 0)", (SUPI, K.hex(), OPC.hex()))
    assert a.get(SUPI).k == K
    with sqlite3.connect(path) as db:
        db.execute("UPDATE subscribers SET k = ?, sqn = 64 WHERE supi = ?", (K2.hex(), SUPI))
    got = a.get(SUPI)
    assert (got.k, got.sqn) == (K2, 64)
    a.close()
    b = SubscriberStore(f"sqlite:///{path}")  # migrating brings the generation in
    assert b._has_gen and b.get(SUPI).k == K2
    b.close()


OPS = st.lists(st.tuples(st.sampled_from(["k", "sqn", "data", "profile", "delete", "readd", "ctx"]),
                         st.integers(0, 255)), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_interleaved_writes_always_seen(tmp_path_factory, ops):
    """Random writes through a second connection, each followed by reads through the cached
    store: the cached store always answers what a fresh read of the file answers."""
    path = tmp_path_factory.mktemp("h") / "s.db"
    a = SubscriberStore(f"sqlite:///{path}")
    b = SubscriberStore(f"sqlite:///{path}")
    b.put_profile("p1", {"am": {"rfspIndex": 1}})
    b.add(Subscriber(SUPI, K, OPC, sqn=0x20, profile="default"))
    try:
        for op, n in ops:
            if op == "k" and b.exists(SUPI):
                b.update(SUPI, k=bytes([n]) * 16)
            elif op == "sqn" and b.exists(SUPI):
                b.set_sqn(SUPI, n * 32)
            elif op == "data" and b.exists(SUPI):
                b.update(SUPI, data={"am": {"rfspIndex": n}} if n % 2 else {"am": None})
            elif op == "profile":
                b.put_profile("p1", {"am": {"rfspIndex": n}})
                if b.exists(SUPI):
                    b.update(SUPI, profile="p1" if n % 2 else "default")
            elif op == "delete" and b.exists(SUPI):
                b.delete(SUPI)
            elif op == "readd" and not b.exists(SUPI):
                b.add(Subscriber(SUPI, bytes([n]) * 16, OPC, sqn=n, profile="default"))
            elif op == "ctx" and b.exists(SUPI):
                b.put_context(SUPI, "amf-3gpp-access", "", {"n": n})
            fresh = SubscriberStore(f"sqlite:///{path}", create=False)
            try:
                if fresh.exists(SUPI):
                    want, got = fresh.get(SUPI), a.get(SUPI)
                    assert (got.k, got.sqn, got.data, got.profile) == (want.k, want.sqn, want.data, want.profile)
                    assert a.sections(SUPI, ("am",)) == fresh.sections(SUPI, ("am",))
                    assert a.get_context(SUPI, "amf-3gpp-access", subscriber=True) == \
                        fresh.get_context(SUPI, "amf-3gpp-access")
                else:
                    assert not a.exists(SUPI)
                    with pytest.raises(NotFound):
                        a.get(SUPI)
            finally:
                fresh.close()
    finally:
        a.close()
        b.close()


def test_upgrade_from_v1_keeps_context_documents_and_sees_raw_writes(path):
    _v1_file(path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO subscribers (supi, k, opc, amf, sqn, auth_method, version) "
                   "VALUES (?, ?, ?, '8000', 32, '5G_AKA', 0)", (SUPI, K.hex(), OPC.hex()))
        db.execute("INSERT INTO context_data (supi, kind, key, data) VALUES (?, 'amf-3gpp-access', '', ?)",
                   (SUPI, json.dumps({"v": 1})))
    s = SubscriberStore(f"sqlite:///{path}")
    try:
        assert s.get_context(SUPI, "amf-3gpp-access", subscriber=True) == {"v": 1}
        assert s.put_context(SUPI, "amf-3gpp-access", "", {"v": 2}) is False
        assert s.put_context(SUPI, "smf-registrations", "1", {"v": 3}) is True
        assert s.list_context(SUPI, "smf-registrations") == {"1": {"v": 3}}
        assert s.get(SUPI).k == K
    finally:
        s.close()
    with sqlite3.connect(path) as db:
        ddl = db.execute("SELECT sql FROM sqlite_master WHERE name = 'context_data'").fetchone()[0]
        versions = [r[0] for r in db.execute("SELECT version FROM fivecore_schema ORDER BY version")]
    assert "WITHOUT ROWID" in ddl and versions == [1, 2]


def test_processes_opening_a_new_file_at_once_migrate_it_once(path):
    prog = ("import sys; from fivecore.store import SubscriberStore; "
            "s = SubscriberStore(sys.argv[1]); assert s._has_gen; s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", prog, f"sqlite:///{path}"]) for _ in range(6)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 6
    with sqlite3.connect(path) as db:
        versions = [r[0] for r in db.execute("SELECT version FROM fivecore_schema ORDER BY version")]
        triggers = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0]
        gens = db.execute("SELECT * FROM store_gen").fetchall()
    assert versions == [1, 2] and triggers == 6 and gens == [(0, 0)]
