"""Subscriber management REST API (fivecore's own, documented in ``mgmt_openapi.yaml``).

Served by the UDR process on its own listener (``udr.mgmt``), bearer-token protected
(``Authorization: Bearer <token>``, compared in constant time). Same operations as the
``fivecore subscriber`` command: list, add, bulk add, show, update, delete, export, profiles.
Responses never contain K/OP/OPc except ``GET /mgmt/v1/export``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from importlib import resources

from fivecore.store import AlreadyExists, NotFound, StoreDatabaseError, StoreError, SubscriberStore
from fivecore.store.provision import changes_from_dict, subscriber_from_dict
from fivecore.transport.http2 import HttpError, Request, Response, Router, json_response
from fivecore.transport.http2.message import path_segment

BASE = "/mgmt/v1"
MAX_BULK = 100_000


def openapi_text() -> str:
    return resources.files(__package__).joinpath("mgmt_openapi.yaml").read_text()


def build_mgmt_router(store: SubscriberStore, token: str, on_change: Callable[[str, list[str]], None]) -> Router:
    r = Router("mgmt")
    want = token.encode()

    def auth(fn: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapped(req: Request) -> Response:
            got = req.headers.get("authorization", "")
            if not got.startswith("Bearer ") or not hmac.compare_digest(got[7:].strip().encode(), want):
                raise HttpError(401, None, "missing or wrong bearer token", headers={"www-authenticate": "Bearer"})
            try:
                return fn(req)
            except NotFound as exc:
                raise HttpError(404, "USER_NOT_FOUND" if "subscriber" in str(exc) else "RESOURCE_NOT_FOUND", str(exc)) from None
            except AlreadyExists as exc:
                raise HttpError(409, "RESOURCE_ALREADY_EXISTS", str(exc)) from None
            except StoreDatabaseError:
                raise  # the database failed, not the request: the router's 500 and a log line
            except StoreError as exc:
                raise HttpError(400, "MANDATORY_IE_INCORRECT", str(exc)) from None

        wrapped.__doc__ = fn.__doc__
        return wrapped

    def _int(req: Request, name: str, default: int, hi: int) -> int:
        v = req.q1(name)
        if v is None:
            return default
        if not v.isdigit() or int(v) > hi:
            raise HttpError(400, "INVALID_QUERY_PARAM", f"{name} must be an integer 0..{hi}")
        return int(v)

    def _obj(req: Request) -> dict:
        data = req.json()
        if not isinstance(data, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "body must be a JSON object")
        return data

    @auth
    def list_subs(req: Request) -> Response:
        offset = _int(req, "offset", 0, 10**9)
        limit = _int(req, "limit", 100, 10_000)
        items = [s.public() for s in store.list(offset, limit, req.q1("prefix"))]
        return json_response({"total": store.count(), "offset": offset, "items": items})

    @auth
    def add(req: Request) -> Response:
        sub = subscriber_from_dict(_obj(req))
        store.add(sub)
        return json_response(store.get(sub.supi).public(), 201, {"location": f"{BASE}/subscribers/{path_segment(sub.supi)}"})

    @auth
    def bulk(req: Request) -> Response:
        """Body: {"profile": name?, "defaults": {...}?, "subscribers": [{imsi, k, opc}, ...]}."""
        body = _obj(req)
        items = body.get("subscribers")
        if not isinstance(items, list) or not items or len(items) > MAX_BULK:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", f"subscribers must be a list of 1..{MAX_BULK}")
        defaults = dict(body.get("defaults") or {})
        if body.get("profile"):
            defaults["profile"] = body["profile"]
        subs = []
        for i, item in enumerate(items):
            try:
                subs.append(subscriber_from_dict(item, defaults))
            except StoreError as exc:
                raise HttpError(400, "MANDATORY_IE_INCORRECT", f"subscribers[{i}]: {exc}") from None
        # Validate everything first, then write in one go: a bad row changes nothing.
        n = store.add_many(subs, batch=len(subs))
        return json_response({"created": n}, 201)

    @auth
    def show(req: Request) -> Response:
        sub = store.get(req.path_params["supi"])
        return json_response({**sub.public(), "effective": store.effective(sub)})

    @auth
    def patch(req: Request) -> Response:
        supi = req.path_params["supi"]
        changes = changes_from_dict(_obj(req))
        sub = store.update(supi, **changes)
        sections = list((changes.get("data") or {}).keys())
        if "profile" in changes:
            sections = ["am", "sm", "smf_selection"]
        if sections:
            on_change(sub.supi, sections)
        return json_response(sub.public())

    @auth
    def delete(req: Request) -> Response:
        store.delete(req.path_params["supi"])
        return Response(204)

    @auth
    def export(req: Request) -> Response:
        return json_response({"subscribers": [s.public(with_keys=True) for s in store.iter_all()]})

    @auth
    def list_profiles(req: Request) -> Response:
        return json_response({k: {kk: vv for kk, vv in v.items() if kk != "op"} for k, v in store.list_profiles().items()})

    @auth
    def put_profile(req: Request) -> Response:
        store.put_profile(req.path_params["name"], _obj(req))
        return Response(204)

    @auth
    def get_profile(req: Request) -> Response:
        prof = store.get_profile(req.path_params["name"])
        return json_response({k: v for k, v in prof.items() if k != "op"})

    @auth
    def delete_profile(req: Request) -> Response:
        store.delete_profile(req.path_params["name"])
        return Response(204)

    def spec(req: Request) -> Response:
        return Response(200, openapi_text().encode(), {"content-type": "application/yaml"})

    r.add("GET", BASE + "/subscribers", list_subs)
    r.add("POST", BASE + "/subscribers", add)
    r.add("POST", BASE + "/subscribers-bulk", bulk)
    r.add("GET", BASE + "/subscribers/{supi}", show)
    r.add("PATCH", BASE + "/subscribers/{supi}", patch)
    r.add("DELETE", BASE + "/subscribers/{supi}", delete)
    r.add("GET", BASE + "/export", export)
    r.add("GET", BASE + "/profiles", list_profiles)
    r.add("PUT", BASE + "/profiles/{name}", put_profile)
    r.add("GET", BASE + "/profiles/{name}", get_profile)
    r.add("DELETE", BASE + "/profiles/{name}", delete_profile)
    r.add("GET", BASE + "/openapi.yaml", spec)
    return r
