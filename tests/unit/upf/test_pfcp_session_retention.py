"""PFCP session retention over an SMF restart (TS 29.244 §6.2.6.2, Rel-16).

The IEs (PFCP Session Retention Information 183, PFCPASRsp-Flags 184, CP PFCP Entity IP
Address 185) encode and decode, and their decoders only ever raise DecodeError. Then the real
SMF N4 endpoint (fivecore.nf.smf.pfcp.N4) talks to the real UPF PFCP node
(fivecore.nf.upf.pfcp_server.PfcpNode) with no sockets: what the SMF sends is fed to the UPF,
its answers back to the SMF, as UDP would. An SMF that restarts with its sessions asks the UPF
to retain them and gets PSREI; the UPF keeps a restarted SMF's sessions for a grace period
waiting for that; a UPF with nothing to retain answers without PSREI and the SMF sets its
sessions up again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.smf.context import SmContext
from fivecore.nf.smf.pfcp import (
    N4,
    UpfPeer,
    activate_downlink,
    parse_establishment_response,
    session_establishment,
)
from fivecore.nf.upf import procedures as P
from fivecore.nf.upf.context import Session, UpfContext
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.wire import pfcp
from fivecore.wire.pfcp import CpPfcpEntityIp, Ies, NodeId, PfcpMessage

SMF_IP, UPF_IP = "127.0.0.4", "127.0.0.7"
UPF = (UPF_IP, 8805)
SMF = (SMF_IP, 8805)


# --- the IEs ----------------------------------------------------------------------------------


def _setup_request(*ips: CpPfcpEntityIp) -> PfcpMessage:
    return PfcpMessage.build("AssociationSetupRequest", seq=9, node_id=NodeId.ipv4(SMF_IP),
                             recovery_time_stamp=3_900_000_000, cp_function_features=pfcp.Flags(0, 1),
                             pfcp_session_retention_information=Ies(cp_pfcp_entity_ip_address=list(ips)))


def test_retention_information_round_trips_byte_exact() -> None:
    req = _setup_request(CpPfcpEntityIp(SMF_IP), CpPfcpEntityIp("10.0.0.1", "2001:db8::4"),
                         CpPfcpEntityIp(ipv6="::1"))
    data = pfcp.encode(req)
    back = pfcp.decode(data)
    info = back.ies.get("pfcp_session_retention_information")
    assert [ip for ip in info.all("cp_pfcp_entity_ip_address")] == [
        CpPfcpEntityIp(SMF_IP), CpPfcpEntityIp("10.0.0.1", "2001:db8::4"), CpPfcpEntityIp(None, "::1")]
    assert pfcp.encode(back) == data
    # type 185, length 5: flags V4 (bit 2) then the address (TS 29.244 Table 8.1.2-1)
    assert bytes.fromhex("00b90005027f000004") in data


def test_psrei_flag_round_trips() -> None:
    rsp = PfcpMessage.build("AssociationSetupResponse", seq=9, node_id=NodeId.ipv4(UPF_IP), cause=1,
                            recovery_time_stamp=5, pfcpasrsp_flags=pfcp.Flags(pfcp.ASRSP_PSREI, 1))
    data = pfcp.encode(rsp)
    assert bytes.fromhex("00b8000101") in data
    assert int(pfcp.decode(data).ies.get("pfcpasrsp_flags")) & pfcp.ASRSP_PSREI


@pytest.mark.parametrize("bad", [b"", b"\x00", b"\x02\x7f\x00\x00", b"\x01" + b"\x00" * 15,
                                 b"\x03" + b"\x00" * 19, b"\x02" + b"\x00" * 5])
def test_malformed_cp_entity_address_is_a_decode_error(bad: bytes) -> None:
    ie = (185).to_bytes(2, "big") + len(bad).to_bytes(2, "big") + bad
    body = (183).to_bytes(2, "big") + len(ie).to_bytes(2, "big") + ie
    head = pfcp.encode(PfcpMessage.build("AssociationSetupRequest", seq=1, node_id=NodeId.ipv4(SMF_IP),
                                         recovery_time_stamp=1))
    data = bytearray(head + body)
    data[2:4] = (len(data) - 4).to_bytes(2, "big")
    with pytest.raises(pfcp.DecodeError):
        pfcp.decode(bytes(data))
    with pytest.raises(pfcp.EncodeError):
        pfcp.encode(PfcpMessage.build("AssociationSetupRequest", seq=1, node_id=NodeId.ipv4(SMF_IP),
                                      recovery_time_stamp=1,
                                      pfcp_session_retention_information=Ies(
                                          cp_pfcp_entity_ip_address=CpPfcpEntityIp())))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=40), st.sampled_from([183, 184, 185]), st.booleans())
def test_fuzzed_retention_ies_decode_or_raise_decode_error(raw: bytes, ie_type: int, nest: bool) -> None:
    ie = ie_type.to_bytes(2, "big") + len(raw).to_bytes(2, "big") + raw
    if nest:
        ie = (183).to_bytes(2, "big") + len(ie).to_bytes(2, "big") + ie
    head = pfcp.encode(PfcpMessage.build("AssociationSetupRequest", seq=1, node_id=NodeId.ipv4(SMF_IP),
                                         recovery_time_stamp=1))
    data = bytearray(head + ie)
    data[2:4] = (len(data) - 4).to_bytes(2, "big")
    try:
        msg = pfcp.decode(bytes(data))
    except pfcp.DecodeError:
        return
    assert pfcp.decode(pfcp.encode(msg)) == msg  # what decodes re-encodes to the same meaning


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_fuzzed_association_setup_never_escapes_the_upf(tail: bytes) -> None:
    """Whatever follows the mandatory IEs, the UPF answers or drops; it never raises."""
    node = PfcpNode(UpfContext("10.200.1.1"), UPF_IP, recovery_ts=5, now=0.0, cp_restart_grace=10)
    head = pfcp.encode(PfcpMessage.build("AssociationSetupRequest", seq=1, node_id=NodeId.ipv4(SMF_IP),
                                         recovery_time_stamp=1))
    data = bytearray(head + tail)
    data[2:4] = (len(data) - 4).to_bytes(2, "big")
    for d, _ in node.datagram_received(bytes(data), SMF, 0.1):
        pfcp.decode(d)


# --- the UPF's procedure --------------------------------------------------------------------


def _ctx_with_sessions() -> UpfContext:
    ctx = UpfContext("10.200.1.1")
    P.associate(ctx, SMF_IP, 1000, SMF, 0.0)
    for seid, cp in ((1, SMF_IP), (2, SMF_IP), (3, "127.0.0.40")):
        ctx.add_session(Session(seid, seid * 10, cp, SMF_IP))
    return ctx


def test_a_new_stamp_drops_the_sessions_without_retention() -> None:
    ctx = _ctx_with_sessions()
    assert len(P.associate(ctx, SMF_IP, 2000, SMF, 1.0)) == 3 and not ctx.sessions


def test_retention_keeps_the_sessions_of_the_named_cp_addresses() -> None:
    ctx = _ctx_with_sessions()
    dropped = P.associate(ctx, SMF_IP, 2000, SMF, 1.0, retain=[SMF_IP])
    assert [s.seid for s in dropped] == [3]
    assert set(ctx.sessions) == {1, 2} and ctx.associations[SMF_IP].sessions == {1, 2}
    assert ctx.associations[SMF_IP].recovery_ts == 2000


def test_retention_naming_no_address_keeps_every_session_of_the_node() -> None:
    ctx = _ctx_with_sessions()
    assert P.associate(ctx, SMF_IP, 2000, SMF, 1.0, retain=[]) == []
    assert set(ctx.sessions) == {1, 2, 3}


# --- SMF N4 <-> UPF PFCP node, no sockets ---------------------------------------------------


class Wire:
    """UDP between one SMF N4 endpoint and one UPF PFCP node, delivered on the event loop."""

    def __init__(self, node: PfcpNode) -> None:
        self.node = node
        self.now = 0.0
        self.n4: N4 | None = None

    def attach(self, n4: N4) -> N4:
        self.n4 = n4
        n4.transport = self  # type: ignore[assignment]
        n4._loop = asyncio.get_running_loop()
        return n4

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.now += 0.01
        self.deliver(self.node.datagram_received(data, SMF, self.now))

    def deliver(self, out: list[tuple[bytes, tuple[str, int]]]) -> None:
        loop = asyncio.get_running_loop()
        for d, _ in out:
            assert self.n4 is not None
            loop.call_soon(self.n4.datagram_received, d, UPF)

    def close(self) -> None:
        pass


def _n4(ts: int) -> N4:
    n4 = N4(SMF_IP, 8805, [], t1=3600.0, n1=1)
    n4.recovery_ts = ts
    return n4


def _session() -> SmContext:
    sm = SmContext("ref1", "imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.ue_ipv4, sm.local_seid, sm.pool = "10.45.0.2", 77, "internet"
    return sm


async def _established(wire: Wire) -> tuple[N4, SmContext]:
    n4 = wire.attach(_n4(1000))
    await n4.associate(UpfPeer(UPF_IP))
    sm = _session()
    sm.upf = n4.peers[0] if n4.peers else UpfPeer(UPF_IP)
    rsp = await n4.request(sm.upf, session_establishment(sm, seq=0, node_id=SMF_IP, cp_ip=SMF_IP))
    sm.upf_seid, sm.ul_teid, sm.ul_ip = parse_establishment_response(rsp)
    return n4, sm


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def _heartbeat_answered(wire: Wire, at: float, ts: int) -> None:
    """The UPF heartbeats the SMF at ``at``; the (restarted) SMF answers with stamp ``ts``."""
    hbs = [pfcp.decode(d) for d, _ in wire.node.poll(at)]
    hb = next(m for m in hbs if m.msg_type == "HeartbeatRequest")
    rsp = PfcpMessage.build("HeartbeatResponse", seq=hb.seq, recovery_time_stamp=ts)
    wire.node.datagram_received(pfcp.encode(rsp), SMF, at + 0.01)


def test_a_restarted_smf_gets_its_sessions_retained() -> None:
    async def go() -> None:
        ctx = UpfContext("10.200.1.1")
        wire = Wire(PfcpNode(ctx, UPF_IP, recovery_ts=5, heartbeat_interval=10, now=0.0, cp_restart_grace=30))
        _old, sm = await _established(wire)
        # the SMF restarts: new Recovery Time Stamp; the UPF's heartbeat notices it first
        _heartbeat_answered(wire, 11.0, 2000)
        assert sm.upf_seid in ctx.sessions  # waiting for the SMF (cp_restart_grace)
        n4 = wire.attach(_n4(2000))
        peer = UpfPeer(UPF_IP, retain_sessions=True)
        not_retained: list[Any] = []

        async def lost(p: UpfPeer) -> None:
            not_retained.append(p)

        n4.on_not_retained = lost
        wire.now = 12.0
        await n4.associate(peer)
        await _settle()
        sent = pfcp.decode(pfcp.encode(n4.association_setup(UpfPeer(UPF_IP, retain_sessions=True))))
        assert sent.ies.get("pfcp_session_retention_information").cp_pfcp_entity_ip_address == CpPfcpEntityIp(SMF_IP)
        assert n4.stats.get("sessions_retained") == 1 and not not_retained and not peer.retain_sessions
        assert ctx.metrics.pfcp_sessions_retained == 1
        assert ctx.sessions[sm.upf_seid].cp_seid == 77 and sm.ul_teid in ctx.ul_by_teid
        assert wire.node.poll(60.0) is not None and sm.upf_seid in ctx.sessions  # grace over: kept
        # the restarted SMF goes on with the session it kept: downlink to the gNB (Service Request)
        sm.dl_teid, sm.dl_ip = 0x99, "10.200.9.9"
        sm.upf = peer
        rsp = await n4.request(peer, activate_downlink(sm, seq=0))
        assert rsp.cause == pfcp.CAUSE_ACCEPTED

    asyncio.run(go())


def test_sessions_of_a_restarted_smf_go_when_no_retention_comes() -> None:
    async def go() -> None:
        ctx = UpfContext("10.200.1.1")
        wire = Wire(PfcpNode(ctx, UPF_IP, recovery_ts=5, heartbeat_interval=10, now=0.0, cp_restart_grace=30))
        await _established(wire)
        _heartbeat_answered(wire, 11.0, 2000)
        wire.node.poll(40.0)
        assert ctx.sessions  # 29 s after: still waiting
        wire.node.poll(41.1)
        assert not ctx.sessions and not ctx.associations

    asyncio.run(go())


def test_a_restarted_smf_without_retention_loses_its_sessions() -> None:
    async def go() -> None:
        ctx = UpfContext("10.200.1.1")
        wire = Wire(PfcpNode(ctx, UPF_IP, recovery_ts=5, now=0.0, cp_restart_grace=30))
        await _established(wire)
        n4 = wire.attach(_n4(2000))
        await n4.associate(UpfPeer(UPF_IP))  # smf.persist: false
        assert not ctx.sessions and "sessions_retained" not in n4.stats

    asyncio.run(go())


def test_a_upf_with_nothing_to_retain_answers_without_psrei() -> None:
    async def go() -> None:
        ctx = UpfContext("10.200.1.1")
        wire = Wire(PfcpNode(ctx, UPF_IP, recovery_ts=5, now=0.0, cp_restart_grace=30))
        await _established(wire)
        # the UPF restarted as well: a fresh node, no association, no sessions
        ctx2 = UpfContext("10.200.1.1")
        wire2 = Wire(PfcpNode(ctx2, UPF_IP, recovery_ts=6, now=0.0, cp_restart_grace=30))
        n4 = wire2.attach(_n4(2000))
        peer = UpfPeer(UPF_IP, retain_sessions=True)
        lost: list[UpfPeer] = []

        async def on_lost(p: UpfPeer) -> None:
            lost.append(p)

        n4.on_not_retained = on_lost
        await n4.associate(peer)
        await _settle()
        assert lost == [peer] and n4.stats.get("sessions_not_retained") == 1
        assert peer.associated and not peer.retain_sessions

    asyncio.run(go())


# --- a UPF the NRF reported deregistered (fivecore.nf.smf.upf_nrf) --------------------------


def test_a_withdrawn_upf_is_dropped_from_n4_once_its_last_session_is_gone() -> None:
    """It keeps its association and heartbeats while a session lives on it, and is then
    removed from the peer list instead of being associated again every interval."""

    async def go() -> None:
        ctx = UpfContext("10.200.1.1")
        wire = Wire(PfcpNode(ctx, UPF_IP, recovery_ts=5, now=0.0))
        peer = UpfPeer(UPF_IP)
        n4 = wire.attach(N4(SMF_IP, 8805, [peer], heartbeat_interval=0.001, t1=5.0, n1=1))
        sessions = {id(peer): 1}
        n4.has_sessions = lambda p: sessions.get(id(p), 0) > 0
        task = asyncio.ensure_future(n4._peer_loop(peer))
        n4._tasks.append(task)
        while n4.stats.get("associations", 0) < 1:
            await asyncio.sleep(0.001)
        peer.withdrawn = True  # NF_DEREGISTERED: selected for nothing new
        peer.dnns, peer.slices = (), ()
        while ctx.associations[SMF_IP].last_heard < 0.05:  # heartbeats go on: a session is there
            await asyncio.sleep(0.001)
        assert peer in n4.peers and not task.done()
        sessions[id(peer)] = 0  # the last session released
        await asyncio.wait_for(task, 30)
        assert n4.peers == [] and n4.stats["upfs_retired"] == 1 and not peer.associated
        assert task not in n4._tasks

    asyncio.run(go())


def test_a_restarted_smf_sets_up_again_what_a_restarted_upf_did_not_retain(tmp_path: Any) -> None:
    """The real SmfApp restarts on its file; the UPF (fivecore.nf.upf.pfcp_server.PfcpNode,
    fed what N4 sends, no sockets) restarted too and has nothing: no PSREI, so the SMF
    re-creates the N4 session with the same UE address and uplink F-TEID (TS 23.527 §4)."""
    from fivecore.config import load_config
    from fivecore.nf.smf.app import SmfApp
    from fivecore.nf.smf.context import SmState
    from fivecore.nf.upf.context import ipv4_to_int

    n3 = "127.0.0.7"
    cfg = load_config({"db_uri": f"sqlite:///{tmp_path}/subscribers.db",
                       "smf": {"nrf_uri": None, "persist_file": str(tmp_path / "smf.db")}})
    first = SmfApp(cfg)
    assert first.persistence is not None and first.persistence.open() == 0
    sm = first.ctx.new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.pool, sm.ue_ipv4 = "internet", first.service.pool_for("internet", False).allocate()
    sm.upf, sm.upf_seid, sm.ul_teid, sm.ul_ip = first.peers[0], 0x1234, 0xA1, n3
    sm.state = SmState.ACTIVE  # CM-IDLE: no gNB tunnel
    first.ctx.touch(sm)
    first.persistence.close()

    async def go() -> None:
        app = SmfApp(cfg)
        assert app.instance_id == first.instance_id  # kept in the file
        assert app.persistence is not None and app.persistence.open() == 1
        peer = app.peers[0]
        assert peer.retain_sessions and app.ctx.by_ref[sm.ref].upf is peer
        upf = UpfContext(n3)
        wire = Wire(PfcpNode(upf, n3, recovery_ts=6, now=0.0))
        wire.attach(app.n4)
        await app.n4.associate(peer)
        for _ in range(200):
            if app.ctx.stats.get("restored"):
                break
            await asyncio.sleep(0)
        back = app.ctx.by_ref[sm.ref]
        assert app.n4.stats["sessions_not_retained"] == 1 and app.ctx.stats["restored"] == 1
        assert back.upf_seid in upf.sessions and back.ul_teid == sm.ul_teid
        assert upf.ul_by_teid[sm.ul_teid].ue_ip == ipv4_to_int(sm.ue_ipv4)
        assert sm.ref in (app.ctx.dirty or ())  # the UPF's new SEID goes to disk
        app.persistence.close()

    asyncio.run(go())
