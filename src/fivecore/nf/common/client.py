"""The one SBI client interface NFs use to call each other, with two bindings.

    client = SbiClient(nf_type="AUSF", nf_instance_id=..., nrf_uri="http://127.0.0.10:7777")
    resp = await client.call("POST", "/nudm-ueau/v1/suci-0-.../security-information/generate-auth-data",
                             body=AuthenticationInfoRequest(...), target_nf_type="UDM")
    result = resp.model(AuthenticationInfoResult)     # 2xx; errors: resp.status, resp.problem()

The first path segment is the service name (``nudm-ueau``). The producer is found, in order:

1. **in-process binding** — a router registered for that service in ``client.local``
   (a :class:`LocalRegistry`, shared by the NFs that ``fivecore up`` runs in one process). The
   request goes to the same handler objects with no serialisation: ``body`` travels as the object
   and the response's ``obj`` is what the handler returned.
2. **HTTP/2 binding** — a static base URI for the service or NF type (``client.static``), or
   NRF discovery (TS 29.510 §5.3.2.2: target-nf-type, requester-nf-type, service-names, plus any
   extra ``discovery`` query parameters such as ``supi``/``snssais``/``dnn``), cached per query
   for the ``validityPeriod`` the NRF returned. Then real JSON over HTTP/2 (:class:`Http2Client`).

Both bindings give the same :class:`~fivecore.transport.http2.Response`; use ``resp.model(Cls)``
to read it either way. Conformance tests always use the HTTP/2 binding (no ``local``).
``path`` is a URI path as it goes on the wire: build each path parameter with
:func:`~fivecore.transport.http2.message.path_segment` (RFC 3986 §3.3) and both bindings hand
the producer's handler exactly that value, '/' and '?' included.
A transport failure raises :class:`~fivecore.transport.http2.TransportError`; when the NRF finds
no producer the call raises :class:`NoProducer`.
"""

from __future__ import annotations

import asyncio
import json
import time
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any
from urllib.parse import parse_qs, urlencode

from fivecore.errors import FivecoreError
from fivecore.transport.http2 import Http2Client, Request, Response, Router, TransportError
from fivecore.transport.http2.message import split_target


class NoProducer(FivecoreError):
    """No NF offers the requested service (discovery returned nothing or failed)."""


class LocalRegistry:
    """Service name -> router of an NF living in this process (the in-process binding)."""

    def __init__(self) -> None:
        self.routers: dict[str, Router] = {}

    def register(self, services: list[str], router: Router) -> None:
        for s in services:
            self.routers[s] = router

    def unregister(self, services: list[str]) -> None:
        for s in services:
            self.routers.pop(s, None)

    def get(self, service: str) -> Router | None:
        return self.routers.get(service)


