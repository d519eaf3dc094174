"""Protocol detection and JSON-able views of decoded messages (for ``fivecore decode`` and logs)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from fivecore.wire import gtpu, nas, pfcp
from fivecore.wire.errors import DecodeError

PROTOCOLS = ("ngap", "nas", "pfcp", "gtpu")

_HEX_JUNK = re.compile(r"0x|[\s:,\-]", re.IGNORECASE)


def parse_hex(text: str) -> bytes:
    """Hex text as people paste it: spaces, newlines, colons, commas and ``0x`` are ignored."""
    cleaned = _HEX_JUNK.sub("", text)
    if len(cleaned) % 2:
        raise DecodeError("odd number of hex digits")
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise DecodeError(f"not hex: {exc}") from None


def _decoder(proto: str) -> Any:
    if proto == "ngap":
        from fivecore.wire import ngap  # pycrate NGAP loads in ~0.5 s: only when needed

        return ngap.decode
    return {"nas": nas.decode, "pfcp": pfcp.decode, "gtpu": gtpu.decode}[proto]


def guess(data: bytes) -> list[str]:
    """Candidate protocols for ``data``, most likely first, from the first octet."""
    if not data:
        return []
    b = data[0]
    out = []
    if b in (nas.EPD_5GMM, nas.EPD_5GSM):
        out.append("nas")
    if b & 0xF0 == 0x30:
        out.append("gtpu")
    if 0x20 <= b <= 0x27:
        out.append("pfcp")
    if b in (0x00, 0x20, 0x40):
        out.append("ngap")
    for p in PROTOCOLS:
        if p not in out:
            out.append(p)
    return out


def decode_any(data: bytes, proto: str | None = None) -> tuple[str, Any]:
    """Decode with ``proto`` or the first protocol that accepts all of ``data``."""
    if proto:
        if proto not in PROTOCOLS:
            raise DecodeError(f"unknown protocol {proto!r}; one of {', '.join(PROTOCOLS)}")
        return proto, _decoder(proto)(data)
    errors = []
    for p in guess(data):
        try:
            return p, _decoder(p)(data)
        except DecodeError as exc:
            errors.append(f"{p}: {exc}")
    raise DecodeError("not NGAP, NAS, PFCP or GTP-U (" + "; ".join(errors) + ")")


def _nested_nas(b: bytes) -> Any:
    try:
        return to_plain(nas.decode(b))
    except DecodeError:
        return b.hex()


def to_plain(obj: Any) -> Any:
    """A JSON-able view: bytes as hex, dataclasses as dicts, nested NAS decoded."""
    from fivecore.wire.ngap import NgapPdu

    if isinstance(obj, nas.NasMessage):
        d: dict[str, Any] = {"protocol": "NAS-5GS", "message_type": obj.message_type}
        if obj.is_5gsm:
            d["pdu_session_id"] = obj.pdu_session_id
            d["pti"] = obj.pti
        ies = {}
        for k, v in obj.ies.items():
            if k in ("payload_container", "nas_message_container") and isinstance(v, bytes) and \
                    (k != "payload_container" or obj.get("payload_container_type") == 1):
                ies[k] = _nested_nas(v)
            else:
                ies[k] = to_plain(v)
        d["ies"] = ies
        if obj.cause_text:
            d["cause_text"] = obj.cause_text
        return d
    if isinstance(obj, nas.SecurityProtectedNasMessage):
        return {"protocol": "NAS-5GS", "message_type": "SecurityProtected",
                "security_header_type": obj.security_header_type,
                "security_header": nas.SECURITY_HEADER_TYPES.get(obj.security_header_type),
                "mac": obj.mac.hex(), "sqn": obj.sqn,
                "payload": obj.payload.hex() if obj.ciphered and not _plain_ok(obj)
                else _nested_nas(obj.payload)}
    if isinstance(obj, NgapPdu):
        ies = {}
        for k, v in obj.ies.items():
            val = _nested_nas(v) if k == "NAS-PDU" and isinstance(v, bytes) else to_plain(v)
            ies[k] = {"criticality": obj.ie_criticality.get(k), "value": val}
        return {"protocol": "NGAP", "procedure": obj.procedure, "procedure_code": obj.procedure_code,
                "kind": obj.kind, "message": obj.message, "criticality": obj.criticality, "ies": ies}
    if isinstance(obj, pfcp.PfcpMessage):
        return {"protocol": "PFCP", "message_type": obj.msg_type, "seq": obj.seq, "seid": obj.seid,
                "ies": to_plain(obj.ies)}
    if isinstance(obj, pfcp.Ies):
        return [{name: to_plain(v)} for name, v in obj]
    if isinstance(obj, gtpu.GtpuMessage):
        d = {"protocol": "GTP-U", "message_type": obj.name, "teid": obj.teid}
        if obj.seq is not None:
            d["seq"] = obj.seq
        if obj.qfi is not None:
            d["qfi"] = obj.qfi
            d["pdu_type"] = obj.pdu_type
        if obj.ext_headers:
            d["ext_headers"] = [{"type": t, "contents": c.hex()} for t, c in obj.ext_headers]
        if obj.ies:
            d["ies"] = [{"type": t, "value": v.hex()} for t, v in obj.ies]
        if obj.payload:
            d["payload"] = obj.payload.hex()
        return d
    if isinstance(obj, nas.MobileIdentity):
        d = to_plain(obj.relevant())
        if obj.supi:
            d["supi"] = obj.supi
        return d
    if isinstance(obj, nas.UeSecurityCapability):
        d = {"nea": obj.nea_list, "nia": obj.nia_list}
        if obj.eea is not None:
            d["eea"] = [i for i in range(8) if obj.supports_eea(i)]
        if obj.eia is not None:
            d["eia"] = [i for i in range(8) if obj.supports_eia(i)]
        return d
    if isinstance(obj, pfcp.Flags):
        return {"flags": f"{int(obj):#x}", "octets": obj.octets}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if getattr(obj, f.name) not in (None, b"", "") and f.compare}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).hex()
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (frozenset, set)):
        return sorted(to_plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


def _plain_ok(msg: nas.SecurityProtectedNasMessage) -> bool:
    # srsRAN and friends use NEA0 in tests: a "ciphered" payload is often readable.
    try:
        msg.plain()
        return True
    except DecodeError:
        return False
