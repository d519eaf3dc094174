"""AMF UE contexts on disk (fivecore.nf.amf.persist): round trip, resumption after a restart
without AKA, the downlink NAS COUNT never reused across a crash, deletion, damaged files.

The AMF side is the real 5GMM entity driven by the simulator's UE and a home network doing
real 5G-AKA (homenet.py); "a restart" is a new :class:`Gmm` reading the same SQLite file, "a
crash" one that reads it without the last flush having run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import sqlite3
from pathlib import Path

import pytest
from homenet import Loop, make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.amf import nas_io
from fivecore.nf.amf.context import GmmState
from fivecore.nf.amf.gmm import Gmm
from fivecore.nf.amf.persist import (
    DL_BLOCK,
    AmfPersistence,
    PersistError,
    PersistFileError,
    UeContextFile,
    UeRecord,
    default_path,
    guami_key,
)
from fivecore.ran.ue import UeState
from fivecore.security.nas_context import NasSecurityContext, Role

GUAMI = "00101-02-001-00"


def _persist(gmm: Gmm, path: Path, **kw: object) -> AmfPersistence:
    p = AmfPersistence(gmm, path, GUAMI, **kw)  # type: ignore[arg-type]
    p.open()
    return p


def _crash(p: AmfPersistence) -> None:
    """The AMF dies: what was committed stays, what waited for the next flush is lost."""
    if p.file is not None:
        p.file.close()
        p.file = None


def _restart(loop: Loop, path: Path, old: AmfPersistence) -> tuple[Loop, AmfPersistence]:
    """A crash of ``old``, then a new AMF (fresh 5GMM state) on the same file."""
    _crash(old)
    gmm = Gmm(loop.gmm.cfg)
    return Loop(gmm, loop.hn), _persist(gmm, path)


def test_registered_ue_round_trip(tmp_path: Path) -> None:
    """Every stored field comes back; the restored UE is REGISTERED, CM-IDLE, found by 5G-TMSI."""
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue)
    assert loop.gmm.ctx.dirty == {amf_ue.supi}
    assert p.flush() == 1 and not loop.gmm.ctx.dirty
    assert amf_ue.dl_ceiling == amf_ue.sec.dl_count + DL_BLOCK
    p.close()

    loop2, p2 = _restart(loop, tmp_path / "ue.db", p)
    ctx = loop2.gmm.ctx
    back = ctx.by_supi[amf_ue.supi]
    assert ctx.by_tmsi[amf_ue.tmsi] is back and ctx.ues[back.amf_ue_ngap_id] is back
    assert back.state == GmmState.REGISTERED and back.gnb is None and not back.cm_connected
    assert (back.ngksi, back.kamf, back.nr_enc_alg, back.nr_int_alg) == (
        amf_ue.ngksi, amf_ue.kamf, amf_ue.nr_enc_alg, amf_ue.nr_int_alg)
    assert back.ue_sec_cap == amf_ue.ue_sec_cap
    assert back.allowed_nssai == amf_ue.allowed_nssai and back.tac == amf_ue.tac
    assert back.ue_ambr == amf_ue.ue_ambr and back.registered_with_udm
    assert back.sec.ul_count == amf_ue.sec.ul_count
    assert back.sec.dl_count == amf_ue.dl_ceiling, "DL COUNT resumes at the reserved ceiling"
    assert back.amf_ue_ngap_id not in ctx.embryonic, "restored UEs are never reaped"
    assert ctx.stats["persist_restored"] == 1


def test_service_request_after_restart_is_accepted_without_aka(tmp_path: Path) -> None:
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue)
    p.flush()
    used = amf_ue.sec.dl_count  # the next DL COUNT: everything below it was used
    loop2, _ = _restart(loop, tmp_path / "ue.db", p)  # a crash: the old AMF is simply gone
    loop.hn.calls.clear()
    n_ics = len(loop2.ics)
    back = loop2.initial(ue, ue.service_request())
    assert ue.state == UeState.REGISTERED and ue.last_cause is None
    assert loop.hn.calls == [], "no AUSF/UDM call: no new authentication"
    assert len(loop2.ics) == n_ics + 1, "Initial Context Setup with KgNB from the stored KAMF"
    assert ue.sec.last_dl_count >= used, "the Service Accept's DL COUNT is above every one used"
    assert loop2.gmm.ctx.stats["service_request"] == 1
    assert "service_reject" not in loop2.gmm.ctx.stats
    assert back.dl_ceiling > back.sec.dl_count, "the reservation moved on before the COUNT was used"


def test_periodic_registration_after_restart_skips_authentication(tmp_path: Path) -> None:
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    loop.register(ue)
    p.flush()
    old_tmsi = ue.guti.tmsi
    loop2, p2 = _restart(loop, tmp_path / "ue.db", p)
    loop.hn.calls.clear()
    back = loop2.register(ue, reg_type=3)
    assert ue.state == UeState.REGISTERED and ue.last_cause is None
    assert loop.hn.calls == ["udm_register"]
    assert loop2.gmm.ctx.stats["registration_without_auth"] == 1
    assert ue.guti.tmsi == back.tmsi != old_tmsi
    # the new 5G-GUTI is what is stored next
    assert back.supi in loop2.gmm.ctx.dirty
    p2.flush()
    loop3, _ = _restart(loop2, tmp_path / "ue.db", p2)
    assert loop3.gmm.ctx.by_tmsi[ue.guti.tmsi].supi == back.supi
    assert old_tmsi not in loop3.gmm.ctx.by_tmsi


def _send_dl(loop: Loop, ue: object, amf_ue: object, n: int, used: list[int]) -> None:
    """``n`` downlink 5GMM STATUS messages on the connected UE, each checked by the UE."""
    for _ in range(n):
        pdu = loop.gmm._protect(amf_ue, nas_io.gmm_status(111))  # type: ignore[arg-type]
        used.append(amf_ue.sec.last_dl_count)  # type: ignore[attr-defined]
        ue.on_downlink(pdu)  # type: ignore[attr-defined]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 150), st.booleans()), min_size=1, max_size=6))
def test_dl_count_never_reused_across_a_crash(tmp_path_factory: pytest.TempPathFactory,
                                              steps: list[tuple[int, bool]]) -> None:
    """Bursts of downlink messages, a flush after some of them, then a crash that skips the
    last flush: the restarted AMF's first DL COUNT is above every COUNT used before, and the
    UE still follows it (TS 24.501 §4.4.3.1: a jump below 256)."""
    path = tmp_path_factory.mktemp("crash") / "ue.db"
    loop, (ue,) = make()
    p = _persist(loop.gmm, path)
    amf_ue = loop.register(ue, follow_on=True)  # stays connected
    p.flush()
    used: list[int] = []
    for n, flush in steps:
        _send_dl(loop, ue, amf_ue, n, used)
        if flush:
            p.flush()
    loop2, p2 = _restart(loop, path, p)
    back = loop2.gmm.ctx.by_supi[amf_ue.supi]
    assert not used or back.sec.dl_count > max(used)
    assert back.sec.dl_count - amf_ue.sec.dl_count < 256 - 1 - DL_BLOCK // 2
    ue.connected = False
    loop2.initial(ue, ue.service_request())
    assert ue.state == UeState.REGISTERED and ue.last_cause is None
    assert ue.stats.get("nas_bad_mac", 0) == 0
    p.close()
    p2.close()


def test_reservation_is_committed_before_the_count_is_used(tmp_path: Path) -> None:
    """Without any flush, the COUNT at the stored ceiling is reserved synchronously first."""
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue, follow_on=True)
    p.flush()
    first = amf_ue.dl_ceiling
    used: list[int] = []
    _send_dl(loop, ue, amf_ue, first - amf_ue.sec.dl_count + 3, used)
    assert max(used) >= first
    assert loop.gmm.ctx.stats["persist_reserve_sync"] == 1
    stored = p.file.db.execute("SELECT dl_ceiling FROM ue").fetchone()[0]
    assert stored > max(used) and stored == amf_ue.dl_ceiling


def test_ceiling_update_also_stores_the_uplink_count(tmp_path: Path) -> None:
    """A connected UE's uplink messages after the record was written: the next reservation
    stores the uplink COUNT too, so fewer of them could be replayed after a crash."""
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue, follow_on=True)
    p.flush()
    stored_ul = json.loads(p.file.db.execute("SELECT body FROM ue").fetchone()[0])["ul"]
    loop.run(ue, loop.gmm.uplink_nas(amf_ue, ue.register(reg_type=2)))  # mobility update, connected
    loop.run(ue, loop.gmm.uplink_nas(amf_ue, ue.register(reg_type=2)))
    assert amf_ue.sec.ul_count > stored_ul
    _send_dl(loop, ue, amf_ue, amf_ue.dl_ceiling - amf_ue.sec.dl_count + 1, [])  # past the ceiling
    body = json.loads(p.file.db.execute("SELECT body FROM ue").fetchone()[0])
    assert body["ul"] == amf_ue.sec.ul_count
    loop2, _ = _restart(loop, tmp_path / "ue.db", p)
    assert loop2.gmm.ctx.by_supi[amf_ue.supi].sec.ul_count == amf_ue.sec.ul_count


def test_deregistration_deletes_the_record(tmp_path: Path) -> None:
    loop, (ue, ue2) = make(2)
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue)
    loop.register(ue2)
    p.flush()
    assert p.file.count() == 2
    loop.initial(ue, ue.deregister())
    assert amf_ue.state == GmmState.DEREGISTERED
    p.flush()
    assert p.file.count() == 1
    assert loop.gmm.ctx.stats["persist_deleted"] == 1
    loop2, _ = _restart(loop, tmp_path / "ue.db", p)
    assert amf_ue.supi not in loop2.gmm.ctx.by_supi and len(loop2.gmm.ctx.ues) == 1


def test_implicit_deregistration_deletes_the_record(tmp_path: Path) -> None:
    """Paging for a network de-registration goes unanswered (TS 24.501 §5.3.7)."""
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue)
    p.flush()
    loop.run(ue, loop.gmm.deregister(amf_ue))
    for _ in range(3):
        loop.run(ue, loop.gmm.timer_expired(amf_ue, "T3513", loop.timers.pop((amf_ue.amf_ue_ngap_id, "T3513"))))
    assert amf_ue.state == GmmState.DEREGISTERED
    p.flush()
    assert p.file.count() == 0


def test_removed_context_deletes_the_record(tmp_path: Path) -> None:
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue)
    p.flush()
    loop.gmm.ctx.remove_ue(amf_ue)
    p.flush()
    assert p.file.count() == 0


def test_ue_mid_registration_is_written_once_it_is_over(tmp_path: Path) -> None:
    """A new 5G-AKA run: between the AUSF's confirmation (new KAMF) and Security Mode Complete
    (new NAS context) nothing is written; the new context is, once the registration is over."""
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    amf_ue = loop.register(ue)
    p.flush()
    old_kamf = amf_ue.kamf
    loop.drop_uplink = 1  # the Authentication Response is held back
    ue.guti = None  # a fresh initial registration with SUCI
    cur = loop.register(ue)
    auth_response = loop.uplinks[-1]
    loop.drop_uplink = 1  # ... and the Security Mode Complete after it
    loop.run(ue, loop.gmm.uplink_nas(cur, auth_response))
    assert loop.gmm.ctx.by_supi[amf_ue.supi] is cur and cur.proc is not None and cur.proc.name == "smc"
    assert cur.kamf != old_kamf
    loop.gmm.ctx.touch(cur)
    p.flush()
    assert cur.supi in loop.gmm.ctx.dirty, "deferred, not written half-way"
    body = json.loads(p.file.db.execute("SELECT body FROM ue").fetchone()[0])
    assert bytes.fromhex(body["kamf"]) == old_kamf
    loop.run(ue, loop.gmm.uplink_nas(cur, loop.uplinks[-1]))  # Security Mode Complete arrives
    assert ue.state == UeState.REGISTERED and cur.state == GmmState.REGISTERED
    p.flush()
    body = json.loads(p.file.db.execute("SELECT body FROM ue").fetchone()[0])
    assert bytes.fromhex(body["kamf"]) == cur.kamf and not loop.gmm.ctx.dirty


def test_stateless_amf_when_persist_is_off() -> None:
    from fivecore.nf.amf.app import AmfApp

    assert load_config(None).amf.persist is True
    app = AmfApp(load_config({"amf": {"nrf_uri": None, "persist": False}}))
    assert app.persistence is None and app.gmm.ctx.dirty is None
    app2 = AmfApp(load_config({"amf": {"nrf_uri": None}}))
    assert app2.persistence is not None and app2.persistence.file is None, "no disk access before start"


def test_restarted_amf_keeps_its_nf_instance_id(tmp_path: Path) -> None:
    """The UDM knows the UEs' serving AMF by NF instance ID (TS 29.503 §5.3.2.2.2)."""
    from fivecore.nf.amf.app import AmfApp

    cfg = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db", "amf": {"nrf_uri": None}})
    first = AmfApp(cfg)
    p = AmfPersistence.for_app(first)
    p.open()
    p.close()
    again = AmfApp(cfg)
    assert again.instance_id == first.instance_id == again.sbi.amf_instance_id == again.gmm.cfg.amf_instance_id
    pinned = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db",
                          "amf": {"nrf_uri": None, "nf_instance_id": "a0a0a0a0-0000-4000-8000-000000000001"}})
    assert AmfApp(pinned).instance_id == "a0a0a0a0-0000-4000-8000-000000000001", "configured wins"
    assert not (tmp_path / "var").exists()


