"""UPF PFCP procedures on the rule model (TS 29.244 §6.2, §6.3), plain calls, no I/O."""

from __future__ import annotations

import pytest

from fivecore.nf.upf import procedures as P
from fivecore.nf.upf.context import (
    AA_BUFF,
    AA_FORW,
    AA_NOCP,
    ACT_BUFFER,
    ACT_DROP,
    ACT_FORWARD,
    GATE_CLOSED,
    IF_ACCESS,
    IF_CORE,
    Far,
    Pdr,
    Qer,
    UpfContext,
    Urr,
    gtpu_dl_header,
    ipv4_to_int,
)

UE = ipv4_to_int("10.45.0.2")
CP = "127.0.0.4"


def changes(*, ul_teid: int | None = None, dl_teid: int = 0x2000, mbr_kbps: int | None = None,
            urr_threshold: int | None = None) -> P.SessionChanges:
    ul = Pdr(1, 255, IF_ACCESS, teid=ul_teid, ue_ipv4=UE, qfi=1, outer_header_removal=0,
             far_id=1, qer_ids=[1], urr_ids=[1])
    if ul_teid is None:
        P.want_choose(ul)
    dl = Pdr(2, 255, IF_CORE, ue_ipv4=UE, far_id=2, qer_ids=[1], urr_ids=[1])
    urr = Urr(1)
    urr.threshold_total = urr_threshold
    return P.SessionChanges(
        create_pdrs=[ul, dl],
        create_fars=[Far(1, AA_FORW, IF_CORE),
                     Far(2, AA_FORW, IF_ACCESS, ohc_description=0x100, ohc_teid=dl_teid,
                         ohc_ipv4="10.200.1.2")],
        create_qers=[Qer(1, qfi=1, mbr_ul_kbps=mbr_kbps, mbr_dl_kbps=mbr_kbps)],
        create_urrs=[urr],
    )


@pytest.fixture
def ctx() -> UpfContext:
    c = UpfContext("10.200.1.1")
    P.associate(c, CP, 1000, (CP, 8805), now=0.0)
    return c


def test_establishment_creates_rules_and_datapath_entries(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, cp_seid=7, cp_ipv4=CP, changes=changes(mbr_kbps=10_000),
                            now=1.0)
    s = r.session
    assert set(s.pdrs) == {1, 2} and set(s.fars) == {1, 2} and set(s.qers) == {1}
    assert len(r.created_pdrs) == 1
    teid = r.created_pdrs[0].teid
    assert r.created_pdrs[0].ipv4 == "10.200.1.1"
    ul = ctx.ul_by_teid[teid]
    assert ul.action == ACT_FORWARD and ul.ue_ip == UE and ul.session is s
    assert len(ul.buckets) == 1 and ul.buckets[0].rate_bps == 10_000_000
    dl = ctx.dl_by_ue[UE]
    assert dl.peer == ("10.200.1.2", 2152)
    assert dl.hdr == gtpu_dl_header(0x2000, 1)
    assert ctx.metrics.sessions == 1
    assert s.seid in ctx.associations[CP].sessions


def test_dl_header_template_is_gtpu_with_pdu_session_container() -> None:
    h = gtpu_dl_header(0x01020304, 9)
    assert h[:2] == b"\x34\xff" and h[4:8] == b"\x01\x02\x03\x04"
    assert h[10] == 0 and h[11] == 0x85  # next extension: PDU Session Container
    assert h[12] == 1 and h[13] >> 4 == 0 and h[14] & 0x3F == 9 and h[15] == 0
    assert gtpu_dl_header(5, None) == b"\x30\xff\x00\x00\x00\x00\x00\x05"


def test_choose_id_shares_one_teid_and_teids_are_unique(ctx: UpfContext) -> None:
    a = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    b = P.establish_session(ctx, CP, 2, CP, changes(), now=0.0)
    assert a.created_pdrs[0].teid != b.created_pdrs[0].teid
    ch = changes()
    extra = P.want_choose(Pdr(3, 10, IF_ACCESS, ue_ipv4=UE, qfi=2, far_id=1), choose_id=5)
    ch.create_pdrs[0].choose_id = 5
    ch.create_pdrs.append(extra)
    c = P.establish_session(ctx, CP, 3, CP, ch, now=0.0)
    teids = {x.teid for x in c.created_pdrs}
    assert len(teids) == 1 and len(c.created_pdrs) == 2


