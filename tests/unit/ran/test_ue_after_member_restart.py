"""A simulated gNB with an AMF Set, one of whose members restarted and forgot its UEs.

The UE side of TS 24.501 §5.6.1.5 / §5.5.1.3.5 cause #9 ("UE identity cannot be derived by the
network"): 5GMM-DEREGISTERED, 5G-GUTI and NAS security context deleted, PDU sessions released
locally, then a new initial registration with the SUCI -- started by the simulator itself. And
the gNB node's user plane: one N3 address and TEID space for the sessions of UEs on any AMF's
association, and losing one AMF's association drops only the tunnels of that AMF's UEs.
No sockets: the endpoints' associations stay closed (what they send is counted as dropped,
which tells which AMF it went to), and the network's messages are the AMF's own encodings.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.amf import nas_io as amf_nas
from fivecore.ran import nas_io
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.gnb import Gnb, RanUe
from fivecore.ran.nas_io import Guti
from fivecore.ran.ue import UeState
from fivecore.ran.userplane import EV_RELEASED, GnbUserPlane, Tunnel, UeSession, UeSm, UserPlane
from fivecore.wire import nas, ngap
from fivecore.wire.ngap import NgapPdu

UE = {"supi": "imsi-001010000000001", "key": "465B5CE8B199B49FAA5F0A2EE238A6BC",
      "op": "E8ED289DEBA952E4283B54E88E6183CA", "opType": "OPC", "protectionScheme": 0}
REGION, SET = 2, 1


def _sim(n_ues: int = 4) -> RanSim:
    amfs = [{"address": f"127.0.{10 * m}.5", "port": 38412} for m in range(2)]
    sim = RanSim(load_ran_config({"gnb": {"amfs": amfs}, "ue": UE}), n_gnbs=1, n_ues=n_ues)
    for p, g in enumerate(sim.gnbs):
        g.reconnect = False
        rsp = NgapPdu.for_message("NGSetupResponse", {
            "AMFName": f"amf-{p}", "ServedGUAMIList": ngap.served_guami_list([("00101", REGION, SET, p)]),
            "RelativeAMFCapacity": 255, "PLMNSupportList": ngap.plmn_support_list([("00101", [(1, None)])])})
        g._learn_amf(ngap.decode(ngap.encode(rsp)))
        g.ready = True
    return sim


def _registered(ru: RanUe, pointer: int, tmsi: int) -> None:
    """What a completed registration leaves in the UE: a 5G-GUTI of AMF ``pointer`` and a
    native NAS security context (NEA2 / NIA2)."""
    ue = ru.ue
    ue.kamf = os.urandom(32)
    ue.ngksi = 1
    ue.sec = nas_io.new_security_context(ue.kamf, 1, 2, 2)
    ue.guti = Guti.guti("00101", REGION, SET, pointer, tmsi)
    ue.state = UeState.REGISTERED


def _active_session(sm: UeSm, psi: int = 1) -> None:
    """A PDU session as the UE holds it after the Establishment Accept."""
    s = UeSession(psi, "internet", (1, None), "ACTIVE", 5, 1, "10.45.0.9")
    sm.sessions[psi] = s


def _downlink(link: Gnb, ru: RanUe, amf_id: int, nas_pdu: bytes) -> None:
    link.on_ngap(ngap.encode(NgapPdu("DownlinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ru.ran_id, "NAS-PDU": nas_pdu})))


def _release(link: Gnb, ru: RanUe, amf_id: int) -> None:
    link.on_ngap(ngap.encode(NgapPdu("UEContextRelease", "initiating", {
        "UE-NGAP-IDs": ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": amf_id, "rAN-UE-NGAP-ID": ru.ran_id}),
        "Cause": ngap.cause("nas", "normal-release")})))


def test_service_reject_9_makes_the_ue_deregistered_without_guti_and_sessions() -> None:
    """TS 24.501 §5.6.1.5 #9 on the UE alone (sans-I/O)."""
    sim = _sim(1)
    ru = sim.ues[0]
    _registered(ru, 1, 0x77)
    events: list[tuple[str, int, int | None]] = []
    ru.ue.sm = UeSm(lambda ev, s: events.append((ev, s.psi, s.cause)))
    _active_session(ru.ue.sm, 1)
    _active_session(ru.ue.sm, 2)
    ru.ue.service_request(1, frozenset({1, 2}))
    assert ru.ue.state == UeState.SERVICE_REQUEST_INITIATED
    # the AMF sends the reject unprotected: it has no security context for the UE
    assert ru.ue.on_downlink(amf_nas.service_reject(9)) == []
    ue = ru.ue
    assert ue.state == UeState.DEREGISTERED and ue.last_cause == 9
    assert ue.guti is None and ue.sec is None and ue.kamf is None and ue.ngksi == 7
    assert ue.reregister is True
    assert ue.sm.sessions == {} and events == [(EV_RELEASED, 1, 9), (EV_RELEASED, 2, 9)]
    assert ue.sm.to_restore == [(1, "internet", (1, None)), (2, "internet", (1, None))]
    # a cause that does not mean "context lost" leaves the UE registered and its sessions up
    other = _sim(1).ues[0]
    _registered(other, 0, 0x78)
    other.ue.sm = UeSm()
    _active_session(other.ue.sm)
    other.ue.service_request()
    other.ue.on_downlink(amf_nas.service_reject(28))
    assert other.ue.state == UeState.REGISTERED and other.ue.guti is not None
    assert not other.ue.reregister and 1 in other.ue.sm.sessions


