"""5GSM on the network side (TS 24.501 §6) with plain calls: accept, rejects and their causes,
uplink classification, and the UE's 5GSM entity answering the network."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.smf import gsm
from fivecore.nf.smf.context import SmfContext, SmState
from fivecore.ran.userplane import UeSm
from fivecore.wire import nas

SNSSAI = {"sst": 1}
SUB = gsm.DnnSubscription()


def request(psi: int = 1, pti: int = 5, pdu_type: int | None = 1, ssc: int | None = 1,
            epco: bytes | None = None) -> nas.NasMessage:
    return nas.decode(nas.encode(nas.PDUSessionEstablishmentRequest(
        pdu_session_id=psi, pti=pti, integrity_protection_max_data_rate=b"\xff\xff",
        pdu_session_type=pdu_type, ssc_mode=ssc, extended_pco=epco)))


def check(msg: nas.NasMessage, **kw: object) -> gsm.EstablishmentDecision:
    args: dict[str, object] = {"psi": msg.pdu_session_id, "dnn": "internet", "dnn_known": True,
                               "dnn_in_slice": True, "sub": SUB, "ipv6_available": False}
    args.update(kw)
    return gsm.check_establishment(msg, **args)  # type: ignore[arg-type]


def test_ipv4_request_is_accepted() -> None:
    d = check(request())
    assert (d.pdu_type, d.ssc_mode, d.cause) == (gsm.PDU_IPV4, 1, None)


@pytest.mark.parametrize(("kw", "msg_kw", "cause"), [
    ({"dnn": None}, {}, 27),                                   # no DNN and no default
    ({"dnn_known": False}, {}, 27),                            # missing or unknown DNN
    ({"dnn_in_slice": False}, {}, 70),                         # unknown DNN in the slice
    ({"sub": None}, {}, 33),                                   # not subscribed
    ({}, {"pdu_type": 5}, 28),                                 # Ethernet: unknown PDU session type
    ({}, {"pdu_type": 2}, 50),                                 # IPv6 without a v6 pool: IPv4 only
    ({}, {"ssc": 3}, 68),                                      # SSC mode 3 not supported
    ({}, {"pti": 0}, 81),                                      # reserved PTI
    ({}, {"psi": 0}, 43),                                      # invalid PDU session identity
])
def test_rejects_carry_the_right_cause(kw: dict, msg_kw: dict, cause: int) -> None:
    with pytest.raises(gsm.GsmReject) as ei:
        check(request(**msg_kw), **kw)
    assert ei.value.cause == cause


def test_ipv4v6_is_narrowed_to_ipv4_with_cause_50() -> None:
    d = check(request(pdu_type=3))
    assert d.pdu_type == gsm.PDU_IPV4 and d.cause == 50
    d = check(request(pdu_type=3), ipv6_available=True)
    assert d.pdu_type == gsm.PDU_IPV4V6 and d.cause is None


def test_subscription_parsing_from_udm_sm_data() -> None:
    sm_data = [{"singleNssai": {"sst": 1}, "dnnConfigurations": {"internet": {
        "pduSessionTypes": {"defaultSessionType": "IPV4", "allowedSessionTypes": ["IPV4"]},
        "sscModes": {"defaultSscMode": "SSC_MODE_1", "allowedSscModes": ["SSC_MODE_1"]},
        "5gQosProfile": {"5qi": 7, "arp": {"priorityLevel": 3}},
        "sessionAmbr": {"uplink": "10 Mbps", "downlink": "20 Mbps"}}}}]
    sub = gsm.DnnSubscription.from_sm_data(sm_data, "internet", {"sst": 1})
    assert sub is not None
    assert (sub.five_qi, sub.arp, sub.ambr_ul, sub.ambr_dl) == (7, 3, 10_000_000, 20_000_000)
    assert sub.allowed_types == (gsm.PDU_IPV4,)
    assert gsm.DnnSubscription.from_sm_data(sm_data, "ims", {"sst": 1}) is None
    assert gsm.DnnSubscription.from_sm_data(sm_data, "internet", {"sst": 2}) is None
    assert gsm.DnnSubscription.from_sm_data("garbage", "internet", {"sst": 1}) is None


def _session() -> tuple[SmfContext, object]:
    ctx = SmfContext()
    sm = ctx.new("imsi-001010000000001", 1, "internet", SNSSAI)
    sm.pti, sm.ue_ipv4, sm.state = 5, "10.45.0.2", SmState.ACTIVE
    sm.ambr_ul, sm.ambr_dl = 50_000_000, 100_000_000
    return ctx, sm


def test_accept_encodes_address_ambr_rules_and_dns() -> None:
    _, sm = _session()
    epco = bytes((0x80, 0x00, 0x0D, 0x00))
    d = check(request(epco=epco))
    acc = nas.decode(gsm.establishment_accept(sm, d, ["9.9.9.9"], 1400))  # type: ignore[arg-type]
    assert acc.message_type == "PDUSessionEstablishmentAccept"
    assert acc.pdu_address.ipv4_address == "10.45.0.2"
    assert acc.session_ambr.dl_bps == 100_000_000 and acc.session_ambr.ul_bps == 50_000_000
    rule = acc.authorized_qos_rules[0]
    assert rule.dqr and rule.qfi == 1 and rule.precedence == 255
    assert acc.dnn == "internet" and acc.s_nssai.sst == 1
    assert b"\x00\x0d\x04\x09\x09\x09\x09" in acc.extended_pco


def test_ue_answers_accept_release_and_modification() -> None:
    """Both ends of the conversation: the UE's UeSm against the network's builders."""
    events: list[tuple[str, int]] = []
    ue = UeSm(lambda ev, s: events.append((ev, s.psi)))
    req = nas.decode(ue.establish(1, "internet", (1, None)))
    ctx, sm = _session()
    sm.pti = req.pti  # type: ignore[attr-defined]
    d = check(req)
    assert ue.on_downlink(1, gsm.establishment_accept(sm, d)) == []  # type: ignore[arg-type]
    assert ue.sessions[1].state == "ACTIVE" and ue.sessions[1].ipv4 == "10.45.0.2"
    # UE-requested release: request -> event "release" -> command -> complete -> "released"
    rel = nas.decode(ue.release(1))
    ev = gsm.on_uplink(sm, rel)  # type: ignore[arg-type]
    assert ev.kind == "release" and ev.pti == rel.pti
    sm.state = SmState.INACTIVE_PENDING  # type: ignore[attr-defined]
    out = ue.on_downlink(1, gsm.release_command(1, ev.pti, 36))
    assert len(out) == 1 and nas.decode(out[0][1]).message_type == "PDUSessionReleaseComplete"
    assert gsm.on_uplink(sm, nas.decode(out[0][1])).kind == "released"  # type: ignore[arg-type]
    assert events == [("established", 1), ("released", 1)]


def test_unexpected_release_complete_gets_5gsm_status_98() -> None:
    _, sm = _session()
    ev = gsm.on_uplink(sm, nas.decode(nas.encode(nas.PDUSessionReleaseComplete(pdu_session_id=1, pti=9))))  # type: ignore[arg-type]
    assert ev.kind == "reply" and nas.decode(ev.n1).cause == 98


def test_ue_rejects_accept_with_wrong_pti() -> None:
    ue = UeSm()
    ue.establish(1, "internet", (1, None))
    _, sm = _session()
    # any PTI but the UE's own (the simulated UE starts its PTIs at a random value)
    sm.pti = ue.sessions[1].pti % 254 + 1  # type: ignore[attr-defined]
    out = ue.on_downlink(1, gsm.establishment_accept(sm, gsm.EstablishmentDecision(1, 1)))  # type: ignore[arg-type]
    assert out and nas.decode(out[0][1]).cause == 47  # PTI mismatch
    assert ue.sessions[1].state == "ACTIVE_PENDING"


def test_reject_reaches_the_ue() -> None:
    seen: list[int | None] = []
    ue = UeSm(lambda ev, s: seen.append(s.cause))
    req = nas.decode(ue.establish(2, "x", None))
    assert ue.on_downlink(2, gsm.establishment_reject(2, req.pti, 27)) == []
    assert seen == [27] and 2 not in ue.sessions


@given(st.binary(max_size=64))
@settings(max_examples=400, deadline=None)
def test_parse_never_raises_anything_but_gsm_error(data: bytes) -> None:
    try:
        gsm.parse(data)
    except gsm.GsmError as exc:
        assert exc.cause in nas.SM_CAUSES


@given(st.binary(max_size=64))
@settings(max_examples=300, deadline=None)
def test_ue_sm_survives_garbage(data: bytes) -> None:
    ue = UeSm()
    ue.establish(1, "internet", None)
    ue.on_downlink(1, data)


def test_bitrates() -> None:
    assert gsm.parse_bitrate("1.5 Gbps") == 1_500_000_000
    assert gsm.format_bitrate(10_000_000) == "10 Mbps"
    with pytest.raises(ValueError):
        gsm.parse_bitrate("fast")
