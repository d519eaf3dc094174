"""TS 29.505 subscription data types held by the UDR."""

from __future__ import annotations

from pydantic import Field

from .common import SbiModel


class SequenceNumber(SbiModel):
    """TS 29.505 §5.2.2.2.3: SQN (hex, 48 bit) in the general (non time-based) scheme."""

    sqnScheme: str | None = None
    sqn: str | None = Field(default=None, pattern=r"^[A-Fa-f0-9]{12}$")
    lastIndexes: dict[str, int] | None = None
    indLength: int | None = None
    difSign: str | None = None


class AuthenticationSubscription(SbiModel):
    """TS 29.505 §5.2.2.2.2. K and OPc are long-term secrets: this model's repr hides them."""

    authenticationMethod: str
    encPermanentKey: str | None = Field(default=None, repr=False)
    protectionParameterId: str | None = None
    sequenceNumber: SequenceNumber | None = None
    authenticationManagementField: str | None = Field(default=None, pattern=r"^[A-Fa-f0-9]{4}$")
    algorithmId: str | None = None
    encOpcKey: str | None = Field(default=None, repr=False)
    encTopcKey: str | None = Field(default=None, repr=False)
    supi: str | None = None