def test_default_path_is_beside_the_store_and_named_by_guami(tmp_path: Path) -> None:
    c0 = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db"})
    c1 = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db", "amf": {"guami": {"pointer": 1}}})
    assert default_path(c0).parent == tmp_path and default_path(c0) != default_path(c1)
    assert guami_key(c0) in default_path(c0).name
    c2 = load_config({"amf": {"persist_file": str(tmp_path / "x.db")}})
    assert default_path(c2) == tmp_path / "x.db"
    c3 = load_config({"db_uri": "postgresql+psycopg://u@h/db", "amf": {"data_dir": str(tmp_path / "d")}})
    assert default_path(c3).parent == tmp_path / "d"


# --- bad files ---------------------------------------------------------------------------------


def test_corrupt_file_is_a_typed_error_and_the_amf_starts_empty(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ue.db"
    path.write_bytes(b"this is not SQLite at all\n" * 100)
    with pytest.raises(PersistFileError) as err:
        UeContextFile(path, GUAMI)
    assert err.value.ours
    loop, (ue,) = make()
    with caplog.at_level(logging.WARNING, logger="fivecore.amf.persist"):
        p = _persist(loop.gmm, path)
    assert "amf_persist_file_unusable" in caplog.text
    assert not loop.gmm.ctx.ues and p.file is not None
    assert list(tmp_path.glob("ue.db.unusable-*")), "the damaged file is kept aside"
    loop.register(ue)
    p.flush()
    assert p.file.count() == 1, "a fresh file works"


def test_file_of_another_amf_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    loop.register(ue)
    p.close()
    gmm = Gmm(loop.gmm.cfg)
    with caplog.at_level(logging.WARNING, logger="fivecore.amf.persist"):
        p2 = AmfPersistence(gmm, tmp_path / "ue.db", "00101-02-001-01")
        assert p2.open() == 0
    assert "GUAMI" in caplog.text and not gmm.ctx.ues
    assert p2.file is not None and p2.file.count() == 0


def test_foreign_sqlite_file_is_left_untouched(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "subscribers.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE subscriber (supi TEXT PRIMARY KEY, k BLOB)")
    db.execute("INSERT INTO subscriber VALUES ('imsi-1', x'00')")
    db.commit()
    db.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(PersistFileError) as err:
        UeContextFile(path, GUAMI)
    assert not err.value.ours
    loop, (ue,) = make()
    with caplog.at_level(logging.WARNING, logger="fivecore.amf.persist"):
        p = _persist(loop.gmm, path)
    assert "amf_persist_disabled" in caplog.text and p.file is None
    loop.register(ue)
    assert p.flush() == 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_second_amf_on_the_same_file_runs_without_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Two AMFs configured with one GUAMI on one host: the second neither reads nor writes."""
    loop, (ue,) = make()
    p = _persist(loop.gmm, tmp_path / "ue.db")
    loop.register(ue)
    p.flush()
    gmm = Gmm(loop.gmm.cfg)
    with caplog.at_level(logging.WARNING, logger="fivecore.amf.persist"):
        p2 = _persist(gmm, tmp_path / "ue.db")
    assert p2.file is None and not gmm.ctx.ues and "in use by another AMF" in caplog.text
    assert p.file is not None and p.file.count() == 1 and not list(tmp_path.glob("*.unusable-*"))
    p.close()
    assert _persist(Gmm(loop.gmm.cfg), tmp_path / "ue.db").file is not None, "free again once closed"


def test_bad_rows_are_skipped_and_the_rest_restored(tmp_path: Path) -> None:
    loop, ues = make(2)
    p = _persist(loop.gmm, tmp_path / "ue.db")
    for u in ues:
        loop.register(u)
    p.flush()
    p.file.db.execute("INSERT INTO ue VALUES ('imsi-9', 5, 100, '{\"k\": 1')")
    p.file.db.execute("UPDATE ue SET body = json_set(body, '$.ia', 0) WHERE supi = ?", (ues[1].supi,))
    loop2, p2 = _restart(loop, tmp_path / "ue.db", p)
    assert set(loop2.gmm.ctx.by_supi) == {ues[0].supi}
    assert loop2.gmm.ctx.stats["persist_bad_records"] == 2
    assert p2.file.count() == 1, "records that can never be resumed are deleted"


def test_records_beyond_the_context_cap_stay_on_disk(tmp_path: Path) -> None:
    loop, ues = make(3)
    p = _persist(loop.gmm, tmp_path / "ue.db")
    for u in ues:
        loop.register(u)
    p.close()
    gmm = Gmm(dataclasses.replace(loop.gmm.cfg, max_ue_contexts=2))
    p2 = _persist(gmm, tmp_path / "ue.db")
    assert len(gmm.ctx.ues) == 2 and p2.file.count() == 3


def _good_row() -> tuple[str, int, int, str]:
    rec = UeRecord(supi="imsi-001010000000001", tmsi=7, old_tmsi=None, ngksi=1, kamf=bytes(32), enc_alg=2,
                   int_alg=2, ul_count=3, dl_ceiling=70, ue_sec_cap=b"\xe0\xe0", allowed_nssai=((1, None),),
                   tacs=(1,), tac=1, ue_ambr=(10, 20), t3512=3240, registered_with_udm=True, suci_scheme=1)
    return rec.supi, rec.tmsi, rec.dl_ceiling, rec.body()


def test_record_body_round_trip() -> None:
    row = _good_row()
    rec = UeRecord.from_row(*row)
    assert (rec.supi, rec.tmsi, rec.dl_ceiling, rec.body()) == row


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(["o", "k", "kamf", "ea", "ia", "ul", "cap", "nssai", "tacs", "tac", "ambr", "t3512",
                            "udm", "suci", "s", None]), value=_json, text=st.text(max_size=40),
       tmsi=_json, ceiling=_json)
def test_fuzz_stored_rows_raise_only_persist_error(key: str | None, value: object, text: str, tmsi: object,
                                                   ceiling: object) -> None:
    supi, good_tmsi, good_ceiling, body = _good_row()
    b = json.loads(body)
    if key is None:
        body = text
    else:
        b[key] = value
        body = json.dumps(b)
    for args in ((supi, good_tmsi, good_ceiling, body), (supi, tmsi, ceiling, _good_row()[3])):
        try:
            UeRecord.from_row(*args)
        except PersistError:
            pass


async def test_restored_session_the_smf_no_longer_knows_is_dropped(tmp_path: Path) -> None:
    """The SMF restarted too (``fivecore up`` runs both in one process): the Service Request's
    reactivation gets 404 (TS 29.502 §5.2.2.3.1), the AMF forgets the session, tells the UE in
    the Service Accept (PDU session status, TS 24.501 §5.6.1.4.1) and stores the context
    without it."""
    from fivecore.nf.amf.app import AmfApp
    from fivecore.nf.amf.sessions import AmfSmSession
    from fivecore.nf.common.client import LocalRegistry
    from fivecore.nf.smf.app import SmfApp
    from fivecore.wire import nas, ngap

    cfg = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db", "amf": {"nrf_uri": None},
                       "smf": {"nrf_uri": None}})
    hn_loop, (ue,) = make()

    def amf() -> tuple[AmfApp, AmfPersistence, Loop]:
        local = LocalRegistry()
        local.register(["nsmf-pdusession"], SmfApp(cfg).router)  # a fresh SMF: no SM contexts
        app = AmfApp(cfg, local=local)
        p = AmfPersistence.for_app(app)
        p.open()
        return app, p, Loop(app.gmm, hn_loop.hn)

    app, p, loop = amf()
    amf_ue = loop.register(ue)
    app.sessions.by_supi[amf_ue.supi] = {1: AmfSmSession(1, None, "ref-gone", {"sst": 1}, "internet")}
    app.gmm.ctx.touch(amf_ue)
    p.flush()
    p.close()

    app2, p2, loop2 = amf()
    sess = app2.sessions.by_supi[amf_ue.supi][1]
    assert (sess.sm_ref, sess.dnn, sess.snssai) == ("ref-gone", "internet", {"sst": 1})
    sent: list[object] = []
    app2._execute = sent.extend  # type: ignore[method-assign]
    ue.connected = True
    back, acts = app2.gmm.initial_ue_message(loop2.gnb, 9, ue.service_request(1, frozenset({1})), 1)
    assert back.supi == amf_ue.supi and back.state == GmmState.REGISTERED
    assert app2.ngap.translate(acts) == []  # the ICS waits for the SMF's answer
    while app2.sessions._bg:
        await asyncio.gather(*app2.sessions._bg)
    assert app2.sessions.by_supi[amf_ue.supi] == {}
    assert app2.gmm.ctx.stats["sm_reactivation_failed"] == 1
    ics = ngap.decode(sent[-1].data)  # type: ignore[attr-defined]
    assert ics.procedure == "InitialContextSetup" and not ics.get("PDUSessionResourceSetupListCxtReq")
    # read the ciphered Service Accept as the UE does, with a UE-side context of the same key
    reader = NasSecurityContext.from_kamf(Role.UE, back.kamf, int_alg=back.sec.int_alg, enc_alg=back.sec.enc_alg,
                                          dl_count=back.sec.last_dl_count)
    accept = nas.decode(reader.unprotect(ics["NAS-PDU"]).message)
    assert accept.message_type == "ServiceAccept"
    assert accept.pdu_session_status is not None and 1 not in accept.pdu_session_status.psis
    assert accept.pdu_session_reactivation_result is not None and 1 in accept.pdu_session_reactivation_result.psis
    ue.on_downlink(ics["NAS-PDU"])
    assert ue.state == UeState.REGISTERED and ue.stats.get("nas_bad_mac", 0) == 0
    p2.flush()
    body = json.loads(p2.file.db.execute("SELECT body FROM ue").fetchone()[0])
    assert body["s"] == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.sampled_from([b"", b"SQLite format 3\x00"]), data=st.binary(max_size=4096),
       cut=st.integers(0, 1 << 16))
def test_fuzz_damaged_files_raise_only_persist_errors(tmp_path_factory: pytest.TempPathFactory, head: bytes,
                                                      data: bytes, cut: int) -> None:
    """Random bytes, or a real UE context file cut short or overwritten in part: opening and
    reading it raises PersistError (or works), nothing else."""
    d = tmp_path_factory.mktemp("fuzz")
    good = d / "good.db"
    loop, (ue,) = make()
    p = _persist(loop.gmm, good)
    loop.register(ue)
    p.close()
    raw = good.read_bytes()
    for blob in (head + data, raw[:cut % (len(raw) + 1)] + data, raw[:cut % len(raw)] + data + raw[cut % len(raw) + len(data):]):
        path = d / "x.db"
        path.write_bytes(blob)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        try:
            f = UeContextFile(path, GUAMI)
        except PersistError:
            continue
        try:
            list(f.load())
        except PersistError:
            pass
        finally:
            f.close()


def test_text_that_is_not_utf8_in_a_damaged_file_is_a_persist_file_error(tmp_path: Path) -> None:
    """A damaged schema whose table name is not UTF-8: SQLite's "malformed database schema"
    message quotes the name, and Python's sqlite3 then raises UnicodeDecodeError instead of a
    DatabaseError. That is damage like any other: PersistFileError (found by the fuzz test
    above in CI)."""
    path = tmp_path / "x.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t\u00e9 (a)")  # 'é' is C3 A9 in UTF-8 ...
    db.commit()
    db.close()
    raw = path.read_bytes()
    assert b"t\xc3\xa9" in raw and b"CREATE TABLE" in raw
    # ... 80 80 is no UTF-8, and the schema's SQL no longer parses
    path.write_bytes(raw.replace(b"t\xc3\xa9", b"t\x80\x80").replace(b"CREATE TABLE", b"CREATE TABLX"))
    with pytest.raises(PersistFileError):
        UeContextFile(path, GUAMI)
