"""TS 29.510 data types: NFProfile, NFService, SearchResult, SubscriptionData, NotificationData."""

from __future__ import annotations

from pydantic import Field, model_validator

from .common import NF_INSTANCE_ID, PlmnId, SbiModel, Snssai


class NFServiceVersion(SbiModel):
    apiVersionInUri: str
    apiFullVersion: str
    expiry: str | None = None


class IpEndPoint(SbiModel):
    ipv4Address: str | None = None
    ipv6Address: str | None = None
    transport: str | None = None
    port: int | None = Field(default=None, ge=0, le=65535)


class NFService(SbiModel):
    """TS 29.510 §6.1.6.2.3."""

    serviceInstanceId: str
    serviceName: str
    versions: list[NFServiceVersion] = Field(min_length=1)
    scheme: str = Field(pattern=r"^(http|https)$")
    nfServiceStatus: str
    fqdn: str | None = None
    ipEndPoints: list[IpEndPoint] | None = Field(default=None, min_length=1)
    apiPrefix: str | None = None
    allowedNfTypes: list[str] | None = None
    priority: int | None = Field(default=None, ge=0, le=65535)
    capacity: int | None = Field(default=None, ge=0, le=65535)
    load: int | None = Field(default=None, ge=0, le=100)
    sNssais: list[Snssai] | None = None
    vendorId: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class SupiRange(SbiModel):
    """TS 29.510 §6.1.6.2.9: start/end (numeric strings) or a regular expression."""

    start: str | None = Field(default=None, pattern=r"^[0-9]+$")
    end: str | None = Field(default=None, pattern=r"^[0-9]+$")
    pattern: str | None = None


class SupiInfo(SbiModel):
    groupId: str | None = None
    supiRanges: list[SupiRange] | None = None
    routingIndicators: list[str] | None = None


class DnnSmfInfoItem(SbiModel):
    dnn: str


class SnssaiSmfInfoItem(SbiModel):
    sNssai: Snssai
    dnnSmfInfoList: list[DnnSmfInfoItem]


class SmfInfo(SbiModel):
    sNssaiSmfInfoList: list[SnssaiSmfInfoItem] | None = None


class NFProfile(SbiModel):
    """TS 29.510 §6.1.6.2.2. ``vendorId`` is the IANA Private Enterprise Number (6 digits),
    kept for the vendor-trust policy the NRF applies at registration."""

    nfInstanceId: str = Field(pattern=NF_INSTANCE_ID)
    nfType: str = Field(min_length=1)
    nfStatus: str = Field(pattern=r"^(REGISTERED|SUSPENDED|UNDISCOVERABLE|CANARY_RELEASE)$|^.+$")
    nfInstanceName: str | None = None
    heartBeatTimer: int | None = Field(default=None, ge=0)
    plmnList: list[PlmnId] | None = Field(default=None, min_length=1)
    sNssais: list[Snssai] | None = Field(default=None, min_length=1)
    fqdn: str | None = None
    ipv4Addresses: list[str] | None = Field(default=None, min_length=1)
    ipv6Addresses: list[str] | None = Field(default=None, min_length=1)
    allowedNfTypes: list[str] | None = Field(default=None, min_length=1)
    priority: int | None = Field(default=None, ge=0, le=65535)
    capacity: int | None = Field(default=None, ge=0, le=65535)
    load: int | None = Field(default=None, ge=0, le=100)
    locality: str | None = None
    udmInfo: SupiInfo | None = None
    ausfInfo: SupiInfo | None = None
    udrInfo: SupiInfo | None = None
    pcfInfo: SupiInfo | None = None
    smfInfo: SmfInfo | None = None
    nfServices: list[NFService] | None = Field(default=None, min_length=1)
    nfServiceList: dict[str, NFService] | None = None
    vendorId: str | None = Field(default=None, pattern=r"^[0-9]{6}$")

    @model_validator(mode="after")
    def _one_address(self) -> NFProfile:
        # TS 29.510 §6.1.6.2.2: the profile carries fqdn, ipv4Addresses or ipv6Addresses.
        if not (self.fqdn or self.ipv4Addresses or self.ipv6Addresses):
            raise ValueError("one of fqdn, ipv4Addresses, ipv6Addresses is mandatory")
        return self

    def services(self) -> list[NFService]:
        """The NF services from ``nfServiceList`` (Rel-16+) or the older ``nfServices`` array."""
        if self.nfServiceList:
            return list(self.nfServiceList.values())
        return list(self.nfServices or [])


class SearchResult(SbiModel):
    """TS 29.510 §6.2.6.2.2."""

    validityPeriod: int
    nfInstances: list[NFProfile]


class SubscriptionData(SbiModel):
    """TS 29.510 §6.1.6.2.16 (subscriptionId is assigned by the NRF)."""

    nfStatusNotificationUri: str
    subscriptionId: str | None = None
    reqNfInstanceId: str | None = None
    subscrCond: dict | None = None
    validityTime: str | None = None
    reqNotifEvents: list[str] | None = Field(default=None, min_length=1)
    reqNfType: str | None = None


class NotificationData(SbiModel):
    """TS 29.510 §6.1.6.2.17."""

    event: str
    nfInstanceUri: str
    nfProfile: dict | None = None
