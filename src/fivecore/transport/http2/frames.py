"""RFC 9113 frame layout and stateless RFC 7541 HPACK encoding, shared by the SBI client and server.

Both ends of fivecore's HTTP/2 are written directly on the RFCs (the generic ``h2`` state
machine cost several times more CPU per request). Header blocks are encoded *without* touching
the HPACK dynamic table, so a block depends only on its headers and can be cached; blocks from
the peer are decoded with the ``hpack`` package, which keeps the peer's dynamic table.
"""

from __future__ import annotations

import struct

from hpack.table import HeaderTable

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
# frame types (§6) and flags
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# error codes (§7)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = 0x5, 0x6, 0x7, 0x8, 0x9
# settings (§6.5.2)
S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
S_INITIAL_WINDOW_SIZE, S_MAX_FRAME_SIZE, S_MAX_HEADER_LIST_SIZE = 0x4, 0x5, 0x6
MAX_WINDOW = 0x7FFFFFFF
DEFAULT_FRAME = 16384

FRAME_HEADER = struct.Struct("!HBBBL")  # 24-bit length as H+B, type, flags, stream id

# RFC 7541 Appendix A static-table indices
_STATIC_NAME = {b":authority": 1, b":method": 2, b":path": 4, b":scheme": 6, b":status": 8,
                b"accept": 19, b"content-length": 28, b"content-type": 31, b"date": 33,
                b"location": 46, b"retry-after": 53, b"server": 54}
_STATIC_FULL = {(b":method", b"GET"): 2, (b":method", b"POST"): 3, (b":scheme", b"http"): 6,
                (b":scheme", b"https"): 7, (b":status", b"200"): 8, (b":status", b"204"): 9,
                (b":status", b"206"): 10, (b":status", b"304"): 11, (b":status", b"400"): 12,
                (b":status", b"404"): 13, (b":status", b"500"): 14}


class FrameError(Exception):
    """A frame breaks RFC 9113 (the connection must end with GOAWAY); ``code`` is the §7 error."""

    def __init__(self, msg: str, code: int = PROTOCOL_ERROR) -> None:
        super().__init__(msg)
        self.code = code


def frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    """One frame (§4.1)."""
    n = len(payload)
    return FRAME_HEADER.pack(n >> 8, n & 0xFF, ftype, flags, sid) + payload


def hpack_int(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 §5.1 integer with an N-bit prefix; ``first`` carries the pattern bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_str(data: bytes) -> bytes:
    return hpack_int(len(data), 7, 0x00) + data  # RFC 7541 §5.2, no Huffman


def encode_headers(headers: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """Stateless HPACK (RFC 7541): static-table hits or literals *without indexing* (§6.2.2)."""
    out = bytearray()
    for name, value in headers:
        full = _STATIC_FULL.get((name, value))
        if full is not None:
            out += hpack_int(full, 7, 0x80)  # §6.1 indexed header field
            continue
        idx = _STATIC_NAME.get(name)
        out += hpack_int(idx, 4, 0x00) if idx is not None else b"\x00" + hpack_str(name)
        out += hpack_str(value)
    return bytes(out)


_STATIC = HeaderTable.STATIC_TABLE  # RFC 7541 Appendix A, entries 1..61 at [0..60]


def _int(block: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
    limit = (1 << prefix_bits) - 1
    value = block[pos] & limit
    pos += 1
    if value < limit:
        return value, pos
    shift = 0
    while True:
        b = block[pos]
        pos += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
        if shift > 28:
            raise IndexError("HPACK integer too long")


def decode_static_block(block: bytes) -> list[tuple[bytes, bytes]] | None:
    """Decode a header block that leaves the HPACK dynamic table alone, or None.

    Blocks made only of static-table references and literals without indexing / never indexed
    (§6.1, §6.2.2, §6.2.3) with raw strings, which is what :func:`encode_headers` writes,
    decode here in a fraction of the general decoder's time. Anything else (an indexed
    dynamic entry, incremental indexing, a table size update, a Huffman string) returns None:
    the caller then hands the same block to its ``hpack.Decoder``, whose table this path never
    touches, so the two stay in step. Malformed octets raise ``IndexError``/``ValueError``.
    """
    out: list[tuple[bytes, bytes]] = []
    pos, end = 0, len(block)
    while pos < end:
        b = block[pos]
        if b & 0x80:  # §6.1 indexed header field
            idx, pos = _int(block, pos, 7)
            if not 1 <= idx <= 61:
                return None
            out.append(_STATIC[idx - 1])
            continue
        if b & 0xE0 != 0:  # 01xxxxxx incremental indexing, 001xxxxx table size update
            return None
        idx, pos = _int(block, pos, 4)  # §6.2.2 / §6.2.3: 0000xxxx or 0001xxxx
        if idx:
            if idx > 61:
                return None
            name: bytes | None = _STATIC[idx - 1][0]
        else:
            name, pos = _raw_string(block, pos)
        value, pos = _raw_string(block, pos)
        if name is None or value is None:
            return None
        out.append((name, value))
    return out


def _raw_string(block: bytes, pos: int) -> tuple[bytes | None, int]:
    """§5.2 string literal at ``pos``; None for a Huffman-coded one (the caller falls back)."""
    if block[pos] & 0x80:
        return None, pos
    n, pos = _int(block, pos, 7)
    data = block[pos:pos + n]
    if len(data) != n:
        raise ValueError("truncated string literal")
    return data, pos + n


class BlockCache:
    """Encoded header blocks by their header list: stateless HPACK makes a block reusable."""

    def __init__(self, limit: int = 512) -> None:
        self.limit = limit
        self._blocks: dict[tuple[tuple[bytes, bytes], ...], bytes] = {}

    def block(self, headers: tuple[tuple[bytes, bytes], ...]) -> bytes:
        block = self._blocks.get(headers)
        if block is None:
            block = encode_headers(headers)
            if len(self._blocks) > self.limit:
                self._blocks.clear()
            self._blocks[headers] = block
        return block


def header_frames(sid: int, block: bytes, end_stream: bool, max_frame: int) -> list[bytes]:
    """HEADERS, plus CONTINUATION frames when the block exceeds the peer's frame size (§6.10)."""
    end = END_STREAM if end_stream else 0
    if len(block) <= max_frame:
        return [frame(HEADERS, end | END_HEADERS, sid, block)]
    out = [frame(HEADERS, end, sid, block[:max_frame])]
    rest = block[max_frame:]
    while rest:
        chunk, rest = rest[:max_frame], rest[max_frame:]
        out.append(frame(CONTINUATION, 0 if rest else END_HEADERS, sid, chunk))
    return out


def unpad(payload: bytes) -> bytes:
    """Strip §6.1 padding (DATA and HEADERS with PADDED)."""
    if not payload:
        raise FrameError("padded frame without pad length")
    pad = payload[0]
    if pad >= len(payload):
        raise FrameError("padding longer than the frame")
    return payload[1 : len(payload) - pad]
