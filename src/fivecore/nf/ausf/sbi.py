"""The AUSF's Nausf_UEAuthentication service (TS 29.509), 5G AKA and EAP-AKA' (TS 33.501 §6.1.3)."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fivecore.nf.common import SbiClient
from fivecore.security import kdf
from fivecore.transport.http2 import (
    HttpError,
    Request,
    Response,
    Router,
    TransportError,
    json_response,
)
from fivecore.transport.http2.message import path_segment
from fivecore.wire import eap
from fivecore.wire.sbi import (
    AuthenticationInfo,
    AuthenticationInfoRequest,
    AuthenticationInfoResult,
    AuthEvent,
    ConfirmationData,
    ResynchronizationInfo,
)

from .context import AusfContext, AuthCtx

log = logging.getLogger("fivecore.ausf")

AUTH = "/nausf-auth/v1"
UEAU = "/nudm-ueau/v1"


def build_router(ctx: AusfContext, client: SbiClient, instance_id: str, self_uri: Callable[[], str],
                 report: Callable[[str, Any], None]) -> Router:
    """``report(supi, AuthEvent)`` tells the UDM the result (TS 33.501 §6.1.3.2 step 12)."""
    r = Router("ausf")

    async def get_av(supi_or_suci: str, snn: str, resync: ResynchronizationInfo | None) -> dict[str, Any]:
        """TS 29.503 §5.4.2.2: the AuthenticationInfoResult (as JSON data) from the UDM."""
        body = AuthenticationInfoRequest(servingNetworkName=snn, ausfInstanceId=instance_id,
                                         resynchronizationInfo=resync)
        try:
            resp = await client.call("POST", f"{UEAU}/{path_segment(supi_or_suci)}/security-information/generate-auth-data",
                                     body=body, target_nf_type="UDM")
        except TransportError as exc:
            raise HttpError(504, "UPSTREAM_SERVER_ERROR", f"UDM unreachable: {exc}") from None
        except HttpError:
            raise
        except Exception as exc:  # NoProducer
            raise HttpError(504, "UPSTREAM_SERVER_ERROR", f"UDM not available: {exc}") from None
        if resp.status != 200:
            prob = resp.problem() or {}
            status = resp.status if resp.status < 500 else 502
            raise HttpError(status, prob.get("cause"), prob.get("detail") or f"UDM answered {resp.status}",
                            invalid_params=prob.get("invalidParams"))
        if type(resp.obj) is dict:
            # an in-process UDM's own answer (built from fixed-length hex): no need to validate
            return resp.obj
        return resp.model(AuthenticationInfoResult).dump()  # type: ignore[no-any-return]

    async def ue_authentications(req: Request) -> Response:
        """TS 29.509 §5.2.2.2.2: POST AuthenticationInfo -> 201 UEAuthenticationCtx."""
        info: AuthenticationInfo = req.model(AuthenticationInfo)
        snn = info.servingNetworkName
        result = await get_av(info.supiOrSuci, snn, info.resynchronizationInfo)
        av = result.get("authenticationVector")
        supi = result.get("supi") or info.supiOrSuci
        auth_type = result["authType"]
        av_type = av.get("avType") if av is not None else None
        now = ctx.clock()
        if auth_type == "5G_AKA" and av_type == "5G_HE_AKA":
            rand = bytes.fromhex(av["rand"])  # type: ignore[index]
            xres_star = bytes.fromhex(av["xresStar"])  # type: ignore[index]
            hxres = kdf.hxres_star(rand, xres_star)  # TS 33.501 Annex A.5
            cid = ctx.new(AuthCtx(supi, snn, "5G_AKA", rand, now, xres_star=xres_star,
                                  kausf=bytes.fromhex(av["kausf"]), supi_or_suci=info.supiOrSuci))  # type: ignore[index]
            base = self_uri()
            link = f"{base}{AUTH}/ue-authentications/{cid}/5g-aka-confirmation"
            body = {"authType": "5G_AKA",
                    "5gAuthData": {"rand": av["rand"], "autn": av["autn"], "hxresStar": hxres.hex()},  # type: ignore[index]
                    "_links": {"5g-aka": {"href": link}}, "servingNetworkName": snn}
        elif auth_type == "EAP_AKA_PRIME" and av_type == "EAP_AKA_PRIME":
            cid, pkt = _eap_challenge(supi, snn, av, info.supiOrSuci, now, 1)
            base = self_uri()
            link = f"{base}{AUTH}/ue-authentications/{cid}/eap-session"
            body = {"authType": "EAP_AKA_PRIME", "5gAuthData": base64.b64encode(pkt).decode(),
                    "_links": {"eap-session": {"href": link}}, "servingNetworkName": snn}
        else:
            raise HttpError(403, "AUTHENTICATION_REJECTED", f"authentication type {auth_type} not supported")
        # TS 29.509 §6.1.7: UEAuthenticationCtx is a HAL document (application/3gppHal+json).
        return json_response(body, 201, {"location": f"{base}{AUTH}/ue-authentications/{cid}",
                                         "content-type": "application/3gppHal+json"})

    def _eap_challenge(supi: str, snn: str, av: dict[str, Any], supi_or_suci: str, now: float,
                       ident: int) -> tuple[str, bytes]:
        ck_p, ik_p = bytes.fromhex(av["ckPrime"]), bytes.fromhex(av["ikPrime"])
        keys = kdf.eap_aka_prime_keys(ik_p, ck_p, supi)  # RFC 5448 §3.3, identity = SUPI (TS 33.501 F)
        rand = bytes.fromhex(av["rand"])
        pkt = eap.build_challenge(ident, rand, bytes.fromhex(av["autn"]), snn, keys.k_aut)
        cid = ctx.new(AuthCtx(supi, snn, "EAP_AKA_PRIME", rand, now, xres=bytes.fromhex(av["xres"]),
                              kausf=kdf.kausf_from_emsk(keys.emsk), k_aut=keys.k_aut, eap_id=ident,
                              supi_or_suci=supi_or_suci))
        return cid, pkt

    def confirm(req: Request) -> Response:
        """TS 29.509 §5.2.2.2.2 step 5: compare RES* with XRES* (TS 33.501 §6.1.3.2 step 10)."""
        cid = req.path_params["authCtxId"]
        a = ctx.get(cid)
        if a is None or a.auth_type != "5G_AKA":
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no such authentication context")
        data: ConfirmationData = req.model(ConfirmationData)
        ok = data.resStar is not None and hmac.compare_digest(bytes.fromhex(data.resStar), a.xres_star)
        ctx.drop(cid)
        report(a.supi, _event(instance_id, ok, a))
        if ok:
            kseaf = kdf.kseaf(a.kausf, a.snn)  # TS 33.501 Annex A.6
            return json_response({"authResult": "AUTHENTICATION_SUCCESS", "supi": a.supi, "kseaf": kseaf.hex()})
        return json_response({"authResult": "AUTHENTICATION_FAILURE"})

    def delete_confirm(req: Request) -> Response:
        """TS 29.509 §5.2.2.? deletion of the authentication result (context cleanup)."""
        if ctx.get(req.path_params["authCtxId"]) is None:
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no such authentication context")
        ctx.drop(req.path_params["authCtxId"])
        return Response(204)

    async def eap_session(req: Request) -> Response:
        """TS 29.509 §5.2.2.2.3: one EAP round trip of EAP-AKA' (TS 33.501 §6.1.3.1)."""
        cid = req.path_params["authCtxId"]
        a = ctx.get(cid)
        if a is None or a.auth_type != "EAP_AKA_PRIME":
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no such authentication context")
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("eapPayload"), str):
            raise HttpError(400, "MANDATORY_IE_MISSING", "eapPayload is required",
                            invalid_params=[{"param": "/eapPayload"}])
        try:
            pkt = base64.b64decode(body["eapPayload"], validate=True)
            msg = eap.parse(pkt)
        except (binascii.Error, ValueError) as exc:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", f"eapPayload: {exc}",
                            invalid_params=[{"param": "/eapPayload", "reason": str(exc)[:100]}]) from None
        if msg.code != eap.CODE_RESPONSE or msg.identifier != a.eap_id:
            return _eap_fail(cid, a)
        if msg.subtype == eap.SUB_SYNC_FAILURE:
            # RFC 4187 §6.3.1 / TS 33.501 §6.1.3.1: resynchronise and send a fresh challenge.
            try:
                auts = eap.auts_of(msg)
            except eap.EapError:
                return _eap_fail(cid, a)
            ctx.drop(cid)
            resync = ResynchronizationInfo(rand=a.rand.hex(), auts=auts.hex())
            result = await get_av(a.supi_or_suci, a.snn, resync)
            av = result.get("authenticationVector")
            if av is None or av.get("avType") != "EAP_AKA_PRIME":
                raise HttpError(403, "AUTHENTICATION_REJECTED", "no EAP-AKA' vector after resync")
            new_cid, new_pkt = _eap_challenge(a.supi, a.snn, av, a.supi_or_suci, ctx.clock(), (a.eap_id + 1) & 0xFF)
            link = f"{self_uri()}{AUTH}/ue-authentications/{new_cid}/eap-session"
            return json_response({"eapPayload": base64.b64encode(new_pkt).decode(),
                                  "_links": {"eap-session": {"href": link}}, "authResult": "AUTHENTICATION_ONGOING"})
        if msg.subtype != eap.SUB_CHALLENGE or not eap.verify_mac(msg, a.k_aut):
            return _eap_fail(cid, a)
        try:
            res = eap.res_of(msg)
        except eap.EapError:
            return _eap_fail(cid, a)
        if not hmac.compare_digest(res, a.xres):
            return _eap_fail(cid, a)
        ctx.drop(cid)
        report(a.supi, _event(instance_id, True, a))
        success = eap.build_result(eap.CODE_SUCCESS, a.eap_id)
        kseaf = kdf.kseaf(a.kausf, a.snn)
        return json_response({"eapPayload": base64.b64encode(success).decode(), "kSeaf": kseaf.hex(),
                              "authResult": "AUTHENTICATION_SUCCESS", "supi": a.supi})

    def _eap_fail(cid: str, a: AuthCtx) -> Response:
        ctx.drop(cid)
        report(a.supi, _event(instance_id, False, a))
        failure = eap.build_result(eap.CODE_FAILURE, a.eap_id)
        return json_response({"eapPayload": base64.b64encode(failure).decode(), "authResult": "AUTHENTICATION_FAILURE"})

    r.add("POST", AUTH + "/ue-authentications", ue_authentications)
    r.add("PUT", AUTH + "/ue-authentications/{authCtxId}/5g-aka-confirmation", confirm)
    r.add("DELETE", AUTH + "/ue-authentications/{authCtxId}/5g-aka-confirmation", delete_confirm)
    r.add("POST", AUTH + "/ue-authentications/{authCtxId}/eap-session", eap_session)
    return r


def _event(instance_id: str, ok: bool, a: AuthCtx) -> AuthEvent:
    """TS 29.503 §6.3.6.2.6 AuthEvent: a model, so an in-process UDM need not validate it again."""
    return AuthEvent(nfInstanceId=instance_id, success=ok, timeStamp=_now_stamp(), authType=a.auth_type,
                     servingNetworkName=a.snn)


_stamp: list[Any] = [0, ""]


def _now_stamp() -> str:
    """DateTime (TS 29.571 §5.2.2) of now in whole seconds, formatted once per second."""
    sec = int(time.time())
    if _stamp[0] != sec:
        _stamp[0] = sec
        _stamp[1] = datetime.fromtimestamp(sec, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return _stamp[1]
