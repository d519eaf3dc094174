"""Subscriber store: migrations, atomic SQN across processes, CAS, bulk import, key hygiene."""

from __future__ import annotations

import logging
import multiprocessing as mp
import sqlite3

import pytest

from fivecore.store import (
    SEQ_STEP,
    AlreadyExists,
    NotFound,
    StoreError,
    Subscriber,
    SubscriberStore,
)
from fivecore.store.provision import changes_from_dict, subscriber_from_dict
from fivecore.store.schema import LATEST

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")


@pytest.fixture()
def uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'subs.db'}"


def test_migrations_create_schema_once(uri, tmp_path):
    s = SubscriberStore(uri)
    assert s.migrate() == []  # already at the latest version
    s.close()
    with sqlite3.connect(tmp_path / "subs.db") as db:
        versions = [r[0] for r in db.execute("SELECT version FROM fivecore_schema")]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == list(range(1, LATEST + 1))  # each migration applied once
    assert {"subscribers", "profiles", "context_data", "fivecore_schema"} <= tables
    assert mode == "wal"
    assert SubscriberStore(uri).migrate() == []  # reopening applies nothing


def test_crud_profiles_and_effective_data(uri):
    s = SubscriberStore(uri)
    s.put_profile("iot", {"amf": "8000", "am": {"subscribedUeAmbr": {"uplink": "1 Mbps", "downlink": "1 Mbps"}},
                          "sm": [], "op": "cdc202d5123e20f62b6d676ac72cb318"})
    s.add(Subscriber("001010000000001", k=K, profile="iot"))  # OP from the profile
    s.add(Subscriber("imsi-001010000000002", k=K, opc=OPC, data={"msisdn": "123"}))
    with pytest.raises(AlreadyExists):
        s.add(Subscriber("imsi-001010000000002", k=K, opc=OPC))
    with pytest.raises(StoreError):
        s.add(Subscriber("imsi-001010000000003", k=K))  # neither OPc nor OP
    assert s.count() == 2
    sub = s.get("imsi-001010000000001")
    assert s.effective(sub)["am"]["subscribedUeAmbr"]["uplink"] == "1 Mbps"
    assert s.auth_data(sub.supi).op == bytes.fromhex("cdc202d5123e20f62b6d676ac72cb318")
    s.update(sub.supi, data={"am": {"subscribedUeAmbr": {"uplink": "5 Mbps", "downlink": "5 Mbps"}}})
    assert s.effective(s.get(sub.supi))["am"]["subscribedUeAmbr"]["uplink"] == "5 Mbps"
    assert s.get(sub.supi).version == 1
    with pytest.raises(StoreError):
        s.delete_profile("iot")  # in use
    s.delete(sub.supi)
    with pytest.raises(NotFound):
        s.get(sub.supi)
    s.delete_profile("iot")
    assert [x.supi for x in s.list()] == ["imsi-001010000000002"]


def test_bulk_batch_is_all_or_nothing(uri):
    s = SubscriberStore(uri)
    s.add(Subscriber("imsi-001010000000005", k=K, opc=OPC))
    batch = [Subscriber(f"imsi-00101000000000{i}", k=K, opc=OPC) for i in range(10)]
    with pytest.raises(AlreadyExists):
        s.add_many(batch, batch=100)
    assert s.count() == 1
    assert s.add_many(batch, batch=100, replace=True) == 10
    assert s.count() == 10


def test_sqn_next_and_cas(uri):
    s = SubscriberStore(uri)
    s.add(Subscriber("imsi-001010000000001", k=K, opc=OPC, sqn=0xFFFFFFFFFFE0))
    assert s.next_sqn("imsi-001010000000001").sqn == 0  # wraps at 2^48
    assert s.next_sqn("imsi-001010000000001").sqn == SEQ_STEP
    assert s.cas_sqn("imsi-001010000000001", SEQ_STEP, 5 * SEQ_STEP)
    assert not s.cas_sqn("imsi-001010000000001", SEQ_STEP, 9 * SEQ_STEP)
    assert s.get("imsi-001010000000001").sqn == 5 * SEQ_STEP
    with pytest.raises(NotFound):
        s.next_sqn("imsi-001019999999999")


def _worker(uri: str, n: int, q) -> None:
    s = SubscriberStore(uri)
    out = [s.next_sqn("imsi-001010000000001").sqn for _ in range(n)]
    out += [s.next_sqn("imsi-001010000000002").sqn for _ in range(n // 2)]
    q.put(out)


def test_sqn_atomic_across_processes(uri):
    """Four processes advance the same subscribers' SQN concurrently: no value is handed out twice."""
    s = SubscriberStore(uri)
    s.add_many([Subscriber("imsi-001010000000001", k=K, opc=OPC), Subscriber("imsi-001010000000002", k=K, opc=OPC)])
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(uri, 100, q)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    first = [v for r in results for v in r[:100]]
    assert sorted(first) == [SEQ_STEP * i for i in range(1, 401)]
    second = [v for r in results for v in r[100:]]
    assert sorted(second) == [SEQ_STEP * i for i in range(1, 201)]
    assert s.get("imsi-001010000000001").sqn == 400 * SEQ_STEP


def test_keys_never_in_repr_or_logs(uri, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    s = SubscriberStore(uri)
    s.add(Subscriber("imsi-001010000000001", k=K, opc=OPC))
    s.next_sqn("imsi-001010000000001")
    s.get("imsi-001010000000001")
    text = caplog.text + repr(s.get("imsi-001010000000001")) + repr(s.auth_data("imsi-001010000000001"))
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert K.hex() not in text and OPC.hex() not in text
    assert K.hex() not in str(s.get("imsi-001010000000001").public())


def test_provision_parser_names_the_field():
    sub = subscriber_from_dict({"imsi": "001010000000001", "k": K.hex(), "opc": OPC.hex(), "sqn": "20", "msisdn": 123})
    assert (sub.supi, sub.sqn, sub.data) == ("imsi-001010000000001", 32, {"msisdn": "123"})
    for bad, word in [({"k": K.hex(), "opc": OPC.hex()}, "imsi"), ({"imsi": "1234", "k": K.hex()}, "SUPI"),
                      ({"imsi": "001010000000001", "k": "zz" * 16}, "k"),
                      ({"imsi": "001010000000001", "k": K.hex(), "amf": "123"}, "amf"),
                      ({"imsi": "001010000000001", "k": K.hex(), "sqn": "x"}, "sqn"),
                      ({"imsi": "001010000000001", "k": K.hex(), "color": "red"}, "color"),
                      ({"imsi": "001010000000001", "k": K.hex(), "auth_method": "EAP_TLS"}, "auth_method")]:
        with pytest.raises(StoreError, match=word):
            subscriber_from_dict(bad)
    assert changes_from_dict({"sqn": "40", "am": {}}) == {"sqn": 64, "data": {"am": {}}}
