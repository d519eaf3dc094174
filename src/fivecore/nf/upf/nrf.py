"""The UPF in the NRF: its NFProfile with ``upfInfo``, registered, kept alive and withdrawn.

TS 23.501 §6.3.3.3 lets an SMF select a UPF through the NRF; for that the UPF registers an
NFProfile (TS 29.510 §6.1.6.2.2, ``nfType: UPF``) whose ``upfInfo`` (§6.1.6.2.13) says which
slices and DNNs it serves and where its N3 and N6 interfaces are. The profile's
``ipv4Addresses`` hold the N4 (PFCP) address, which is what an SMF associates with
(TS 29.244 §4.2.2: PFCP on UDP port 8805).

The NFManagement exchange itself (NFRegister, heartbeats at the NRF's ``heartBeatTimer``,
re-registration after an NRF restart, NFDeregister on a clean stop) is the one every NF runs:
:class:`UpfNrfAgent` is an :class:`~fivecore.nf.common.app.NfApp` that serves no SBI and
only contributes its profile. PFCP never waits for it: with the NRF away the UPF keeps
serving N4 and registers when the NRF answers again.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from fivecore.config import NfSection, SbiEndpoint
from fivecore.nf.common.app import NfApp
from fivecore.nf.upf.config import UpfConfig
from fivecore.transport.http2 import Http2Client, Router

#: namespace of the derived NF instance ids (uuid5): the same UPF (Node ID and PFCP port)
#: gets the same nfInstanceId after a restart, so its NFRegister replaces its old profile
#: (TS 29.510 §5.2.2.2.2) instead of leaving a stale one beside it until it expires
_ID_NAMESPACE = uuid.UUID("6f1c3a52-5a0e-4f7e-9b1e-8c5d1f0a7c01")

#: the PDU session types the datapath forwards (IPv6 by the /64 of each session, TS 23.501 §5.8.2.2.3)
PDU_SESSION_TYPES = ["IPV4", "IPV6", "IPV4V6"]


def upf_instance_id(cfg: UpfConfig) -> str:
    """The UPF's nfInstanceId (TS 29.510 §6.1.6.2.2): ``upf.nf_instance_id`` when configured,
    else a name-based UUID (RFC 9562 §5.5) of its PFCP Node ID and port, stable across restarts."""
    if cfg.nf_instance_id:
        return cfg.nf_instance_id.lower()
    return str(uuid.uuid5(_ID_NAMESPACE, f"upf/{cfg.pfcp_node_id}/{cfg.pfcp_port}"))


def _usable(addr: str, fallback: str) -> str:
    """An address a peer can reach: a wildcard bind address is advertised as ``fallback``."""
    try:
        if ipaddress.IPv4Address(addr).is_unspecified:
            return fallback
    except ValueError:
        return fallback
    return addr


def n4_address(cfg: UpfConfig) -> str:
    """The N4 address peers associate with: ``pfcp_address``, or the Node ID when PFCP is
    bound to the wildcard address."""
    return _usable(cfg.pfcp_address, cfg.pfcp_node_id)


def upf_info(cfg: UpfConfig) -> dict[str, Any]:
    """TS 29.510 §6.1.6.2.13 UpfInfo from the UPF's configuration.

    ``sNssaiUpfInfoList``: one SnssaiUpfInfoItem per configured slice (entries of
    the same S-NSSAI merged) with a DnnUpfInfoItem per DNN;
    ``interfaceUpfInfoList`` (InterfaceUpfInfoItem): N3 at the GTP-U address, N6 at the TUN's address;
    ``pduSessionTypes``: what the datapath forwards. ``atsssCapability`` is left out (no ATSSS).
    """
    per_slice: dict[tuple[int, str | None], list[str]] = {}
    for s in cfg.slices:
        dnns = per_slice.setdefault((s.sst, s.sd.lower() if s.sd else None), [])
        dnns += [d for d in s.dnns if d not in dnns]
    items = []
    for (sst, sd), dnns in per_slice.items():
        snssai: dict[str, Any] = {"sst": sst, **({"sd": sd} if sd else {})}
        items.append({"sNssai": snssai,
                      "dnnUpfInfoList": [{"dnn": d, "pduSessionTypes": list(PDU_SESSION_TYPES)} for d in dnns]})
    n3 = _usable(cfg.gtpu_address, n4_address(cfg))
    n6: dict[str, Any] = {"interfaceType": "N6", "ipv4EndpointAddresses": [cfg.tun_address.split("/", 1)[0]]}
    if cfg.ipv6_subnet:
        n6["ipv6EndpointAddresses"] = [a.split("/", 1)[0] for a in cfg.tun_ipv6_addresses]
    return {
        "sNssaiUpfInfoList": items,
        "interfaceUpfInfoList": [{"interfaceType": "N3", "ipv4EndpointAddresses": [n3]}, n6],
        "pduSessionTypes": list(PDU_SESSION_TYPES),
    }


def upf_profile(cfg: UpfConfig, *, instance_id: str | None = None, mcc: str = "001", mnc: str = "01",
                heartbeat_timer: int = 10) -> dict[str, Any]:
    """The UPF's NFProfile (TS 29.510 §6.1.6.2.2): no NF services (a UPF offers none on the SBI
    here), the N4 address in ``ipv4Addresses``, its slices in ``sNssais`` (so discovery with
    ``snssais`` filters on them) and ``upfInfo``."""
    info = upf_info(cfg)
    prof: dict[str, Any] = {
        "nfInstanceId": instance_id or upf_instance_id(cfg),
        "nfType": "UPF",
        "nfStatus": "REGISTERED",
        "heartBeatTimer": heartbeat_timer,
        "plmnList": [{"mcc": mcc, "mnc": mnc}],
        "sNssais": [item["sNssai"] for item in info["sNssaiUpfInfoList"]],
        "ipv4Addresses": [n4_address(cfg)],
        "upfInfo": info,
    }
    if cfg.vendor_id:
        prof["vendorId"] = cfg.vendor_id
    return prof


class _UpfSectionView:
    """What :class:`NfApp` reads of a configuration (``section()`` and ``plmn``), made from
    the UPF's own section, which is not an SBI NF section (the UPF serves no SBI)."""

    def __init__(self, cfg: UpfConfig, mcc: str, mnc: str) -> None:
        from fivecore.config import PlmnConfig

        self.plmn = PlmnConfig(mcc=mcc, mnc=mnc)
        self._section = NfSection(
            sbi=SbiEndpoint(address=n4_address(cfg), port=cfg.pfcp_port), nrf_uri=cfg.nrf_uri,
            nf_instance_id=upf_instance_id(cfg), vendor_id=cfg.vendor_id)

    def section(self, _name: str) -> NfSection:
        return self._section


