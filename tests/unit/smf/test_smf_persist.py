"""SM contexts survive an SMF restart (fivecore.nf.smf.persist): written behind in batches, read
back before the SMF serves anything, addresses and SEIDs taken back from their allocators, the
UPFs they live on asked to retain their PFCP sessions; damaged or foreign files handled as the
AMF's are (fivecore.nf.common.persist)."""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.common.persist import PersistError
from fivecore.nf.smf.context import Ipv4Pool, Ipv6PrefixPool, SmContext, SmfContext, SmState
from fivecore.nf.smf.persist import (
    SmContextFile,
    SmfPersistence,
    default_path,
    record_of,
    restore_sm,
    stored_instance_id,
)
from fivecore.nf.smf.pfcp import UpfPeer

N4KEY = "127.0.0.4-8805"
POOL = "10.45.0.0/16"


def _ctx() -> SmfContext:
    ctx = SmfContext()
    ctx.pools["internet"] = Ipv4Pool(POOL)
    ctx.v6pools["internet"] = Ipv6PrefixPool("fd00:45::/48")
    return ctx


def _established(ctx: SmfContext, peer: UpfPeer, psi: int = 1, supi: str = "imsi-001010000000001",
                 v6: bool = False) -> SmContext:
    """A session as SmfService leaves it after a successful establishment and N2 setup."""
    sm = ctx.new(supi, psi, "internet", {"sst": 1, "sd": "000001"})
    sm.pool = "internet"
    sm.pti, sm.pdu_type = 3, 3 if v6 else 1
    sm.ue_ipv4 = ctx.pools["internet"].allocate()
    if v6:
        sm.ue_ipv6_prefix = ctx.v6pools["internet"].allocate()
    sm.amf_instance_id, sm.amf_uri = "a1b2", "http://127.0.0.5:7777"
    sm.status_uri = "http://127.0.0.5:7777/namf-callback/v1/sm-status"
    sm.serving_network = {"mcc": "001", "mnc": "01"}
    sm.pei, sm.gpsi = "imeisv-4370816125816151", "msisdn-0900000001"
    sm.upf, sm.upf_seid, sm.ul_teid, sm.ul_ip = peer, 0x1234, 0xA1, "127.0.0.7"
    sm.dl_teid, sm.dl_ip, sm.up_active = 0xB2, "10.200.1.2", True
    sm.ambr_ul, sm.ambr_dl, sm.five_qi, sm.arp, sm.qfi = 2_000_000, 5_000_000, 8, 7, 1
    sm.policy_id, sm.udm_registered, sm.state = "pol-9", True, SmState.ACTIVE
    ctx.touch(sm)
    return sm


def _persistence(ctx: SmfContext, path: Path, peers: list[UpfPeer] | None = None, **kw: Any) -> SmfPersistence:
    pools = {"internet": (POOL, "fd00:45::/48")}

    def pool_for(dnn: str, v6: bool) -> Any:
        net = pools[dnn]
        p = Ipv6PrefixPool(net[1]) if v6 else Ipv4Pool(net[0])
        (ctx.v6pools if v6 else ctx.pools)[dnn] = p
        return p

    return SmfPersistence(ctx, peers if peers is not None else [], path, N4KEY, pool_factory=pool_for, **kw)


_FIELDS = ("ref", "supi", "psi", "pti", "dnn", "snssai", "pdu_type", "ssc_mode", "state", "ue_ipv4",
           "ue_ipv6_prefix", "pool", "amf_instance_id", "amf_uri", "status_uri", "pei", "gpsi",
           "serving_network", "an_type", "rat_type", "local_seid", "upf_seid", "ul_teid", "ul_ip",
           "dl_teid", "dl_ip", "qfi", "ambr_ul", "ambr_dl", "five_qi", "arp", "policy_id", "up_active",
           "udm_registered")


def test_a_record_brings_back_every_field() -> None:
    ctx = _ctx()
    sm = _established(ctx, UpfPeer("127.0.0.7", 8806), v6=True)
    rec = record_of(sm)
    assert rec is not None
    back, upf = restore_sm(rec.ref, rec.supi, rec.psi, rec.text())
    assert upf == ("127.0.0.7", 8806)
    for f in _FIELDS:
        assert getattr(back, f) == getattr(sm, f), f


def test_sessions_without_n4_or_being_released_are_not_kept() -> None:
    ctx = _ctx()
    sm = _established(ctx, UpfPeer("127.0.0.7"))
    sm.upf_seid = None  # N4 not set up yet (or being set up again after a UPF restart)
    assert record_of(sm) is None
    sm.upf_seid = 5
    sm.state = SmState.INACTIVE_PENDING
    assert record_of(sm) is None


