"""The AMF's part in PDU sessions: the 5GSM relay between UE, gNB and SMF.

TS 23.502 §4.3.2.2.1 (establishment), §4.3.3.2 (modification), §4.3.4.2 (release), seen from
the AMF:

- **UL NAS Transport** with payload container type N1 SM (TS 24.501 §5.4.5.2.5): a new PDU
  session (request type "initial request") selects an SMF — NSSF for the slice
  (TS 29.531), then NRF discovery by slice and DNN (TS 29.510) — and calls
  Nsmf_PDUSession_CreateSMContext; a message for a known session goes to its SMF with
  UpdateSMContext. N1 SM messages travel as multipart/related binary parts.
- **Namf_Communication_N1N2MessageTransfer** (TS 29.518 §5.2.2.3.1), served at
  ``/namf-comm/v1/ue-contexts/{ueContextId}/n1-n2-messages``: the N1 SM message goes to the UE
  in DL NAS Transport, inside an NGAP PDU Session Resource Setup / Modify / Release request
  when N2 SM information comes with it.
- **PDU Session Resource Setup/Modify/Release Response** from the gNB: their transfers go to
  the SMF with UpdateSMContext (the gNB's N3 F-TEID arrives this way).
- **Service Request** (TS 23.502 §4.2.3.2): the sessions in Uplink data status get
  UpdateSMContext upCnxState ACTIVATING; their N2 SM information goes into the Initial Context
  Setup Request (hook ``ngap.on_service_ics``) and the ICS Response's transfers back to the SMF.
- **CM-IDLE UE** (§4.2.3.3): an N1N2MessageTransfer pages it and answers 202
  ATTEMPTING_TO_REACH_UE; the message is delivered (a PDU Session Resource Setup inside the
  ICS) once the UE's Service Request arrives.

Wiring (one line in ``AmfApp.__init__``): ``sessions.attach(self)``. It installs the NGAP
handlers, the SBI routes and the 5GMM hook ``gmm.on_ul_nas_transport`` that
:meth:`fivecore.nf.amf.gmm.Gmm._dispatch` calls for UL NAS Transport.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from fivecore import rng
from fivecore.nf.amf.context import GmmState, GnbContext, UeContext
from fivecore.nf.amf.ngap_handler import NgapSend
from fivecore.nf.common.client import NoProducer, SbiClient
from fivecore.transport.http2 import HttpError, Request, Response, TransportError, json_response
from fivecore.transport.http2.message import path_segment
from fivecore.wire import nas, ngap
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap import NgapPdu
from fivecore.wire.sbi import multipart

log = logging.getLogger("fivecore.amf.sessions")

# TS 24.501 §9.11.3.2 5GMM causes used here.
CAUSE_PAYLOAD_NOT_FORWARDED = 90
CAUSE_DNN_NOT_SUPPORTED_IN_SLICE = 91
CAUSE_MESSAGE_NOT_COMPATIBLE = 98
CAUSE_MSG_TYPE_NON_EXISTENT = 97
# TS 24.501 §9.11.3.47 Request type.
REQUEST_INITIAL = 1
REQUEST_EXISTING = 2

#: TS 24.501 §5.5.1.3.4 a-e / §5.6.1.4.1: the 5GMM cause of the PDU session reactivation
#: result error cause for what the SMF said when it did not activate the user plane (the
#: cause of its SmContextUpdateError / ProblemDetails, TS 29.502 §5.2.2.3.2)
REACTIVATION_ERROR_CAUSES = {
    "OUT_OF_LADN_SERVICE_AREA": 43,  # LADN not available
    "PRIORITIZED_SERVICES_ONLY": 28,  # restricted service area
    "INSUFFICIENT_UP_RESOURCES": 92,  # insufficient user-plane resources for the PDU session
    "INSUFFICIENT_RESOURCES_SLICE": 69,  # insufficient resources for specific slice
    "INSUFFICIENT_RESOURCES_SLICE_DNN": 69,
    "REL_DUE_TO_INSUFFICIENT_RESOURCES_SLICE": 69,
    "REL_DUE_TO_INSUFFICIENT_RESOURCES_SLICE_DNN": 69,
}

_N2_KINDS = {
    "PDU_RES_SETUP_REQ": "setup",
    "PDU_RES_REL_CMD": "release",
    "PDU_RES_MOD_REQ": "modify",
}


class PendingTransfer(NamedTuple):
    """An N1N2MessageTransfer waiting for a paged UE (TS 23.502 §4.2.3.3 step 4b), with the
    SMF's n1n2FailureTxfNotifURI to tell if paging fails (TS 29.518 §5.2.2.3.2)."""

    n1: bytes | None
    n2: bytes | None
    n2_type: str | None
    snssai: dict[str, Any] | None
    failure_uri: str | None = None


@dataclass(slots=True)
class AmfSmSession:
    """What the AMF keeps per PDU session (TS 23.501 §5.6.2: the SMF that serves it)."""

    psi: int
    smf_uri: str | None
    sm_ref: str | None
    snssai: dict[str, Any]
    dnn: str | None
    up_active: bool = False
    #: last segment of the smContextStatusUri given to the SMF for this SM context: a late
    #: RELEASED notification about an earlier context with the same PSI must not end this one
    status_token: str = dataclasses.field(default_factory=lambda: rng.token_hex(8))


