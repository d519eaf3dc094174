"""RFC 9260 §3 — SCTP packet format: common header, chunks, parameters, CRC32c.

Pure functions over bytes. Decoders raise :class:`SctpDecodeError` on malformed input and
nothing else; callers count and drop.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from crc32c import crc32c

from fivecore.errors import FivecoreError


class SctpError(FivecoreError):
    """Base class of SCTP transport errors."""


class SctpDecodeError(SctpError):
    """A packet, chunk or parameter is malformed (RFC 9260 §3)."""


# RFC 9260 §3.2 chunk types.
DATA = 0
INIT = 1
INIT_ACK = 2
SACK = 3
HEARTBEAT = 4
HEARTBEAT_ACK = 5
ABORT = 6
SHUTDOWN = 7
SHUTDOWN_ACK = 8
ERROR = 9
COOKIE_ECHO = 10
COOKIE_ACK = 11
SHUTDOWN_COMPLETE = 14

# RFC 9260 §3.3.1 DATA flags.
FLAG_E = 0x01
FLAG_B = 0x02
FLAG_U = 0x04
FLAG_I = 0x08
# RFC 9260 §3.3.7 / §3.3.13 T bit.
FLAG_T = 0x01

# RFC 9260 §3.3.2.1 parameter types.
PARAM_HEARTBEAT_INFO = 1
PARAM_IPV4 = 5
PARAM_IPV6 = 6
PARAM_STATE_COOKIE = 7
PARAM_UNRECOGNIZED = 8
PARAM_COOKIE_PRESERVATIVE = 9
PARAM_SUPPORTED_ADDR_TYPES = 12

# RFC 9260 §3.3.10 error causes.
CAUSE_INVALID_STREAM = 1
CAUSE_MISSING_PARAM = 2
CAUSE_STALE_COOKIE = 3
CAUSE_OUT_OF_RESOURCE = 4
CAUSE_UNRECOGNIZED_CHUNK = 6
CAUSE_INVALID_PARAM = 7
CAUSE_NO_USER_DATA = 9
CAUSE_COOKIE_WHILE_SHUTTING_DOWN = 10
CAUSE_RESTART_NEW_ADDRESSES = 11
CAUSE_USER_ABORT = 12
CAUSE_PROTOCOL_VIOLATION = 13

COMMON_HEADER_LEN = 12
DATA_HEADER_LEN = 16
IPV4_HEADER_LEN = 20

_HDR = struct.Struct("!HHI")
_CHUNK_HDR = struct.Struct("!BBH")
_DATA_HDR = struct.Struct("!BBHIHHI")
_INIT_FIXED = struct.Struct("!IIHHI")
_ZERO4 = b"\x00\x00\x00\x00"
_PADS = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


class Header(NamedTuple):
    """RFC 9260 §3.1 — SCTP common header (checksum already verified)."""

    src_port: int
    dst_port: int
    vtag: int


class Chunk(NamedTuple):
    """RFC 9260 §3.2 — one chunk: type, flags and value (without header and padding)."""

    type: int
    flags: int
    value: bytes


class InitChunk(NamedTuple):
    """RFC 9260 §3.3.2 / §3.3.3 — fixed part and parameters of INIT and INIT ACK."""

    initiate_tag: int
    a_rwnd: int
    out_streams: int
    in_streams: int
    initial_tsn: int
    params: list[tuple[int, bytes]]


class DataChunk(NamedTuple):
    """RFC 9260 §3.3.1 — a DATA chunk's fields."""

    flags: int
    tsn: int
    stream: int
    ssn: int
    ppid: int
    data: bytes


def checksum(packet: bytes | bytearray) -> int:
    """RFC 9260 §6.8 / Appendix A — CRC32c over the packet with the checksum field zeroed."""
    # One pass over a copy beats three incremental calls for packets of NGAP size.
    return crc32c(packet[:8] + _ZERO4 + packet[12:])


def verify_checksum(packet: bytes) -> bool:
    """RFC 9260 §6.8 — True when the stored CRC32c matches the packet."""
    if len(packet) < COMMON_HEADER_LEN:
        return False
    return checksum(packet) == int.from_bytes(packet[8:12], "little")