def test_restart_restores_sessions_addresses_seids_and_asks_for_retention(tmp_path: Path) -> None:
    path = tmp_path / "smf.db"
    ctx = _ctx()
    peer = UpfPeer("127.0.0.7")
    p = _persistence(ctx, path, [peer], instance_id="smf-1")
    assert p.open() == 0
    sms = [_established(ctx, peer, psi=1), _established(ctx, peer, psi=2, v6=True),
           _established(ctx, peer, psi=1, supi="imsi-001010000000002")]
    pending = ctx.new("imsi-001010000000003", 1, "internet", {"sst": 1})  # no N4 session yet
    ctx.touch(pending)
    assert p.flush() == 4  # three written, the pending one deleted (was never there)
    assert p.file is not None and p.file.count() == 3
    p.close()

    # the SMF process restarts: empty context, same configuration
    ctx2 = SmfContext()
    peers: list[UpfPeer] = []
    p2 = _persistence(ctx2, path, peers)
    assert p2.open() == 3 and ctx2.stats["persist_restored"] == 3
    assert len(peers) == 1 and peers[0].address == "127.0.0.7" and peers[0].retain_sessions
    for sm in sms:
        back = ctx2.by_ref[sm.ref]
        assert ctx2.by_ue[(sm.supi, sm.psi)] is back and ctx2.by_seid[sm.local_seid] is back
        assert back.ue_ipv4 == sm.ue_ipv4 and back.ue_ipv6_prefix == sm.ue_ipv6_prefix
        assert back.upf is peers[0] and back.upf_seid == sm.upf_seid and back.ul_teid == sm.ul_teid
    assert pending.ref not in ctx2.by_ref
    # the pools never hand out an address still in use, nor the SEID allocator a SEID
    in_use = {sm.ue_ipv4 for sm in sms}
    fresh = [ctx2.pools["internet"].allocate() for _ in range(10)]
    assert not in_use & set(fresh)
    assert ctx2.v6pools["internet"].allocate() != sms[1].ue_ipv6_prefix
    ctx2._next_seid = sms[0].local_seid
    assert ctx2.new("imsi-001010000000009", 1, "internet", {"sst": 1}).local_seid not in {s.local_seid for s in sms}
    # a released session goes from the file with the next flush
    ctx2.remove(ctx2.by_ref[sms[0].ref])
    p2.flush()
    assert p2.file is not None and p2.file.count() == 2
    p2.close()


def test_the_instance_id_is_kept_for_the_restarted_smf(tmp_path: Path) -> None:
    path = tmp_path / "smf.db"
    cfg = load_config({"smf": {"persist_file": str(path)}})
    assert default_path(cfg) == path and stored_instance_id(cfg) is None
    f = SmContextFile(path, N4KEY, instance_id="9f0c")
    f.close()
    assert stored_instance_id(cfg) == "9f0c"
    other = load_config({"smf": {"persist_file": str(path), "pfcp": {"address": "127.0.0.44"}}})
    assert stored_instance_id(other) is None  # another SMF's file


def test_default_path_is_beside_the_store_and_named_by_n4(tmp_path: Path) -> None:
    cfg = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db", "smf": {"pfcp": {"port": 8806}}})
    assert default_path(cfg) == tmp_path / "smf-sm-contexts-127.0.0.4-8806.db"


def test_one_smf_per_file(tmp_path: Path) -> None:
    path = tmp_path / "smf.db"
    first = SmContextFile(path, N4KEY)
    try:
        second = _persistence(_ctx(), path)
        assert second.open() == 0 and second.file is None  # runs without persistence
        assert second.ctx.stats["persist_file_unusable"] == 1
    finally:
        first.close()


def test_a_damaged_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "smf.db"
    path.write_bytes(b"this is not SQLite at all" * 100)
    p = _persistence(_ctx(), path)
    assert p.open() == 0 and p.file is not None
    assert [x.name for x in tmp_path.iterdir() if ".unusable-" in x.name]
    p.close()


def test_a_file_of_another_smf_is_moved_aside_and_a_foreign_database_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "smf.db"
    SmContextFile(path, "127.0.0.99-8805").close()
    p = _persistence(_ctx(), path)
    assert p.open() == 0 and p.file is not None
    p.close()
    other = tmp_path / "store.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE subscriber (imsi TEXT)")
    db.commit()
    db.close()
    q = _persistence(_ctx(), other)
    assert q.open() == 0 and q.file is None
    assert sqlite3.connect(other).execute("SELECT name FROM sqlite_master").fetchall() == [("subscriber",)]


