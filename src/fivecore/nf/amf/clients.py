"""Services the AMF consumes, through the one SBI client interface (``fivecore.nf.common``).

- Nausf_UEAuthentication (TS 29.509 §5.2.2.2): authenticate (with resynchronisation info after a
  synch failure) and the 5G-AKA confirmation.
- Nudm_UECM (TS 29.503 §5.3.2.2.2): Amf3GppAccessRegistration; its purge on de-registration
  (§5.3.2.4.2, PATCH with purgeFlag).
- Nudm_SDM (TS 29.503 §5.2.2.2.3): Access and Mobility subscription data (with the NSSAI).

:meth:`AmfSbi.execute` runs one :class:`fivecore.nf.amf.gmm.SbiCall` and never raises: a
failure becomes :class:`fivecore.nf.amf.gmm.SbiFailure`, which 5GMM maps to a 5GMM cause.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from fivecore.errors import FivecoreError
from fivecore.nf.amf.gmm import SbiFailure
from fivecore.nf.common.client import SbiClient, gather_eager
from fivecore.transport.http2 import TransportError
from fivecore.transport.http2.message import path_segment

log = logging.getLogger("fivecore.amf.sbi")


class AmfSbi:
    """The AMF's SBI consumer side (see module docstring)."""

    def __init__(
        self,
        client: SbiClient,
        *,
        amf_instance_id: str,
        mcc: str,
        mnc: str,
        amf_id_hex: str,
        callback_uri: str,
        timeout: float = 5.0,
        max_in_flight: int = 40,
    ) -> None:
        self.client = client
        self.amf_instance_id = amf_instance_id
        self.plmn = {"mcc": mcc, "mnc": mnc}
        self.guami = {"plmnId": self.plmn, "amfId": amf_id_hex}
        self.callback_uri = callback_uri
        self.timeout = timeout
        #: below the HTTP/2 client's 100 streams per connection: one connection per producer
        self.max_in_flight = max_in_flight
        self._sem: asyncio.Semaphore | None = None
        #: the SDM plmn-id query parameter: the same for every UE
        self._plmn_q = {"plmn-id": _plmn_query(self.plmn)}

    async def execute(self, op: str, args: dict[str, Any]) -> Any:
        """Run one operation; at most ``max_in_flight`` at a time, so a burst (10,000 UEs
        de-registering) queues here instead of piling streams and connections onto a producer."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_in_flight)
        async with self._sem:
            return await self._execute(op, args)

    async def _execute(self, op: str, args: dict[str, Any]) -> Any:
        try:
            if op == "auth":
                return await self.authenticate(args)
            if op == "confirm":
                return await self.confirm(args)
            if op == "eap":
                return await self.eap_session(args)
            if op == "udm_register":
                return await self.udm_register(args)
            if op == "udm_deregister":
                return await self.udm_deregister(args)
        except TransportError as exc:
            log.info("event=sbi_transport_error op=%s err=%s", op, exc)
            return SbiFailure(0, "TRANSPORT")
        except FivecoreError as exc:
            log.info("event=sbi_error op=%s err=%s", op, exc)
            return SbiFailure(0, type(exc).__name__)
        except (KeyError, TypeError, ValueError) as exc:
            log.info("event=sbi_bad_answer op=%s err=%s", op, exc)
            return SbiFailure(0, "BAD_RESPONSE")
        raise ValueError(f"unknown SBI operation {op!r}")

    def _split_link(self, href: str) -> tuple[str | None, str]:
        """A resource link from the AUSF -> (origin to call, path). The origin is dropped when
        the AUSF lives in this process (in-process binding, ``fivecore up``)."""
        parts = urlsplit(href)
        local = self.client.local
        if local is not None and local.get("nausf-auth") is not None:
            return None, parts.path
        return (f"{parts.scheme}://{parts.netloc}" if parts.scheme else None), parts.path

    @staticmethod
    def _failure(resp: Any) -> SbiFailure:
        prob = resp.problem() or {}
        return SbiFailure(resp.status, prob.get("cause"))

    async def authenticate(self, args: dict[str, Any]) -> Any:
        """TS 29.509 §5.2.2.2.2: POST ue-authentications (AuthenticationInfo)."""
        body: dict[str, Any] = {
            "supiOrSuci": args.get("suci") or args["supi"],
            "servingNetworkName": args["serving_network_name"],
        }
        if "resync" in args:
            body["resynchronizationInfo"] = args["resync"]
        resp = await self.client.call(
            "POST", "/nausf-auth/v1/ue-authentications", body=body, target_nf_type="AUSF", timeout=self.timeout
        )
        if resp.status != 201:
            return self._failure(resp)
        data = resp.json()
        if data.get("authType") not in ("5G_AKA", "EAP_AKA_PRIME"):
            return SbiFailure(501, "UNSUPPORTED_AUTH_TYPE")
        return data

    async def eap_session(self, args: dict[str, Any]) -> Any:
        """TS 29.509 §5.2.2.2.3: POST {link}/eap-session with the UE's EAP packet (EapSession)."""
        base, path = self._split_link(args["href"])
        resp = await self.client.call(
            "POST", path, body={"eapPayload": args["eap_payload"]}, base_uri=base,
            target_nf_type="AUSF", timeout=self.timeout,
        )
        if resp.status != 200:
            return self._failure(resp)
        return resp.json()

    async def confirm(self, args: dict[str, Any]) -> Any:
        """TS 29.509 §5.2.2.2.2 step 10: PUT {link}/5g-aka-confirmation (ConfirmationData)."""
        base, path = self._split_link(args["href"])
        resp = await self.client.call(
            "PUT", path, body={"resStar": args["res_star"]}, base_uri=base, target_nf_type="AUSF", timeout=self.timeout
        )
        if resp.status != 200:
            return self._failure(resp)
        return resp.json()

    async def udm_register(self, args: dict[str, Any]) -> Any:
        """TS 29.503 §5.3.2.2.2 UECM registration, then §5.2.2.2.3 SDM get am-data.

        Returns ``{"nssai": [(sst, sd), ...], "am": <AccessAndMobilitySubscriptionData>}``.
        """
        supi = args["supi"]
        reg = {
            "amfInstanceId": self.amf_instance_id,
            "deregCallbackUri": f"{self.callback_uri}/namf-callback/v1/{path_segment(supi)}/dereg-notify",
            "guami": self.guami,
            "ratType": "NR",
            "initialRegistrationInd": bool(args.get("initial", True)),
        }
        # UECM registration and the am-data read are independent: one round trip, not two
        put, get = await gather_eager(
            self.client.call(
                "PUT", f"/nudm-uecm/v1/{path_segment(supi)}/registrations/amf-3gpp-access", body=reg,
                target_nf_type="UDM", timeout=self.timeout,
            ),
            self.client.call(
                "GET", f"/nudm-sdm/v2/{path_segment(supi)}/am-data", query=self._plmn_q,
                target_nf_type="UDM", timeout=self.timeout,
            ),
        )
        if put.status not in (200, 201, 204):
            return self._failure(put)
        resp = get
        if resp.status != 200:
            return self._failure(resp)
        am = resp.json() or {}
        nssai = am.get("nssai") or {}
        slices: list[tuple[int, int | None]] = []
        for s in (nssai.get("defaultSingleNssais") or []) + (nssai.get("singleNssais") or []):
            t = (int(s["sst"]), int(s["sd"], 16) if s.get("sd") else None)
            if t not in slices:
                slices.append(t)
        return {"nssai": slices, "am": am}

    async def udm_deregister(self, args: dict[str, Any]) -> Any:
        """TS 29.503 §5.3.2.4.2: PATCH amf-3gpp-access with purgeFlag (UE de-registered)."""
        supi = args.get("supi")
        if not supi:
            return {}
        resp = await self.client.call(
            "PATCH", f"/nudm-uecm/v1/{path_segment(supi)}/registrations/amf-3gpp-access",
            body={"guami": self.guami, "purgeFlag": True},
            headers={"content-type": "application/merge-patch+json"},
            target_nf_type="UDM", timeout=self.timeout,
        )
        if resp.status not in (200, 204):
            return self._failure(resp)
        return {}


def _plmn_query(plmn: dict[str, str]) -> str:
    return json.dumps({"mcc": plmn["mcc"], "mnc": plmn["mnc"]}, separators=(",", ":"))
