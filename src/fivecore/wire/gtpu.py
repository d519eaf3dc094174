"""GTP-U (TS 29.281) with the PDU Session Container extension header (TS 38.415 §5.5.2).

The datapath functions (:func:`encap`, :func:`write_header`, :func:`decap`) work on bytes and
bytearrays and return plain ints and tuples — no per-packet objects::

    pkt = gtpu.encap(teid, ip_packet, qfi=1)            # DL G-PDU, N3 towards the gNB
    teid, qfi, off = gtpu.decap(pkt)                    # UL: inner packet is pkt[off:]
    hlen = gtpu.write_header(buf, 0, teid, plen, qfi=1) # into a bytearray with headroom

Path management and error handling (echo request/response with Recovery, error indication
with TEID Data I and GTP-U Peer Address, end marker) have builders and :func:`decode` returns a
:class:`GtpuMessage` for tools (``fivecore decode``) and the control side.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

from fivecore.wire.errors import DecodeError, EncodeError

ECHO_REQUEST = 1
ECHO_RESPONSE = 2
ERROR_INDICATION = 26
SUPPORTED_EXT_HEADERS = 31
END_MARKER = 254
G_PDU = 255

MESSAGE_NAMES = {ECHO_REQUEST: "EchoRequest", ECHO_RESPONSE: "EchoResponse",
                 ERROR_INDICATION: "ErrorIndication",
                 SUPPORTED_EXT_HEADERS: "SupportedExtensionHeadersNotification",
                 END_MARKER: "EndMarker", G_PDU: "G-PDU"}

EXT_PDU_SESSION_CONTAINER = 0x85
EXT_UDP_PORT = 0x40
EXT_PDCP_PDU_NUMBER = 0xC0
_KNOWN_EXT = frozenset((EXT_PDU_SESSION_CONTAINER, EXT_UDP_PORT, EXT_PDCP_PDU_NUMBER, 0x20))
PDU_TYPE_DL = 0  # DL PDU SESSION INFORMATION, TS 38.415 §5.5.2.1
PDU_TYPE_UL = 1  # UL PDU SESSION INFORMATION, TS 38.415 §5.5.2.2

IE_RECOVERY = 14
IE_TEID_DATA_I = 16
IE_PEER_ADDRESS = 133
IE_PRIVATE_EXTENSION = 255

GTPU_PORT = 2152

_H8 = struct.Struct("!BBHI")
_H16 = struct.Struct("!BBHIHBBBBBB")  # + seq, npdu, next=0x85, ext len=1, pdu type, qfi, next=0
_H12 = struct.Struct("!BBHIHBB")


def _err(reason: str, off: int = -1) -> DecodeError:
    return DecodeError(reason, off, "GTP-U")


# ---------------------------------------------------------------------------------------------
# Datapath
# ---------------------------------------------------------------------------------------------


def encap(teid: int, payload: bytes, qfi: int | None = None, pdu_type: int = PDU_TYPE_DL,
          rqi: bool = False) -> bytes:
    """G-PDU around ``payload`` (TS 29.281 §5.1), with a PDU Session Container when ``qfi`` is
    given (TS 38.415 §5.5.2: DL or UL PDU SESSION INFORMATION)."""
    if qfi is None:
        return _H8.pack(0x30, G_PDU, len(payload), teid) + payload
    return _H16.pack(0x34, G_PDU, len(payload) + 8, teid, 0, 0, EXT_PDU_SESSION_CONTAINER, 1,
                     pdu_type << 4, (0x40 if rqi else 0) | qfi, 0) + payload


def header_length(qfi: int | None) -> int:
    """Octets :func:`write_header` puts in front of the payload."""
    return 8 if qfi is None else 16


def write_header(buf: bytearray, offset: int, teid: int, payload_len: int, qfi: int | None = None,
                 pdu_type: int = PDU_TYPE_DL) -> int:
    """Write a G-PDU header at ``buf[offset:]`` for a payload that follows it; returns its length."""
    if qfi is None:
        _H8.pack_into(buf, offset, 0x30, G_PDU, payload_len, teid)
        return 8
    _H16.pack_into(buf, offset, 0x34, G_PDU, payload_len + 8, teid, 0, 0,
                   EXT_PDU_SESSION_CONTAINER, 1, pdu_type << 4, qfi, 0)
    return 16


def decap(data: bytes | bytearray | memoryview) -> tuple[int, int, int]:
    """Parse a G-PDU: ``(teid, qfi, payload_offset)``; qfi is -1 without a PDU Session Container.

    Raises DecodeError for anything that is not a well-formed G-PDU (TS 29.281 §5.1).
    """
    n = len(data)
    if n < 8:
        raise _err("shorter than a GTP-U header", 0)
    flags = data[0]
    if flags & 0xF0 != 0x30:
        raise _err("not GTPv1-U (version/PT)", 0)
    if data[1] != G_PDU:
        raise _err(f"message type {data[1]} is not a G-PDU", 1)
    ln = (data[2] << 8) | data[3]
    if ln + 8 != n:
        raise _err(f"length field {ln} does not match {n - 8} octets", 2)
    teid = (data[4] << 24) | (data[5] << 16) | (data[6] << 8) | data[7]
    if not flags & 0x07:
        return teid, -1, 8
    if n < 12:
        raise _err("optional header fields truncated", 8)
    qfi = -1
    nxt = data[11] if flags & 0x04 else 0
    pos = 12
    while nxt:
        if pos >= n:
            raise _err("extension header truncated", pos)
        el = data[pos] * 4
        if el == 0 or pos + el > n:
            raise _err("bad extension header length", pos)
        if nxt == EXT_PDU_SESSION_CONTAINER and el >= 4:
            qfi = data[pos + 2] & 0x3F
        elif nxt & 0x80 and nxt not in _KNOWN_EXT:
            # TS 29.281 §5.2.1: an unknown "comprehension required" header -> drop the packet.
            raise _err(f"unsupported comprehension-required extension {nxt:#x}", pos)
        nxt = data[pos + el - 1]
        pos += el
    return teid, qfi, pos


# ---------------------------------------------------------------------------------------------
# Whole messages (signalling, tools)
# ---------------------------------------------------------------------------------------------


class GtpuMessage(NamedTuple):
    """A decoded GTP-U message. ``ext_headers`` is ``[(type, contents), ...]`` where contents
    excludes the length octet and the next-type octet; ``ies`` is ``[(type, value bytes)]``."""

    msg_type: int
    teid: int
    payload: bytes = b""
    seq: int | None = None
    n_pdu: int | None = None
    ext_headers: tuple[tuple[int, bytes], ...] = ()
    ies: tuple[tuple[int, bytes], ...] = ()

    @property
    def name(self) -> str:
        return MESSAGE_NAMES.get(self.msg_type, f"type-{self.msg_type}")

    @property
    def qfi(self) -> int | None:
        for t, c in self.ext_headers:
            if t == EXT_PDU_SESSION_CONTAINER and len(c) >= 2:
                return c[1] & 0x3F
        return None

    @property
    def pdu_type(self) -> int | None:
        for t, c in self.ext_headers:
            if t == EXT_PDU_SESSION_CONTAINER and c:
                return c[0] >> 4
        return None

    def ie(self, ie_type: int) -> bytes | None:
        for t, v in self.ies:
            if t == ie_type:
                return v
        return None

    @property
    def recovery(self) -> int | None:
        v = self.ie(IE_RECOVERY)
        return None if v is None else v[0]

    @property
    def teid_data_i(self) -> int | None:
        v = self.ie(IE_TEID_DATA_I)
        return None if v is None else int.from_bytes(v, "big")

    @property
    def peer_address(self) -> str | None:
        v = self.ie(IE_PEER_ADDRESS)
        return None if v is None else str(ipaddress.ip_address(v))


# TS 29.281 §8: TV IEs with fixed lengths; type >= 128 is TLV (2-octet length).
_TV_LEN = {IE_RECOVERY: 1, IE_TEID_DATA_I: 4}


def decode(data: bytes | bytearray | memoryview) -> GtpuMessage:
    """Decode any GTP-U message (TS 29.281 §5, §7, §8)."""
    data = bytes(data)
    n = len(data)
    if n < 8:
        raise _err("shorter than a GTP-U header", 0)
    flags, mt, ln, teid = _H8.unpack_from(data)
    if flags & 0xF0 != 0x30:
        raise _err("not GTPv1-U (version/PT)", 0)
    if flags & 0x08:
        raise _err("spare bit set", 0)
    if ln + 8 != n:
        raise _err(f"length field {ln} does not match {n - 8} octets", 2)
    seq = npdu = None
    exts: list[tuple[int, bytes]] = []
    pos = 8
    if flags & 0x07:
        if n < 12:
            raise _err("optional header fields truncated", 8)
        if flags & 0x02:
            seq = (data[8] << 8) | data[9]
        if flags & 0x01:
            npdu = data[10]
        nxt = data[11] if flags & 0x04 else 0
        pos = 12
        while nxt:
            if pos >= n:
                raise _err("extension header truncated", pos)
            el = data[pos] * 4
            if el == 0 or pos + el > n:
                raise _err("bad extension header length", pos)
            exts.append((nxt, data[pos + 1:pos + el - 1]))
            nxt = data[pos + el - 1]
            pos += el
    if mt == G_PDU:
        return GtpuMessage(mt, teid, data[pos:], seq, npdu, tuple(exts))
    ies: list[tuple[int, bytes]] = []
    while pos < n:
        t = data[pos]
        if t < 128:
            vl = _TV_LEN.get(t)
            if vl is None:
                raise _err(f"unknown TV information element {t}", pos)
            if pos + 1 + vl > n:
                raise _err("information element truncated", pos)
            ies.append((t, data[pos + 1:pos + 1 + vl]))
            pos += 1 + vl
        else:
            if pos + 3 > n:
                raise _err("information element truncated", pos)
            vl = (data[pos + 1] << 8) | data[pos + 2]
            if pos + 3 + vl > n:
                raise _err("information element overruns the message", pos)
            ies.append((t, data[pos + 3:pos + 3 + vl]))
            pos += 3 + vl
    if mt == ERROR_INDICATION:
        tl = [t for t, _ in ies]
        if IE_TEID_DATA_I not in tl or IE_PEER_ADDRESS not in tl:
            raise _err("error indication without TEID Data I / GTP-U Peer Address", n)
        pa = dict(ies)[IE_PEER_ADDRESS]
        if len(pa) not in (4, 16):
            raise _err("GTP-U peer address must be 4 or 16 octets", n)
    return GtpuMessage(mt, teid, b"", seq, npdu, tuple(exts), tuple(ies))


def encode(msg: GtpuMessage) -> bytes:
    """Encode a :class:`GtpuMessage` (inverse of :func:`decode`)."""
    body = bytearray()
    if msg.msg_type == G_PDU:
        body += msg.payload
    else:
        for t, v in msg.ies:
            if t < 128:
                if _TV_LEN.get(t) != len(v):
                    raise EncodeError(f"GTP-U TV IE {t} has the wrong length")
                body.append(t)
            else:
                body.append(t)
                body += len(v).to_bytes(2, "big")
            body += v
    flags = 0x30
    opt = bytearray()
    if msg.seq is not None or msg.n_pdu is not None or msg.ext_headers:
        flags |= (0x02 if msg.seq is not None else 0) | (0x01 if msg.n_pdu is not None else 0)
        flags |= 0x04 if msg.ext_headers else 0
        opt += (msg.seq or 0).to_bytes(2, "big") + bytes((msg.n_pdu or 0,))
        opt.append(msg.ext_headers[0][0] if msg.ext_headers else 0)
        for i, (_t, c) in enumerate(msg.ext_headers):
            if (len(c) + 2) % 4:
                raise EncodeError("extension header contents must make a multiple of 4 octets")
            opt.append((len(c) + 2) // 4)
            opt += c
            opt.append(msg.ext_headers[i + 1][0] if i + 1 < len(msg.ext_headers) else 0)
    total = len(opt) + len(body)
    if total > 0xFFFF or not 0 <= msg.teid <= 0xFFFFFFFF:
        raise EncodeError("GTP-U message too long or TEID out of range")
    return _H8.pack(flags, msg.msg_type, total, msg.teid) + bytes(opt) + bytes(body)


def build_echo_request(seq: int = 0) -> bytes:
    """Echo Request (TS 29.281 §7.2.1): TEID 0, sequence number present."""
    return _H12.pack(0x32, ECHO_REQUEST, 4, 0, seq, 0, 0)


def build_echo_response(seq: int, recovery: int = 0) -> bytes:
    """Echo Response (TS 29.281 §7.2.2) with the Recovery IE (restart counter, §8.2)."""
    return _H12.pack(0x32, ECHO_RESPONSE, 6, 0, seq, 0, 0) + bytes((IE_RECOVERY, recovery))


def build_error_indication(teid: int, peer: str, seq: int = 0) -> bytes:
    """Error Indication (TS 29.281 §7.3.1): TEID Data I and GTP-U Peer Address of the sender."""
    addr = ipaddress.ip_address(peer).packed
    ies = bytes((IE_TEID_DATA_I,)) + teid.to_bytes(4, "big") + bytes((IE_PEER_ADDRESS,)) + \
        len(addr).to_bytes(2, "big") + addr
    return _H12.pack(0x32, ERROR_INDICATION, 4 + len(ies), 0, seq, 0, 0) + ies


def build_end_marker(teid: int, qfi: int | None = None) -> bytes:
    """End Marker (TS 29.281 §7.3.2), optionally with a PDU Session Container."""
    if qfi is None:
        return _H8.pack(0x30, END_MARKER, 0, teid)
    return _H16.pack(0x34, END_MARKER, 8, teid, 0, 0, EXT_PDU_SESSION_CONTAINER, 1,
                     PDU_TYPE_DL << 4, qfi, 0)
