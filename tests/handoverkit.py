"""Shared by the handover unit tests (Xn path switch, N2 handover, their hostile variants):
an AMF and the real SMF behind it in one process (in-process SBI), the SMF's N4 datagrams run
by the UPF's sans-I/O PFCP node, NGAP builders, and the Annex A.10 NH written out as HMAC."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from fivecore.config import load_config
from fivecore.nf.amf.app import AmfApp
from fivecore.nf.amf.context import GmmState, GnbContext, GnbState
from fivecore.nf.amf.sessions import AmfSmSession
from fivecore.nf.common.client import LocalRegistry
from fivecore.nf.smf.app import SmfApp
from fivecore.nf.smf.context import SmContext, SmState
from fivecore.nf.upf.context import UpfContext
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.security.nas_context import NasSecurityContext, Role
from fivecore.transport.http2 import Request, Response
from fivecore.wire import ngap, pfcp
from fivecore.wire.nas.ies import dec_ue_sec_cap
from fivecore.wire.sbi import multipart

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"
SUPI = "imsi-001010000000001"
UPF = ("127.0.0.7", 8805)
GNB_A, GNB_B, GNB_C = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def kgnb_vector() -> tuple[bytes, bytes]:
    """(KAMF, KgNB) of a known-answer vector (TS 33.501 Annex A.9): the AS context's start."""
    d = json.loads((SHARED / "vectors" / "kdf5g.json").read_text())
    e = next(e for e in d["entries"] if e["id"] == "srsran_k_gnb")
    return bytes.fromhex(e["inputs"]["k_amf"]), bytes.fromhex(e["output"]["k_gnb"])


def annex_a10(kamf: bytes, sync_input: bytes) -> bytes:
    """TS 33.501 Annex A.10 written out: HMAC-SHA-256(KAMF, 0x6F || SYNC-input || 0x0020)."""
    return hmac.new(kamf, b"\x6f" + sync_input + len(sync_input).to_bytes(2, "big"), hashlib.sha256).digest()


class UpfWire:
    """The SMF's N4 transport: each datagram is handed to a sans-I/O UPF node."""

    def __init__(self, app: SmfApp) -> None:
        self.n4 = app.n4
        self.node = PfcpNode(UpfContext("127.0.0.7"), UPF[0])
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent.append(data)
        for out, _to in self.node.datagram_received(data, (self.n4.address, self.n4.port), time.monotonic()):
            asyncio.get_running_loop().call_soon(self.n4.datagram_received, out, UPF)

    def close(self) -> None:
        pass

    def last_request(self) -> pfcp.PfcpMessage:
        return pfcp.decode(self.sent[-1])


