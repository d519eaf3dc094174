"""Xn handover on the AMF: PATH SWITCH REQUEST (TS 38.413 §8.4.4, TS 23.502 §4.9.1.2.2,
TS 33.501 §6.9.2.3.3), sans-I/O: NGAP bytes into ``AmfNgap.on_message``, what the AMF sends
recorded. The SMF behind it is the real one (in-process binding), its N4 datagrams executed by
the UPF's sans-I/O PFCP node, so the whole path switch runs through real code."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from handoverkit import (
    GNB_A,
    GNB_B,
    GNB_C,
    REPO,
    SUPI,
    Net,
    annex_a10,
    kgnb_vector,
    only,
    request,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.amf.context import UeContext
from fivecore.nf.amf.handover import next_nh
from fivecore.security.nas_context import NasSecurityContext, Role
from fivecore.trust.decision import RestrictedProfile
from fivecore.wire import ngap


@pytest.fixture()
async def net() -> Net:
    return await Net().start()


async def test_path_switch_moves_ue_and_session_with_chained_nh(net: Net) -> None:
    ue: UeContext = net.ue
    amf_id = ue.amf_ue_ngap_id
    pdus = await net.path_switch(net.b, request(21, amf_id))
    ack = only(pdus, "successful")
    assert len(pdus) == 1, "the source gNB is sent nothing"
    assert ack["AMF-UE-NGAP-ID"] == amf_id and ack["RAN-UE-NGAP-ID"] == 21
    # TS 33.501 §6.9.2.3.3: the first path switch sends NCC 1, NH = KDF(KAMF, initial KgNB)
    nh1 = annex_a10(net.kamf, net.kgnb)
    sc = ack["SecurityContext"]
    assert sc["nextHopChainingCount"] == 1 and sc["nextHopNH"] == (int.from_bytes(nh1, "big"), 256)
    (item,) = ack["PDUSessionResourceSwitchedList"]
    tr = ngap.decode_ie("PathSwitchRequestAcknowledgeTransfer", item["pathSwitchRequestAcknowledgeTransfer"])
    sm = net.sms[0]
    assert item["pDUSessionID"] == 1 and ngap.gtp_tunnel_from(tr["uL-NGU-UP-TNLInformation"]) == (sm.ul_ip, sm.ul_teid)
    assert ack.get("UESecurityCapabilities") is None, "the capabilities matched"
    assert ack.get("PDUSessionResourceReleasedListPSAck") is None
    assert ack["AllowedNSSAI"] == [{"s-NSSAI": ngap.s_nssai(1)}]
    # the UE's NG connection is the target's; the source's association no longer has it
    assert ue.gnb is net.b and ue.ran_ue_ngap_id == 21 and net.b.ues[21] is ue and 7 not in net.a.ues
    assert ue.kgnb_sent and ue.cm_connected
    # the SMF moved the downlink; the UPF sends an End Marker to gNB A on the old tunnel
    assert (sm.dl_ip, sm.dl_teid) == (GNB_B, 0x2001)
    assert net.wire.node.take_end_markers() == [(0x1001, (GNB_A, 2152))]
    # the next uplink NAS from the source is refused: it no longer serves the UE
    stale = ngap.encode(ngap.NgapPdu("UplinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": 7, "NAS-PDU": b"\x7e\x00\x45",
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 0x10)}))
    err = ngap.decode(net.amf.ngap.on_message(net.a, 1, stale)[0].data)
    assert err.procedure == "ErrorIndication" and err["Cause"] == ("radioNetwork", "unknown-local-UE-NGAP-ID")

    # a second handover, B -> C: NCC 2, NH chained from the previous NH
    pdus = await net.path_switch(net.c, request(31, amf_id, ip=GNB_C, teid=0x3001))
    sc = only(pdus, "successful")["SecurityContext"]
    nh2 = annex_a10(net.kamf, nh1)
    assert sc["nextHopChainingCount"] == 2 and sc["nextHopNH"] == (int.from_bytes(nh2, "big"), 256)
    assert (ue.nh, ue.ncc) == (nh2, 2) and next_nh(net.kamf, nh1, 1) == (nh2, 2)
    assert net.wire.node.take_end_markers() == [(0x2001, (GNB_B, 2152))]
    assert net.amf.gmm.ctx.stats["path_switch_acknowledge"] == 2


def test_ncc_wraps_after_seven() -> None:
    kamf, kgnb = kgnb_vector()
    nh, ncc = kgnb, 6
    nh, ncc = next_nh(kamf, nh, ncc)
    assert ncc == 7
    assert next_nh(kamf, nh, ncc)[1] == 0


async def test_unknown_ue_gets_failure_with_cause(net: Net) -> None:
    pdus = await net.path_switch(net.b, request(21, net.ue.amf_ue_ngap_id + 1000))
    fail = only(pdus, "unsuccessful")
    (item,) = fail["PDUSessionResourceReleasedListPSFail"]
    cause = ngap.decode_ie("PathSwitchRequestUnsuccessfulTransfer", item["pathSwitchRequestUnsuccessfulTransfer"])
    assert cause["cause"] == ("radioNetwork", "unknown-local-UE-NGAP-ID")
    assert net.ue.gnb is net.a


async def test_hostile_gnb_cannot_take_a_ue_outside_its_tracking_areas(net: Net) -> None:
    """A gNB naming another gNB's UE: refused when the TAI it claims is outside the UE's
    registration area, or not one the gNB itself declared at NG Setup."""
    ue = net.ue
    for gnb, tac in ((net.c, 7), (net.b, 7)):  # 7: C declared it but it is not ours; B never declared it
        pdus = await net.path_switch(gnb, request(41, ue.amf_ue_ngap_id, tac=tac))
        item = only(pdus, "unsuccessful")["PDUSessionResourceReleasedListPSFail"][0]
        cause = ngap.decode_ie("PathSwitchRequestUnsuccessfulTransfer", item["pathSwitchRequestUnsuccessfulTransfer"])
        assert cause["cause"] == ("radioNetwork", "ho-target-not-allowed")
    net.amf.ngap.cfg.tacs = (1, 7)  # 7 now in the registration area, but B did not declare it
    pdus = await net.path_switch(net.b, request(41, ue.amf_ue_ngap_id, tac=7))
    only(pdus, "unsuccessful")
    # nothing moved: the UE, its tunnel and its keys stay with A
    assert ue.gnb is net.a and ue.ran_ue_ngap_id == 7 and ue.ncc == 0
    assert net.sms[0].dl_ip == GNB_A and net.wire.node.take_end_markers() == []
    assert net.amf.gmm.ctx.stats["path_switch_refused"] == 3


async def test_idle_or_own_ue_cannot_be_switched(net: Net) -> None:
    ue = net.ue
    pdus = await net.path_switch(net.a, request(8, ue.amf_ue_ngap_id, ip=GNB_A))
    only(pdus, "unsuccessful")
    net.amf.gmm.ctx.detach_ran(ue)  # CM-IDLE: no NG connection to switch
    pdus = await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id))
    item = only(pdus, "unsuccessful")["PDUSessionResourceReleasedListPSFail"][0]
    cause = ngap.decode_ie("PathSwitchRequestUnsuccessfulTransfer", item["pathSwitchRequestUnsuccessfulTransfer"])
    assert cause["cause"] == ("radioNetwork", "unknown-local-UE-NGAP-ID")


async def test_trust_profile_of_the_target(net: Net) -> None:
    """A restricted profile (fivecore.trust) that forbids NEA0 keeps a UE with unciphered NAS
    off the gNB; its UE cap is enforced; a change of vendor brings a fresh KgNB."""
    ue = net.ue
    profile = RestrictedProfile("lab", max_ues=None)
    net.amf.gmm.restrictions = lambda g: profile if g is net.b else None
    ue.sec = NasSecurityContext.from_kamf(Role.NETWORK, net.kamf, int_alg=2, enc_alg=0)
    only(await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id)), "unsuccessful")
    ue.sec = NasSecurityContext.from_kamf(Role.NETWORK, net.kamf, int_alg=2, enc_alg=2)
    capped = RestrictedProfile("lab", max_ues=0)
    net.amf.gmm.restrictions = lambda g: capped if g is net.b else None
    only(await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id)), "unsuccessful")
    assert ue.gnb is net.a
    # vendors differ and the profile asks for a key refresh: UE Context Modification follows
    net.amf.gmm.restrictions = lambda g: profile if g is net.b else None
    net.a.vendor, net.b.vendor = "vendor-a", "vendor-b"
    pdus = await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id))
    assert [(p.procedure, p.kind) for p in pdus] == [("PathSwitchRequest", "successful"),
                                                     ("UEContextModification", "initiating")]
    ucm = pdus[1]
    assert ucm["RAN-UE-NGAP-ID"] == 21 and "SecurityKey" in ucm
    # the fresh KgNB starts a new NH chain
    assert ue.ncc == 0 and ue.nh == ucm["SecurityKey"][0].to_bytes(32, "big")


async def test_capability_mismatch_sends_the_stored_ones(net: Net) -> None:
    """TS 38.413 §8.4.4.2 / TS 33.501 §6.7.3.1."""
    pdus = await net.path_switch(net.b, request(21, net.ue.amf_ue_ngap_id, nea=(1,), nia=(1,)))
    ack = only(pdus, "successful")
    assert ngap.ue_security_capabilities_from(ack["UESecurityCapabilities"])["nea"] == [1, 2, 3]
    assert net.amf.gmm.ctx.stats["path_switch_capabilities_mismatch"] == 1


async def test_sessions_the_smf_refuses_are_released_and_none_switched_is_failure() -> None:
    net = await Net().start(sessions=2)
    ue = net.ue
    # PSI 2 is refused (its UPF session is gone), PSI 3 is not a session of the UE
    net.wire.node.ctx.sessions.pop(net.sms[1].upf_seid)
    pdus = await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id, psis=(1, 2, 3)))
    ack = only(pdus, "successful")
    assert [i["pDUSessionID"] for i in ack["PDUSessionResourceSwitchedList"]] == [1]
    assert [i["pDUSessionID"] for i in ack["PDUSessionResourceReleasedListPSAck"]] == [2, 3]
    assert not net.amf.sessions.by_supi[SUPI][2].up_active
    # every session refused: PATH SWITCH REQUEST FAILURE, and the UE goes CM-IDLE
    for sm in net.sms:
        net.wire.node.ctx.sessions.pop(sm.upf_seid, None)
    pdus = await net.path_switch(net.c, request(31, ue.amf_ue_ngap_id, ip=GNB_C, psis=(1, 2)))
    only(pdus, "unsuccessful")
    assert ue.gnb is None and not ue.cm_connected


async def test_failed_to_setup_sessions_go_to_their_smf() -> None:
    net = await Net().start(sessions=2)
    pdus = await net.path_switch(net.b, request(21, net.ue.amf_ue_ngap_id, psis=(1,), failed=(2,)))
    ack = only(pdus, "successful")
    assert [i["pDUSessionID"] for i in ack["PDUSessionResourceSwitchedList"]] == [1]
    assert not net.sms[1].up_active and net.sms[1].dl_teid is None  # SMF deactivated its user plane
    assert not net.amf.sessions.by_supi[SUPI][2].up_active


async def test_trust_policy_decides_and_audits(tmp_path: Path) -> None:
    """The shipped example policy (examples/trust-policy.yaml): gNB 0x150 is Dragonfly's,
    admitted allow-restricted with the profile ``untrusted-ran`` (forbid NEA0, refresh keys
    on a change of vendor); gNB 0x10 is Tundra's (trusted). A UE with unciphered NAS is not
    moved to the restricted gNB, and the refusal is in the trust audit log (the UE by its
    pseudonym only); with ciphered NAS it moves, and the change of vendor brings a fresh KgNB."""
    pol = yaml.safe_load((REPO / "examples" / "trust-policy.yaml").read_text())
    audit = tmp_path / "trust-audit.jsonl"
    pol["trust"]["audit_log"] = {"path": str(audit), "fsync": False}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(pol))
    net = await Net().start(amf={"trust_policy": str(tmp_path / "policy.yaml"), "data_dir": str(tmp_path)},
                            ids=(0x10, 0x150, 0x11))
    ue = net.ue
    assert (net.a.vendor, net.b.vendor) == ("tundra", "dragonfly")
    ue.sec = NasSecurityContext.from_kamf(Role.NETWORK, net.kamf, int_alg=2, enc_alg=0)
    only(await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id)), "unsuccessful")
    recs = [json.loads(line) for line in audit.read_text().splitlines()]
    (refused,) = [r for r in recs if r.get("event") == "path-switch-refused"]
    # the same subject names as the NG Setup decisions, so the two can be joined
    assert {r["subject"] for r in recs if r.get("event") == "ng-setup"} >= {refused["subject"], refused["source"]}
    assert refused["subject"] == "gnb:00101:0x150/22" and refused["vendor"] == "dragonfly"
    assert refused["source"] == "gnb:00101:0x10/22" and "NEA0" in refused["reason"]
    assert refused["ue"].startswith("ue-") and SUPI not in audit.read_text()
    ue.sec = NasSecurityContext.from_kamf(Role.NETWORK, net.kamf, int_alg=2, enc_alg=2)
    pdus = await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id))
    assert [(p.procedure, p.kind) for p in pdus] == [("PathSwitchRequest", "successful"),
                                                     ("UEContextModification", "initiating")]
    # within one vendor no refresh: Dragonfly -> Tundra is a change again, Tundra -> Tundra is not
    pdus = await net.path_switch(net.c, request(31, ue.amf_ue_ngap_id, ip=GNB_C))
    assert [(p.procedure, p.kind) for p in pdus] == [("PathSwitchRequest", "successful")]


@pytest.fixture(scope="module")
def fuzz_net() -> Any:
    loop = asyncio.new_event_loop()
    n = loop.run_until_complete(Net().start())
    yield loop, n
    loop.close()


_GOOD = request(21, 1)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(
    st.binary(max_size=120),
    st.builds(lambda i, x: _GOOD[:i] + bytes([x]) + _GOOD[i + 1:], st.integers(0, len(_GOOD) - 1),
              st.integers(0, 255)),
    st.builds(lambda n: _GOOD[:n], st.integers(0, len(_GOOD)))))
def test_fuzzed_path_switch_requests_never_escape(fuzz_net: Any, data: bytes) -> None:
    """Bad input is normal input: a mangled PATH SWITCH REQUEST gets an answer or an Error
    Indication and never raises."""
    loop, n = fuzz_net

    async def feed() -> list[Any]:
        out = n.amf.ngap.on_message(n.b, 1, data)
        await asyncio.gather(*n.amf.handover._bg)
        return out

    for x in loop.run_until_complete(feed()):
        ngap.decode(x.data)


async def test_simulator_refuses_what_it_cannot_hand_over() -> None:
    """The simulator's control command (``fivecore ran ue handover``) answers with one error
    line for a UE without an NG connection or an unknown gNB; nothing goes on the wire."""
    from fivecore.ran.app import RanSim
    from fivecore.ran.config import load_ran_config

    sim = RanSim(load_ran_config(None), n_gnbs=2, n_ues=1)
    supi = sim.ues[0].ue.supi
    rsp = await sim.command({"cmd": "ue handover", "supi": supi, "gnb": 99})
    assert rsp["ok"] is False and "no gNB with id 99" in rsp["error"]
    rsp = await sim.command({"cmd": "ue handover", "supi": supi, "gnb": sim.nodes[1].cfg.gnb_id})
    assert rsp["ok"] is False and "CM-IDLE" in rsp["error"] and rsp["ue"]["gnb"] == sim.nodes[0].cfg.gnb_id
    assert all(g.stats.ngap_tx == 0 for g in sim.gnbs)
