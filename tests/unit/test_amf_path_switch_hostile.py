"""A hostile gNB must not steal a UE with a PATH SWITCH REQUEST (TS 38.413 §8.4.4,
TS 23.502 §4.9.1.2.2): unpredictable AMF UE NGAP IDs (TS 38.413 §9.3.3.1), the trust
policy's handover rule, and hijack detection when the gNB a UE left still speaks for it.

Sans-I/O as ``test_amf_path_switch``: NGAP bytes into ``AmfNgap.on_message``, a real SMF and
the UPF's PFCP node behind it (that module's ``Net``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from handoverkit import GNB_A, GNB_C, REPO, SUPI, Net, only, request

from fivecore.nf.amf.context import RECENTLY_RELEASED_MAX, AmfContext
from fivecore.nf.amf.handover import EVENT_PATH_SWITCH_HIJACK
from fivecore.nf.amf.ngap_handler import AMF_UE_NGAP_ID_MAX
from fivecore.security.nas_context import NasSecurityContext, Role
from fivecore.wire import ngap

# --- 1. AMF UE NGAP IDs ---------------------------------------------------------------------


def test_amf_ue_ngap_ids_are_not_predictable() -> None:
    """Consecutive allocations are independent uniform draws over 0..2^40-1: no ID follows
    from the one before (a gNB that sees its own UEs' IDs learns nothing of its neighbours')."""
    ctx = AmfContext()
    gnb = ctx.add_gnb(1, "gnb")
    ids = [ctx.new_ue(gnb, i).amf_ue_ngap_id for i in range(4096)]
    assert len(set(ids)) == len(ids) and all(0 <= i <= AMF_UE_NGAP_ID_MAX for i in ids)
    deltas = [b - a for a, b in zip(ids, ids[1:], strict=False)]
    # sequential or strided allocation: a handful of distinct small steps; random: every step
    # its own, and almost all of them huge (|delta| < 2^32 has probability ~2^-8 per pair)
    assert len(set(deltas)) == len(deltas)
    assert sum(abs(d) < (1 << 32) for d in deltas) < 64
    # all 40 bits are used: each bit is set in roughly half the IDs (binomial, n=4096: the
    # bound is > 9 standard deviations, so this fails only on a broken generator)
    for bit in range(40):
        ones = sum((i >> bit) & 1 for i in ids)
        assert 1748 < ones < 2348, (bit, ones)
    # no next-ID guess from the previous one (the old counter's +1) ever hits
    assert not any(b == a + 1 for a, b in zip(ids, ids[1:], strict=False))


def test_amf_ue_ngap_id_never_one_in_use_or_recently_released(monkeypatch: pytest.MonkeyPatch) -> None:
    """The redraw rule: a draw that is in use or awaits a late Release Complete is discarded."""
    from fivecore.nf.amf import context as amf_context

    ctx = AmfContext()
    gnb = ctx.add_gnb(1, "gnb")
    live = ctx.new_ue(gnb, 1).amf_ue_ngap_id
    ctx.remember_released(12345)
    draws = iter([live, 12345, live, 777])
    monkeypatch.setattr(amf_context, "_draw_amf_ue_ngap_id", lambda: next(draws))
    assert ctx.new_ue(gnb, 2).amf_ue_ngap_id == 777
    monkeypatch.undo()
    # a crowd: many live and recently released IDs, and fresh ones never collide with them
    released = set()
    for i in range(3, 3 + 2000):
        ue = ctx.new_ue(gnb, i)
        if i % 2:
            ctx.remove_ue(ue)
            ctx.remember_released(ue.amf_ue_ngap_id)
            released.add(ue.amf_ue_ngap_id)
    assert len(released) <= RECENTLY_RELEASED_MAX
    fresh = [ctx.next_amf_ue_ngap_id() for _ in range(2000)]
    assert not set(fresh) & (released | set(ctx.ues))


def _ue_associated(amf_id: int, ran_id: int) -> list[ngap.NgapPdu]:
    """UE-associated PDUs of the AMF's procedures, as the AMF or a gNB sends them."""
    pair = ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": amf_id, "rAN-UE-NGAP-ID": ran_id})
    ids = {"AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id}
    cause = ngap.cause("radioNetwork", "unspecified")
    uli = ngap.user_location_nr("00101", 1, 0x10)
    return [
        ngap.NgapPdu("DownlinkNASTransport", "initiating", {**ids, "NAS-PDU": b"\x7e\x00\x56"}),
        ngap.NgapPdu("UplinkNASTransport", "initiating", {**ids, "NAS-PDU": b"\x7e\x00\x45",
                                                          "UserLocationInformation": uli}),
        ngap.NgapPdu("UEContextReleaseRequest", "initiating", {**ids, "Cause": cause}),
        ngap.NgapPdu("UEContextRelease", "initiating", {"UE-NGAP-IDs": pair, "Cause": cause}),
        ngap.NgapPdu("UEContextRelease", "successful", dict(ids)),
        ngap.NgapPdu("UEContextModification", "successful", dict(ids)),
        ngap.NgapPdu("InitialContextSetup", "successful", dict(ids)),
        ngap.NgapPdu("ErrorIndication", "initiating", {**ids, "Cause": cause}),
        ngap.decode(request(ran_id, amf_id)),
        ngap.NgapPdu("PathSwitchRequest", "unsuccessful", {**ids, "PDUSessionResourceReleasedListPSFail": [
            {"pDUSessionID": 1, "pathSwitchRequestUnsuccessfulTransfer": ngap.encode_ie(
                "PathSwitchRequestUnsuccessfulTransfer", {"cause": cause})}]}),
    ]


@pytest.mark.parametrize("amf_id", [0, 0xFF, 0x100, 0xFFFF_FFFF, 0x1_0000_0000, AMF_UE_NGAP_ID_MAX])
def test_every_ue_associated_message_encodes_every_id_size(amf_id: int) -> None:
    """APER writes the INTEGER (0..2^40-1) in as many octets as the value needs (X.691
    §11.5.7.4): a random ID takes 5 octets where the old counter's took 3. Every UE-associated
    PDU must encode and decode at every size; the Downlink NAS Transport fast path writes the
    same octets as the generic encoder; each PDU grows by exactly the ID's extra octets.
    (tshark reads them in the e2e tests: every NGAP capture there carries random IDs now.)"""
    small = [len(ngap.encode(p)) for p in _ue_associated(0, 5)]
    extra = max(1, (amf_id.bit_length() + 7) // 8) - 1
    for pdu, base in zip(_ue_associated(amf_id, 5), small, strict=True):
        data = ngap.encode(pdu)
        back = ngap.decode(data)
        got = back.get("AMF-UE-NGAP-ID", back.get("SourceAMF-UE-NGAP-ID"))
        if got is None:
            got = back["UE-NGAP-IDs"][1]["aMF-UE-NGAP-ID"]
        assert got == amf_id and (back.procedure, back.kind) == (pdu.procedure, pdu.kind)
        assert len(data) == base + extra, pdu.procedure
    assert ngap.downlink_nas_transport(amf_id, 5, b"\x7e\x00\x56") == ngap.encode(_ue_associated(amf_id, 5)[0])


def test_amf_ue_ngap_id_allocation_rejects_nothing_the_codec_cannot_carry() -> None:
    """Out of range is an EncodeError, never a silent wrap (the allocator never draws 2^40)."""
    with pytest.raises(ngap.EncodeError):
        ngap.encode(_ue_associated(AMF_UE_NGAP_ID_MAX + 1, 5)[0])


# --- 2. the trust policy's handover rule ----------------------------------------------------


def _policy(tmp_path: Path, refuse: list[dict[str, Any]]) -> dict[str, Any]:
    """The shipped example policy with ``handover.refuse`` rules; the AMF's configuration."""
    pol = yaml.safe_load((REPO / "examples" / "trust-policy.yaml").read_text())
    pol["trust"]["audit_log"] = {"path": str(tmp_path / "trust-audit.jsonl"), "fsync": False}
    pol["trust"]["handover"] = {"refuse": refuse}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(pol))
    return {"trust_policy": str(tmp_path / "policy.yaml"), "data_dir": str(tmp_path)}


def _audit(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "trust-audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _cause(pdus: list[Any]) -> Any:
    item = only(pdus, "unsuccessful")["PDUSessionResourceReleasedListPSFail"][0]
    return ngap.decode_ie("PathSwitchRequestUnsuccessfulTransfer", item["pathSwitchRequestUnsuccessfulTransfer"])["cause"]


# gNB IDs of the example policy's ranges: 0x10, 0x11 Tundra (trusted), 0x150 Dragonfly (high-risk)
TUNDRA, TUNDRA2, DRAGONFLY = 0x10, 0x11, 0x150
NO_TRUSTED_TO_HIGH_RISK = {"id": "no-trusted-to-high-risk",
                           "source": {"risk_classes": ["trusted"]}, "target": {"risk_classes": ["high-risk"]}}
NO_DRAGONFLY_TO_TUNDRA = {"id": "no-dragonfly-to-tundra",
                          "source": {"vendors": ["dragonfly"]}, "target": {"vendors": ["tundra"]}}


async def test_high_risk_gnb_may_not_take_over_from_a_trusted_one(tmp_path: Path) -> None:
    """Tundra (trusted) -> Dragonfly (high-risk) refused, audited with the rule; the UE,
    its tunnel and its keys stay; Tundra -> Tundra is not touched by the rule."""
    net = await Net().start(amf=_policy(tmp_path, [NO_TRUSTED_TO_HIGH_RISK]), ids=(TUNDRA, DRAGONFLY, TUNDRA2))
    ue = net.ue
    assert (net.a.vendor, net.b.vendor, net.c.vendor) == ("tundra", "dragonfly", "tundra")
    assert _cause(await net.path_switch(net.b, request(21, ue.amf_ue_ngap_id))) == ("radioNetwork", "ho-target-not-allowed")
    assert ue.gnb is net.a and ue.ncc == 0 and net.sms[0].dl_ip == GNB_A
    (rec,) = [r for r in _audit(tmp_path) if r.get("event") == "path-switch-refused"]
    assert rec["subject"] == "gnb:00101:0x150/22" and rec["source"] == "gnb:00101:0x10/22"
    assert "handover.refuse[0] (no-trusted-to-high-risk)" in rec["reason"] and rec["vendor"] == "dragonfly"
    assert rec["ue"].startswith("ue-") and SUPI not in (tmp_path / "trust-audit.jsonl").read_text()
    only(await net.path_switch(net.c, request(31, ue.amf_ue_ngap_id, ip=GNB_C)), "successful")
    assert ue.gnb is net.c


async def test_the_rule_is_directional(tmp_path: Path) -> None:
    """The same rule lets Dragonfly -> Tundra through (it names trusted -> high-risk only); a
    vendor rule Dragonfly -> Tundra refuses exactly that direction."""
    net = await Net().start(amf=_policy(tmp_path, [NO_TRUSTED_TO_HIGH_RISK]), ids=(DRAGONFLY, TUNDRA, TUNDRA2))
    only(await net.path_switch(net.b, request(21, net.ue.amf_ue_ngap_id)), "successful")
    tmp2 = tmp_path / "second"
    tmp2.mkdir()
    net = await Net().start(amf=_policy(tmp2, [NO_DRAGONFLY_TO_TUNDRA]), ids=(DRAGONFLY, TUNDRA, TUNDRA2))
    assert _cause(await net.path_switch(net.b, request(21, net.ue.amf_ue_ngap_id))) == ("radioNetwork", "ho-target-not-allowed")
    (rec,) = [r for r in _audit(tmp2) if r.get("event") == "path-switch-refused"]
    assert "no-dragonfly-to-tundra" in rec["reason"]
    # Tundra -> Dragonfly is still allowed by it (as is the default without rules)
    net = await Net().start(amf=_policy(tmp2, [NO_DRAGONFLY_TO_TUNDRA]), ids=(TUNDRA, DRAGONFLY, TUNDRA2))
    pdus = await net.path_switch(net.b, request(21, net.ue.amf_ue_ngap_id))
    assert pdus[0].procedure == "PathSwitchRequest" and pdus[0].kind == "successful"


# --- 3. hijack detection --------------------------------------------------------------------


def _uplink_nas(amf_id: int, ran_id: int = 7) -> bytes:
    """What the *old* gNB A sends if the UE never left it: an Uplink NAS Transport."""
    return ngap.encode(ngap.NgapPdu("UplinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id, "NAS-PDU": b"\x7e\x00\x45",
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 0x10)}))