class UpfNrfAgent(NfApp):
    """NFRegister / heartbeat / NFDeregister of one UPF (TS 29.510 §5.2.2.2-§5.2.2.4) through
    the NF plumbing every NF uses; ``await agent.start()`` returns at once (registration runs
    in the background, retried until the NRF answers), ``await agent.stop()`` deregisters."""

    nf_type = "UPF"
    section = "upf"
    services: list[tuple[str, str]] = []

    def __init__(self, cfg: UpfConfig, *, mcc: str = "001", mnc: str = "01",
                 http: Http2Client | None = None) -> None:
        self.upf_cfg = cfg
        super().__init__(_UpfSectionView(cfg, mcc, mnc), http=http)  # type: ignore[arg-type]

    def build_router(self) -> Router:
        return Router("upf")  # nothing served: the UPF's interfaces are N3, N4 and N6

    def profile(self) -> dict[str, Any]:
        """TS 29.510 §6.1.6.2.2 with §6.1.6.2.13 UpfInfo (:func:`upf_profile`)."""
        return upf_profile(self.upf_cfg, instance_id=self.instance_id, mcc=self.config.plmn.mcc,
                           mnc=self.config.plmn.mnc, heartbeat_timer=self.heartbeat_timer)

    async def start(self, serve: bool = False) -> None:
        await super().start(serve=False)
