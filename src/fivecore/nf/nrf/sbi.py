"""The NRF's services: Nnrf_NFManagement and Nnrf_NFDiscovery (TS 29.510 §5.2, §5.3)."""

from __future__ import annotations

from collections.abc import Callable

from fivecore.transport.http2 import JSON, HttpError, Request, Response, Router, json_response

from .context import Notification, NrfContext

NFM = "/nnrf-nfm/v1"
DISC = "/nnrf-disc/v1"


def build_router(ctx: NrfContext, deliver: Callable[[list[Notification]], None]) -> Router:
    """Routes of both NRF services over ``ctx``; ``deliver`` sends status notifications."""
    r = Router("nrf")

    def register(req: Request) -> Response:
        """TS 29.510 §5.2.2.2 NFRegister (PUT): 201 Created, or 200 on complete replacement."""
        nf_id = req.path_params["nfInstanceID"]
        created, profile, notes = ctx.register(nf_id, req.json())
        deliver(notes)
        if created:
            return json_response(profile, 201, {"location": ctx.instance_uri(nf_id)})
        return json_response(profile, 200)

    def update(req: Request) -> Response:
        """TS 29.510 §5.2.2.3 NFUpdate (PATCH, JSON Patch) and heartbeat (§5.2.2.3.2): 204."""
        ctype = req.headers.get("content-type", "")
        if ctype and "json" not in ctype:
            raise HttpError(415, None, "expected application/json-patch+json")
        profile, notes = ctx.update(req.path_params["nfInstanceID"], req.json())
        deliver(notes)
        if profile is None:
            return Response(204)
        return json_response(profile)

    def deregister(req: Request) -> Response:
        """TS 29.510 §5.2.2.4 NFDeregister."""
        deliver(ctx.deregister(req.path_params["nfInstanceID"]))
        return Response(204)

    def get_profile(req: Request) -> Response:
        """TS 29.510 §5.2.2.? NFProfileRetrieval."""
        return json_response(ctx.get(req.path_params["nfInstanceID"]))

    def list_instances(req: Request) -> Response:
        """TS 29.510 §5.2.2.? NFListRetrieval: a UriList of instance URIs."""
        limit = req.q1("limit")
        n = None
        if limit is not None:
            if not limit.isdigit() or int(limit) < 1:
                raise HttpError(400, "INVALID_QUERY_PARAM", "limit must be a positive integer",
                                invalid_params=[{"param": "limit"}])
            n = int(limit)
        uris = ctx.list_uris(req.q1("nf-type"), n)
        links: dict = {"self": {"href": f"{ctx.nrf_uri}{NFM}/nf-instances"}}
        if uris:  # LinksValueSchema arrays have minItems 1: no instances, no "items" member
            links["items"] = [{"href": u} for u in uris]
        body = {"_links": links, "totalItemCount": len(uris)}
        return json_response(body, headers={"content-type": "application/3gppHal+json"})

    def subscribe(req: Request) -> Response:
        """TS 29.510 §5.2.2.5 NFStatusSubscribe: 201 with the subscriptionId."""
        sid, data = ctx.subscribe(req.json())
        return json_response(data, 201, {"location": f"{ctx.nrf_uri}{NFM}/subscriptions/{sid}"})

    def unsubscribe(req: Request) -> Response:
        """TS 29.510 §5.2.2.7 NFStatusUnsubscribe."""
        ctx.unsubscribe(req.path_params["subscriptionID"])
        return Response(204)

    def renew(req: Request) -> Response:
        """TS 29.510 §5.2.2.5.6 update of a subscription (validityTime) with JSON Patch: 200
        with the SubscriptionData and the validityTime granted."""
        return json_response(ctx.renew(req.path_params["subscriptionID"], req.json()))

    def discover(req: Request) -> Response:
        """TS 29.510 §5.3.2.2 NFDiscover: SearchResult, cached until the registry changes."""
        body = ctx.discover_bytes(req.query_string, req.query)
        return Response(200, body, {"content-type": JSON, "cache-control": f"max-age={ctx.validity_period}"})

    r.add("PUT", NFM + "/nf-instances/{nfInstanceID}", register)
    r.add("PATCH", NFM + "/nf-instances/{nfInstanceID}", update)
    r.add("DELETE", NFM + "/nf-instances/{nfInstanceID}", deregister)
    r.add("GET", NFM + "/nf-instances/{nfInstanceID}", get_profile)
    r.add("GET", NFM + "/nf-instances", list_instances)
    r.add("POST", NFM + "/subscriptions", subscribe)
    r.add("DELETE", NFM + "/subscriptions/{subscriptionID}", unsubscribe)
    r.add("PATCH", NFM + "/subscriptions/{subscriptionID}", renew)
    r.add("GET", DISC + "/nf-instances", discover)
    return r