def pad4(n: int) -> int:
    """Length rounded up to a multiple of four (RFC 9260 §3.2 chunk padding)."""
    return (n + 3) & ~3


def build_packet(src_port: int, dst_port: int, vtag: int, chunks: list[bytes] | tuple[bytes, ...]) -> bytes:
    """RFC 9260 §3.1, §6.8 — common header plus already-encoded chunks, with CRC32c."""
    key = (src_port, dst_port, vtag)
    hit = _HEAD_CRC.get(key)
    if hit is None:
        # An association sends every packet with the same header: its CRC32c (checksum
        # field zeroed) is computed once and the body's CRC continues from it.
        head = _HDR.pack(src_port, dst_port, vtag)
        hit = (head, crc32c(_ZERO4, crc32c(head)))
        if len(_HEAD_CRC) >= 4096:
            _HEAD_CRC.clear()
        _HEAD_CRC[key] = hit
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return hit[0] + crc32c(body, hit[1]).to_bytes(4, "little") + body


_HEAD_CRC: dict[tuple[int, int, int], tuple[bytes, int]] = {}


def encode_chunk(ctype: int, flags: int, value: bytes = b"") -> bytes:
    """RFC 9260 §3.2 — chunk header, value and zero padding to four bytes."""
    n = 4 + len(value)
    return _CHUNK_HDR.pack(ctype, flags, n) + value + _PADS[n & 3]


def encode_data(flags: int, tsn: int, stream: int, ssn: int, ppid: int, data: bytes) -> bytes:
    """RFC 9260 §3.3.1 — a DATA chunk."""
    n = DATA_HEADER_LEN + len(data)
    return _DATA_HDR.pack(DATA, flags, n, tsn, stream, ssn, ppid) + data + _PADS[n & 3]


def encode_param(ptype: int, value: bytes) -> bytes:
    """RFC 9260 §3.2.1 — a TLV parameter padded to four bytes."""
    n = 4 + len(value)
    return struct.pack("!HH", ptype, n) + value + _PADS[n & 3]