def test_registration_reject_9_after_a_guti_registration_owes_a_new_one_not_after_a_suci() -> None:
    """TS 24.501 §5.5.1.3.5 #9 for a mobility / periodic registration with the 5G-GUTI; the same
    cause for a registration that already used the SUCI does not start another (no loop)."""
    sim = _sim(2)
    with_guti, with_suci = sim.ues
    _registered(with_guti, 1, 0x99)
    with_guti.ue.sm = UeSm()
    _active_session(with_guti.ue.sm)
    with_guti.ue.register(reg_type=2)
    with_guti.ue.on_downlink(amf_nas.registration_reject(9))
    assert with_guti.ue.state == UeState.DEREGISTERED and with_guti.ue.guti is None
    assert with_guti.ue.reregister and with_guti.ue.sm.to_restore == [(1, "internet", (1, None))]
    with_suci.ue.register()
    with_suci.ue.on_downlink(amf_nas.registration_reject(9))
    assert with_suci.ue.state == UeState.DEREGISTERED and not with_suci.ue.reregister


async def test_restarted_member_rejects_service_request_and_the_ue_registers_again() -> None:
    """Through the gNB node: the Service Request (5G-S-TMSI) goes to member 1, whose AMF Pointer
    the GUTI carries; its Service Reject #9 and the connection release come back; the simulator
    then starts an initial registration with the SUCI, with follow-on request (the UE wants its
    session back), on an AMF NAS node selection picks. ``service_request`` returns that
    registration's outcome (here it times out: nothing answers in a unit test)."""
    sim = _sim(4)
    sim.reregister_timeout = 0.3
    link0, link1 = sim.gnbs
    ru = sim.ues[0]
    _registered(ru, 1, 0x1234)
    ru.ue.sm = UeSm()
    _active_session(ru.ue.sm)
    sent_before = (link0.stats.ngap_tx_dropped, link1.stats.ngap_tx_dropped)

    task = asyncio.create_task(sim.service_request(ru, timeout=5))
    await asyncio.sleep(0)
    assert ru.gnb is link1 and ru.ran_id in link1.connected, "the GUTI's AMF (pointer 1) carries it"
    assert link1.stats.ngap_tx_dropped == sent_before[1] + 1
    _downlink(link1, ru, 42, amf_nas.service_reject(9))
    assert ru.ue.state == UeState.DEREGISTERED and ru.ue.guti is None
    assert ru.ue.sm.to_restore == [(1, "internet", (1, None))]
    assert not ru.ue.reregister, "the simulator took the new registration on"
    assert sim.stats["reregistrations"] == 1
    await asyncio.sleep(0.05)
    # the new registration waits for the AMF to release the rejected connection (RRC idle)
    assert ru.ue.state == UeState.DEREGISTERED
    _release(link1, ru, 42)
    assert ru.ran_id is None or ru.ue.state == UeState.REGISTERED_INITIATED
    for _ in range(100):
        if ru.ue.state == UeState.REGISTERED_INITIATED:
            break
        await asyncio.sleep(0.01)
    assert ru.ue.state == UeState.REGISTERED_INITIATED
    # an initial registration (type 1) with the SUCI and the follow-on request bit
    req = nas.decode(ru.ue.full_request)
    assert req.registration_type.value == 1 and req.registration_type.follow_on
    assert req.mobile_identity.type == "suci"
    assert ru.ue.suci_scheme_sent == 0
    state = await asyncio.wait_for(task, 5)
    assert state == UeState.REGISTERED_INITIATED  # no AMF in a unit test: the registration timed out
    assert sim.stats["reregistration_failed"] == 1 and not sim._reregistering


