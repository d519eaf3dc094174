"""Typed configuration: one YAML file, a section per NF (in the spirit of Open5GS), defaults built in.

Example (every key optional; the defaults follow ARCHITECTURE.md's single-host layout)::

    db_uri: sqlite:////var/lib/fivecore/subscribers.db   # or postgresql+psycopg://user@host/db
    plmn: {mcc: "001", mnc: "01"}
    home_network_keys:                                    # SUCI de-concealment (TS 33.501 §6.12)
      - {id: 1, scheme: A, private_key: <64 hex> }        # Profile A: X25519
      - {id: 2, scheme: B, private_key_file: hn2.key }    # Profile B: secp256r1
    nrf:  {sbi: {address: 127.0.0.10, port: 7777}}
    ausf: {sbi: {address: 127.0.0.11, port: 7777}}
    udm:  {sbi: {address: 127.0.0.12, port: 7777}}
    udr:  {sbi: {address: 127.0.0.20, port: 7777}, mgmt: {address: 127.0.0.20, port: 7780, token: s3cret}}

Load with :func:`load_config` (a path, a dict or None for the defaults). Any unknown key or bad
value raises :class:`fivecore.errors.ConfigError` naming the key (``udm.sbi.port: ...``).

Adding an NF's section (later issues: amf, smf, upf, ...): define a model deriving from
:class:`NfSection` (it inherits ``sbi``, ``nrf_uri``, ``vendor_id``, ``nf_instance_id``) and add a
field with a default factory to :class:`Config`, next to ``nrf``/``ausf``/``udm``/``udr``.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fivecore.errors import ConfigError
from fivecore.nf.upf.config import UpfConfig

DEFAULT_DB_URI = "sqlite:///var/subscribers.db"
DEFAULT_NRF_URI = "http://127.0.0.10:7777"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TlsConfig(_Section):
    """Serve the SBI over TLS (TS 33.210): certificate chain, key, optional client CA (mTLS)."""

    cert: Path
    key: Path
    ca: Path | None = None


class SbiEndpoint(_Section):
    """Where an NF's SBI server listens (TS 29.500 §5.2: HTTP/2; h2c unless ``tls`` is set)."""

    address: str = "127.0.0.1"
    port: int = Field(default=7777, ge=0, le=65535)
    tls: TlsConfig | None = None

    @field_validator("address")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.ip_address(v)
        return v

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def uri(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}"


class PlmnConfig(_Section):
    mcc: str = Field(default="001", pattern=r"^\d{3}$")
    mnc: str = Field(default="01", pattern=r"^\d{2,3}$")

    @property
    def serving_network_name(self) -> str:
        """TS 24.501 §9.12.1: ``5G:mnc<3 digits>.mcc<3 digits>.3gppnetwork.org``."""
        return f"5G:mnc{self.mnc.zfill(3)}.mcc{self.mcc}.3gppnetwork.org"


class HomeNetworkKey(_Section):
    """One SUCI home network key pair (TS 33.501 Annex C): scheme A (X25519) or B (P-256)."""

    id: int = Field(ge=0, le=255)
    scheme: Literal["A", "B"]
    private_key: str | None = Field(default=None, repr=False, pattern=r"^[0-9a-fA-F]{64}$")
    private_key_file: Path | None = None

    def key_bytes(self) -> bytes:
        if self.private_key:
            return bytes.fromhex(self.private_key)
        if self.private_key_file:
            try:
                text = self.private_key_file.read_text().strip()
                return bytes.fromhex(text)
            except (OSError, ValueError) as exc:
                raise ConfigError(f"home_network_keys[{self.id}].private_key_file: {exc}") from None
        raise ConfigError(f"home_network_keys[{self.id}]: private_key or private_key_file is required")


