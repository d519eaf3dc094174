"""NGAP on the AMF side (fivecore.nf.amf.ngap_handler), sans-I/O: bytes in, NGAP bytes out."""

from __future__ import annotations

from homenet import make
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.amf.context import GnbState
from fivecore.nf.amf.ngap_handler import AmfNgap, NgapConfig, NgapSend
from fivecore.wire import ngap
from fivecore.wire.ngap import NgapPdu


def setup_request(plmn: str = "00101", tac: int = 1, slices=((1, None),), gnb_id: int = 1) -> bytes:
    return ngap.encode(NgapPdu("NGSetup", "initiating", {
        "GlobalRANNodeID": ngap.global_gnb_id(plmn, gnb_id),
        "RANNodeName": "g",
        "SupportedTAList": ngap.supported_ta_list([(tac, plmn, list(slices))]),
        "DefaultPagingDRX": "v128",
    }))


def handler():
    loop, ues = make(2)
    return AmfNgap(NgapConfig(), loop.gmm), loop, ues


def sent(outs) -> list[NgapPdu]:
    return [ngap.decode(o.data) for o in outs if isinstance(o, NgapSend)]


def test_ng_setup_ok_and_failures() -> None:
    h, _, _ = handler()
    g = h.association_up(1, "x")
    (rsp,) = sent(h.on_message(g, 0, setup_request()))
    assert (rsp.procedure, rsp.kind) == ("NGSetup", "successful")
    assert g.state == GnbState.READY and g.global_ran_node_id == ("00101", 1, 22)
    for bad in (setup_request(plmn="99999"), setup_request(tac=5), setup_request(slices=((2, None),))):
        g2 = h.association_up(2, "y")
        (rsp,) = sent(h.on_message(g2, 0, bad))
        assert rsp.kind == "unsuccessful"
        assert rsp["Cause"] == ("misc", "unknown-PLMN-or-SNPN")
        assert g2.state == GnbState.SETUP_PENDING


def test_ng_setup_with_a_gnb_id_already_in_use_is_counted_not_refused() -> None:
    """Two associations with one Global RAN Node ID (a restart not yet noticed, or two lab
    simulators): both are served, the duplicate is counted."""
    h, _, _ = handler()
    first = h.association_up(1, "first")
    h.on_message(first, 0, setup_request())
    second = h.association_up(2, "second")
    (rsp,) = sent(h.on_message(second, 0, setup_request()))
    assert rsp.kind == "successful" and first.state == second.state == GnbState.READY
    assert h.ctx.stats["ng_setup_duplicate_gnb_id"] == 1


def test_policy_hook_can_refuse() -> None:
    loop, _ = make()
    h = AmfNgap(NgapConfig(), loop.gmm, policy=lambda gnb: ("misc", "om-intervention"))
    g = h.association_up(1)
    (rsp,) = sent(h.on_message(g, 0, setup_request()))
    assert rsp.kind == "unsuccessful" and rsp["Cause"] == ("misc", "om-intervention")


def test_messages_before_setup_and_malformed() -> None:
    h, _, _ = handler()
    g = h.association_up(1)
    (ei,) = sent(h.on_message(g, 0, b"\x00\x01"))
    assert ei.procedure == "ErrorIndication" and ei["Cause"] == ("protocol", "transfer-syntax-error")
    ul = ngap.encode(NgapPdu("UplinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 1, "NAS-PDU": b"\x7e\x00\x43",
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 1)}))
    (ei,) = sent(h.on_message(g, 0, ul))
    assert ei["Cause"] == ("protocol", "message-not-compatible-with-receiver-state")


def test_full_registration_over_ngap_and_unknown_ids() -> None:
    h, loop, (ue, _) = handler()
    g = h.association_up(1)
    h.on_message(g, 0, setup_request())
    init = ngap.encode(NgapPdu("InitialUEMessage", "initiating", {
        "RAN-UE-NGAP-ID": 7, "NAS-PDU": ue.register(),
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 1), "RRCEstablishmentCause": "mo-Signalling"}))
    outs = h.on_message(g, 0, init)
    # the SBI call comes back through the application; run it synchronously here
    from fivecore.nf.amf.gmm import SbiCall

    pending = list(outs)
    amf_id = None
    for _ in range(50):
        if not pending:
            break
        o = pending.pop(0)
        if isinstance(o, SbiCall):
            pending += h.translate(loop.gmm.sbi_result(o.ue, o.token, o.op, loop.hn.handle(o.op, o.args)))
        elif isinstance(o, NgapSend):
            pdu = ngap.decode(o.data)
            if pdu.procedure == "InitialContextSetup":
                assert pdu["SecurityKey"][0].to_bytes(32, "big") == ue.kgnb()
                assert pdu["GUAMI"] == ngap.guami("00101", 2, 1, 0)
            if pdu.procedure in ("DownlinkNASTransport", "InitialContextSetup"):
                amf_id = pdu["AMF-UE-NGAP-ID"]
                assert pdu["RAN-UE-NGAP-ID"] == 7
                for up in ue.on_downlink(pdu["NAS-PDU"]):
                    pending += h.on_message(g, 1, ngap.encode(NgapPdu("UplinkNASTransport", "initiating", {
                        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": 7, "NAS-PDU": up,
                        "UserLocationInformation": ngap.user_location_nr("00101", 1, 1)})))
    assert ue.state.name == "REGISTERED"
    # a second gNB presenting this UE's IDs, and a guessed ID on the first gNB
    g2 = h.association_up(2)
    h.on_message(g2, 0, setup_request(gnb_id=2))
    for gnb, a_id in ((g2, amf_id), (g, amf_id + 12345)):
        bad = ngap.encode(NgapPdu("UplinkNASTransport", "initiating", {
            "AMF-UE-NGAP-ID": a_id, "RAN-UE-NGAP-ID": 7, "NAS-PDU": b"\x7e\x00\x43",
            "UserLocationInformation": ngap.user_location_nr("00101", 1, 1)}))
        (ei,) = sent(h.on_message(gnb, 1, bad))
        assert ei.procedure == "ErrorIndication"
        assert ei["Cause"] == ("radioNetwork", "unknown-local-UE-NGAP-ID")
    # gNB-requested release -> command -> complete -> UE idle
    req = ngap.encode(NgapPdu("UEContextReleaseRequest", "initiating", {
        "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": 7, "Cause": ("radioNetwork", "user-inactivity")}))
    outs = sent(h.on_message(g, 1, req))
    if outs:
        assert outs[0].procedure == "UEContextRelease"
    done = ngap.encode(NgapPdu("UEContextRelease", "successful", {"AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": 7}))
    h.on_message(g, 1, done)
    assert not g.ues


