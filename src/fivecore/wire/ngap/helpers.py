"""Builders and readers for the NGAP IEs the AMF and the gNB simulator use most (TS 38.413 §9.3).

All values are in the plain notation :class:`fivecore.wire.ngap.NgapPdu` uses::

    ies = {
        "RAN-UE-NGAP-ID": 1,
        "NAS-PDU": nas_bytes,
        "UserLocationInformation": user_location_nr("00101", tac=1, nci=0x10),
        "RRCEstablishmentCause": "mo-Signalling",
    }
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.nas.ies import plmn_from_bytes, plmn_to_bytes


def plmn(s: str) -> bytes:
    """PLMNIdentity from ``"00101"`` (TS 38.413 §9.3.3.5, TS 24.008 BCD)."""
    return plmn_to_bytes(s)


def plmn_str(b: bytes) -> str:
    """``"00101"`` from a PLMNIdentity; raises DecodeError on bad BCD."""
    if len(b) != 3:
        raise DecodeError("PLMN identity must be 3 octets", -1, "NGAP")
    return plmn_from_bytes(b)


def tac(v: int) -> bytes:
    """TAC, 3 octets (TS 38.413 §9.3.3.10)."""
    return v.to_bytes(3, "big")


def tai(plmn_id: str, tac_value: int) -> dict[str, Any]:
    """TAI (TS 38.413 §9.3.3.11)."""
    return {"pLMNIdentity": plmn(plmn_id), "tAC": tac(tac_value)}


def tai_from(v: dict[str, Any]) -> tuple[str, int]:
    return plmn_str(v["pLMNIdentity"]), int.from_bytes(v["tAC"], "big")


def nr_cgi(plmn_id: str, nci: int) -> dict[str, Any]:
    """NR-CGI with a 36-bit NR cell identity (TS 38.413 §9.3.1.7)."""
    if not 0 <= nci < 1 << 36:
        raise EncodeError("NR cell identity is 36 bits")
    return {"pLMNIdentity": plmn(plmn_id), "nRCellIdentity": (nci, 36)}


def nr_cgi_from(v: dict[str, Any]) -> tuple[str, int]:
    return plmn_str(v["pLMNIdentity"]), v["nRCellIdentity"][0]


def user_location_nr(plmn_id: str, tac: int, nci: int, cell_plmn: str | None = None) -> tuple[str, dict[str, Any]]:
    """UserLocationInformation, NR choice (TS 38.413 §9.3.1.16)."""
    return ("userLocationInformationNR",
            {"nR-CGI": nr_cgi(cell_plmn or plmn_id, nci), "tAI": tai(plmn_id, tac)})


def user_location_from(v: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"plmn", "tac", "nci", "cell_plmn"}`` of an NR UserLocationInformation."""
    alt, d = v
    if alt != "userLocationInformationNR":
        raise DecodeError(f"user location {alt} is not NR", -1, "NGAP")
    p, t = tai_from(d["tAI"])
    cp, nci = nr_cgi_from(d["nR-CGI"])
    return {"plmn": p, "tac": t, "nci": nci, "cell_plmn": cp}


def guami(plmn_id: str, region: int, set_id: int, pointer: int) -> dict[str, Any]:
    """GUAMI (TS 38.413 §9.3.3.3): region 8 bits, set 10 bits, pointer 6 bits."""
    return {"pLMNIdentity": plmn(plmn_id), "aMFRegionID": (region, 8), "aMFSetID": (set_id, 10),
            "aMFPointer": (pointer, 6)}


def guami_from(v: dict[str, Any]) -> tuple[str, int, int, int]:
    return (plmn_str(v["pLMNIdentity"]), v["aMFRegionID"][0], v["aMFSetID"][0],
            v["aMFPointer"][0])


def s_nssai(sst: int, sd: int | None = None) -> dict[str, Any]:
    """S-NSSAI (TS 38.413 §9.3.1.24)."""
    d: dict[str, Any] = {"sST": bytes((sst,))}
    if sd is not None:
        d["sD"] = sd.to_bytes(3, "big")
    return d


def s_nssai_from(v: dict[str, Any]) -> tuple[int, int | None]:
    sd = v.get("sD")
    return v["sST"][0], None if sd is None else int.from_bytes(sd, "big")


def global_gnb_id(plmn_id: str, gnb_id: int, bits: int = 22) -> tuple[str, dict[str, Any]]:
    """GlobalRANNodeID, gNB choice (TS 38.413 §9.3.1.5); ``bits`` 22..32."""
    if not 22 <= bits <= 32 or not 0 <= gnb_id < 1 << bits:
        raise EncodeError("gNB ID must fit in 22..32 bits")
    return ("globalGNB-ID", {"pLMNIdentity": plmn(plmn_id), "gNB-ID": ("gNB-ID", (gnb_id, bits))})


def global_gnb_id_from(v: tuple[str, dict[str, Any]]) -> tuple[str, int, int]:
    alt, d = v
    if alt != "globalGNB-ID":
        raise DecodeError(f"RAN node {alt} is not a gNB", -1, "NGAP")
    gid, bits = d["gNB-ID"][1]
    return plmn_str(d["pLMNIdentity"]), gid, bits