class NfSection(_Section):
    """What every NF section has: its SBI endpoint, the NRF, its identity."""

    sbi: SbiEndpoint = Field(default_factory=SbiEndpoint)
    nrf_uri: str | None = DEFAULT_NRF_URI
    nf_instance_id: str | None = None
    vendor_id: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    heartbeat: bool = True

    def instance_id(self) -> str:
        return self.nf_instance_id or str(uuid.uuid4())


def _ep(addr: str) -> Any:
    return lambda: SbiEndpoint(address=addr, port=7777)


class NrfConfig(NfSection):
    """TS 29.510 NRF: heartbeat timer handed to NFs, validity period of discovery results."""

    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.10"))
    nrf_uri: str | None = None
    heartbeat_timer: int = Field(default=10, ge=1, le=3600)
    validity_period: int = Field(default=3600, ge=1)
    #: vendor trust policy file (``fivecore.trust``): NFRegister refused for a vendor that may
    #: not serve the core zone; without it, the top-level ``trust:`` section is used if present
    trust_policy: Path | None = None


class AusfConfig(NfSection):
    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.11"))
    udm_uri: str | None = None


class UdmConfig(NfSection):
    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.12"))
    udr_uri: str | None = None
    test_rand: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")


class MgmtConfig(_Section):
    """The subscriber management REST API (its own port; bearer token auth)."""

    enabled: bool = True
    address: str = "127.0.0.20"
    port: int = Field(default=7780, ge=0, le=65535)
    token: str | None = Field(default=None, repr=False)
    token_file: Path | None = None

    def get_token(self) -> str | None:
        if self.token:
            return self.token
        if self.token_file:
            try:
                return self.token_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"udr.mgmt.token_file: {exc}") from None
        return os.environ.get("FIVECORE_MGMT_TOKEN")


class UdrConfig(NfSection):
    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.20"))
    mgmt: MgmtConfig = Field(default_factory=MgmtConfig)


# --- AMF (issue 6; owned by the AMF author) ---------------------------------------------------


class NgapEndpoint(_Section):
    """Where the AMF listens for N2 (TS 38.412: SCTP port 38412)."""

    address: str = "127.0.0.5"
    port: int = Field(default=38412, ge=0, le=65535)
    #: N2 receive batching (userspace SCTP, fivecore.transport.sctp SctpConfig.rx_batch): a
    #: wake-up within this many milliseconds of the last pass waits out the rest and takes
    #: what came meanwhile in one pass (the first after a quiet spell is read at once); fewer
    #: and warmer wake-ups under load for up to this much added latency. 0 = off.
    rx_batch_ms: float = Field(default=1.0, ge=0, le=50)
    #: SCTP multi-homing (RFC 9260 §6.4): further local IPv4 addresses the AMF listens on
    #: and lists in its INIT ACK, so a gNB can fail over to them (userspace SCTP backend)
    extra_addresses: list[str] = Field(default_factory=list, max_length=7)

    @field_validator("address")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.ip_address(v)
        return v

    @field_validator("extra_addresses")
    @classmethod
    def _ipv4s(cls, v: list[str]) -> list[str]:
        for a in v:
            if ipaddress.ip_address(a).version != 4:
                raise ValueError(f"{a!r}: SCTP multi-homing addresses must be IPv4")
        return v


class GuamiConfig(_Section):
    """AMF identifier parts of the GUAMI (TS 23.003 §2.10.1); the PLMN is ``plmn``."""

    region_id: int = Field(default=2, ge=0, le=255)
    set_id: int = Field(default=1, ge=0, le=1023)
    pointer: int = Field(default=0, ge=0, le=63)


class SliceConfig(_Section):
    """An S-NSSAI (TS 23.003 §28.4.2): SST and optional SD (6 hex digits)."""

    sst: int = Field(default=1, ge=0, le=255)
    sd: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{6}$")

    def as_tuple(self) -> tuple[int, int | None]:
        return (self.sst, int(self.sd, 16) if self.sd else None)


