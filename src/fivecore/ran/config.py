"""Simulator configuration: UERANSIM-style UE YAML, gNB settings, and how many of each.

A UE file as UERANSIM users write it works as is::

    supi: 'imsi-001010000000001'
    mcc: '001'
    mnc: '01'
    protectionScheme: 1                   # 0 null, 1 Profile A, 2 Profile B
    homeNetworkPublicKey: '5a8d...a650'
    homeNetworkPublicKeyId: 1
    routingIndicator: '0000'
    key: '465B5CE8B199B49FAA5F0A2EE238A6BC'
    op: 'E8ED289DEBA952E4283B54E88E6183CA'
    opType: 'OPC'                         # or 'OP'
    sessions: [{type: IPv4, apn: internet, slice: {sst: 1}}]
    configured-nssai: [{sst: 1}]
    default-nssai: [{sst: 1, sd: 1}]
    integrity: {IA1: true, IA2: true, IA3: true}
    ciphering: {EA1: true, EA2: true, EA3: true}

``sessions`` are the PDU sessions the UE asks for once registered (``fivecore ran --sessions``),
in order, PDU session IDs 1, 2, ...: ``type`` ``IPv4`` (the default), ``IPv6`` or ``IPv4v6``
(TS 24.501 §9.11.4.11 PDU session type 1, 2, 3), ``apn`` (or ``dnn``, default ``internet``)
and ``slice`` (default the first of ``default-nssai``)::

    sessions:
      - {type: IPv4, apn: internet, slice: {sst: 1}}
      - {type: IPv6, apn: internet}

fivecore additions (all optional): ``sqn`` (the USIM's highest accepted SQN, hex), ``IA0`` /
``EA0`` keys in ``integrity`` / ``ciphering``, and ``protectionSchemeCycle: [0, 1, 2]`` which
gives generated UEs (``--ues M``, IMSIs counting up from ``supi``) the schemes in turn.

A simulator file (``fivecore ran --config FILE``) has ``gnb:`` (mcc, mnc, tac, idBase, name,
slices, amfAddress, amfPort, nciBase, localAddress, extraAddresses, amfs) and ``ue:`` (a UE as above, inline or a
path) or ``ues:`` (a list of them).

Each gNB connects to one AMF, ``amfAddress``/``amfPort`` (default 127.0.0.5:38412), or to every
AMF of a list (an AMF Set, TS 23.501 §5.21.2), one NG Setup each, choosing the AMF per UE
(:func:`fivecore.ran.gnb.choose_amf`)::

    gnb:
      amfs:
        - {address: 127.0.0.5, port: 38412}    # port defaults to 38412
        - {address: 127.0.10.5}

``amfs`` replaces ``amfAddress``/``amfPort``; giving both is an error. ``fivecore ran --amf-set``
fills it from a running ``fivecore up``'s AMF Set members.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fivecore.errors import ConfigError
from fivecore.ran.ue import UeProfile
from fivecore.ran.usim import Usim, UsimError

DEFAULT_KEY = "465B5CE8B199B49FAA5F0A2EE238A6BC"
DEFAULT_OPC = "E8ED289DEBA952E4283B54E88E6183CA"


def _hex(d: dict[str, Any], key: str, n: int, where: str) -> bytes:
    v = d.get(key)
    try:
        b = bytes.fromhex(str(v))
    except ValueError:
        raise ConfigError(f"{where}.{key}: not hex") from None
    if len(b) != n:
        raise ConfigError(f"{where}.{key}: must be {n} bytes")
    return b


def _slices(v: Any, where: str) -> tuple[tuple[int, int | None], ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ConfigError(f"{where}: must be a list of {{sst, sd}}")
    out: list[tuple[int, int | None]] = []
    for s in v:
        if not isinstance(s, dict) or "sst" not in s:
            raise ConfigError(f"{where}: each slice needs sst")
        sd = s.get("sd")
        if isinstance(sd, str):
            sd = int(sd, 16) if not sd.isdigit() or len(sd) == 6 else int(sd)
        out.append((int(s["sst"]), None if sd is None else int(sd)))
    return tuple(out)


def _algs(v: Any, prefix: str, default: tuple[int, ...], where: str) -> tuple[int, ...]:
    if v is None:
        return default
    if not isinstance(v, dict):
        raise ConfigError(f"{where}: must be a mapping like {{{prefix}1: true}}")
    out = []
    for k, on in v.items():
        if not str(k).upper().startswith(prefix) or not str(k)[len(prefix):].isdigit():
            raise ConfigError(f"{where}.{k}: unknown algorithm")
        if on:
            out.append(int(str(k)[len(prefix):]))
    return tuple(sorted(out))


#: UERANSIM's session ``type`` names -> TS 24.501 §9.11.4.11 PDU session type values
PDU_SESSION_TYPES = {"IPV4": 1, "IPV6": 2, "IPV4V6": 3}
#: and back, spelled as UERANSIM users write them
PDU_SESSION_TYPE_NAMES = {1: "IPv4", 2: "IPv6", 3: "IPv4v6"}


@dataclass(frozen=True)
class SessionTemplate:
    """One entry of a UE's ``sessions`` list: what :meth:`fivecore.ran.userplane.UserPlane.establish`
    is asked for (TS 24.501 §6.4.1.2 PDU Session Establishment Request)."""

    psi: int
    pdu_type: int = 1
    dnn: str = "internet"
    snssai: tuple[int, int | None] | None = None

    @property
    def type_name(self) -> str:
        return PDU_SESSION_TYPE_NAMES[self.pdu_type]


def _sessions(v: Any, default_slice: tuple[int, int | None], where: str) -> tuple[SessionTemplate, ...]:
    """The UERANSIM ``sessions`` list -> :class:`SessionTemplate` s; ConfigError names the bad entry."""
    if v is None:
        return ()
    if not isinstance(v, list):
        raise ConfigError(f"{where}: must be a list of {{type, apn, slice}}")
    if len(v) > 15:
        # TS 24.007 §11.2.3.1b: PDU session identity values 1..15
        raise ConfigError(f"{where}: at most 15 PDU sessions")
    out = []
    for i, item in enumerate(v):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: must be a mapping like {{type: IPv4, apn: internet}}")
        unknown = set(item) - {"type", "apn", "dnn", "slice", "emergency"}
        if unknown:
            raise ConfigError(f"{at}.{sorted(map(str, unknown))[0]}: unknown key")
        if item.get("emergency"):
            raise ConfigError(f"{at}.emergency: emergency PDU sessions are not simulated")
        kind = item.get("type", "IPv4")
        pdu_type = PDU_SESSION_TYPES.get(str(kind).upper()) if isinstance(kind, str) else None
        if pdu_type is None:
            raise ConfigError(f"{at}.type: must be IPv4, IPv6 or IPv4v6")
        dnn = item.get("apn", item.get("dnn", "internet"))
        if not isinstance(dnn, str) or not dnn or len(dnn) > 100 or not dnn.isprintable() or " " in dnn:
            raise ConfigError(f"{at}.apn: not a DNN")
        sl = item.get("slice")
        snssai = _session_slice(sl, f"{at}.slice") if sl is not None else default_slice
        out.append(SessionTemplate(psi=i + 1, pdu_type=pdu_type, dnn=dnn, snssai=snssai))
    return tuple(out)


def _session_slice(v: Any, where: str) -> tuple[int, int | None]:
    """``{sst, sd}`` of one session -> S-NSSAI (TS 23.003 §28.4.2: SST 8 bits, SD 24 bits)."""
    try:
        ((sst, sd),) = _slices([v], where)
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: sst and sd must be numbers (sd also 6 hex digits)") from None
    if not 0 <= sst <= 0xFF or (sd is not None and not 0 <= sd <= 0xFFFFFF):
        raise ConfigError(f"{where}: sst must be 0..255 and sd 0..0xFFFFFF")
    return sst, sd


@dataclass
class UeTemplate:
    """One UE description; ``make(i)`` builds the i-th UE (IMSI + i)."""

    imsi: str
    mcc: str
    mnc: str
    k: bytes
    opc: bytes | None
    op: bytes | None
    protection_scheme: int
    scheme_cycle: tuple[int, ...]
    hn_public_keys: dict[int, bytes]
    hn_key_id: int
    routing_indicator: str
    sqn: int
    profile: UeProfile
    #: the PDU sessions the UE asks for once registered (the ``sessions`` list), in order
    sessions: tuple[SessionTemplate, ...] = ()

    def usim(self, i: int) -> Usim:
        width = len(self.imsi)
        imsi = str(int(self.imsi) + i).zfill(width)
        scheme = self.scheme_cycle[i % len(self.scheme_cycle)] if self.scheme_cycle else self.protection_scheme
        key_id = self.hn_key_id
        pub = self.hn_public_keys.get(key_id)
        if scheme and self.scheme_cycle:
            # pick the key of the matching profile when several are configured
            for kid, kpub in self.hn_public_keys.items():
                if (scheme == 1 and len(kpub) == 32) or (scheme == 2 and len(kpub) == 33):
                    key_id, pub = kid, kpub
                    break
        try:
            return Usim(
                imsi, self.k, opc=self.opc, op=self.op, mnc_digits=len(self.mnc), sqn=self.sqn,
                protection_scheme=scheme, hn_public_key=pub if scheme else None, hn_key_id=key_id if scheme else 0,
                routing_indicator=self.routing_indicator,
            )
        except UsimError as exc:
            raise ConfigError(f"ue: {exc}") from None


def parse_ue(d: dict[str, Any], where: str = "ue") -> UeTemplate:
    """A UERANSIM-style UE mapping -> :class:`UeTemplate`; ConfigError names the bad key."""
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: must be a mapping")
    supi = str(d.get("supi", "imsi-001010000000001"))
    imsi = supi[5:] if supi.startswith("imsi-") else supi
    if not imsi.isdigit() or not 6 <= len(imsi) <= 15:
        raise ConfigError(f"{where}.supi: must be imsi-<6..15 digits>")
    mcc = str(d.get("mcc", imsi[:3]))
    mnc = str(d.get("mnc", imsi[3:5]))
    if not imsi.startswith(mcc + mnc):
        raise ConfigError(f"{where}.supi: does not start with mcc+mnc {mcc}{mnc}")
    k = _hex({"key": d.get("key", DEFAULT_KEY)}, "key", 16, where)
    op_type = str(d.get("opType", "OPC")).upper()
    if op_type not in ("OP", "OPC"):
        raise ConfigError(f"{where}.opType: must be OP or OPC")
    opv = _hex({"op": d.get("op", DEFAULT_OPC)}, "op", 16, where)
    scheme = int(d.get("protectionScheme", 0))
    if scheme not in (0, 1, 2):
        raise ConfigError(f"{where}.protectionScheme: must be 0, 1 or 2")
    keys: dict[int, bytes] = {}
    hn_key_id = int(d.get("homeNetworkPublicKeyId", 1))
    if d.get("homeNetworkPublicKey"):
        keys[hn_key_id] = _hex(d, "homeNetworkPublicKey", len(str(d["homeNetworkPublicKey"])) // 2, where)
    for extra in d.get("homeNetworkPublicKeys") or []:
        keys[int(extra["id"])] = bytes.fromhex(str(extra["key"]))
    cycle = tuple(int(x) for x in (d.get("protectionSchemeCycle") or ()))
    if any(s not in (0, 1, 2) for s in cycle):
        raise ConfigError(f"{where}.protectionSchemeCycle: schemes must be 0, 1 or 2")
    if (scheme or any(cycle)) and not keys:
        raise ConfigError(f"{where}.homeNetworkPublicKey: required for protectionScheme 1 or 2")
    sqn_v = d.get("sqn", 0)
    sqn = int(str(sqn_v), 16) if isinstance(sqn_v, str) else int(sqn_v)
    slices = _slices(d.get("default-nssai") or d.get("configured-nssai"), f"{where}.default-nssai") or ((1, None),)
    sessions = _sessions(d.get("sessions"), slices[0], f"{where}.sessions")
    # the registration's DNN (the AMF's SMF selection hint) is the first session's
    dnn = sessions[0].dnn if sessions else "internet"
    nea = _algs(d.get("ciphering"), "EA", (1, 2, 3), f"{where}.ciphering")
    if 0 not in nea and not (isinstance(d.get("ciphering"), dict) and d["ciphering"].get("EA0") is False):
        nea = (0, *nea)  # NEA0 support is mandatory for a UE (TS 33.501 §5.11.1.1)
    nia = _algs(d.get("integrity"), "IA", (1, 2, 3), f"{where}.integrity")
    profile = UeProfile(mcc=mcc, mnc=mnc, slices=slices, dnn=dnn, nea=tuple(sorted(nea)), nia=nia,
                        imeisv=str(d.get("imeiSv", "4370816125816151")))
    return UeTemplate(
        imsi=imsi, mcc=mcc, mnc=mnc, k=k, opc=opv if op_type == "OPC" else None,
        op=opv if op_type == "OP" else None, protection_scheme=scheme, scheme_cycle=cycle,
        hn_public_keys=keys, hn_key_id=hn_key_id, routing_indicator=str(d.get("routingIndicator", "0000")),
        sqn=sqn, profile=profile, sessions=sessions,
    )


@dataclass
class GnbTemplate:
    mcc: str = "001"
    mnc: str = "01"
    tac: int = 1
    id_base: int = 1
    name: str = "fivecore-gnb"
    slices: tuple[tuple[int, int | None], ...] = ((1, None),)
    amf_host: str = "127.0.0.5"
    amf_port: int = 38412
    nci_base: int = 0x10
    local_host: str | None = None
    #: more local IPv4 addresses of every gNB's N2 associations (SCTP multi-homing)
    extra_addresses: tuple[str, ...] = ()
    #: every AMF each gNB connects to (host, port); empty: the one ``amf_host``/``amf_port``
    amfs: tuple[tuple[str, int], ...] = ()

    def amf_list(self) -> tuple[tuple[str, int], ...]:
        """The AMFs (host, port) each gNB runs NG Setup with, in order."""
        return self.amfs or ((self.amf_host, self.amf_port),)


def _extra_addresses(v: Any) -> tuple[str, ...]:
    """``gnb.extraAddresses``: up to 7 more local IPv4 addresses for N2 (SCTP multi-homing,
    RFC 9260 §6.4; the userspace SCTP stack takes at most 8 local addresses)."""
    if v is None:
        return ()
    if not isinstance(v, list) or len(v) > 7:
        raise ConfigError("gnb.extraAddresses: a list of at most 7 IPv4 addresses")
    out: list[str] = []
    for a in v:
        try:
            ip = ipaddress.ip_address(str(a))
        except ValueError:
            raise ConfigError(f"gnb.extraAddresses: {a!r} is not an IP address") from None
        if ip.version != 4:
            raise ConfigError(f"gnb.extraAddresses: {a!r}: SCTP multi-homing addresses must be IPv4")
        out.append(str(ip))
    return tuple(out)


def _amfs(v: Any, where: str = "gnb.amfs") -> tuple[tuple[str, int], ...]:
    """``[{address, port}, ...]`` -> ((host, port), ...); ConfigError names the bad entry."""
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{where}: must be a non-empty list of {{address, port}}")
    out: list[tuple[str, int]] = []
    for i, item in enumerate(v):
        if not isinstance(item, dict) or not item.get("address"):
            raise ConfigError(f"{where}[{i}]: needs address")
        unknown = set(item) - {"address", "port"}
        if unknown:
            raise ConfigError(f"{where}[{i}].{sorted(unknown)[0]}: unknown key")
        try:
            port = int(item.get("port", 38412))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}[{i}].port: not a number") from None
        if not 0 < port < 65536:
            raise ConfigError(f"{where}[{i}].port: must be 1..65535")
        ep = (str(item["address"]), port)
        if ep in out:
            raise ConfigError(f"{where}[{i}]: {ep[0]}:{ep[1]} listed twice")
        out.append(ep)
    return tuple(out)


@dataclass
class RanConfig:
    gnb: GnbTemplate = field(default_factory=GnbTemplate)
    ues: list[UeTemplate] = field(default_factory=list)
    control: str = "/tmp/fivecore-ran.sock"


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def load_ran_config(source: str | Path | dict[str, Any] | None) -> RanConfig:
    """Load a simulator file, or a bare UERANSIM UE file (it has ``supi`` at the top)."""
    base = Path(".")
    if source is None:
        data: Any = {}
    elif isinstance(source, dict):
        data = source
    else:
        p = Path(source)
        base = p.parent
        data = _load_yaml(p)
    if not isinstance(data, dict):
        raise ConfigError("<root>: the simulator configuration must be a mapping")
    if "supi" in data:
        data = {"ue": data}
    g = data.get("gnb") or {}
    if not isinstance(g, dict):
        raise ConfigError("gnb: must be a mapping")
    known = {"mcc", "mnc", "tac", "idBase", "name", "slices", "amfAddress", "amfPort", "nciBase", "localAddress",
             "extraAddresses", "amfs"}
    for k in g:
        if k not in known:
            raise ConfigError(f"gnb.{k}: unknown key")
    amfs: tuple[tuple[str, int], ...] = ()
    if g.get("amfs") is not None:
        if "amfAddress" in g or "amfPort" in g:
            raise ConfigError("gnb.amfs: give either amfs or amfAddress/amfPort, not both")
        amfs = _amfs(g["amfs"])
    gnb = GnbTemplate(
        mcc=str(g.get("mcc", "001")), mnc=str(g.get("mnc", "01")), tac=int(g.get("tac", 1)),
        id_base=int(g.get("idBase", 1)), name=str(g.get("name", "fivecore-gnb")),
        slices=_slices(g.get("slices"), "gnb.slices") or ((1, None),),
        amf_host=amfs[0][0] if amfs else str(g.get("amfAddress", "127.0.0.5")),
        amf_port=amfs[0][1] if amfs else int(g.get("amfPort", 38412)),
        nci_base=int(g.get("nciBase", 0x10)), local_host=g.get("localAddress"), amfs=amfs,
        extra_addresses=_extra_addresses(g.get("extraAddresses")),
    )
    ue_items: list[Any] = []
    if "ue" in data:
        ue_items.append(data["ue"])
    ue_items.extend(data.get("ues") or [])
    ues = []
    for i, item in enumerate(ue_items):
        if isinstance(item, str):
            item = _load_yaml((base / item) if not Path(item).is_absolute() else Path(item))
        ues.append(parse_ue(item, f"ues[{i}]" if "ues" in data else "ue"))
    if not ues:
        ues.append(parse_ue({}, "ue"))
    return RanConfig(gnb=gnb, ues=ues, control=str(data.get("control", "/tmp/fivecore-ran.sock")))
