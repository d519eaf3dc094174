"""Nsmf_PDUSession (TS 29.502) and the PDU session procedures behind it (TS 23.502 §4.3).

Resources served (TS 29.502 §6.1.3):

- ``POST /nsmf-pdusession/v1/sm-contexts`` — Create SM Context (§5.2.2.2). The body is
  multipart/related: the SmContextCreateData JSON part plus the N1 SM message (PDU Session
  Establishment Request) as an ``application/vnd.3gpp.5gnas`` part referenced by
  ``n1SmMsg.contentId``. 201 with ``Location`` on success; 403 with SmContextCreateError and
  the PDU Session Establishment Reject as a binary part when 5GSM refuses.
- ``POST .../sm-contexts/{smContextRef}/modify`` — Update SM Context (§5.2.2.3): N2 SM
  information from the gNB (setup/modify/release responses), N1 SM messages from the UE
  (release, modification), user-plane (de)activation.
- ``POST .../sm-contexts/{smContextRef}/release`` — Release SM Context (§5.2.2.4).
- ``GET /fivecore-smf/v1/pdu-info`` — the sessions, for people and tests (like Open5GS's).

After the Create answer the SMF runs TS 23.502 §4.3.2.2.1 steps 7-11 in the background:
SM policy from the PCF, UPF selection, N4 session establishment, UDM registration, and
N1N2MessageTransfer to the AMF with the Accept and the PDU Session Resource Setup Request
Transfer. The gNB's answer comes back as an Update with its N3 tunnel (steps 14-16).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fivecore.nf.common.client import run_until_wait
from fivecore.nf.smf import gsm, pfcp
from fivecore.nf.smf.clients import SbiCallFailed, SmfClients
from fivecore.nf.smf.context import PoolExhausted, SmContext, SmfContext, SmState
from fivecore.nf.smf.pfcp import N4, PfcpFailure, UpfPeer
from fivecore.transport.http2 import HttpError, Request, Response, Router, json_response
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.sbi import multipart
from fivecore.wire.template import TemplateCache

log = logging.getLogger("fivecore.smf")

API = "/nsmf-pdusession/v1"

# TS 38.413 §9.3.1.2 Cause for the N2 release command, per 5GSM cause.
_NGAP_RELEASE_CAUSE = {
    gsm.CAUSE_REGULAR_DEACTIVATION: ("nas", "normal-release"),
    gsm.CAUSE_REACTIVATION_REQUESTED: ("radioNetwork", "release-due-to-cn-detected-mobility"),
    gsm.CAUSE_NETWORK_FAILURE: ("misc", "unspecified"),
    gsm.CAUSE_INSUFFICIENT_RESOURCES: ("misc", "not-enough-user-plane-processing-resources"),
}


def _snssai_tuple(s: dict[str, Any]) -> tuple[int, int | None]:
    return (int(s.get("sst", 1)), int(s["sd"], 16) if s.get("sd") else None)


_TEMPLATES = TemplateCache()
_SETUP_FIELDS = {"ip": ("ipv4", 4), "teid": ("int", 4)}


def _setup_request_transfer(ul_ip: str, ul_teid: int, ambr_dl: int, ambr_ul: int, pdu_type: int, qfi: int,
                            five_qi: int, arp: int, extra: dict[str, Any] | None = None) -> bytes:
    """TS 38.413 §9.3.4.1 PDU Session Resource Setup Request Transfer, IE by IE (the reference
    encoding behind :meth:`SmfService.setup_request_transfer`). ``extra``: further IEs by name
    (an N2 handover's data forwarding IEs, :mod:`fivecore.nf.smf.handover`)."""
    ies: dict[str, Any] = {
        "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": ambr_dl,
                                              "pDUSessionAggregateMaximumBitRateUL": ambr_ul},
        "UL-NGU-UP-TNLInformation": ngap.gtp_tunnel(ul_ip, ul_teid),
        "PDUSessionType": {1: "ipv4", 2: "ipv6", 3: "ipv4v6"}.get(pdu_type, "ipv4"),
        "QosFlowSetupRequestList": [{
            "qosFlowIdentifier": qfi,
            "qosFlowLevelQosParameters": {
                "qosCharacteristics": ("nonDynamic5QI", {"fiveQI": five_qi}),
                "allocationAndRetentionPriority": {
                    "priorityLevelARP": arp,
                    "pre-emptionCapability": "shall-not-trigger-pre-emption",
                    "pre-emptionVulnerability": "not-pre-emptable"}}}],
    }
    if extra:
        ies.update(extra)
    return ngap.encode_ie("PDUSessionResourceSetupRequestTransfer", ies)


def session_setup_request_transfer(sm: SmContext, extra: dict[str, Any] | None = None) -> bytes:
    """The reference encoding of ``sm``'s PDU Session Resource Setup Request Transfer, with
    ``extra`` IEs (an N2 handover's data forwarding IEs, :mod:`fivecore.nf.smf.handover`)."""
    return _setup_request_transfer(sm.ul_ip or "0.0.0.0", sm.ul_teid or 0, sm.ambr_dl, sm.ambr_ul,
                                   sm.pdu_type, sm.qfi, sm.five_qi, sm.arp, extra)


