"""TS 29.571 common data types used across the SBI (PlmnId, Snssai, Ambr, Guami, ProblemDetails...)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEX16 = r"^[A-Fa-f0-9]{32}$"
HEX32 = r"^[A-Fa-f0-9]{64}$"
MCC = r"^\d{3}$"
MNC = r"^\d{2,3}$"
SUPI_IMSI = r"^imsi-[0-9]{5,15}$"
NF_INSTANCE_ID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class SbiModel(BaseModel):
    """Base of every SBI data type: JSON member names as in the 3GPP OpenAPI (by alias),
    strict types (a string where an integer is due is MANDATORY_IE_INCORRECT, not coerced),
    and unknown members kept, since 3GPP schemas allow additional properties."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True)

    def dump(self) -> dict[str, Any]:
        """The JSON object (by alias, None members left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class PlmnId(SbiModel):
    """TS 29.571 §5.4.4.3."""

    mcc: str = Field(pattern=MCC)
    mnc: str = Field(pattern=MNC)


class Snssai(SbiModel):
    """TS 29.571 §5.4.4.2: SST 0..255, optional 6-hex-digit SD."""

    sst: int = Field(ge=0, le=255)
    sd: str | None = Field(default=None, pattern=r"^[A-Fa-f0-9]{6}$")


class Ambr(SbiModel):
    """TS 29.571 §5.5.4.1 (BitRate strings such as ``"1 Gbps"``)."""

    uplink: str = Field(pattern=r"^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$")
    downlink: str = Field(pattern=r"^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$")


class Guami(SbiModel):
    """TS 29.571 §5.4.4.21."""

    plmnId: PlmnId
    amfId: str = Field(pattern=r"^[A-Fa-f0-9]{6}$")


class InvalidParam(SbiModel):
    param: str
    reason: str | None = None


class ProblemDetails(SbiModel):
    """TS 29.571 §5.2.4.1 (RFC 7807) with the 3GPP ``cause`` (TS 29.500 §5.2.7.2)."""

    type: str | None = None
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None
    cause: str | None = None
    invalidParams: list[InvalidParam] | None = None


class PatchItem(SbiModel):
    """TS 29.571 §5.2.4.? — one JSON Patch operation (RFC 6902)."""

    op: str = Field(pattern=r"^(add|copy|move|remove|replace|test)$")
    path: str
    from_: str | None = Field(default=None, alias="from")
    value: Any = None


class LinksValueSchema(SbiModel):
    """TS 29.571 §5.2.4.? — a hypermedia link ``{"href": ...}``."""

    href: str