_NEA = {"NEA0": 0, "NEA1": 1, "NEA2": 2, "NEA3": 3}
_NIA = {"NIA1": 1, "NIA2": 2, "NIA3": 3}


def _algorithm_order(v: list[str], known: dict[str, int], is_a: str, kind: str) -> list[str]:
    """A priority list of NAS algorithm names, upper-cased; unknown names and empty lists fail."""
    for a in v:
        if a.upper() not in known:
            raise ValueError(f"{a!r} is not {is_a}")
    if not v:
        raise ValueError(f"at least one {kind} algorithm is required")
    return [a.upper() for a in v]


class AmfSecurityConfig(_Section):
    """NAS algorithm priorities (TS 33.501 §5.5.2). NIA0 is not accepted at all; NEA0 is used
    only if listed (it exposes all NAS traffic to the RAN)."""

    integrity_order: list[str] = Field(default_factory=lambda: ["NIA2", "NIA1", "NIA3"])
    ciphering_order: list[str] = Field(default_factory=lambda: ["NEA2", "NEA1", "NEA3"])

    @field_validator("integrity_order")
    @classmethod
    def _nia(cls, v: list[str]) -> list[str]:
        return _algorithm_order(v, _NIA, "an allowed integrity algorithm (NIA1, NIA2, NIA3)", "integrity")

    @field_validator("ciphering_order")
    @classmethod
    def _nea(cls, v: list[str]) -> list[str]:
        return _algorithm_order(v, _NEA, "a ciphering algorithm (NEA0..NEA3)", "ciphering")

    def integrity_ids(self) -> tuple[int, ...]:
        return tuple(_NIA[a] for a in self.integrity_order)

    def ciphering_ids(self) -> tuple[int, ...]:
        return tuple(_NEA[a] for a in self.ciphering_order)


class AmfTimers(_Section):
    """TS 24.501 §10.2 network-side timers, seconds."""

    t3512: int = Field(default=3240, ge=2, le=35712000)
    t3550: float = Field(default=6.0, gt=0)
    t3560: float = Field(default=6.0, gt=0)
    t3570: float = Field(default=6.0, gt=0)
    t3522: float = Field(default=6.0, gt=0)
    #: back-off sent with a #22 congestion reject (TS 24.501 §5.3.9; GPRS timer 2, <= 186 min)
    t3346: int = Field(default=60, ge=2, le=11160)
    #: TS 24.501 §5.3.7 mobile reachable timer, started when a UE goes CM-IDLE (or is read
    #: back from disk); null: the spec's default, T3512 + 240 s
    mobile_reachable: float | None = Field(default=None, gt=0)
    #: TS 24.501 §5.3.7 implicit de-registration timer, started when the mobile reachable
    #: timer expires; on expiry the UE is de-registered (sessions released, UDM told, context
    #: dropped); null: T3512 + 240 s
    implicit_deregistration: float | None = Field(default=None, gt=0)


class AmfHandoverConfig(_Section):
    """Xn handover (Path Switch, TS 23.502 §4.9.1.2.2) against hostile gNBs; N2 handover timers."""

    #: a UE-associated message for a UE from the gNB it left by Path Switch, within
    #: ``hijack_window`` seconds, means the UE may never have moved (another gNB claimed it):
    #: ``audit`` logs, counts and audits it; ``release`` also releases the UE's NG connection at
    #: the claiming gNB and holds the UE CM-IDLE, so the real UE's next Service Request restores it
    on_suspected_hijack: Literal["audit", "release"] = "audit"
    hijack_window: float = Field(default=30.0, gt=0, le=3600)
    #: N2 handover (TS 23.502 §4.9.1.3): how long the AMF waits for the target gNB's HANDOVER
    #: REQUEST ACKNOWLEDGE or FAILURE (its TNGRELOCprep, TS 38.413 §8.4.1.2) before it answers
    #: the source with HANDOVER PREPARATION FAILURE, seconds
    n2_prep_timeout: float = Field(default=5.0, gt=0, le=300)
    #: after HANDOVER COMMAND, how long the AMF waits for the target's HANDOVER NOTIFY (its side
    #: of the source's TNGRELOCoverall) before it cancels the handover at both gNBs, seconds
    n2_overall_timeout: float = Field(default=10.0, gt=0, le=300)