class SmfService:
    """The SMF's procedures (see module docstring); ``router()`` serves them."""

    def __init__(self, *, ctx: SmfContext, clients: SmfClients, n4: N4, peers: list[UpfPeer],
                 dnns: dict[str, Any], node_id: str, base_uri: str, usage_volume: int = 1 << 30,
                 restart_mode: str = "release") -> None:
        self.ctx = ctx
        self.clients = clients
        self.n4 = n4
        self.peers = peers
        self.dnns = dnns  # dnn -> DnnPoolConfig
        self.node_id = node_id
        self.base_uri = base_uri
        self.usage_volume = usage_volume
        self.restart_mode = restart_mode
        self._bg: set[asyncio.Task[Any]] = set()
        self._stopped = False
        #: ``smf.upf_selection: nrf``: look for UPFs serving (dnn, (sst, sd)) through the NRF
        #: when none is known (fivecore.nf.smf.upf_nrf, TS 23.502 §4.3.2.2.1 step 8)
        self.upf_finder: Callable[[str, tuple[int, int | None]], Awaitable[None]] | None = None
        #: the SM context file's state for ``/pdu-info`` (fivecore.nf.smf.persist), or None
        self.persist_info: Callable[[], dict[str, Any]] | None = None
        n4.on_restart = self.on_upf_restart
        n4.on_report = self.on_report
        # TS 23.527 §4.3: the UPF did not keep our sessions over our restart: set them up again
        n4.on_not_retained = self.restore_on
        n4.has_sessions = self._has_sessions
        n4.upf_seid_lookup = self._upf_seid
        from fivecore.nf.smf.handover import SmfN2Handover

        #: N2 handover (TS 23.502 §4.9.1.3): hoState in UpdateSMContext
        self.n2_handover = SmfN2Handover(self)

    # --- plumbing ---------------------------------------------------------------------------

    def router(self) -> Router:
        r = Router("smf")
        r.add("POST", API + "/sm-contexts", self.create)
        r.add("POST", API + "/sm-contexts/{smContextRef}/modify", self.update)
        r.add("POST", API + "/sm-contexts/{smContextRef}/release", self.release)
        r.add("POST", "/nsmf-callback/v1/sm-contexts/{smContextRef}/n1n2-failure", self.n1n2_failure)
        r.add("GET", "/fivecore-smf/v1/pdu-info", self.pdu_info)
        r.add("POST", "/fivecore-smf/v1/sm-contexts/{smContextRef}/session-ambr", self.set_ambr)
        r.add("POST", "/fivecore-smf/v1/sm-contexts/{smContextRef}/network-release", self.network_release)
        return r

    def spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    def spawn_eager(self, coro: Any) -> None:
        """:meth:`spawn` for a coroutine that usually never waits (an in-process SBI call): it
        runs where a task's first step would, and becomes a task only if it has to wait."""
        (self.n4._loop or asyncio.get_running_loop()).call_soon(self._start, coro)

    def _start(self, coro: Any) -> None:
        if self._stopped:
            coro.close()
            return
        t = run_until_wait(coro)
        if t is not None:
            self._bg.add(t)
            t.add_done_callback(self._bg.discard)

    async def stop(self) -> None:
        self._stopped = True
        for t in list(self._bg):
            t.cancel()

    def _has_sessions(self, upf: UpfPeer) -> bool:
        return any(sm.upf is upf for sm in self.ctx.by_ref.values())

    def _upf_seid(self, local_seid: int) -> int:
        sm = self.ctx.by_seid.get(local_seid)
        return sm.upf_seid or 0 if sm is not None else 0

    @staticmethod
    def _body(req: Request) -> tuple[Any, dict[str, tuple[str, bytes]]]:
        """JSON and binary parts of a request (multipart/related or plain JSON)."""
        if isinstance(req.body_obj, multipart.Parts):
            return req.body_obj.data, req.body_obj.binaries
        if req.body_obj is not None:
            return req.body_obj, {}
        ctype = req.headers.get("content-type", "")
        if multipart.is_multipart(ctype):
            try:
                return multipart.decode(ctype, req.body)
            except DecodeError as exc:
                raise HttpError(400, "INVALID_MSG_FORMAT", exc.reason) from None
        return req.json(), {}

    @staticmethod
    def _reply(status: int, data: Any, n1: bytes | None = None, n2: bytes | None = None,
               n2_type: str | None = None, headers: dict[str, str] | None = None) -> Response:
        """A JSON or multipart/related response with N1/N2 parts (TS 29.502 §6.1.2.4)."""
        body = dict(data) if isinstance(data, dict) else {}
        parts: dict[str, tuple[str, bytes]] = {}
        if n1 is not None:
            body["n1SmMsg"] = {"contentId": "n1msg"}
            parts["n1msg"] = (multipart.NAS_5G, n1)
        if n2 is not None:
            body["n2SmInfo"] = {"contentId": "n2msg"}
            body["n2SmInfoType"] = n2_type
            parts["n2msg"] = (multipart.NGAP, n2)
        # serialised only if it crosses HTTP/2 (Response.encoded); in-process callers read the parts
        return Response(status, b"", dict(headers or {}), multipart.Parts(body, parts))

    # --- Create SM Context (TS 29.502 §5.2.2.2, TS 23.502 §4.3.2.2.1 steps 3-5) ----------------

    async def create(self, req: Request) -> Response:
        data, parts = self._body(req)
        if not isinstance(data, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "SmContextCreateData must be an object")
        missing = [k for k in ("supi", "pduSessionId", "sNssai", "servingNfId", "servingNetwork",
                               "anType", "smContextStatusUri", "n1SmMsg") if k not in data]
        if missing:
            raise HttpError(400, "MANDATORY_IE_MISSING", f"missing {', '.join(missing)}",
                            invalid_params=[{"param": "/" + m} for m in missing])
        supi, psi, snssai = data["supi"], data["pduSessionId"], data["sNssai"]
        if not isinstance(supi, str) or not isinstance(psi, int) or not isinstance(snssai, dict) \
                or not isinstance(snssai.get("sst"), int):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "supi, pduSessionId or sNssai malformed")
        n1 = multipart.ref(data, "n1SmMsg", parts)
        if n1 is None:
            raise HttpError(400, "MANDATORY_IE_MISSING", "n1SmMsg part missing",
                            invalid_params=[{"param": "/n1SmMsg"}])
        self.ctx.count("create_requests")
        try:
            msg = gsm.parse(n1)
        except gsm.GsmError as exc:
            return self._create_error(psi, exc.pti, exc.cause, "N1_SM_ERROR")
        pti = msg.pti
        if msg.message_type != "PDUSessionEstablishmentRequest":
            return self._create_error(psi, pti, gsm.CAUSE_MESSAGE_NOT_COMPATIBLE, "N1_SM_ERROR")
        dnn = data.get("dnn")
        if dnn is None:
            dnn = await self._default_dnn(supi, snssai)
        old = self.ctx.by_ue.get((supi, psi))
        if old is not None:
            # TS 24.501 §6.4.1.7 b): same PSI again -> release the old session locally first
            self.ctx.count("reestablish_same_psi")
            await self._teardown(old, notify=False)
        sub = None
        dnn_conf = self.dnns.get(dnn) if dnn else None
        in_slice = dnn_conf is not None and any(
            (s.sst, int(s.sd, 16) if s.sd else None) == _snssai_tuple(snssai) for s in dnn_conf.slices)
        if dnn_conf is not None and in_slice:
            try:
                sub = gsm.DnnSubscription.from_sm_data(await self.clients.sm_data(supi, snssai, dnn),
                                                       dnn, snssai)
            except SbiCallFailed as exc:
                log.info("event=udm_sm_data_failed status=%s", exc.status)
                if exc.status in (0, 500, 503, 504):
                    return self._create_error(psi, pti, gsm.CAUSE_NETWORK_FAILURE, "NETWORK_FAILURE", 504)
                sub = None
            except (ValueError, TypeError, KeyError):
                sub = None
        v6 = dnn_conf is not None and dnn_conf.ipv6_prefix_pool is not None
        try:
            decision = gsm.check_establishment(msg, psi=psi, dnn=dnn, dnn_known=dnn_conf is not None,
                                               dnn_in_slice=in_slice, sub=sub, ipv6_available=v6)
        except gsm.GsmReject as exc:
            self.ctx.count(f"reject_{exc.cause}")
            log.info("event=pdu_session_reject psi=%d cause=%d", psi, exc.cause)
            app_cause = {gsm.CAUSE_MISSING_OR_UNKNOWN_DNN: "DNN_DENIED",
                         gsm.CAUSE_SERVICE_OPTION_NOT_SUBSCRIBED: "DNN_DENIED",
                         gsm.CAUSE_MISSING_OR_UNKNOWN_DNN_IN_SLICE: "DNN_DENIED",
                         gsm.CAUSE_UNKNOWN_PDU_SESSION_TYPE: "PDUTYPE_DENIED",
                         gsm.CAUSE_IPV4_ONLY_ALLOWED: "PDUTYPE_DENIED",
                         gsm.CAUSE_IPV6_ONLY_ALLOWED: "PDUTYPE_DENIED",
                         gsm.CAUSE_NOT_SUPPORTED_SSC_MODE: "SSC_DENIED"}.get(exc.cause, "N1_SM_ERROR")
            return self._create_error(psi, pti, exc.cause, app_cause)
        assert sub is not None and dnn is not None and dnn_conf is not None
        sm = self.ctx.new(supi, psi, dnn, {k: v for k, v in snssai.items() if k in ("sst", "sd")})
        sm.pti = pti
        sm.pdu_type = decision.pdu_type
        sm.ssc_mode = decision.ssc_mode
        sm.pool = dnn
        sm.amf_instance_id = data.get("servingNfId")
        sm.status_uri = data.get("smContextStatusUri")
        sm.pei = data.get("pei")
        sm.gpsi = data.get("gpsi")
        sm.serving_network = data.get("servingNetwork")
        sm.an_type = data.get("anType", "3GPP_ACCESS")
        sm.rat_type = data.get("ratType", "NR")
        sm.five_qi, sm.arp = sub.five_qi, sub.arp
        sm.ambr_ul, sm.ambr_dl = sub.ambr_ul, sub.ambr_dl
        sm.created = time.monotonic()
        try:
            if sm.pdu_type in (gsm.PDU_IPV4, gsm.PDU_IPV4V6):
                sm.ue_ipv4 = self._pool(dnn).allocate()
            if sm.pdu_type in (gsm.PDU_IPV6, gsm.PDU_IPV4V6):
                sm.ue_ipv6_prefix = self._v6pool(dnn).allocate()
        except PoolExhausted:
            self.ctx.remove(sm)
            self.ctx.count("reject_pool_exhausted")
            return self._create_error(psi, pti, gsm.CAUSE_INSUFFICIENT_RESOURCES, "INSUFFICIENT_RESOURCES_SLICE_DNN")
        sm.state = SmState.ACTIVE_PENDING
        self.spawn(self._establish(sm, decision))
        loc = f"{self.base_uri}{API}/sm-contexts/{sm.ref}"
        created = {"pduSessionId": psi, "sNssai": sm.snssai, "upCnxState": "ACTIVATING"}
        return json_response(created, 201, {"location": loc})

    def _create_error(self, psi: int, pti: int, cause: int, app_cause: str, status: int = 403) -> Response:
        """TS 29.502 §6.1.6.2.3 SmContextCreateError with the 5GSM reject in an N1 part."""
        n1 = gsm.encode_safe(gsm.establishment_reject, psi & 0xFF, pti & 0xFF, cause)
        err = {"error": {"status": status, "cause": app_cause, "title": "PDU session establishment rejected"}}
        return self._reply(status, err, n1=n1)

    async def _default_dnn(self, supi: str, snssai: dict[str, Any]) -> str | None:
        """TS 23.502 §4.3.2.2.1 step 2 note: no DNN asked -> the subscribed default for the slice."""
        try:
            sel = await self.clients.smf_select_data(supi)
        except SbiCallFailed:
            return None
        key = str(snssai.get("sst", 1)) + (f"-{snssai['sd']}" if snssai.get("sd") else "")
        infos = ((sel or {}).get("subscribedSnssaiInfos") or {}).get(key) or {}
        for d in infos.get("dnnInfos") or []:
            if d.get("defaultDnnIndicator"):
                return d.get("dnn")
        return None

    def _pool(self, dnn: str) -> Any:
        from fivecore.nf.smf.context import Ipv4Pool

        pool = self.ctx.pools.get(dnn)
        if pool is None:
            conf = self.dnns[dnn]
            pool = self.ctx.pools[dnn] = Ipv4Pool(conf.ipv4_pool, conf.reserved)
        return pool

    def pool_for(self, dnn: str, v6: bool) -> Any:
        """The IPv4 (or IPv6 prefix) pool of a configured DNN, made on first use; KeyError for
        a DNN not configured."""
        return self._v6pool(dnn) if v6 else self._pool(dnn)

    def _v6pool(self, dnn: str) -> Any:
        from fivecore.nf.smf.context import Ipv6PrefixPool

        pool = self.ctx.v6pools.get(dnn)
        if pool is None:
            pool = self.ctx.v6pools[dnn] = Ipv6PrefixPool(self.dnns[dnn].ipv6_prefix_pool)
        return pool

    # --- establishment, TS 23.502 §4.3.2.2.1 steps 7-11 --------------------------------------

    def select_upf(self, sm: SmContext) -> UpfPeer | None:
        """TS 23.501 §6.3.3: a UPF serving the DNN and slice, associated, least loaded."""
        want = _snssai_tuple(sm.snssai)
        cands = [p for p in self.peers if p.associated and p.serves(sm.dnn, want)]
        if len(cands) < 2:
            # the common single-UPF case must not scan every session (O(N) per establishment)
            return cands[0] if cands else None
        load: dict[int, int] = {id(p): 0 for p in cands}
        for other in self.ctx.by_ref.values():
            if id(other.upf) in load:
                load[id(other.upf)] += 1
        return min(cands, key=lambda p: load[id(p)])

    async def _establish(self, sm: SmContext, decision: gsm.EstablishmentDecision) -> None:
        cause = gsm.CAUSE_INSUFFICIENT_RESOURCES
        try:
            await self._policy(sm)
            upf = self.select_upf(sm)
            if upf is None and self.upf_finder is not None:
                await self.upf_finder(sm.dnn, _snssai_tuple(sm.snssai))
            if upf is None:
                # give an association in progress a moment (e.g. right after start-up)
                for p in self.peers:
                    if p.serves(sm.dnn, _snssai_tuple(sm.snssai)):
                        try:
                            await asyncio.wait_for(p.associated_event.wait(), 3.0)
                        except TimeoutError:
                            pass
                upf = self.select_upf(sm)
            if upf is None:
                raise PfcpFailure("no associated UPF serves this DNN and slice")
            sm.upf = upf
            await self._pfcp_establish(sm)
            if sm.ref not in self.ctx.by_ref:
                return  # released meanwhile
            self.spawn_eager(self._udm_register(sm))
            accept = gsm.establishment_accept(sm, decision, self.dnns[sm.dnn].dns, self.dnns[sm.dnn].mtu)
            n2 = self.setup_request_transfer(sm)
            await self.clients.n1n2_transfer(sm.supi, sm.psi, amf_uri=sm.amf_uri,
                                             amf_instance_id=sm.amf_instance_id, n1=accept, n2=n2,
                                             n2_type="PDU_RES_SETUP_REQ", snssai=sm.snssai)
            self.ctx.count("established")
            self.ctx.touch(sm)
            log.info("event=pdu_session_established psi=%d dnn=%s ue_ip=%s upf=%s",
                     sm.psi, sm.dnn, sm.ue_ipv4, upf.address)
            return
        except PfcpFailure as exc:
            log.warning("event=pdu_session_n4_failed psi=%d err=%s", sm.psi, exc)
            self.ctx.count("establish_n4_failed")
        except SbiCallFailed as exc:
            log.warning("event=pdu_session_sbi_failed psi=%d err=%s", sm.psi, exc)
            self.ctx.count("establish_sbi_failed")
            cause = gsm.CAUSE_NETWORK_FAILURE
        except (EncodeError, ValueError) as exc:
            log.warning("event=pdu_session_encode_failed psi=%d err=%s", sm.psi, exc)
            cause = gsm.CAUSE_NETWORK_FAILURE
        # TS 23.502 §4.3.2.2.1 step 11: the establishment failed after the Create answer;
        # tell the UE (Reject through the AMF) and drop everything we set up.
        reject = gsm.establishment_reject(sm.psi, sm.pti, cause)
        try:
            await self.clients.n1n2_transfer(sm.supi, sm.psi, amf_uri=sm.amf_uri,
                                             amf_instance_id=sm.amf_instance_id, n1=reject, n2=None,
                                             n2_type=None)
        except SbiCallFailed as exc:
            log.info("event=reject_delivery_failed psi=%d err=%s", sm.psi, exc)
        await self._teardown(sm, notify=True)

    def policy_context(self, sm: SmContext) -> dict[str, Any]:
        """TS 29.512 §5.6.2.3 SmPolicyContextData for the session."""
        body: dict[str, Any] = {
            "supi": sm.supi, "pduSessionId": sm.psi, "pduSessionType": _type_name(sm.pdu_type),
            "dnn": sm.dnn, "sliceInfo": sm.snssai,
            "notificationUri": f"{self.base_uri}/nsmf-callback/v1/sm-policies/{sm.ref}",
            "servingNetwork": sm.serving_network or self.clients.plmn,
            "subsSessAmbr": {"uplink": gsm.format_bitrate(sm.ambr_ul), "downlink": gsm.format_bitrate(sm.ambr_dl)},
            "subsDefQos": {"5qi": sm.five_qi, "arp": {"priorityLevel": sm.arp, "preemptCap": "NOT_PREEMPT",
                                                       "preemptVuln": "NOT_PREEMPTABLE"}},
            "ratType": sm.rat_type, "accessType": sm.an_type,
        }
        if sm.ue_ipv4:
            body["ipv4Address"] = sm.ue_ipv4
        if sm.gpsi:
            body["gpsi"] = sm.gpsi
        if sm.pei:
            body["pei"] = sm.pei
        return body

    async def _policy(self, sm: SmContext) -> None:
        """TS 29.512 §4.2.2: SM policy; without a PCF the subscription values stay (local policy)."""
        body = self.policy_context(sm)
        try:
            sm.policy_id, decision = await self.clients.sm_policy_create(body)
        except SbiCallFailed as exc:
            if exc.status == 403:
                raise
            log.info("event=pcf_unavailable_local_policy psi=%d err=%s", sm.psi, exc)
            self.ctx.count("local_policy")
            return
        for rule in (decision.get("sessRules") or {}).values():
            ambr = rule.get("authSessAmbr") or {}
            try:
                if ambr:
                    sm.ambr_ul = gsm.parse_bitrate(ambr["uplink"])
                    sm.ambr_dl = gsm.parse_bitrate(ambr["downlink"])
                qos = rule.get("authDefQos") or {}
                if qos.get("5qi"):
                    sm.five_qi = int(qos["5qi"])
                if (qos.get("arp") or {}).get("priorityLevel"):
                    sm.arp = int(qos["arp"]["priorityLevel"])
            except (KeyError, ValueError, TypeError):
                log.info("event=pcf_decision_unusable psi=%d", sm.psi)

    async def _pfcp_establish(self, sm: SmContext, restore: bool = False) -> None:
        upf: UpfPeer = sm.upf
        seq = self.n4.next_seq()
        data = None if restore else pfcp.establishment_request(
            sm, seq=seq, node_id=self.node_id, cp_ip=self.n4.address, usage_volume=self.usage_volume)
        if data is not None:
            rsp = await self.n4.request_encoded(upf, data, seq, "SessionEstablishmentRequest")
        else:
            req = pfcp.session_establishment(
                sm, seq=seq, node_id=self.node_id, cp_ip=self.n4.address,
                usage_volume=self.usage_volume,
                ul_teid=sm.ul_teid if restore else None, ul_ip=sm.ul_ip if restore else None)
            rsp = await self.n4.request(upf, req)
        if restore:
            pfcp.check_cause(rsp, "session restore")
            sm.upf_seid = rsp.f_seid.seid if rsp.f_seid else None
            for created in rsp.ies.all("created_pdr"):
                if created.pdr_id == pfcp.PDR_UL and created.f_teid is not None:
                    sm.ul_teid, sm.ul_ip = created.f_teid.teid, created.f_teid.ipv4
            return
        sm.upf_seid, sm.ul_teid, sm.ul_ip = pfcp.parse_establishment_response(rsp)
        self.n4.count("sessions_established")

    async def _udm_register(self, sm: SmContext) -> None:
        try:
            await self.clients.uecm_register(sm.supi, sm.psi, sm.dnn, sm.snssai)
            sm.udm_registered = True
            self.ctx.touch(sm)
        except SbiCallFailed as exc:
            log.info("event=udm_smf_registration_failed psi=%d err=%s", sm.psi, exc)

    def setup_request_transfer(self, sm: SmContext) -> bytes:
        """TS 38.413 §9.3.4.1 PDU Session Resource Setup Request Transfer.

        Written into a template of the session's QoS and AMBR (:mod:`fivecore.wire.template`):
        only the UPF's N3 address and TEID differ from one session to the next."""
        ul_ip, ul_teid = sm.ul_ip or "0.0.0.0", sm.ul_teid or 0
        ambr_dl, ambr_ul, pdu_type, qfi, five_qi, arp = sm.ambr_dl, sm.ambr_ul, sm.pdu_type, sm.qfi, sm.five_qi, sm.arp

        def build(v: dict[str, Any]) -> bytes:
            return _setup_request_transfer(v["ip"], v["teid"], ambr_dl, ambr_ul, pdu_type, qfi, five_qi, arp)

        t = _TEMPLATES.get(("setup", ambr_dl, ambr_ul, pdu_type, qfi, five_qi, arp), build, _SETUP_FIELDS)
        if t is not None:
            try:
                return t.fill({"ip": ul_ip, "teid": ul_teid})
            except (OverflowError, OSError, TypeError):
                pass  # the generic encoder says what is wrong
        return session_setup_request_transfer(sm)

    # --- Update SM Context (TS 29.502 §5.2.2.3) ------------------------------------------------

    def _sm(self, req: Request) -> SmContext:
        sm = self.ctx.by_ref.get(req.path_params["smContextRef"])
        if sm is None:
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no such SM context")
        return sm

    async def update(self, req: Request) -> Response:
        sm = self._sm(req)
        data, parts = self._body(req)
        if not isinstance(data, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "SmContextUpdateData must be an object")
        self.ctx.count("update_requests")
        n2_type = data.get("n2SmInfoType")
        n2 = multipart.ref(data, "n2SmInfo", parts)
        n1 = multipart.ref(data, "n1SmMsg", parts)
        if data.get("hoState") is not None or n2_type in ("HANDOVER_REQUIRED", "HANDOVER_REQ_ACK",
                                                          "HANDOVER_RES_ALLOC_FAIL"):
            # TS 29.502 §5.2.2.3.4: N2 handover (fivecore.nf.smf.handover)
            return await self.n2_handover.update(sm, data, n2_type, n2)
        if n2_type is not None:
            if n2 is None and n2_type not in ("PDU_RES_REL_RSP",):
                raise HttpError(400, "MANDATORY_IE_MISSING", "n2SmInfo part missing",
                                invalid_params=[{"param": "/n2SmInfo"}])
            return await self._on_n2(sm, n2_type, n2)
        if n1 is not None:
            return await self._on_n1(sm, n1)
        up = data.get("upCnxState")
        if up == "DEACTIVATED":
            return await self._deactivate(sm)
        if up == "ACTIVATING":
            # TS 23.502 §4.2.3.2 step 4: service request -> N2 setup info again
            return self._reply(200, {"upCnxState": "ACTIVATING"}, n2=self.setup_request_transfer(sm),
                               n2_type="PDU_RES_SETUP_REQ")
        if data.get("release"):
            await self._teardown(sm, notify=False)
            return Response(204)
        return json_response({"upCnxState": "ACTIVATED" if sm.up_active else "DEACTIVATED"})

    async def _on_n2(self, sm: SmContext, n2_type: str, n2: bytes | None) -> Response:
        if n2_type == "PDU_RES_SETUP_RSP":
            try:
                tr = ngap.decode_ie("PDUSessionResourceSetupResponseTransfer", n2 or b"")
                ip, teid = ngap.gtp_tunnel_from(tr["dLQosFlowPerTNLInformation"]["uPTransportLayerInformation"])
                ipaddress.IPv4Address(ip)
            except (DecodeError, KeyError, TypeError, ValueError) as exc:
                raise HttpError(400, "INVALID_MSG_FORMAT", f"bad PDUSessionResourceSetupResponseTransfer: {exc}") from None
            sm.dl_ip, sm.dl_teid = ip, teid
            if sm.upf is None or sm.upf_seid is None:
                raise HttpError(409, "UP_CONNECTION_ACTIVATION_FAILED", "no N4 session")
            try:
                seq = self.n4.next_seq()
                data = pfcp.activate_downlink_request(sm, seq=seq)
                if data is not None:
                    rsp = await self.n4.request_encoded(sm.upf, data, seq, "SessionModificationRequest")
                else:
                    rsp = await self.n4.request(sm.upf, pfcp.activate_downlink(sm, seq=seq))
                pfcp.check_cause(rsp, "session modification")
            except PfcpFailure as exc:
                log.warning("event=n4_activate_failed psi=%d err=%s", sm.psi, exc)
                raise HttpError(500, "SYSTEM_FAILURE", "user plane activation failed") from None
            sm.up_active = True
            if sm.state == SmState.ACTIVE_PENDING:
                sm.state = SmState.ACTIVE
            self.ctx.touch(sm)
            self.ctx.count("up_activated")
            return json_response({"upCnxState": "ACTIVATED"})
        if n2_type == "PDU_RES_SETUP_FAIL":
            # TS 23.502 §4.3.2.2.1 step 15: the gNB could not set it up: release the session
            self.ctx.count("up_setup_failed")
            await self._delete_n4(sm)
            sm.state = SmState.INACTIVE_PENDING
            sm.release_cause = gsm.CAUSE_INSUFFICIENT_RESOURCES
            return self._reply(200, {"upCnxState": "DEACTIVATED"},
                               n1=gsm.release_command(sm.psi, 0, gsm.CAUSE_INSUFFICIENT_RESOURCES))
        if n2_type == "PATH_SWITCH_REQ":
            return await self._path_switch(sm, n2 or b"")
        if n2_type == "PATH_SWITCH_SETUP_FAIL":
            # TS 23.502 §4.9.1.2.2 step 2: the target gNB could not take the session's user
            # plane; the session stays, its user plane is deactivated (downlink buffered and
            # reported, TS 23.502 §4.2.3.3) until a Service Request brings it back
            self.ctx.count("path_switch_setup_failed")
            try:
                ngap.decode_ie("PathSwitchRequestSetupFailedTransfer", n2 or b"")
            except DecodeError as exc:
                raise HttpError(400, "INVALID_MSG_FORMAT", f"bad PathSwitchRequestSetupFailedTransfer: {exc}") from None
            return await self._deactivate(sm)
        if n2_type in ("PDU_RES_REL_RSP", "PDU_RES_MOD_RSP", "PDU_RES_MOD_FAIL"):
            if n2_type == "PDU_RES_REL_RSP":
                sm.up_active = False
                self.ctx.touch(sm)
            return json_response({"upCnxState": "ACTIVATED" if sm.up_active else "DEACTIVATED"})
        raise HttpError(400, "MANDATORY_IE_INCORRECT", f"n2SmInfoType {n2_type} not handled",
                        invalid_params=[{"param": "/n2SmInfoType"}])

    async def _path_switch(self, sm: SmContext, n2: bytes) -> Response:
        """TS 23.502 §4.9.1.2.2 steps 2-6 (Xn handover without UPF re-allocation), TS 29.502
        §5.2.2.3.x: the Path Switch Request Transfer (TS 38.413 §9.3.4.8) names the target
        gNB's downlink N3 F-TEID and the QoS flows it accepted. The UPF's downlink FAR moves to
        that tunnel with SNDEM (End Markers on the old one, TS 29.244 §5.2.1); the answer is
        PATH_SWITCH_REQ_ACK with the Path Switch Request Acknowledge Transfer (§9.3.4.9: the
        uplink F-TEID, unchanged). A session that cannot be switched gets PATH_SWITCH_REQ_FAIL
        with a Path Switch Request Unsuccessful Transfer (§9.3.4.10), and the AMF lists it as
        released (TS 38.413 §8.4.4.2)."""
        ip, teid, accepted = target_downlink("PathSwitchRequestTransfer", n2, "qosFlowAcceptedList")
        if sm.qfi not in accepted:
            # the session's one QoS flow was not accepted by the target: nothing to switch
            return self._path_switch_refused(sm, "radioNetwork", "unspecified", "qos flow not accepted")
        if sm.upf is None or sm.upf_seid is None or sm.state not in (SmState.ACTIVE, SmState.MODIFICATION_PENDING):
            return self._path_switch_refused(sm, "misc", "unspecified", "no N4 session")
        old = (sm.dl_ip, sm.dl_teid)
        sm.dl_ip, sm.dl_teid = ip, teid
        try:
            rsp = await self.n4.request(sm.upf, pfcp.path_switch(
                sm, seq=self.n4.next_seq(), end_marker=old[1] is not None and sm.up_active))
            pfcp.check_cause(rsp, "session modification (path switch)")
        except PfcpFailure as exc:
            sm.dl_ip, sm.dl_teid = old
            log.warning("event=n4_path_switch_failed psi=%d err=%s", sm.psi, exc)
            return self._path_switch_refused(sm, "misc", "unspecified", "user plane not switched")
        sm.up_active = True
        self.ctx.touch(sm)  # the new tunnel must survive an SMF restart (smf/persist.py)
        self.ctx.count("path_switched")
        ack = path_switch_ack_transfer(sm.ul_ip or "0.0.0.0", sm.ul_teid or 0)
        return self._reply(200, {"upCnxState": "ACTIVATED"}, n2=ack, n2_type="PATH_SWITCH_REQ_ACK")

    def _path_switch_refused(self, sm: SmContext, group: str, value: str, why: str) -> Response:
        """TS 29.502 §5.2.2.3.x: SmContextUpdateError with PATH_SWITCH_REQ_FAIL."""
        self.ctx.count("path_switch_refused")
        log.info("event=path_switch_refused psi=%d why=%s", sm.psi, why)
        n2 = path_switch_unsuccessful_transfer(group, value)
        return self._reply(403, {"error": {"status": 403, "cause": "UNSPECIFIED", "detail": why}},
                           n2=n2, n2_type="PATH_SWITCH_REQ_FAIL")

    async def _on_n1(self, sm: SmContext, n1: bytes) -> Response:
        try:
            msg = gsm.parse(n1)
        except gsm.GsmError as exc:
            return self._reply(200, {}, n1=gsm.status(sm.psi, exc.pti, exc.cause))
        ev = gsm.on_uplink(sm, msg)
        if ev.kind == "reply":
            return self._reply(200, {}, n1=ev.n1)
        if ev.kind == "release":
            # TS 23.502 §4.3.4.2: UE-requested release — N4 first, then the UE and the gNB
            self.ctx.count("release_requested")
            sm.state = SmState.INACTIVE_PENDING
            sm.release_cause = ev.cause
            sm.release_pti = ev.pti
            await self._delete_n4(sm)
            return self._reply(200, {"upCnxState": "DEACTIVATED"},
                               n1=gsm.release_command(sm.psi, ev.pti, ev.cause or gsm.CAUSE_REGULAR_DEACTIVATION),
                               n2=self.release_command_transfer(ev.cause), n2_type="PDU_RES_REL_CMD")
        if ev.kind in ("released", "local_release"):
            self.ctx.count("released")
            await self._teardown(sm, notify=True)
            return Response(204)
        if ev.kind == "modify":
            # TS 23.502 §4.3.3.2: UE-requested modification; the authorized values stand
            sm.state = SmState.MODIFICATION_PENDING
            return self._reply(200, {}, n1=gsm.modification_command(sm, ev.pti),
                               n2=self.modify_request_transfer(sm), n2_type="PDU_RES_MOD_REQ")
        if ev.kind in ("modified", "modify_rejected"):
            if sm.state == SmState.MODIFICATION_PENDING:
                sm.state = SmState.ACTIVE
                self.ctx.touch(sm)
            return Response(204)
        return Response(204)

    async def _deactivate(self, sm: SmContext) -> Response:
        """TS 23.502 §4.2.6 AN release: keep the session, buffer downlink."""
        if sm.upf is not None and sm.upf_seid is not None:
            try:
                await self.n4.request(sm.upf, pfcp.deactivate_downlink(sm, seq=self.n4.next_seq()))
            except PfcpFailure as exc:
                log.info("event=n4_deactivate_failed psi=%d err=%s", sm.psi, exc)
        sm.up_active = False
        sm.dl_teid = sm.dl_ip = None
        self.ctx.touch(sm)
        return json_response({"upCnxState": "DEACTIVATED"})

    @staticmethod
    def release_command_transfer(cause: int | None) -> bytes:
        """TS 38.413 §9.3.4.12 PDU Session Resource Release Command Transfer."""
        group, value = _NGAP_RELEASE_CAUSE.get(cause or 0, ("nas", "normal-release"))
        return ngap.encode_ie("PDUSessionResourceReleaseCommandTransfer", {"cause": ngap.cause(group, value)})

    @staticmethod
    def modify_request_transfer(sm: SmContext) -> bytes:
        """TS 38.413 §9.3.4.3 PDU Session Resource Modify Request Transfer (new AMBR)."""
        return ngap.encode_ie("PDUSessionResourceModifyRequestTransfer", {
            "PDUSessionAggregateMaximumBitRate": {"pDUSessionAggregateMaximumBitRateDL": sm.ambr_dl,
                                                  "pDUSessionAggregateMaximumBitRateUL": sm.ambr_ul}})

    # --- Release SM Context (TS 29.502 §5.2.2.4) ----------------------------------------------

    async def release(self, req: Request) -> Response:
        sm = self._sm(req)
        self.ctx.count("release_sm_context")
        await self._teardown(sm, notify=False)
        return Response(204)

    async def _delete_n4(self, sm: SmContext) -> None:
        if sm.upf is None or sm.upf_seid is None:
            return
        req = pfcp.session_deletion(sm, seq=self.n4.next_seq())
        sm.upf_seid = None  # a second teardown must not delete it twice
        try:
            rsp = await self.n4.request(sm.upf, req)
            pfcp.add_usage(sm, rsp.ies.all("usage_report_deletion"))
            self.n4.count("sessions_deleted")
        except PfcpFailure as exc:
            log.info("event=n4_delete_failed psi=%d err=%s", sm.psi, exc)

    async def _teardown(self, sm: SmContext, *, notify: bool) -> None:
        """Remove every trace of the session: N4, PCF, UDM registration, addresses."""
        if sm.ref not in self.ctx.by_ref:
            return
        self.ctx.remove(sm)  # first: nothing else may find it while we tidy up
        self.n2_handover.forget(sm)
        await self._delete_n4(sm)
        if sm.policy_id:
            try:
                await self.clients.sm_policy_delete(sm.policy_id)
            except SbiCallFailed as exc:
                log.info("event=pcf_delete_failed psi=%d err=%s", sm.psi, exc)
        if sm.udm_registered:
            try:
                await self.clients.uecm_deregister(sm.supi, sm.psi)
            except SbiCallFailed as exc:
                log.info("event=udm_dereg_failed psi=%d err=%s", sm.psi, exc)
        if notify and sm.status_uri:
            self.spawn(self.clients.status_notify(sm.status_uri, "RELEASED"))
        log.info("event=pdu_session_released psi=%d usage_ul=%d usage_dl=%d",
                 sm.psi, sm.usage["ul"], sm.usage["dl"])

    # --- network-requested procedures ---------------------------------------------------------

    async def release_by_network(self, sm: SmContext, cause: int) -> bool:
        """TS 23.502 §4.3.4.2 (network-requested): Release Command to the UE through the AMF."""
        if sm.state == SmState.INACTIVE_PENDING:
            return True
        sm.state = SmState.INACTIVE_PENDING
        sm.release_cause = cause
        self.ctx.touch(sm)
        await self._delete_n4(sm)
        try:
            await self.clients.n1n2_transfer(
                sm.supi, sm.psi, amf_uri=sm.amf_uri, amf_instance_id=sm.amf_instance_id,
                n1=gsm.release_command(sm.psi, 0, cause),
                n2=self.release_command_transfer(cause) if sm.up_active else None,
                n2_type="PDU_RES_REL_CMD" if sm.up_active else None, snssai=sm.snssai)
            self.ctx.count("network_release")
            return True
        except SbiCallFailed as exc:
            # the UE cannot be told now; release locally (it learns on its next registration)
            log.info("event=network_release_undeliverable psi=%d err=%s", sm.psi, exc)
            await self._teardown(sm, notify=True)
            return False

    async def modify_ambr(self, sm: SmContext, ul: int, dl: int) -> None:
        """TS 23.502 §4.3.3.2 (network-requested): new Session-AMBR to UPF, gNB and UE."""
        sm.ambr_ul, sm.ambr_dl = ul, dl
        if sm.upf is not None and sm.upf_seid is not None:
            rsp = await self.n4.request(sm.upf, pfcp.update_ambr(sm, seq=self.n4.next_seq()))
            pfcp.check_cause(rsp, "session modification")
        sm.state = SmState.MODIFICATION_PENDING
        self.ctx.touch(sm)
        await self.clients.n1n2_transfer(
            sm.supi, sm.psi, amf_uri=sm.amf_uri, amf_instance_id=sm.amf_instance_id,
            n1=gsm.modification_command(sm, 0), n2=self.modify_request_transfer(sm),
            n2_type="PDU_RES_MOD_REQ", snssai=sm.snssai)

    async def restore_on(self, upf: UpfPeer) -> None:
        """TS 23.527 §4.3: after our own restart the UPF did not retain the sessions we kept
        (no PSREI, TS 29.244 §6.2.6.2): re-create their N4 sessions with the same addresses
        and tunnels, whatever ``smf.upf_restart`` says -- the SMF has everything for it."""
        await self.on_upf_restart(upf, mode="restore")

    async def on_upf_restart(self, upf: UpfPeer, mode: str | None = None) -> None:
        """TS 23.527 §4.3 / TS 29.244 §19A: a restarted UPF lost its sessions.

        ``restore``: re-create each N4 session with the same UE address and tunnels, so the
        UE keeps working without signalling; a session that cannot be restored is released.
        ``release``: release every session, telling the UE (cause #39, reactivation
        requested) so it can establish a new one. ``mode``: instead of ``smf.upf_restart``.
        """
        mode = mode or self.restart_mode
        sessions = self.ctx.on_upf(upf)
        log.warning("event=upf_restart_handling upf=%s sessions=%d mode=%s",
                    upf.address, len(sessions), mode)
        for sm in sessions:
            sm.upf_seid = None
        if sessions and not upf.associated:
            try:
                await asyncio.wait_for(upf.associated_event.wait(), 10.0)
            except TimeoutError:
                pass
        sem = asyncio.Semaphore(32)  # many sessions at once, but not all in one burst

        async def one(sm: SmContext) -> None:
            async with sem:
                if sm.ref not in self.ctx.by_ref:
                    return
                if mode == "restore" and upf.associated and sm.state == SmState.ACTIVE:
                    try:
                        await self._pfcp_establish(sm, restore=True)
                        self.ctx.count("restored")
                        self.ctx.touch(sm)  # the UPF's new SEID
                        return
                    except PfcpFailure as exc:
                        log.info("event=session_restore_failed psi=%d err=%s", sm.psi, exc)
                await self.release_by_network(sm, gsm.CAUSE_REACTIVATION_REQUESTED)

        await asyncio.gather(*(one(sm) for sm in sessions), return_exceptions=True)

    def on_report(self, local_seid: int, msg: Any) -> bool:
        """TS 29.244 §7.5.8: Session Report Request (usage reports) for one session."""
        sm = self.ctx.by_seid.get(local_seid)
        if sm is None:
            return False
        pfcp.add_usage(sm, msg.ies.all("usage_report"))
        self.ctx.count("usage_reports")
        if pfcp.is_downlink_data_report(msg) and not sm.up_active and sm.state == SmState.ACTIVE:
            self.ctx.count("downlink_data_reports")
            self.spawn(self._downlink_data(sm))
        return True

    async def _downlink_data(self, sm: SmContext) -> None:
        """TS 23.502 §4.2.3.3 step 3a: downlink data for an idle UE -> N1N2MessageTransfer
        with the PDU Session Resource Setup Request Transfer; the AMF pages the UE and the
        user plane comes back with its Service Request."""
        try:
            await self.clients.n1n2_transfer(
                sm.supi, sm.psi, amf_uri=sm.amf_uri, amf_instance_id=sm.amf_instance_id,
                n1=None, n2=self.setup_request_transfer(sm), n2_type="PDU_RES_SETUP_REQ", snssai=sm.snssai,
                failure_uri=f"{self.base_uri}/nsmf-callback/v1/sm-contexts/{sm.ref}/n1n2-failure")
        except SbiCallFailed as exc:
            log.info("event=ddn_n1n2_failed psi=%d err=%s", sm.psi, exc)

    def n1n2_failure(self, req: Request) -> Response:
        """TS 29.518 §5.2.2.3.2 N1N2TransferFailureNotification: paging for downlink data
        failed (TS 23.502 §4.2.3.3 step 4b). The session stays; the UPF keeps buffering, and
        the next Downlink Data Report pages the UE again."""
        sm = self._sm(req)
        body = req.json()
        cause = body.get("cause") if isinstance(body, dict) else None
        if not isinstance(cause, str) or not isinstance(body.get("n1n2MsgDataUri"), str):
            raise HttpError(400, "MANDATORY_IE_MISSING", "cause and n1n2MsgDataUri are required")
        self.ctx.count("n1n2_transfer_failures")
        log.info("event=n1n2_transfer_failure psi=%d cause=%s", sm.psi, cause)
        return Response(204)

    # --- info and operator actions --------------------------------------------------------------

    def pdu_info(self, req: Request) -> Response:
        return json_response({
            "sessions": [sm.summary() for sm in self.ctx.by_ref.values()],
            "upfs": [{"address": p.address, "associated": p.associated, "recoveryTimeStamp": p.recovery_ts,
                      "restarts": p.restarts} for p in self.peers],
            "counters": dict(self.ctx.stats), "n4": dict(self.n4.stats),
            "persist": self.persist_info() if self.persist_info is not None else None,
        })

    async def set_ambr(self, req: Request) -> Response:
        """Operator action: a new Session-AMBR (network-requested modification)."""
        sm = self._sm(req)
        body = req.json()
        try:
            ul, dl = gsm.parse_bitrate(body["uplink"]), gsm.parse_bitrate(body["downlink"])
        except (KeyError, TypeError, ValueError):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "uplink and downlink bit rates required") from None
        try:
            await self.modify_ambr(sm, ul, dl)
        except (PfcpFailure, SbiCallFailed) as exc:
            raise HttpError(500, "SYSTEM_FAILURE", str(exc)) from None
        return Response(204)

    async def network_release(self, req: Request) -> Response:
        """Operator action: network-requested PDU session release (cause #36)."""
        sm = self._sm(req)
        await self.release_by_network(sm, gsm.CAUSE_REGULAR_DEACTIVATION)
        return Response(204)