def test_cp_chosen_teid_collision_is_refused(ctx: UpfContext) -> None:
    P.establish_session(ctx, CP, 1, CP, changes(ul_teid=0x1000), now=0.0)
    with pytest.raises(P.ProcedureError) as ei:
        P.establish_session(ctx, CP, 2, CP, changes(ul_teid=0x1000), now=0.0)
    assert ei.value.cause == P.CAUSE_INVALID_FTEID_ALLOCATION
    assert len(ctx.sessions) == 1


def test_establishment_without_association_is_refused() -> None:
    c = UpfContext("10.200.1.1")
    with pytest.raises(P.ProcedureError) as ei:
        P.establish_session(c, CP, 1, CP, changes(), now=0.0)
    assert ei.value.cause == P.CAUSE_NO_ASSOCIATION


def test_dangling_far_reference_is_a_rule_failure(ctx: UpfContext) -> None:
    ch = changes()
    ch.create_pdrs[1].far_id = 99
    with pytest.raises(P.ProcedureError) as ei:
        P.establish_session(ctx, CP, 1, CP, ch, now=0.0)
    assert ei.value.cause == P.CAUSE_RULE_FAILURE
    assert not ctx.sessions and not ctx.ul_by_teid and not ctx.dl_by_ue


def test_missing_create_far_is_mandatory_ie_missing(ctx: UpfContext) -> None:
    ch = changes()
    ch.create_fars = []
    with pytest.raises(P.ProcedureError) as ei:
        P.establish_session(ctx, CP, 1, CP, ch, now=0.0)
    assert ei.value.cause == P.CAUSE_MANDATORY_IE_MISSING


def test_retransmitted_establishment_returns_same_session(ctx: UpfContext) -> None:
    a = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    b = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    assert a.session is b.session
    assert b.created_pdrs[0].teid == a.created_pdrs[0].teid
    assert len(ctx.sessions) == 1


def test_modification_updates_downlink_far_and_sends_end_marker(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(dl_teid=0x2000), now=0.0)
    upd = P.SessionChanges(update_fars=[(2, {"ohc_teid": 0x3000, "ohc_ipv4": "10.200.1.3"})],
                           send_end_marker={2})
    m = P.modify_session(ctx, r.session.seid, upd, now=1.0)
    dl = ctx.dl_by_ue[UE]
    assert dl.peer == ("10.200.1.3", 2152) and dl.teid == 0x3000
    assert dl.hdr == gtpu_dl_header(0x3000, 1)
    assert m.end_markers == [P.EndMarker(0x2000, ("10.200.1.2", 2152))]