def _setup_request(link: Gnb, ru: RanUe, amf_id: int, psi: int, upf_teid: int) -> bytes:
    transfer = ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", {
        "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": 10**8,
                                              "pDUSessionAggregateMaximumBitRateUL": 10**8},
        "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel("127.0.0.7", upf_teid), "PDUSessionType": "ipv4",
        "QosFlowSetupRequestList": [{"qosFlowIdentifier": 1, "qosFlowLevelQosParameters": {
            "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": 9}),
            "allocationAndRetentionPriority": {"priorityLevelARP": 8,
                                               "pre-emptionCapability": "shall-not-trigger-pre-emption",
                                               "pre-emptionVulnerability": "not-pre-emptable"}}}]})
    return ngap.encode(NgapPdu("PDUSessionResourceSetup", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ru.ran_id,
        "PDUSessionResourceSetupListSUReq": [{"pDUSessionID": psi, "s-NSSAI": ngap.s_nssai(1),
                                              "pDUSessionResourceSetupRequestTransfer": transfer}]}))


def test_node_user_plane_serves_every_amf_and_loses_only_the_lost_amfs_tunnels() -> None:
    """One GnbUserPlane for the node: PDU Session Resource Setup on either AMF's association
    makes a tunnel in one TEID space with the node's N3 address, answered on that association
    (TS 38.413 §8.2.1.2); N2 to member 1 lost: member 1's UEs lose their tunnels, member 0's
    keep theirs; the UE's user plane is found from either endpoint."""
    sim = _sim(4)
    node = sim.nodes[0]
    link0, link1 = node.links
    up = GnbUserPlane(node, "127.0.0.99")
    assert up.links == [link0, link1] and all(g.ics_sessions == up.setup_items for g in node.links)
    owners = [link0, link1, link0, link1]
    for k, (ru, link) in enumerate(zip(sim.ues, owners, strict=True)):
        link.rrc_connect(ru)
        ru.amf_id = 100 + k
        tx = link.stats.ngap_tx_dropped
        link.on_ngap(_setup_request(link, ru, ru.amf_id, 1, 0x500 + k))
        assert link.stats.ngap_tx_dropped == tx + 1, "the response goes back on the same association"
    assert len(up.tunnels) == 4 and len({t.dl_teid for t in up.tunnels.values()}) == 4
    assert {t.upf for t in up.tunnels.values()} == {("127.0.0.7", 2152)}
    assert sorted(t.ul_teid for t in up.tunnels.values()) == [0x500, 0x501, 0x502, 0x503]
    # the DL TEID the node hands out carries its one N3 address (TS 38.413 §9.3.4.2)
    t = up.by_session[(id(sim.ues[1]), 1)]
    rsp = ngap.decode_ie("PDUSessionResourceSetupResponseTransfer", up._response_transfer(t.dl_teid, [1]))
    tnl = rsp["dLQosFlowPerTNLInformation"]["uPTransportLayerInformation"]
    assert ngap.gtp_tunnel_from(tnl) == ("127.0.0.99", t.dl_teid)

    plane = UserPlane(use_namespace=False)
    plane.gnbs.append(up)
    assert plane._gnb_up(sim.ues[0]) is up and plane._gnb_up(sim.ues[1]) is up

    down: list[Tunnel] = []
    up.on_tunnel_down = down.append
    link1._association_lost()
    assert sorted(id(t.ru) for t in down) == sorted(id(r) for r in (sim.ues[1], sim.ues[3]))
    assert set(up.by_session) == {(id(sim.ues[0]), 1), (id(sim.ues[2]), 1)}
    assert up.stats["tunnels_dropped_on_n2_loss"] == 2
    # a UE Context Release on member 0 drops that UE's tunnel only
    _release(link0, sim.ues[0], 100)
    assert set(up.by_session) == {(id(sim.ues[2]), 1)}


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 2))
def test_node_user_plane_survives_a_malformed_setup_transfer(junk: bytes, which: int) -> None:
    """Bad input is normal input: a garbled transfer fails that session (TS 38.413 §8.2.1.2,
    PDU Session Resource Failed to Setup) and never raises out of the gNB."""
    sim = _sim(1)
    node = sim.nodes[0]
    up = GnbUserPlane(node, "127.0.0.99")
    link = node.links[which % 2]
    ru = sim.ues[0]
    link.rrc_connect(ru)
    ru.amf_id = 7
    pdu = ngap.encode(NgapPdu("PDUSessionResourceSetup", "initiating", {
        "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": ru.ran_id,
        "PDUSessionResourceSetupListSUReq": [{"pDUSessionID": 1, "s-NSSAI": ngap.s_nssai(1),
                                              "pDUSessionResourceSetupRequestTransfer": junk}]}))
    link.on_ngap(pdu)
    assert len(up.tunnels) <= 1
    # and a Setup for a RAN UE NGAP ID the other association owns is not this one's UE
    other: Any = node.links[1 - which % 2]
    other.on_ngap(_setup_request(other, ru, 7, 2, 1))
    assert (id(ru), 2) not in up.by_session


