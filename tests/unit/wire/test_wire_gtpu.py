"""GTP-U datapath and signalling codec (TS 29.281, TS 38.415)."""

from __future__ import annotations

import pytest

from fivecore.wire import DecodeError, EncodeError, gtpu

IP = bytes.fromhex("4500001c000100004001f6d10a2d00020808080808000000000000000000")


def test_encap_decap_plain() -> None:
    pkt = gtpu.encap(0x01020304, IP)
    assert pkt[:8] == bytes.fromhex("30ff001e01020304")
    teid, qfi, off = gtpu.decap(pkt)
    assert (teid, qfi, pkt[off:]) == (0x01020304, -1, IP)


@pytest.mark.parametrize("pdu_type", [gtpu.PDU_TYPE_DL, gtpu.PDU_TYPE_UL])
def test_encap_decap_with_pdu_session_container(pdu_type: int) -> None:
    pkt = gtpu.encap(0xFFFFFFFF, IP, qfi=9, pdu_type=pdu_type)
    # TS 29.281 §5.1: E flag, next ext 0x85; TS 38.415 §5.5.2: PDU type, QFI.
    assert pkt[:16] == bytes.fromhex("34ff0026ffffffff0000008501") + bytes((pdu_type << 4, 9, 0))
    teid, qfi, off = gtpu.decap(pkt)
    assert (teid, qfi, pkt[off:]) == (0xFFFFFFFF, 9, IP)
    m = gtpu.decode(pkt)
    assert (m.name, m.qfi, m.pdu_type, m.payload) == ("G-PDU", 9, pdu_type, IP)
    assert gtpu.encode(m) == pkt


def test_write_header_into_buffer() -> None:
    buf = bytearray(64)
    hl = gtpu.header_length(5)
    buf[hl:hl + len(IP)] = IP
    assert gtpu.write_header(buf, 0, 77, len(IP), qfi=5) == hl
    assert bytes(buf[:hl + len(IP)]) == gtpu.encap(77, IP, qfi=5)
    assert gtpu.write_header(buf, 0, 77, len(IP)) == 8 == gtpu.header_length(None)


def test_signalling_messages() -> None:
    req = gtpu.decode(gtpu.build_echo_request(42))
    assert (req.name, req.seq, req.teid) == ("EchoRequest", 42, 0)
    rsp = gtpu.decode(gtpu.build_echo_response(42, recovery=3))
    assert (rsp.name, rsp.seq, rsp.recovery) == ("EchoResponse", 42, 3)
    ei = gtpu.decode(gtpu.build_error_indication(0xABCD, "127.0.0.7", seq=1))
    assert (ei.name, ei.teid_data_i, ei.peer_address) == ("ErrorIndication", 0xABCD, "127.0.0.7")
    ei6 = gtpu.decode(gtpu.build_error_indication(1, "2001:db8::1"))
    assert ei6.peer_address == "2001:db8::1"
    em = gtpu.decode(gtpu.build_end_marker(5, qfi=1))
    assert (em.name, em.teid, em.qfi, em.payload) == ("EndMarker", 5, 1, b"")
    for b in (gtpu.build_echo_request(1), gtpu.build_echo_response(1, 9),
              gtpu.build_error_indication(3, "10.0.0.1"), gtpu.build_end_marker(7)):
        assert gtpu.encode(gtpu.decode(b)) == b


@pytest.mark.parametrize("hexdata", [
    "", "30ff00", "10ff000001020304", "30fe000001020304", "30ff000101020304",
    "34ff0004010203040000", "34ff000801020304000000850200000000",
    "34ff000801020304000000c101000000",  # unknown comprehension-required extension header
    "34ff000801020304000000850000000000",
])
def test_decap_errors(hexdata: str) -> None:
    with pytest.raises(DecodeError):
        gtpu.decap(bytes.fromhex(hexdata))


@pytest.mark.parametrize("hexdata", [
    "", "38ff000001020304", "30ff000501020304",
    "32020003000000000001",            # optional fields truncated
    "3202000600000000000100000e",      # Recovery IE value missing
    "32020006000000000001000063ff",    # unknown TV IE type
    "321a0004000000000001000085",      # error indication without its IEs
    "321a000b0000000000010000100000000185000100",   # peer address of 1 octet
    "321a000b00000000000100001000000001850009",     # TLV overruns
])
def test_decode_errors(hexdata: str) -> None:
    with pytest.raises(DecodeError) as exc:
        gtpu.decode(bytes.fromhex(hexdata))
    assert exc.value.protocol == "GTP-U"


def test_encode_errors() -> None:
    with pytest.raises(EncodeError):
        gtpu.encode(gtpu.GtpuMessage(gtpu.ECHO_RESPONSE, 0, ies=((gtpu.IE_RECOVERY, b"\x01\x02"),)))
    with pytest.raises(EncodeError):
        gtpu.encode(gtpu.GtpuMessage(gtpu.G_PDU, 1, ext_headers=((0x85, b"\x00"),)))
    with pytest.raises(EncodeError):
        gtpu.encode(gtpu.GtpuMessage(gtpu.G_PDU, 1 << 32))
