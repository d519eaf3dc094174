"""AMF procedures beyond registration, sans-I/O: UE Context Modification (TS 38.413 §8.3.4), AMF
and RAN Configuration Update (§8.7.2-8.7.3), reaping half-registered UE contexts and the AMF-wide
context cap (#22 + T3346), and the initial NAS message container (TS 24.501 §4.4.6).

The AMF's NGAP handler and the simulator's gNB (with its UEs) are wired back to back through
plain calls: every PDU crosses the real NGAP and NAS codecs and NAS security, the home network
does real 5G-AKA (homenet.py). ``mute`` makes the gNB a hostile one that never answers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import pytest
from homenet import make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.amf.context import GmmState
from fivecore.nf.amf.gmm import SbiCall, SendIcs, SetTimer, StopTimer
from fivecore.nf.amf.ngap_handler import AmfNgap, NgapConfig, NgapSend
from fivecore.ran import nas_io as ue_nas
from fivecore.ran.gnb import Gnb, GnbConfig, RanUe
from fivecore.ran.ue import UeState
from fivecore.wire import ngap
from fivecore.wire.nas import codec
from fivecore.wire.ngap import NgapPdu


class Wire:
    """One AMF (Gmm + AmfNgap) and one simulated gNB with ``n`` UEs, connected by a queue."""

    def __init__(self, n: int = 1, gmm_kw: dict[str, Any] | None = None, schemes: tuple[int, ...] = (1,),
                 **ngap_kw: Any) -> None:
        loop, ues = make(n, gmm_kw=gmm_kw, schemes=schemes)
        self.hn = loop.hn
        self.gmm = loop.gmm
        self.amf = AmfNgap(NgapConfig(**ngap_kw), self.gmm)
        self.g = self.amf.association_up(1, "sim", 16)
        self.gnb = Gnb(GnbConfig())
        self.gnb.send = self._uplink  # type: ignore[method-assign]
        self.queue: deque[tuple[str, Any]] = deque()
        self.timers: dict[tuple[int, str], tuple[Any, int]] = {}
        self.to_gnb: list[NgapPdu] = []
        self.to_amf: list[NgapPdu] = []
        self.mute = False
        self.rus = [RanUe(u, self.gnb) for u in ues]
        self.gnb.send(self.gnb.ng_setup_request(), 0)
        self.pump()
        self.gnb.ready = True

    def _uplink(self, data: bytes, stream: int) -> None:
        self.queue.append(("ul", data))

    def pump(self) -> None:
        while self.queue:
            kind, item = self.queue.popleft()
            if kind == "ul":
                self.to_amf.append(ngap.decode(item))
                self.execute(self.amf.on_message(self.g, 1, item))
            elif kind == "dl":
                self.to_gnb.append(ngap.decode(item))
                if not self.mute:
                    self.gnb.on_ngap(item)
            else:
                res = self.hn.handle(item.op, item.args)
                if item.op != "udm_deregister":
                    self.execute(self.amf.translate(self.gmm.sbi_result(item.ue, item.token, item.op, res)))

    def execute(self, outs: list[Any]) -> None:
        for o in outs:
            if isinstance(o, NgapSend):
                self.queue.append(("dl", o.data))
            elif isinstance(o, SbiCall):
                self.queue.append(("sbi", o))
            elif isinstance(o, SetTimer):
                self.timers[(o.ue.amf_ue_ngap_id, o.name)] = (o.ue, o.token)
            elif isinstance(o, StopTimer):
                self.timers.pop((o.ue.amf_ue_ngap_id, o.name), None)

    def run(self, outs: list[Any]) -> None:
        self.execute(outs)
        self.pump()

    def fire_all(self) -> None:
        for (_, name), (ue, token) in list(self.timers.items()):
            del self.timers[(ue.amf_ue_ngap_id, name)]
            self.run(self.amf.translate(self.gmm.timer_expired(ue, name, token)))

    def sweep(self) -> None:
        self.run(self.amf.translate(self.gmm.sweep()))

    def register(self, ru: RanUe, follow_on: bool = False) -> Any:
        self.gnb.register(ru, follow_on=follow_on)
        self.pump()
        return self.gmm.ctx.by_supi.get(ru.ue.supi)

    def sent(self, procedure: str, kind: str = "initiating") -> list[NgapPdu]:
        return [p for p in self.to_gnb if (p.procedure, p.kind) == (procedure, kind)]

    def got(self, procedure: str, kind: str = "initiating") -> list[NgapPdu]:
        return [p for p in self.to_amf if (p.procedure, p.kind) == (procedure, kind)]


def plain_of(pdu: bytes) -> Any:
    m = codec.decode(pdu)
    return m.plain() if m.message_type == "SecurityProtected" else m


# --- UE Context Modification (TS 38.413 §8.3.4) -------------------------------------------------


def test_ue_context_modification_key_ambr_rfsp_applied_by_the_gnb() -> None:
    w = Wire()
    ru = w.rus[0]
    amf_ue = w.register(ru, follow_on=True)
    assert ru.ue.state == UeState.REGISTERED and ru.ran_id is not None
    w.run(w.amf.ue_context_modification(amf_ue, security_key=True, ue_ambr=(100_000_000, 200_000_000), rfsp=7))
    (req,) = w.sent("UEContextModification")
    assert ngap.ue_security_capabilities_from(req["UESecurityCapabilities"])["nia"] == [1, 2, 3]
    assert req["SecurityKey"][0].to_bytes(32, "big") == ru.ue.kgnb()
    (rsp,) = w.got("UEContextModification", "successful")
    assert rsp["AMF-UE-NGAP-ID"] == amf_ue.amf_ue_ngap_id
    assert ru.ue_ambr == (100_000_000, 200_000_000) and ru.rfsp == 7 and ru.kgnb_ok
    assert amf_ue.ue_ambr == (100_000_000, 200_000_000)
    assert w.gmm.ctx.stats["ue_context_modification_response"] == 1
    assert not w.amf._ucm_pending


def test_ue_context_modification_failure_on_key_mismatch_releases_the_ue() -> None:
    w = Wire()
    ru = w.rus[0]
    amf_ue = w.register(ru, follow_on=True)
    ru.ue.last_ul_count += 1  # the UE derives another KgNB: the gNB must refuse the key
    w.run(w.amf.ue_context_modification(amf_ue, security_key=True))
    (fail,) = w.got("UEContextModification", "unsuccessful")
    assert fail["Cause"] == ("radioNetwork", "unspecified")
    assert w.gmm.ctx.stats["ue_context_modification_failure"] == 1
    assert w.sent("UEContextRelease"), "mismatched AS keys: the NG connection is released"
    assert ru.ran_id is None and not amf_ue.cm_connected
    assert amf_ue.state == GmmState.REGISTERED, "the UE stays registered (CM-IDLE)"


def test_ue_context_modification_failure_without_key_keeps_the_connection() -> None:
    w = Wire()
    ru = w.rus[0]
    amf_ue = w.register(ru, follow_on=True)
    w.execute(w.amf.ue_context_modification(amf_ue, ue_ambr=(1, 2)))
    w.queue.clear()  # lost on the way; the gNB answers Failure on its own
    fail = ngap.encode(NgapPdu("UEContextModification", "unsuccessful", {
        "AMF-UE-NGAP-ID": amf_ue.amf_ue_ngap_id, "RAN-UE-NGAP-ID": ru.ran_id,
        "Cause": ngap.cause("radioNetwork", "unspecified")}))
    assert w.amf.on_message(w.g, 1, fail) == []
    assert amf_ue.cm_connected and w.gmm.ctx.stats["ue_context_modification_failure"] == 1


def test_ue_context_modification_needs_a_connection_and_something_to_change() -> None:
    w = Wire()
    amf_ue = w.register(w.rus[0])  # released after registration: CM-IDLE
    assert w.amf.ue_context_modification(amf_ue, security_key=True) == []
    w2 = Wire()
    amf_ue2 = w2.register(w2.rus[0], follow_on=True)
    assert w2.amf.ue_context_modification(amf_ue2) == []
    with pytest.raises(ValueError):
        w2.amf.ue_context_modification(amf_ue2, rfsp=0)
    # an answer naming another UE gets an Error Indication, as every UE-associated message
    bogus = ngap.encode(NgapPdu("UEContextModification", "successful", {
        "AMF-UE-NGAP-ID": amf_ue2.amf_ue_ngap_id + 1, "RAN-UE-NGAP-ID": 99}))
    (ei,) = [ngap.decode(o.data) for o in w2.amf.on_message(w2.g, 1, bogus)]
    assert ei.procedure == "ErrorIndication" and ei["Cause"] == ("radioNetwork", "unknown-local-UE-NGAP-ID")


# --- AMF and RAN Configuration Update (TS 38.413 §8.7.2, §8.7.3) ----------------------------------


def test_amf_configuration_update_reaches_the_gnb_and_next_ng_setup() -> None:
    w = Wire()
    w.run(w.amf.amf_configuration_update(amf_name="amf-two", relative_capacity=40,
                                         extra_guamis=[("00101", 3, 1, 1)], slices=[(1, None), (2, 5)]))
    (upd,) = w.sent("AMFConfigurationUpdate")
    assert upd["AMFName"] == "amf-two" and upd["RelativeAMFCapacity"] == 40
    assert w.got("AMFConfigurationUpdate", "successful")
    assert w.gmm.ctx.stats["amf_configuration_update_ack"] == 1
    gnb = w.gnb
    assert gnb.amf_name == "amf-two" and gnb.amf_relative_capacity == 40
    assert gnb.amf_served_guamis == (("00101", 2, 1, 0), ("00101", 3, 1, 1))
    assert gnb.amf_plmn_support == (("00101", ((1, None), (2, 5))),)
    assert w.gmm.cfg.slices == ((1, None), (2, 5)), "5GMM allows what the RAN is told"
    # a gNB that sets up afterwards hears the same
    g2 = w.amf.association_up(2, "late")
    # (the same gNB ID on a second association: the first one is aborted as stale, too)
    (rsp,) = [ngap.decode(o.data) for o in w.amf.on_message(g2, 0, w.gnb.ng_setup_request()) if isinstance(o, NgapSend)]
    assert rsp["AMFName"] == "amf-two" and len(rsp["ServedGUAMIList"]) == 2
    with pytest.raises(ValueError):
        w.amf.amf_configuration_update()
    with pytest.raises(ValueError):
        w.amf.amf_configuration_update(relative_capacity=256)


def test_amf_configuration_update_refused_by_a_gnb_of_another_plmn() -> None:
    w = Wire()
    w.gnb.cfg.mcc = "999"
    w.run(w.amf.amf_configuration_update(slices=[(1, None)]))
    (fail,) = w.got("AMFConfigurationUpdate", "unsuccessful")
    assert fail["Cause"] == ("misc", "unknown-PLMN-or-SNPN") and fail["TimeToWait"] == "v10s"
    assert w.gmm.ctx.stats["amf_configuration_update_failure"] == 1
    assert w.gnb.amf_plmn_support == ()


def ran_update(**ies: Any) -> bytes:
    return ngap.encode(NgapPdu("RANConfigurationUpdate", "initiating", ies))


def test_ran_configuration_update_ack_and_failures() -> None:
    w = Wire()
    g = w.g
    before = list(g.supported_tas)
    (ack,) = [ngap.decode(o.data) for o in w.amf.on_message(g, 0, ran_update(
        RANNodeName="renamed", DefaultPagingDRX="v64",
        SupportedTAList=ngap.supported_ta_list([(1, "00101", [(1, None)]), (7, "00101", [(1, None)])])))]
    assert (ack.procedure, ack.kind) == ("RANConfigurationUpdate", "successful")
    assert g.name == "renamed" and g.paging_drx == "v64"
    assert [t[0] for t in g.supported_tas] == [1, 7] and g.supported_tas[0][2] == [(1, None)]
    now = list(g.supported_tas)
    assert now != before
    for bad in (
        ran_update(SupportedTAList=ngap.supported_ta_list([(1, "99999", [(1, None)])])),
        ran_update(SupportedTAList=ngap.supported_ta_list([(9, "00101", [(1, None)])])),
        ran_update(GlobalRANNodeID=ngap.global_gnb_id("00101", 77)),
    ):
        (fail,) = [ngap.decode(o.data) for o in w.amf.on_message(g, 0, bad)]
        assert (fail.procedure, fail.kind) == ("RANConfigurationUpdate", "unsuccessful")
        assert fail["TimeToWait"] == "v10s"
        assert g.supported_tas == now, "a refused update changes nothing"
    assert w.gmm.ctx.stats["ran_configuration_update_failure"] == 3


async def test_gnb_ran_configuration_update_keeps_old_values_on_failure() -> None:
    w = Wire()
    gnb = w.gnb
    task = asyncio.create_task(gnb.ran_configuration_update(name="new-name", tac=1))
    await asyncio.sleep(0)
    w.pump()
    ans = await task
    assert ans.kind == "successful" and gnb.cfg.name == "new-name" and w.g.name == "new-name"
    task = asyncio.create_task(gnb.ran_configuration_update(tac=42))
    await asyncio.sleep(0)
    w.pump()
    ans = await task
    assert ans.kind == "unsuccessful" and gnb.cfg.tac == 1


# --- reaping half-registered contexts, the AMF-wide cap ------------------------------------------


def test_context_silent_after_initial_ue_message_is_reaped_by_the_sweep() -> None:
    w = Wire(2, gmm_kw={"ue_setup_timeout": 1.0})
    ctx = w.gmm.ctx
    done = w.register(w.rus[0])
    assert done.state == GmmState.REGISTERED and not ctx.embryonic
    w.mute = True
    w.gnb.register(w.rus[1])
    w.pump()
    (amf_id,) = ctx.embryonic
    half = ctx.ues[amf_id]
    assert half.proc is not None and half.proc.name == "auth"
    for _ in range(4):
        w.sweep()
        assert amf_id in ctx.ues, "not before ue_setup_timeout"
    w.sweep()
    assert amf_id not in ctx.ues and not ctx.embryonic and not w.g.ues
    assert ctx.stats["ue_reaped_sweep"] == 1 and ctx.stats["ue_reaped"] == 1
    assert not [k for k in w.timers if k[0] == amf_id], "its T3560 is stopped"
    (rel,) = [p for p in w.sent("UEContextRelease") if p["UE-NGAP-IDs"][1]["aMF-UE-NGAP-ID"] == amf_id]
    assert rel["Cause"] == ("nas", "unspecified")
    assert ctx.ues[done.amf_ue_ngap_id] is done, "registered UEs are never reaped"
    # a late Release Complete for the reaped context is taken quietly
    w.mute = False
    w.gnb.on_ngap(ngap.encode(rel))
    n_ei = len(w.sent("ErrorIndication"))
    w.pump()
    assert len(w.sent("ErrorIndication")) == n_ei


def test_retransmissions_run_out_context_removed_at_once() -> None:
    w = Wire()
    ctx = w.gmm.ctx
    w.mute = True
    w.gnb.register(w.rus[0])
    w.pump()
    for _ in range(5):
        w.fire_all()
    assert not ctx.ues and not ctx.embryonic and not ctx.by_tmsi and not w.timers
    assert ctx.stats["t3560_expiry"] == 5 and ctx.stats["ue_reaped_timer"] == 1
    assert len(w.sent("DownlinkNASTransport")) == 5, "first transmission and four retransmissions"
    assert w.sent("UEContextRelease")


def _lose_registration_complete(w: Wire) -> None:
    orig = w.gnb.uplink_nas
    w.gnb.uplink_nas = (  # type: ignore[method-assign]
        lambda ru, pdu: None if ru.ue.state == UeState.REGISTERED else orig(ru, pdu))


def test_unanswered_registration_accept_leaves_the_ue_registered_with_the_new_guti() -> None:
    """TS 24.501 §5.5.1.2.8 c: on the fifth T3550 expiry the initial registration is aborted
    and the AMF enters 5GMM-REGISTERED; the UE, which took the Accept, is served with its GUTI."""
    w = Wire()
    ctx = w.gmm.ctx
    ru = w.rus[0]
    _lose_registration_complete(w)
    w.gnb.register(ru)
    w.pump()
    (amf_ue,) = ctx.ues.values()
    assert amf_ue.proc.name == "registration_accept" and len(ctx.by_tmsi) == 1
    for _ in range(5):
        w.fire_all()
    assert amf_ue.state == GmmState.REGISTERED and amf_ue.proc is None
    assert amf_ue.tmsi == ru.ue.guti.tmsi and ctx.by_tmsi == {amf_ue.tmsi: amf_ue}
    assert not ctx.embryonic and not ctx.old_tmsi and ctx.stats["registration_accept_aborted"] == 1
    assert ru.ran_id is None, "the NG connection was released"
    w.gnb.uplink_nas = Gnb.uplink_nas.__get__(w.gnb)  # type: ignore[method-assign]
    w.gnb.service_request(ru)
    w.pump()
    assert ctx.stats["service_request"] == 1 and ru.ue.state == UeState.REGISTERED


def test_unanswered_mobility_registration_keeps_both_gutis_until_the_new_one_is_heard() -> None:
    """TS 24.501 §5.5.1.2.8 c: the old and the new 5G-GUTI both stay valid (paging names both)
    until the AMF hears the UE with the new one."""
    w = Wire()
    ctx = w.gmm.ctx
    ru = w.rus[0]
    amf_ue = w.register(ru)
    old = amf_ue.tmsi
    _lose_registration_complete(w)
    w.gnb.register(ru, reg_type=2)  # mobility registration update with the 5G-GUTI
    w.pump()
    for _ in range(5):
        w.fire_all()
    new = ru.ue.guti.tmsi
    assert new != old and amf_ue.tmsi == new and ctx.old_tmsi == {amf_ue.amf_ue_ngap_id: old}
    assert ctx.by_tmsi == {old: amf_ue, new: amf_ue}
    n = len(w.sent("Paging"))
    w.run(w.amf.translate(w.gmm.page(amf_ue, then=("deregister", None, False))))
    paged = [p["UEPagingIdentity"][1]["fiveG-TMSI"] for p in w.sent("Paging")[n:]]
    assert sorted(int.from_bytes(t, "big") for t in paged) == sorted((old, new))
    w.gnb.uplink_nas = Gnb.uplink_nas.__get__(w.gnb)  # type: ignore[method-assign]
    w.gnb.service_request(ru)  # with the new 5G-S-TMSI
    w.pump()
    assert not ctx.old_tmsi and old not in ctx.by_tmsi and ctx.by_tmsi[new] is amf_ue


def test_ue_context_cap_rejects_new_ues_with_congestion_and_t3346() -> None:
    w = Wire(5, gmm_kw={"max_ue_contexts": 2, "t3346": 90})
    ctx = w.gmm.ctx
    a = w.register(w.rus[0], follow_on=True)
    w.mute = True
    w.gnb.register(w.rus[1])  # half-registered, silent
    w.pump()
    assert len(ctx.ues) == 2
    w.mute = False
    ru = w.rus[2]
    w.gnb.register(ru)
    w.pump()
    assert len(ctx.ues) == 2, "no context for the UE past the cap"
    assert ru.ue.state == UeState.DEREGISTERED and ru.ue.last_cause == 22 and ru.ue.t3346 == 120
    assert ctx.stats["registration_reject_22"] == 1 and ctx.stats["ue_context_limit"] == 1
    rel = w.sent("UEContextRelease")[-1]
    assert ru.ran_id is None, "the gNB released the RRC connection"
    n_ei = len(w.sent("ErrorIndication"))
    assert w.got("UEContextRelease", "successful")[-1]["AMF-UE-NGAP-ID"] == rel["UE-NGAP-IDs"][1]["aMF-UE-NGAP-ID"]
    assert len(w.sent("ErrorIndication")) == n_ei, "its Release Complete was expected"
    # anything else past the cap: Error Indication, nothing stored
    w.execute(w.amf.on_message(w.g, 1, ngap.encode(NgapPdu("InitialUEMessage", "initiating", {
        "RAN-UE-NGAP-ID": 999, "NAS-PDU": b"\x7e\x00\xff",
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 1), "RRCEstablishmentCause": "mo-Signalling"}))))
    w.pump()
    assert w.sent("ErrorIndication")[-1]["Cause"] == ("misc", "control-processing-overload")
    assert len(ctx.ues) == 2
    # a UE the AMF knows is not held back: the registered one still gets service
    w.gnb.release_request(w.rus[0])
    w.pump()
    assert not a.cm_connected
    w.gnb.service_request(w.rus[0])
    w.pump()
    assert w.rus[0].ue.state == UeState.REGISTERED and a.cm_connected
    assert ctx.stats.get("service_reject", 0) == 0


def test_service_request_past_the_cap_gets_service_reject_22() -> None:
    w = Wire(2, gmm_kw={"max_ue_contexts": 1})
    w.register(w.rus[0])
    other = Wire(1)  # a UE with a context this AMF cannot verify
    other.register(other.rus[0])
    ru = RanUe(other.rus[0].ue, w.gnb)
    w.gnb.service_request(ru)
    w.pump()
    assert ru.ue.last_cause == 22 and ru.ue.t3346 == 60
    assert w.gmm.ctx.stats["service_reject"] == 1 and len(w.gmm.ctx.ues) == 1


def test_hostile_flood_of_initial_ue_messages_stays_bounded() -> None:
    """Thousands of Initial UE Messages that are never answered: the AMF holds at most the cap,
    and after one timeout of sweeps nothing is left (contexts, timers, 5G-TMSIs)."""
    cap = 200
    w = Wire(1, gmm_kw={"max_ue_contexts": cap, "ue_setup_timeout": 1.0})
    ctx = w.gmm.ctx
    w.mute = True
    rng_nas = [
        ue_nas.registration_request(1, False, 7, ue_nas.Guti.guti("00101", 2, 1, 0, 0x1000 + i), (1, 2), (1, 2))
        for i in range(8)
    ] + [b"\x7e\x00\x41garbage", b"\x7e\x00\x4c\x00"]
    peak = 0
    for i in range(3000):
        w.execute(w.amf.on_message(w.g, 1, ngap.encode(NgapPdu("InitialUEMessage", "initiating", {
            "RAN-UE-NGAP-ID": i, "NAS-PDU": rng_nas[i % len(rng_nas)],
            "UserLocationInformation": ngap.user_location_nr("00101", 1, 1),
            "RRCEstablishmentCause": "mo-Signalling"}))))
        w.pump()
        peak = max(peak, len(ctx.ues))
        if i % 500 == 499:
            w.sweep()
    assert peak <= cap
    assert ctx.stats["ue_context_limit"] > 2000
    for _ in range(6):
        w.sweep()
    assert not ctx.ues and not ctx.embryonic and not w.g.ues and not ctx.by_tmsi
    assert not w.timers
    assert len(ctx.recently_released) <= 16384
    assert ctx.stats["ue_reaped"] >= cap


def test_sweep_reaps_in_batches_oldest_first() -> None:
    w = Wire(1, gmm_kw={"ue_setup_timeout": 1.0})
    gmm, ctx = w.gmm, w.gmm.ctx
    old = [ctx.new_ue(w.g, i) for i in range(25)]
    for _ in range(2):
        gmm.sweep()
    young = [ctx.new_ue(w.g, 100 + i) for i in range(5)]
    for _ in range(2):
        assert gmm.sweep() == [] and not gmm.reap_pending
    acts = gmm.sweep(limit=10)
    assert gmm.reap_pending and len([a for a in acts if type(a).__name__ == "ReleaseUe"]) == 10
    assert [u.amf_ue_ngap_id in ctx.ues for u in old[:10]] == [False] * 10
    while gmm.reap_pending:
        gmm.reap_due(limit=10)
    assert not any(u.amf_ue_ngap_id in ctx.ues for u in old)
    assert all(u.amf_ue_ngap_id in ctx.ues for u in young), "not due yet"
    assert ctx.stats["ue_reaped_sweep"] == 25


# --- initial NAS message protection (TS 24.501 §4.4.6) ----------------------------------------------


@pytest.mark.parametrize("nea", [0, 2])
def test_reregistration_sends_cleartext_ies_and_the_whole_message_in_the_container(nea: int) -> None:
    w = Wire(gmm_kw={"ciphering_order": (nea,)})
    ru = w.rus[0]
    amf_ue = w.register(ru)
    w.hn.calls.clear()
    again = w.register(ru)
    assert again is amf_ue and ru.ue.state == UeState.REGISTERED
    assert w.hn.calls == ["udm_register"], "verified: no new authentication"
    init = w.got("InitialUEMessage")[-1]["NAS-PDU"]
    assert init[1] == 0x01, "integrity protected, not ciphered"
    outer = plain_of(init)
    assert outer.ies.get("requested_nssai") is None, "non-cleartext IEs only inside"
    container = outer.ies["nas_message_container"]
    if nea:
        assert container != ru.ue.full_request and b"\x7e\x00\x41" not in container[:3]
    assert w.gmm.ctx.stats["initial_nas_container"] == 1


def test_container_of_another_message_type_gets_5gmm_status() -> None:
    w = Wire(gmm_kw={"ciphering_order": (2,)})
    ru = w.rus[0]
    w.register(ru)
    ue = ru.ue
    inner = ue_nas.deregistration_request(False, ue.ngksi, ue.guti)
    container = ue_nas.cipher_initial_container(ue.sec, ue.kamf, inner)
    p = ue.profile
    outer = ue_nas.registration_request(1, False, ue.ngksi, ue.guti, p.nea, p.nia, nas_message_container=container)
    w.gnb.initial_nas(ru, ue._protect(outer, 1))
    w.pump()
    assert ue.nas_status_received == 1 and ue.last_cause == 96


def test_service_request_non_cleartext_ies_ride_in_the_container() -> None:
    from fivecore.ran.userplane import UeSm

    w = Wire(gmm_kw={"ciphering_order": (2,)})
    ru = w.rus[0]
    amf_ue = w.register(ru)
    ru.ue.sm = UeSm()
    seen: list[SendIcs] = []
    w.amf.on_service_ics = lambda a: seen.append(a) or False
    w.gnb.service_request(ru, service_type=1, uplink_data=frozenset({5}))
    w.pump()
    outer = plain_of(w.got("InitialUEMessage")[-1]["NAS-PDU"])
    assert outer.ies.get("uplink_data_status") is None and outer.ies.get("nas_message_container")
    assert ru.ue.state == UeState.REGISTERED and amf_ue.cm_connected
    assert seen and seen[0].reactivate == frozenset({5})


def test_without_context_the_whole_message_follows_in_security_mode_complete() -> None:
    w = Wire(gmm_kw={"ciphering_order": (0,)})  # NEA0, so the test can read the uplink
    ru = w.rus[0]
    w.register(ru)
    first = plain_of(w.got("InitialUEMessage")[0]["NAS-PDU"])
    assert first.ies.get("requested_nssai") is None and first.ies.get("nas_message_container") is None
    smc = [p for p in w.got("UplinkNASTransport") if plain_of(p["NAS-PDU"]).message_type == "SecurityModeComplete"]
    (smc_complete,) = smc
    full = codec.decode(plain_of(smc_complete["NAS-PDU"]).ies["nas_message_container"])
    assert full.message_type == "RegistrationRequest" and full.ies["requested_nssai"]


def test_unverifiable_container_then_rinmr_brings_the_whole_message() -> None:
    """A UE with a context this AMF does not know (another AMF gave it): the container cannot be
    opened, so the AMF works from the cleartext IEs, authenticates, and asks with RINMR; the UE
    answers with the whole Registration Request in Security Mode Complete."""
    first = Wire(schemes=(0,))  # null-scheme SUCI: each Wire has its own home network keys
    ru0 = first.rus[0]
    first.register(ru0)
    ue = ru0.ue
    w = Wire(gmm_kw={"ciphering_order": (0,)}, schemes=(0,))
    ru = RanUe(ue, w.gnb)
    w.gnb.register(ru)
    w.pump()
    outer = plain_of(w.got("InitialUEMessage")[0]["NAS-PDU"])
    assert outer.ies.get("nas_message_container") is not None, "sent in the §4.4.6 a) form"
    assert ue.state == UeState.REGISTERED and w.gmm.ctx.stats["identity_procedure"] == 1
    assert "initial_nas_container" not in w.gmm.ctx.stats
    # the Identity Response went out integrity protected with the old context (no secure
    # exchange yet on this connection) and the AMF processed it all the same (§4.4.4.3)
    ident = w.got("UplinkNASTransport")[0]["NAS-PDU"]
    assert ident[1] == 0x01 and plain_of(ident).message_type == "IdentityResponse"
    assert w.gmm.ctx.stats.get("auth_resync", 0) == 1, "the second home network's SQN was behind"
    smc = [plain_of(p["NAS-PDU"]) for p in w.got("UplinkNASTransport")]
    (complete,) = [m for m in smc if m.message_type == "SecurityModeComplete"]
    full = codec.decode(complete.ies["nas_message_container"])
    assert full.message_type == "RegistrationRequest" and full.ies["requested_nssai"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=80))
def test_fuzz_container_of_a_verified_initial_message_never_raises(junk: bytes) -> None:
    w = _FUZZ_WIRE
    ru = w.rus[0]
    ue = ru.ue
    p = ue.profile
    outer = ue_nas.registration_request(1, False, ue.ngksi, ue.guti, p.nea, p.nia, nas_message_container=junk)
    w.gnb.initial_nas(ru, ue._protect(outer, 1))
    w.pump()
    amf_ue = w.gmm.ctx.by_supi[ue.supi]
    assert amf_ue.sec is not None


_FUZZ_WIRE = Wire(gmm_kw={"ciphering_order": (2,)})
_FUZZ_WIRE.register(_FUZZ_WIRE.rus[0])


@settings(max_examples=150, deadline=None)
@given(st.integers(0, (1 << 24) - 1), st.text(max_size=20), st.sampled_from(["00101", "99999", "00102"]))
def test_fuzz_ran_configuration_update_never_raises(tac: int, name: str, plmn: str) -> None:
    w = _FUZZ_WIRE
    try:
        data = ran_update(RANNodeName=name or "x", SupportedTAList=ngap.supported_ta_list([(tac, plmn, [(1, None)])]))
    except Exception:  # noqa: BLE001 - a name pycrate will not encode is not what is tested
        return
    (ans,) = [ngap.decode(o.data) for o in w.amf.on_message(w.g, 0, data)]
    assert ans.procedure in ("RANConfigurationUpdate", "ErrorIndication")