def test_bad_and_clashing_records_are_skipped_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "smf.db"
    ctx = _ctx()
    peer = UpfPeer("127.0.0.7")
    p = _persistence(ctx, path, [peer])
    p.open()
    a = _established(ctx, peer, psi=1)
    b = _established(ctx, peer, psi=2)
    p.flush()
    assert p.file is not None
    with p.file.transaction() as db:
        db.execute("INSERT INTO sm VALUES ('junk', 'imsi-1', 1, '{\"dnn\": 5}')")
        # same UE address as ``a``: the pool refuses it twice
        body = json.loads(db.execute("SELECT body FROM sm WHERE ref = ?", (b.ref,)).fetchone()[0])
        body["v4"], body["seid"] = a.ue_ipv4, 999
        db.execute("UPDATE sm SET body = ? WHERE ref = ?", (json.dumps(body), b.ref))
    p.close()
    ctx2 = SmfContext()
    p2 = _persistence(ctx2, path)
    # the first of the two read keeps the address; the other can never be served
    assert p2.open() == 1 and len(ctx2.by_ref) == 1 and set(ctx2.by_ref) <= {a.ref, b.ref}
    assert next(iter(ctx2.by_ref.values())).ue_ipv4 == a.ue_ipv4
    assert ctx2.stats["persist_bad_records"] == 2
    assert p2.file is not None and p2.file.count() == 1
    p2.close()


def test_a_failed_write_is_kept_for_the_next_flush(tmp_path: Path) -> None:
    ctx = _ctx()
    peer = UpfPeer("127.0.0.7")
    p = _persistence(ctx, tmp_path / "smf.db", [peer])
    p.open()
    sm = _established(ctx, peer)
    assert p.file is not None
    real = p.file.db
    p.file.db = sqlite3.connect(":memory:", isolation_level=None)  # no sm table: the write fails
    assert p.flush() == 0 and ctx.stats["persist_write_failed"] == 1 and sm.ref in (ctx.dirty or ())
    p.file.db = real
    assert p.flush() == 1 and p.file.count() == 1
    p.close()


def test_pools_take_back_only_free_addresses() -> None:
    pool = Ipv4Pool("10.45.0.0/29")  # .1 reserved (N6), .2-.6 for UEs
    assert pool.take("10.45.0.5") and not pool.take("10.45.0.5")
    assert not pool.take("10.45.0.1") and not pool.take("10.46.0.3") and not pool.take("junk")
    got = [pool.allocate() for _ in range(4)]
    assert sorted(got) == ["10.45.0.2", "10.45.0.3", "10.45.0.4", "10.45.0.6"]
    v6 = Ipv6PrefixPool("fd00:45::/62")
    first = ipaddress.IPv6Network("fd00:45::/64")
    assert not v6.take(first)  # N6's
    assert v6.take("fd00:45:0:2::/64") and not v6.take("fd00:45:0:2::/64")
    assert not v6.take("fd00:46::/64") and not v6.take("fd00:45::/63")
    assert {str(v6.allocate()), str(v6.allocate())} == {"fd00:45:0:1::/64", "fd00:45:0:3::/64"}


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 1 << 65) | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=6),
                     max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_records_restore_or_raise_persist_error(data: st.DataObject) -> None:
    ctx = _ctx()
    good = record_of(_established(ctx, UpfPeer("127.0.0.7")))
    assert good is not None
    body = dict(good.body)
    for key in data.draw(st.lists(st.sampled_from(sorted(body)), max_size=4)):
        body[key] = data.draw(_json)
    if data.draw(st.booleans()):  # the S-NSSAI's inside, which the UPF peer is made from
        body["snssai"] = {"sst": data.draw(_json), "sd": data.draw(_json | st.sampled_from(["000001", "zz"]))}
    text = data.draw(st.sampled_from([json.dumps(body), data.draw(st.text(max_size=30)), "[]", "{}"]))
    psi = data.draw(st.sampled_from([good.psi, 0, 16, -1, "1", None]))
    try:
        sm, upf = restore_sm(good.ref, good.supi, psi, text)
    except PersistError:
        return
    assert 1 <= sm.psi <= 15 and sm.local_seid and isinstance(upf[1], int)
    # what restoring does next with it must not raise either (the UPF peer from the S-NSSAI)
    peers: list[UpfPeer] = []
    p = SmfPersistence(SmfContext(), peers, "unused.db", N4KEY)
    assert p._peer(("127.0.0.99", 8805), sm) in peers



def test_persistence_off_moves_a_stale_file_aside_unless_an_smf_holds_it(tmp_path: Path) -> None:
    """A file not kept up to date while ``smf.persist`` was false must never be restored later."""
    from fivecore.nf.smf.persist import discard_stale

    path = tmp_path / "smf.db"
    cfg = load_config({"smf": {"persist": False, "persist_file": str(path)}})
    assert discard_stale(cfg) is None  # nothing there
    held = SmContextFile(path, N4KEY)
    assert discard_stale(cfg) is None and path.exists()  # another SMF process has it
    held.close()
    aside = discard_stale(cfg)
    assert aside is not None and aside.exists() and not path.exists()
