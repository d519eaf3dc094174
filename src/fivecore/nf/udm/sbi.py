"""The UDM's services: Nudm_UEAU, Nudm_UECM, Nudm_SDM (TS 29.503), plus the callback on which
the UDR reports data changes (TS 29.505 DataChangeNotify)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from fivecore import rng
from fivecore.store import SEQ_STEP, SQN_MAX
from fivecore.transport.http2 import HttpError, Request, Response, Router, json_response
from fivecore.transport.http2.message import path_segment
from fivecore.wire.sbi import (
    ANY_SNSSAI,
    Amf3GppAccessRegistration,
    Amf3GppAccessRegistrationModification,
    AuthenticationInfoRequest,
    AuthEvent,
    SdmSubscription,
    SmfRegistration,
    select_sm_data,
)

from .clients import UdrClient
from .context import SUPI_RE, UdmContext
from .ueau import eap_aka_prime_vector, he_aka_vector, resync_sqn

log = logging.getLogger("fivecore.udm")

UEAU = "/nudm-ueau/v1"
UECM = "/nudm-uecm/v1"
SDM = "/nudm-sdm/v2"
CALLBACK = "/nudm-callback/v1/data-change"
MAX_SQN_RETRIES = 16

Notify = Callable[[str, Any], None]


def _supi(req: Request, name: str = "supi") -> str:
    supi = req.path_params[name]
    if not SUPI_RE.match(supi):
        raise HttpError(400, "MANDATORY_IE_INCORRECT", f"{name} must be imsi-<5..15 digits>",
                        invalid_params=[{"param": name, "reason": "not an IMSI-based SUPI"}])
    return supi


def build_router(ctx: UdmContext, udr: UdrClient, plmn: str, notify: Notify,
                 self_uri: Callable[[], str]) -> Router:
    """Routes of the three UDM services; ``notify(uri, body)`` posts a callback asynchronously."""
    r = Router("udm")
    state: dict[str, Any] = {"subscribed_to_udr": False, "lock": asyncio.Lock()}

    # -- Nudm_UEAU (TS 29.503 §5.4) ---------------------------------------------------------------
    async def generate_auth_data(req: Request) -> Response:
        """TS 29.503 §5.4.2.2 Get (generate-auth-data); TS 33.501 §6.1.3.1/§6.1.3.2 step 2."""
        body: AuthenticationInfoRequest = req.model(AuthenticationInfoRequest)
        supi = ctx.resolve(req.path_params["supiOrSuci"])
        path = f"/subscription-data/{path_segment(supi)}/authentication-data/authentication-subscription"
        resync = body.resynchronizationInfo
        for _ in range(MAX_SQN_RETRIES):
            auth = (await udr.ok("GET", path)).json()
            try:
                k = bytes.fromhex(auth["encPermanentKey"])
                opc = bytes.fromhex(auth["encOpcKey"])
                amf = bytes.fromhex(auth.get("authenticationManagementField") or "8000")
                old = int(auth["sequenceNumber"]["sqn"], 16)
                method = auth.get("authenticationMethod", "5G_AKA")
            except (KeyError, TypeError, ValueError):
                raise HttpError(500, "SYSTEM_FAILURE", "authentication subscription is incomplete") from None
            base = old
            if resync is not None:
                # TS 33.102 §6.3.5: verify AUTS, then continue from the USIM's SQN_MS.
                sqn_ms = resync_sqn(k, opc, bytes.fromhex(resync.rand), bytes.fromhex(resync.auts))
                if sqn_ms is None:
                    raise HttpError(403, "AUTHENTICATION_REJECTED", "AUTS does not verify (MAC-S)")
                base = sqn_ms
            new = (base + SEQ_STEP) & SQN_MAX
            patch = [{"op": "test", "path": "/sequenceNumber/sqn", "value": f"{old:012x}"},
                     {"op": "replace", "path": "/sequenceNumber/sqn", "value": f"{new:012x}"}]
            resp = await udr.call("PATCH", path, patch, headers={"content-type": "application/json-patch+json"})
            if resp.status == 409:
                continue  # another UDM took this SQN: re-read and try the next one
            if resp.status >= 300:
                prob = resp.problem() or {}
                raise HttpError(resp.status if resp.status < 500 else 502, prob.get("cause"), "cannot store SQN")
            break
        else:
            raise HttpError(503, "NF_CONGESTION", "sequence number contention")
        rand = ctx.test_rand or rng.token_bytes(16)
        snn = body.servingNetworkName
        # The AuthenticationInfoResult (TS 29.503 §6.3.6.2.3) as plain JSON data: every member
        # is hex of a fixed length computed here, so validating our own answer (Av5GHeAka,
        # AvEapAkaPrime) would only cost time; a remote AUSF validates what it receives.
        if method == "EAP_AKA_PRIME":
            v = eap_aka_prime_vector(k, opc, amf, new, rand, snn)
            av: dict[str, str] = {"avType": "EAP_AKA_PRIME", "rand": v.rand.hex(), "xres": v.xres.hex(),
                                  "autn": v.autn.hex(), "ckPrime": v.ck_prime.hex(),  # type: ignore[union-attr]
                                  "ikPrime": v.ik_prime.hex()}  # type: ignore[union-attr]
        else:
            method = "5G_AKA"
            v = he_aka_vector(k, opc, amf, new, rand, snn)
            av = {"avType": "5G_HE_AKA", "rand": v.rand.hex(), "xresStar": v.xres_star.hex(),  # type: ignore[union-attr]
                  "autn": v.autn.hex(), "kausf": v.kausf.hex()}  # type: ignore[union-attr]
        return json_response({"authType": method, "authenticationVector": av, "supi": supi})

    async def auth_events(req: Request) -> Response:
        """TS 29.503 §5.4.2.3 ConfirmAuth: the AUSF reports the result; stored in the UDR."""
        supi = _supi(req)
        ev: AuthEvent = req.model(AuthEvent)
        await udr.ok("PUT", f"/subscription-data/{path_segment(supi)}/authentication-data/authentication-status", ev)
        eid = rng.token_hex(16)
        return json_response(ev, 201, {"location": f"{self_uri()}{UEAU}/{path_segment(supi)}/auth-events/{eid}"})

    # -- Nudm_UECM (TS 29.503 §5.3) -----------------------------------------------------------------
    async def amf_register(req: Request) -> Response:
        """TS 29.503 §5.3.2.2.2 Registration of the serving AMF for 3GPP access."""
        supi = _supi(req, "ueId")
        reg: Amf3GppAccessRegistration = req.model(Amf3GppAccessRegistration)
        ctx_path = f"/subscription-data/{path_segment(supi)}/context-data/amf-3gpp-access"
        old = await udr.call("GET", ctx_path)
        if old.status == 404 and (old.problem() or {}).get("cause") == "USER_NOT_FOUND":
            raise HttpError(404, "USER_NOT_FOUND", "no such subscriber")
        await udr.ok("PUT", ctx_path, reg)
        if old.status == 200:
            prev = old.json() or {}
            if prev.get("amfInstanceId") != reg.amfInstanceId and prev.get("deregCallbackUri"):
                # TS 29.503 §5.3.2.? : tell the old AMF it is no longer serving the UE.
                reason = "UE_INITIAL_REGISTRATION" if reg.initialRegistrationInd else "UE_REGISTRATION_AREA_CHANGE"
                notify(prev["deregCallbackUri"], {"deregReason": reason, "accessType": "3GPP_ACCESS"})
            return json_response(reg, 200)
        return json_response(reg, 201, {"location": f"{self_uri()}{UECM}/{path_segment(supi)}/registrations/amf-3gpp-access"})

    async def amf_get(req: Request) -> Response:
        supi = _supi(req, "ueId")
        return json_response((await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/context-data/amf-3gpp-access")).json())

    async def amf_update(req: Request) -> Response:
        """TS 29.503 §5.3.2.4.2 Update (PATCH) of the AMF registration; the GUAMI must match."""
        supi = _supi(req, "ueId")
        mod: Amf3GppAccessRegistrationModification = req.model(Amf3GppAccessRegistrationModification)
        ctx_path = f"/subscription-data/{path_segment(supi)}/context-data/amf-3gpp-access"
        cur = (await udr.ok("GET", ctx_path)).json()
        if cur.get("guami") != mod.guami.dump():
            raise HttpError(403, "INVALID_GUAMI", "the GUAMI differs from the registered AMF's")
        patch = []
        for key in ("purgeFlag", "pei"):
            val = getattr(mod, key)
            if val is not None:
                patch.append({"op": "add", "path": f"/{key}", "value": val})
        if patch:
            await udr.ok("PATCH", ctx_path, patch, headers={"content-type": "application/json-patch+json"})
        return Response(204)

    def _psi(req: Request) -> int:
        psi = req.path_params["pduSessionId"]
        if not psi.isdigit() or not 0 <= int(psi) <= 255:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "pduSessionId must be 0..255",
                            invalid_params=[{"param": "pduSessionId"}])
        return int(psi)

    async def smf_register(req: Request) -> Response:
        """TS 29.503 §5.3.2.2.? Registration of an SMF for a PDU session."""
        supi = _supi(req, "ueId")
        psi = _psi(req)
        reg: SmfRegistration = req.model(SmfRegistration)
        if reg.pduSessionId != psi:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "pduSessionId differs from the URI",
                            invalid_params=[{"param": "/pduSessionId"}])
        resp = await udr.ok("PUT", f"/subscription-data/{path_segment(supi)}/context-data/smf-registrations/{psi}", reg)
        if resp.status == 201:
            return json_response(reg, 201, {"location": f"{self_uri()}{UECM}/{path_segment(supi)}/registrations/smf-registrations/{psi}"})
        return json_response(reg, 200)

    async def smf_deregister(req: Request) -> Response:
        supi = _supi(req, "ueId")
        await udr.ok("DELETE", f"/subscription-data/{path_segment(supi)}/context-data/smf-registrations/{_psi(req)}")
        return Response(204)

    async def smf_get(req: Request) -> Response:
        supi = _supi(req, "ueId")
        return json_response((await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/context-data/smf-registrations/{_psi(req)}")).json())

    async def smf_list(req: Request) -> Response:
        supi = _supi(req, "ueId")
        regs = (await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/context-data/smf-registrations")).json()
        if not regs:
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no SMF registration")
        return json_response({"smfRegistrationList": regs})

    # -- Nudm_SDM (TS 29.503 §5.2) ------------------------------------------------------------------
    async def am_data(req: Request) -> Response:
        """TS 29.503 §5.2.2.2.3 Access and mobility subscription data retrieval."""
        supi = _supi(req)
        return json_response((await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/{plmn}/provisioned-data/am-data")).json())

    async def nssai(req: Request) -> Response:
        """TS 29.503 §5.2.2.2.2 Slice selection subscription data retrieval."""
        supi = _supi(req)
        am = (await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/{plmn}/provisioned-data/am-data")).json()
        if not am.get("nssai"):
            raise HttpError(404, "DATA_NOT_FOUND", "no NSSAI provisioned")
        return json_response(am["nssai"])

    async def smf_select(req: Request) -> Response:
        """TS 29.503 §5.2.2.2.5 SMF selection subscription data retrieval."""
        supi = _supi(req)
        data = (await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/{plmn}/provisioned-data/smf-selection-subscription-data")).json()
        return json_response(data)

    async def sm_data(req: Request) -> Response:
        """TS 29.503 §5.2.2.2.7 Session management subscription data retrieval."""
        supi = _supi(req)
        raw, dnn = req.q1("single-nssai"), req.q1("dnn")
        snssai: Any = ANY_SNSSAI
        if raw:
            try:
                snssai = json.loads(raw)
            except ValueError:
                raise HttpError(400, "INVALID_QUERY_PARAM", "single-nssai is not JSON",
                                invalid_params=[{"param": "single-nssai"}]) from None
            if not isinstance(snssai, dict) or not isinstance(snssai.get("sst"), int):
                raise HttpError(400, "INVALID_QUERY_PARAM", "single-nssai needs an integer sst",
                                invalid_params=[{"param": "single-nssai"}])
        # The UDR's whole sm-data, filtered here exactly as the UDR would filter it: a query
        # string less to build and parse per PDU session.
        data = (await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/{plmn}/provisioned-data/sm-data")).json()
        if snssai is not ANY_SNSSAI or dnn:
            data = select_sm_data(data if isinstance(data, list) else [], snssai, dnn or None)
        return json_response(data)

    async def ue_ctx_in_smf(req: Request) -> Response:
        """TS 29.503 §5.2.2.2.6 UE context in SMF data retrieval (from the SMF registrations)."""
        supi = _supi(req)
        regs = (await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/context-data/smf-registrations")).json() or []
        sessions = {}
        for reg in regs:
            s = {"dnn": reg.get("dnn") or "", "smfInstanceId": reg["smfInstanceId"], "plmnId": reg["plmnId"]}
            if reg.get("singleNssai"):
                s["singleNssai"] = reg["singleNssai"]
            sessions[str(reg["pduSessionId"])] = s
        return json_response({"pduSessions": sessions} if sessions else {})

    async def sdm_subscribe(req: Request) -> Response:
        """TS 29.503 §5.2.2.3.2 Subscribe to notifications of data change."""
        supi = _supi(req, "ueId")
        sub: SdmSubscription = req.model(SdmSubscription)
        await _ensure_udr_subscription()
        resp = await udr.ok("POST", f"/subscription-data/{path_segment(supi)}/context-data/sdm-subscriptions", sub)
        data = resp.json()
        sid = data["subscriptionId"]
        return json_response(data, 201, {"location": f"{self_uri()}{SDM}/{path_segment(supi)}/sdm-subscriptions/{path_segment(sid)}"})

    async def sdm_unsubscribe(req: Request) -> Response:
        """TS 29.503 §5.2.2.4.2 Unsubscribe."""
        supi = _supi(req, "ueId")
        # the id came percent-decoded: encoded again, a "/" or "?" in it stays inside the segment
        sid = path_segment(req.path_params["subscriptionId"])
        resp = await udr.call("DELETE", f"/subscription-data/{path_segment(supi)}/context-data/sdm-subscriptions/{sid}")
        if resp.status == 404:
            raise HttpError(404, "SUBSCRIPTION_NOT_FOUND", "no such subscription")
        if resp.status >= 300:
            raise HttpError(502, None, f"UDR answered {resp.status}")
        return Response(204)

    async def _ensure_udr_subscription() -> None:
        if state["subscribed_to_udr"]:
            return
        async with state["lock"]:
            if state["subscribed_to_udr"]:
                return
            body = {"callbackReference": self_uri() + CALLBACK,
                    "monitoredResourceUris": ["/subscription-data"]}
            await udr.ok("POST", "/subscription-data/subs-to-notify", body)
            state["subscribed_to_udr"] = True

    async def data_change(req: Request) -> Response:
        """The UDR reports changed data: notify every matching SDM subscriber (§5.2.2.3.3)."""
        note = req.json()
        if not isinstance(note, dict) or not SUPI_RE.match(str(note.get("ueId", ""))):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "DataChangeNotify needs ueId")
        supi = note["ueId"]
        subs = (await udr.ok("GET", f"/subscription-data/{path_segment(supi)}/context-data/sdm-subscriptions")).json() or []
        names = {"am-data": "am-data", "sm-data": "sm-data", "smf-selection-subscription-data": "smf-select-data"}
        for sub in subs:
            items = []
            for item in note.get("notifyItems") or []:
                leaf = str(item.get("resourceId", "")).rsplit("/", 1)[-1]
                res = f"{self_uri()}{SDM}/{path_segment(supi)}/{names.get(leaf, leaf)}"
                monitored = sub.get("monitoredResourceUris") or []
                if any(m.rstrip("/").endswith(names.get(leaf, leaf)) or m.rstrip("/").endswith(supi) for m in monitored):
                    items.append({"resourceId": res, "changes": item.get("changes") or []})
            if items:
                notify(sub["callbackReference"], {"notifyItems": items, "subscriptionId": sub["subscriptionId"]})
        return Response(204)

    r.add("POST", UEAU + "/{supiOrSuci}/security-information/generate-auth-data", generate_auth_data)
    r.add("POST", UEAU + "/{supi}/auth-events", auth_events)
    r.add("PUT", UECM + "/{ueId}/registrations/amf-3gpp-access", amf_register)
    r.add("GET", UECM + "/{ueId}/registrations/amf-3gpp-access", amf_get)
    r.add("PATCH", UECM + "/{ueId}/registrations/amf-3gpp-access", amf_update)
    r.add("GET", UECM + "/{ueId}/registrations/smf-registrations", smf_list)
    r.add("PUT", UECM + "/{ueId}/registrations/smf-registrations/{pduSessionId}", smf_register)
    r.add("GET", UECM + "/{ueId}/registrations/smf-registrations/{pduSessionId}", smf_get)
    r.add("DELETE", UECM + "/{ueId}/registrations/smf-registrations/{pduSessionId}", smf_deregister)
    r.add("GET", SDM + "/{supi}/am-data", am_data)
    r.add("GET", SDM + "/{supi}/nssai", nssai)
    r.add("GET", SDM + "/{supi}/smf-select-data", smf_select)
    r.add("GET", SDM + "/{supi}/sm-data", sm_data)
    r.add("GET", SDM + "/{supi}/ue-context-in-smf-data", ue_ctx_in_smf)
    r.add("POST", SDM + "/{ueId}/sdm-subscriptions", sdm_subscribe)
    r.add("DELETE", SDM + "/{ueId}/sdm-subscriptions/{subscriptionId}", sdm_unsubscribe)
    r.add("POST", CALLBACK, data_change)
    return r
