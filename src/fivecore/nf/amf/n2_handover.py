"""N2-based inter-gNB handover on the AMF, without AMF change and without UPF re-allocation.

TS 23.502 §4.9.1.3.2 (preparation), §4.9.1.3.3 (execution), §4.9.1.3.4 (cancel); TS 38.413
§8.4.1 (Handover Preparation), §8.4.2 (Handover Resource Allocation), §8.4.3 (Handover
Notification), §8.4.5 (Handover Cancel); TS 33.501 §6.9.2.3.3 ({NH, NCC} to the target).

1. **HANDOVER REQUIRED** from the source gNB. Every gNB is untrusted (ARCHITECTURE.md):

   - the AMF UE NGAP ID / RAN UE NGAP ID pair must be the UE's connection *on the sending
     gNB* (a gNB cannot move a UE it does not serve): else HANDOVER PREPARATION FAILURE,
     cause unknown-local-UE-NGAP-ID, logged and audited;
   - Handover Type intra5gs only; the Target ID names a gNB connected to this AMF by its
     Global gNB ID (else cause unknown-targetID);
   - the target must pass the Path Switch's admission rules
     (:meth:`fivecore.nf.amf.handover.AmfHandover.check`, applied to the target and the
     Selected TAI): a TAI in the UE's registration area that the target declared, the
     restricted trust profile of the target (forbid_nea0, max_ues), the trust policy's
     handover rules; a Path Switch or another N2 handover for the UE is running: refused
     (cause interaction-with-other-procedure). The N2 handover marks the UE busy in the
     Path Switch's set too, so the reverse holds.

2. **Preparation** (asynchronous, bounded by ``amf.handover.n2_prep_timeout``, the
   TNGRELOCprep timer of TS 38.413 §8.4.1.2): each PDU session of the list goes to its SMF (UpdateSMContext hoState
   PREPARING, HANDOVER_REQUIRED, targetId); the SMF's PDU Session Resource Setup Request
   Transfers go to the target in HANDOVER REQUEST with the AMF UE NGAP ID the UE already has
   (one AMF, one UE context: the target's connection gets the same ID, §8.4.2.2 lets the
   AMF choose it), the UE's security capabilities, and the Security Context: NCC+1 and
   NH = KDF(KAMF, previous NH or initial KgNB) (Annex A.10). The AMF stores the new pair at
   once (TS 33.501 §6.9.2.3.3: a pair once sent is never sent again, even if the handover is
   cancelled). HANDOVER REQUEST ACKNOWLEDGE: each admitted session's transfer goes to its SMF
   (hoState PREPARED, HANDOVER_REQ_ACK), the SMF's Handover Command Transfers go to the source
   in HANDOVER COMMAND, with the sessions not admitted in the release list.

3. **Execution.** The UE keeps its source connection until HANDOVER NOTIFY from the target
   (with the IDs of the target's connection); then the UE's NG connection moves to the target,
   each SMF gets hoState COMPLETED (the UPF's downlink moves, End Markers to the source), and
   the source gets UE CONTEXT RELEASE COMMAND (cause successful-handover). Its Release
   Complete is taken here (the UE is no longer the source's).

4. **Failures.** Unknown target, target refused, HANDOVER FAILURE from the target, SMFs
   refusing every session, timer expiry: HANDOVER PREPARATION FAILURE to the source with the
   cause, SMFs hoState CANCELLED, and the target's connection released (UE Context Release
   Command) if it had acknowledged. HANDOVER CANCEL from the source: CANCEL ACKNOWLEDGE and
   the same clean-up. No HANDOVER NOTIFY within ``amf.handover.n2_overall_timeout`` after the
   command (the AMF's side of TNGRELOCoverall) or the loss of either gNB's association: the same clean-up
   (the UE stays with the source, or goes CM-IDLE with its association). A target gNB
   answering for a UE it was not asked to take is refused with an Error Indication, logged
   and audited.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fivecore.nf.amf.context import GnbContext, UeContext
from fivecore.nf.amf.handover import audit_gnb, next_nh
from fivecore.nf.amf.ngap_handler import AmfNgap, NgapSend
from fivecore.nf.common.client import NoProducer
from fivecore.transport.http2 import TransportError
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap import NgapPdu
from fivecore.wire.sbi import multipart

log = logging.getLogger("fivecore.amf.n2_handover")

#: trust audit events written by this module
EVENT_N2_HANDOVER_REFUSED = "n2-handover-refused"

_UNKNOWN_UE = ("radioNetwork", "unknown-local-UE-NGAP-ID")
_UNKNOWN_TARGET = ("radioNetwork", "unknown-targetID")
_BUSY = ("radioNetwork", "interaction-with-other-procedure")
_TARGET_FAILED = ("radioNetwork", "ho-failure-in-target-5GC-ngran-node-or-target-system")
_EXPIRED = ("radioNetwork", "tngrelocprep-expiry")
_NOT_SUPPORTED = ("radioNetwork", "unspecified")


class _Refused(Exception):
    """The preparation ends with HANDOVER PREPARATION FAILURE for this cause."""

    def __init__(self, cause: tuple[str, str], why: str) -> None:
        super().__init__(why)
        self.cause = cause


@dataclass(eq=False)
class Prep:
    """One N2 handover of one UE, from HANDOVER REQUIRED to NOTIFY or its end."""

    ue: UeContext
    source: GnbContext
    source_ran: int
    target: GnbContext
    target_tai: tuple[str, int]
    #: "preparing" (SMFs / target asked), "commanded" (HANDOVER COMMAND sent)
    state: str = "preparing"
    target_ran: int | None = None
    #: PSIs whose SMF accepted PREPARING (they get CANCELLED if the handover ends)
    smf_psis: list[int] = field(default_factory=list)
    answer: asyncio.Future[NgapPdu] | None = None
    task: asyncio.Task[Any] | None = None
    overall: asyncio.TimerHandle | None = None


class AmfN2Handover:
    """N2 handover on one AMF (see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ngap: AmfNgap = app.ngap
        self.ctx = app.gmm.ctx
        self.sessions = app.sessions
        self.xn = app.handover  # the Path Switch: its admission check and busy set
        ho = app.config.amf.handover
        self.prep_timeout: float = ho.n2_prep_timeout
        self.overall_timeout: float = ho.n2_overall_timeout
        #: AMF UE NGAP ID -> its running N2 handover
        self.preps: dict[int, Prep] = {}
        #: (gNB association, AMF UE NGAP ID, RAN UE NGAP ID) of connections this module released
        self.releasing: set[tuple[int, int, int]] = set()
        self._bg: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        t = asyncio.ensure_future(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)
        return t

    async def settle(self) -> None:
        """Wait until every background step of a handover has finished or waits for a gNB's
        answer (tests)."""
        while True:
            waiting = {p.task for p in self.preps.values() if p.answer is not None and not p.answer.done()}
            busy = [t for t in self._bg if t not in waiting]
            if not busy:
                return
            await asyncio.wait(busy, timeout=0.005)

    # --- PDUs ----------------------------------------------------------------------------------

    def _send(self, gnb: GnbContext, ran_id: int, pdu: NgapPdu) -> NgapSend:
        return NgapSend(gnb, AmfNgap.stream_of(gnb, ran_id), ngap.encode(pdu))

    def preparation_failure(self, gnb: GnbContext, amf_id: int, ran_id: int, cause: tuple[str, str]) -> NgapSend:
        """TS 38.413 §9.2.3.3 HANDOVER PREPARATION FAILURE."""
        self.ctx.count("n2_handover_preparation_failure")
        return self._send(gnb, ran_id, NgapPdu("HandoverPreparation", "unsuccessful", {
            "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id, "Cause": ngap.cause(*cause)}))

    def release(self, gnb: GnbContext, amf_id: int, ran_id: int, cause: tuple[str, str]) -> NgapSend:
        """TS 38.413 §8.3.3 UE CONTEXT RELEASE COMMAND for a connection the UE is not (or no
        longer) using; its Release Complete is taken by :meth:`on_release_complete`."""
        self.releasing.add((gnb.assoc_id, amf_id, ran_id))
        self.ctx.count("n2_handover_release_command")
        return self._send(gnb, ran_id, NgapPdu("UEContextRelease", "initiating", {
            "UE-NGAP-IDs": ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": amf_id, "rAN-UE-NGAP-ID": ran_id}),
            "Cause": ngap.cause(*cause)}))

    # --- HANDOVER REQUIRED (TS 38.413 §8.4.1.2) ------------------------------------------------

    def find_target(self, target_id: Any) -> tuple[GnbContext | None, tuple[str, int] | None]:
        """The connected gNB a Target ID names (TS 38.413 §9.3.1.25), and its Selected TAI."""
        try:
            alt, v = target_id
            if alt != "targetRANNodeID":
                return None, None
            gid = ngap.global_gnb_id_from(v["globalRANNodeID"])
            tai = ngap.tai_from(v["selectedTAI"])
        except (KeyError, TypeError, ValueError):
            return None, None
        for g in self.ctx.gnbs.values():
            if g.global_ran_node_id == gid:
                return g, tai
        return None, tai

    def on_handover_required(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.4.1.2 / TS 23.502 §4.9.1.3.2 step 1: the checks of the module
        docstring, step 1, then the preparation in the background."""
        self.ctx.count("n2_handover_required")
        amf_id, ran_id = pdu["AMF-UE-NGAP-ID"], pdu["RAN-UE-NGAP-ID"]
        ue = self.ctx.ues.get(amf_id)
        if ue is None or ue.gnb is not gnb or ue.ran_ue_ngap_id != ran_id or ue.releasing:
            return self._refuse(gnb, None if ue is None or ue.gnb is not gnb else ue, amf_id, ran_id,
                                _UNKNOWN_UE, "the UE has no NG connection with these IDs on this gNB")
        if pdu["HandoverType"] != "intra5gs":
            return self._refuse(gnb, ue, amf_id, ran_id, _NOT_SUPPORTED, f"handover type {pdu['HandoverType']}")
        if amf_id in self.preps:
            return self._refuse(gnb, ue, amf_id, ran_id, _BUSY, "an N2 handover for this UE is running")
        target, tai = self.find_target(pdu["TargetID"])
        if target is None or tai is None:
            return self._refuse(gnb, ue, amf_id, ran_id, _UNKNOWN_TARGET, "no connected gNB has that Global gNB ID")
        # the Path Switch's admission rules, applied to the target and the TAI it will serve
        probe = {"SourceAMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": -1,
                 "UserLocationInformation": ngap.user_location_nr(tai[0], tai[1], 0)}
        _, cause, why = self.xn.check(target, probe)  # type: ignore[arg-type]
        if cause is not None:
            return self._refuse(gnb, ue, amf_id, ran_id, cause, f"target {target.peer}: {why}", target)
        items = list(pdu["PDUSessionResourceListHORqd"])
        prep = Prep(ue, gnb, ran_id, target, tai)
        self.preps[amf_id] = prep
        self.xn.busy.add(amf_id)
        prep.task = self._spawn(self._prepare(prep, items, pdu["SourceToTarget-TransparentContainer"],
                                              pdu["Cause"]))
        return []

    def _refuse(self, gnb: GnbContext, ue: UeContext | None, amf_id: int, ran_id: int,
                cause: tuple[str, str], why: str, target: GnbContext | None = None) -> list[Any]:
        self.ctx.count("n2_handover_refused")
        log.warning("event=n2_handover_refused gnb=%s target=%s amf_ue_ngap_id=%s cause=%s/%s why=%s",
                    gnb.peer, target.peer if target is not None else "-", amf_id, *cause, why)
        self._audit(gnb, ue, why, target)
        return [self.preparation_failure(gnb, amf_id, ran_id, cause)]

    async def _prepare(self, prep: Prep, items: list[Any], container: bytes, cause: Any) -> None:
        """TS 23.502 §4.9.1.3.2 steps 3-12 (module docstring, step 2)."""
        ue = prep.ue
        amf_id = ue.amf_ue_ngap_id
        try:
            async with asyncio.timeout(self.prep_timeout):
                setup = await self._ask_preparing(prep, items)
                if not setup:
                    raise _Refused(_TARGET_FAILED, "no PDU session can be handed over")
                loop = asyncio.get_running_loop()
                prep.answer = loop.create_future()
                self.app._execute([self._send(prep.target, 0, self.request(prep, setup, container, cause))])
                answer = await prep.answer
                if answer.kind == "unsuccessful":
                    c = answer.get("Cause")
                    raise _Refused(c if isinstance(c, tuple) else _TARGET_FAILED, "the target refused (HANDOVER FAILURE)")
                handed, released = await self._ask_prepared(prep, answer)
                if not handed:
                    raise _Refused(_TARGET_FAILED, "no session admitted by the target and its SMF")
            prep.state = "commanded"
            prep.overall = asyncio.get_running_loop().call_later(self.overall_timeout, self._overall_expired, prep)
            self.app._execute([self._send(prep.source, prep.source_ran, self.command(
                prep, handed, released, answer["TargetToSource-TransparentContainer"]))])
            self.ctx.count("n2_handover_command")
            log.info("event=n2_handover_command source=%s target=%s amf_ue_ngap_id=%d sessions=%d ncc=%d",
                     prep.source.peer, prep.target.peer, amf_id, len(handed), ue.ncc)
        except _Refused as exc:
            await self._fail(prep, exc.cause, str(exc))
        except TimeoutError:
            await self._fail(prep, _EXPIRED, "TNGRELOCprep expired")
        except (DecodeError, EncodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("event=n2_handover_internal_error amf_ue_ngap_id=%d err=%r", amf_id, exc)
            await self._fail(prep, _TARGET_FAILED, f"internal error {exc!r}")

    @staticmethod
    def command(prep: Prep, handed: list[dict[str, Any]], released: list[dict[str, Any]],
                container: bytes) -> NgapPdu:
        """TS 38.413 §9.2.3.2 HANDOVER COMMAND to the source (no data forwarding)."""
        ies: dict[str, Any] = {
            "AMF-UE-NGAP-ID": prep.ue.amf_ue_ngap_id, "RAN-UE-NGAP-ID": prep.source_ran, "HandoverType": "intra5gs",
            "PDUSessionResourceHandoverList": handed, "TargetToSource-TransparentContainer": container}
        if released:
            ies["PDUSessionResourceToReleaseListHOCmd"] = released
        return NgapPdu("HandoverPreparation", "successful", ies)

    async def _fail(self, prep: Prep, cause: tuple[str, str], why: str) -> None:
        """Module docstring, step 4: the source hears the cause, the target and SMFs let go."""
        self._end(prep)
        log.info("event=n2_handover_failed source=%s target=%s amf_ue_ngap_id=%d cause=%s/%s why=%s",
                 prep.source.peer, prep.target.peer, prep.ue.amf_ue_ngap_id, *cause, why)
        out: list[Any] = []
        if prep.ue.gnb is prep.source and prep.ue.ran_ue_ngap_id == prep.source_ran:
            out.append(self.preparation_failure(prep.source, prep.ue.amf_ue_ngap_id, prep.source_ran, cause))
        self.app._execute(out)
        await self._cancel_resources(prep, ("radioNetwork", "handover-cancelled"))

    def _overall_expired(self, prep: Prep) -> None:
        """No HANDOVER NOTIFY in time: the UE stayed with the source (or lost its radio link,
        which the source reports by its own release request); the target and SMFs let go."""
        if self.preps.get(prep.ue.amf_ue_ngap_id) is not prep:
            return
        self._end(prep)
        self.ctx.count("n2_handover_overall_expiry")
        log.info("event=n2_handover_overall_expiry source=%s target=%s amf_ue_ngap_id=%d",
                 prep.source.peer, prep.target.peer, prep.ue.amf_ue_ngap_id)
        self._spawn(self._cancel_resources(prep, ("radioNetwork", "tngrelocoverall-expiry")))

    def _end(self, prep: Prep) -> None:
        if prep.overall is not None:
            prep.overall.cancel()
            prep.overall = None
        amf_id = prep.ue.amf_ue_ngap_id
        if self.preps.get(amf_id) is prep:
            del self.preps[amf_id]
            self.xn.busy.discard(amf_id)

    async def _cancel_resources(self, prep: Prep, cause: tuple[str, str]) -> None:
        if prep.target_ran is not None:
            self.app._execute([self.release(prep.target, prep.ue.amf_ue_ngap_id, prep.target_ran, cause)])
        sessions = self.sessions.sessions_of(prep.ue)
        for psi in prep.smf_psis:
            sess = sessions.get(psi)
            if sess is not None and sess.sm_ref is not None:
                await self._update(sess, {"hoState": "CANCELLED"})
        prep.smf_psis = []

    # --- SMFs ----------------------------------------------------------------------------------

    async def _update(self, sess: Any, data: dict[str, Any], n2: bytes | None = None
                      ) -> tuple[Any, bytes | None, int]:
        """One UpdateSMContext (TS 29.502 §5.2.2.3.4): (body, N2 part, HTTP status); status 0
        when the SMF could not be reached."""
        s = self.sessions
        binaries: dict[str, tuple[str, bytes]] = {}
        if n2 is not None:
            data = dict(data, n2SmInfo={"contentId": "n2msg"})
            binaries["n2msg"] = (multipart.NGAP, n2)
        try:
            resp = await s._sbi(sess.smf_uri, f"/nsmf-pdusession/v1/sm-contexts/{sess.sm_ref}/modify",
                                data, binaries)
            body, parts = s._parts(resp)
        except (TransportError, NoProducer, DecodeError) as exc:
            log.info("event=n2_handover_smf_failed psi=%d err=%s", sess.psi, exc)
            return None, None, 0
        s.count("n2_handover_" + str(data.get("hoState", "")).lower())
        n2_out = multipart.ref(body, "n2SmInfo", parts) if isinstance(body, dict) else None
        return body, n2_out, resp.status

    def _target_id(self, prep: Prep) -> dict[str, Any]:
        """TS 29.518 NgRanTargetId of the target."""
        plmn, gnb_id, bits = prep.target.global_ran_node_id or (self.ngap.cfg.plmn, 0, 22)
        tai_plmn, tac = prep.target_tai

        def plmn_id(p: str) -> dict[str, str]:
            return {"mcc": p[:3], "mnc": p[3:]}

        return {"ranNodeId": {"plmnId": plmn_id(plmn),
                              "gNbId": {"bitLength": bits, "gNBValue": f"{gnb_id:0{(bits + 3) // 4}x}"}},
                "tai": {"plmnId": plmn_id(tai_plmn), "tac": f"{tac:06x}"}}

    async def _ask_preparing(self, prep: Prep, items: list[Any]) -> list[dict[str, Any]]:
        """Steps 3-4: each session's SMF gives its PDU Session Resource Setup Request Transfer."""
        sessions = self.sessions.sessions_of(prep.ue)
        target_id = self._target_id(prep)
        setup: list[dict[str, Any]] = []
        for item in items:
            psi = item["pDUSessionID"]
            sess = sessions.get(psi)
            if sess is None or sess.sm_ref is None or psi in prep.smf_psis:
                continue
            body, n2, status = await self._update(sess, {
                "hoState": "PREPARING", "n2SmInfoType": "HANDOVER_REQUIRED", "targetId": target_id},
                item["handoverRequiredTransfer"])
            if status == 200 and isinstance(body, dict) and n2 is not None:
                prep.smf_psis.append(psi)
                sst, sd = int(sess.snssai.get("sst", 1)), sess.snssai.get("sd")
                setup.append({"pDUSessionID": psi, "s-NSSAI": ngap.s_nssai(sst, int(sd, 16) if sd else None),
                              "handoverRequestTransfer": n2})
        return setup

    async def _ask_prepared(self, prep: Prep, ack: NgapPdu) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Steps 9-11: admitted sessions' transfers to their SMFs, their Command Transfers back."""
        sessions = self.sessions.sessions_of(prep.ue)
        handed: list[dict[str, Any]] = []
        released: list[dict[str, Any]] = []

        def release(psi: int, n2: bytes | None) -> None:
            released.append({"pDUSessionID": psi, "handoverPreparationUnsuccessfulTransfer": n2 or ngap.encode_ie(
                "HandoverPreparationUnsuccessfulTransfer", {"cause": ngap.cause(*_TARGET_FAILED)})})

        done: set[int] = set()
        for item in ack["PDUSessionResourceAdmittedList"]:
            psi = item["pDUSessionID"]
            sess = sessions.get(psi)
            if sess is None or psi not in prep.smf_psis or psi in done:
                continue  # a session the target was not asked to take
            done.add(psi)
            body, n2, status = await self._update(sess, {"hoState": "PREPARED", "n2SmInfoType": "HANDOVER_REQ_ACK"},
                                                  item["handoverRequestAcknowledgeTransfer"])
            kind = body.get("n2SmInfoType") if isinstance(body, dict) else None
            if status == 200 and kind == "HANDOVER_CMD" and n2 is not None:
                handed.append({"pDUSessionID": psi, "handoverCommandTransfer": n2})
            else:
                release(psi, n2 if kind == "HANDOVER_PREP_FAIL" else None)
        for item in ack.get("PDUSessionResourceFailedToSetupListHOAck") or []:
            psi = item["pDUSessionID"]
            sess = sessions.get(psi)
            if sess is None or psi not in prep.smf_psis or psi in done:
                continue
            done.add(psi)
            await self._update(sess, {"hoState": "CANCELLED", "n2SmInfoType": "HANDOVER_RES_ALLOC_FAIL"},
                               item["handoverResourceAllocationUnsuccessfulTransfer"])
            release(psi, None)
        # sessions the target neither admitted nor refused: released too
        for psi in prep.smf_psis:
            if psi not in done:
                sess = sessions.get(psi)
                if sess is not None:
                    await self._update(sess, {"hoState": "CANCELLED"})
                release(psi, None)
        prep.smf_psis = [h["pDUSessionID"] for h in handed]
        return handed, released

    def request(self, prep: Prep, setup: list[dict[str, Any]], container: bytes, cause: Any) -> NgapPdu:
        """TS 38.413 §9.2.3.4 HANDOVER REQUEST with the fresh {NH, NCC} (TS 33.501 §6.9.2.3.3)."""
        ue = prep.ue
        if ue.kamf is None or ue.nh is None:
            raise ValueError("no AS security context")
        ue.nh, ue.ncc = next_nh(ue.kamf, ue.nh, ue.ncc)
        self.app.gmm._observe("kgnb", ue)  # key material (NH) goes to the target's vendor
        cfg = self.ngap.cfg
        allowed = tuple(ue.allowed_nssai or cfg.slices)
        # TS 38.413 §9.2.3.4: mandatory; the UE's subscribed UE-AMBR when known, else the
        # largest value (no AMF-side limit configured)
        ul, dl = ue.ue_ambr if ue.ue_ambr is not None else (4000000000000, 4000000000000)
        return NgapPdu("HandoverResourceAllocation", "initiating", {
            "AMF-UE-NGAP-ID": ue.amf_ue_ngap_id,
            "HandoverType": "intra5gs",
            "Cause": cause if isinstance(cause, tuple) else ngap.cause("radioNetwork", "handover-desirable-for-radio-reason"),
            "UEAggregateMaximumBitRate": {"uEAggregateMaximumBitRateDL": dl, "uEAggregateMaximumBitRateUL": ul},
            "UESecurityCapabilities": AmfNgap._ue_security_capabilities(ue),
            "SecurityContext": {"nextHopChainingCount": ue.ncc, "nextHopNH": ngap.security_key(ue.nh)},
            "PDUSessionResourceSetupListHOReq": setup,
            "AllowedNSSAI": [{"s-NSSAI": ngap.s_nssai(sst, sd)} for sst, sd in allowed],
            "SourceToTarget-TransparentContainer": container,
            "GUAMI": ngap.guami(cfg.plmn, cfg.region_id, cfg.set_id, cfg.pointer),
        })

    # --- the target's answers (TS 38.413 §8.4.2) -----------------------------------------------

    def _prep_for_target(self, gnb: GnbContext, pdu: NgapPdu, what: str) -> Prep | None:
        amf_id = pdu.get("AMF-UE-NGAP-ID")
        prep = self.preps.get(amf_id) if isinstance(amf_id, int) else None
        if (prep is None or prep.target is not gnb or prep.answer is None or prep.answer.done()):
            self.ctx.count("n2_handover_unexpected_" + what)
            ue = prep.ue if prep is not None else None
            log.warning("event=n2_handover_unexpected gnb=%s proc=%s amf_ue_ngap_id=%s", gnb.peer, what, amf_id)
            self._audit(gnb, ue, f"{what} for a UE this gNB was not asked to take", None)
            return None
        return prep

    def on_request_acknowledge(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """HANDOVER REQUEST ACKNOWLEDGE (TS 38.413 §8.4.2.2)."""
        prep = self._prep_for_target(gnb, pdu, "acknowledge")
        if prep is None:
            return [self.ngap._error_indication_pdu(gnb, pdu.get("AMF-UE-NGAP-ID"), pdu.get("RAN-UE-NGAP-ID"),
                                                    _UNKNOWN_UE)]
        prep.target_ran = pdu["RAN-UE-NGAP-ID"]
        assert prep.answer is not None
        prep.answer.set_result(pdu)
        return []

    def on_request_failure(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """HANDOVER FAILURE (TS 38.413 §8.4.2.3)."""
        prep = self._prep_for_target(gnb, pdu, "failure")
        if prep is None:
            return [self.ngap._error_indication_pdu(gnb, pdu.get("AMF-UE-NGAP-ID"), None, _UNKNOWN_UE)]
        assert prep.answer is not None
        prep.answer.set_result(pdu)
        return []

    # --- execution (TS 38.413 §8.4.3) ------------------------------------------------------------

    def on_notify(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """HANDOVER NOTIFY: the UE arrived at the target (module docstring, step 3)."""
        amf_id, ran_id = pdu["AMF-UE-NGAP-ID"], pdu["RAN-UE-NGAP-ID"]
        prep = self.preps.get(amf_id)
        if prep is None or prep.state != "commanded" or prep.target is not gnb or prep.target_ran != ran_id:
            self.ctx.count("n2_handover_unexpected_notify")
            log.warning("event=n2_handover_unexpected gnb=%s proc=notify amf_ue_ngap_id=%s", gnb.peer, amf_id)
            self._audit(gnb, prep.ue if prep is not None else None, "HANDOVER NOTIFY for no handover to this gNB", None)
            return [self.ngap._error_indication_pdu(gnb, amf_id, ran_id, _UNKNOWN_UE)]
        self._end(prep)
        ue = prep.ue
        out: list[Any] = []
        if ue.gnb is prep.source and ue.ran_ue_ngap_id == prep.source_ran:
            out.append(self.release(prep.source, amf_id, prep.source_ran, ("radioNetwork", "successful-handover")))
        self.ctx.attach_ran(ue, gnb, ran_id)
        ue.kgnb_sent = True  # the AS context continues on the target with the NH sent
        try:
            ue.tac = ngap.user_location_from(pdu["UserLocationInformation"])["tac"]
        except (KeyError, TypeError, ValueError):
            pass
        self.ctx.touch(ue)
        self.ctx.count("n2_handover_complete")
        log.info("event=n2_handover_complete source=%s target=%s amf_ue_ngap_id=%d",
                 prep.source.peer, gnb.peer, amf_id)
        self._spawn(self._complete(prep))
        return out

    async def _complete(self, prep: Prep) -> None:
        sessions = self.sessions.sessions_of(prep.ue)
        for psi in prep.smf_psis:
            sess = sessions.get(psi)
            if sess is None:
                continue
            _, _, status = await self._update(sess, {"hoState": "COMPLETED"})
            sess.up_active = status == 200 or sess.up_active

    # --- HANDOVER CANCEL (TS 38.413 §8.4.5) ------------------------------------------------------

    def on_cancel(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """HANDOVER CANCEL from the source: acknowledge, release what was prepared."""
        amf_id, ran_id = pdu["AMF-UE-NGAP-ID"], pdu["RAN-UE-NGAP-ID"]
        prep = self.preps.get(amf_id)
        if prep is None or prep.source is not gnb or prep.source_ran != ran_id:
            ue = self.ctx.ues.get(amf_id)
            if ue is None or ue.gnb is not gnb or ue.ran_ue_ngap_id != ran_id:
                return [self.ngap._error_indication_pdu(gnb, amf_id, ran_id, _UNKNOWN_UE)]
            # §8.4.5.2: nothing prepared (any more): acknowledged all the same
            return [self.cancel_ack(gnb, amf_id, ran_id)]
        self._end(prep)
        if prep.task is not None and not prep.task.done():
            prep.task.cancel()
        self.ctx.count("n2_handover_cancel")
        log.info("event=n2_handover_cancelled source=%s target=%s amf_ue_ngap_id=%d",
                 gnb.peer, prep.target.peer, amf_id)
        self._spawn(self._cancel_resources(prep, ("radioNetwork", "handover-cancelled")))
        return [self.cancel_ack(gnb, amf_id, ran_id)]

    def cancel_ack(self, gnb: GnbContext, amf_id: int, ran_id: int) -> NgapSend:
        return self._send(gnb, ran_id, NgapPdu("HandoverCancel", "successful",
                                               {"AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id}))

    # --- Release Complete of the connections released here ----------------------------------

    def on_release_complete(self, gnb: GnbContext, pdu: NgapPdu, default: Any) -> list[Any]:
        amf_id, ran_id = pdu.get("AMF-UE-NGAP-ID"), pdu.get("RAN-UE-NGAP-ID")
        key = (gnb.assoc_id, amf_id, ran_id)
        if key in self.releasing:
            self.releasing.discard(key)
            self.ctx.count("n2_handover_release_complete")
            return []
        return list(default(gnb, pdu))

    def on_association_lost(self, gnb: GnbContext) -> None:
        """A gNB of a running handover went away: the handover ends (the source's UE goes with
        its association; a lost target fails the preparation)."""
        self.releasing = {k for k in self.releasing if k[0] != gnb.assoc_id}
        for prep in list(self.preps.values()):
            if prep.target is gnb or prep.source is gnb:
                if prep.task is not None and not prep.task.done():
                    prep.task.cancel()
                prep.target_ran = None if prep.target is gnb else prep.target_ran
                self._end(prep)
                self._spawn(self._cancel_resources(prep, ("radioNetwork", "handover-cancelled")))

    # --- trust audit ---------------------------------------------------------------------------

    def _audit(self, gnb: GnbContext, ue: UeContext | None, reason: str, target: GnbContext | None) -> None:
        audit_gnb(self.app, EVENT_N2_HANDOVER_REFUSED, gnb, ue, reason, target=target)

def attach(app: Any) -> AmfN2Handover:
    """Plug N2 handover into an AmfApp (after :func:`fivecore.nf.amf.handover.attach`)."""
    h = AmfN2Handover(app)
    handlers = app.ngap._handlers
    handlers[("HandoverPreparation", "initiating")] = h.on_handover_required
    handlers[("HandoverResourceAllocation", "successful")] = h.on_request_acknowledge
    handlers[("HandoverResourceAllocation", "unsuccessful")] = h.on_request_failure
    handlers[("HandoverNotification", "initiating")] = h.on_notify
    handlers[("HandoverCancel", "initiating")] = h.on_cancel
    default = handlers[("UEContextRelease", "successful")]
    handlers[("UEContextRelease", "successful")] = lambda g, p: h.on_release_complete(g, p, default)
    lost = app.ngap.association_lost

    def association_lost(gnb: GnbContext) -> list[Any]:
        h.on_association_lost(gnb)
        return lost(gnb)

    app.ngap.association_lost = association_lost
    app.n2_handover = h
    return h


__all__ = ["EVENT_N2_HANDOVER_REFUSED", "AmfN2Handover", "Prep", "attach"]
