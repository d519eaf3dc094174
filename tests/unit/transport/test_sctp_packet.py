"""SCTP codec known answers (RFC 9260 §3, Appendix A) and backend selection."""

from __future__ import annotations

import struct

import pytest

from fivecore.transport import sctp
from fivecore.transport.sctp import kernel
from fivecore.transport.sctp import packet as p


def test_crc32c_known_answer() -> None:
    # RFC 3720 B.4 / iSCSI test vector: CRC32c of 32 zero bytes is 0x8A9136AA.
    from crc32c import crc32c

    assert crc32c(bytes(32)) == 0x8A9136AA
    pkt = p.build_packet(5000, 38412, 0x01020304, [p.encode_chunk(p.COOKIE_ACK, 0)])
    assert p.verify_checksum(pkt)
    assert int.from_bytes(pkt[8:12], "little") == crc32c(pkt[:8] + bytes(4) + pkt[12:])
    assert not p.verify_checksum(pkt[:-1] + b"\x01")


def test_chunk_length_excludes_final_padding() -> None:
    """RFC 9260 §3.2: the last parameter's padding is chunk padding, not counted in its length."""
    init = p.encode_init(p.INIT, 1, 1500, 1, 1, 7, [p.encode_param(p.PARAM_SUPPORTED_ADDR_TYPES, b"\x00\x05")])
    assert struct.unpack_from("!H", init, 2)[0] == 4 + 16 + 6 and len(init) == 28
    abort = p.encode_chunk(p.ABORT, 0, p.encode_cause(p.CAUSE_USER_ABORT, b"abc"))
    assert struct.unpack_from("!H", abort, 2)[0] == 4 + 7 and len(abort) == 12
    (c,) = p.parse_chunks(p.build_packet(1, 2, 3, [init]))
    parsed = p.parse_init(c.value)
    assert parsed.params == [(p.PARAM_SUPPORTED_ADDR_TYPES, b"\x00\x05")]


def test_data_and_sack_round_trip() -> None:
    d = p.encode_data(p.FLAG_B | p.FLAG_E, 0xFFFFFFFF, 3, 9, 60, b"hello")
    (c,) = p.parse_chunks(p.build_packet(1, 2, 3, [d]))
    assert p.parse_data(c.flags, c.value) == p.DataChunk(3, 0xFFFFFFFF, 3, 9, 60, b"hello")
    s = p.encode_sack(10, 5000, [(2, 3), (5, 5)], [7])
    cum, rwnd, ng, nd = struct.unpack_from("!IIHH", s, 4)
    assert (cum, rwnd, ng, nd) == (10, 5000, 2, 1)
    assert struct.unpack_from("!4HI", s, 16) == (2, 3, 5, 5, 7)


def test_describe_causes() -> None:
    v = p.encode_cause(p.CAUSE_USER_ABORT, b"maintenance")
    assert p.describe_causes(v) == "user-initiated abort: maintenance"
    assert p.describe_causes(b"\x00") == "malformed causes"


def test_backend_selection_here() -> None:
    assert kernel._SNDRCV.size == 32  # struct sctp_sndrcvinfo
    if kernel.available():
        assert sctp.backend_for("auto") == "kernel"
    else:
        assert sctp.backend_for("auto") == "userspace"
        with pytest.raises(sctp.SctpError):
            sctp.backend_for("kernel")
    assert sctp.backend_for("userspace") == "userspace"