class AmfConfig(NfSection):
    """The AMF: N2 endpoint, GUAMI, served TACs and slices, NAS security policy."""

    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.5"))
    ngap: NgapEndpoint = Field(default_factory=NgapEndpoint)
    amf_name: str = Field(default="fivecore-amf", min_length=1, max_length=150)
    guami: GuamiConfig = Field(default_factory=GuamiConfig)
    tacs: list[int] = Field(default_factory=lambda: [1])
    slices: list[SliceConfig] = Field(default_factory=lambda: [SliceConfig()])
    security: AmfSecurityConfig = Field(default_factory=AmfSecurityConfig)
    timers: AmfTimers = Field(default_factory=AmfTimers)
    handover: AmfHandoverConfig = Field(default_factory=AmfHandoverConfig)
    relative_capacity: int = Field(default=255, ge=0, le=255)
    #: static SBI routes (skip NRF discovery): ``{"nausf-auth": "http://127.0.0.11:7777"}``
    routes: dict[str, str] = Field(default_factory=dict)
    #: NGAP Overload Start when this many SBI calls are waiting, Overload Stop below half (0: off)
    overload_threshold: int = Field(default=256, ge=0)
    #: NGAP Overload Start when the AMF's event loop runs this late (smoothed); 0: off
    overload_loop_lag_ms: float = Field(default=150.0, ge=0)
    #: UE contexts one gNB may hold; past it Initial UE Messages get an Error Indication, so a
    #: hostile gNB cannot exhaust the AMF's memory with fake UEs
    max_ues_per_gnb: int = Field(default=131072, ge=1)
    #: UE contexts the whole AMF may hold; past it a new UE's Registration / Service Request is
    #: rejected with 5GMM cause #22 and T3346, anything else gets an Error Indication
    max_ue_contexts: int = Field(default=262144, ge=1)
    #: seconds after its Initial UE Message by which a UE context must be 5GMM-REGISTERED;
    #: a periodic sweep releases and removes the ones that are not
    ue_setup_timeout: float = Field(default=120.0, gt=0)
    #: vendor trust policy file (``fivecore.trust``): checked at NG Setup, decisions audited
    trust_policy: Path | None = None
    #: where the RAN exposure ledger is written (default $FIVECORE_DATA_DIR, else ``var``)
    data_dir: Path | None = None
    #: keep registered UEs' 5GMM contexts (NAS security context, 5G-GUTI, PDU sessions) in a
    #: SQLite file of the AMF's own so they survive a restart (fivecore.nf.amf.persist);
    #: false: a stateless AMF whose UEs register afresh after a restart
    persist: bool = True
    #: that file; default beside the store's SQLite file (else in ``data_dir``), named by GUAMI
    persist_file: Path | None = None
    #: write-behind: changed UE contexts are written in one transaction this often
    persist_flush_ms: float = Field(default=100.0, gt=0, le=10000)
    #: fsync each write (survives power loss); off, writes survive a crash of the process only
    persist_fsync: bool = False

    @field_validator("tacs")
    @classmethod
    def _tacs(cls, v: list[int]) -> list[int]:
        if not v or any(not 0 <= t < (1 << 24) for t in v):
            raise ValueError("TACs must be 24-bit integers, at least one")
        return v


# --- SMF, PCF, NSSF (issue 7; owned by the session-management author) --------------------------


