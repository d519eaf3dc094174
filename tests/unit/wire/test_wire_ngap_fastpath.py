"""NGAP hand-written IE fast paths and memo against plain pycrate (the reference)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrate_asn1dir import NGAP as PYCRATE_NGAP

from fivecore.wire import DecodeError, EncodeError, ngap
from fivecore.wire.ngap import codec

AMF_ID = PYCRATE_NGAP.NGAP_IEs.AMF_UE_NGAP_ID
RAN_ID = PYCRATE_NGAP.NGAP_IEs.RAN_UE_NGAP_ID
NAS_PDU = PYCRATE_NGAP.NGAP_IEs.NAS_PDU


def _fast(obj: object) -> tuple:
    dec, enc = codec._fast_codec(obj)
    assert dec is not None and enc is not None
    return dec, enc


def _ref_decode(obj: object, raw: bytes) -> object:
    return codec._asn1_decode(obj, raw)


def _ref_encode(obj: object, v: object) -> bytes:
    return codec._asn1_encode(obj, v, "ref")


@pytest.mark.parametrize("obj,ub", [(AMF_ID, 2**40 - 1), (RAN_ID, 2**32 - 1)])
@given(st.data())
@settings(max_examples=300, deadline=None)
def test_wide_integers_match_pycrate(obj: object, ub: int, data: st.DataObject) -> None:
    dec, enc = _fast(obj)
    v = data.draw(st.one_of(st.integers(0, 300), st.integers(0, ub), st.sampled_from([ub, ub - 1, 255, 256])))
    raw = enc(v)
    assert raw == _ref_encode(obj, v)
    assert dec(raw) == v


@pytest.mark.parametrize("obj", [AMF_ID, RAN_ID, NAS_PDU])
@given(raw=st.binary(max_size=12))
@settings(max_examples=400, deadline=None)
def test_fast_decoders_agree_with_pycrate_on_any_octets(obj: object, raw: bytes) -> None:
    dec, _ = _fast(obj)
    try:
        want = _ref_decode(obj, raw)
    except DecodeError:
        want = DecodeError
    try:
        got = dec(raw)
    except DecodeError:
        got = DecodeError
    assert got == want


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_nas_pdu_octets_match_pycrate(v: bytes) -> None:
    dec, enc = _fast(NAS_PDU)
    assert enc(v) == _ref_encode(NAS_PDU, v)
    assert dec(enc(v)) == v


def test_nas_pdu_fragmented_length() -> None:
    dec, enc = _fast(NAS_PDU)
    v = bytes(range(256)) * 80  # 20,480 octets: X.691 §11.9.3.8 fragments
    assert dec(enc(v)) == v


def test_fast_encoders_refuse_bad_values() -> None:
    _, enc = _fast(AMF_ID)
    for bad in (-1, 2**40, True, "1", None):
        with pytest.raises(EncodeError):
            enc(bad)
    _, enc = _fast(NAS_PDU)
    with pytest.raises(EncodeError):
        enc("text")


def test_memoised_values_are_copies() -> None:
    uli = ngap.user_location_nr("00101", 1, 0x10)
    pdu = ngap.NgapPdu("UplinkNASTransport", "initiating", {
        "AMF-UE-NGAP-ID": 7, "RAN-UE-NGAP-ID": 9, "NAS-PDU": b"\x7e\x00", "UserLocationInformation": uli})
    raw = ngap.encode(pdu)
    first = ngap.decode(raw)
    first["UserLocationInformation"][1]["tAI"]["tAC"] = b"\xff\xff\xff"  # a careless caller
    second = ngap.decode(raw)
    assert second["UserLocationInformation"] == uli
    assert ngap.encode(second) == raw


def test_memo_encodes_like_pycrate_for_every_sample_message() -> None:
    """Each IE of each sample PDU: memo (twice: miss, then hit) == pycrate."""
    from test_wire_ngap import (
        _messages,  # the sibling test module (pytest puts its folder on sys.path)
    )

    for pdu in _messages():
        md = codec._PROCS_BY_NAME[pdu.procedure].messages[codec.KINDS.index(pdu.kind)]
        if not md.generic:
            continue
        for name, v in pdu.ies.items():
            d = md.by_name[name]
            want = _ref_encode(d.obj, v)
            assert codec._ie_encode(d, v, name) == want
            assert codec._ie_encode(d, v, name) == want
            assert codec._ie_decode(d, want) == _ref_decode(d.obj, want)
            assert codec._ie_decode(d, want) == _ref_decode(d.obj, want)


def test_freeze_keeps_lists_tuples_and_dicts_apart() -> None:
    keys = {codec._freeze(v) for v in ([1, 2], (1, 2), {"a": 1}, [("a", 1)], True, 1)}
    assert len(keys) == 6


TRANSFER = {
    "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": 10**8,
                                          "pDUSessionAggregateMaximumBitRateUL": 5 * 10**7},
    "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel("127.0.0.7", 0xDEADBEEF),
    "PDUSessionType": "ipv4",
    "QosFlowSetupRequestList": [{"qosFlowIdentifier": 1, "qosFlowLevelQosParameters": {
        "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": 9}),
        "allocationAndRetentionPriority": {
            "priorityLevelARP": 8, "pre-emptionCapability": "shall-not-trigger-pre-emption",
            "pre-emptionVulnerability": "not-pre-emptable"}}}],
}


def _pycrate_transfer(value: dict) -> bytes:
    obj = PYCRATE_NGAP.NGAP_IEs.PDUSessionResourceSetupRequestTransfer
    tab = obj._cont["protocolIEs"]._cont._cont["value"]._const_tab.get_val().root
    rows = {codec._IE_NAMES.get(r["id"]): r for r in tab}
    fields = [{"id": rows[k]["id"], "criticality": rows[k]["criticality"],
               "value": (rows[k]["Value"]._typeref.called[1], v)} for k, v in value.items()]
    obj.set_val({"protocolIEs": fields})
    return obj.to_aper()


@given(teid=st.integers(0, 2**32 - 1), ambr=st.integers(0, 4_000_000_000_000))
@settings(max_examples=60, deadline=None)
def test_transfer_container_matches_pycrate(teid: int, ambr: int) -> None:
    value = dict(TRANSFER)
    value["UL-NGU-UP-TNLInformation"] = ngap.gtp_tunnel("10.1.2.3", teid)
    value["PDUSessionAggregateMaximumBitRate"] = {"pDUSessionAggregateMaximumBitRateDL": ambr,
                                                  "pDUSessionAggregateMaximumBitRateUL": ambr}
    raw = ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", value)
    assert raw == _pycrate_transfer(value)
    assert ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", raw) == value


@given(raw=st.binary(max_size=64))
@settings(max_examples=300, deadline=None)
def test_transfer_decode_never_raises_anything_but_decode_error(raw: bytes) -> None:
    try:
        ngap.decode_ie("PDUSessionResourceSetupRequestTransfer", raw)
    except DecodeError:
        pass


def _outcome(f: object, data: bytes, pos: int) -> object:
    try:
        return f(data, pos)  # type: ignore[operator]
    except DecodeError as exc:
        return ("DecodeError", exc.reason)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40) | st.builds(lambda n, b: bytes([0x80 | (n >> 8), n & 0xFF]) + b,
                                          st.integers(0, 0x3FFF), st.binary(max_size=300)),
       st.integers(0, 45))
def test_open_type_short_forms_read_as_the_general_reader(data: bytes, pos: int) -> None:
    """X.691 §11.9.3.6-8: the one/two-octet length fast path gives the general reader's value,
    end position or error for any octets (including short and overrunning ones)."""
    pos = min(pos, len(data))
    assert _outcome(codec._read_open, data, pos) == _outcome(codec._read_open_fragments, data, pos)