def target_downlink(ie: str, n2: bytes, flows: str) -> tuple[str, int, set[int]]:
    """The target gNB's downlink N3 F-TEID and the QFIs it accepted, from its Path Switch
    Request Transfer (TS 38.413 §9.3.4.8, ``flows`` qosFlowAcceptedList) or Handover Request
    Acknowledge Transfer (§9.3.4.11, qosFlowSetupResponseList); a transfer that does not decode,
    or names no IPv4 tunnel, is the AMF's 400 INVALID_MSG_FORMAT."""
    try:
        tr = ngap.decode_ie(ie, n2)
        ip, teid = ngap.gtp_tunnel_from(tr["dL-NGU-UP-TNLInformation"])
        ipaddress.IPv4Address(ip)
        accepted = {f["qosFlowIdentifier"] for f in tr[flows]}
    except (DecodeError, KeyError, TypeError, ValueError) as exc:
        raise HttpError(400, "INVALID_MSG_FORMAT", f"bad {ie}: {exc}") from None
    return ip, teid, accepted


def path_switch_ack_transfer(ul_ip: str, ul_teid: int) -> bytes:
    """TS 38.413 §9.3.4.9 Path Switch Request Acknowledge Transfer: the UPF's uplink N3
    F-TEID (unchanged without UPF re-allocation, TS 23.502 §4.9.1.2.2)."""
    return ngap.encode_ie("PathSwitchRequestAcknowledgeTransfer", {
        "uL-NGU-UP-TNLInformation": ngap.gtp_tunnel(ul_ip, ul_teid)})


def path_switch_unsuccessful_transfer(group: str, value: str) -> bytes:
    """TS 38.413 §9.3.4.10 Path Switch Request Unsuccessful Transfer (a Cause)."""
    return ngap.encode_ie("PathSwitchRequestUnsuccessfulTransfer", {"cause": ngap.cause(group, value)})


def _type_name(t: int) -> str:
    return {1: "IPV4", 2: "IPV6", 3: "IPV4V6", 4: "UNSTRUCTURED", 5: "ETHERNET"}.get(t, "IPV4")