class DnnPoolConfig(_Section):
    """One DNN the SMF serves (TS 23.501 §5.8.2.2): its UE IPv4 pool and optional IPv6 prefixes."""

    dnn: str = Field(default="internet", min_length=1, max_length=100)
    ipv4_pool: str = "10.45.0.0/16"
    #: addresses of the pool never handed out (default: the first host, the UPF's N6 TUN address)
    reserved: list[str] = Field(default_factory=list)
    #: IPv6 prefix pool: /64 prefixes are cut from it (TS 23.501 §5.8.2.2.3); None disables IPv6
    ipv6_prefix_pool: str | None = None
    slices: list[SliceConfig] = Field(default_factory=lambda: [SliceConfig()])
    dns: list[str] = Field(default_factory=lambda: ["8.8.8.8"])
    mtu: int = Field(default=1400, ge=576, le=9000)

    @field_validator("ipv4_pool")
    @classmethod
    def _v4(cls, v: str) -> str:
        net = ipaddress.IPv4Network(v, strict=False)
        if net.num_addresses < 4:
            raise ValueError("the pool needs at least 4 addresses")
        return str(net)

    @field_validator("ipv6_prefix_pool")
    @classmethod
    def _v6(cls, v: str | None) -> str | None:
        if v is None:
            return v
        net = ipaddress.IPv6Network(v, strict=False)
        if net.prefixlen > 64:
            raise ValueError("the IPv6 pool must be /64 or larger")
        return str(net)


class UpfPeerConfig(_Section):
    """A UPF the SMF may select (TS 23.501 §6.3.3): its N4 address and what it serves."""

    address: str = "127.0.0.7"
    port: int = Field(default=8805, ge=1, le=65535)
    dnns: list[str] = Field(default_factory=lambda: ["internet"])
    slices: list[SliceConfig] = Field(default_factory=lambda: [SliceConfig()])

    @field_validator("address")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.IPv4Address(v)
        return v


class PfcpEndpoint(_Section):
    """Where the SMF's N4 (PFCP, TS 29.244) endpoint listens."""

    address: str = "127.0.0.4"
    port: int = Field(default=8805, ge=0, le=65535)
    heartbeat_interval: float = Field(default=5.0, gt=0)
    #: PFCP T1 retransmission timer (s) and N1 attempts (TS 29.244 §6.4)
    t1: float = Field(default=3.0, gt=0)
    n1: int = Field(default=3, ge=1)

    @field_validator("address")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.IPv4Address(v)
        return v


class SmfConfig(NfSection):
    """The SMF: SBI, N4 endpoint, DNN pools, the UPFs it may use."""

    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.4"))
    pfcp: PfcpEndpoint = Field(default_factory=PfcpEndpoint)
    dnns: list[DnnPoolConfig] = Field(default_factory=lambda: [DnnPoolConfig()])
    upfs: list[UpfPeerConfig] = Field(default_factory=lambda: [UpfPeerConfig()])
    #: where the UPFs come from (TS 23.501 §6.3.3): ``config`` = ``upfs`` above; ``nrf`` = NRF
    #: discovery (target-nf-type UPF, dnn, snssais; TS 29.510 §5.3.2.2), ``upfs`` unused
    upf_selection: Literal["config", "nrf"] = "config"
    #: what a UPF restart does to its sessions: "release" (tell the UE, cause #39) or "restore"
    upf_restart: Literal["release", "restore"] = "release"
    #: URR volume threshold (octets) after which the UPF reports usage (TS 29.244 §5.2.2.2)
    usage_report_volume: int = Field(default=1 << 30, ge=1)
    #: static SBI routes (skip NRF discovery): ``{"npcf-smpolicycontrol": "http://127.0.0.13:7777"}``
    routes: dict[str, str] = Field(default_factory=dict)
    #: keep SM contexts (PDU sessions: addresses, N4 F-SEIDs, tunnels, QoS, AMF and PCF links)
    #: in a SQLite file of the SMF's own so they survive a restart; the UPF is asked to retain
    #: their PFCP sessions (fivecore.nf.smf.persist); false: sessions are lost with the process
    persist: bool = True
    #: that file; default beside the store's SQLite file (else in ``$FIVECORE_DATA_DIR`` or
    #: ``var``), named by the SMF's N4 address and port
    persist_file: Path | None = None
    #: write-behind: changed SM contexts are written in one transaction this often
    persist_flush_ms: float = Field(default=100.0, gt=0, le=10000)
    #: fsync each write (survives power loss); off, writes survive a crash of the process only
    persist_fsync: bool = False


