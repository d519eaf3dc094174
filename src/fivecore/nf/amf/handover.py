"""Xn-based inter-gNB handover on the AMF: the Path Switch Request procedure.

TS 23.502 §4.9.1.2.2 (Xn based inter NG-RAN handover without UPF re-allocation), TS 38.413
§8.4.4 (Path Switch Request), TS 33.501 §6.9.2.1.1 / §6.9.2.3.3 (NH / NCC key chaining).
The source and target gNBs run the handover over Xn; the AMF hears of it only when the
target sends PATH SWITCH REQUEST naming the UE by the *source* AMF UE NGAP ID:

1. **Checks (synchronous).** Every gNB is untrusted (ARCHITECTURE.md), and a Path Switch
   lets one gNB claim another gNB's UE -- and with it the UE's downlink user plane, which
   crosses N3 in clear. The request is refused with PATH SWITCH REQUEST FAILURE (and a log
   line, and a record in the trust audit log when a trust policy is configured) when:

   - no UE has that AMF UE NGAP ID, it has no NG connection (CM-IDLE), its connection is
     being released, it has no AS security context, or a path switch for it is already
     running (TS 38.413 §8.4.4.3; cause "unknown local UE NGAP ID" for an unknown UE);
   - the UE is already served by the requesting gNB (an intra-gNB move needs no path switch);
   - the target's User Location Information names a TAI outside the UE's registration area
     (the TAI list of its Registration Accept: the AMF's PLMN and TACs) or one the target did
     not declare in its own NG Setup / RAN Configuration Update (a gNB lying about where it
     is);
   - the trust policy's restricted profile of the target gNB (``fivecore.trust``, applied
     at NG Setup) forbids the UE there: ``forbid_nea0`` while the UE's NAS is unciphered
     (the same rule the AMF applies at registration through that gNB), or the profile's
     ``max_ues`` cap (and ``amf.max_ues_per_gnb``) is reached.

   UE Security Capabilities that differ from the stored ones do not stop the move
   (TS 38.413 §8.4.4.2, TS 33.501 §6.7.3.1): the AMF logs and audits it and sends the
   stored capabilities in the Acknowledge, so the target uses the ones the UE really has.

2. **The move.** The UE's NG connection moves to the target at once (same AMF UE NGAP ID,
   the target's RAN UE NGAP ID); the source is sent nothing, the target releases it over Xn.

3. **SMFs (asynchronous).** Each PDU Session Resource To Be Switched goes to its SMF with
   Nsmf_PDUSession_UpdateSMContext, n2SmInfoType PATH_SWITCH_REQ (TS 29.502 §5.2.2.3.x); each
   failed-to-setup one with PATH_SWITCH_SETUP_FAIL. The Acknowledge lists the switched
   sessions with their Path Switch Request Acknowledge Transfers and, as released, those the
   SMF refused; it carries the Security Context: NCC incremented and NH = KDF(KAMF, SYNC-input)
   (Annex A.10) chained from the initial KgNB (NCC 1) and then from the previous NH. No
   session switched: PATH SWITCH REQUEST FAILURE, and the UE goes CM-IDLE.

4. **Hostile gNBs** (every gNB is untrusted). AMF UE NGAP IDs are drawn at random from the
   40-bit space (``AmfContext.next_amf_ue_ngap_id``), so a gNB cannot guess its neighbours'
   UEs from its own. The trust policy's ``handover.refuse`` rules
   (:meth:`fivecore.trust.policy.TrustPolicy.handover_refusal`) refuse moves between named
   vendors or risk classes (cause ho-target-not-allowed, logged and audited as the other
   refusals). After a move the source gNB releases the UE locally and sends nothing more for
   it; a UE-associated message from it naming the UE's AMF UE NGAP ID within
   ``amf.handover.hijack_window`` seconds means the UE may never have moved: another gNB may
   have claimed it. The AMF logs, counts and audits that (``path-switch-suspected-hijack``)
   and, with ``amf.handover.on_suspected_hijack: release``, sends UE Context Release Command
   to the claiming gNB and holds the UE CM-IDLE (its sessions' user plane deactivated, so the
   downlink stops flowing to the claimant). That is safe whichever gNB lied: the real UE's
   next Service Request is integrity-protected with NAS keys no gNB holds, so it restores the
   connection through whatever gNB really serves the UE, and a lying *old* gNB gains nothing
   it could not do by dropping the UE (one extra Service Request).

5. **Vendor change.** When the target's restricted profile has
   ``refresh_keys_on_vendor_change`` and the source gNB is another vendor's, the target's
   KgNB* came from the source (horizontal derivation, TS 33.501 §6.9.2.3.2), so the source's
   vendor knows it: a UE Context Modification with a fresh KgNB from KAMF follows the
   Acknowledge (AS key change, TS 33.501 §6.9.4).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, NamedTuple

from fivecore.nf.amf.context import GmmState, GnbContext, UeContext
from fivecore.nf.amf.ngap_handler import AmfNgap, NgapSend
from fivecore.nf.common.client import NoProducer
from fivecore.security import kdf
from fivecore.transport.http2 import TransportError
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap import NgapPdu
from fivecore.wire.sbi import multipart

log = logging.getLogger("fivecore.amf.handover")

#: trust audit events written by this module
EVENT_PATH_SWITCH_REFUSED = "path-switch-refused"
EVENT_PATH_SWITCH_CAPABILITIES = "path-switch-capabilities-mismatch"
EVENT_PATH_SWITCH_HIJACK = "path-switch-suspected-hijack"

#: recent path switches remembered for hijack detection, at most (oldest forgotten first)
RECENT_SWITCHES_MAX = 65536

_UNKNOWN_UE = ("radioNetwork", "unknown-local-UE-NGAP-ID")
_NOT_ALLOWED = ("radioNetwork", "ho-target-not-allowed")
_BUSY = ("radioNetwork", "interaction-with-other-procedure")
_NO_CONTEXT = ("protocol", "message-not-compatible-with-receiver-state")


def next_nh(kamf: bytes, sync_input: bytes, ncc: int) -> tuple[bytes, int]:
    """TS 33.501 §6.9.2.3.3 / Annex A.10: the fresh {NH, NCC} pair for a path switch.

    ``sync_input`` is the initial KgNB while ``ncc`` is 0 (the first path switch sends NCC 1),
    then the previous NH; NCC is 3 bits and wraps (TS 38.413 §9.3.1.29)."""
    return kdf.nh(kamf, sync_input), (ncc + 1) & 7


class _Switch(NamedTuple):
    """A UE's move by Path Switch, kept ``hijack_window`` seconds (module docstring, step 4)."""

    until: float
    source: GnbContext
    source_ran_id: int | None
    target: GnbContext