def join_tlvs(tlvs: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Concatenate padded TLVs for a chunk value; the last one loses its padding because it
    becomes the chunk's padding, which the Chunk Length must not count (RFC 9260 §3.2)."""
    if not tlvs:
        return b""
    last = tlvs[-1]
    n = int.from_bytes(last[2:4], "big") if len(last) >= 4 else len(last)
    return b"".join(tlvs[:-1]) + last[:n]


def encode_init(
    ctype: int, tag: int, a_rwnd: int, out_streams: int, in_streams: int, tsn: int,
    params: list[bytes] | tuple[bytes, ...] = (),
) -> bytes:
    """RFC 9260 §3.3.2 / §3.3.3 — INIT or INIT ACK with already-encoded parameters."""
    return encode_chunk(ctype, 0, _INIT_FIXED.pack(tag, a_rwnd, out_streams, in_streams, tsn) + join_tlvs(params))


def encode_cause(code: int, info: bytes = b"") -> bytes:
    """RFC 9260 §3.3.10 — one error cause as the whole value of an ABORT or ERROR chunk."""
    return join_tlvs([encode_param(code, info)])


def encode_sack(cum_tsn: int, a_rwnd: int, gaps: list[tuple[int, int]], dups: list[int]) -> bytes:
    """RFC 9260 §3.3.4 — SACK with gap ack block offsets and duplicate TSNs."""
    value = struct.pack("!IIHH", cum_tsn, a_rwnd, len(gaps), len(dups))
    if gaps:
        value += struct.pack(f"!{2 * len(gaps)}H", *[x for g in gaps for x in g])
    if dups:
        value += struct.pack(f"!{len(dups)}I", *dups)
    return encode_chunk(SACK, 0, value)


def parse_header(packet: bytes) -> Header:
    """RFC 9260 §3.1 — ports and verification tag."""
    if len(packet) < COMMON_HEADER_LEN:
        raise SctpDecodeError("packet shorter than the common header")
    return Header(*_HDR.unpack_from(packet, 0))


def parse_chunks(packet: bytes) -> list[Chunk]:
    """RFC 9260 §3.2 — split the chunks of a packet; the last chunk may omit its padding."""
    n = len(packet)
    pos = COMMON_HEADER_LEN
    out: list[Chunk] = []
    unpack = _CHUNK_HDR.unpack_from
    while pos < n:
        if n - pos < 4:
            raise SctpDecodeError("truncated chunk header")
        ctype, flags, length = unpack(packet, pos)
        if length < 4:
            raise SctpDecodeError(f"chunk length {length} < 4")
        end = pos + length
        if end > n:
            raise SctpDecodeError("chunk runs past the end of the packet")
        out.append(Chunk(ctype, flags, packet[pos + 4 : end]))
        pos = (end + 3) & ~3
    if not out:
        raise SctpDecodeError("packet without chunks")
    return out


def parse_params(value: bytes, offset: int = 0) -> list[tuple[int, bytes]]:
    """RFC 9260 §3.2.1 — TLV parameters; the last may omit its padding."""
    out: list[tuple[int, bytes]] = []
    pos = offset
    n = len(value)
    while pos < n:
        if n - pos < 4:
            raise SctpDecodeError("truncated parameter header")
        ptype, length = struct.unpack_from("!HH", value, pos)
        if length < 4 or pos + length > n:
            raise SctpDecodeError("bad parameter length")
        out.append((ptype, value[pos + 4 : pos + length]))
        pos = (pos + length + 3) & ~3
    return out


def parse_init(value: bytes) -> InitChunk:
    """RFC 9260 §3.3.2 / §3.3.3 — INIT or INIT ACK value."""
    if len(value) < 16:
        raise SctpDecodeError("INIT shorter than its fixed part")
    tag, a_rwnd, os_, mis, tsn = _INIT_FIXED.unpack_from(value, 0)
    return InitChunk(tag, a_rwnd, os_, mis, tsn, parse_params(value, 16))


def parse_data(flags: int, value: bytes) -> DataChunk:
    """RFC 9260 §3.3.1 — DATA value (after the chunk header)."""
    if len(value) < 12:
        raise SctpDecodeError("DATA shorter than its header")
    tsn, stream, ssn, ppid = struct.unpack_from("!IHHI", value, 0)
    return DataChunk(flags, tsn, stream, ssn, ppid, value[12:])


def parse_causes(value: bytes) -> list[tuple[int, bytes]]:
    """RFC 9260 §3.3.10 — error causes of an ABORT or ERROR chunk."""
    return parse_params(value)


def describe_causes(value: bytes) -> str:
    """Human-readable summary of error causes, for logs and events."""
    try:
        causes = parse_causes(value)
    except SctpDecodeError:
        return "malformed causes"
    names = {
        CAUSE_INVALID_STREAM: "invalid stream",
        CAUSE_MISSING_PARAM: "missing mandatory parameter",
        CAUSE_STALE_COOKIE: "stale cookie",
        CAUSE_OUT_OF_RESOURCE: "out of resource",
        CAUSE_UNRECOGNIZED_CHUNK: "unrecognized chunk type",
        CAUSE_INVALID_PARAM: "invalid mandatory parameter",
        CAUSE_NO_USER_DATA: "no user data",
        CAUSE_COOKIE_WHILE_SHUTTING_DOWN: "cookie received while shutting down",
        CAUSE_RESTART_NEW_ADDRESSES: "restart of an association with new addresses",
        CAUSE_USER_ABORT: "user-initiated abort",
        CAUSE_PROTOCOL_VIOLATION: "protocol violation",
    }
    parts = []
    for code, info in causes:
        name = names.get(code, f"cause {code}")
        if code in (CAUSE_USER_ABORT, CAUSE_PROTOCOL_VIOLATION) and info:
            name += ": " + info.decode("utf-8", "replace")
        parts.append(name)
    return ", ".join(parts) or "no cause"