class Net:
    """An AMF with gNBs A, B (TAC 1) and C (TACs 1 and 7), a REGISTERED UE on A with one PDU
    session whose downlink goes to A, and the SMF + UPF that serve it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def start(self, sessions: int = 1, amf: dict[str, Any] | None = None,
                    ids: tuple[int, int, int] = (1, 2, 3)) -> Net:
        cfg = load_config({"amf": {"nrf_uri": None, **(amf or {})}, "smf": {"nrf_uri": None}})
        local = LocalRegistry()
        self.smf = SmfApp(cfg)
        local.register(["nsmf-pdusession"], self.smf.router)
        self.wire = UpfWire(self.smf)
        self.smf.n4.transport = self.wire  # type: ignore[assignment]
        peer = self.smf.peers[0]
        assert (await self.smf.n4.request(peer, self.smf.n4.association_setup(peer))).cause == pfcp.CAUSE_ACCEPTED
        peer.associated = True
        self.amf = app = AmfApp(cfg, local=local)
        app._execute = self.sent.extend  # type: ignore[method-assign]
        self.a = self.gnb(1, GNB_A, ids[0], [1])
        self.b = self.gnb(2, GNB_B, ids[1], [1])
        self.c = self.gnb(3, GNB_C, ids[2], [1, 7])
        self.kamf, self.kgnb = kgnb_vector()
        ue = self.ue = app.gmm.ctx.new_ue(self.a, 7)
        ue.state = GmmState.REGISTERED
        app.gmm.ctx.set_supi(ue, SUPI)
        ue.allowed_nssai = ((1, None),)
        ue.kamf = self.kamf
        ue.sec = NasSecurityContext.from_kamf(Role.NETWORK, self.kamf, int_alg=2, enc_alg=2)
        ue.ngksi = 1
        ue.ue_sec_cap = dec_ue_sec_cap(bytes([0xF0, 0xF0]))  # 5G-EA0..3, 5G-IA0..3
        # the Initial Context Setup gave gNB A this KgNB: NCC 0, the first NH's SYNC-input
        ue.kgnb_sent, ue.nh, ue.ncc = True, self.kgnb, 0
        self.sms = []
        for psi in range(1, sessions + 1):
            sm = self.smf.ctx.new(SUPI, psi, "internet", {"sst": 1})
            sm.ue_ipv4, sm.upf, sm.state = f"10.45.0.{psi + 1}", peer, SmState.ACTIVE
            await self.smf.service._pfcp_establish(sm)
            sm.dl_ip, sm.dl_teid = GNB_A, 0x1000 + psi
            await self.smf.n4.request(peer, pfcp_activate(sm, self.smf))
            sm.up_active = True
            app.sessions.by_supi.setdefault(SUPI, {})[psi] = AmfSmSession(psi, None, sm.ref, {"sst": 1},
                                                                          "internet", up_active=True)
            self.sms.append(sm)
        self.wire.node.take_end_markers()
        return self

    def gnb(self, assoc: int, peer: str, gnb_id: int, tacs: list[int]) -> GnbContext:
        """A gNB association after a real NG Setup (the trust policy, if any, decides it)."""
        g = self.amf.ngap.association_up(assoc, peer)
        setup = ngap.NgapPdu("NGSetup", "initiating", {
            "GlobalRANNodeID": ngap.global_gnb_id("00101", gnb_id, 22), "RANNodeName": f"gnb-{gnb_id}",
            "SupportedTAList": ngap.supported_ta_list([(t, "00101", [(1, None)]) for t in tacs]),
            "DefaultPagingDRX": "v128"})
        (rsp,) = self.amf.ngap.on_message(g, 0, ngap.encode(setup))
        assert ngap.decode(rsp.data).kind == "successful" and g.state == GnbState.READY
        return g

    async def path_switch(self, gnb: GnbContext, pdu: bytes) -> list[Any]:
        """Feed PATH SWITCH REQUEST, wait for the SMF round trips; everything sent since."""
        self.sent.clear()
        out = self.amf.ngap.on_message(gnb, 1, pdu)
        self.sent.extend(out)
        await asyncio.gather(*self.amf.handover._bg)
        return [ngap.decode(x.data) for x in self.sent if hasattr(x, "data")]


def pfcp_activate(sm: Any, smf: SmfApp) -> Any:
    from fivecore.nf.smf import pfcp as smf_pfcp

    return smf_pfcp.activate_downlink(sm, seq=smf.n4.next_seq())


def request(ran_id: int, amf_id: int, *, tac: int = 1, psis: tuple[int, ...] = (1,), teid: int = 0x2001,
            ip: str = GNB_B, failed: tuple[int, ...] = (), nea: tuple[int, ...] = (1, 2, 3),
            nia: tuple[int, ...] = (1, 2, 3), plmn: str = "00101") -> bytes:
    """PATH SWITCH REQUEST as a target gNB sends it (TS 38.413 §9.2.3.8)."""
    ies: dict[str, Any] = {
        "RAN-UE-NGAP-ID": ran_id, "SourceAMF-UE-NGAP-ID": amf_id,
        "UserLocationInformation": ngap.user_location_nr(plmn, tac, 0x20),
        "UESecurityCapabilities": ngap.ue_security_capabilities(nea, nia),
        "PDUSessionResourceToBeSwitchedDLList": [
            {"pDUSessionID": p, "pathSwitchRequestTransfer": ngap.encode_ie("PathSwitchRequestTransfer", {
                "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(ip, teid + p - 1),
                "qosFlowAcceptedList": [{"qosFlowIdentifier": 1}]})} for p in psis],
    }
    if failed:
        ies["PDUSessionResourceFailedToSetupListPSReq"] = [
            {"pDUSessionID": p, "pathSwitchRequestSetupFailedTransfer": ngap.encode_ie(
                "PathSwitchRequestSetupFailedTransfer", {"cause": ngap.cause("radioNetwork", "unspecified")})}
            for p in failed]
    return ngap.encode(ngap.NgapPdu("PathSwitchRequest", "initiating", ies))


def only(pdus: list[Any], kind: str) -> Any:
    got = [p for p in pdus if p.procedure == "PathSwitchRequest"]
    assert len(got) == 1 and got[0].kind == kind, [(p.procedure, p.kind) for p in pdus]
    return got[0]


async def smf_with_session() -> tuple[SmfApp, UpfWire, SmContext]:
    """An SMF associated with a (sans-I/O) UPF, one PDU session whose downlink goes to gNB A."""
    app = SmfApp(load_config({"smf": {"nrf_uri": None}}))
    wire = UpfWire(app)
    app.n4.transport = wire  # type: ignore[assignment]
    peer = app.peers[0]
    rsp = await app.n4.request(peer, app.n4.association_setup(peer))
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    peer.associated = True
    sm = app.ctx.new(SUPI, 1, "internet", {"sst": 1})
    sm.ue_ipv4, sm.upf, sm.state = "10.45.0.2", peer, SmState.ACTIVE
    await app.service._pfcp_establish(sm)
    setup = ngap.encode_ie("PDUSessionResourceSetupResponseTransfer", {"dLQosFlowPerTNLInformation": {
        "uPTransportLayerInformation": ngap.gtp_tunnel(GNB_A, 0x1001),
        "associatedQosFlowList": [{"qosFlowIdentifier": 1}]}})
    r = await update(app, sm, "PDU_RES_SETUP_RSP", setup)
    assert r.status == 200 and sm.up_active and (sm.dl_ip, sm.dl_teid) == (GNB_A, 0x1001)
    wire.node.take_end_markers()
    return app, wire, sm


async def update(app: SmfApp, sm: SmContext, n2_type: str, n2: bytes) -> Response:
    """UpdateSMContext as the AMF sends it over HTTP/2: multipart/related with the N2 part."""
    body, ctype = multipart.encode({"n2SmInfo": {"contentId": "n2msg"}, "n2SmInfoType": n2_type},
                                   {"n2msg": (multipart.NGAP, n2)})
    return await app.router.dispatch(Request("POST", f"/nsmf-pdusession/v1/sm-contexts/{sm.ref}/modify", "",
                                             {"content-type": ctype}, body))


def answer(rsp: Response) -> tuple[dict[str, Any], bytes | None]:
    data = rsp.obj.data if isinstance(rsp.obj, multipart.Parts) else rsp.json()
    parts = rsp.obj.binaries if isinstance(rsp.obj, multipart.Parts) else {}
    return data, multipart.ref(data, "n2SmInfo", parts)


def switch_transfer(ip: str = GNB_B, teid: int = 0x2002, qfis: tuple[int, ...] = (1,)) -> bytes:
    return ngap.encode_ie("PathSwitchRequestTransfer", {
        "dL-NGU-UP-TNLInformation": ngap.gtp_tunnel(ip, teid),
        "qosFlowAcceptedList": [{"qosFlowIdentifier": q} for q in qfis]})
