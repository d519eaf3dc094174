"""Subscriber store hot path: the row cache never serves stale data, SQN and CAS stay atomic."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from fivecore.store import NotFound, Subscriber, SubscriberStore

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
K2 = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
SUPI = "imsi-001010000000001"


@pytest.fixture()
def uri(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'subs.db'}"


@pytest.fixture()
def stores(uri):
    a = SubscriberStore(uri)
    b = SubscriberStore(uri)
    a.add(Subscriber(SUPI, K, OPC, sqn=0x20))
    yield a, b
    a.close()
    b.close()


def test_fast_path_is_used_for_sqlite_files(stores):
    a, _ = stores
    assert a._fast is not None  # otherwise the tests below would only exercise the engine path


def test_update_by_second_instance_seen_at_once(stores):
    a, b = stores
    assert a.get(SUPI).k == K  # warm the cache
    assert a.get(SUPI).k == K
    b.update(SUPI, k=K2.hex(), data={"msisdn": "123"})
    got = a.get(SUPI)
    assert got.k == K2
    assert got.data == {"msisdn": "123"}
    assert a.effective(got)["msisdn"] == "123"


def test_update_by_another_process_seen_at_once(stores, uri):
    a, _ = stores
    assert a.get(SUPI).amf == b"\x80\x00"
    code = ("import sys; from fivecore.store import SubscriberStore; "
            "s = SubscriberStore(sys.argv[1]); s.update(sys.argv[2], amf='9001', profile=None, "
            "opc='" + K2.hex() + "'); s.close()")
    subprocess.run([sys.executable, "-c", code, uri, SUPI], check=True, timeout=60)
    got = a.get(SUPI)
    assert got.amf == b"\x90\x01"
    assert got.opc == K2


def test_delete_and_readd_same_supi_not_served_from_cache(stores):
    a, b = stores
    a.get(SUPI)
    b.delete(SUPI)
    with pytest.raises(NotFound):
        a.get(SUPI)
    # Same SUPI, version back to 0: only the content decides, so the new key is returned.
    b.add(Subscriber(SUPI, K2, OPC, sqn=0x20))
    assert a.get(SUPI).k == K2


def test_sqn_never_comes_from_the_cache(stores):
    a, b = stores
    assert a.get(SUPI).sqn == 0x20
    assert b.cas_sqn(SUPI, 0x20, 0x40)
    assert a.get(SUPI).sqn == 0x40
    b.next_sqn(SUPI)
    assert a.get(SUPI).sqn == 0x60
    assert a.auth_data(SUPI).sqn == 0x60


def test_returned_record_is_private(stores):
    a, b = stores
    b.update(SUPI, data={"am": {"x": 1}})
    first = a.get(SUPI)
    first.data["am"]["x"] = 2
    first.data["sm"] = []
    assert a.get(SUPI).data == {"am": {"x": 1}}


def test_cas_is_exclusive_across_instances(stores):
    a, b = stores
    wins: list[int] = []
    lock = threading.Lock()

    def worker(store: SubscriberStore, tag: int) -> None:
        for _ in range(50):
            cur = store.get(SUPI).sqn
            if store.cas_sqn(SUPI, cur, cur + 0x20):
                with lock:
                    wins.append(cur)

    ts = [threading.Thread(target=worker, args=(s, i)) for i, s in enumerate((a, b, a, b))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(wins) == len(set(wins))  # no SQN handed out twice
    assert a.get(SUPI).sqn == 0x20 + 0x20 * len(wins)
    assert not a.cas_sqn(SUPI, 0x20, 0x40)  # a stale test fails


def test_cas_on_missing_subscriber(stores):
    a, _ = stores
    with pytest.raises(NotFound):
        a.cas_sqn("imsi-001019999999999", 0, 0x20)


def test_context_documents_between_fast_and_engine_paths(stores):
    a, b = stores
    assert a.put_context(SUPI, "amf-3gpp-access", "", {"amfInstanceId": "x", "n": [1, 2]}) is True
    assert a.put_context(SUPI, "amf-3gpp-access", "", {"amfInstanceId": "y"}) is False
    assert b.get_context(SUPI, "amf-3gpp-access") == {"amfInstanceId": "y"}
    assert b.list_context(SUPI, "amf-3gpp-access") == {"": {"amfInstanceId": "y"}}
    assert a.get_context(SUPI, "amf-3gpp-access", "other") is None
    b.delete(SUPI)
    assert a.get_context(SUPI, "amf-3gpp-access") is None


def test_effective_follows_profile_and_data_changes(stores):
    a, b = stores
    a.put_profile("gold", {"am": {"subscribedUeAmbr": {"uplink": "1 Gbps", "downlink": "1 Gbps"}}})
    a.update(SUPI, profile="gold")
    first = a.effective(a.get(SUPI))
    assert first["am"]["subscribedUeAmbr"]["uplink"] == "1 Gbps"
    first["am"]["subscribedUeAmbr"]["uplink"] = "mutated"  # a caller's copy, not the cache
    assert a.effective(a.get(SUPI))["am"]["subscribedUeAmbr"]["uplink"] == "1 Gbps"
    a.put_profile("gold", {"am": {"subscribedUeAmbr": {"uplink": "5 Gbps", "downlink": "1 Gbps"}}})
    assert a.effective(a.get(SUPI))["am"]["subscribedUeAmbr"]["uplink"] == "5 Gbps"
    b.update(SUPI, data={"am": {"gpsis": ["msisdn-1"]}})
    assert a.effective(a.get(SUPI))["am"] == {"gpsis": ["msisdn-1"]}
    b.update(SUPI, data={"am": None})
    assert a.effective(a.get(SUPI))["am"]["subscribedUeAmbr"]["uplink"] == "5 Gbps"


def test_profile_changed_by_second_instance_seen_at_once(stores):
    a, b = stores
    a.put_profile("gold", {"am": {"subscribedDnnList": ["internet"]}})
    a.update(SUPI, profile="gold")
    assert a.effective(a.get(SUPI))["am"]["subscribedDnnList"] == ["internet"]
    b.put_profile("gold", {"am": {"subscribedDnnList": ["ims"]}})
    assert a.get_profile("gold") == {"am": {"subscribedDnnList": ["ims"]}}
    assert a.effective(a.get(SUPI))["am"]["subscribedDnnList"] == ["ims"]
    a.update(SUPI, profile=None)
    b.delete_profile("gold")
    with pytest.raises(NotFound):
        a.get_profile("gold")


def test_context_upsert_reports_created_once_and_keeps_the_latest(stores):
    a, b = stores
    assert a.put_context(SUPI, "amf-3gpp-access", "", {"v": 1}) is True
    assert a.put_context(SUPI, "amf-3gpp-access", "", {"v": 2}) is False
    assert b.get_context(SUPI, "amf-3gpp-access") == {"v": 2}
    assert a.exists(SUPI) and not a.exists("imsi-001010000000999")


def test_wal_is_checkpointed_off_the_writing_thread(uri):
    """The fast connection never checkpoints inside a commit; the store's thread does it."""
    import time

    s = SubscriberStore(uri)
    s.add(Subscriber(SUPI, K, OPC))
    for i in range(2000):  # well past SQLite's 1,000-page automatic checkpoint
        s.put_context(SUPI, "sdm-subscriptions", str(i), {"callback": "http://x/" + "y" * 500})
    assert s._fast.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    ckpt = s._checkpointer
    deadline = time.monotonic() + 10
    while ckpt.last[1] < 1000 and time.monotonic() < deadline:  # written back by the thread
        time.sleep(0.05)
    assert ckpt.last[1] >= 1000, ckpt.last
    thread = ckpt._thread
    s.close()
    assert not thread.is_alive()
    assert SubscriberStore(uri).list_context(SUPI, "sdm-subscriptions")["1999"]["callback"].endswith("y")


def test_context_for_an_unknown_subscriber_is_refused_and_not_written(stores):
    a, _ = stores
    with pytest.raises(NotFound):
        a.put_context("imsi-001010000000999", "amf-3gpp-access", "", {"v": 1}, subscriber=True)
    assert a.get_context("imsi-001010000000999", "amf-3gpp-access") is None
    assert a.put_context(SUPI, "amf-3gpp-access", "", {"v": 1}, subscriber=True) is True
