"""The UPF's configuration: the ``upf:`` section of a fivecore YAML file.

Defaults follow the single-host layout of ARCHITECTURE.md (Open5GS's): PFCP on
127.0.0.7:8805, GTP-U on 127.0.0.7:2152, N6 through the TUN ``ogstun``, UE pool
10.45.0.0/16 whose first address is the TUN's.

Example (the layout of the shared upf-bench harness)::

    upf:
      pfcp_address: 127.0.0.7
      gtpu_address: 10.200.1.1
      tun_name: ogstun
      tun_create: false        # open the existing TUN, leave its address alone
      subnet: 10.45.0.0/16
      ipv6_subnet: 2001:db8:cafe::/48   # IPv6 prefix pool(s) routed to the TUN (none: no IPv6)
      n3_mtu: 1500             # N3 path MTU: an RA's default link MTU is this less 44 (GTP-U)
      ipv6_ra:                 # per DNN: what the Router Advertisements carry besides the prefix
        - {dnn: internet, mtu: 1400, dns: ["2001:4860:4860::8888"]}
      nrf_uri: http://127.0.0.10:7777   # register an NFProfile (null: do not register)
      slices:                  # what upfInfo advertises (TS 29.510 §6.1.6.2.13)
        - {sst: 1, dnns: [internet]}
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fivecore.errors import ConfigError
from fivecore.nf.upf.ndp import RaPolicy

#: the NRF every NF registers with by default (fivecore.config.DEFAULT_NRF_URI, which cannot be
#: imported here: fivecore.config imports this module)
DEFAULT_NRF_URI = "http://127.0.0.10:7777"


class UpfSliceConfig(BaseModel):
    """One S-NSSAI the UPF serves and the DNNs it serves in it (TS 29.510 SnssaiUpfInfoItem
    with its DnnUpfInfoItems, inside UpfInfo §6.1.6.2.13)."""

    model_config = ConfigDict(extra="forbid")

    sst: int = Field(1, ge=0, le=255)
    sd: str | None = Field(None, pattern=r"^[0-9a-fA-F]{6}$")
    dnns: list[str] = Field(default_factory=lambda: ["internet"], min_length=1)

    @field_validator("dnns")
    @classmethod
    def _dnns(cls, v: list[str]) -> list[str]:
        for d in v:
            # TS 23.003 §9.1: an APN/DNN label sequence; at least non-empty and printable
            if not d or len(d) > 100 or not d.isprintable() or " " in d:
                raise ValueError(f"{d!r} is not a DNN")
        return v


class UpfRaConfig(BaseModel):
    """One DNN's Router Advertisement options (fivecore.nf.upf.ndp): the IPv6 link MTU
    (RFC 4861 §4.6.4; None: ``n3_mtu`` less the GTP-U overhead) and the IPv6 DNS servers
    (RFC 8106 §5.1), both the DNN's configuration (TS 23.501 §5.6.10.4, TS 29.061 §11.2.1.3)."""

    model_config = ConfigDict(extra="forbid")

    dnn: str = "internet"
    mtu: int | None = Field(None, ge=1280, le=65535)
    dns: list[str] = Field(default_factory=list, max_length=127)

    @field_validator("dns")
    @classmethod
    def _dns(cls, v: list[str]) -> list[str]:
        out = []
        for a in v:
            addr = ipaddress.IPv6Address(a)
            if addr.is_multicast or addr.is_unspecified:
                raise ValueError(f"{a} is not a unicast IPv6 address")
            out.append(str(addr))
        return out


