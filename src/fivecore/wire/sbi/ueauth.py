"""TS 29.509 (Nausf_UEAuthentication) and TS 29.503 (Nudm_UEAU) data types."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import HEX16, HEX32, LinksValueSchema, SbiModel

SNN = r"^(5G:mnc[0-9]{3}[.]mcc[0-9]{3}[.]3gppnetwork[.]org(:[A-F0-9]{11})?)$|^5G:NSWO$"


class ResynchronizationInfo(SbiModel):
    """TS 29.503 §6.3.6.2.3: RAND and AUTS (TS 33.102 §6.3.3)."""

    rand: str = Field(pattern=HEX16)
    auts: str = Field(pattern=r"^[A-Fa-f0-9]{28}$")


class AuthenticationInfo(SbiModel):
    """TS 29.509 §6.1.6.2.2 — body of POST /ue-authentications."""

    supiOrSuci: str = Field(min_length=1)
    servingNetworkName: str = Field(pattern=SNN)
    resynchronizationInfo: ResynchronizationInfo | None = None
    pei: str | None = None


class Av5gAka(SbiModel):
    """TS 29.509 §6.1.6.2.4 — what the AUSF gives the SEAF (RAND, AUTN, HXRES*)."""

    rand: str = Field(pattern=HEX16)
    hxresStar: str = Field(pattern=HEX16)
    autn: str = Field(pattern=HEX16)


class UEAuthenticationCtx(SbiModel):
    """TS 29.509 §6.1.6.2.3. ``5gAuthData`` is an Av5gAka or an EAP packet (base64)."""

    authType: str
    authData5g: Av5gAka | str = Field(alias="5gAuthData")
    links: dict[str, LinksValueSchema] = Field(alias="_links")
    servingNetworkName: str | None = None


class ConfirmationData(SbiModel):
    """TS 29.509 §6.1.6.2.5 — RES* from the UE."""

    resStar: str | None = Field(pattern=HEX16)


class ConfirmationDataResponse(SbiModel):
    """TS 29.509 §6.1.6.2.6."""

    authResult: str
    supi: str | None = None
    kseaf: str | None = Field(default=None, pattern=HEX32)


class EapSession(SbiModel):
    """TS 29.509 §6.1.6.2.7 — base64 EAP packet (RFC 3748) with the result when done."""

    eapPayload: str | None
    kSeaf: str | None = Field(default=None, pattern=HEX32)
    links: dict[str, LinksValueSchema] | None = Field(default=None, alias="_links")
    authResult: str | None = None
    supi: str | None = None


class AuthenticationInfoRequest(SbiModel):
    """TS 29.503 §6.3.6.2.2 — body of generate-auth-data."""

    servingNetworkName: str = Field(pattern=SNN)
    ausfInstanceId: str = Field(min_length=1)
    resynchronizationInfo: ResynchronizationInfo | None = None
    supportedFeatures: str | None = None


class Av5GHeAka(SbiModel):
    """TS 29.503 §6.3.6.2.4 — 5G HE AV: RAND, AUTN, XRES*, KAUSF (TS 33.501 §6.1.3.2)."""

    avType: Literal["5G_HE_AKA"] = "5G_HE_AKA"
    rand: str = Field(pattern=HEX16)
    xresStar: str = Field(pattern=HEX16)
    autn: str = Field(pattern=HEX16)
    kausf: str = Field(pattern=HEX32)


class AvEapAkaPrime(SbiModel):
    """TS 29.503 §6.3.6.2.5 — EAP-AKA' AV: RAND, AUTN, XRES, CK', IK' (TS 33.501 §6.1.3.1)."""

    avType: Literal["EAP_AKA_PRIME"] = "EAP_AKA_PRIME"
    rand: str = Field(pattern=HEX16)
    xres: str = Field(pattern=r"^[A-Fa-f0-9]{8,32}$")
    autn: str = Field(pattern=HEX16)
    ckPrime: str = Field(pattern=HEX16)
    ikPrime: str = Field(pattern=HEX16)


class AuthenticationInfoResult(SbiModel):
    """TS 29.503 §6.3.6.2.3."""

    authType: str
    authenticationVector: Av5GHeAka | AvEapAkaPrime | None = Field(default=None, discriminator="avType")
    supi: str | None = None
    supportedFeatures: str | None = None


class AuthEvent(SbiModel):
    """TS 29.503 §6.3.6.2.6 — the AUSF tells the UDM the authentication result."""

    nfInstanceId: str
    success: bool
    timeStamp: str
    authType: str
    servingNetworkName: str
    authRemovalInd: bool | None = None