class AmfHandover:
    """PATH SWITCH REQUEST on one AMF (see the module docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ngap: AmfNgap = app.ngap
        self.gmm = app.gmm
        self.ctx = app.gmm.ctx
        self.sessions = app.sessions
        #: AMF UE NGAP IDs whose path switch waits for its SMFs
        self.busy: set[int] = set()
        self._bg: set[asyncio.Task[Any]] = set()
        ho = app.config.amf.handover
        self.hijack_window: float = ho.hijack_window
        self.on_suspected_hijack: str = ho.on_suspected_hijack
        #: AMF UE NGAP ID -> its last path switch, in time order (no timer per UE: pruned
        #: from the front whenever one is added or looked up)
        self.recent: OrderedDict[int, _Switch] = OrderedDict()
        self.clock = time.monotonic

    # --- NGAP ----------------------------------------------------------------------------------

    def on_path_switch_request(self, gnb: GnbContext, pdu: NgapPdu) -> list[Any]:
        """TS 38.413 §8.4.4.2: PATH SWITCH REQUEST from ``gnb``, the target."""
        self.ctx.count("path_switch_request")
        ran_id = pdu["RAN-UE-NGAP-ID"]
        src_id = pdu["SourceAMF-UE-NGAP-ID"]
        items = list(pdu["PDUSessionResourceToBeSwitchedDLList"])
        failed = list(pdu.get("PDUSessionResourceFailedToSetupListPSReq") or [])
        psis = [it["pDUSessionID"] for it in items]
        if not psis:
            # TS 38.413 §9.2.3.8: at least one session; no Failure can even list it
            return [self.ngap._error_indication_pdu(gnb, None, ran_id, ("protocol", "abstract-syntax-error-reject"))]
        ue, cause, why = self.check(gnb, pdu)
        if ue is None or cause is not None:
            self.ctx.count("path_switch_refused")
            log.warning("event=path_switch_refused gnb=%s amf_ue_ngap_id=%s cause=%s/%s why=%s",
                        gnb.peer, src_id, *(cause or _UNKNOWN_UE), why)
            self._audit(EVENT_PATH_SWITCH_REFUSED, gnb, ue, why)
            return [self._failure(gnb, src_id, ran_id, psis, cause or _UNKNOWN_UE)]
        caps = self._capabilities_differ(ue, pdu["UESecurityCapabilities"])
        if caps:
            self.ctx.count("path_switch_capabilities_mismatch")
            log.warning("event=path_switch_capabilities_mismatch gnb=%s amf_ue_ngap_id=%d",
                        gnb.peer, ue.amf_ue_ngap_id)
            self._audit(EVENT_PATH_SWITCH_CAPABILITIES, gnb, ue, "UE security capabilities differ from the stored ones")
        source = ue.gnb
        if source is not None:
            self._remember(ue.amf_ue_ngap_id, _Switch(self.clock() + self.hijack_window, source,
                                                      ue.ran_ue_ngap_id, gnb))
        # TS 23.502 §4.9.1.2.2: the UE's NG connection is the target's from now on; the
        # source hears nothing from the AMF (the target releases it over Xn)
        self.ctx.attach_ran(ue, gnb, ran_id)
        ue.kgnb_sent = True  # the AS context continues on the target
        ue.tac = ngap.user_location_from(pdu["UserLocationInformation"])["tac"]
        self.ctx.touch(ue)
        self.busy.add(ue.amf_ue_ngap_id)
        t = asyncio.ensure_future(self._switch(ue, gnb, ran_id, source, items, failed, caps))
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)
        return []

    def check(self, gnb: GnbContext, pdu: NgapPdu) -> tuple[UeContext | None, tuple[str, str] | None, str]:
        """The refusals of the module docstring, step 1: ``(ue, None, "")`` when the target
        may take the UE, else ``(ue or None, NGAP cause, why)``. No side effects."""
        src_id = pdu["SourceAMF-UE-NGAP-ID"]
        ran_id = pdu["RAN-UE-NGAP-ID"]
        ue = self.ctx.ues.get(src_id)
        if ue is None or ue.state != GmmState.REGISTERED:
            return None, _UNKNOWN_UE, "no registered UE with that AMF UE NGAP ID"
        if ue.gnb is None or ue.ran_ue_ngap_id is None or ue.releasing:
            return ue, _UNKNOWN_UE, "the UE has no NG connection to switch"
        if ue.gnb is gnb:
            return ue, _NOT_ALLOWED, "the UE is already served by this gNB"
        if ue.amf_ue_ngap_id in self.busy:
            return ue, _BUSY, "a path switch for this UE is running"
        if not ue.kgnb_sent or ue.nh is None or ue.kamf is None:
            return ue, _NO_CONTEXT, "the UE has no AS security context"
        cfg = self.ngap.cfg
        loc = ngap.user_location_from(pdu["UserLocationInformation"])
        plmn, tac = loc.get("plmn"), loc.get("tac")
        if plmn != cfg.plmn or tac not in cfg.tacs:
            return ue, _NOT_ALLOWED, f"TAI {plmn}/{tac} is not in the UE's registration area"
        if gnb.supported_tas and not any(t == tac and plmn in plmns for t, plmns, _ in gnb.supported_tas):
            return ue, _NOT_ALLOWED, f"TAI {plmn}/{tac} is not one the gNB declared"
        other = gnb.ues.get(ran_id)
        if len(gnb.ues) >= self.ngap.cfg.max_ues_per_gnb and other is None:
            return ue, ("misc", "control-processing-overload"), "the gNB holds its maximum of UE contexts"
        profile = self.gmm.restrictions(gnb) if self.gmm.restrictions is not None else None
        if profile is not None:
            if getattr(profile, "forbid_nea0", False) and (ue.sec is None or ue.sec.enc_alg == 0):
                return ue, _NOT_ALLOWED, f"restricted profile {profile.name}: the UE's NAS is not ciphered (NEA0)"
            cap = getattr(profile, "max_ues", None)
            if cap is not None and len(gnb.ues) >= cap and other is None:
                return ue, _NOT_ALLOWED, f"restricted profile {profile.name}: at most {cap} UEs"
        trust = getattr(self.app, "trust", None)
        policy = getattr(getattr(trust, "gnb_policy", None), "policy", None)
        if policy is not None:
            rule = policy.handover_refusal(ue.gnb.vendor, gnb.vendor)
            if rule is not None:
                return ue, _NOT_ALLOWED, (f"trust policy {rule}: no handover from vendor "
                                          f"{ue.gnb.vendor or 'unknown'} to vendor {gnb.vendor or 'unknown'}")
        return ue, None, ""

    # --- hijack detection (module docstring, step 4) --------------------------------------------

    def _prune(self, now: float) -> None:
        recent = self.recent
        while recent:
            key, sw = next(iter(recent.items()))
            if sw.until >= now and len(recent) <= RECENT_SWITCHES_MAX:
                break
            del recent[key]

    def _remember(self, amf_id: int, sw: _Switch) -> None:
        self.recent.pop(amf_id, None)  # re-inserted at the back: the order stays by time
        self.recent[amf_id] = sw
        self._prune(self.clock())

    def on_stale_ue(self, gnb: GnbContext, pdu: NgapPdu, amf_id: int, ran_id: int | None) -> list[Any]:
        """A UE-associated message from ``gnb`` naming an AMF UE NGAP ID that is not (or no
        longer) the UE's on it (the caller answers it with an Error Indication). When ``gnb``
        is the gNB the UE left by Path Switch within the window, the UE may never have moved.
        Returns what to send besides (the release of the claiming gNB's connection)."""
        self._prune(self.clock())
        sw = self.recent.get(amf_id)
        if sw is None or sw.source is not gnb:
            return []
        if ran_id is not None and sw.source_ran_id is not None and ran_id != sw.source_ran_id:
            return []  # not the ID pair the UE had there: a stray message, not the UE
        del self.recent[amf_id]  # one flag per switch
        ue = self.ctx.ues.get(amf_id)
        claimant = ue.gnb if ue is not None else None
        self.ctx.count("path_switch_suspected_hijack")
        log.warning("event=path_switch_suspected_hijack old_gnb=%s claiming_gnb=%s amf_ue_ngap_id=%d proc=%s "
                    "reaction=%s", gnb.peer, sw.target.peer, amf_id, pdu.procedure, self.on_suspected_hijack)
        self._audit_hijack(gnb, sw.target, ue, pdu.procedure)
        if self.on_suspected_hijack != "release" or ue is None or claimant is None or ue.ran_ue_ngap_id is None:
            return []
        if claimant is not sw.target:
            return []  # the UE moved on since: not the claimant's any more
        release = NgapPdu("UEContextRelease", "initiating", {
            "UE-NGAP-IDs": ("uE-NGAP-ID-pair", {"aMF-UE-NGAP-ID": amf_id, "rAN-UE-NGAP-ID": ue.ran_ue_ngap_id}),
            "Cause": ngap.cause("radioNetwork", "unspecified")})
        out: list[Any] = [NgapSend(claimant, self.ngap.stream_for(claimant, ue), ngap.encode(release))]
        self.ctx.count("path_switch_hijack_release")
        # TS 23.502 §4.2.6: CM-IDLE at once (the claimant's Release Complete is not waited
        # for: it may never come), the sessions' user plane deactivated at the SMFs
        out += self.ngap._idle(ue)
        return out

    def _audit_hijack(self, old: GnbContext, claimant: GnbContext, ue: UeContext | None, proc: str) -> None:
        audit_gnb(self.app, EVENT_PATH_SWITCH_HIJACK, claimant, ue, f"{proc} from the gNB the UE left by Path Switch",
                  source=old, reaction=self.on_suspected_hijack)

    def _capabilities_differ(self, ue: UeContext, received: Any) -> bool:
        """TS 33.501 §6.7.3.1: the target's UE Security Capabilities against the stored ones."""
        try:
            got = ngap.ue_security_capabilities_from(received)
        except (KeyError, TypeError, ValueError):
            return True
        return got != ngap.ue_security_capabilities_from(AmfNgap._ue_security_capabilities(ue))

    def _failure(self, gnb: GnbContext, amf_id: int, ran_id: int, psis: list[int],
                 cause: tuple[str, str]) -> NgapSend:
        """TS 38.413 §9.2.3.10 PATH SWITCH REQUEST FAILURE: every session released."""
        tr = ngap.encode_ie("PathSwitchRequestUnsuccessfulTransfer", {"cause": ngap.cause(*cause)})
        pdu = NgapPdu("PathSwitchRequest", "unsuccessful", {
            "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id,
            "PDUSessionResourceReleasedListPSFail": [
                {"pDUSessionID": psi, "pathSwitchRequestUnsuccessfulTransfer": tr} for psi in psis]})
        self.ctx.count("path_switch_failure")
        return NgapSend(gnb, AmfNgap.stream_of(gnb, ran_id), ngap.encode(pdu))

    # --- SMFs and the answer ------------------------------------------------------------------

    async def _switch(self, ue: UeContext, gnb: GnbContext, ran_id: int, source: GnbContext | None,
                      items: list[Any], failed: list[Any], caps_differ: bool) -> None:
        """TS 23.502 §4.9.1.2.2 steps 2-7, then the answer to the target."""
        try:
            switched, released = await self._ask_smfs(ue, items, failed)
            if ue.gnb is not gnb or ue.ran_ue_ngap_id != ran_id:
                self.ctx.count("path_switch_connection_gone")
                return
            if not switched:
                log.info("event=path_switch_no_session gnb=%s amf_ue_ngap_id=%d", gnb.peer, ue.amf_ue_ngap_id)
                out: list[Any] = [self._failure(gnb, ue.amf_ue_ngap_id, ran_id,
                                                [it["pDUSessionID"] for it in items], _NOT_ALLOWED)]
                # TS 38.413 §8.4.4.3: the target releases the UE; the AMF holds it CM-IDLE
                out += self.ngap._idle(ue)
                self.app._execute(out)
                return
            self.app._execute([NgapSend(gnb, self.ngap.stream_for(gnb, ue),
                                        self._acknowledge(ue, ran_id, switched, released, caps_differ))])
            self.gmm._observe("kgnb", ue)  # key material (NH) went to the target's vendor
            self.ctx.count("path_switch_acknowledge")
            log.info("event=path_switch gnb=%s amf_ue_ngap_id=%d switched=%d released=%d ncc=%d",
                     gnb.peer, ue.amf_ue_ngap_id, len(switched), len(released), ue.ncc)
            self._refresh_on_vendor_change(ue, gnb, source)
        except (DecodeError, EncodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("event=path_switch_failed amf_ue_ngap_id=%d err=%r", ue.amf_ue_ngap_id, exc)
            self.ctx.count("path_switch_internal_error")
        finally:
            self.busy.discard(ue.amf_ue_ngap_id)

    async def _ask_smfs(self, ue: UeContext, items: list[Any], failed: list[Any]
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Nsmf_PDUSession_UpdateSMContext per session (TS 29.502 §5.2.2.3.x): the switched
        items (with the SMF's Path Switch Request Acknowledge Transfer) and the released ones."""
        s = self.sessions
        supi = ue.supi or ""
        sessions = s.sessions_of(ue)
        switched: list[dict[str, Any]] = []
        released: list[dict[str, Any]] = []

        def refuse(psi: int, n2: bytes | None, cause: tuple[str, str]) -> None:
            released.append({"pDUSessionID": psi, "pathSwitchRequestUnsuccessfulTransfer": n2 or ngap.encode_ie(
                "PathSwitchRequestUnsuccessfulTransfer", {"cause": ngap.cause(*cause)})})

        seen: set[int] = set()
        for item in items:
            psi = item["pDUSessionID"]
            sess = sessions.get(psi)
            if sess is None or sess.sm_ref is None or psi in seen:
                refuse(psi, None, ("radioNetwork", "unknown-PDU-session-ID"))
                continue
            seen.add(psi)
            tr = s._transfer(item["pathSwitchRequestTransfer"], "PathSwitchRequestTransfer")
            body, parts, status = await self._update(sess, "PATH_SWITCH_REQ", tr)
            n2 = multipart.ref(body, "n2SmInfo", parts) if isinstance(body, dict) else None
            kind = body.get("n2SmInfoType") if isinstance(body, dict) else None
            if status == 200 and kind == "PATH_SWITCH_REQ_ACK" and n2 is not None:
                sess.up_active = True
                switched.append({"pDUSessionID": psi, "pathSwitchRequestAcknowledgeTransfer": n2})
                continue
            if status == 404:
                s._forget(supi, sess)
            elif sess.up_active:
                # its user plane still points at the source, which is leaving: deactivate it
                sess.up_active = False
                s._spawn(s._update(supi, sess, {"upCnxState": "DEACTIVATED"}, {}))
            refuse(psi, n2 if kind == "PATH_SWITCH_REQ_FAIL" else None, ("misc", "unspecified"))
        for item in failed:
            psi = item["pDUSessionID"]
            sess = sessions.get(psi)
            if sess is None or sess.sm_ref is None or psi in seen:
                continue
            seen.add(psi)
            tr = s._transfer(item["pathSwitchRequestSetupFailedTransfer"], "PathSwitchRequestSetupFailedTransfer")
            sess.up_active = False
            await self._update(sess, "PATH_SWITCH_SETUP_FAIL", tr)
        return switched, released

    async def _update(self, sess: Any, n2_type: str, transfer: bytes) -> tuple[Any, dict[str, Any], int]:
        """One UpdateSMContext with N2 SM information; (body, binary parts, HTTP status), status
        0 when the SMF could not be reached."""
        s = self.sessions
        try:
            resp = await s._sbi(sess.smf_uri, f"/nsmf-pdusession/v1/sm-contexts/{sess.sm_ref}/modify",
                                {"n2SmInfo": {"contentId": "n2msg"}, "n2SmInfoType": n2_type},
                                {"n2msg": (multipart.NGAP, transfer)})
            body, parts = s._parts(resp)
        except (TransportError, NoProducer, DecodeError) as exc:
            log.info("event=path_switch_smf_failed psi=%d err=%s", sess.psi, exc)
            return None, {}, 0
        s.count("path_switch_" + n2_type.lower())
        return body, parts, resp.status

    def _acknowledge(self, ue: UeContext, ran_id: int, switched: list[dict[str, Any]],
                     released: list[dict[str, Any]], caps_differ: bool) -> bytes:
        """TS 38.413 §9.2.3.9 PATH SWITCH REQUEST ACKNOWLEDGE with the fresh {NH, NCC}."""
        assert ue.kamf is not None and ue.nh is not None
        ue.nh, ue.ncc = next_nh(ue.kamf, ue.nh, ue.ncc)
        allowed = tuple(ue.allowed_nssai or self.ngap.cfg.slices)
        ies: dict[str, Any] = {
            "AMF-UE-NGAP-ID": ue.amf_ue_ngap_id,
            "RAN-UE-NGAP-ID": ran_id,
            "SecurityContext": {"nextHopChainingCount": ue.ncc, "nextHopNH": ngap.security_key(ue.nh)},
            "PDUSessionResourceSwitchedList": switched,
            "AllowedNSSAI": [{"s-NSSAI": ngap.s_nssai(sst, sd)} for sst, sd in allowed],
        }
        if caps_differ:
            # TS 38.413 §8.4.4.2: the AMF's stored capabilities replace the target's
            ies["UESecurityCapabilities"] = AmfNgap._ue_security_capabilities(ue)
        if released:
            ies["PDUSessionResourceReleasedListPSAck"] = released
        return ngap.encode(NgapPdu("PathSwitchRequest", "successful", ies))

    def _refresh_on_vendor_change(self, ue: UeContext, gnb: GnbContext, source: GnbContext | None) -> None:
        """Module docstring, step 4: a fresh KgNB when the target's profile asks for one on a
        change of vendor (the target's current key came from the source)."""
        if source is None or source.vendor == gnb.vendor or self.gmm.restrictions is None:
            return
        profile = self.gmm.restrictions(gnb)
        if profile is None or not getattr(profile, "refresh_keys_on_vendor_change", False):
            return
        out = self.ngap.ue_context_modification(ue, security_key=True)
        if out:
            self.ctx.count("path_switch_key_refresh")
            log.info("event=path_switch_key_refresh amf_ue_ngap_id=%d from_vendor=%s to_vendor=%s",
                     ue.amf_ue_ngap_id, source.vendor, gnb.vendor)
            self.app._execute(out)

    # --- trust audit ---------------------------------------------------------------------------

    def _audit(self, event: str, gnb: GnbContext, ue: UeContext | None, reason: str) -> None:
        """Which gNB asked, for which UE, why it was refused or flagged; the UE's current gNB,
        when it is another, as the source."""
        src = ue.gnb if ue is not None else None
        audit_gnb(self.app, event, gnb, ue, reason, source=src if src is not gnb else None)

def audit_gnb(app: Any, event: str, gnb: GnbContext, ue: UeContext | None, reason: str,
              **others: GnbContext | str | None) -> None:
    """One record in the trust audit log, when a trust policy is configured: ``gnb`` (the one
    that asked) as the subject with its vendor, the UE by its pseudonym (never the SUPI), and
    each of ``others``: a gNB as ``<key>`` (its subject id) and ``<key>_vendor``, any other
    value as it is. An audit failure is logged and never breaks signalling."""
    trust = getattr(app, "trust", None)
    audit = getattr(trust, "audit", None) if trust is not None else None
    if audit is None:
        return
    try:
        from fivecore.trust.policy import gnb_subject

        rec: dict[str, Any] = {"event": event, "subject_kind": "gnb", "reason": reason, "vendor": gnb.vendor}
        if gnb.global_ran_node_id is not None:
            rec["subject"] = gnb_subject(*gnb.global_ran_node_id)
        if ue is not None and ue.supi is not None:
            rec["ue"] = trust.ledger.ue_ref(ue.supi)
        for key, value in others.items():
            if isinstance(value, GnbContext):
                if value.global_ran_node_id is not None:
                    rec[key] = gnb_subject(*value.global_ran_node_id)
                    rec[f"{key}_vendor"] = value.vendor
            elif value is not None:
                rec[key] = value
        audit.append(rec)
    except Exception:  # noqa: BLE001 - the audit must not break signalling
        log.exception("event=handover_audit_failed audit_event=%s", event)


def attach(app: Any) -> AmfHandover:
    """Plug the Path Switch Request procedure into an AmfApp (after the session relay)."""
    h = AmfHandover(app)
    app.ngap._handlers[("PathSwitchRequest", "initiating")] = h.on_path_switch_request
    app.ngap.on_stale_ue = h.on_stale_ue
    app.handover = h
    return h


__all__ = ["EVENT_PATH_SWITCH_HIJACK", "AmfHandover", "attach", "next_nh"]