class PcfDnnPolicy(_Section):
    """Operator policy for one DNN (overrides the subscription, TS 29.512 §4.2.2)."""

    dnn: str = "internet"
    session_ambr_ul: str | None = Field(default=None, pattern=r"^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$")
    session_ambr_dl: str | None = Field(default=None, pattern=r"^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$")
    default_5qi: int | None = Field(default=None, ge=1, le=255)
    arp_priority: int | None = Field(default=None, ge=1, le=15)


class PcfConfig(NfSection):
    """The PCF: SM policies (TS 29.512) and AM policies (TS 29.507)."""

    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.13"))
    policies: list[PcfDnnPolicy] = Field(default_factory=list)
    default_5qi: int = Field(default=9, ge=1, le=255)
    default_arp_priority: int = Field(default=8, ge=1, le=15)
    default_session_ambr_ul: str = "1 Gbps"
    default_session_ambr_dl: str = "1 Gbps"
    #: TS 29.507: RFSP index handed to the AMF
    rfsp_index: int = Field(default=1, ge=1, le=256)


class NssfConfig(NfSection):
    """The NSSF: which slices the PLMN serves and which NRF serves each (TS 29.531)."""

    sbi: SbiEndpoint = Field(default_factory=_ep("127.0.0.14"))
    slices: list[SliceConfig] = Field(default_factory=lambda: [SliceConfig()])
    tacs: list[int] = Field(default_factory=lambda: [1])
    #: NRF for the slices (nsiInformation.nrfId); default: this NSSF's own nrf_uri
    slice_nrf_uri: str | None = None


# --- fivecore up / demo / observability (issue 8; owned by the network author) ----------------


class MetricsConfig(_Section):
    """Prometheus ``/metrics`` and the JSON info API on every NF (Open5GS layout: each NF on its
    own address, port 9090 — e.g. AMF 127.0.0.5:9090, SMF 127.0.0.4:9090, UPF 127.0.0.7:9090)."""

    enabled: bool = True
    port: int = Field(default=9090, ge=0, le=65535)
    #: one address for every NF's listener instead of each NF's SBI address (then give each NF
    #: its own port in ``ports``)
    address: str | None = None
    #: per-NF port overrides, e.g. ``{pcf: 9091}``
    ports: dict[str, int] = Field(default_factory=dict)
    #: show full SUPIs in ``/ue-info`` and ``/pdu-info`` (masked by default)
    info_supi: bool = False

    @field_validator("address")
    @classmethod
    def _ip(cls, v: str | None) -> str | None:
        if v is not None:
            ipaddress.ip_address(v)
        return v

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: dict[str, int]) -> dict[str, int]:
        for nf, port in v.items():
            if nf not in _NF_NAMES:
                raise ValueError(f"{nf!r} is not an NF ({', '.join(_NF_NAMES)})")
            if not 0 <= port <= 65535:
                raise ValueError(f"{nf}: port {port} out of range")
        return v


_NF_NAMES = ("nrf", "udr", "udm", "ausf", "pcf", "nssf", "amf", "smf", "upf")