def test_ng_reset_releases_everything() -> None:
    h, _, _ = handler()
    g = h.association_up(1)
    h.on_message(g, 0, setup_request())
    ue = h.ctx.new_ue(g, 3)
    reset = ngap.encode(NgapPdu("NGReset", "initiating", {"Cause": ("misc", "unspecified"),
                                                          "ResetType": ("nG-Interface", "reset-all")}))
    (ack,) = sent(h.on_message(g, 0, reset))
    assert (ack.procedure, ack.kind) == ("NGReset", "successful")
    assert not g.ues and ue.gnb is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_never_raises(data: bytes) -> None:
    h, _, _ = handler()
    g = h.association_up(1)
    h.on_message(g, 0, setup_request())
    outs = h.on_message(g, 0, data)
    assert all(isinstance(o, NgapSend) or not isinstance(o, bytes) for o in outs)
    # mutate a valid PDU
    valid = bytearray(setup_request())
    if data:
        valid[data[0] % len(valid)] ^= data[-1] or 1
    h.on_message(g, 0, bytes(valid))


def test_overload_start_and_stop_go_to_ready_gnbs() -> None:
    h, _, _ = handler()
    g1, g2 = h.association_up(1), h.association_up(2)
    h.on_message(g1, 0, setup_request())
    (start,) = sent(h.overload(True, reduction=30))
    assert start.procedure == "OverloadStart"
    assert start["AMFOverloadResponse"] == ("overloadAction", "reject-rrc-cr-signalling")
    assert start["AMFTrafficLoadReductionIndication"] == 30
    (stop,) = sent(h.overload(False))
    assert stop.procedure == "OverloadStop"
    assert g2.state == GnbState.SETUP_PENDING


def test_policy_decides_time_to_wait() -> None:
    """A vendor refusal carries no Time to Wait; a quarantine carries the policy's; a PLMN
    mismatch keeps the default so a misconfigured gNB retries."""

    class Policy:
        def __init__(self, cause, ttw):
            self.cause, self.time_to_wait = cause, ttw

        def __call__(self, gnb):
            return self.cause

    loop, _ = make()
    for ttw in (None, "v60s"):
        h = AmfNgap(NgapConfig(), loop.gmm, policy=Policy(("misc", "unspecified"), ttw))
        (rsp,) = sent(h.on_message(h.association_up(1), 0, setup_request()))
        assert rsp.kind == "unsuccessful"
        assert rsp.get("TimeToWait") == ttw
    h = AmfNgap(NgapConfig(), loop.gmm, policy=Policy(None, None))
    (rsp,) = sent(h.on_message(h.association_up(1), 0, setup_request(plmn="99999")))
    assert rsp.get("TimeToWait") == "v10s"


def test_ue_context_cap_per_gnb() -> None:
    """A gNB that opens UE contexts without end is stopped at max_ues_per_gnb: further Initial
    UE Messages get an Error Indication and create no context; other gNBs are unaffected."""
    loop, ues = make(2)
    h = AmfNgap(NgapConfig(max_ues_per_gnb=3), loop.gmm)
    g = h.association_up(1)
    h.on_message(g, 0, setup_request())

    def initial(ran_id: int, nas: bytes = b"\x7e\x00\x41") -> bytes:
        return ngap.encode(NgapPdu("InitialUEMessage", "initiating", {
            "RAN-UE-NGAP-ID": ran_id, "NAS-PDU": nas,
            "UserLocationInformation": ngap.user_location_nr("00101", 1, 1),
            "RRCEstablishmentCause": "mo-Signalling"}))

    for ran_id in range(3):
        h.on_message(g, 0, initial(ran_id, ues[ran_id % 2].register()))
    assert len(g.ues) == 3
    (ei,) = sent(h.on_message(g, 0, initial(99)))
    assert ei.procedure == "ErrorIndication" and ei["Cause"] == ("misc", "control-processing-overload")
    assert len(g.ues) == 3
    g2 = h.association_up(2)
    h.on_message(g2, 0, setup_request(gnb_id=2))
    h.on_message(g2, 0, initial(1, ues[0].register()))
    assert len(g2.ues) == 1