# --- against the real AMF (Gmm + NGAP handler), sans-I/O -----------------------------------------


def _home_network() -> Any:
    """tests/unit/amf/homenet.py: real 5G-AKA for the AMF's SBI calls (the UDM/AUSF side)."""
    import importlib
    import sys
    from pathlib import Path

    here = str(Path(__file__).resolve().parents[1] / "amf")
    if here not in sys.path:
        sys.path.insert(0, here)
    return importlib.import_module("homenet").HomeNetwork


class _Member:
    """One AMF of the set: the AMF's own Gmm and NGAP handler; ``restart`` is a new process
    (same configuration, same AMF Pointer, no UE contexts)."""

    def __init__(self, pointer: int, hn: Any) -> None:
        self.pointer = pointer
        self.hn = hn
        self.restart()

    def restart(self) -> None:
        from fivecore.nf.amf.gmm import Gmm, GmmConfig
        from fivecore.nf.amf.ngap_handler import AmfNgap, NgapConfig

        self.gmm = Gmm(GmmConfig(pointer=self.pointer, region_id=REGION, set_id=SET))
        self.ngap = AmfNgap(NgapConfig(pointer=self.pointer, region_id=REGION, set_id=SET), self.gmm)
        self.assoc = self.ngap.association_up(1, "sim", 16)
        #: SUPI -> PSIs this AMF holds SM contexts for (what its session relay would know);
        #: a restart forgets them with everything else
        self.sessions: dict[str, frozenset[int]] = {}
        self.gmm.session_psis = lambda ue: self.sessions.get(ue.supi or "", frozenset())


