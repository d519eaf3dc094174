"""AUSF state: authentication contexts between the challenge and the confirmation (TS 33.501 §6.1.3)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CONTEXT_LIFETIME = 60.0  # seconds a challenge may wait for its answer


@dataclass
class AuthCtx:
    """One UE authentication in progress. Key material is kept out of repr."""

    supi: str
    snn: str
    auth_type: str
    rand: bytes
    created: float
    xres_star: bytes = field(default=b"", repr=False)
    kausf: bytes = field(default=b"", repr=False)
    # EAP-AKA'
    xres: bytes = field(default=b"", repr=False)
    k_aut: bytes = field(default=b"", repr=False)
    eap_id: int = 0
    supi_or_suci: str = ""
    done: bool = False


class AusfContext:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_contexts: int = 100_000) -> None:
        self.clock = clock
        self.max_contexts = max_contexts
        self.contexts: dict[str, AuthCtx] = {}

    def new(self, ctx: AuthCtx) -> str:
        if len(self.contexts) >= self.max_contexts:
            self.expire()
        cid = secrets.token_hex(16)  # 128 random bits, as a UUIDv4 had (minus its 6 fixed ones)
        self.contexts[cid] = ctx
        return cid

    def get(self, cid: str) -> AuthCtx | None:
        ctx = self.contexts.get(cid)
        if ctx is not None and self.clock() - ctx.created > CONTEXT_LIFETIME:
            del self.contexts[cid]
            return None
        return ctx

    def drop(self, cid: str) -> None:
        self.contexts.pop(cid, None)

    def expire(self) -> None:
        now = self.clock()
        for cid, ctx in list(self.contexts.items()):
            if now - ctx.created > CONTEXT_LIFETIME:
                del self.contexts[cid]
