"""The UDR's Nudr_DataRepository service (TS 29.504; resources of TS 29.505 and TS 29.519)."""

from __future__ import annotations

import json
import uuid

from fivecore.transport.http2 import (
    PROBLEM_JSON,
    HttpError,
    Request,
    Response,
    Router,
    json_response,
)
from fivecore.transport.http2.message import path_segment
from fivecore.wire.sbi import (
    ANY_SNSSAI,
    Amf3GppAccessRegistration,
    AuthEvent,
    SbiModel,
    SdmSubscription,
    SmfRegistration,
    select_sm_data,
)

from .context import UdrContext, ue_id

DR = "/nudr-dr/v2"
SUB = DR + "/subscription-data/{ueId}"
PROV = SUB + "/{servingPlmnId}/provisioned-data"
CTX = SUB + "/context-data"


def _plmn(req: Request) -> None:
    p = req.path_params.get("servingPlmnId", "")
    if not (p.isdigit() and len(p) in (5, 6)):
        raise HttpError(400, "MANDATORY_IE_INCORRECT", "servingPlmnId must be MCC+MNC digits",
                        invalid_params=[{"param": "servingPlmnId"}])


def _json_obj(req: Request) -> dict:
    data = req.json()
    if not isinstance(data, dict):
        raise HttpError(400, "INVALID_MSG_FORMAT", "body must be a JSON object")
    return data


def _text(model: SbiModel) -> str:
    """A validated body as stored JSON text: what ``model.dump()`` holds, serialised by
    pydantic's core in one step instead of a dict and then ``json.dumps``."""
    return model.model_dump_json(by_alias=True, exclude_none=True)