class AmfSessions:
    """Session relay of one AMF (see module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gmm = app.gmm
        self.ngap = app.ngap
        self.client: SbiClient = app.client
        cfg = app.config
        self.plmn = {"mcc": cfg.plmn.mcc, "mnc": cfg.plmn.mnc}
        self.plmn_str = cfg.plmn.mcc + cfg.plmn.mnc
        self.amf_uri = cfg.amf.sbi.uri
        g = cfg.amf.guami
        self.guami = {"plmnId": self.plmn, "amfId": f"{g.region_id:02x}{(g.set_id << 6) | g.pointer:04x}"}
        self.by_supi: dict[str, dict[int, AmfSmSession]] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        self._nssf_ok: dict[tuple[int, str | None], bool] = {}
        self.stats: dict[str, int] = {}
        #: N1N2MessageTransfers waiting for a paged UE, by SUPI and PSI
        self.pending: dict[str, dict[int, PendingTransfer]] = {}

    def count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1
        self.gmm.ctx.count("sm_" + key)

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    def sessions_of(self, ue: UeContext) -> dict[int, AmfSmSession]:
        if ue.supi is None:
            return {}
        return self.by_supi.setdefault(ue.supi, {})

    # --- sending to the UE / gNB --------------------------------------------------------------

    def _dl_nas(self, ue: UeContext, psi: int | None, sm: bytes, cause: int | None = None) -> bytes:
        """TS 24.501 §8.2.11: DL NAS Transport carrying an N1 SM message, protected."""
        plain = nas.encode(nas.DLNASTransport(payload_container_type=nas.PAYLOAD_N1_SM,
                                              payload_container=sm, pdu_session_id=psi, cause=cause))
        return self.gmm._protect(ue, plain)

    def _send(self, ue: UeContext, pdu: NgapPdu) -> bool:
        gnb = ue.gnb
        if gnb is None or ue.ran_ue_ngap_id is None:
            self.count("dropped_ue_idle")
            return False
        try:
            data = ngap.encode(pdu)
        except EncodeError as exc:
            log.warning("event=sm_ngap_encode_failed proc=%s err=%s", pdu.procedure, exc)
            return False
        self.app._execute([NgapSend(gnb, self.ngap.stream_for(gnb, ue), data)])
        return True

    def _send_nas(self, ue: UeContext, nas_pdu: bytes) -> bool:
        return self._send(ue, NgapPdu("DownlinkNASTransport", "initiating", {
            "AMF-UE-NGAP-ID": ue.amf_ue_ngap_id, "RAN-UE-NGAP-ID": ue.ran_ue_ngap_id, "NAS-PDU": nas_pdu}))

    def deliver(self, ue: UeContext, psi: int, n1: bytes | None, n2: bytes | None,
                n2_type: str | None, snssai: dict[str, Any] | None = None) -> bool:
        """N1 SM (+ N2 SM) towards UE and gNB (TS 23.502 §4.3.2.2.1 step 12, §4.3.4.2 step 3)."""
        nas_pdu = self._dl_nas(ue, psi, n1) if n1 is not None else None
        ids = {"AMF-UE-NGAP-ID": ue.amf_ue_ngap_id, "RAN-UE-NGAP-ID": ue.ran_ue_ngap_id}
        kind = _N2_KINDS.get(n2_type or "") if n2 is not None else None
        if kind == "setup":
            sess = self.sessions_of(ue).get(psi)
            s = snssai or (sess.snssai if sess else {"sst": 1})
            item: dict[str, Any] = {"pDUSessionID": psi}
            if nas_pdu is not None:
                item["pDUSessionNAS-PDU"] = nas_pdu
            item["s-NSSAI"] = ngap.s_nssai(int(s.get("sst", 1)), int(s["sd"], 16) if s.get("sd") else None)
            item["pDUSessionResourceSetupRequestTransfer"] = n2
            self.count("setup_request")
            return self._send(ue, NgapPdu("PDUSessionResourceSetup", "initiating",
                                          {**ids, "PDUSessionResourceSetupListSUReq": [item]}))
        if kind == "release":
            ies: dict[str, Any] = dict(ids)
            if nas_pdu is not None:
                ies["NAS-PDU"] = nas_pdu
            ies["PDUSessionResourceToReleaseListRelCmd"] = [
                {"pDUSessionID": psi, "pDUSessionResourceReleaseCommandTransfer": n2}]
            self.count("release_command")
            return self._send(ue, NgapPdu("PDUSessionResourceRelease", "initiating", ies))
        if kind == "modify":
            item = {"pDUSessionID": psi}
            if nas_pdu is not None:
                item["nAS-PDU"] = nas_pdu
            item["pDUSessionResourceModifyRequestTransfer"] = n2
            self.count("modify_request")
            return self._send(ue, NgapPdu("PDUSessionResourceModify", "initiating",
                                          {**ids, "PDUSessionResourceModifyListModReq": [item]}))
        if nas_pdu is not None:
            return self._send_nas(ue, nas_pdu)
        return True

    # --- UL NAS Transport (TS 24.501 §5.4.5.2) -------------------------------------------------

    def ul_nas_transport(self, ue: UeContext, up: Any, verified: bool) -> list[Any]:
        """5GMM hook: an UL NAS Transport from a registered UE. Returns 5GMM actions (none:
        the relay runs as a task and sends through the application itself)."""
        msg = up.raw if getattr(up, "raw", None) is not None else up
        if not verified or ue.state != GmmState.REGISTERED or ue.supi is None:
            self.count("ul_not_registered")
            return self._status(ue, CAUSE_MESSAGE_NOT_COMPATIBLE)
        if msg.payload_container_type != nas.PAYLOAD_N1_SM:
            self.count("ul_unsupported_payload")
            return self._status(ue, CAUSE_MSG_TYPE_NON_EXISTENT)
        psi = msg.pdu_session_id
        sm = msg.payload_container
        if psi is None or not 1 <= psi <= 15:
            # TS 24.501 §5.4.5.2.5: no usable PDU session ID -> payload back, cause #90
            self.count("ul_no_psi")
            self._send_nas(ue, self._dl_nas(ue, None, sm, CAUSE_PAYLOAD_NOT_FORWARDED))
            return []
        req_type = msg.request_type
        sessions = self.sessions_of(ue)
        existing = sessions.get(psi)
        if req_type in (REQUEST_INITIAL, None) and (existing is None or req_type == REQUEST_INITIAL) \
                and len(sm) >= 4 and sm[3] == 0xC1:
            s = msg.s_nssai
            if s is not None:
                snssai = {"sst": s.sst, **({"sd": f"{s.sd:06x}"} if s.sd is not None else {})}
            else:
                sst, sd = ue.allowed_nssai[0] if ue.allowed_nssai else (1, None)
                snssai = {"sst": sst, **({"sd": f"{sd:06x}"} if sd is not None else {})}
            allowed = {(a, b) for a, b in ue.allowed_nssai} if ue.allowed_nssai else None
            if allowed is not None and (snssai["sst"], int(snssai["sd"], 16) if "sd" in snssai else None) not in allowed:
                self.count("ul_slice_not_allowed")
                self._send_nas(ue, self._dl_nas(ue, psi, sm, CAUSE_PAYLOAD_NOT_FORWARDED))
                return []
            self._spawn(self._create(ue, ue.supi, psi, sm, snssai, msg.dnn, existing))
            return []
        if existing is None:
            self.count("ul_unknown_session")
            self._send_nas(ue, self._dl_nas(ue, psi, sm, CAUSE_PAYLOAD_NOT_FORWARDED))
            return []
        self._spawn(self._update_n1(ue, ue.supi, existing, sm))
        return []

    def _status(self, ue: UeContext, cause: int) -> list[Any]:
        from fivecore.nf.amf import nas_io
        from fivecore.nf.amf.gmm import SendNas

        return [SendNas(ue, self.gmm._protect(ue, nas_io.gmm_status(cause)))]

    def _ue(self, supi: str) -> UeContext | None:
        ue = self.gmm.ctx.by_supi.get(supi)
        return ue if ue is not None and ue.state == GmmState.REGISTERED else None

    async def select_smf(self, supi: str, snssai: dict[str, Any], dnn: str | None) -> str:
        """TS 23.501 §6.3.2: NSSF for the slice (when there is one), then NRF discovery."""
        key = (int(snssai["sst"]), snssai.get("sd"))
        if key not in self._nssf_ok:
            try:
                q = {"nf-type": "AMF", "nf-id": self.app.instance_id,
                     "slice-info-request-for-pdu-session": json.dumps(
                         {"sNssai": snssai, "roamingIndication": "NON_ROAMING"}, separators=(",", ":"))}
                resp = await self.client.call("GET", "/nnssf-nsselection/v2/network-slice-information",
                                              query=q, target_nf_type="NSSF", timeout=3.0)
                if resp.status == 403:
                    self._nssf_ok[key] = False
                elif resp.status == 200:
                    self._nssf_ok[key] = True
            except (TransportError, NoProducer) as exc:
                log.debug("event=nssf_unavailable err=%s", exc)
        if self._nssf_ok.get(key) is False:
            raise NoProducer("the NSSF does not support this slice")
        static = self.client.static.get("nsmf-pdusession") or self.client.static.get("SMF")
        if static:
            return static
        if self.client.local is not None and self.client.local.get("nsmf-pdusession") is not None:
            return ""
        disc: dict[str, Any] = {"snssais": [snssai]}
        if dnn:
            disc["dnn"] = dnn
        try:
            return await self.client.resolve("SMF", "nsmf-pdusession", disc)
        except NoProducer:
            # a DNN the NRF does not know at all: let the SMF of the slice reject it properly
            return await self.client.resolve("SMF", "nsmf-pdusession", {"snssais": [snssai]})

    async def _sbi(self, uri: str | None, path: str, data: Any,
                   binaries: dict[str, tuple[str, bytes]]) -> Response:
        """POST JSON (+ binary parts) to the SMF over the in-process or HTTP/2 binding."""
        if not uri and self.client.local is not None:
            router = self.client.local.get(path.split("/", 2)[1])
            if router is not None:  # in-process: the parts travel as they are
                return await router.dispatch(Request("POST", path, "", {"content-type": multipart.MULTIPART}, b"",
                                                     multipart.Parts(data, binaries)))
        body, ctype = multipart.encode(data, binaries)
        if not uri:
            raise NoProducer("no SMF URI")
        return await self.client.http.request("POST", uri.rstrip("/") + path, body=body,
                                              headers={"content-type": ctype}, timeout=10.0)

    @staticmethod
    def _parts(resp: Response) -> tuple[Any, dict[str, tuple[str, bytes]]]:
        if isinstance(resp.obj, multipart.Parts):
            return resp.obj.data, resp.obj.binaries
        ctype = resp.headers.get("content-type", "")
        if multipart.is_multipart(ctype):
            return multipart.decode(ctype, resp.body)
        try:
            return resp.json(), {}
        except ValueError:
            return None, {}

    def create_data(self, supi: str, psi: int, snssai: dict[str, Any], dnn: str | None,
                    tac: int | None, status_token: str | None = None) -> dict[str, Any]:
        """TS 29.502 §6.1.6.2.2 SmContextCreateData (the N1 SM message is the part ``n1msg``).

        ``status_token`` ends the smContextStatusUri, so the notification names the SM
        context and not only its PSI, which the UE may already have reused (§5.2.2.10)."""
        token = f"/{status_token}" if status_token else ""
        data: dict[str, Any] = {
            "supi": supi, "pduSessionId": psi, "sNssai": snssai,
            "servingNfId": self.app.instance_id, "guami": self.guami, "servingNetwork": self.plmn,
            "requestType": "INITIAL_REQUEST", "n1SmMsg": {"contentId": "n1msg"},
            "anType": "3GPP_ACCESS", "ratType": "NR",
            "smContextStatusUri": f"{self.amf_uri}/namf-callback/v1/{path_segment(supi)}/sm-context-status/{psi}{token}",
        }
        if dnn:
            data["dnn"] = dnn
        if tac is not None:
            data["ueLocation"] = {"nrLocation": {
                "tai": {"plmnId": self.plmn, "tac": f"{tac:06x}"},
                "ncgi": {"plmnId": self.plmn, "nrCellId": "000000010"}}}
        return data

    async def _create(self, ue: UeContext, supi: str, psi: int, sm: bytes, snssai: dict[str, Any],
                      dnn: str | None, existing: AmfSmSession | None) -> None:
        """TS 23.502 §4.3.2.2.1 steps 2-5: SMF selection and CreateSMContext."""
        self.count("create")
        if existing is not None:
            # §4.3.2.2.1: a new request for a PSI in use; the old SM context goes first
            await self._release_context(existing)
        try:
            uri = await self.select_smf(supi, snssai, dnn)
        except (NoProducer, TransportError) as exc:
            log.info("event=smf_selection_failed psi=%d err=%s", psi, exc)
            self.count("smf_selection_failed")
            if (u := self._ue(supi)) is not None:
                self._send_nas(u, self._dl_nas(u, psi, sm, CAUSE_PAYLOAD_NOT_FORWARDED))
            return
        sess = AmfSmSession(psi, uri or None, None, snssai, dnn)
        data = self.create_data(supi, psi, snssai, dnn, ue.tac, sess.status_token)
        self.by_supi.setdefault(supi, {})[psi] = sess
        try:
            resp = await self._sbi(uri, "/nsmf-pdusession/v1/sm-contexts", data,
                                   {"n1msg": (multipart.NAS_5G, sm)})
        except (TransportError, NoProducer) as exc:
            log.info("event=create_sm_context_failed psi=%d err=%s", psi, exc)
            self._forget(supi, sess)
            if (u := self._ue(supi)) is not None:
                self._send_nas(u, self._dl_nas(u, psi, sm, CAUSE_PAYLOAD_NOT_FORWARDED))
            return
        if resp.status == 201:
            loc = resp.headers.get("location", "")
            sess.sm_ref = loc.rstrip("/").rsplit("/", 1)[-1] if loc else None
            if loc and "/nsmf-pdusession/" in loc and not uri:
                sess.smf_uri = None
            self.count("created")
            self.gmm.ctx.touch_supi(supi)  # the SMF reference must survive an AMF restart
            return
        self._forget(supi, sess)
        self.count(f"create_refused_{resp.status}")
        try:
            body, parts = self._parts(resp)
        except DecodeError:
            body, parts = None, {}
        n1 = multipart.ref(body, "n1SmMsg", parts)
        u = self._ue(supi)
        if u is None:
            return
        if n1 is not None:
            self._send_nas(u, self._dl_nas(u, psi, n1))
        else:
            self._send_nas(u, self._dl_nas(u, psi, sm, CAUSE_PAYLOAD_NOT_FORWARDED))

    def _forget(self, supi: str, sess: AmfSmSession) -> None:
        d = self.by_supi.get(supi)
        if d is not None and d.get(sess.psi) is sess:
            del d[sess.psi]
            self.gmm.ctx.touch_supi(supi)

    async def _update(self, supi: str, sess: AmfSmSession, data: dict[str, Any],
                      binaries: dict[str, tuple[str, bytes]]) -> None:
        """TS 29.502 §5.2.2.3: UpdateSMContext; N1/N2 in the answer go to UE and gNB."""
        if sess.sm_ref is None:
            self.count("update_without_ref")
            return
        try:
            resp = await self._sbi(sess.smf_uri, f"/nsmf-pdusession/v1/sm-contexts/{sess.sm_ref}/modify",
                                   data, binaries)
        except (TransportError, NoProducer) as exc:
            log.info("event=update_sm_context_failed psi=%d err=%s", sess.psi, exc)
            self.count("update_failed")
            return
        if resp.status == 404:
            self._forget(supi, sess)
            return
        if resp.status == 204:
            return
        try:
            body, parts = self._parts(resp)
        except DecodeError:
            return
        if not isinstance(body, dict):
            return
        if body.get("upCnxState") == "ACTIVATED":
            sess.up_active = True
        n1 = multipart.ref(body, "n1SmMsg", parts)
        n2 = multipart.ref(body, "n2SmInfo", parts)
        if (n1 is not None or n2 is not None) and (u := self._ue(supi)) is not None:
            self.deliver(u, sess.psi, n1, n2, body.get("n2SmInfoType"), sess.snssai)

    async def _update_n1(self, ue: UeContext, supi: str, sess: AmfSmSession, sm: bytes) -> None:
        self.count("update_n1")
        released = len(sm) >= 4 and sm[3] == 0xD4  # Release Complete: the session ends here
        await self._update(supi, sess, {"n1SmMsg": {"contentId": "n1msg"}}, {"n1msg": (multipart.NAS_5G, sm)})
        if released:
            self._forget(supi, sess)

    async def _release_context(self, sess: AmfSmSession, cause: str = "REL_DUE_TO_DUPLICATE_SESSION_ID") -> None:
        if sess.sm_ref is None:
            return
        try:
            await self._sbi(sess.smf_uri, f"/nsmf-pdusession/v1/sm-contexts/{sess.sm_ref}/release",
                            {"cause": cause}, {})
        except (TransportError, NoProducer) as exc:
            log.info("event=release_sm_context_failed psi=%d err=%s", sess.psi, exc)

    def session_psis(self, ue: UeContext) -> frozenset[int]:
        """The PDU session IDs this AMF holds an SM context for (the PDU session status)."""
        if ue.supi is None:
            return frozenset()
        return frozenset(self.by_supi.get(ue.supi, ()))

    def release_gone(self, ue: UeContext, psis: frozenset[int]) -> None:
        """TS 24.501 §5.5.1.3.4 / §5.6.1.4.1: sessions the UE's PDU session status says it no
        longer has are released at their SMF (TS 29.502 cause PDU_SESSION_STATUS_MISMATCH)."""
        d = self.by_supi.get(ue.supi or "")
        if not d:
            return
        for psi in psis:
            sess = d.pop(psi, None)
            if sess is not None:
                self.gmm.ctx.touch_supi(ue.supi or "")
                self.count("released_status_mismatch")
                self._spawn(self._release_context(sess, "PDU_SESSION_STATUS_MISMATCH"))

    async def release_all(self, supi: str) -> None:
        """TS 23.502 §4.2.2.3.2 step 2: de-registration releases every SM context."""
        self.pending.pop(supi, None)
        for sess in list(self.by_supi.pop(supi, {}).values()):
            await self._release_context(sess)

    # --- NGAP responses from the gNB -----------------------------------------------------------

    @staticmethod
    def _transfer(v: Any, type_name: str) -> bytes:
        """The transfer OCTET STRING as bytes (the codec may hand back the contained value)."""
        if isinstance(v, bytes | bytearray):
            return bytes(v)
        if isinstance(v, tuple) and len(v) == 2:
            return ngap.encode_ie(type_name, v[1])
        raise DecodeError(f"unusable {type_name}", -1, "NGAP")

    def _ngap_lookup(self, gnb: GnbContext, pdu: NgapPdu) -> tuple[UeContext | None, list[Any]]:
        return self.ngap._lookup(gnb, pdu)

    def _relay_items(self, gnb: GnbContext, pdu: NgapPdu, lists: list[tuple[str, str, str, str]]) -> list[Any]:
        ue, err = self._ngap_lookup(gnb, pdu)
        if ue is None:
            return err
        if ue.supi is None:
            return []
        sessions = self.sessions_of(ue)
        for list_name, field, type_name, n2_type in lists:
            for item in pdu.get(list_name) or []:
                psi = item.get("pDUSessionID")
                sess = sessions.get(psi) if isinstance(psi, int) else None
                if sess is None:
                    self.count("n2_unknown_session")
                    continue
                try:
                    tr = self._transfer(item.get(field, b""), type_name)
                except (DecodeError, EncodeError):
                    self.count("n2_bad_transfer")
                    continue
                if n2_type == "PDU_RES_REL_RSP":
                    sess.up_active = False
                self._spawn(self._update(ue.supi, sess, {"n2SmInfo": {"contentId": "n2msg"}, "n2SmInfoType": n2_type},
                                         {"n2msg": (multipart.NGAP, tr)}))
        return []

    def setup_response(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.2.1.2: PDU Session Resource Setup Response -> UpdateSMContext."""
        self.count("setup_response")
        return self._relay_items(gnb, pdu, [
            ("PDUSessionResourceSetupListSURes", "pDUSessionResourceSetupResponseTransfer",
             "PDUSessionResourceSetupResponseTransfer", "PDU_RES_SETUP_RSP"),
            ("PDUSessionResourceFailedToSetupListSURes", "pDUSessionResourceSetupUnsuccessfulTransfer",
             "PDUSessionResourceSetupUnsuccessfulTransfer", "PDU_RES_SETUP_FAIL"),
        ])

    def release_response(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.2.2.2: PDU Session Resource Release Response -> UpdateSMContext."""
        self.count("release_response")
        return self._relay_items(gnb, pdu, [
            ("PDUSessionResourceReleasedListRelRes", "pDUSessionResourceReleaseResponseTransfer",
             "PDUSessionResourceReleaseResponseTransfer", "PDU_RES_REL_RSP")])

    def modify_response(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.2.3.2: PDU Session Resource Modify Response -> UpdateSMContext."""
        self.count("modify_response")
        return self._relay_items(gnb, pdu, [
            ("PDUSessionResourceModifyListModRes", "pDUSessionResourceModifyResponseTransfer",
             "PDUSessionResourceModifyResponseTransfer", "PDU_RES_MOD_RSP")])

    # --- SBI served: N1N2MessageTransfer, SM context status ----------------------------------

    async def n1n2_transfer(self, req: Request) -> Response:
        """TS 29.518 §5.2.2.3.1: deliver N1 (and N2) SM information for one PDU session."""
        supi = req.path_params["ueContextId"]
        ctype = req.headers.get("content-type", "")
        if isinstance(req.body_obj, multipart.Parts):
            data, parts = req.body_obj.data, req.body_obj.binaries
        elif multipart.is_multipart(ctype):
            try:
                data, parts = multipart.decode(ctype, req.body)
            except DecodeError as exc:
                raise HttpError(400, "INVALID_MSG_FORMAT", exc.reason) from None
        else:
            data, parts = req.json(), {}
        if not isinstance(data, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "N1N2MessageTransferReqData must be an object")
        n1c = data.get("n1MessageContainer") or {}
        n2c = data.get("n2InfoContainer") or {}
        sm_info = n2c.get("smInfo") if isinstance(n2c, dict) else None
        n1 = multipart.ref(n1c, "n1MessageContent", parts) if isinstance(n1c, dict) else None
        n2 = n2_type = None
        if isinstance(sm_info, dict):
            content = sm_info.get("n2InfoContent") or {}
            n2 = multipart.ref(content, "ngapData", parts)
            n2_type = content.get("ngapIeType")
        psi = data.get("pduSessionId")
        if psi is None and isinstance(sm_info, dict):
            psi = sm_info.get("pduSessionId")
        if not isinstance(psi, int) or not 1 <= psi <= 15:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "pduSessionId missing or out of range",
                            invalid_params=[{"param": "/pduSessionId"}])
        if n1 is None and n2 is None:
            raise HttpError(400, "MANDATORY_IE_MISSING", "neither N1 nor N2 information")
        ue = self._ue(supi)
        if ue is None:
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no registered UE with that SUPI")
        if ue.gnb is None and ue.amf_ue_ngap_id in self.gmm.ctx.implicit:
            # TS 24.501 §5.3.7 / TS 23.502 §4.2.3.3 step 3a: the mobile reachable timer ran out,
            # so the UE is not paged (TS 29.518 §6.1.7.3: 504 UE_NOT_REACHABLE)
            self.count("n1n2_ue_not_reachable")
            raise HttpError(504, "UE_NOT_REACHABLE", "the UE's mobile reachable timer has expired")
        if ue.gnb is None or ue.releasing:
            fail_uri = data.get("n1n2FailureTxfNotifURI")
            return self._page_for(ue, supi, psi, n1, n2, n2_type, sm_info,
                                  fail_uri if isinstance(fail_uri, str) else None)
        self.count("n1n2")
        sessions = self.sessions_of(ue)
        sess = sessions.get(psi)
        if n1 is not None and len(n1) >= 4 and n1[3] == 0xC3 and sess is not None:
            # Establishment Reject after Create: the session never came to be
            self._forget(supi, sess)
            sess = None
        snssai = sm_info.get("sNssai") if isinstance(sm_info, dict) else None
        if not self.deliver(ue, psi, n1, n2, n2_type, snssai if isinstance(snssai, dict) else None):
            raise HttpError(504, "UE_NOT_REACHABLE", "the UE has no NG connection")
        return json_response({"cause": "N1_N2_TRANSFER_INITIATED"})

    def _page_for(self, ue: UeContext, supi: str, psi: int, n1: bytes | None, n2: bytes | None,
                  n2_type: str | None, sm_info: Any, failure_uri: str | None = None) -> Response:
        """TS 23.502 §4.2.3.3 steps 3-4 / TS 29.518 §5.2.2.3.1.2: a CM-IDLE UE is paged; the
        message waits for its Service Request and the answer is 202 ATTEMPTING_TO_REACH_UE.
        A UE whose NG connection is being released is paged once the release ends."""
        paging = ue.proc is not None and ue.proc.name == "paging"
        if ue.releasing:
            acts = self.gmm.defer_until_released(ue, ("n1n2",))
            paging = True  # as good as paging: the message waits, the page follows
        else:
            acts = [] if paging else self.gmm.page(ue, then=("n1n2",))
        if not paging and not acts:
            self.count("n1n2_ue_unreachable")
            raise HttpError(409, "UE_IN_CM_IDLE_STATE", "UE is CM-IDLE and cannot be paged now")
        if not paging:
            # what waited for an earlier, unanswered paging is stale now (TS 23.502 §4.2.3.3 step 6)
            self.pending.pop(supi, None)
        snssai = sm_info.get("sNssai") if isinstance(sm_info, dict) else None
        self.pending.setdefault(supi, {})[psi] = PendingTransfer(
            n1, n2, n2_type, snssai if isinstance(snssai, dict) else None, failure_uri)
        if acts:
            self.app._execute(self.ngap.translate(acts))
        self.count("n1n2_paging")
        loc = f"{self.amf_uri}/namf-comm/v1/ue-contexts/{path_segment(supi)}/n1-n2-messages/{psi}"
        return json_response({"cause": "ATTEMPTING_TO_REACH_UE"}, status=202, headers={"location": loc})

    # --- Service Request: user plane reactivation (TS 23.502 §4.2.3.2) -------------------------

    def service_ics(self, a: Any) -> bool:
        """NGAP hook for the ICS answering a Service Request or a registration update with
        Uplink data status (TS 23.502 §4.2.3.2, §4.2.2.2.2): if sessions come back or
        paged-for messages wait, send the ICS once the SMFs have answered."""
        ue = a.ue
        if ue.supi is None:
            return False
        sessions = self.sessions_of(ue)
        psis = sorted(p for p in a.reactivate if p in sessions)
        pending = self.pending.pop(ue.supi, {})
        # a paged-for PDU Session Resource Setup is a reactivation too (§4.2.3.3 step 4b)
        for psi, w in pending.items():
            if w.n2 is not None and w.n2_type == "PDU_RES_SETUP_REQ" and psi in sessions and psi not in psis:
                psis.append(psi)
        if not psis and not pending:
            return False
        self._spawn(self._service_ics(ue, ue.supi, a, psis, pending))
        return True

    async def _activating(self, supi: str, sess: AmfSmSession,
                          causes: dict[int, int] | None = None) -> bytes | None:
        """Nsmf_PDUSession_UpdateSMContext with upCnxState ACTIVATING (TS 29.502 §5.2.2.3.2.2):
        the SMF answers with the PDU Session Resource Setup Request Transfer. When it does not,
        a cause of its answer that TS 24.501 §5.5.1.3.4 maps to a 5GMM cause goes into
        ``causes`` (PSI -> cause, for the reactivation result error cause)."""
        if sess.sm_ref is None:
            return None
        try:
            resp = await self._sbi(sess.smf_uri, f"/nsmf-pdusession/v1/sm-contexts/{sess.sm_ref}/modify",
                                   {"upCnxState": "ACTIVATING"}, {})
            if resp.status == 404:
                self._forget(supi, sess)
                return None
            body, parts = self._parts(resp)
        except (TransportError, NoProducer, DecodeError) as exc:
            log.info("event=up_activation_failed psi=%d err=%s", sess.psi, exc)
            return None
        if resp.status == 200 and isinstance(body, dict) and body.get("n2SmInfoType") == "PDU_RES_SETUP_REQ":
            n2 = multipart.ref(body, "n2SmInfo", parts)
            if n2 is not None:
                return n2
        if causes is not None and isinstance(body, dict):
            err = body.get("error") if isinstance(body.get("error"), dict) else body
            mm = REACTIVATION_ERROR_CAUSES.get(str(err.get("cause")))
            if mm is not None:
                causes[sess.psi] = mm
        return None

    async def _service_ics(self, ue: UeContext, supi: str, a: Any, psis: list[int],
                           pending: dict[int, PendingTransfer]) -> None:
        """TS 23.502 §4.2.3.2 steps 4-12 (§4.2.2.2.2 for a registration update): the ICS
        carries a PDU Session Resource Setup item per session whose SMF gave N2 SM information;
        paged-for N1 messages ride along. The Service Accept or Registration Accept names the
        AMF's PDU sessions and those that could not come back (TS 24.501 §5.6.1.4.1,
        §5.5.1.3.4: PDU session status, PDU session reactivation result and error cause)."""
        sessions = self.sessions_of(ue)
        gnb = ue.gnb
        got: list[tuple[int, bytes | None, bytes]] = []
        causes: dict[int, int] = {}
        for psi in psis:
            sess = sessions.get(psi)
            if sess is None:
                continue
            n1 = None
            waiting = pending.pop(psi, None)
            if waiting is not None and waiting.n2_type == "PDU_RES_SETUP_REQ" and waiting.n2 is not None:
                n1, n2 = waiting.n1, waiting.n2
            else:
                if waiting is not None:
                    pending[psi] = waiting
                n2 = await self._activating(supi, sess, causes)
            if n2 is None:
                self.count("reactivation_failed")
                continue
            got.append((psi, n1, n2))
        if ue.gnb is not gnb or gnb is None or ue.ran_ue_ngap_id is None:
            self.count("reactivation_connection_gone")
            return
        accept: bytes | None = a.pdu
        if a.reactivate:
            # rebuilt now that the results are known; NAS COUNT order matches delivery order.
            # TS 24.501 §9.11.3.42: a set bit is a PSI asked for whose user plane does not come
            # back -- one the SMF refused, and one the AMF holds no SM context for
            accept = self._reactivation_accept(ue, a.registration, a.reactivate,
                                               frozenset(psi for psi, _, _ in got), causes)
            if accept is None:
                return
        items: list[dict[str, Any]] = []
        for psi, n1, n2 in got:
            sess = sessions.get(psi)
            s = sess.snssai if sess is not None else {"sst": 1}
            item: dict[str, Any] = {"pDUSessionID": psi}
            if n1 is not None:
                item["nAS-PDU"] = self._dl_nas(ue, psi, n1)
            item["s-NSSAI"] = ngap.s_nssai(int(s.get("sst", 1)), int(s["sd"], 16) if s.get("sd") else None)
            item["pDUSessionResourceSetupRequestTransfer"] = n2
            items.append(item)
        self.count("service_ics")
        try:
            data = self.ngap._ics_request(ue, accept, a.kgnb, items)
        except EncodeError as exc:
            log.warning("event=ics_encode_failed err=%s", exc)
            data = self.ngap._ics_request(ue, accept, a.kgnb)
        self.app._execute([NgapSend(gnb, self.ngap.stream_for(gnb, ue), data)])
        for psi, w in pending.items():
            self.deliver(ue, psi, w.n1, w.n2, w.n2_type, w.snssai)

    def _reactivation_accept(self, ue: UeContext, registration: bool, asked: frozenset[int],
                             done: frozenset[int], causes: dict[int, int]) -> bytes | None:
        """The Service or Registration Accept rebuilt once the SMFs have answered (TS 24.501
        §5.6.1.4.1 / §5.5.1.3.4: PDU session status and reactivation result, a set bit for each
        PSI asked for that did not come back); None, counted, when the procedure is gone."""
        try:
            accept = self.gmm.reactivation_accept(ue, registration, frozenset(self.sessions_of(ue)),
                                                  asked - done, causes)
        except EncodeError as exc:
            log.warning("event=reactivation_accept_failed err=%s", exc)
            accept = None
        if accept is None:
            self.count("reactivation_procedure_gone")
        return accept

    def reactivate_connected(self, a: Any) -> bool:
        """NGAP hook for a Registration Accept answering an update with Uplink data status on
        a connection that already has its AS context (gmm.Reactivate): once the SMFs have
        answered, the Accept with the result goes out, then the user planes (TS 23.502
        §4.2.2.2.2 with §4.2.3.2 steps 4-12, PDU Session Resource Setup instead of Initial
        Context Setup). Returns False when none of the PSIs is a session of the AMF."""
        ue = a.ue
        if ue.supi is None:
            return False
        sessions = self.sessions_of(ue)
        psis = sorted(p for p in a.reactivate if p in sessions)
        if not psis:
            return False
        self._spawn(self._reactivate_connected(ue, ue.supi, a, psis))
        return True

    async def _reactivate_connected(self, ue: UeContext, supi: str, a: Any, psis: list[int]) -> None:
        sessions = self.sessions_of(ue)
        gnb = ue.gnb
        got: list[tuple[AmfSmSession, bytes]] = []
        causes: dict[int, int] = {}
        for psi in psis:
            sess = sessions.get(psi)
            n2 = await self._activating(supi, sess, causes) if sess is not None else None
            if n2 is None or sess is None:
                self.count("reactivation_failed")
                continue
            got.append((sess, n2))
        if ue.gnb is not gnb or gnb is None or ue.ran_ue_ngap_id is None:
            self.count("reactivation_connection_gone")
            return
        accept = self._reactivation_accept(ue, True, a.reactivate, frozenset(sess.psi for sess, _ in got), causes)
        if accept is None:
            return
        self.count("reactivation_connected")
        self._send_nas(ue, accept)
        for sess, n2 in got:
            self.deliver(ue, sess.psi, None, n2, "PDU_RES_SETUP_REQ", sess.snssai)

    def ics_response(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.3.1.2: the setup results of the ICS's PDU sessions go to their SMFs
        (TS 23.502 §4.2.3.2 step 12: the gNB's downlink F-TEID)."""
        out = self.ngap._ics_response(gnb, pdu)
        if pdu.get("PDUSessionResourceSetupListCxtRes") or pdu.get("PDUSessionResourceFailedToSetupListCxtRes"):
            self.count("ics_setup_response")
            out += self._relay_items(gnb, pdu, [
                ("PDUSessionResourceSetupListCxtRes", "pDUSessionResourceSetupResponseTransfer",
                 "PDUSessionResourceSetupResponseTransfer", "PDU_RES_SETUP_RSP"),
                ("PDUSessionResourceFailedToSetupListCxtRes", "pDUSessionResourceSetupUnsuccessfulTransfer",
                 "PDUSessionResourceSetupUnsuccessfulTransfer", "PDU_RES_SETUP_FAIL"),
            ])
        return out

    async def sm_context_status(self, req: Request) -> Response:
        """TS 29.502 §5.2.2.10 SMContextStatusNotify: the SMF released the SM context."""
        supi = req.path_params["supi"]
        try:
            psi = int(req.path_params["psi"])
        except ValueError:
            raise HttpError(404, "CONTEXT_NOT_FOUND", "bad PDU session ID") from None
        body = req.json()
        status = ((body or {}).get("statusInfo") or {}).get("resourceStatus") if isinstance(body, dict) else None
        if status is None:
            raise HttpError(400, "MANDATORY_IE_MISSING", "statusInfo.resourceStatus is required")
        if status == "RELEASED":
            sess = self.by_supi.get(supi, {}).get(psi)
            token = req.path_params.get("token")
            # a notification about an SM context already replaced by a new one with this PSI
            # (UE-requested release, then a new establishment at once) leaves the new one be
            if sess is not None and (token is None or token == sess.status_token):
                self._forget(supi, sess)
        return Response(204)

    def an_released(self, ue: UeContext) -> None:
        """TS 23.502 §4.2.6 step 5: the UE went CM-IDLE; its sessions' user plane is
        deactivated (the SMF buffers downlink at the UPF)."""
        if ue.supi is None:
            return
        for sess in list(self.by_supi.get(ue.supi, {}).values()):
            if sess.up_active:
                sess.up_active = False
                self.count("an_release_deactivate")
                self._spawn(self._update(ue.supi, sess, {"upCnxState": "DEACTIVATED"}, {}))

    def paging_failed(self, ue: UeContext) -> None:
        """TS 29.518 §5.2.2.3.2: the UE did not answer paging; each waiting transfer is dropped
        and its SMF, if it gave an n1n2FailureTxfNotifURI, gets N1N2TransferFailureNotification."""
        if ue.supi is None:
            return
        for psi, w in self.pending.pop(ue.supi, {}).items():
            self.count("n1n2_paging_failed")
            if w.failure_uri:
                loc = f"{self.amf_uri}/namf-comm/v1/ue-contexts/{path_segment(ue.supi)}/n1-n2-messages/{psi}"
                self._spawn(self._notify_failure(w.failure_uri, {"cause": "UE_NOT_RESPONDING", "n1n2MsgDataUri": loc}))

    async def _notify_failure(self, uri: str, body: dict[str, Any]) -> None:
        parts = urlsplit(uri)
        try:
            resp = await self.client.call("POST", parts.path, body=body, timeout=5.0,
                                          base_uri=f"{parts.scheme}://{parts.netloc}")
            if resp.status >= 300:
                log.info("event=n1n2_failure_notify_refused uri=%s status=%d", uri, resp.status)
        except (TransportError, NoProducer) as exc:
            log.info("event=n1n2_failure_notify_failed uri=%s err=%s", uri, exc)

    def info(self) -> dict[str, Any]:
        return {"sessions": sum(len(v) for v in self.by_supi.values()), "counters": dict(self.stats)}


def attach(app: Any) -> AmfSessions:
    """Plug the session relay into an AmfApp: NGAP handlers, SBI routes, the 5GMM hook."""
    s = AmfSessions(app)
    app.gmm.on_ul_nas_transport = s.ul_nas_transport
    app.gmm.on_paging_failed = s.paging_failed
    app.gmm.session_psis = s.session_psis
    app.gmm.on_sessions_gone = s.release_gone
    h = app.ngap._handlers
    h[("PDUSessionResourceSetup", "successful")] = s.setup_response
    h[("PDUSessionResourceRelease", "successful")] = s.release_response
    h[("PDUSessionResourceModify", "successful")] = s.modify_response
    h[("PDUSessionResourceNotify", "initiating")] = lambda gnb, pdu: []
    h[("InitialContextSetup", "successful")] = s.ics_response
    app.ngap.on_service_ics = s.service_ics
    app.ngap.on_reactivate = s.reactivate_connected
    # TS 23.502 §4.2.2.3.2 step 2: de-registration releases the SM contexts; §4.2.6: an AN
    # release deactivates their user plane. Both wrap the 5GMM/SBI entry points they follow.
    gmm_released = app.gmm.ran_released

    def ran_released(ue: UeContext) -> None:
        s.an_released(ue)
        gmm_released(ue)

    app.gmm.ran_released = ran_released
    sbi_execute = app.sbi.execute

    async def execute(op: str, args: dict[str, Any]) -> Any:
        if op == "udm_deregister" and isinstance(args.get("supi"), str):
            await s.release_all(args["supi"])
        return await sbi_execute(op, args)

    app.sbi.execute = execute
    app.router.add("POST", "/namf-comm/v1/ue-contexts/{ueContextId}/n1-n2-messages", s.n1n2_transfer)
    app.router.add("POST", "/namf-callback/v1/{supi}/sm-context-status/{psi}", s.sm_context_status)
    app.router.add("POST", "/namf-callback/v1/{supi}/sm-context-status/{psi}/{token}", s.sm_context_status)
    app.router.add("GET", "/fivecore-amf/v1/sessions", lambda req: json_response(s.info()))
    if ("namf-comm", "v1") not in app.services:
        app.services = [*app.services, ("namf-comm", "v1")]
    app.sessions = s
    return s