class SbiClient:
    """NF-to-NF requests through the in-process or the HTTP/2 binding (see module docstring)."""

    def __init__(
        self,
        nf_type: str,
        nf_instance_id: str,
        *,
        nrf_uri: str | None = None,
        http: Http2Client | None = None,
        local: LocalRegistry | None = None,
        static: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.nf_type = nf_type
        self.nf_instance_id = nf_instance_id
        self.nrf_uri = nrf_uri
        self.http = http or Http2Client()
        self.local = local
        self.static = dict(static or {})
        self.clock = clock
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        #: (target NF type, service, discovery parameters) -> (expiry, base URI): the answer of
        #: :meth:`resolve` without rebuilding the query or walking the profiles each call
        self._uris: dict[tuple[str, str, str], tuple[float, str]] = {}

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        target_nf_type: str | None = None,
        discovery: dict[str, Any] | None = None,
        timeout: float | None = None,
        base_uri: str | None = None,
    ) -> Response:
        """Send ``method path`` to the producer of the path's service; see the module docstring.

        ``base_uri`` forces the HTTP/2 binding to one producer (e.g. a callback URI's origin).
        """
        if path[:1] == "/":
            end = path.find("/", 1)
            service = path[1:end] if end > 0 else path[1:]
        else:
            service = path.split("/", 1)[0]
        if base_uri is None and self.local is not None:
            router = self.local.routers.get(service)
            if router is not None:
                raw_qs = ""
                if "?" in path or "#" in path:
                    # what the HTTP/2 server hands a handler: no fragment (RFC 3986 §3.5: never
                    # sent), the query split off, the path still percent-encoded (the router
                    # decodes it segment by segment, for both bindings)
                    path, raw_qs = split_target(path.partition("#")[0])
                if query:
                    qs, parsed = _encode_query_parsed(query)
                    req = Request(method.upper(), path, f"{raw_qs}&{qs}" if raw_qs else qs, dict(headers or {}), b"",
                                  body)
                    if parsed is not None and not raw_qs:
                        req._query = {k: list(v) for k, v in parsed.items()}
                else:
                    req = Request(method.upper(), path, raw_qs, dict(headers) if headers else {}, b"", body)
                # a plain handler (the UDR's, the PCF's) answers here and now: no coroutine
                resp = router.begin(req)
                if not isinstance(resp, Response):
                    try:
                        resp = await resp
                    except Exception as exc:
                        return router.failed(exc, req)
                return resp
        uri = base_uri or self.static.get(service) or (self.static.get(target_nf_type) if target_nf_type else None)
        if uri is None:
            if target_nf_type is None:
                raise NoProducer(f"no producer known for {service} (give target_nf_type to discover)")
            uri = await self.resolve(target_nf_type, service, discovery)
            try:
                return await self.http.request(method, uri.rstrip("/") + path, json=body, query=query,
                                               headers=headers, timeout=timeout)
            except TransportError:
                self.invalidate()  # the discovered producer failed: ask the NRF afresh next time
                raise
        return await self.http.request(method, uri.rstrip("/") + path, json=body, query=query,
                                       headers=headers, timeout=timeout)

    async def resolve(self, target_nf_type: str, service: str, discovery: dict[str, Any] | None = None) -> str:
        """Base URI of a producer of ``service`` via NRF discovery (cached for validityPeriod)."""
        key = (target_nf_type, service, json.dumps(discovery, sort_keys=True) if discovery else "")
        hit = self._uris.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        expiry, profiles = await self._discover(target_nf_type, [service], discovery)
        for prof in profiles:
            uri = service_uri(prof, service)
            if uri:
                # valid as long as the discovery answer it came from
                if len(self._uris) > 1024:
                    self._uris.clear()
                self._uris[key] = (expiry, uri)
                return uri
        raise NoProducer(f"the NRF knows no {target_nf_type} offering {service}")

    async def discover(
        self, target_nf_type: str, services: list[str] | None = None, extra: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """NFDiscovery (TS 29.510 §5.3.2.2.2); results cached until their validityPeriod ends."""
        return (await self._discover(target_nf_type, services, extra))[1]

    async def _discover(self, target_nf_type: str, services: list[str] | None,
                        extra: dict[str, Any] | None) -> tuple[float, list[dict[str, Any]]]:
        """:meth:`discover`, with the time its answer stays cached (0 when it is not)."""
        query: dict[str, Any] = {"target-nf-type": target_nf_type, "requester-nf-type": self.nf_type}
        if services:
            query["service-names"] = ",".join(services)
        for k, v in (extra or {}).items():
            query[k] = json.dumps(v, separators=(",", ":")) if isinstance(v, list | dict) else v
        key = json.dumps(query, sort_keys=True)
        hit = self._cache.get(key)
        now = self.clock()
        if hit is not None and hit[0] > now:
            return hit
        if self.nrf_uri is None and (self.local is None or self.local.get("nnrf-disc") is None):
            raise NoProducer("no NRF configured for discovery")
        try:
            resp = await self.call("GET", "/nnrf-disc/v1/nf-instances", query=query,
                                   base_uri=None if self._nrf_local() else self.nrf_uri)
        except TransportError as exc:
            raise NoProducer(f"NRF discovery failed: {exc}") from None
        if resp.status != 200:
            raise NoProducer(f"NRF discovery answered {resp.status}: {resp.problem()}")
        data = resp.json()
        profiles = list(data.get("nfInstances") or [])
        validity = int(data.get("validityPeriod") or 0)
        if not profiles:  # an empty answer is not cached: the producer may register a moment later
            return 0.0, profiles
        entry = self._cache[key] = (now + validity, profiles)
        return entry

    def _nrf_local(self) -> bool:
        return self.local is not None and self.local.get("nnrf-disc") is not None

    def invalidate(self) -> None:
        """Forget cached discovery results (e.g. after an NF_DEREGISTERED notification)."""
        self._cache.clear()
        self._uris.clear()

    async def close(self) -> None:
        await self.http.close()


def service_uri(profile: dict[str, Any], service: str) -> str | None:
    """``scheme://host:port[/apiPrefix]`` of ``service`` in an NFProfile (TS 29.510 §6.1.6.2.3)."""
    services = profile.get("nfServiceList")
    svc_list = list(services.values()) if isinstance(services, dict) else list(profile.get("nfServices") or [])
    for svc in svc_list:
        if svc.get("serviceName") != service:
            continue
        scheme = svc.get("scheme", "http")
        prefix = svc.get("apiPrefix") or ""
        for ep in svc.get("ipEndPoints") or []:
            host = ep.get("ipv4Address") or (f"[{ep['ipv6Address']}]" if ep.get("ipv6Address") else None)
            if host:
                port = ep.get("port") or (443 if scheme == "https" else 80)
                return f"{scheme}://{host}:{port}{prefix}"
        host = svc.get("fqdn") or profile.get("fqdn")
        addrs = profile.get("ipv4Addresses") or []
        host = host or (addrs[0] if addrs else None)
        if host:
            return f"{scheme}://{host}{prefix}"
    return None


def _encode_query(query: dict[str, Any] | None) -> str:
    if not query:
        return ""
    return urlencode(query, doseq=True)


#: query items -> (query string, what ``parse_qs`` makes of it): the in-process binding's
#: queries (a PLMN, a slice and DNN, discovery parameters) recur for every UE
_QUERIES: dict[tuple[tuple[str, type, Any], ...], tuple[str, dict[str, list[str]]]] = {}


def _encode_query_parsed(query: dict[str, Any]) -> tuple[str, dict[str, list[str]] | None]:
    """The query string of ``query`` and its parsed form (None when ``query`` holds values
    that cannot be remembered: the handler then parses the string as for HTTP/2)."""
    try:
        # the value's type is part of the key: 1, 1.0 and True are equal but encode differently
        key = tuple((k, type(v), v) for k, v in query.items())
        hit = _QUERIES.get(key)
    except TypeError:  # a list value: not hashable
        return urlencode(query, doseq=True), None
    if hit is None:
        qs = urlencode(query, doseq=True)
        if len(_QUERIES) >= 1024:
            _QUERIES.clear()
        hit = _QUERIES[key] = (qs, parse_qs(qs, keep_blank_values=True))
    return hit


def run_until_wait(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Run ``coro`` now until it first waits; None when it finished without waiting, else the
    :class:`asyncio.Task` that carries it on from there.

    An SBI call through the in-process binding usually never waits (the producers and the
    store are synchronous): then no task, no done callback and no extra loop iteration. An
    exception ``coro`` raises before waiting goes to the loop's exception handler, as an
    unretrieved task exception would. Call it from a loop callback (``loop.call_soon``) where
    a task's first step would have run, so the order of events stays the same.
    """
    try:
        waiting_for = coro.send(None)
    except StopIteration:
        return None
    except Exception as exc:  # noqa: BLE001 - what a task would have kept and logged
        asyncio.get_running_loop().call_exception_handler(
            {"message": f"exception in {getattr(coro, '__qualname__', coro)!r}", "exception": exc})
        return None
    return asyncio.ensure_future(_carry_on(coro, _taken(waiting_for)))


def _taken(waiting_for: Any) -> Any:
    """Clear a yielded future's ``_asyncio_future_blocking`` flag, as a task does when it takes
    the future: until it is clear, another coroutine awaiting the same future (two calls
    waiting for one event) gets "await wasn't used with future". :func:`_carry_on` raises it
    again when it hands the future to its task."""
    if getattr(waiting_for, "_asyncio_future_blocking", None) is not None:
        waiting_for._asyncio_future_blocking = False
    return waiting_for


@types.coroutine
def _carry_on(coro: Coroutine[Any, Any, Any], waiting_for: Any) -> Generator[Any, Any, Any]:
    """Drive a coroutine that :func:`run_until_wait` started: hand the task what it waits for
    (a future, or None for a bare yield), pass results and exceptions (cancellation) back."""
    if getattr(waiting_for, "_asyncio_future_blocking", None) is not None:
        # raised again for the task, which takes the future and clears it (see _taken)
        waiting_for._asyncio_future_blocking = True
    while True:
        try:
            sent = yield waiting_for
        except BaseException as exc:  # noqa: BLE001 - thrown in by the task: forward it
            try:
                waiting_for = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                waiting_for = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def gather_eager(*coros: Coroutine[Any, Any, Any]) -> list[Any]:
    """:func:`asyncio.gather` that first runs each coroutine until it waits
    (:func:`run_until_wait`): calls answered in-process cost no task. The first exception
    propagates, as with ``gather``; calls still running carry on as tasks."""
    results: list[Any] = [None] * len(coros)
    pending: list[tuple[int, asyncio.Task[Any]]] = []
    for i, coro in enumerate(coros):
        try:
            waiting_for = coro.send(None)
        except StopIteration as stop:
            results[i] = stop.value
            continue
        except BaseException:
            for c in coros[i + 1:]:
                c.close()  # never started: no "never awaited" warning
            raise
        pending.append((i, asyncio.ensure_future(_carry_on(coro, _taken(waiting_for)))))
    for i, task in pending:
        results[i] = await task
    return results