class UpConfig(_Section):
    """``fivecore up``: where it keeps its state and how N6 reaches the host."""

    #: SQLite store, generated SUCI key, exposure ledger, state files; default $FIVECORE_DATA
    #: (or $FIVECORE_DATA_DIR, which `fivecore trust`/`audit` read), else ./var
    data_dir: Path = Field(default_factory=lambda: Path(
        os.environ.get("FIVECORE_DATA") or os.environ.get("FIVECORE_DATA_DIR") or "var"))
    #: masquerade the UE pool behind the host's default route (nftables/iptables)
    nat: bool = False
    #: the NFs ``up`` starts in its control-plane process (those not yet built are skipped)
    control_plane: list[str] = Field(default_factory=lambda: ["nrf", "udr", "udm", "ausf", "pcf", "nssf", "amf", "smf"])
    #: seconds to wait for every NF to be ready
    ready_timeout: float = Field(default=30.0, gt=0)
    #: control-plane processes: members of one AMF Set (TS 23.501 §5.21.2), each with its own AMF,
    #: SMF, AUSF, UDM, UDR, PCF and NSSF on loopback addresses 10*m above ``up``'s third octet;
    #: one NRF, store and UPF (fivecore.netup.amf_set). 1 = everything in ``up``'s process.
    amf_set_size: int = Field(default=1, ge=1, le=8)
    #: what ``up`` does when a process it started (the UPF, an AMF Set member) exits on its own
    #: (fivecore.netup.supervise): ``on-failure`` restarts it after a non-zero status or a
    #: signal, ``always`` after any exit, ``never`` only reports it
    restart: Literal["on-failure", "always", "never"] = "on-failure"
    #: at most this many restarts of one process within ``restart_window_s``; then ``up`` gives up
    restart_max: int = Field(default=5, ge=1, le=1000)
    restart_window_s: float = Field(default=60.0, gt=0, le=86400)
    #: wait before the first restart of a window, doubling per restart up to ``restart_backoff_max_s``
    restart_backoff_s: float = Field(default=0.5, ge=0, le=3600)
    restart_backoff_max_s: float = Field(default=10.0, ge=0, le=3600)

    @model_validator(mode="after")
    def _backoff(self) -> UpConfig:
        if self.restart_backoff_max_s < self.restart_backoff_s:
            raise ValueError(f"restart_backoff_max_s ({self.restart_backoff_max_s}) is below "
                             f"restart_backoff_s ({self.restart_backoff_s})")
        return self

    @field_validator("control_plane")
    @classmethod
    def _cp(cls, v: list[str]) -> list[str]:
        for nf in v:
            if nf not in _NF_NAMES or nf == "upf":
                raise ValueError(f"{nf!r} is not a control-plane NF")
        return v


class DemoConfig(_Section):
    """``fivecore demo``: the simulated subscribers and the data network behind the UPF."""

    ues: int = Field(default=10, ge=1, le=100000)
    gnbs: int = Field(default=1, ge=1, le=1000)
    first_imsi: str = Field(default="001010000000001", pattern=r"^\d{15}$")
    k: str = Field(default="465b5ce8b199b49faa5f0a2ee238a6bc", pattern=r"^[0-9a-fA-F]{32}$", repr=False)
    opc: str = Field(default="e8ed289deba952e4283b54e88e6183ca", pattern=r"^[0-9a-fA-F]{32}$", repr=False)
    #: the data-network host the UEs ping and stream to, inside its own netns behind N6
    dn_address: str = "10.46.0.2"
    #: the simulated gNBs' N3 (GTP-U) addresses: <prefix>.1, <prefix>.2, ...
    gnb_n3_prefix: str = Field(default="127.0.1", pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,3}$")
    ping_count: int = Field(default=3, ge=1, le=1000)
    tcp_bytes: int = Field(default=1 << 20, ge=1)
    #: IPv4v6 PDU sessions and ping -6 to the DN host (fivecore.netup.demo): true, false, or
    #: null = when the kernel can forward IPv6 between the demo's devices only
    ipv6: bool | None = None
    #: the DN host's IPv6 address (a /64 on the veth; the host end is ::1 of it)
    dn_ipv6_address: str = "fd00:46::2"
    #: the UEs' prefix pool when the demo's DNN has no ``ipv6_prefix_pool`` of its own
    ipv6_prefix_pool: str = "2001:db8:cafe::/48"

    @field_validator("dn_address")
    @classmethod
    def _ip(cls, v: str) -> str:
        ipaddress.IPv4Address(v)
        return v

    @field_validator("dn_ipv6_address")
    @classmethod
    def _ip6(cls, v: str) -> str:
        return str(ipaddress.IPv6Address(v))

    @field_validator("ipv6_prefix_pool")
    @classmethod
    def _pool6(cls, v: str) -> str:
        net = ipaddress.IPv6Network(v, strict=False)
        if net.prefixlen > 64:
            raise ValueError("the IPv6 pool must be /64 or larger")
        return str(net)


