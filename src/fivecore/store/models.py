"""Plain records the store hands out; long-term keys are hidden from ``repr`` (and so from logs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SQN_MAX = (1 << 48) - 1
IND_LEN = 5
SEQ_STEP = 1 << IND_LEN  # TS 33.102 Annex C.3.2: SQN = SEQ || IND, IND 5 bits; a new AV increments SEQ.

SECTIONS = ("am", "sm", "smf_selection", "policy", "msisdn")


@dataclass(slots=True)
class AuthData:
    """What the UDM needs to compute a vector (TS 29.505 AuthenticationSubscription)."""

    supi: str
    k: bytes = field(repr=False)
    opc: bytes | None = field(repr=False)
    op: bytes | None = field(repr=False)
    amf: bytes
    sqn: int
    auth_method: str = "5G_AKA"


@dataclass(slots=True)
class Subscriber:
    """One subscriber. ``data`` holds per-subscriber overrides of the profile's sections
    (``am``, ``sm``, ``smf_selection``, ``policy``, ``msisdn``); :meth:`SubscriberStore.effective`
    merges them with the profile."""

    supi: str
    k: bytes = field(repr=False)
    opc: bytes | None = field(default=None, repr=False)
    op: bytes | None = field(default=None, repr=False)
    amf: bytes = b"\x80\x00"
    sqn: int = 0
    auth_method: str = "5G_AKA"
    profile: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    def public(self, with_keys: bool = False) -> dict[str, Any]:
        """A JSON-able view; keys only when asked for (export), never for show/list."""
        out: dict[str, Any] = {
            "supi": self.supi,
            "amf": self.amf.hex(),
            "sqn": f"{self.sqn:012x}",
            "auth_method": self.auth_method,
            "profile": self.profile,
            "data": self.data,
        }
        if with_keys:
            out["k"] = self.k.hex()
            if self.opc is not None:
                out["opc"] = self.opc.hex()
            if self.op is not None:
                out["op"] = self.op.hex()
        return out
