"""The services the SMF consumes: UDM (SDM, UECM), PCF (SM policy), AMF (N1N2MessageTransfer).

Every call goes through the NF's :class:`~fivecore.nf.common.client.SbiClient` (in-process or
HTTP/2, producer found by NRF discovery or a static route). Calls that carry N1/N2 binaries
use multipart/related (TS 29.500 §6.1.2.2.2) through :func:`call_multipart`, which speaks
both bindings too.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from fivecore.nf.common.client import NoProducer, SbiClient
from fivecore.transport.http2 import Request, Response, TransportError
from fivecore.transport.http2.message import path_segment
from fivecore.wire.errors import DecodeError
from fivecore.wire.sbi import multipart

log = logging.getLogger("fivecore.smf.clients")


class SbiCallFailed(Exception):
    """A consumed service did not answer with success: HTTP ``status`` (0 = transport)."""

    def __init__(self, what: str, status: int, problem: Any = None) -> None:
        super().__init__(f"{what}: {status} {problem or ''}".strip())
        self.status = status
        self.problem = problem


async def call_multipart(client: SbiClient, method: str, path: str, data: Any,
                         binaries: dict[str, tuple[str, bytes]], *, target_nf_type: str | None = None,
                         discovery: dict[str, Any] | None = None, base_uri: str | None = None,
                         timeout: float | None = None) -> Response:
    """Send JSON plus binary parts as multipart/related over either SBI binding."""
    service = path.split("/", 2)[1]
    if base_uri is None and client.local is not None:
        router = client.local.get(service)
        if router is not None:  # in-process: the parts travel as they are
            return await router.dispatch(Request(method, path, "", {"content-type": multipart.MULTIPART}, b"",
                                                 multipart.Parts(data, binaries)))
    body, ctype = multipart.encode(data, binaries)
    uri = base_uri or client.static.get(service) or (client.static.get(target_nf_type) if target_nf_type else None)
    if uri is None:
        if target_nf_type is None:
            raise NoProducer(f"no producer known for {service}")
        uri = await client.resolve(target_nf_type, service, discovery)
    return await client.http.request(method, uri.rstrip("/") + path, body=body,
                                     headers={"content-type": ctype}, timeout=timeout)


def read_response(resp: Response) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """(JSON, binaries) of a response that may be multipart/related; DecodeError if broken."""
    if isinstance(resp.obj, multipart.Parts):
        return resp.obj.data, resp.obj.binaries
    ctype = resp.headers.get("content-type", "")
    if multipart.is_multipart(ctype):
        return multipart.decode(ctype, resp.body)
    try:
        return resp.json(), {}
    except ValueError as exc:
        raise DecodeError(f"response is not JSON: {exc}", -1, "SBI") from None


class SmfClients:
    """Nudm_SDM, Nudm_UECM, Npcf_SMPolicyControl and Namf_Communication for the SMF."""

    def __init__(self, client: SbiClient, *, smf_instance_id: str, mcc: str, mnc: str,
                 callback_uri: str) -> None:
        self.client = client
        self.smf_instance_id = smf_instance_id
        self.plmn = {"mcc": mcc, "mnc": mnc}
        self.callback_uri = callback_uri

    async def _json(self, what: str, method: str, path: str, *, target: str, body: Any = None,
                    query: dict[str, Any] | None = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        try:
            resp = await self.client.call(method, path, body=body, query=query, target_nf_type=target)
        except (TransportError, NoProducer) as exc:
            raise SbiCallFailed(what, 0, str(exc)) from None
        if resp.status not in ok:
            raise SbiCallFailed(what, resp.status, resp.problem())
        if resp.status == 204:
            return None
        try:
            return resp.json()
        except ValueError:
            raise SbiCallFailed(what, resp.status, "body is not JSON") from None

    # --- UDM (TS 29.503) ----------------------------------------------------------------------

    async def sm_data(self, supi: str, snssai: dict[str, Any], dnn: str) -> Any:
        """TS 29.503 §5.2.2.2.7: SessionManagementSubscriptionData for one slice and DNN."""
        return await self._json(
            "nudm-sdm sm-data", "GET", f"/nudm-sdm/v2/{path_segment(supi)}/sm-data", target="UDM",
            query={"single-nssai": _compact_json(snssai), "dnn": dnn})

    async def smf_select_data(self, supi: str) -> Any:
        """TS 29.503 §5.2.2.2.5: SMF selection subscription data (subscribed DNNs per slice)."""
        return await self._json("nudm-sdm smf-select-data", "GET", f"/nudm-sdm/v2/{path_segment(supi)}/smf-select-data",
                                target="UDM")

    async def uecm_register(self, supi: str, psi: int, dnn: str, snssai: dict[str, Any]) -> None:
        """TS 29.503 §5.3.2.2.3: register this SMF as serving the PDU session."""
        body = {"smfInstanceId": self.smf_instance_id, "pduSessionId": psi, "singleNssai": snssai,
                "plmnId": self.plmn, "dnn": dnn}
        await self._json("nudm-uecm smf-registration", "PUT",
                         f"/nudm-uecm/v1/{path_segment(supi)}/registrations/smf-registrations/{psi}", target="UDM", body=body)

    async def uecm_deregister(self, supi: str, psi: int) -> None:
        """TS 29.503 §5.3.2.4.3: deregistration of the SMF for the PDU session."""
        await self._json("nudm-uecm smf-deregistration", "DELETE",
                         f"/nudm-uecm/v1/{path_segment(supi)}/registrations/smf-registrations/{psi}", target="UDM",
                         ok=(204, 200, 404))

    # --- PCF (TS 29.512) ----------------------------------------------------------------------

    async def sm_policy_create(self, ctx: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """TS 29.512 §4.2.2: create the SM policy association; (policy id, SmPolicyDecision)."""
        try:
            resp = await self.client.call("POST", "/npcf-smpolicycontrol/v1/sm-policies", body=ctx,
                                          target_nf_type="PCF")
        except (TransportError, NoProducer) as exc:
            raise SbiCallFailed("npcf sm-policy create", 0, str(exc)) from None
        if resp.status != 201:
            raise SbiCallFailed("npcf sm-policy create", resp.status, resp.problem())
        loc = resp.headers.get("location", "")
        # the id as the PCF means it: its Location's last segment, decoded (RFC 3986 §2.1)
        policy_id = unquote(loc.rstrip("/").rsplit("/", 1)[-1]) if loc else None
        return policy_id, resp.json() or {}

    async def sm_policy_delete(self, policy_id: str) -> None:
        """TS 29.512 §4.2.5: delete the SM policy association."""
        await self._json("npcf sm-policy delete", "POST",
                         f"/npcf-smpolicycontrol/v1/sm-policies/{path_segment(policy_id)}/delete", target="PCF",
                         body={}, ok=(204, 200, 404))

    # --- AMF (TS 29.518) ----------------------------------------------------------------------

    async def n1n2_transfer(self, supi: str, psi: int, *, amf_uri: str | None,
                            amf_instance_id: str | None, n1: bytes | None, n2: bytes | None,
                            n2_type: str | None, snssai: dict[str, Any] | None = None,
                            failure_uri: str | None = None) -> dict[str, Any]:
        """TS 29.518 §5.2.2.3.1: Namf_Communication_N1N2MessageTransfer for one PDU session;
        ``failure_uri`` asks the AMF to report a failed paging there (§5.2.2.3.2)."""
        data, binaries = n1n2_body(psi, n1, n2, n2_type, snssai)
        if failure_uri:
            data["n1n2FailureTxfNotifURI"] = failure_uri
        discovery = {"target-nf-instance-id": amf_instance_id} if amf_instance_id else None
        try:
            resp = await call_multipart(self.client, "POST", f"/namf-comm/v1/ue-contexts/{path_segment(supi)}/n1-n2-messages",
                                        data, binaries, target_nf_type="AMF", discovery=discovery,
                                        base_uri=amf_uri)
        except (TransportError, NoProducer) as exc:
            raise SbiCallFailed("namf-comm n1n2 transfer", 0, str(exc)) from None
        if resp.status not in (200, 202):
            raise SbiCallFailed("namf-comm n1n2 transfer", resp.status, resp.problem())
        try:
            return resp.json() or {}
        except ValueError:
            return {}

    async def status_notify(self, uri: str, status: str, cause: str | None = None) -> None:
        """TS 29.502 §5.2.2.10: Nsmf_PDUSession_SMContextStatusNotify to the AMF's callback."""
        body: dict[str, Any] = {"statusInfo": {"resourceStatus": status}}
        if cause:
            body["statusInfo"]["cause"] = cause
        try:
            await self.client.http.request("POST", uri, json=body, timeout=5.0)
        except TransportError as exc:
            log.info("event=status_notify_failed uri=%s err=%s", uri, exc)