class _Wire:
    """The simulator's gNB node (RanSim, two endpoints) and two AMFs back to back: what an
    endpoint sends goes to its AMF, the AMF's NGAP and SBI actions are carried out, every PDU
    crossing the real NGAP / NAS codecs and NAS security. A task pumps the queue each turn."""

    def __init__(self, n_ues: int) -> None:
        from fivecore.security import suci

        priv, pub = suci.generate_hn_keypair(1)
        from fivecore.nf.amf.gmm import GmmConfig

        hn = _home_network()(GmmConfig().serving_network_name, {1: priv})
        ue = {**UE, "protectionScheme": 1, "homeNetworkPublicKey": pub.hex(), "homeNetworkPublicKeyId": 1}
        amfs = [{"address": f"127.0.{10 * m}.5", "port": 38412} for m in range(2)]
        self.sim = RanSim(load_ran_config({"gnb": {"amfs": amfs}, "ue": ue}), n_gnbs=1, n_ues=n_ues)
        for ru in self.sim.ues:
            hn.add(ru.ue.supi, bytes.fromhex(UE["key"]), bytes.fromhex(UE["op"]))
        self.members = [_Member(0, hn), _Member(1, hn)]
        self.queue: list[tuple[int, str, Any]] = []
        for m, link in enumerate(self.sim.gnbs):
            link.reconnect = False
            link.send = lambda data, stream, m=m: self.queue.append((m, "ul", data))  # type: ignore[method-assign]
        self.setup_all()

    def setup_all(self) -> None:
        for m, link in enumerate(self.sim.gnbs):
            self.ng_setup(m, link)

    def ng_setup(self, m: int, link: Gnb) -> None:
        """TS 38.413 §8.7.1 on the (new) association; the response teaches the gNB the GUAMI."""
        link._setup_fut = asyncio.get_running_loop().create_future()
        link.send(link.ng_setup_request(), 0)
        self.pump()
        rsp = link._setup_fut.result()
        assert rsp.kind == "successful"
        link._learn_amf(rsp)
        link.ready = True
        assert link.amf_served_guamis[0][3] == m

    def pump(self) -> None:
        from fivecore.nf.amf.gmm import SbiCall
        from fivecore.nf.amf.ngap_handler import NgapSend

        while self.queue:
            m, kind, item = self.queue.pop(0)
            amf = self.members[m]
            if kind == "ul":
                outs = amf.ngap.on_message(amf.assoc, 1, item)
            elif kind == "dl":
                self.sim.gnbs[m].on_ngap(item)
                continue
            else:
                res = amf.hn.handle(item.op, item.args)
                if item.op == "udm_deregister":
                    continue
                outs = amf.ngap.translate(amf.gmm.sbi_result(item.ue, item.token, item.op, res))
            for o in outs:
                if isinstance(o, NgapSend):
                    self.queue.append((m, "dl", o.data))
                elif isinstance(o, SbiCall):
                    self.queue.append((m, "sbi", o))

    async def pumping(self) -> None:
        while True:
            self.pump()
            await asyncio.sleep(0.001)


async def _idle(w: _Wire, ru: RanUe) -> None:
    """gNB-requested release (TS 38.413 §8.3.2): the UE goes to CM-IDLE."""
    if ru.ran_id is not None:
        w.sim.serving(ru).release_request(ru)
    for _ in range(200):
        if ru.ran_id is None:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the AMF did not release the UE")


async def _registered_over_both(n: int) -> tuple[_Wire, asyncio.Task[None], dict[int, list[RanUe]]]:
    w = _Wire(n)
    pump = asyncio.create_task(w.pumping())
    by: dict[int, list[RanUe]] = {0: [], 1: []}
    for ru in w.sim.ues:
        assert await w.sim.register(ru, timeout=10) == UeState.REGISTERED, ru.ue.last_cause
        by[ru.ue.guti.amf_pointer].append(ru)
        await _idle(w, ru)
    assert len(by[0]) == len(by[1]) == n // 2
    return w, pump, by


def _restart_member_1(w: _Wire) -> None:
    """Member 1 dies (N2 lost) and comes back empty; the gNB runs NG Setup with it again."""
    link1 = w.sim.gnbs[1]
    link1._association_lost()
    w.members[1].restart()
    w.ng_setup(1, link1)