def _release_request(amf_id: int, ran_id: int = 7) -> bytes:
    return ngap.encode(ngap.NgapPdu("UEContextReleaseRequest", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
        "Cause": ngap.cause("radioNetwork", "user-inactivity")}))


async def test_hijack_audit_only(tmp_path: Path) -> None:
    """Default ``audit``: B claims A's UE; A still sends uplink NAS for it. A gets the usual
    Error Indication, and the AMF logs, counts and audits the suspicion naming both gNBs (by
    subject and vendor) and the UE by pseudonym; the UE stays where B put it. One flag per
    switch: a second stale message is not flagged again."""
    net = await Net().start(amf=_policy(tmp_path, []), ids=(TUNDRA, TUNDRA2, DRAGONFLY))
    ue = net.ue
    amf_id = ue.amf_ue_ngap_id
    only(await net.path_switch(net.b, request(21, amf_id)), "successful")
    out = net.amf.ngap.on_message(net.a, 1, _uplink_nas(amf_id))
    (ei,) = [ngap.decode(o.data) for o in out]
    assert ei.procedure == "ErrorIndication" and ei["Cause"] == ("radioNetwork", "unknown-local-UE-NGAP-ID")
    stats = net.amf.gmm.ctx.stats
    assert stats["path_switch_suspected_hijack"] == 1 and "path_switch_hijack_release" not in stats
    (rec,) = [r for r in _audit(tmp_path) if r.get("event") == EVENT_PATH_SWITCH_HIJACK]
    assert rec["subject"] == "gnb:00101:0x11/22" and rec["source"] == "gnb:00101:0x10/22"
    assert (rec["vendor"], rec["source_vendor"], rec["reaction"]) == ("tundra", "tundra", "audit")
    assert rec["ue"].startswith("ue-") and SUPI not in (tmp_path / "trust-audit.jsonl").read_text()
    assert "UplinkNASTransport" in rec["reason"]
    assert ue.gnb is net.b and ue.ran_ue_ngap_id == 21
    net.amf.ngap.on_message(net.a, 1, _release_request(amf_id))
    assert stats["path_switch_suspected_hijack"] == 1