_JSON_MEMO: dict[tuple[tuple[str, Any], ...], str] = {}


def _compact_json(obj: dict[str, Any]) -> str:
    """``json.dumps(obj, separators=(",", ":"))``, remembered for the few S-NSSAIs there are."""
    try:
        key = tuple((k, type(v), v) for k, v in obj.items())
        hit = _JSON_MEMO.get(key)
    except TypeError:  # a nested value: not remembered
        return json.dumps(obj, separators=(",", ":"))
    if hit is None:
        if len(_JSON_MEMO) >= 256:
            _JSON_MEMO.clear()
        hit = _JSON_MEMO[key] = json.dumps(obj, separators=(",", ":"))
    return hit


def n1n2_body(psi: int, n1: bytes | None, n2: bytes | None, n2_type: str | None,
              snssai: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """TS 29.518 §6.1.6.2.7 N1N2MessageTransferReqData and its binary parts."""
    data: dict[str, Any] = {"pduSessionId": psi}
    binaries: dict[str, tuple[str, bytes]] = {}
    if n1 is not None:
        data["n1MessageContainer"] = {"n1MessageClass": "SM", "n1MessageContent": {"contentId": "n1msg"}}
        binaries["n1msg"] = (multipart.NAS_5G, n1)
    if n2 is not None and n2_type is not None:
        info: dict[str, Any] = {"pduSessionId": psi,
                                "n2InfoContent": {"ngapIeType": n2_type, "ngapData": {"contentId": "n2msg"}}}
        if snssai is not None:
            info["sNssai"] = snssai
        data["n2InfoContainer"] = {"n2InformationClass": "SM", "smInfo": info}
        binaries["n2msg"] = (multipart.NGAP, n2)
    return data, binaries