class LoggingConfig(_Section):
    level: str = Field(default="info", pattern=r"^(debug|info|warning|error)$")
    #: ``kv`` (key=value lines) or ``json`` (one object per line) — fivecore.obs.logging
    format: Literal["kv", "json"] = "kv"
    #: log to this file instead of stderr
    file: Path | None = None


class Config(_Section):
    """The whole configuration file."""

    db_uri: str = Field(default_factory=lambda: os.environ.get("FIVECORE_DB", DEFAULT_DB_URI))
    plmn: PlmnConfig = Field(default_factory=PlmnConfig)
    home_network_keys: list[HomeNetworkKey] = Field(default_factory=list)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    nrf: NrfConfig = Field(default_factory=NrfConfig)
    ausf: AusfConfig = Field(default_factory=AusfConfig)
    udm: UdmConfig = Field(default_factory=UdmConfig)
    udr: UdrConfig = Field(default_factory=UdrConfig)
    amf: AmfConfig = Field(default_factory=AmfConfig)
    smf: SmfConfig = Field(default_factory=SmfConfig)
    pcf: PcfConfig = Field(default_factory=PcfConfig)
    nssf: NssfConfig = Field(default_factory=NssfConfig)
    # issue 8 additions: the UPF's own section (validated by the UPF's model), vendor trust
    # policy (raw mapping, validated by fivecore.trust), metrics, fivecore up / demo
    upf: UpfConfig = Field(default_factory=UpfConfig)
    trust: dict[str, Any] | None = None
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    up: UpConfig = Field(default_factory=UpConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)

    def uses_default_store(self) -> bool:
        """True when neither the file nor $FIVECORE_DB chose a store."""
        return self.db_uri == DEFAULT_DB_URI and "FIVECORE_DB" not in os.environ

    def store_uri(self) -> str:
        """The subscriber store: ``db_uri`` when chosen, else the one ``fivecore up`` serves
        (``subscribers.db`` in ``up.data_dir``, created if missing), so `subscriber add` then
        `up` or `nf udr` just works."""
        if not self.uses_default_store():
            return self.db_uri
        data_dir = self.up.data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{data_dir / 'subscribers.db'}"

    def section(self, name: str) -> NfSection:
        """The NF section ``name`` (``nrf``, ``udm``, ...); ConfigError if there is none."""
        sec = getattr(self, name, None)
        if not isinstance(sec, NfSection):
            raise ConfigError(f"{name}: no such NF section")
        return sec


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err.get("loc", ())) or "<root>"
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown key"
    return f"{key}: {msg}"


def _yaml_line(exc: yaml.YAMLError) -> str:
    """One line for a YAML syntax error: the problem and where (issue 8: one-line errors)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def load_config(source: str | Path | dict[str, Any] | None = None) -> Config:
    """Load and validate a configuration (path to YAML, a dict, or None for the defaults)."""
    data: Any
    if source is None:
        data = {}
    elif isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {_yaml_line(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError("<root>: the configuration must be a mapping")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if cfg.trust is not None:
        from fivecore.trust.policy import parse_trust_config

        try:
            parse_trust_config(cfg.trust)
        except ConfigError as exc:
            msg = str(exc)
            raise ConfigError(msg if msg.startswith("trust") else f"trust.{msg}") from None
    return cfg