async def test_hijack_release(tmp_path: Path) -> None:
    """``release``: the claiming gNB B gets UE Context Release Command for the UE, the UE is
    CM-IDLE at once with its session's user plane deactivated at the SMF (downlink no longer
    to B), registered and keeping its keys, so its next Service Request restores it."""
    amf = {**_policy(tmp_path, []), "handover": {"on_suspected_hijack": "release"}}
    net = await Net().start(amf=amf, ids=(TUNDRA, DRAGONFLY, TUNDRA2))
    ue = net.ue
    ue.sec = NasSecurityContext.from_kamf(Role.NETWORK, net.kamf, int_alg=2, enc_alg=2)
    amf_id = ue.amf_ue_ngap_id
    only(await net.path_switch(net.b, request(21, amf_id)), "successful")
    net.sent.clear()
    out = net.amf.ngap.on_message(net.a, 1, _release_request(amf_id))
    sent = [(o.gnb, ngap.decode(o.data)) for o in out]
    assert [(g, p.procedure, p.kind) for g, p in sent] == [(net.a, "ErrorIndication", "initiating"),
                                                         (net.b, "UEContextRelease", "initiating")]
    rel = sent[1][1]
    assert rel["UE-NGAP-IDs"] == ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": amf_id, "rAN-UE-NGAP-ID": 21})
    assert ue.gnb is None and not ue.cm_connected and 21 not in net.b.ues
    assert net.amf.gmm.ctx.ues[amf_id] is ue and ue.sec is not None  # still registered
    (rec,) = [r for r in _audit(tmp_path) if r.get("event") == EVENT_PATH_SWITCH_HIJACK]
    assert (rec["vendor"], rec["source_vendor"], rec["reaction"]) == ("dragonfly", "tundra", "release")
    assert net.amf.gmm.ctx.stats["path_switch_hijack_release"] == 1
    assert net.amf.sessions.stats["an_release_deactivate"] == 1
    # B's Release Complete for the gone connection only gets an Error Indication, no new flag
    complete = ngap.encode(ngap.NgapPdu("UEContextRelease", "successful", {"AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": 21}))
    (ei,) = [ngap.decode(o.data) for o in net.amf.ngap.on_message(net.b, 1, complete)]
    assert ei.procedure == "ErrorIndication" and net.amf.gmm.ctx.stats["path_switch_suspected_hijack"] == 1


