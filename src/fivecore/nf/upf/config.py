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
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fivecore.errors import ConfigError


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

    @field_validator("pfcp_address", "gtpu_address")
    @classmethod
    def _ipv4(cls, v: str) -> str:
        ipaddress.IPv4Address(v)
        return v

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, v: str) -> str:
        ipaddress.IPv4Network(v, strict=False)
        return v

    @property
    def pfcp_node_id(self) -> str:
        return self.node_id or self.pfcp_address

    @property
    def tun_address(self) -> str:
        """CIDR address given to the TUN when the UPF creates it."""
        net = ipaddress.IPv4Network(self.subnet, strict=False)
        gw = self.gateway or str(next(net.hosts()))
        return f"{gw}/{net.prefixlen}"


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