async def test_real_amf_restarted_member_service_reject_9_then_new_registration() -> None:
    """The restarted AMF answers the UE's Service Request with its own Service Reject #9; the
    UE releases its session locally and the simulator registers it again (SUCI, 5G-AKA, NAS
    security) -- a new 5G-GUTI; UEs of member 0 are served by it as before."""
    w, pump, by = await _registered_over_both(4)
    try:
        for ru in w.sim.ues:
            ru.ue.sm = UeSm()
            _active_session(ru.ue.sm)
            w.members[ru.ue.guti.amf_pointer].sessions[ru.ue.supi] = frozenset({1})
        _restart_member_1(w)
        for ru in by[1]:
            old = ru.ue.guti.guti_string()
            assert await w.sim.service_request(ru, timeout=10) == UeState.REGISTERED
            assert ru.ue.guti is not None and ru.ue.guti.guti_string() != old
            assert ru.ue.sm.sessions == {} and ru.ue.sm.to_restore == [(1, "internet", (1, None))]
            assert ru.ue.sec is not None and ru.kgnb_ok
        assert w.sim.stats["service_reject"] == len(by[1])
        assert w.sim.stats["reregistered"] == len(by[1]) and "reregistration_failed" not in w.sim.stats
        for ru in by[0]:
            guti = ru.ue.guti.guti_string()
            assert await w.sim.service_request(ru, timeout=10) == UeState.REGISTERED
            assert ru.ue.guti.guti_string() == guti and ru.gnb is w.sim.gnbs[0]
            assert 1 in ru.ue.sm.sessions and ru.ue.sm.to_restore == []
        assert w.sim.stats["service_reject"] == len(by[1])
    finally:
        pump.cancel()
        await w.sim.stop()


async def test_real_amf_restarted_member_mobility_registration_runs_identity() -> None:
    """A mobility registration with the 5G-GUTI to the restarted AMF: it cannot resolve the
    GUTI and asks for the SUCI (TS 24.501 §5.5.1.2.2 / §5.4.3), then authenticates and
    accepts. The UE learns so that the network lost it: its sessions are released locally and
    kept for the application to ask for again (``to_restore``)."""
    w, pump, by = await _registered_over_both(2)
    try:
        ru = by[1][0]
        ru.ue.sm = UeSm()
        _active_session(ru.ue.sm)
        w.members[1].sessions[ru.ue.supi] = frozenset({1})
        _restart_member_1(w)
        assert await w.sim.register(ru, timeout=10, reg_type=2) == UeState.REGISTERED, ru.ue.last_cause
        assert ru.ue.sm.sessions == {} and ru.ue.sm.to_restore == [(1, "internet", (1, None))]
        assert w.sim.stats["network_lost_context"] == 1 and not ru.ue.identity_asked
        assert "reregistrations" not in w.sim.stats, "no reject: the registration itself recovered"
        # the other member's UE re-registers (mobility) without an identity procedure
        other = by[0][0]
        other.ue.sm = UeSm()
        _active_session(other.ue.sm)
        w.members[0].sessions[other.ue.supi] = frozenset({1})
        assert await w.sim.register(other, timeout=10, reg_type=2) == UeState.REGISTERED
        assert 1 in other.ue.sm.sessions and w.sim.stats["network_lost_context"] == 1
    finally:
        pump.cancel()
        await w.sim.stop()


def test_service_accept_naming_a_session_inactive_has_the_ue_ask_for_it_again() -> None:
    """TS 24.501 §5.6.1.4.1: a Service Accept whose PDU session status shows a session inactive
    (an AMF that kept the UE across a restart, beside an SMF that lost its sessions) releases it
    locally; the simulated UE's always-on application asks for it again (``to_restore``), the
    session the network still has stays."""
    sim = _sim(1)
    ru = sim.ues[0]
    _registered(ru, 1, 0x79)
    kamf = ru.ue.kamf
    events: list[tuple[str, int]] = []
    ru.ue.sm = UeSm(lambda ev, s: events.append((ev, s.psi)))
    _active_session(ru.ue.sm, 1)
    _active_session(ru.ue.sm, 2)
    ru.ue.service_request(1, frozenset({1, 2}))
    amf_ctx = amf_nas.new_security_context(kamf, 1, 2, 2)  # the AMF's side of the same context
    assert ru.ue.on_downlink(amf_nas.protect(amf_ctx, amf_nas.service_accept(frozenset({2})))) == []
    ue = ru.ue
    assert ue.state == UeState.REGISTERED and ue.guti is not None and ue.sec is not None
    assert set(ue.sm.sessions) == {2} and events == [(EV_RELEASED, 1)]
    assert ue.sm.to_restore == [(1, "internet", (1, None))]
