"""A small path router: ``/nudm-ueau/v1/{supiOrSuci}/security-information/generate-auth-data``.

Routes are matched segment by segment; a ``{name}`` segment captures one path segment. The
request's raw path is split at its '/' characters before any percent-decoding (RFC 3986 §2.2,
§3.3): each segment is then decoded on its own, so a ``%2F`` in an id is part of that id, never a
segment boundary, and a ``{name}`` gets the decoded value. A handler is either a plain function
(run inline, no task: the fast path for cheap lookups such as NRF discovery) or a coroutine
function. Any exception other than :class:`HttpError` becomes a 500 ProblemDetails and a log
line, never a dropped connection.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .message import HttpError, PathError, Request, Response, decode_segments

log = logging.getLogger("fivecore.sbi")

Handler = Callable[[Request], "Response | Awaitable[Response]"]


@dataclass(slots=True)
class Route:
    method: str
    parts: tuple[str, ...]
    handler: Handler
    is_async: bool
    #: (segment index, name) of every ``{name}`` segment
    params: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        self.params = tuple((i, p[1:-1]) for i, p in enumerate(self.parts) if p.startswith("{"))

    def bind(self, segments: list[str]) -> dict[str, str]:
        params = self.params
        if len(params) == 1:  # most SBI resources have one variable (the UE id)
            i, name = params[0]
            return {name: segments[i]}
        return {name: segments[i] for i, name in params}


class _Shape:
    """The dynamic routes of one shape: a path length and the positions of its ``{name}``
    segments. Routes are found by the tuple of their literal segments in one dict lookup
    (``itemgetter`` picks the literals out of a split path in C), not segment by segment."""

    __slots__ = ("order", "pick", "table")

    def __init__(self, parts: tuple[str, ...]) -> None:
        variable = tuple(p.startswith("{") for p in parts)
        #: sorts shapes of one length the way a segment-by-segment search with literal
        #: segments tried before ``{name}`` ones would reach them
        self.order = variable
        literal = [i for i, v in enumerate(variable) if not v]
        self.pick: Callable[[Any], Any] = itemgetter(*literal) if literal else (lambda _parts: ())
        self.table: dict[Any, dict[str, Route]] = {}


class Router:
    """Method + path dispatch; the same object serves HTTP/2, HTTP/1.1 and in-process calls."""

    def __init__(self, name: str = "sbi") -> None:
        self.name = name
        #: path -> method -> route, for paths without ``{name}`` segments
        self._static: dict[str, dict[str, Route]] = {}
        #: routes with ``{name}`` segments, in the order added (:meth:`mount` copies them)
        self._dynamic: list[Route] = []
        #: number of segments -> the shapes of that length, in search order
        self._shapes: dict[int, list[_Shape]] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        parts = tuple(p for p in path.split("/") if p)
        route = Route(method.upper(), parts, handler, inspect.iscoroutinefunction(handler))
        if any(p.startswith("{") for p in parts):
            self._dynamic.append(route)
            shapes = self._shapes.setdefault(len(parts), [])
            order = tuple(p.startswith("{") for p in parts)
            shape = next((sh for sh in shapes if sh.order == order), None)
            if shape is None:
                shape = _Shape(parts)
                shapes.append(shape)
                shapes.sort(key=lambda sh: sh.order)
            shape.table.setdefault(shape.pick(parts), {}).setdefault(route.method, route)
        else:
            self._static.setdefault("/" + "/".join(parts), {})[route.method] = route

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`."""

        def deco(fn: Handler) -> Handler:
            self.add(method, path, fn)
            return fn

        return deco

    def mount(self, other: Router) -> None:
        """Add every route of ``other`` (one NF process serving several services)."""
        for by_method in other._static.values():
            for r in by_method.values():
                self.add(r.method, "/" + "/".join(r.parts), r.handler)
        for r in other._dynamic:
            self.add(r.method, "/" + "/".join(r.parts), r.handler)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """Find the route for a raw (percent-encoded) path; path parameters come decoded.

        404 for an unknown path, 405 for a known path with another method, 400 for a path that
        does not decode (:func:`~fivecore.transport.http2.message.decode_segments`).
        """
        segs: list[str] | None = None
        plain: str | None = path  # the path a static route is looked up by
        if "%" in path:
            # RFC 3986 §2.2: split first, then decode each segment; from here on the same
            # search as for the path of those decoded segments, but a '/' decoded inside a
            # segment stays in it (and so can only fill a ``{name}``: no static route has it)
            segs = decode_segments(path)
            plain = None if any("/" in p for p in segs) else "/".join(segs)
        static: dict[str, Route] | None = None
        if plain is not None:
            static = self._static.get(plain)
            if static is None and plain[-1:] == "/":
                static = self._static.get(plain.rstrip("/") or "/")
            if static is not None:
                route = static.get(method)
                if route is not None:
                    return route, {}
        if segs is not None:
            parts = [p for p in segs if p]
        else:  # the usual request: nothing to decode, the segments are the raw ones
            if not path.isascii():  # no route has it, and it must travel percent-encoded
                raise PathError("request path holds characters that must be percent-encoded (RFC 3986 §2.1)")
            if path[:1] == "/":
                parts = path[1:].split("/")
                if "" in parts:  # not the usual shape: empty segments do not count
                    parts = [p for p in parts if p]
            else:
                parts = [p for p in path.split("/") if p]
        path_known = static is not None
        # Shapes in the order a segment-by-segment search trying literal segments before
        # ``{name}`` ones would meet them: the first with a route for the method wins.
        for shape in self._shapes.get(len(parts), ()):
            by_method = shape.table.get(shape.pick(parts))
            if by_method is not None:
                cand = by_method.get(method)
                if cand is not None:
                    return cand, cand.bind(parts)
                path_known = True
        if path_known:
            raise HttpError(405, None, f"method {method} not allowed on {path}")
        raise HttpError(404, "RESOURCE_URI_STRUCTURE_NOT_FOUND", f"no resource at {path}")

    def begin(self, req: Request) -> Response | Coroutine[Any, Any, Response]:
        """Run a plain-function handler to its Response now (errors as ProblemDetails), or
        return the coroutine of a coroutine handler, not yet started.

        That coroutine may raise: await it under ``except Exception as exc`` and answer
        ``router.failed(exc, req)``, as :meth:`dispatch` does. The in-process binding calls
        this: a handler then costs no coroutine of the router's own.
        """
        try:
            route, params = self.match(req.method, req.path)
            req.path_params = params
            result: Any = route.handler(req)
        except Exception as exc:  # a bug must not take the NF down: answer 500 and log it
            return self.failed(exc, req)
        return result  # type: ignore[no-any-return]

    def failed(self, exc: Exception, req: Request) -> Response:
        """The answer for a handler that raised: its ProblemDetails for an :class:`HttpError`,
        else 500 SYSTEM_FAILURE and a log line."""
        if isinstance(exc, HttpError):
            return exc.to_response()
        log.error("sbi handler failed method=%s path=%s", req.method, req.path, exc_info=exc)
        return _internal_error()

    async def dispatch(self, req: Request) -> Response:
        """Run the handler for ``req``; always returns a Response (errors become ProblemDetails)."""
        route = req.route
        if route is not None:  # matched already by :meth:`dispatch_sync`, which left it to us
            req.route = None
            try:
                return await route.handler(req)  # type: ignore[no-any-return, misc]
            except Exception as exc:
                return self.failed(exc, req)
        result = self.begin(req)
        if not isinstance(result, Response):
            try:
                result = await result
            except Exception as exc:
                return self.failed(exc, req)
        return result

    def dispatch_sync(self, req: Request) -> Response | None:
        """Run a plain-function handler inline; None when the route needs the event loop
        (the request then remembers its route, so :meth:`dispatch` does not match it again)."""
        try:
            route, params = self.match(req.method, req.path)
            req.path_params = params
            if route.is_async:
                req.route = route
                return None
            return route.handler(req)  # type: ignore[return-value]
        except HttpError as exc:
            return exc.to_response()
        except Exception:
            log.exception("sbi handler failed method=%s path=%s", req.method, req.path)
            return _internal_error()


def _internal_error() -> Response:
    return HttpError(500, "SYSTEM_FAILURE", "internal error").to_response()