async def test_hijack_window_and_other_gnbs() -> None:
    """Only the gNB the UE left, with the UE's old RAN UE NGAP ID, within the window counts:
    a third gNB guessing the ID, the old gNB with another RAN ID, or the old gNB after the
    window are plain unknown-UE Error Indications. The memory of switches is pruned."""
    net = await Net().start(amf={"handover": {"on_suspected_hijack": "release", "hijack_window": 5}})
    h = net.amf.handover
    now = [1000.0]
    h.clock = lambda: now[0]
    ue = net.ue
    amf_id = ue.amf_ue_ngap_id
    only(await net.path_switch(net.b, request(21, amf_id)), "successful")
    assert list(h.recent) == [amf_id]
    for gnb, ran_id in ((net.c, 7), (net.a, 8)):
        out = net.amf.ngap.on_message(gnb, 1, _uplink_nas(amf_id, ran_id))
        assert [ngap.decode(o.data).procedure for o in out] == ["ErrorIndication"]
    now[0] += 5.5
    out = net.amf.ngap.on_message(net.a, 1, _uplink_nas(amf_id))
    assert [ngap.decode(o.data).procedure for o in out] == ["ErrorIndication"]
    assert "path_switch_suspected_hijack" not in net.amf.gmm.ctx.stats and ue.gnb is net.b
    assert h.recent == {}
