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


class Loop:
    """Wires one AMF :class:`Gmm` to simulated UEs through the action lists, synchronously.

    Downlink NAS goes to the UE, its uplink answers back to the AMF, SBI calls to the
    :class:`HomeNetwork`; timers are recorded (tests fire them by hand). ``drop_uplink`` lets a
    test lose the UE's next answers; ``uplinks`` keeps every uplink PDU for replay tests.
    """

    def __init__(self, gmm: Any, hn: HomeNetwork) -> None:
        from fivecore.nf.amf.context import GnbContext

        self.gmm = gmm
        self.hn = hn
        self.gnb = GnbContext(1, "test-gnb")
        self.timers: dict[tuple[int, str], int] = {}
        self.releases: list[Any] = []
        self.ics: list[tuple[Any, bytes]] = []
        self.uplinks: list[bytes] = []
        self.downlinks: list[bytes] = []
        self.drop_uplink = 0
        self.ran_id = 0
        self.ue_of: dict[int, Any] = {}

    def run(self, ue: Any, actions: list[Any]) -> None:
        """Carry out ``actions`` in order; answers (uplink NAS, SBI results) are handled after
        the current list is done, as the asyncio application would."""
        from collections import deque

        from fivecore.nf.amf.gmm import ReleaseUe, SbiCall, SendIcs, SendNas, SetTimer, StopTimer

        pending: deque[Any] = deque([lambda: actions])
        while pending:
            for a in pending.popleft()():
                if isinstance(a, SbiCall):
                    result = self.hn.handle(a.op, a.args)
                    if a.op != "udm_deregister":
                        pending.append(lambda a=a, r=result: self.gmm.sbi_result(a.ue, a.token, a.op, r))
                elif isinstance(a, SendNas | SendIcs):
                    if isinstance(a, SendIcs):
                        self.ics.append((a.ue, a.kgnb))
                        assert a.kgnb == ue.kgnb(), "KgNB of the AMF and of the UE differ"
                    self.downlinks.append(a.pdu)
                    for up in ue.on_downlink(a.pdu):
                        self.uplinks.append(up)
                        if self.drop_uplink:
                            self.drop_uplink -= 1
                            continue
                        pending.append(lambda a=a, up=up: self.gmm.uplink_nas(a.ue, up))
                elif isinstance(a, SetTimer):
                    self.timers[(a.ue.amf_ue_ngap_id, a.name)] = a.token
                elif isinstance(a, StopTimer):
                    self.timers.pop((a.ue.amf_ue_ngap_id, a.name), None)
                elif isinstance(a, ReleaseUe):
                    self.releases.append(a)
                    self.gmm.ran_released(a.ue)
                    ue.connected = False

    def initial(self, ue: Any, pdu: bytes) -> Any:
        self.ran_id += 1
        ue.connected = True
        amf_ue, actions = self.gmm.initial_ue_message(self.gnb, self.ran_id, pdu, 1)
        self.ue_of[id(ue)] = amf_ue
        self.run(ue, actions)
        return amf_ue

    def register(self, ue: Any, **kw: Any) -> Any:
        return self.initial(ue, ue.register(**kw))

    def fire(self, ue: Any, amf_ue: Any, name: str) -> None:
        token = self.timers.pop((amf_ue.amf_ue_ngap_id, name))
        self.run(ue, self.gmm.timer_expired(amf_ue, name, token))


def make(n: int = 1, *, schemes: tuple[int, ...] = (1,), gmm_kw: dict[str, Any] | None = None,
         nea: tuple[int, ...] = (0, 1, 2, 3), nia: tuple[int, ...] = (1, 2, 3), ue_k: bytes | None = None,
         ue_sqn: int = 0) -> tuple[Loop, list[Any]]:
    """A Gmm + home network + ``n`` UEs (IMSI 001010000000001..., schemes in turn)."""
    from fivecore.nf.amf.gmm import Gmm, GmmConfig
    from fivecore.ran.ue import Ue, UeProfile
    from fivecore.ran.usim import Usim
    from fivecore.security import suci as suci_mod

    cfg = GmmConfig(**(gmm_kw or {}))
    gmm = Gmm(cfg)
    a_priv, a_pub = suci_mod.generate_hn_keypair(1)
    b_priv, b_pub = suci_mod.generate_hn_keypair(2)
    hn = HomeNetwork(cfg.serving_network_name, {1: a_priv, 2: b_priv})
    k = bytes(range(16))
    opc = bytes(range(16, 32))
    ues = []
    for i in range(n):
        imsi = f"00101{i + 1:010d}"
        hn.add(f"imsi-{imsi}", k, opc)
        scheme = schemes[i % len(schemes)]
        pub = {0: None, 1: a_pub, 2: b_pub}[scheme]
        usim = Usim(imsi, ue_k or k, opc=opc, protection_scheme=scheme, hn_public_key=pub,
                    hn_key_id=scheme if scheme else 0, sqn=ue_sqn)
        ue = Ue(usim, UeProfile(nea=nea, nia=nia))
        ue.stats = {}
        ues.append(ue)
    return Loop(gmm, hn), ues