def build_router(ctx: UdrContext) -> Router:
    r = Router("udr")

    def get_auth_sub(req: Request) -> Response:
        """TS 29.505 §5.2.2.2.? Query of the AuthenticationSubscription (K, OPc, AMF, SQN)."""
        return json_response(ctx.auth_subscription(ue_id(req.path_params["ueId"])))

    def patch_auth_sub(req: Request) -> Response:
        """TS 29.505 modify AuthenticationSubscription (SQN update, compare-and-swap)."""
        ctx.patch_auth_subscription(ue_id(req.path_params["ueId"]), req.json())
        return Response(204)

    def put_auth_status(req: Request) -> Response:
        """TS 29.505 authentication-status: store the AuthEvent sent by the UDM."""
        supi = ue_id(req.path_params["ueId"])
        ev = req.model(AuthEvent)
        ctx.put_context(supi, "auth-status", "", None, text=_text(ev))
        return Response(204)

    def get_auth_status(req: Request) -> Response:
        return json_response(ctx.get_context(ue_id(req.path_params["ueId"]), "auth-status"))

    def prov(section: str):  # noqa: ANN202
        def handler(req: Request) -> Response:
            """TS 29.505 provisioned data: am-data, smf-selection-subscription-data, sm-data."""
            _plmn(req)
            data = ctx.provisioned(ue_id(req.path_params["ueId"]), section)
            if section == "sm":
                nssai = req.q1("single-nssai")
                dnn = req.q1("dnn")
                want = ANY_SNSSAI
                if nssai:
                    try:
                        want = json.loads(nssai)
                    except ValueError:
                        raise HttpError(400, "INVALID_QUERY_PARAM", "single-nssai is not JSON") from None
                data = select_sm_data(data, want, dnn)
            return json_response(data)

        return handler

    def put_amf(req: Request) -> Response:
        """TS 29.505 context-data/amf-3gpp-access (stored by the UDM's UECM)."""
        supi = ue_id(req.path_params["ueId"])
        reg = req.model(Amf3GppAccessRegistration)
        created = ctx.put_context(supi, "amf-3gpp-access", "", None, text=_text(reg))
        return json_response(reg, 201) if created else Response(204)

    def get_amf(req: Request) -> Response:
        """TS 29.505 context-data/amf-3gpp-access read; the UDM asks at every registration,
        usually for a UE that has none, so the 404 is built without raising and encoding it."""
        doc = ctx.find_context(ue_id(req.path_params["ueId"]), "amf-3gpp-access")
        if doc is None:
            prob = HttpError(404, "CONTEXT_NOT_FOUND", "no amf-3gpp-access data").problem()
            return json_response(prob, 404, {"content-type": PROBLEM_JSON})
        return json_response(doc)

    def patch_amf(req: Request) -> Response:
        ctx.patch_context(ue_id(req.path_params["ueId"]), "amf-3gpp-access", "", req.json())
        return Response(204)

    def delete_amf(req: Request) -> Response:
        ctx.delete_context(ue_id(req.path_params["ueId"]), "amf-3gpp-access")
        return Response(204)

    def _psi(req: Request) -> str:
        psi = req.path_params["pduSessionId"]
        if not psi.isdigit() or not 0 <= int(psi) <= 255:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "pduSessionId must be 0..255",
                            invalid_params=[{"param": "pduSessionId"}])
        return str(int(psi))

    def put_smf(req: Request) -> Response:
        supi = ue_id(req.path_params["ueId"])
        psi = _psi(req)
        reg = req.model(SmfRegistration)
        created = ctx.put_context(supi, "smf-registrations", psi, None, text=_text(reg))
        return json_response(reg, 201) if created else Response(204)

    def get_smf(req: Request) -> Response:
        return json_response(ctx.get_context(ue_id(req.path_params["ueId"]), "smf-registrations", _psi(req)))

    def delete_smf(req: Request) -> Response:
        ctx.delete_context(ue_id(req.path_params["ueId"]), "smf-registrations", _psi(req))
        return Response(204)

    def list_smf(req: Request) -> Response:
        regs = ctx.list_context(ue_id(req.path_params["ueId"]), "smf-registrations")
        return json_response(list(regs.values()))

    def post_sdm_sub(req: Request) -> Response:
        supi = ue_id(req.path_params["ueId"])
        sub = req.model(SdmSubscription)
        sid = sub.subscriptionId or uuid.uuid4().hex
        data = {**sub.dump(), "subscriptionId": sid}
        ctx.put_context(supi, "sdm-subscriptions", sid, data)
        return json_response(data, 201, {"location": f"{DR}/subscription-data/{path_segment(supi)}/context-data/sdm-subscriptions/{path_segment(sid)}"})

    def list_sdm_subs(req: Request) -> Response:
        return json_response(list(ctx.list_context(ue_id(req.path_params["ueId"]), "sdm-subscriptions").values()))

    def delete_sdm_sub(req: Request) -> Response:
        ctx.delete_context(ue_id(req.path_params["ueId"]), "sdm-subscriptions", req.path_params["subsId"])
        return Response(204)

    def subs_to_notify(req: Request) -> Response:
        body = _json_obj(req)
        if not isinstance(body.get("callbackReference"), str) or not isinstance(body.get("monitoredResourceUris"), list):
            raise HttpError(400, "MANDATORY_IE_MISSING", "callbackReference and monitoredResourceUris are required")
        sid, data = ctx.subscribe(body)
        return json_response(data, 201, {"location": f"{DR}/subscription-data/subs-to-notify/{sid}"})

    def unsubs_to_notify(req: Request) -> Response:
        ctx.unsubscribe(req.path_params["subsId"])
        return Response(204)

    def policy(section: str):  # noqa: ANN202
        def handler(req: Request) -> Response:
            """TS 29.519 policy data: /policy-data/ues/{ueId}/am-data | sm-data | ue-policy-set."""
            supi = ue_id(req.path_params["ueId"])
            pol = ctx.provisioned(supi, "policy") or {}
            data = pol.get(section) or {}
            if section == "sm" and not data.get("smPolicySnssaiData"):
                # Nothing provisioned: derive per-slice, per-DNN entries from the SM subscription data.
                derived = {}
                for sm in ctx.provisioned(supi, "sm"):
                    snssai = sm.get("singleNssai") or {}
                    key = f"{snssai.get('sst')}" + (f"-{snssai['sd']}" if snssai.get("sd") else "")
                    derived[key] = {"snssai": snssai,
                                    "smPolicyDnnData": {d: {"dnn": d} for d in (sm.get("dnnConfigurations") or {})}}
                if not derived:
                    raise HttpError(404, "DATA_NOT_FOUND", "no session management policy data")
                data = {"smPolicySnssaiData": derived}
            return json_response(data)

        return handler

    r.add("GET", SUB + "/authentication-data/authentication-subscription", get_auth_sub)
    r.add("PATCH", SUB + "/authentication-data/authentication-subscription", patch_auth_sub)
    r.add("PUT", SUB + "/authentication-data/authentication-status", put_auth_status)
    r.add("GET", SUB + "/authentication-data/authentication-status", get_auth_status)
    r.add("GET", PROV + "/am-data", prov("am"))
    r.add("GET", PROV + "/smf-selection-subscription-data", prov("smf_selection"))
    r.add("GET", PROV + "/sm-data", prov("sm"))
    r.add("PUT", CTX + "/amf-3gpp-access", put_amf)
    r.add("GET", CTX + "/amf-3gpp-access", get_amf)
    r.add("PATCH", CTX + "/amf-3gpp-access", patch_amf)
    r.add("DELETE", CTX + "/amf-3gpp-access", delete_amf)
    r.add("GET", CTX + "/smf-registrations", list_smf)
    r.add("PUT", CTX + "/smf-registrations/{pduSessionId}", put_smf)
    r.add("GET", CTX + "/smf-registrations/{pduSessionId}", get_smf)
    r.add("DELETE", CTX + "/smf-registrations/{pduSessionId}", delete_smf)
    r.add("POST", CTX + "/sdm-subscriptions", post_sdm_sub)
    r.add("GET", CTX + "/sdm-subscriptions", list_sdm_subs)
    r.add("DELETE", CTX + "/sdm-subscriptions/{subsId}", delete_sdm_sub)
    r.add("POST", DR + "/subscription-data/subs-to-notify", subs_to_notify)
    r.add("DELETE", DR + "/subscription-data/subs-to-notify/{subsId}", unsubs_to_notify)
    r.add("GET", DR + "/policy-data/ues/{ueId}/am-data", policy("am"))
    r.add("GET", DR + "/policy-data/ues/{ueId}/ue-policy-set", policy("ue"))
    r.add("GET", DR + "/policy-data/ues/{ueId}/sm-data", policy("sm"))
    return r