def supported_ta_list(items: Iterable[tuple[int, str, Iterable[tuple[int, int | None]]]]) -> list[dict[str, Any]]:
    """SupportedTAList from ``[(tac, plmn, [(sst, sd), ...]), ...]`` (TS 38.413 §9.3.3.x)."""
    out = []
    for t, p, slices in items:
        out.append({"tAC": tac(t), "broadcastPLMNList": [{
            "pLMNIdentity": plmn(p),
            "tAISliceSupportList": [{"s-NSSAI": s_nssai(sst, sd)} for sst, sd in slices]}]})
    return out


def served_guami_list(items: Iterable[tuple[str, int, int, int]]) -> list[dict[str, Any]]:
    return [{"gUAMI": guami(*g)} for g in items]


def plmn_support_list(items: Iterable[tuple[str, Iterable[tuple[int, int | None]]]]) -> list[dict[str, Any]]:
    return [{"pLMNIdentity": plmn(p), "sliceSupportList": [{"s-NSSAI": s_nssai(sst, sd)}
                                                           for sst, sd in slices]}
            for p, slices in items]


def _alg_bits(algs: Iterable[int]) -> tuple[int, int]:
    m = 0
    for a in algs:
        if a == 0:
            continue  # NEA0/NIA0 are implicit (TS 38.413 §9.3.1.86)
        if not 1 <= a <= 16:
            raise EncodeError(f"algorithm {a} out of range")
        m |= 1 << (16 - a)
    return (m, 16)


def ue_security_capabilities(nea: Iterable[int] = (1, 2, 3), nia: Iterable[int] = (1, 2, 3),
                             eea: Iterable[int] = (), eia: Iterable[int] = ()) -> dict[str, Any]:
    """UESecurityCapabilities (TS 38.413 §9.3.1.86): first bit = algorithm 1."""
    return {"nRencryptionAlgorithms": _alg_bits(nea), "nRintegrityProtectionAlgorithms": _alg_bits(nia),
            "eUTRAencryptionAlgorithms": _alg_bits(eea),
            "eUTRAintegrityProtectionAlgorithms": _alg_bits(eia)}


def ue_security_capabilities_from(v: dict[str, Any]) -> dict[str, list[int]]:
    def algs(bs: tuple[int, int]) -> list[int]:
        val, n = bs
        return [i + 1 for i in range(n) if val >> (n - 1 - i) & 1]

    return {"nea": algs(v["nRencryptionAlgorithms"]),
            "nia": algs(v["nRintegrityProtectionAlgorithms"]),
            "eea": algs(v["eUTRAencryptionAlgorithms"]),
            "eia": algs(v["eUTRAintegrityProtectionAlgorithms"])}


def security_key(key: bytes) -> tuple[int, int]:
    """SecurityKey (KgNB), a 256-bit BIT STRING."""
    if len(key) != 32:
        raise EncodeError("security key must be 32 octets")
    return (int.from_bytes(key, "big"), 256)


# A node talks to a few tunnel endpoints (its UPFs, its gNBs) in every PDU session: the
# address conversions below are remembered (bounded, valid addresses only).
_ADDR_CACHE_MAX = 256
_TLA_OF: dict[str, tuple[int, int]] = {}
_IP_OF: dict[tuple[int, int], str] = {}


def gtp_tunnel(ip: str, teid: int) -> tuple[str, dict[str, Any]]:
    """UPTransportLayerInformation, GTP tunnel choice (TS 38.413 §9.3.2.2)."""
    tla = _TLA_OF.get(ip) if type(ip) is str else None
    if tla is None:
        packed = ipaddress.ip_address(ip).packed
        tla = (int.from_bytes(packed, "big"), len(packed) * 8)
        if type(ip) is str and len(_TLA_OF) < _ADDR_CACHE_MAX:
            _TLA_OF[ip] = tla
    return ("gTPTunnel", {"transportLayerAddress": tla, "gTP-TEID": teid.to_bytes(4, "big")})


def gtp_tunnel_from(v: tuple[str, dict[str, Any]]) -> tuple[str, int]:
    alt, d = v
    if alt != "gTPTunnel":
        raise DecodeError(f"UP transport {alt} is not a GTP tunnel", -1, "NGAP")
    tla = d["transportLayerAddress"]
    ip = _IP_OF.get(tla) if type(tla) is tuple else None
    if ip is None:
        val, bits = tla
        if bits == 32:
            ip = str(ipaddress.IPv4Address(val))
        elif bits == 128:
            ip = str(ipaddress.IPv6Address(val))
        elif bits == 160:
            ip = str(ipaddress.IPv4Address(val >> 128))
        else:
            raise DecodeError(f"transport layer address of {bits} bits", -1, "NGAP")
        if type(tla) is tuple and len(_IP_OF) < _ADDR_CACHE_MAX:
            _IP_OF[tla] = ip
    return ip, int.from_bytes(d["gTP-TEID"], "big")


def five_g_s_tmsi(set_id: int, pointer: int, tmsi: int) -> dict[str, Any]:
    """FiveG-S-TMSI (TS 38.413 §9.3.3.20)."""
    return {"aMFSetID": (set_id, 10), "aMFPointer": (pointer, 6), "fiveG-TMSI": tmsi.to_bytes(4, "big")}


def cause(group: str, value: str) -> tuple[str, str]:
    """Cause (TS 38.413 §9.3.1.2), e.g. ``cause("nas", "normal-release")``."""
    return (group, value)