class UpfConfig(BaseModel):
    """Settings of one UPF process."""

    model_config = ConfigDict(extra="forbid")

    pfcp_address: str = "127.0.0.7"
    pfcp_port: int = Field(8805, ge=1, le=65535)
    node_id: str | None = Field(None, description="PFCP Node ID (IPv4); default pfcp_address")
    gtpu_address: str = "127.0.0.7"
    gtpu_port: int = Field(2152, ge=1, le=65535)
    tun_name: str = "ogstun"
    tun_create: bool = Field(True, description="create/configure the TUN; false = open existing")
    tun_mtu: int | None = Field(None, ge=576, le=65535)
    subnet: str = "10.45.0.0/16"
    gateway: str | None = Field(None, description="TUN address; default first host of subnet")
    #: IPv6 prefix pool(s) whose sessions' /64s N6 carries (TS 23.501 §5.8.2.2.3), Open5GS's
    #: ``upf.session[].subnet: 2001:db8:cafe::/48``: the same pool(s) as the SMF's DNNs'
    #: ``ipv6_prefix_pool``. With ``tun_create`` the TUN gets ``<pool>::1/<len>`` in each,
    #: which also routes the pool into the TUN. One prefix or a list; empty: IPv4 only.
    ipv6_subnet: list[str] = Field(default_factory=list)
    #: the N3 path MTU; an IPv6 session's Router Advertisement offers this less the GTP-U
    #: encapsulation as link MTU unless its DNN's ``ipv6_ra`` entry names one
    n3_mtu: int = Field(1500, ge=1280, le=65535)
    #: per DNN, the MTU and DNS servers the Router Advertisements carry (fivecore.nf.upf.ndp)
    ipv6_ra: list[UpfRaConfig] = Field(default_factory=list)
    heartbeat_interval: float = Field(10.0, gt=0, description="s between Heartbeats to CP nodes")
    heartbeat_retries: int = Field(3, ge=1)
    t1: float = Field(3.0, gt=0, description="PFCP request retransmission timer, s")
    n1: int = Field(3, ge=1, description="PFCP request transmissions before giving up")
    batch: int = Field(256, ge=1, le=65536, description="datapath packets per wake-up")
    rcvbuf: int = Field(8 * 1024 * 1024, ge=65536, description="N3 socket receive buffer")
    uvloop: bool = True
    stats_file: str | None = Field(
        None, description="write the counters as JSON to this file every stats_interval s")
    stats_interval: float = Field(1.0, gt=0)
    #: NRF registration (TS 23.501 §6.3.3.3, TS 29.510 §5.2.2.2): the NRF's URI, or None to
    #: serve N4 without registering (fivecore.nf.upf.nrf)
    nrf_uri: str | None = DEFAULT_NRF_URI
    nf_instance_id: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="NF instance id; default a UUID derived from node_id and pfcp_port")
    vendor_id: str | None = Field(None, pattern=r"^[0-9]{6}$")
    slices: list[UpfSliceConfig] = Field(default_factory=lambda: [UpfSliceConfig()], min_length=1)

    @field_validator("pfcp_address", "gtpu_address")
    @classmethod
    def _ipv4(cls, v: str) -> str:
        ipaddress.IPv4Address(v)
        return v

    @field_validator("nrf_uri")
    @classmethod
    def _nrf_uri(cls, v: str | None) -> str | None:
        # checked here: a URI the SBI client cannot use would only show up later, in the
        # background registration task, while the UPF looks healthy
        if v is None:
            return v
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("must be an http:// or https:// URI with a host")
        return v.rstrip("/")

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, v: str) -> str:
        ipaddress.IPv4Network(v, strict=False)
        return v

    @field_validator("ipv6_subnet", mode="before")
    @classmethod
    def _ipv6_subnet(cls, v: Any) -> Any:
        if v is None:
            return []
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list):
            return v  # pydantic reports the type
        out = []
        for item in items:
            if not isinstance(item, str):
                raise ValueError("must be IPv6 prefixes such as 2001:db8:cafe::/48")
            net = ipaddress.IPv6Network(item, strict=False)
            # the SMF cuts /64s out of the pool (nf/smf/context.py Ipv6PrefixPool)
            if net.prefixlen > 64:
                raise ValueError(f"{item}: the IPv6 pool must be /64 or larger")
            out.append(str(net))
        for i, a in enumerate(out):
            for b in out[i + 1:]:
                if ipaddress.IPv6Network(a).overlaps(ipaddress.IPv6Network(b)):
                    raise ValueError(f"{a} and {b} overlap")
        return out

    @field_validator("ipv6_ra")
    @classmethod
    def _ipv6_ra(cls, v: list[UpfRaConfig]) -> list[UpfRaConfig]:
        seen = set()
        for e in v:
            if e.dnn in seen:
                raise ValueError(f"DNN {e.dnn} listed twice")
            seen.add(e.dnn)
        return v

    def ra_policy(self) -> RaPolicy:
        """The Router Advertisement options per DNN (fivecore.nf.upf.ndp.RaPolicy)."""
        return RaPolicy.from_config(self.n3_mtu, ((e.dnn, e.mtu, e.dns) for e in self.ipv6_ra))

    @property
    def pfcp_node_id(self) -> str:
        return self.node_id or self.pfcp_address

    @property
    def tun_address(self) -> str:
        """CIDR address given to the TUN when the UPF creates it."""
        net = ipaddress.IPv4Network(self.subnet, strict=False)
        gw = self.gateway or str(next(net.hosts()))
        return f"{gw}/{net.prefixlen}"

    @property
    def tun_ipv6_addresses(self) -> list[str]:
        """CIDR IPv6 addresses given to the TUN when the UPF creates it: ``<pool>::1/<len>``
        per ``ipv6_subnet`` pool, in the pool's first /64, which the SMF never hands to a
        session (the rule of ``fivecore up``, fivecore.netup.network.n6_ipv6_address)."""
        out = []
        for pool in self.ipv6_subnet:
            net = ipaddress.IPv6Network(pool)
            out.append(f"{net.network_address + 1}/{net.prefixlen}")
        return out


def load_upf_config(path: str | Path | None = None, data: dict[str, Any] | None = None) -> UpfConfig:
    """Read the ``upf:`` section of a YAML file (or of ``data``); a missing section is defaults."""
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("configuration must be a mapping")
    section = data.get("upf", {}) or {}
    try:
        return UpfConfig.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"upf.{where}: {first['msg']}") from exc
