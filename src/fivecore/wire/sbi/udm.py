"""TS 29.503 Nudm_UECM and Nudm_SDM data types."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .common import Ambr, Guami, PlmnId, SbiModel, Snssai


class Amf3GppAccessRegistration(SbiModel):
    """TS 29.503 §6.2.6.2.2 — the serving AMF for 3GPP access."""

    amfInstanceId: str
    deregCallbackUri: str
    guami: Guami
    ratType: str
    supportedFeatures: str | None = None
    purgeFlag: bool | None = None
    pei: str | None = None
    initialRegistrationInd: bool | None = None
    supi: str | None = None


class Amf3GppAccessRegistrationModification(SbiModel):
    """TS 29.503 §6.2.6.2.7."""

    guami: Guami
    purgeFlag: bool | None = None
    pei: str | None = None


class SmfRegistration(SbiModel):
    """TS 29.503 §6.2.6.2.4 — one PDU session's SMF."""

    smfInstanceId: str
    pduSessionId: int = Field(ge=0, le=255)
    singleNssai: Snssai
    plmnId: PlmnId
    dnn: str | None = None
    smfSetId: str | None = None
    emergencyServices: bool | None = None
    deregCallbackUri: str | None = None


class Nssai(SbiModel):
    """TS 29.503 §6.1.6.2.2."""

    defaultSingleNssais: list[Snssai] = Field(min_length=1)
    singleNssais: list[Snssai] | None = None
    supportedFeatures: str | None = None


class AccessAndMobilitySubscriptionData(SbiModel):
    """TS 29.503 §6.1.6.2.4 (the members we use; others pass through)."""

    gpsis: list[str] | None = None
    subscribedUeAmbr: Ambr | None = None
    nssai: Nssai | None = None
    ratRestrictions: list[str] | None = None
    rfspIndex: int | None = None
    subsRegTimer: int | None = None
    micoAllowed: bool | None = None
    subscribedDnnList: list[str] | None = None


class DnnConfiguration(SbiModel):
    """TS 29.503 §6.1.6.2.9."""

    pduSessionTypes: dict[str, Any]
    sscModes: dict[str, Any]
    sessionAmbr: Ambr | None = None
    qos5g: dict[str, Any] | None = Field(default=None, alias="5gQosProfile")


class SessionManagementSubscriptionData(SbiModel):
    """TS 29.503 §6.1.6.2.8 — per S-NSSAI."""

    singleNssai: Snssai
    dnnConfigurations: dict[str, DnnConfiguration] | None = None


class SnssaiInfo(SbiModel):
    dnnInfos: list[dict[str, Any]] = Field(min_length=1)


class SmfSelectionSubscriptionData(SbiModel):
    """TS 29.503 §6.1.6.2.5 — ``subscribedSnssaiInfos`` is keyed by S-NSSAI as "sst-sd"."""

    subscribedSnssaiInfos: dict[str, SnssaiInfo] | None = None
    supportedFeatures: str | None = None


class PduSession(SbiModel):
    dnn: str
    smfInstanceId: str
    plmnId: PlmnId
    singleNssai: Snssai | None = None


class UeContextInSmfData(SbiModel):
    """TS 29.503 §6.1.6.2.10 — the UE's PDU sessions keyed by PDU session id."""

    pduSessions: dict[str, PduSession] | None = None


class SdmSubscription(SbiModel):
    """TS 29.503 §6.1.6.2.11."""

    nfInstanceId: str
    callbackReference: str
    monitoredResourceUris: list[str] = Field(min_length=1)
    implicitUnsubscribe: bool | None = None
    expires: str | None = None
    subscriptionId: str | None = None
    singleNssai: Snssai | None = None
    dnn: str | None = None
    plmnId: PlmnId | None = None


class NotifyItem(SbiModel):
    resourceId: str
    changes: list[dict[str, Any]]


class ModificationNotification(SbiModel):
    """TS 29.503 §6.1.6.2.? — SDM change notification."""

    notifyItems: list[NotifyItem] = Field(min_length=1)
    subscriptionId: str | None = None


ANY_SNSSAI: Any = object()


def select_sm_data(data: list[Any], snssai: Any = ANY_SNSSAI, dnn: str | None = None) -> list[Any]:
    """SessionManagementSubscriptionData entries for one S-NSSAI and/or DNN (the
    ``single-nssai`` and ``dnn`` query parameters of TS 29.503 §6.1.3.6.3.1 / TS 29.505
    sm-data): entries of other slices are left out, and with ``dnn`` only that DNN's
    configuration is kept (entries without it are left out); an ``snssai`` that is not an
    object matches nothing. Never changes ``data``."""
    if snssai is not ANY_SNSSAI:
        want_sd = (snssai.get("sd") or "").lower() if isinstance(snssai, dict) else ""
        data = [d for d in data if isinstance(snssai, dict) and d.get("singleNssai", {}).get("sst") == snssai.get("sst")
                and (d.get("singleNssai", {}).get("sd") or "").lower() == want_sd]
    if dnn:
        data = [{**d, "dnnConfigurations": {k: v for k, v in (d.get("dnnConfigurations") or {}).items() if k == dnn}}
                for d in data if dnn in (d.get("dnnConfigurations") or {})]
    return data