def test_modification_to_buffering_and_back(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    P.modify_session(ctx, r.session.seid,
                     P.SessionChanges(update_fars=[(2, {"apply_action": AA_BUFF | AA_NOCP})]),
                     now=1.0)
    assert ctx.dl_by_ue[UE].action == ACT_BUFFER
    r.session.buffer.append(b"x" * 40)
    m = P.modify_session(ctx, r.session.seid,
                         P.SessionChanges(update_fars=[(2, {"apply_action": AA_FORW})]), now=2.0)
    assert ctx.dl_by_ue[UE].action == ACT_FORWARD
    assert m.flush_buffer


def test_closed_gate_drops(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    teid = r.created_pdrs[0].teid
    P.modify_session(ctx, r.session.seid,
                     P.SessionChanges(update_qers=[(1, {"gate_ul": GATE_CLOSED})]), now=1.0)
    assert ctx.ul_by_teid[teid].action == ACT_DROP
    assert ctx.dl_by_ue[UE].action == ACT_FORWARD


def test_update_qer_rerates_bucket_in_place(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(mbr_kbps=10_000), now=0.0)
    teid = r.created_pdrs[0].teid
    bucket = ctx.ul_by_teid[teid].buckets[0]
    P.modify_session(ctx, r.session.seid,
                     P.SessionChanges(update_qers=[(1, {"mbr_ul_kbps": 5_000})]), now=1.0)
    assert ctx.ul_by_teid[teid].buckets[0] is bucket
    assert bucket.rate_bps == 5_000_000


def test_refused_modification_changes_nothing(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    before = ctx.dl_by_ue[UE]
    bad = P.SessionChanges(update_fars=[(2, {"ohc_teid": 0x9999})],
                           update_pdrs=[(77, {"precedence": 1})])
    with pytest.raises(P.ProcedureError) as ei:
        P.modify_session(ctx, r.session.seid, bad, now=1.0)
    assert ei.value.cause == P.CAUSE_RULE_FAILURE and ei.value.offending_ie == P.IE_PDR_ID
    assert ctx.dl_by_ue[UE] is before and r.session.fars[2].ohc_teid == 0x2000


def test_modify_unknown_session(ctx: UpfContext) -> None:
    with pytest.raises(P.ProcedureError) as ei:
        P.modify_session(ctx, 0xDEAD, P.SessionChanges(), now=0.0)
    assert ei.value.cause == P.CAUSE_SESSION_NOT_FOUND


def test_deletion_returns_usage_and_end_marker(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    teid = r.created_pdrs[0].teid
    urr = r.session.urrs[1]
    urr.ul_bytes, urr.ul_pkts, urr.dl_bytes, urr.dl_pkts = 1000, 10, 3000, 20
    s, reports, markers = P.delete_session(ctx, r.session.seid, now=5.0)
    assert s is r.session
    assert len(reports) == 1
    rep = reports[0]
    assert (rep.ul_bytes, rep.dl_bytes, rep.total_bytes, rep.ul_pkts, rep.dl_pkts) == (
        1000, 3000, 4000, 10, 20)
    assert rep.trigger == "TERMR" and rep.end_time == 5.0
    assert markers == [P.EndMarker(0x2000, ("10.200.1.2", 2152))]
    assert teid not in ctx.ul_by_teid and UE not in ctx.dl_by_ue
    assert ctx.metrics.sessions == 0
    with pytest.raises(P.ProcedureError):
        P.delete_session(ctx, r.session.seid, now=6.0)


def test_query_urr_reports_and_restarts_measurement(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    r.session.urrs[1].dl_bytes = 500
    m = P.modify_session(ctx, r.session.seid, P.SessionChanges(query_all_urrs=True), now=2.0)
    assert [u.dl_bytes for u in m.usage_reports] == [500]
    assert r.session.urrs[1].dl_bytes == 0 and r.session.urrs[1].seqn == 1


def test_threshold_arms_and_rearms(ctx: UpfContext) -> None:
    r = P.establish_session(ctx, CP, 1, CP, changes(urr_threshold=1000), now=0.0)
    urr = r.session.urrs[1]
    assert urr.armed
    urr.ul_bytes = 999
    assert not urr.threshold_reached()
    urr.dl_bytes = 1
    assert urr.threshold_reached()
    snap = urr.take("VOLTH", 1.0)
    assert snap.total_bytes == 1000 and urr.armed and urr.ul_bytes == 0


def test_reassociation_with_new_recovery_timestamp_drops_sessions(ctx: UpfContext) -> None:
    P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    assert P.associate(ctx, CP, 1000, (CP, 8805), now=1.0) == []  # same stamp: kept
    assert len(ctx.sessions) == 1
    dropped = P.associate(ctx, CP, 2000, (CP, 8805), now=2.0)
    assert len(dropped) == 1 and not ctx.sessions and not ctx.ul_by_teid and not ctx.dl_by_ue


def test_association_release_removes_sessions(ctx: UpfContext) -> None:
    P.establish_session(ctx, CP, 1, CP, changes(), now=0.0)
    assert len(P.release_association(ctx, CP)) == 1
    assert not ctx.sessions and CP not in ctx.associations
    with pytest.raises(P.ProcedureError) as ei:
        P.release_association(ctx, CP)
    assert ei.value.cause == P.CAUSE_NO_ASSOCIATION
