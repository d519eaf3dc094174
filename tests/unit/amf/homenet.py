"""A home network for sans-I/O tests: answers the AMF's SbiCall actions with real 5G-AKA.

It computes authentication vectors exactly as TS 33.501 §6.1.3.2 / TS 33.102 §6.3 define them
(Milenage, KDFs of Annex A) so the UE simulator and the AMF are checked against the specs'
arithmetic, not against each other. The end-to-end tests use the real AUSF/UDM/UDR instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fivecore.nf.amf.gmm import SbiFailure
from fivecore.security import kdf, milenage
from fivecore.security.suci import SuciIdentity


@dataclass
class Subscriber:
    k: bytes
    opc: bytes
    sqn: int = 0x20
    nssai: list[tuple[int, int | None]] = field(default_factory=lambda: [(1, None)])


class HomeNetwork:
    def __init__(self, snn: str, hn_keys: dict[int, bytes] | None = None) -> None:
        self.snn = snn
        self.subs: dict[str, Subscriber] = {}
        self.hn_keys = hn_keys or {}
        self.pending: dict[str, tuple[str, bytes, bytes]] = {}
        self.calls: list[str] = []
        self.uecm: set[str] = set()

    def add(self, supi: str, k: bytes, opc: bytes, sqn: int = 0x20) -> None:
        self.subs[supi] = Subscriber(k, opc, sqn)

    def handle(self, op: str, args: dict[str, Any]) -> Any:
        self.calls.append(op)
        if op == "auth":
            if "suci" in args:
                supi = SuciIdentity.from_string(args["suci"]).to_supi(self.hn_keys)
            else:
                supi = args["supi"]
            sub = self.subs.get(supi)
            if sub is None:
                return SbiFailure(404, "USER_NOT_FOUND")
            if "resync" in args:
                rand = bytes.fromhex(args["resync"]["rand"])
                auts = bytes.fromhex(args["resync"]["auts"])
                ak_s = milenage.f5star(sub.k, sub.opc, rand)
                sqn_ms = bytes(a ^ b for a, b in zip(auts[:6], ak_s, strict=True))
                if milenage.f1star(sub.k, sub.opc, rand, sqn_ms, b"\0\0") != auts[6:]:
                    return SbiFailure(403, "AUTHENTICATION_REJECTED")
                sub.sqn = int.from_bytes(sqn_ms, "big") + 32
            sub.sqn += 32
            sqn = sub.sqn.to_bytes(6, "big")
            rand = os.urandom(16)
            amf = b"\x80\x00"
            res, ck, ik, ak = milenage.f2345(sub.k, sub.opc, rand)
            mac = milenage.f1(sub.k, sub.opc, rand, sqn, amf)
            sqn_ak = bytes(a ^ b for a, b in zip(sqn, ak, strict=True))
            xres_star = kdf.res_star(ck, ik, self.snn, rand, res)
            kausf = kdf.kausf(ck, ik, self.snn, sqn_ak)
            link = f"/nausf-auth/v1/ue-authentications/{len(self.pending)}/5g-aka-confirmation"
            self.pending[link] = (supi, xres_star, kdf.kseaf(kausf, self.snn))
            return {
                "authType": "5G_AKA",
                "5gAuthData": {
                    "rand": rand.hex(),
                    "autn": (sqn_ak + amf + mac).hex(),
                    "hxresStar": kdf.hxres_star(rand, xres_star).hex(),
                },
                "_links": {"5g-aka": {"href": link}},
            }
        if op == "confirm":
            supi, xres_star, kseaf = self.pending.pop(args["href"])
            if bytes.fromhex(args["res_star"]) != xres_star:
                return {"authResult": "AUTHENTICATION_FAILURE"}
            return {"authResult": "AUTHENTICATION_SUCCESS", "supi": supi, "kseaf": kseaf.hex()}
        if op == "udm_register":
            self.uecm.add(args["supi"])
            return {"nssai": self.subs[args["supi"]].nssai}
        if op == "udm_deregister":
            self.uecm.discard(args["supi"])
            return {}
        raise AssertionError(op)
